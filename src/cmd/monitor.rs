//! `skiff container-monitor` (hidden): the monitor of one detached
//! container, started by `run -d`, `start` and `restart`; see
//! `runtime::monitor`. And `skiff container-probe` (hidden), the health
//! check it runs in the container now and then (`runtime::probe`).

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
    /// The lock of the command that made the container (`run -d`), held
    /// so the container is not taken for a half-made one if that command
    /// dies before the container runs
    #[arg(long)]
    pub maker_fd: Option<i32>,
    /// The container's full ID
    pub id: String,
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    // Out of the caller's session and terminal: its end must not be ours.
    let _ = rustix::process::setsid();
    let store = Store::open(&cfg.root)?;
    let dir = store.container_dir(&args.id);
    let bundle = match crate::runtime::bundle::Bundle::load(&dir) {
        Ok(b) => b,
        Err(e) => {
            // Removed before it could start (`rm -f` meanwhile): said to
            // the starting command, which otherwise hears nothing.
            let e = match store.container(&args.id) {
                Ok(None) => anyhow!("No such container: {}", args.id),
                _ => e,
            };
            if let Ok(fd) = crate::sys::proc::take_inherited_fd(args.ready_fd) {
                use std::io::Write;
                let _ = write!(std::fs::File::from(fd), "err 125\n{e:#}");
            }
            return Err(e);
        }
    };
    // May re-execute the monitor from a sealed copy (the ready descriptor
    // survives it): before the descriptor is taken.
    crate::runtime::seal::prepare(&bundle.spec)?;
    let ready = crate::sys::proc::take_inherited_fd(args.ready_fd)
        .map_err(|e| anyhow!("ready descriptor {}: {e}", args.ready_fd))?;
    // Held for the monitor's life; the container is whole once it runs.
    let _maker = match args.maker_fd {
        Some(fd) => Some(crate::store::containers::Maker::adopt(
            crate::sys::proc::take_inherited_fd(fd)
                .map_err(|e| anyhow!("lock descriptor {fd}: {e}"))?,
        )),
        None => None,
    };
    let sock = crate::runtime::attach::socket_path(&cfg.runroot, &args.id);
    let roots = crate::runtime::probe::Roots {
        root: cfg.root.clone(),
        runroot: cfg.runroot.clone(),
    };
    // Its own cgroup: started in it by `run -d`, or entered once the
    // container runs (see `serve`).
    let mut scope = crate::cgroup::MonitorScope::adopt(&args.id);
    let served = crate::runtime::monitor::serve(
        &store,
        &args.id,
        ready,
        &sock,
        (args.wait_attach, &roots, args.maker_fd.is_some()),
        &mut scope,
    );
    // Out of it, and it goes: the monitor is about to exit.
    if let Some(s) = scope {
        s.leave();
    }
    served.with_context(|| format!("monitor of container {}", args.id))?;
    Ok(0)
}

#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    /// The container's full ID
    pub id: String,
}

/// One health probe: the container's check command exec'd in it as its
/// own user, in its working directory, with its environment; the output
/// on stdout and stderr, the command's exit code ours.
pub fn probe(args: ProbeArgs, cfg: &Config) -> Result<i32> {
    // CVE-2019-5736, as for `exec`.
    crate::runtime::seal::ensure()?;
    let store = Store::open(&cfg.root)?;
    let rec = store
        .container(&args.id)?
        .ok_or_else(|| anyhow!("No such container: {}", args.id))?;
    let command = rec
        .healthcheck
        .as_ref()
        .and_then(|h| h.probe_command())
        .ok_or_else(|| anyhow!("container {} has no health check", rec.id))?;
    let opts = crate::runtime::exec_in::ExecOpts {
        command,
        ..Default::default()
    };
    let target = super::exec::target(&store, &rec)?;
    Ok(crate::runtime::exec_in::exec(&target, &opts)?.status())
}
