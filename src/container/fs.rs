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
//!   upper and work as the runtime would. Each storage driver has its way:
//!   `fuse-overlayfs` mounts the same (with a scratch upper of its own for
//!   reading, as it always needs one), detached so that its daemon ends
//!   with the view; `vfs` has the files in `rootfs` itself, nothing to
//!   mount.

use crate::error::{kind_err, ErrorKind};
use crate::runtime::bundle::{parse_overlay, Overlay, OVERLAY_ANNOTATION};
use crate::store::driver::Driver;
use crate::store::{ContainerRecord, Store};
use crate::util::fs::process_is;
use anyhow::{anyhow, Context, Result};
use nix::mount::MsFlags;
use oci_spec::runtime::LinuxIdMapping;
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
    /// Always there until the view is dropped.
    fd: Option<OwnedFd>,
    /// A scratch directory the view needed (removed when it goes).
    scratch: Option<PathBuf>,
}

impl RootView {
    fn new(fd: OwnedFd, scratch: Option<PathBuf>) -> RootView {
        RootView {
            fd: Some(fd),
            scratch,
        }
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_ref().expect("held until dropped").as_fd()
    }
}

impl Drop for RootView {
    fn drop(&mut self) {
        // The mount's last reference first, then its scratch directory.
        drop(self.fd.take());
        if let Some(d) = self.scratch.take() {
            let _ = std::fs::remove_dir_all(d);
        }
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
    let layers: Vec<PathBuf> = rec.layers.iter().map(|c| store.layer_dir(c)).collect();
    Ok(Overlay {
        userxattr: crate::util::ids::in_userns(),
        ..crate::runtime::create::overlay_plan(&layers, &dir)
    })
}

/// The container's root file system for `access`.
pub fn open_root(store: &Store, rec: &ContainerRecord, access: Access) -> Result<RootView> {
    if access != Access::Export && crate::container::state::is_running(rec) {
        if let Some(fd) = proc_root(rec)? {
            return Ok(RootView::new(fd, None));
        }
    }
    if !nix::unistd::geteuid().is_root() {
        return Err(kind_err(
            ErrorKind::InvalidState,
            "the file system of a stopped container can only be opened as root",
        ));
    }
    let dir = store.container_dir(&rec.id);
    let target = dir.join("rootfs");
    let what = || format!("open the file system of container {}", rec.name);
    let mut ov = overlay_of(store, rec)?;
    if ov.driver == Driver::Vfs {
        // The files are there, in the directory itself.
        let fd = rustix::fs::open(
            &target,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| anyhow!("open {}: {e}", target.display()))
        .with_context(what)?;
        return Ok(RootView::new(fd, None));
    }
    let mut scratch = None;
    if access != Access::Write {
        // Read-only: the upper dir becomes the top lower layer.
        if let Some(u) = ov.upper.take() {
            ov.lower.insert(0, u);
        }
        ov.work = None;
        if ov.driver == Driver::FuseOverlayfs {
            // It wants an upper dir whatever it does: a scratch one.
            let d = dir.join(format!("view-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            for sub in ["upper", "work"] {
                crate::util::fs::mkdir_all(&d.join(sub), 0o700)?;
            }
            ov.upper = Some(d.join("upper"));
            ov.work = Some(d.join("work"));
            scratch = Some(d);
        } else if ov.lower.len() < 2 {
            // The kernel wants two lowers without an upper; the empty
            // mount point serves as the second.
            ov.lower.push(target.clone());
        }
    }
    let read_only = access != Access::Write;
    let maps = if ov.idmap { maps_of(&dir)? } else { None };
    let fd = if ov.driver == Driver::FuseOverlayfs {
        crate::runtime::fuse::mount_detached(&ov, &target, read_only)
    } else {
        mount_detached(ov, target, read_only, maps)
    };
    match fd {
        Ok(fd) => Ok(RootView::new(fd, scratch)),
        Err(e) => {
            if let Some(d) = scratch {
                let _ = std::fs::remove_dir_all(d);
            }
            Err(e).with_context(what)
        }
    }
}

/// The uid and gid maps of the container in `dir` (from its spec).
fn maps_of(dir: &Path) -> Result<Option<(Vec<LinuxIdMapping>, Vec<LinuxIdMapping>)>> {
    let p = dir.join("config.json");
    let spec: oci_spec::runtime::Spec = serde_json::from_slice(
        &std::fs::read(&p).with_context(|| format!("read {}", p.display()))?,
    )
    .with_context(|| format!("parse {}", p.display()))?;
    Ok(spec
        .linux()
        .as_ref()
        .and_then(|l| Some((l.uid_mappings().clone()?, l.gid_mappings().clone()?))))
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

/// The overlay `ov` mounted at `target` by a short-lived thread in a
/// mount namespace of its own, and opened; with `maps`, its lower layers
/// idmapped as the container's runtime sees them.
fn mount_detached(
    ov: Overlay,
    target: PathBuf,
    read_only: bool,
    maps: Option<(Vec<LinuxIdMapping>, Vec<LinuxIdMapping>)>,
) -> Result<OwnedFd> {
    let userns = maps
        .map(|(u, g)| crate::ns::idmap::userns_with(&u, &g))
        .transpose()?;
    let own = target.parent().map(Path::to_path_buf).unwrap_or_default();
    crate::runtime::premount::in_private_mount_ns(|| {
        if let Some(ns) = &userns {
            // The image's layers only: what is the container's own (its
            // upper dir, a top lower when reading) holds its ids already.
            for l in ov.lower.iter().filter(|l| !l.starts_with(&own)) {
                crate::runtime::premount::idmap_over(l, ns.as_fd())?;
            }
        }
        let flags = if read_only {
            MsFlags::MS_RDONLY
        } else {
            MsFlags::empty()
        };
        crate::runtime::rootfs::mount_overlay(&ov, &target, flags)?;
        rustix::fs::open(
            &target,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| anyhow!("open {}: {e}", target.display()))
    })
}

/// A path as the user gave it for a container: relative paths are
/// relative to its root, as Docker takes them.
pub fn container_path(p: &str) -> PathBuf {
    Path::new("/").join(p)
}
