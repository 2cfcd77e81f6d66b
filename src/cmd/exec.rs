//! `skiff exec`: run a command in a running container. The flags become
//! `ExecOpts`; `runtime::exec_in` does the work.

use crate::config::Config;
use crate::container::state;
use crate::error::{kind_err, ErrorKind};
use crate::runtime::exec_in::{self, ExecOpts, Target};
use crate::runtime::opts::env::{parse_env, parse_env_file};
use crate::store::{ContainerRecord, Store};
use anyhow::{Context, Result};

#[derive(Debug, clap::Args)]
#[command(trailing_var_arg = true)]
pub struct Args {
    /// Detached mode: run command in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Set environment variables
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long)]
    pub env_file: Vec<String>,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Give extended privileges to the command
    #[arg(long)]
    pub privileged: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// The container (name, ID or unique ID prefix)
    pub container: String,
    /// The command and its arguments
    #[arg(required = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

impl Args {
    fn opts(&self) -> Result<ExecOpts> {
        let lookup = |k: &str| std::env::var(k).ok();
        let mut env = Vec::new();
        for f in &self.env_file {
            let text = std::fs::read_to_string(f).with_context(|| format!("open {f}"))?;
            env.extend(parse_env_file(f, &text, &lookup)?);
        }
        for e in &self.env {
            env.push(parse_env(e, &lookup)?);
        }
        Ok(ExecOpts {
            command: self.command.clone(),
            env,
            user: self.user.clone(),
            workdir: self.workdir.clone(),
            privileged: self.privileged,
            interactive: self.interactive,
            tty: self.tty,
            detach: self.detach,
        })
    }
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    // CVE-2019-5736: the process is born in the container's pid namespace,
    // in reach of its processes before its execve; skiff re-executes
    // itself from a sealed copy first, before reading anything.
    crate::runtime::seal::ensure()?;
    let opts = args.opts()?;
    let store = Store::open(&cfg.root)?;
    let rec = state::find(&store, &args.container)?;
    let exit = exec_in::exec(&target(&store, &rec)?, &opts)?;
    Ok(exit.status())
}

/// The running container `rec` as exec enters it.
pub fn target(store: &Store, rec: &ContainerRecord) -> Result<Target> {
    if rec.state.status == "paused" {
        return Err(kind_err(
            ErrorKind::InvalidState,
            format!(
                "Container {} is paused, unpause the container before exec",
                rec.id
            ),
        ));
    }
    let pid = rec.state.pid.filter(|_| state::is_running(rec));
    let Some(pid) = pid else {
        return Err(kind_err(
            ErrorKind::InvalidState,
            format!("container {} is not running", rec.id),
        ));
    };
    Ok(Target {
        dir: store.container_dir(&rec.id),
        id: rec.id.clone(),
        pid,
        pid_start: rec.state.pid_start,
    })
}
