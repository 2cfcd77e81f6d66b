//! A cgroup on v1 hierarchies: one directory per controller, each under
//! its own mount (`/sys/fs/cgroup/memory/skiff/ID`, ...). Only the
//! controllers a container needs get a directory: each costs a mkdir on
//! start and an rmdir on exit.

use super::fs::{self, read, write};
use super::{cpu, cpuset, devices, io, memory, pids};
use anyhow::{anyhow, Result};
use oci_spec::runtime::LinuxResources;
use std::path::{Path, PathBuf};

/// Every controller skiff makes directories in.
pub const KNOWN: [&str; 7] = [
    "cpuset", "cpu", "blkio", "memory", "pids", "freezer", "devices",
];

/// The controllers `res` sets limits with (v1 calls io blkio).
pub fn controllers(res: &LinuxResources) -> Vec<&'static str> {
    super::v2::controllers(res)
        .into_iter()
        .map(|c| if c == "io" { "blkio" } else { c })
        .collect()
}

/// Directories of one cgroup, one per controller.
#[derive(Debug, Default)]
pub struct Group {
    pub dirs: Vec<(&'static str, PathBuf)>,
    /// The hierarchies' mount point and the cgroup's path below each.
    base: PathBuf,
    rel: PathBuf,
}

impl Group {
    /// Make `base/NAME/rel` for each controller in `names` and apply `res`.
    /// On failure, what was made is removed again.
    pub fn create(
        base: &Path,
        rel: &Path,
        names: &[&'static str],
        res: Option<&LinuxResources>,
    ) -> Result<Group> {
        let mut g = Group {
            base: base.to_path_buf(),
            rel: rel.to_path_buf(),
            ..Default::default()
        };
        let made = names.iter().try_for_each(|name| {
            let dir = make(base, name, rel)?;
            g.dirs.push((name, dir));
            Ok(())
        });
        let r = made.and_then(|()| match res {
            Some(res) => g.apply(res),
            None => Ok(()),
        });
        if let Err(e) = r {
            let _ = g.remove();
            return Err(e);
        }
        Ok(g)
    }

    /// The directories of `rel` that exist, among the known controllers.
    pub fn open(base: &Path, rel: &Path) -> Group {
        let dirs = KNOWN
            .iter()
            .map(|n| (*n, base.join(n).join(rel)))
            .filter(|(_, d)| d.is_dir())
            .collect();
        Group {
            dirs,
            base: base.to_path_buf(),
            rel: rel.to_path_buf(),
        }
    }

    /// The directories there are now: `update` may have added some since
    /// this was made or opened.
    pub fn current(&self) -> Group {
        Group::open(&self.base, &self.rel)
    }

    fn dir(&self, name: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, d)| d.as_path())
    }

    fn apply(&self, res: &LinuxResources) -> Result<()> {
        if let (Some(d), Some(c)) = (self.dir("cpuset"), res.cpu()) {
            cpuset::apply(d, c)?;
        }
        if let (Some(d), Some(c)) = (self.dir("cpu"), res.cpu()) {
            cpu::apply_v1(d, c)?;
        }
        if let (Some(d), Some(m)) = (self.dir("memory"), res.memory()) {
            memory::apply_v1(d, m)?;
        }
        if let (Some(d), Some(p)) = (self.dir("pids"), res.pids()) {
            pids::apply(d, p)?;
        }
        if let (Some(d), Some(r)) = (self.dir("devices"), devices::rules(res)) {
            devices::apply_v1(d, r)?;
        }
        if let (Some(d), Some(b)) = (self.dir("blkio"), res.block_io()) {
            io::apply_v1(d, b)?;
        }
        Ok(())
    }

