//! The pids controller: `pids.max`, the same file on v1 and v2.

use super::fs::write;
use anyhow::Result;
use oci_spec::runtime::LinuxPids;
use std::path::Path;

/// Docker's rule: zero or below is no limit.
pub fn apply(dir: &Path, p: &LinuxPids) -> Result<()> {
    let v = match p.limit() {
        n if n > 0 => n.to_string(),
        _ => "max".into(),
    };
    write(dir, "pids.max", &v)
}
