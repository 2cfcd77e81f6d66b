//! The container's /dev: a fresh tmpfs with only the standard devices and
//! the ones the spec lists, made with mknod (or, where mknod is not
//! allowed, as in a user namespace, bind-mounted from the host's), and the
//! usual links (`fd`, `stdin`, `stdout`, `stderr`, `ptmx -> pts/ptmx`).

use super::mounts::{Kind, MountSpec};
use super::paths::{fd_path, mkdir_all_in_root, path_in_root};
use anyhow::{anyhow, bail, Result};
use nix::mount::{mount, MsFlags};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use rustix::fs::{FileType, Mode};
use rustix::io::Errno;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

/// A device node to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub path: PathBuf,
    pub kind: FileType,
    pub major: u32,
    pub minor: u32,
    /// Permission bits.
    pub mode: u32,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

fn chr(path: &str, major: u32, minor: u32) -> Device {
    Device {
        path: PathBuf::from(path),
        kind: FileType::CharacterDevice,
        major,
        minor,
        mode: 0o666,
        uid: None,
        gid: None,
    }
}

/// The devices every container gets, as runc and Docker give them.
pub fn defaults() -> Vec<Device> {
    vec![
        chr("/dev/null", 1, 3),
        chr("/dev/zero", 1, 5),
        chr("/dev/full", 1, 7),
        chr("/dev/random", 1, 8),
        chr("/dev/urandom", 1, 9),
        chr("/dev/tty", 5, 0),
    ]
}

/// The standard devices plus the spec's (which win on the same path).
pub fn from_spec(list: &[LinuxDevice]) -> Result<Vec<Device>> {
    let mut out = defaults();
    for d in list {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => FileType::CharacterDevice,
            LinuxDeviceType::B => FileType::BlockDevice,
            LinuxDeviceType::P => FileType::Fifo,
            LinuxDeviceType::A => bail!("device {}: type a is not a node", d.path().display()),
        };
        let (Ok(major), Ok(minor)) = (u32::try_from(d.major()), u32::try_from(d.minor())) else {
            bail!("device {}: bad major or minor number", d.path().display());
        };
        let dev = Device {
            path: d.path().clone(),
            kind,
            major,
            minor,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid(),
            gid: d.gid(),
        };
        out.retain(|o| o.path != dev.path);
        out.push(dev);
    }
    Ok(out)
}

/// The /dev mount to make when the spec has none: the container still gets
/// a fresh /dev, never the image's.
pub fn default_mount() -> MountSpec {
    MountSpec {
        dest: PathBuf::from("/dev"),
        kind: Kind::Fs,
        fstype: "tmpfs".into(),
        source: Some(PathBuf::from("tmpfs")),
        source_is_file: false,
        flags: MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        data: "mode=755,size=65536k".into(),
        propagation: Vec::new(),
    }
}

fn text(e: Errno) -> String {
    super::errno_text(e.raw_os_error())
}

