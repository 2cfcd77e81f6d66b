//! The spec's `mounts`: their options parsed into mount(2) flags and data
//! (pure, tested), then each performed on a target opened inside the root.

use super::paths::{ensure_target, fd_path, path_in_root};
use anyhow::{anyhow, bail, Result};
use nix::mount::{mount, MsFlags};
use oci_spec::runtime::Mount;
use rustix::fs::StatVfsMountFlags as Vfs;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

/// What kind of mount a spec entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A bind mount of a host path (`rbind`: with the mounts below it).
    Bind { recursive: bool },
    /// Docker's `cgroup` entry: the host's hierarchies, seen through the
    /// container's cgroup namespace (see `cgroupfs`).
    Cgroup,
    /// A file system mount (proc, tmpfs, sysfs, devpts, mqueue, ...).
    Fs,
}

/// One mount, ready to perform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    pub dest: PathBuf,
    pub kind: Kind,
    pub fstype: String,
    pub source: Option<PathBuf>,
    /// For binds: whether the source is something other than a directory,
    /// so the target to create is a file.
    pub source_is_file: bool,
    /// mount(2) flags other than bind, rec and propagation.
    pub flags: MsFlags,
    /// File-system specific options, comma-separated.
    pub data: String,
    /// Propagation changes, applied in order after the mount.
    pub propagation: Vec<MsFlags>,
}

/// The parsed `options` of a mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub flags: MsFlags,
    pub data: Vec<String>,
    pub propagation: Vec<MsFlags>,
    pub bind: bool,
    pub recursive: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            flags: MsFlags::empty(),
            data: Vec::new(),
            propagation: Vec::new(),
            bind: false,
            recursive: false,
        }
    }
}

/// MS_NOSYMFOLLOW (Linux 5.10), which nix does not name.
const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(256);

/// Parse mount options as runc does: flags by name, propagation apart,
/// anything else is data for the file system.
pub fn parse_options(opts: &[String]) -> Result<Options> {
    let mut o = Options::default();
    for opt in opts {
        let (set, clear) = match opt.as_str() {
            "ro" | "rro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "lazytime" => (MsFlags::MS_LAZYTIME, MsFlags::empty()),
            "nolazytime" => (MsFlags::empty(), MsFlags::MS_LAZYTIME),
            "iversion" => (MsFlags::MS_I_VERSION, MsFlags::empty()),
            "noiversion" => (MsFlags::empty(), MsFlags::MS_I_VERSION),
            "silent" => (MsFlags::MS_SILENT, MsFlags::empty()),
            "loud" => (MsFlags::empty(), MsFlags::MS_SILENT),
            "nosymfollow" => (MS_NOSYMFOLLOW, MsFlags::empty()),
            "symfollow" => (MsFlags::empty(), MS_NOSYMFOLLOW),
            "remount" | "defaults" | "tmpcopyup" => (MsFlags::empty(), MsFlags::empty()),
            "bind" => {
                o.bind = true;
                continue;
            }
            "rbind" => {
                o.bind = true;
                o.recursive = true;
                continue;
            }
            "private" => (push(&mut o, MsFlags::MS_PRIVATE), MsFlags::empty()),
            "rprivate" => (
                push(&mut o, MsFlags::MS_PRIVATE | MsFlags::MS_REC),
                MsFlags::empty(),
            ),
            "shared" => (push(&mut o, MsFlags::MS_SHARED), MsFlags::empty()),
            "rshared" => (
                push(&mut o, MsFlags::MS_SHARED | MsFlags::MS_REC),
                MsFlags::empty(),
            ),
            "slave" => (push(&mut o, MsFlags::MS_SLAVE), MsFlags::empty()),
            "rslave" => (
                push(&mut o, MsFlags::MS_SLAVE | MsFlags::MS_REC),
                MsFlags::empty(),
            ),
            "unbindable" => (push(&mut o, MsFlags::MS_UNBINDABLE), MsFlags::empty()),
            "runbindable" => (
                push(&mut o, MsFlags::MS_UNBINDABLE | MsFlags::MS_REC),
                MsFlags::empty(),
            ),
            "idmap" | "ridmap" => bail!("mount option {opt} is not supported"),
            other if other.starts_with("X-") || other.starts_with("x-") => continue,
            other => {
                o.data.push(other.to_string());
                continue;
            }
        };
        o.flags.insert(set);
        o.flags.remove(clear);
    }
    Ok(o)
}

fn push(o: &mut Options, f: MsFlags) -> MsFlags {
    o.propagation.push(f);
    MsFlags::empty()
}

