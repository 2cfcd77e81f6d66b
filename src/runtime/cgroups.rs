//! The container's cgroup as the runtime handles it: made from the spec's
//! `linux.cgroupsPath` and `linux.resources` just before the fork, the
//! child cloned into it, and removed when the container has ended, after
//! its OOM kills are counted. A container stopped or lost leaves none
//! behind: `rm` and the state sync remove what a killed owner could not.

use crate::cgroup::{Cgroup, Hierarchies};
use anyhow::{Context, Result};
use oci_spec::runtime::Spec;
use std::path::Path;

/// A container's cgroup; removed on drop when `owned` (made for a run,
/// not joined by an exec), with whatever still runs in it killed.
#[derive(Debug)]
pub struct ContainerCgroup {
    pub cgroup: Cgroup,
    owned: bool,
}

impl ContainerCgroup {
    /// The container has ended: did the OOM killer take part? Its cgroup
    /// goes (a failure to remove it is only a warning: the exit stands).
    pub fn finish(mut self) -> bool {
        self.owned = false;
        let oom = self.cgroup.oom_killed();
        if let Err(e) = self.cgroup.remove() {
            eprintln!("skiff: warning: {e:#}");
        }
        oom
    }
}

impl Drop for ContainerCgroup {
    fn drop(&mut self) {
        if self.owned {
            let _ = self.cgroup.remove();
        }
    }
}

fn path_of(spec: &Spec) -> Option<&Path> {
    spec.linux().as_ref()?.cgroups_path().as_deref()
}

/// Make the cgroup the spec asks for; `None` when it names none.
pub fn create(spec: &Spec) -> Result<Option<ContainerCgroup>> {
    let Some(path) = path_of(spec) else {
        return Ok(None);
    };
    let res = spec.linux().as_ref().and_then(|l| l.resources().as_ref());
    let cg = Cgroup::create(&Hierarchies::host(), path, res)
        .with_context(|| format!("create the container's cgroup {}", path.display()))?;
    Ok(cg.map(|cgroup| ContainerCgroup {
        cgroup,
        owned: true,
    }))
}

/// The running container's cgroup, for an `exec` to join.
pub fn join(spec: &Spec) -> Result<Option<ContainerCgroup>> {
    let Some(path) = path_of(spec) else {
        return Ok(None);
    };
    let cg = Cgroup::open(&Hierarchies::host(), path)
        .with_context(|| format!("open the container's cgroup {}", path.display()))?;
    Ok(cg.map(|cgroup| ContainerCgroup {
        cgroup,
        owned: false,
    }))
}

/// The cgroup of the container whose bundle is `dir`, if it still exists.
pub fn existing(dir: &Path) -> Option<Cgroup> {
    let data = std::fs::read(dir.join("config.json")).ok()?;
    let spec: Spec = serde_json::from_slice(&data).ok()?;
    Cgroup::open(&Hierarchies::host(), path_of(&spec)?)
        .ok()
        .flatten()
}

/// Kill every process in the cgroup of the container in `dir`.
pub fn kill_all(dir: &Path) -> Result<()> {
    match existing(dir) {
        Some(cg) => cg.kill(),
        None => Ok(()),
    }
}

/// Remove the cgroup of the container in `dir` (its processes killed),
/// when its owner could not.
pub fn remove(dir: &Path) -> Result<()> {
    match existing(dir) {
        Some(cg) => cg.remove(),
        None => Ok(()),
    }
}

/// Write the limits of `res` into the cgroup of the running container
/// whose spec is `spec`; `false` when it has none (not running, or
/// rootless without a cgroup of its own).
pub fn update(spec: &Spec, res: &oci_spec::runtime::LinuxResources) -> Result<bool> {
    let Some(path) = path_of(spec) else {
        return Ok(false);
    };
    Cgroup::update(&Hierarchies::host(), path, res)
        .with_context(|| format!("update the container's cgroup {}", path.display()))
}

/// What this host's block I/O controller can hold.
pub fn blkio_support() -> crate::runtime::opts::blkio::BlkioSupport {
    let s = crate::cgroup::io::support(&Hierarchies::host());
    crate::runtime::opts::blkio::BlkioSupport {
        weight: s.weight,
        weight_device: s.weight_device,
        throttle: s.throttle,
    }
}
