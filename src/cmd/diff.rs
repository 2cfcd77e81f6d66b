//! `skiff diff`: what a container changed in its file system, in
//! Docker's `A /path`, `C /path`, `D /path` lines.

use crate::config::Config;
use crate::container::changes::changes;
use crate::container::state::find;
use crate::store::Store;
use anyhow::{Context, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The container
    pub container: String,
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    let store = Store::open(&cfg.root)?;
    let rec = find(&store, &args.container)?;
    let list = changes(&store, &rec).with_context(|| format!("diff {}", args.container))?;
    let mut out = String::new();
    for c in list {
        out.push_str(&format!("{} {}\n", c.kind.letter(), c.path.display()));
    }
    print!("{out}");
    Ok(0)
}
