//! A container's file system as a directory descriptor, for `cp` and
//! `export`. Every path the user gives is then resolved from it with
//! `RESOLVE_IN_ROOT` (runtime::paths), so the container's own symlinks
//! (`/leak -> /etc/shadow`, `/up -> ../../..`) stay inside it.
//!
//! - A running container: `/proc/<pid>/root`, checked against the pid's
//!   recorded start time after opening, so a reused pid is never entered.
//!   It shows what the container sees, volumes included (as Docker does).
//! - Otherwise, and for `export` always: the overlay mounted by a
//!   short-lived thread in a mount namespace of its own (`unshare` of
//!   `CLONE_NEWNS | CLONE_FS` affects that thread alone). The thread opens
//!   the mount and ends; its namespace dies with it, which detaches the
//!   mount, but the open descriptor keeps it usable until dropped. Nothing
//!   is ever mounted in the host's namespace, and nothing is left to clean
//!   up if skiff is killed. Reading mounts the upper directory as the top
//!   *lower* layer of a read-only overlay (no upper, no work dir), so it
//!   can be done while the container runs without sharing its upper dir
//!   with a second writable mount; writing into a stopped container mounts
//!   upper and work as the runtime would.

use crate::error::{kind_err, ErrorKind};
use crate::runtime::bundle::{overlay_options, parse_overlay, Overlay, OVERLAY_ANNOTATION};
use crate::store::{ContainerRecord, Store};
use crate::util::fs::process_is;
use anyhow::{anyhow, Context, Result};
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use rustix::fs::{Mode, OFlags};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// What the view is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    /// The container's own file system, never its mounts (export).
    Export,
}

/// A container's root, open.
pub struct RootView {
    fd: OwnedFd,
}

impl RootView {
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The overlay the container's runtime mounts (from its config.json), or
/// the one its record implies when that is missing.
pub fn overlay_of(store: &Store, rec: &ContainerRecord) -> Result<Overlay> {
    let dir = store.container_dir(&rec.id);
    let cfg = dir.join("config.json");
    if let Ok(bytes) = std::fs::read(&cfg) {
        let v: serde_json::Value =
            serde_json::from_slice(&bytes).with_context(|| format!("parse {}", cfg.display()))?;
        if let Some(a) = v["annotations"][OVERLAY_ANNOTATION].as_str() {
            // Volatile is for the container's own mount alone (see
            // `Overlay::volatile`).
            return parse_overlay(a).map(|o| Overlay {
                volatile: false,
                ..o
            });
        }
    }
    Ok(Overlay {
        lower: rec
            .layers
            .iter()
            .rev()
            .map(|c| store.layer_dir(c))
            .collect(),
        upper: Some(dir.join("upper")),
        work: Some(dir.join("work")),
        volatile: false,
        userxattr: crate::util::ids::in_userns(),
    })
}

/// The container's root file system for `access`.
pub fn open_root(store: &Store, rec: &ContainerRecord, access: Access) -> Result<RootView> {
    if access != Access::Export && crate::container::state::is_running(rec) {
        if let Some(fd) = proc_root(rec)? {
            return Ok(RootView { fd });
        }
    }
    let mut ov = overlay_of(store, rec)?;
    if access != Access::Write {
        // Read-only: the upper dir becomes the top lower layer.
        if let Some(u) = ov.upper.take() {
            ov.lower.insert(0, u);
        }
        ov.work = None;
        if ov.lower.len() < 2 {
            // The kernel wants two lowers without an upper; the empty
            // mount point serves as the second.
            ov.lower.push(store.container_dir(&rec.id).join("rootfs"));
        }
    }
    let target = store.container_dir(&rec.id).join("rootfs");
    let fd = mount_detached(ov, target, access != Access::Write)
        .with_context(|| format!("open the file system of container {}", rec.name))?;
    Ok(RootView { fd })
}

/// `/proc/<pid>/root` of a running container; None when it stopped.
fn proc_root(rec: &ContainerRecord) -> Result<Option<OwnedFd>> {
    let Some(pid) = rec.state.pid else {
        return Ok(None);
    };
    let p = format!("/proc/{pid}/root");
    let fd = match rustix::fs::open(
        &p,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(_) if !process_is(pid, rec.state.pid_start) => return Ok(None),
        Err(e) => return Err(anyhow!("open {p}: {e}")),
    };
    // Checked after the open: the descriptor is the container's only if
    // the pid still had the container's start time then.
    if !process_is(pid, rec.state.pid_start) {
        return Ok(None);
    }
    Ok(Some(fd))
}

fn mount_detached(ov: Overlay, target: PathBuf, read_only: bool) -> Result<OwnedFd> {
    if !nix::unistd::geteuid().is_root() {
        return Err(kind_err(
            ErrorKind::InvalidState,
            "the file system of a stopped container can only be opened as root",
        ));
    }
    std::thread::spawn(move || -> Result<OwnedFd> {
        unshare(CloneFlags::CLONE_FS | CloneFlags::CLONE_NEWNS)
            .map_err(|e| anyhow!("unshare the mount namespace: {e}"))?;
        // Private first, so the overlay never propagates to the host.
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .map_err(|e| anyhow!("make / private: {e}"))?;
        let (dir, opts) = overlay_options(&ov)?;
        if let Some(d) = &dir {
            nix::unistd::chdir(d).map_err(|e| anyhow!("enter {}: {e}", d.display()))?;
        }
        let flags = if read_only {
            MsFlags::MS_RDONLY
        } else {
            MsFlags::empty()
        };
        mount(
            Some("overlay"),
            &target,
            Some("overlay"),
            flags,
            Some(opts.as_str()),
        )
        .map_err(|e| anyhow!("mount overlay on {}: {e}", target.display()))?;
        rustix::fs::open(
            &target,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| anyhow!("open {}: {e}", target.display()))
    })
    .join()
    .map_err(|_| anyhow!("the mount thread panicked"))?
}

/// A path as the user gave it for a container: relative paths are
/// relative to its root, as Docker takes them.
pub fn container_path(p: &str) -> PathBuf {
    Path::new("/").join(p)
}
