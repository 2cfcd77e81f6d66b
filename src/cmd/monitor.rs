//! `skiff container-monitor` (hidden): the monitor of one detached
//! container, started by `run -d`, `start` and `restart`; see
//! `runtime::monitor`.

use crate::config::Config;
use crate::store::Store;
use anyhow::{anyhow, Context, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The descriptor to report readiness on
    #[arg(long)]
    pub ready_fd: i32,
    /// Start the container once a client has attached
    #[arg(long)]
    pub wait_attach: bool,
    /// The container's full ID
    pub id: String,
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    // Out of the caller's session and terminal: its end must not be ours.
    let _ = rustix::process::setsid();
    let store = Store::open(&cfg.root)?;
    let dir = store.container_dir(&args.id);
    let bundle = crate::runtime::bundle::Bundle::load(&dir)?;
    // May re-execute the monitor from a sealed copy (the ready descriptor
    // survives it): before the descriptor is taken.
    crate::runtime::seal::prepare(&bundle.spec)?;
    let ready = crate::sys::proc::take_inherited_fd(args.ready_fd)
        .map_err(|e| anyhow!("ready descriptor {}: {e}", args.ready_fd))?;
    let sock = crate::runtime::attach::socket_path(&cfg.runroot, &args.id);
    crate::runtime::monitor::serve(&store, &args.id, ready, &sock, args.wait_attach)
        .with_context(|| format!("monitor of container {}", args.id))?;
    Ok(0)
}
