//! One file per command: an `Args` struct and `fn run(args, &Config)`.
//! Commands parse and print; the work lives in `image`, `store` and
//! `registry`.

use crate::config::{Config, LogLevel};
use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

pub mod format;
pub mod info;
pub mod version;

/// skiff: containers without a daemon.
#[derive(Debug, Parser)]
#[command(
    name = "skiff",
    about = "A daemonless container tool with Docker's command line",
    disable_version_flag = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// The persistent store (images, containers, volumes)
    #[arg(long, env = "SKIFF_ROOT", global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Volatile state (pids, sockets, mounts)
    #[arg(long, env = "SKIFF_RUNROOT", global = true, value_name = "DIR")]
    pub runroot: Option<PathBuf>,
    /// How much to log on stderr
    #[arg(long, global = true, value_enum, default_value = "warn")]
    pub log_level: LogLevel,
    /// Print version information and quit
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the skiff version information
    Version(version::Args),
    /// Display system-wide information
    Info(info::Args),
}

/// Run the command the user asked for; returns the process exit code.
pub fn dispatch(cli: Cli) -> Result<i32> {
    let cfg = Config::load(cli.root, cli.runroot, cli.log_level)?;
    if cli.version {
        println!("skiff version {}", env!("CARGO_PKG_VERSION"));
        return Ok(0);
    }
    let Some(command) = cli.command else {
        return Ok(0);
    };
    match command {
        Command::Version(a) => version::run(a, &cfg),
        Command::Info(a) => info::run(a, &cfg),
    }
}
