//! `skiff top CONTAINER [ps OPTIONS]`: the host's `ps` (default `-ef`),
//! cut to the container's processes: those in its cgroup (its `exec`s'
//! too), as Docker takes them from its runtime.

use crate::config::Config;
use crate::container::state;
use crate::store::Store;
use anyhow::{Context, Result};

#[derive(Debug, clap::Args)]
#[command(trailing_var_arg = true)]
pub struct Args {
    pub container: String,
    /// Options for ps (default -ef)
    #[arg(allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

/// The pids (host view) that share the pid namespace of `init`: for a
/// container without a cgroup (a host with no cgroup file system).
fn pids_in_namespace_of(init: u32) -> Result<Vec<u32>> {
    let ns = |p: u32| std::fs::read_link(format!("/proc/{p}/ns/pid")).ok();
    let want = ns(init).context("read the container's pid namespace")?;
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc")?.flatten() {
        if let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) {
            if ns(pid).as_ref() == Some(&want) {
                out.push(pid);
            }
        }
    }
    Ok(out)
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    let store = Store::open(&cfg.root)?;
    let rec = state::find(&store, &args.container)?;
    let pid = rec
        .state
        .pid
        .filter(|_| state::is_running(&rec))
        .ok_or_else(|| {
            crate::error::kind_err(
                crate::error::ErrorKind::InvalidState,
                format!("Container {} is not running", rec.id),
            )
        })?;
    let pids = match crate::runtime::cgroups::existing(&store.container_dir(&rec.id)) {
        Some(cg) => cg.processes(),
        None => pids_in_namespace_of(pid)?,
    };
    let ps_args = if args.ps_args.is_empty() {
        vec!["-ef".to_string()]
    } else {
        args.ps_args.clone()
    };
    let out = std::process::Command::new("ps")
        .args(&ps_args)
        .output()
        .context("run ps")?;
    if !out.status.success() {
        crate::bail_kind!(
            InvalidArgument,
            "ps {}: {}",
            ps_args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let Some(col) = header.split_whitespace().position(|h| h == "PID") else {
        crate::bail_kind!(InvalidArgument, "Couldn't find PID field in ps output");
    };
    println!("{header}");
    for l in lines {
        let hit = l
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<u32>().ok())
            .is_some_and(|p| pids.contains(&p));
        if hit {
            println!("{l}");
        }
    }
    Ok(0)
}
