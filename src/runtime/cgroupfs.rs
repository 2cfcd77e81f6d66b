//! Docker's `cgroup` mount at /sys/fs/cgroup. On a pure cgroup v2 host it
//! is the cgroup2 hierarchy; on v1 and hybrid hosts (this CI machine) it is
//! a tmpfs holding one mount per hierarchy, as runc builds it. Each shows
//! only the container's own subtree.
//!
//! The v1 hierarchies are mounted afresh (inside the container's cgroup
//! namespace that is its subtree). The cgroup2 hierarchy is instead bound
//! from the host's mount at the container's own cgroup: a fresh cgroup2
//! mount costs the kernel an RCU grace period, 10 to 30 ms here, more than
//! the whole rest of a container's start.

use super::mounts::{errno, remount_bind, MountSpec};
use super::paths::{ensure_target, fd_path, path_in_root};
use crate::cgroup::Layout;
use anyhow::{anyhow, bail, Result};
use nix::mount::{mount, MsFlags};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// One hierarchy to mount under the cgroup tmpfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Directory name under /sys/fs/cgroup.
    pub name: String,
    pub fstype: &'static str,
    /// Mount data: the controllers, or `name=...` for a named hierarchy.
    pub data: Option<String>,
    /// Symlinks to `name` for co-mounted controllers (`cpu -> cpu,cpuacct`).
    pub links: Vec<String>,
    /// The process's cgroup in it: `/` inside a cgroup namespace of its
    /// own, the host's path in the host's (`--cgroupns host`).
    pub path: String,
}

/// The hierarchies listed in /proc/self/cgroup.
pub fn hierarchies(proc_cgroup: &str) -> Vec<Hierarchy> {
    let mut out = Vec::new();
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(ctrl)) = (parts.next(), parts.next()) else {
            continue;
        };
        let path = parts.next().unwrap_or("/").trim().to_string();
        if id == "0" && ctrl.is_empty() {
            out.push(Hierarchy {
                name: "unified".into(),
                fstype: "cgroup2",
                data: None,
                links: Vec::new(),
                path,
            });
            continue;
        }
        if ctrl.is_empty() {
            continue;
        }
        let name = ctrl.strip_prefix("name=").unwrap_or(ctrl).to_string();
        let links = if name.contains(',') {
            name.split(',').map(str::to_string).collect()
        } else {
            Vec::new()
        };
        out.push(Hierarchy {
            name,
            fstype: "cgroup",
            data: Some(ctrl.to_string()),
            links,
            path,
        });
    }
    out
}

/// The host directory of the cgroup2 hierarchy mounted at `base`, for
/// the cgroup in `proc_cgroup` (its `0::/path` line).
pub fn cgroup2_dir(base: &Path, proc_cgroup: &str) -> Option<PathBuf> {
    let path = proc_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))?
        .trim();
    Some(base.join(path.trim_start_matches('/')))
}

/// Where this process's cgroup2 hierarchy is on the host, read now (in
/// the parent, whose view is the host's). The mount point is where
/// `cgroup::detect` found it: reading /proc/self/mountinfo instead costs
/// half a millisecond on a busy host.
pub fn host_cgroup2_source() -> Option<PathBuf> {
    let base = match crate::cgroup::detect() {
        Layout::Unified => Path::new("/sys/fs/cgroup"),
        Layout::Hybrid => Path::new("/sys/fs/cgroup/unified"),
        Layout::Legacy | Layout::None => return None,
    };
    let cg = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    cgroup2_dir(base, &cg)
}

/// Bind the host's cgroup2 directory on `target` (which is `dest`).
fn bind_cgroup2(root: BorrowedFd, m: &MountSpec, target: BorrowedFd, dest: &Path) -> Result<()> {
    let Some(src) = &m.source else {
        bail!(
            "mount cgroup2 on {}: the host's cgroup2 hierarchy was not found",
            dest.display()
        );
    };
    bind_dir(root, src, m.flags, target, dest)
}

/// Bind the host's directory `src` on `target` (which is `dest`), with
/// the mount's `flags`.
fn bind_dir(
    root: BorrowedFd,
    src: &Path,
    flags: MsFlags,
    target: BorrowedFd,
    dest: &Path,
) -> Result<()> {
    let d = dest.display();
    mount(
        Some(src),
        fd_path(target).as_str(),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| anyhow!("bind mount {} on {d}: {}", src.display(), errno(e)))?;
    if !flags.is_empty() {
        remount_bind(root, dest, flags)?;
    }
    Ok(())
}

