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
use std::os::fd::{AsFd, BorrowedFd};
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

/// The host directory of the cgroup2 hierarchy for the cgroup in
/// `proc_cgroup` (`0::/path`), given the host's `mountinfo`.
pub fn cgroup2_source(mountinfo: &str, proc_cgroup: &str) -> Option<PathBuf> {
    let path = proc_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))?
        .trim();
    for line in mountinfo.lines() {
        // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        if right.split(' ').next() != Some("cgroup2") {
            continue;
        }
        let mut f = left.split(' ');
        let (Some(root), Some(mountpoint)) = (f.nth(3), f.next()) else {
            continue;
        };
        let rel = Path::new(path).strip_prefix(root).ok()?;
        return Some(Path::new(&unescape(mountpoint)).join(rel));
    }
    None
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Where this process's cgroup2 hierarchy is on the host, read now (in
/// the parent, whose view is the host's).
pub fn host_cgroup2_source() -> Option<PathBuf> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let cg = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    cgroup2_source(&mi, &cg)
}

fn bind_cgroup2(root: BorrowedFd, m: &MountSpec, dest: &Path) -> Result<()> {
    let d = dest.display();
    let Some(src) = &m.source else {
        bail!("mount cgroup2 on {d}: the host's cgroup2 hierarchy was not found");
    };
    let target = ensure_target(root, dest, false)
        .map_err(|e| anyhow!("mount target {d}: {}", super::io_text(&e)))?;
    mount(
        Some(src.as_path()),
        fd_path(target.as_fd()).as_str(),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| anyhow!("bind mount {} on {d}: {}", src.display(), errno(e)))?;
    let flags = m.flags & !(MsFlags::MS_RDONLY);
    if m.flags.contains(MsFlags::MS_RDONLY) || !flags.is_empty() {
        remount_bind(root, dest, m.flags)?;
    }
    Ok(())
}

/// Mount the container's view of the cgroup hierarchies at `m.dest`.
pub fn mount_cgroups(root: BorrowedFd, m: &MountSpec) -> Result<()> {
    let d = m.dest.display();
    let target = ensure_target(root, &m.dest, false)
        .map_err(|e| anyhow!("mount target {d}: {}", super::io_text(&e)))?;
    let flags = m.flags;
    match crate::cgroup::detect() {
        Layout::None => return Ok(()),
        Layout::Unified => return bind_cgroup2(root, m, &m.dest),
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
        if h.fstype == "cgroup2" {
            bind_cgroup2(root, m, &sub)?;
            continue;
        }
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
    fn finds_the_host_cgroup2_directory() {
        let mi = "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n\
                  41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw\n";
        let cg = "1:name=systemd:/\n0::/user.slice/x\n";
        assert_eq!(
            cgroup2_source(mi, cg),
            Some(PathBuf::from("/sys/fs/cgroup/unified/user.slice/x"))
        );
        let mi = "30 1 0:26 / /sys/fs/cgroup\\040x rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup2_source(mi, "0::/\n"),
            Some(PathBuf::from("/sys/fs/cgroup x/"))
        );
        assert_eq!(cgroup2_source(mi, "1:cpu:/\n"), None);
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
    }
}
