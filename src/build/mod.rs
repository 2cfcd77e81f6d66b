//! `skiff build`: Containerfile/Dockerfile builds. The file is parsed
//! (`parse`, into `ast`), words are expanded against the build's
//! arguments and environment as each step runs (`expand`), the context
//! is read through its ignore file (`context`, `ignore`), and `COPY`/`ADD`
//! place files into a step's filesystem (`copy`).

pub mod ast;
pub mod builder;
pub mod context;
pub mod copy;
mod copy_step;
pub mod expand;
pub mod ignore;
pub mod layer;
mod output;
mod parallel;
pub mod parse;
mod run;
mod squash;
mod stage;
pub mod state;
pub mod step;
