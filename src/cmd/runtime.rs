//! `skiff runtime ...`: the built-in OCI runtime driven directly with a
//! bundle, the seam for a runc-compatible command line and the way tests
//! drive the runtime with hand-made bundles. Hidden from `--help`.

use crate::config::Config;
use crate::runtime::{self, RunIo};
use anyhow::Result;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum RuntimeCommand {
    /// Create, start and wait for a container from an OCI bundle
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The bundle directory (holding config.json)
    #[arg(short, long, default_value = ".", value_name = "DIR")]
    pub bundle: PathBuf,
    /// The container's ID
    pub id: String,
}

/// An ID runc would take: letters, digits, `_`, `+`, `-`, `.`.
fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.'));
    if !ok {
        crate::bail_kind!(InvalidArgument, "invalid container ID {id:?}");
    }
    Ok(())
}

pub fn run(cmd: RuntimeCommand, _cfg: &Config) -> Result<i32> {
    match cmd {
        RuntimeCommand::Run(a) => {
            check_id(&a.id)?;
            let exit = runtime::run_bundle(&a.bundle, &a.id, RunIo::Inherit)?;
            Ok(exit.status())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(check_id("abc-1.2_x+y").is_ok());
        for bad in ["", ".", "a/b", "a b"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }
}