    /// Change the limits to `res`. A controller without a directory yet
    /// gets one, its limits written before every process listed in
    /// `members` (a directory holding them all) is moved into it; what was
    /// made goes again when that fails.
    pub fn update(&mut self, res: &LinuxResources, members: &Path) -> Result<()> {
        let mut made: Vec<(&'static str, PathBuf)> = Vec::new();
        let r = controllers(res)
            .into_iter()
            .filter(|name| self.dir(name).is_none())
            .try_for_each(|name| {
                made.push((name, make(&self.base, name, &self.rel)?));
                Ok(())
            });
        self.dirs.extend(made.iter().cloned());
        let r = r
            .and_then(|()| self.apply(res))
            .and_then(|()| made.iter().try_for_each(|(_, d)| move_all(members, d)));
        if r.is_err() {
            for (_, d) in &made {
                if fs::rmdir(d).is_ok() {
                    self.dirs.retain(|(_, x)| x != d);
                }
            }
        }
        r
    }

    /// Move process `pid` into every directory.
    pub fn add_pid(&self, pid: i32) -> Result<()> {
        for (_, d) in &self.dirs {
            write(d, "cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }

    /// The OOM kills the memory controller counted.
    pub fn oom_kills(&self) -> u64 {
        self.dir("memory")
            .map(|d| memory::oom_kills(d, false))
            .unwrap_or(0)
    }

    /// SIGKILL every process. With a freezer directory they are frozen
    /// first, so none can fork while the list is read and killed; the
    /// kill is delivered when they thaw.
    pub fn kill(&self) -> Result<()> {
        let Some((_, any)) = self.dirs.first() else {
            return Ok(());
        };
        let freezer = self.dir("freezer");
        if let Some(f) = freezer {
            freeze(f)?;
        }
        let list = read(freezer.unwrap_or(any), "cgroup.procs");
        if let Ok(list) = &list {
            for pid in list.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        if let Some(f) = freezer {
            write(f, "freezer.state", "THAWED")?;
        }
        list.map(|_| ())
    }

    /// Freeze or thaw every process through the freezer directory.
    pub fn set_frozen(&self, frozen: bool) -> Result<()> {
        let Some(f) = self.dir("freezer") else {
            return Err(anyhow!("the container's cgroup has no freezer"));
        };
        if frozen {
            freeze(f)
        } else {
            write(f, "freezer.state", "THAWED")
        }
    }

    /// Remove every directory (the parents stay: they are shared).
    pub fn remove(&self) -> Result<()> {
        let mut first = Ok(());
        for (_, d) in &self.dirs {
            if let Err(e) = fs::rmdir(d) {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first
    }
}

/// Make `base/name/rel` and the parents missing on the way; an empty
/// cpuset directory gets its parent's CPUs and memory nodes.
fn make(base: &Path, name: &str, rel: &Path) -> Result<PathBuf> {
    let mut dir = base.join(name);
    if !dir.is_dir() {
        return Err(anyhow!(
            "the cgroup controller {name} is not mounted at {}",
            dir.display()
        ));
    }
    for part in rel.components() {
        dir.push(part);
        fs::mkdir(&dir)?;
        // Also when it was there: a parent made by another tool may have
        // been left empty.
        if name == "cpuset" {
            cpuset::inherit_v1(&dir)?;
        }
    }
    Ok(dir)
}

/// The pids a `cgroup.procs` lists.
fn procs(dir: &Path) -> Result<std::collections::BTreeSet<i32>> {
    Ok(read(dir, "cgroup.procs")?
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect())
}

/// Move every process of the cgroup `from` into `to`. A process that
/// forks meanwhile may leave a child behind in the old place: listed
/// again until none is missing (a child forked after its parent moved is
/// born in `to`).
pub fn move_all(from: &Path, to: &Path) -> Result<()> {
    const ROUNDS: usize = 16;
    for _ in 0..ROUNDS {
        let have = procs(to)?;
        let missing: Vec<i32> = procs(from)?.difference(&have).copied().collect();
        if missing.is_empty() {
            return Ok(());
        }
        for pid in missing {
            if let Err(e) = write(to, "cgroup.procs", &pid.to_string()) {
                // Gone meanwhile: nothing to move.
                if Path::new(&format!("/proc/{pid}")).exists() {
                    return Err(e);
                }
            }
        }
    }
    Err(anyhow!(
        "move the processes of {} into {}: new ones still appear after {ROUNDS} rounds",
        from.display(),
        to.display()
    ))
}

/// Freeze the freezer cgroup `dir` and wait until it is.
fn freeze(dir: &Path) -> Result<()> {
    write(dir, "freezer.state", "FROZEN")?;
    super::wait_for(dir, || Ok(read(dir, "freezer.state")? == "FROZEN"))
}
