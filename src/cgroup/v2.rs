//! A cgroup on the unified (v2) hierarchy: one directory, its controllers
//! enabled in every parent's `cgroup.subtree_control`.

use super::fs::{self, read, write};
use super::{cpu, cpuset, devices, io, memory, pids};
use anyhow::{anyhow, Result};
use oci_spec::runtime::LinuxResources;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The controllers `res` needs, in the order they are enabled.
pub fn controllers(res: &LinuxResources) -> Vec<&'static str> {
    let mut out = Vec::new();
    if res.cpu().as_ref().is_some_and(cpuset::wanted) {
        out.push("cpuset");
    }
    if res.cpu().as_ref().is_some_and(cpu::wanted) {
        out.push("cpu");
    }
    if res.block_io().as_ref().is_some_and(io::wanted) {
        out.push("io");
    }
    if res.memory().as_ref().is_some_and(memory::wanted) {
        out.push("memory");
    }
    if res.pids().is_some() {
        out.push("pids");
    }
    out
}

/// A v2 cgroup directory, open for `CLONE_INTO_CGROUP`.
#[derive(Debug)]
pub struct Group {
    pub dir: PathBuf,
    fd: OwnedFd,
}

impl Group {
    /// Make `root/rel` (its parents too), with the controllers `res` needs
    /// enabled down to it, and apply `res`.
    pub fn create(root: &Path, rel: &Path, res: Option<&LinuxResources>) -> Result<Group> {
        let want = res.map(controllers).unwrap_or_default();
        let dir = walk(root, rel, |dir, last| {
            enable(dir, &want)?;
            fs::mkdir(last).map(drop)
        })?;
        let g = Group::open(dir)?;
        if let Some(res) = res {
            if let Err(e) = apply(&g.dir, res) {
                let _ = fs::rmdir(&g.dir);
                return Err(e);
            }
        }
        Ok(g)
    }

    /// The existing cgroup `dir`.
    pub fn open(dir: PathBuf) -> Result<Group> {
        use rustix::fs::{Mode, OFlags};
        let fd = rustix::fs::open(
            &dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| anyhow!("open cgroup {}: {}", dir.display(), e))?;
        Ok(Group { dir, fd })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Kill every process in it at once (`cgroup.kill`, Linux 5.14).
    pub fn kill(&self) -> Result<()> {
        write(&self.dir, "cgroup.kill", "1")
    }

    /// Freeze (or thaw) every process in it (`cgroup.freeze`, Linux 5.2),
    /// and wait until the kernel says it is done.
    pub fn freeze(&self, frozen: bool) -> Result<()> {
        write(&self.dir, "cgroup.freeze", if frozen { "1" } else { "0" })?;
        super::wait_for(&self.dir, || {
            let now = read(&self.dir, "cgroup.events")
                .ok()
                .and_then(|s| fs::keyed(&s, "frozen"));
            Ok(now == Some(frozen as u64))
        })
    }

    /// Any process in it (or below)?
    pub fn populated(&self) -> bool {
        read(&self.dir, "cgroup.events")
            .ok()
            .and_then(|s| fs::keyed(&s, "populated"))
            .is_some_and(|n| n > 0)
    }
}

/// Go down from `root` to `root/rel`, calling `step(parent, child)` on
/// each level; returns `root/rel`.
fn walk(
    root: &Path,
    rel: &Path,
    mut step: impl FnMut(&Path, &Path) -> Result<()>,
) -> Result<PathBuf> {
    let mut dir = root.to_path_buf();
    for part in rel.components() {
        let child = dir.join(part);
        step(&dir, &child)?;
        dir = child;
    }
    Ok(dir)
}

/// Change the limits of the existing cgroup `root/rel` to `res`, the
/// controllers they need enabled above it first.
pub fn update(root: &Path, rel: &Path, res: &LinuxResources) -> Result<()> {
    let want = controllers(res);
    let dir = walk(root, rel, |parent, _| enable(parent, &want))?;
    apply(&dir, res)
}

/// Enable `want` in `dir`'s `cgroup.subtree_control`: only those missing,
/// and each must be offered by `cgroup.controllers`.
fn enable(dir: &Path, want: &[&str]) -> Result<()> {
    if want.is_empty() {
        return Ok(());
    }
    let on = read(dir, "cgroup.subtree_control")?;
    let missing: Vec<&str> = want
        .iter()
        .copied()
        .filter(|c| !on.split_whitespace().any(|o| o == *c))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let offered = read(dir, "cgroup.controllers")?;
    if let Some(c) = missing
        .iter()
        .find(|c| !offered.split_whitespace().any(|o| o == **c))
    {
        return Err(anyhow!(
            "the cgroup controller {c} is not available in {}",
            dir.display()
        ));
    }
    let line: Vec<String> = missing.iter().map(|c| format!("+{c}")).collect();
    write(dir, "cgroup.subtree_control", &line.join(" "))
}

/// Write the limits of `res` into the cgroup `dir`.
pub fn apply(dir: &Path, res: &LinuxResources) -> Result<()> {
    if let Some(c) = res.cpu() {
        if cpuset::wanted(c) {
            cpuset::apply(dir, c)?;
        }
        cpu::apply_v2(dir, c)?;
    }
    // v2 has no switch for the OOM killer: disable_oom_killer is left
    // out, as runc leaves it.
    if let Some(m) = res.memory() {
        memory::apply_v2(dir, m)?;
    }
    if let Some(p) = res.pids() {
        pids::apply(dir, p)?;
    }
    if let Some(b) = res.block_io() {
        io::apply_v2(dir, b)?;
    }
    if let Some(rules) = devices::rules(res) {
        devices::apply_v2(dir, rules)?;
    }
    Ok(())
}