/// A spec mount, parsed; a relative bind source is taken from `bundle`.
pub fn parse(m: &Mount, bundle: &Path) -> Result<MountSpec> {
    let dest = m.destination().clone();
    let fstype = m.typ().clone().unwrap_or_default();
    let o = parse_options(m.options().as_deref().unwrap_or(&[]))
        .map_err(|e| anyhow!("mount {}: {e}", dest.display()))?;
    let kind = if o.bind || fstype == "bind" {
        Kind::Bind {
            recursive: o.recursive,
        }
    } else if fstype == "cgroup" {
        Kind::Cgroup
    } else {
        Kind::Fs
    };
    let source = m.source().as_ref().map(|s| {
        if kind != Kind::Fs && s.is_relative() {
            bundle.join(s)
        } else {
            s.clone()
        }
    });
    let mut source_is_file = false;
    if let Kind::Bind { .. } = kind {
        let Some(src) = &source else {
            bail!("mount {}: a bind mount needs a source", dest.display());
        };
        let meta = std::fs::metadata(src).map_err(|e| {
            anyhow!(
                "bind mount {} on {}: {}",
                src.display(),
                dest.display(),
                super::io_text(&e)
            )
        })?;
        source_is_file = !meta.is_dir();
    }
    Ok(MountSpec {
        dest,
        kind,
        fstype,
        source,
        source_is_file,
        flags: o.flags,
        data: o.data.join(","),
        propagation: o.propagation,
    })
}

pub(crate) fn errno(e: nix::errno::Errno) -> String {
    super::errno_text(e as i32)
}

/// Perform one mount inside `root` (a descriptor of the container's root,
/// before `pivot_root`); a bind's source may come as a detached mount
/// skiff made before the fork (`premount`).
pub fn perform(root: BorrowedFd, m: &MountSpec, detached: Option<BorrowedFd>) -> Result<()> {
    let d = m.dest.display();
    match m.kind {
        Kind::Cgroup => return super::cgroupfs::mount_cgroups(root, m),
        Kind::Bind { .. } if detached.is_some() => {
            let target = ensure_target(root, &m.dest, m.source_is_file)
                .map_err(|e| anyhow!("mount target {d}: {}", super::io_text(&e)))?;
            let src = detached.expect("checked");
            super::premount::move_onto(src, target.as_fd(), &m.dest)?;
            if !m.flags.is_empty() {
                remount_bind(root, &m.dest, m.flags)?;
            }
        }
        Kind::Bind { recursive } => {
            let src = m.source.as_deref().unwrap_or(Path::new(""));
            let target = ensure_target(root, &m.dest, m.source_is_file)
                .map_err(|e| anyhow!("mount target {d}: {}", super::io_text(&e)))?;
            let mut f = MsFlags::MS_BIND;
            if recursive {
                f |= MsFlags::MS_REC;
            }
            mount(
                Some(src),
                fd_path(target.as_fd()).as_str(),
                None::<&str>,
                f,
                None::<&str>,
            )
            .map_err(|e| anyhow!("bind mount {} on {d}: {}", src.display(), errno(e)))?;
            if !m.flags.is_empty() {
                remount_bind(root, &m.dest, m.flags)?;
            }
        }
        Kind::Fs => {
            let target = ensure_target(root, &m.dest, false)
                .map_err(|e| anyhow!("mount target {d}: {}", super::io_text(&e)))?;
            let src = m
                .source
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|| m.fstype.clone());
            let data = (!m.data.is_empty()).then_some(m.data.as_str());
            let at = fd_path(target.as_fd());
            match mount(
                Some(src.as_str()),
                at.as_str(),
                Some(m.fstype.as_str()),
                m.flags,
                data,
            ) {
                // A sysfs shows the network namespace of its mounter, and
                // only a user namespace that owns that namespace may
                // mount one: a container with a user namespace of its own
                // in a network namespace made outside it (rootless
                // keep-id with networking) gets the host's /sys bound
                // instead, as crun and runc do.
                Err(nix::errno::Errno::EPERM) if m.fstype == "sysfs" => {
                    mount(
                        Some("/sys"),
                        at.as_str(),
                        None::<&str>,
                        MsFlags::MS_BIND | MsFlags::MS_REC,
                        None::<&str>,
                    )
                    .map_err(|e| anyhow!("bind mount /sys on {d}: {}", errno(e)))?;
                    remount_bind(root, &m.dest, m.flags)?;
                }
                r => r.map_err(|e| anyhow!("mount {} on {d}: {}", m.fstype, errno(e)))?,
            }
        }
    }
    for p in &m.propagation {
        set_propagation(root, &m.dest, *p)?;
    }
    Ok(())
}