/// Create `devs` inside `root`. With `bind` (a user namespace, where mknod
/// is refused) or once mknod fails with EPERM, each device is an empty
/// file with the host's node of the same path bound over it.
pub fn create_all(root: BorrowedFd, devs: &[Device], mut bind: bool) -> Result<()> {
    for d in devs {
        let p = d.path.display();
        let rel = super::paths::clean(&d.path);
        let name = rel
            .file_name()
            .ok_or_else(|| anyhow!("device {p}: not a file path"))?
            .to_owned();
        let parent = mkdir_all_in_root(root, rel.parent().unwrap_or(Path::new("")), 0o755)
            .map_err(|e| anyhow!("device {p}: {}", super::io_text(&e)))?;
        if !bind {
            let dev = rustix::fs::makedev(d.major, d.minor);
            let mode = Mode::from_raw_mode(d.mode);
            let mut r = rustix::fs::mknodat(&parent, &name, d.kind, mode, dev);
            if r == Err(Errno::EXIST) {
                let _ = rustix::fs::unlinkat(&parent, &name, rustix::fs::AtFlags::empty());
                r = rustix::fs::mknodat(&parent, &name, d.kind, mode, dev);
            }
            match r {
                Ok(()) => {}
                Err(Errno::PERM) => bind = true,
                Err(e) => bail!("mknod {p}: {}", text(e)),
            }
        }
        if bind {
            // Already bound by the spec's mounts (rootless specs bind the
            // standard devices themselves): opening it would open the
            // device (`/dev/tty` without a terminal: ENXIO).
            let there = rustix::fs::statat(&parent, &name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW);
            if there.is_ok_and(|st| {
                matches!(
                    FileType::from_raw_mode(st.st_mode),
                    FileType::CharacterDevice | FileType::BlockDevice
                )
            }) {
                continue;
            }
            match rustix::fs::openat(
                &parent,
                &name,
                rustix::fs::OFlags::CREATE
                    | rustix::fs::OFlags::WRONLY
                    | rustix::fs::OFlags::NOFOLLOW
                    | rustix::fs::OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                Ok(_) => {}
                Err(e) => bail!("create {p}: {}", text(e)),
            }
            let target = path_in_root(root, &d.path)
                .map_err(|e| anyhow!("device {p}: {}", super::io_text(&e)))?;
            mount(
                Some(&d.path),
                fd_path(target.as_fd()).as_str(),
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|e| anyhow!("bind mount {p}: {}", super::mounts::errno(e)))?;
            continue;
        }
        if d.uid.is_some() || d.gid.is_some() {
            rustix::fs::chownat(
                &parent,
                &name,
                d.uid.map(rustix::fs::Uid::from_raw),
                d.gid.map(rustix::fs::Gid::from_raw),
                rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(|e| anyhow!("chown {p}: {}", text(e)))?;
        }
    }
    Ok(())
}

/// The standard links in /dev, and /dev/shm when no mount made it.
pub fn links(root: BorrowedFd) -> Result<()> {
    let dev = path_in_root(root, Path::new("/dev"))
        .map_err(|e| anyhow!("open /dev: {}", super::io_text(&e)))?;
    let mut list = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if path_in_root(root, Path::new("/proc/kcore")).is_ok() {
        list.push(("/proc/kcore", "core"));
    }
    if path_in_root(root, Path::new("/dev/pts/ptmx")).is_ok() {
        // The pts instance's own ptmx, so a pty opened in the container
        // belongs to the container's devpts.
        let _ = rustix::fs::unlinkat(&dev, "ptmx", rustix::fs::AtFlags::empty());
        list.push(("pts/ptmx", "ptmx"));
    }
    for (target, name) in list {
        match rustix::fs::symlinkat(target, &dev, name) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => bail!("symlink /dev/{name}: {}", text(e)),
        }
    }
    match rustix::fs::mkdirat(&dev, "shm", Mode::from_raw_mode(0o1777)) {
        Ok(()) | Err(Errno::EXIST) => Ok(()),
        Err(e) => bail!("create /dev/shm: {}", text(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceBuilder;

    #[test]
    fn spec_devices_join_and_override_the_defaults() {
        let fuse = LinuxDeviceBuilder::default()
            .path("/dev/fuse")
            .typ(LinuxDeviceType::C)
            .major(10i64)
            .minor(229i64)
            .file_mode(0o600u32)
            .build()
            .unwrap();
        let null = LinuxDeviceBuilder::default()
            .path("/dev/null")
            .typ(LinuxDeviceType::C)
            .major(1i64)
            .minor(3i64)
            .uid(5u32)
            .build()
            .unwrap();
        let v = from_spec(&[fuse, null]).unwrap();
        assert_eq!(v.len(), 7);
        let f = v.iter().find(|d| d.path == Path::new("/dev/fuse")).unwrap();
        assert_eq!((f.major, f.minor, f.mode), (10, 229, 0o600));
        let n = v.iter().find(|d| d.path == Path::new("/dev/null")).unwrap();
        assert_eq!(n.uid, Some(5));
        assert_eq!(
            v.iter()
                .filter(|d| d.path == Path::new("/dev/null"))
                .count(),
            1
        );
    }
}
