//! The commands that move containers through their life: `start`, `stop`,
//! `restart`, `kill`, `pause`, `unpause`, `rm`, `wait`. Each takes several containers, as
//! Docker's do: what succeeds is printed (the name as given), each failure
//! is one error line, and the exit code says whether any failed.

use crate::config::Config;
use crate::container::{ops, start, state};
use crate::store::Store;
use anyhow::Result;

/// Run `f` on each container `names` gives; 0 when all succeed, else 125
/// after one error line each.
pub(crate) fn each(names: &[String], mut f: impl FnMut(&str) -> Result<()>) -> Result<i32> {
    let mut failed = 0;
    for n in names {
        if let Err(e) = f(n) {
            eprintln!("skiff: {e:#}");
            failed += 1;
        }
    }
    Ok(if failed > 0 { 125 } else { 0 })
}

#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short, long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short, long)]
    pub interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, default_value = "ctrl-p,ctrl-q")]
    pub detach_keys: String,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn start_cmd(args: StartArgs, cfg: &Config) -> Result<i32> {
    let store = Store::open(&cfg.root)?;
    if args.attach || args.interactive {
        if args.containers.len() > 1 {
            crate::bail_kind!(
                InvalidArgument,
                "you cannot start and attach multiple containers at once"
            );
        }
        let rec = state::find(&store, &args.containers[0])?;
        refuse_paused(&rec)?;
        let conn = if state::is_running(&rec) {
            crate::runtime::attach::connect(&crate::runtime::attach::socket_path(
                &cfg.runroot,
                &rec.id,
            ))?
        } else {
            start::attached(cfg, &rec.id)?
        };
        return super::attach::relay(
            &store,
            &rec,
            conn,
            args.interactive,
            true,
            &args.detach_keys,
        );
    }
    each(&args.containers, |n| {
        let rec = state::find(&store, n)?;
        refuse_paused(&rec)?;
        if !state::is_running(&rec) {
            start::detached(cfg, &rec.id, None)?;
        }
        println!("{n}");
        Ok(())
    })
}

/// Docker's answer to `start` of a paused container.
fn refuse_paused(rec: &crate::store::ContainerRecord) -> Result<()> {
    if rec.state.status == "paused" {
        crate::bail_kind!(
            InvalidState,
            "cannot start a paused container, try unpause instead"
        );
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct StopArgs {
    /// Signal to send to the container
    #[arg(short, long)]
    pub signal: Option<String>,
    /// Seconds to wait before killing the container
    #[arg(
        short = 't',
        long = "time",
        alias = "timeout",
        allow_hyphen_values = true
    )]
    pub time: Option<i64>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

fn stop_signal(s: &Option<String>) -> Result<Option<i32>> {
    s.as_deref()
        .map(crate::runtime::opts::parse_signal)
        .transpose()
}

pub fn stop_cmd(args: StopArgs, cfg: &Config) -> Result<i32> {
    let sig = stop_signal(&args.signal)?;
    let store = Store::open(&cfg.root)?;
    each(&args.containers, |n| {
        let rec = state::find(&store, n)?;
        ops::stop(&store, &rec, args.time, sig)?;
        println!("{n}");
        Ok(())
    })
}

pub fn restart_cmd(args: StopArgs, cfg: &Config) -> Result<i32> {
    let sig = stop_signal(&args.signal)?;
    let store = Store::open(&cfg.root)?;
    each(&args.containers, |n| {
        let rec = state::find(&store, n)?;
        ops::stop(&store, &rec, args.time, sig)?;
        start::detached(cfg, &rec.id, None)?;
        store.container_event(&rec, "restart", &[]);
        println!("{n}");
        Ok(())
    })
}

#[derive(Debug, clap::Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn kill_cmd(args: KillArgs, cfg: &Config) -> Result<i32> {
    let sig = crate::runtime::opts::parse_signal(&args.signal)?;
    let store = Store::open(&cfg.root)?;
    each(&args.containers, |n| {
        let rec = state::find(&store, n)?;
        if sig == libc::SIGKILL {
            // Killed on purpose: the restart policy leaves it stopped.
            store.update_container(&rec.id, |c| {
                c.state.stopped_by_user = true;
                Ok(())
            })?;
        }
        ops::kill(&store, &rec, sig)?;
        println!("{n}");
        Ok(())
    })
}

#[derive(Debug, clap::Args)]
pub struct PauseArgs {
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `pause`: freeze every process of each container (the cgroup freezer).
pub fn pause_cmd(args: PauseArgs, cfg: &Config) -> Result<i32> {
    let store = Store::open(&cfg.root)?;
    each(&args.containers, |n| {
        ops::pause(&store, &state::find(&store, n)?, true)?;
        println!("{n}");
        Ok(())
    })
}

/// `unpause`: thaw them again.
pub fn unpause_cmd(args: PauseArgs, cfg: &Config) -> Result<i32> {
    let store = Store::open(&cfg.root)?;
    each(&args.containers, |n| {
        ops::pause(&store, &state::find(&store, n)?, false)?;
        println!("{n}");
        Ok(())
    })
}

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short, long)]
    pub volumes: bool,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn rm_cmd(args: RmArgs, cfg: &Config) -> Result<i32> {
    let store = Store::open(&cfg.root)?;
    each(&args.containers, |n| {
        let rec = match state::find(&store, n) {
            Ok(r) => r,
            // `rm -f` of a missing container is no error (Docker's).
            Err(e)
                if args.force
                    && crate::error::kind_of(&e) == Some(crate::error::ErrorKind::NotFound) =>
            {
                return Ok(())
            }
            Err(e) => return Err(e),
        };
        ops::remove(&store, &rec, args.force, args.volumes)?;
        println!("{n}");
        Ok(())
    })
}

#[derive(Debug, clap::Args)]
pub struct WaitArgs {
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn wait_cmd(args: WaitArgs, cfg: &Config) -> Result<i32> {
    let store = Store::open(&cfg.root)?;
    each(&args.containers, |n| {
        let code = ops::wait(&store, n)?;
        println!("{code}");
        Ok(())
    })
}
