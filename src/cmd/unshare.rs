//! `skiff unshare [COMMAND...]`: run a command inside the rootless user
//! and mount namespaces every skiff command of this user runs in (see
//! `ns::rootless`), where the store's files have the owners containers
//! see and can be inspected or removed. `$SHELL` without a command. For
//! root, there is nothing to enter: the command runs as it is.

use crate::config::Config;
use crate::error::{kind_err, ErrorKind};
use anyhow::Result;
use std::os::unix::process::CommandExt;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// The namespaces were entered by `dispatch`, as for every command.
pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    let (prog, rest) = match args.command.split_first() {
        Some((p, r)) => (p.clone(), r.to_vec()),
        None => (
            std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into()),
            Vec::new(),
        ),
    };
    let path = std::env::var("PATH").ok();
    let exe = crate::runtime::exec::resolve(&prog, path.as_deref())?;
    // skiff run from inside finds the same store.
    let e = std::process::Command::new(&exe)
        .arg0(&prog)
        .args(&rest)
        .env("SKIFF_ROOT", &cfg.root)
        .env("SKIFF_RUNROOT", &cfg.runroot)
        .exec();
    let kind = match e.kind() {
        std::io::ErrorKind::NotFound => ErrorKind::CommandNotFound,
        _ => ErrorKind::CannotInvoke,
    };
    Err(kind_err(kind, format!("exec {prog}: {e}")))
}
