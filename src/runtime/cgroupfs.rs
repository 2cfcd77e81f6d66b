//! Docker's `cgroup` mount at /sys/fs/cgroup. On a pure cgroup v2 host it
//! is one cgroup2 mount; on v1 and hybrid hosts (this CI machine) it is a
//! tmpfs holding one mount per hierarchy, as runc builds it. Inside a new
//! cgroup namespace each mount shows only the container's own subtree.

use super::mounts::{errno, remount_bind, MountSpec};
use super::paths::{ensure_target, fd_path, path_in_root};
use crate::cgroup::Layout;
use anyhow::{anyhow, Result};
use nix::mount::{mount, MsFlags};
use std::os::fd::{AsFd, BorrowedFd};

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
}

/// The hierarchies listed in /proc/self/cgroup.
pub fn hierarchies(proc_cgroup: &str) -> Vec<Hierarchy> {
    let mut out = Vec::new();
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(ctrl)) = (parts.next(), parts.next()) else {
            continue;
        };
        if id == "0" && ctrl.is_empty() {
            out.push(Hierarchy {
                name: "unified".into(),
                fstype: "cgroup2",
                data: None,
                links: Vec::new(),
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
        });
    }
    out
}

/// Mount the container's view of the cgroup hierarchies at `m.dest`.
pub fn mount_cgroups(root: BorrowedFd, m: &MountSpec) -> Result<()> {
    let d = m.dest.display();
    let target = ensure_target(root, &m.dest, false)
        .map_err(|e| anyhow!("mount target {d}: {}", super::io_text(&e)))?;
    let flags = m.flags;
    match crate::cgroup::detect() {
        Layout::None => return Ok(()),
        Layout::Unified => {
            return mount(
                Some("cgroup2"),
                fd_path(target.as_fd()).as_str(),
                Some("cgroup2"),
                flags,
                None::<&str>,
            )
            .map_err(|e| anyhow!("mount cgroup2 on {d}: {}", errno(e)));
        }
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
        let fd = ensure_target(root, &sub, false)
            .map_err(|e| anyhow!("mount target {}: {}", sub.display(), super::io_text(&e)))?;
        mount(
            Some(h.fstype),
            fd_path(fd.as_fd()).as_str(),
            Some(h.fstype),
            flags,
            h.data.as_deref(),
        )
        .map_err(|e| anyhow!("mount {} on {}: {}", h.fstype, sub.display(), errno(e)))?;
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
    }
}
