//! `skiff update [OPTIONS] CONTAINER...`: change the resource limits and
//! the restart policy of containers, running or not (a stopped one keeps
//! them for its next start).

use crate::config::Config;
use crate::container::{self, state};
use crate::runtime::opts::resources::ResourceFlags;
use crate::runtime::opts::update::{Update, UpdateFlags};
use crate::store::Store;
use anyhow::Result;

/// The limits `update` changes, which `run` and `create` take too (with
/// more of their own: see `run::Args`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LimitArgs {
    /// Memory limit
    #[arg(short, long)]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Number of CPUs
    #[arg(long)]
    pub cpus: Option<String>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long, allow_hyphen_values = true)]
    pub cpu_shares: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)
    #[arg(long)]
    pub blkio_weight: Option<u16>,
}

impl LimitArgs {
    /// The flags as given, the rest unset.
    pub fn resource_flags(&self) -> ResourceFlags {
        ResourceFlags {
            memory: self.memory.clone(),
            memory_swap: self.memory_swap.clone(),
            memory_reservation: self.memory_reservation.clone(),
            pids_limit: self.pids_limit,
            cpus: self.cpus.clone(),
            cpu_shares: self.cpu_shares,
            cpu_period: self.cpu_period,
            cpu_quota: self.cpu_quota,
            cpuset_cpus: self.cpuset_cpus.clone(),
            cpuset_mems: self.cpuset_mems.clone(),
            blkio_weight: self.blkio_weight,
            ..Default::default()
        }
    }

    /// Was any given?
    fn any(&self) -> bool {
        self.memory.is_some()
            || self.memory_swap.is_some()
            || self.memory_reservation.is_some()
            || self.pids_limit.is_some()
            || self.cpus.is_some()
            || self.cpu_shares.is_some()
            || self.cpu_period.is_some()
            || self.cpu_quota.is_some()
            || self.cpuset_cpus.is_some()
            || self.cpuset_mems.is_some()
            || self.blkio_weight.is_some()
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Restart policy to apply when a container exits
    #[arg(long)]
    pub restart: Option<String>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

impl Args {
    fn flags(&self) -> UpdateFlags {
        UpdateFlags {
            resources: self.limits.resource_flags(),
            restart: self.restart.clone(),
        }
    }

    /// Was any flag given?
    fn any(&self) -> bool {
        self.restart.is_some() || self.limits.any()
    }
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    if !args.any() {
        crate::bail_kind!(
            InvalidArgument,
            "you must provide one or more flags when using this command"
        );
    }
    let mut u = Update::parse(&args.flags())?;
    u.given.check_on_host()?;
    let mut notes = Vec::new();
    if u.given.blkio_weight > 0 {
        notes = u
            .given
            .discard_unsupported(crate::runtime::cgroups::blkio_support());
    }
    if cfg.rootless && u.given.limits_any() {
        notes.push("resource limits cannot be applied rootless without a delegated cgroup; they are only recorded".into());
    }
    for n in notes {
        eprintln!("skiff: warning: {n}");
    }
    let store = Store::open(&cfg.root)?;
    super::lifecycle::each(&args.containers, |n| {
        let rec = state::find(&store, n)?;
        container::update::update(&store, &rec, &u)?;
        println!("{n}");
        Ok(())
    })
}