/// Change the propagation of the mount at `dest`.
pub fn set_propagation(root: BorrowedFd, dest: &Path, p: MsFlags) -> Result<()> {
    let fd = path_in_root(root, dest)
        .map_err(|e| anyhow!("mount target {}: {}", dest.display(), super::io_text(&e)))?;
    mount(
        None::<&str>,
        fd_path(fd.as_fd()).as_str(),
        None::<&str>,
        p,
        None::<&str>,
    )
    .map_err(|e| anyhow!("set propagation of {}: {}", dest.display(), errno(e)))
}

/// The restrictive flags a mount already has, which a bind remount must
/// keep: in a user namespace the kernel locks them, and elsewhere dropping
/// them silently would loosen the mount.
pub fn kept_flags(fd: BorrowedFd, asked: MsFlags) -> MsFlags {
    let Ok(st) = rustix::fs::fstatvfs(fd) else {
        return MsFlags::empty();
    };
    let mut f = MsFlags::empty();
    for (vfs, ms) in [
        (Vfs::NOSUID, MsFlags::MS_NOSUID),
        (Vfs::NODEV, MsFlags::MS_NODEV),
        (Vfs::NOEXEC, MsFlags::MS_NOEXEC),
    ] {
        if st.f_flag.contains(vfs) {
            f |= ms;
        }
    }
    let atime = MsFlags::MS_NOATIME | MsFlags::MS_RELATIME | MsFlags::MS_STRICTATIME;
    if !asked.intersects(atime) {
        for (vfs, ms) in [
            (Vfs::NOATIME, MsFlags::MS_NOATIME),
            (Vfs::NODIRATIME, MsFlags::MS_NODIRATIME),
            (Vfs::RELATIME, MsFlags::MS_RELATIME),
        ] {
            if st.f_flag.contains(vfs) {
                f |= ms;
            }
        }
    }
    f
}

/// Remount the bind mount at `dest` with `flags` (read-only, nosuid, ...),
/// keeping the restrictive flags it has.
pub fn remount_bind(root: BorrowedFd, dest: &Path, flags: MsFlags) -> Result<()> {
    // Reopened: the descriptor used for the bind names the mount below.
    let fd = path_in_root(root, dest)
        .map_err(|e| anyhow!("mount target {}: {}", dest.display(), super::io_text(&e)))?;
    let f = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags | kept_flags(fd.as_fd(), flags);
    mount(
        None::<&str>,
        fd_path(fd.as_fd()).as_str(),
        None::<&str>,
        f,
        None::<&str>,
    )
    .map_err(|e| anyhow!("remount {}: {}", dest.display(), errno(e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::MountBuilder;

    fn opts(v: &[&str]) -> Options {
        parse_options(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn flags_data_and_propagation() {
        let o = opts(&[
            "nosuid",
            "noexec",
            "nodev",
            "mode=755",
            "size=65536k",
            "rslave",
        ]);
        assert_eq!(
            o.flags,
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV
        );
        assert_eq!(o.data, ["mode=755", "size=65536k"]);
        assert_eq!(o.propagation, [MsFlags::MS_SLAVE | MsFlags::MS_REC]);
        assert!(!o.bind);
    }

    #[test]
    fn later_options_win() {
        assert_eq!(opts(&["ro", "rw"]).flags, MsFlags::empty());
        assert_eq!(opts(&["rw", "ro"]).flags, MsFlags::MS_RDONLY);
        let o = opts(&["rbind", "ro", "X-skiff.note"]);
        assert!(o.bind && o.recursive);
        assert!(o.data.is_empty());
        assert!(parse_options(&["idmap".to_string()]).is_err());
    }

    #[test]
    fn kinds_and_sources() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("hosts"), "").unwrap();
        let m = MountBuilder::default()
            .destination("/etc/hosts")
            .typ("bind")
            .source("hosts")
            .options(vec!["rbind".to_string(), "ro".to_string()])
            .build()
            .unwrap();
        let s = parse(&m, d.path()).unwrap();
        assert_eq!(s.kind, Kind::Bind { recursive: true });
        assert_eq!(s.source.as_deref(), Some(d.path().join("hosts").as_path()));
        assert!(s.source_is_file);
        assert_eq!(s.flags, MsFlags::MS_RDONLY);

        let m = MountBuilder::default()
            .destination("/sys/fs/cgroup")
            .typ("cgroup")
            .source("cgroup")
            .build()
            .unwrap();
        assert_eq!(parse(&m, d.path()).unwrap().kind, Kind::Cgroup);

        let m = MountBuilder::default()
            .destination("/x")
            .typ("none")
            .source("/nonexistent/skiff")
            .options(vec!["bind".to_string()])
            .build()
            .unwrap();
        let e = parse(&m, d.path()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "bind mount /nonexistent/skiff on /x: no such file or directory"
        );
    }
}
