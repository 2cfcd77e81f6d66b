//! Masked and read-only paths (`linux.maskedPaths`, `linux.readonlyPaths`),
//! Docker's shield over /proc and /sys.
//!
//! A masked file gets /dev/null bound over it, a masked directory an empty
//! read-only tmpfs. The /dev/null used is the host's, opened before
//! `pivot_root` and checked to be the null device itself (CVE-2025-31133:
//! a /dev/null swapped for a symlink would bind something else, writable,
//! over the very file meant to be hidden).

use super::mounts::{errno, kept_flags};
use super::paths::{fd_path, is_dir, path_in_root};
use anyhow::{anyhow, bail, Result};
use nix::mount::{mount, MsFlags};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// The host's /dev/null, checked to be character device 1:3.
pub fn open_null() -> Result<OwnedFd> {
    let fd: OwnedFd = rustix::fs::open(
        "/dev/null",
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::CLOEXEC | rustix::fs::OFlags::NOFOLLOW,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| anyhow!("open /dev/null: {}", super::io_text(&e.into())))?;
    let st = rustix::fs::fstat(&fd)
        .map_err(|e| anyhow!("stat /dev/null: {}", super::io_text(&e.into())))?;
    let major = rustix::fs::major(st.st_rdev);
    let minor = rustix::fs::minor(st.st_rdev);
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || (major, minor) != (1, 3) {
        bail!("/dev/null is not the null device (1:3); refusing to mask with it");
    }
    Ok(fd)
}

fn missing(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR))
}

/// Hide `path` (inside `root`); a path that does not exist needs no mask.
pub fn mask(root: BorrowedFd, path: &Path, null: BorrowedFd) -> Result<()> {
    let p = path.display();
    let fd = match path_in_root(root, path) {
        Ok(fd) => fd,
        Err(e) if missing(&e) => return Ok(()),
        Err(e) => return Err(anyhow!("mask {p}: {}", super::io_text(&e))),
    };
    let dir = is_dir(fd.as_fd()).map_err(|e| anyhow!("mask {p}: {}", super::io_text(&e)))?;
    let target = fd_path(fd.as_fd());
    let r = if dir {
        mount(
            Some("tmpfs"),
            target.as_str(),
            Some("tmpfs"),
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some("mode=755"),
        )
    } else {
        mount(
            Some(fd_path(null).as_str()),
            target.as_str(),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
    };
    r.map_err(|e| anyhow!("mask {p}: {}", errno(e)))
}

/// Make `path` (inside `root`) read-only: bind it onto itself, then
/// remount that bind read-only.
pub fn readonly(root: BorrowedFd, path: &Path) -> Result<()> {
    let p = path.display();
    let fd = match path_in_root(root, path) {
        Ok(fd) => fd,
        Err(e) if missing(&e) => return Ok(()),
        Err(e) => return Err(anyhow!("make {p} read-only: {}", super::io_text(&e))),
    };
    let target = fd_path(fd.as_fd());
    mount(
        Some(target.as_str()),
        target.as_str(),
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| anyhow!("make {p} read-only: {}", errno(e)))?;
    // The old descriptor names the mount below the new bind.
    let top = path_in_root(root, path)
        .map_err(|e| anyhow!("make {p} read-only: {}", super::io_text(&e)))?;
    let f = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | kept_flags(top.as_fd(), MsFlags::empty());
    mount(
        None::<&str>,
        fd_path(top.as_fd()).as_str(),
        None::<&str>,
        f,
        None::<&str>,
    )
    .map_err(|e| anyhow!("make {p} read-only: {}", errno(e)))
}
