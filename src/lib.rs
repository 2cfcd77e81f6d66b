//! skiff: a daemonless, single-binary container tool.
//!
//! The module map and who may use whom is in DESIGN.md:
//! `main -> cmd -> image -> {registry, store} -> sys`.
#![deny(unsafe_code)]

pub mod build;
pub mod cgroup;
pub mod cmd;
pub mod config;
pub mod container;
pub mod digest;
pub mod error;
pub mod image;
pub mod network;
pub mod ns;
pub mod registry;
pub mod runtime;
pub mod store;
pub mod sys;
pub mod util;

pub use error::{ErrorKind, KindError};