/// Make directory `name` in `dir` and open it.
fn subdir(dir: BorrowedFd, name: &str) -> std::io::Result<OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    match rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o755)) {
        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
        Err(e) => return Err(e.into()),
    }
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(rustix::fs::openat(dir, name, flags, Mode::empty())?)
}

/// Mount the container's view of the cgroup hierarchies at `m.dest`.
pub fn mount_cgroups(root: BorrowedFd, m: &MountSpec) -> Result<()> {
    let d = m.dest.display();
    let target = ensure_target(root, &m.dest, false)
        .map_err(|e| anyhow!("mount target {d}: {}", super::io_text(&e)))?;
    let flags = m.flags;
    match crate::cgroup::detect() {
        Layout::None => return Ok(()),
        Layout::Unified => return bind_cgroup2(root, m, target.as_fd(), &m.dest),
        Layout::Hybrid | Layout::Legacy => {}
    }
    let base = flags & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
    mount(
        Some("tmpfs"),
        fd_path(target.as_fd()).as_str(),
        Some("tmpfs"),
        base,
        Some("mode=755"),
    )
    .map_err(|e| anyhow!("mount tmpfs on {d}: {}", errno(e)))?;
    let dir = path_in_root(root, &m.dest)
        .map_err(|e| anyhow!("mount target {d}: {}", super::io_text(&e)))?;
    let text = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| anyhow!("read /proc/self/cgroup: {}", super::io_text(&e)))?;
    for h in hierarchies(&text) {
        let sub = m.dest.join(&h.name);
        // Straight in the tmpfs just made: nothing of the image is there
        // to resolve.
        let fd = subdir(dir.as_fd(), &h.name)
            .map_err(|e| anyhow!("mount target {}: {}", sub.display(), super::io_text(&e)))?;
        if h.fstype == "cgroup2" {
            bind_cgroup2(root, m, fd.as_fd(), &sub)?;
        } else if h.path != "/" {
            // In the host's cgroup namespace a fresh mount would show the
            // whole hierarchy: the container's own part of it instead, as
            // the host mounts it (the mount namespace is still a copy of
            // the host's here).
            let src = Path::new("/sys/fs/cgroup")
                .join(&h.name)
                .join(h.path.trim_start_matches('/'));
            bind_dir(root, &src, flags, fd.as_fd(), &sub)?;
        } else {
            mount(
                Some(h.fstype),
                fd_path(fd.as_fd()).as_str(),
                Some(h.fstype),
                flags,
                h.data.as_deref(),
            )
            .map_err(|e| anyhow!("mount {} on {}: {}", h.fstype, sub.display(), errno(e)))?;
        }
        for l in &h.links {
            match rustix::fs::symlinkat(h.name.as_str(), &dir, l.as_str()) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(anyhow!("symlink {d}/{l}: {}", super::io_text(&e.into()))),
            }
        }
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        remount_bind(root, &m.dest, flags)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_host_cgroup2_directory() {
        let cg = "1:name=systemd:/\n0::/user.slice/x\n";
        assert_eq!(
            cgroup2_dir(Path::new("/sys/fs/cgroup/unified"), cg),
            Some(PathBuf::from("/sys/fs/cgroup/unified/user.slice/x"))
        );
        assert_eq!(
            cgroup2_dir(Path::new("/sys/fs/cgroup"), "0::/\n"),
            Some(PathBuf::from("/sys/fs/cgroup/"))
        );
        assert_eq!(cgroup2_dir(Path::new("/sys/fs/cgroup"), "1:cpu:/\n"), None);
    }

    #[test]
    fn reads_hybrid_hierarchies() {
        let text = "12:pids:/\n11:cpu,cpuacct:/\n1:name=systemd:/\n0::/\n";
        let h = hierarchies(text);
        assert_eq!(h.len(), 4);
        assert_eq!(h[0].name, "pids");
        assert_eq!(h[0].data.as_deref(), Some("pids"));
        assert_eq!(h[1].name, "cpu,cpuacct");
        assert_eq!(h[1].links, ["cpu", "cpuacct"]);
        assert_eq!(h[2].name, "systemd");
        assert_eq!(h[2].data.as_deref(), Some("name=systemd"));
        assert_eq!(h[3].fstype, "cgroup2");
        assert_eq!(h[3].name, "unified");
        assert!(h.iter().all(|h| h.path == "/"));
        // In the host's cgroup namespace: the host's paths.
        let h = hierarchies("4:memory:/skiff/ab12\n0::/skiff/ab12\n");
        assert_eq!(h[0].path, "/skiff/ab12");
        assert_eq!(h[1].path, "/skiff/ab12");
    }
}
