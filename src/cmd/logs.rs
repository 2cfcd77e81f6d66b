//! `skiff logs`: a container's output from its log, stdout to stdout and
//! stderr to stderr.

use crate::config::Config;
use crate::container::state;
use crate::runtime::logfile::{self, Stream};
use crate::store::Store;
use anyhow::{Context, Result};
use std::io::Write;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The container
    pub container: String,
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    let store = Store::open(&cfg.root)?;
    let rec = state::find(&store, &args.container)?;
    let dir = store.container_dir(&rec.id);
    let Some(path) = logfile::log_path(&dir, &rec.id, &rec.log) else {
        crate::bail_kind!(
            InvalidArgument,
            "configured logging driver does not support reading"
        );
    };
    let entries = logfile::read_all(&path)?;
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    for e in entries {
        match e.stream {
            Stream::Stdout => out.write_all(&e.text),
            Stream::Stderr => err.write_all(&e.text),
        }
        .context("write the logs")?;
    }
    out.flush().context("write the logs")?;
    Ok(0)
}
