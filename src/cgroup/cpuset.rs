//! The cpuset controller: which CPUs and memory nodes the container may
//! use.

use super::fs::{read, write};
use anyhow::Result;
use oci_spec::runtime::LinuxCpu;
use std::path::Path;

/// Does `c` restrict CPUs or memory nodes?
pub fn wanted(c: &LinuxCpu) -> bool {
    c.cpus().as_deref().is_some_and(|s| !s.is_empty())
        || c.mems().as_deref().is_some_and(|s| !s.is_empty())
}

/// `cpuset.cpus` and `cpuset.mems` (the same files on v1 and v2).
pub fn apply(dir: &Path, c: &LinuxCpu) -> Result<()> {
    if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
        write(dir, "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
        write(dir, "cpuset.mems", mems)?;
    }
    Ok(())
}

/// v1 makes a cpuset cgroup with no CPUs and no memory nodes, and refuses
/// tasks until it has some: an empty directory gets its parent's.
pub fn inherit_v1(dir: &Path) -> Result<()> {
    let parent = dir.parent().unwrap_or(dir);
    for file in ["cpuset.cpus", "cpuset.mems"] {
        if read(dir, file)?.is_empty() {
            write(dir, file, &read(parent, file)?)?;
        }
    }
    Ok(())
}
