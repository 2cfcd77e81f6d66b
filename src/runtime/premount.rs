//! Mounts skiff makes for the container before the fork, as detached
//! mounts (`open_tree`, or a mount made in a mount namespace of a thread's
//! own and cloned out of it) that the container's init moves into place.
//!
//! Two cases need them:
//! - `fuse-overlayfs`: its daemon must be started by skiff. It is started
//!   in a private mount namespace whose mount is then detached, so the
//!   only reference left is the one handed to the container: when the
//!   container's mount namespace goes (its end, or a `kill -9` of its
//!   owner, whose death signal ends it), the mount goes and its daemon
//!   exits. Nothing stays mounted on the host to be cleaned up.
//! - A container with a user namespace of its own (`--userns`,
//!   `--uidmap`): from inside it, the store's directories (owned by ids it
//!   may not map) cannot be searched, and `trusted.overlay.*` xattrs of
//!   root's layers cannot be read. skiff mounts the overlay (its lower
//!   layers idmapped when asked) and clones every bind source while it
//!   still can. The root file system is moved into the container's mount
//!   namespace by skiff, on the init's word (`Msg::MountRootfs`), once
//!   that namespace's propagation is set; binds the init moves itself.
//!
//! Overlays of containers without either are mounted by the init, as
//! before: nothing to hand over.

use super::bundle::{Bundle, Overlay};
use super::mounts::Kind;
use super::plan::Plan;
use crate::store::driver::Driver;
use anyhow::{anyhow, Context, Result};
use nix::mount::{mount, MsFlags};
use rustix::fs::{Mode, OFlags};
use rustix::mount::{move_mount, open_tree, MoveMountFlags, OpenTreeFlags};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// What skiff mounted for the init.
#[derive(Debug, Default)]
pub struct Premounted {
    /// The root file system, detached.
    pub rootfs: Option<OwnedFd>,
    /// Clones of the bind mounts' sources, by the index of the plan's
    /// mount (`None`: the init mounts it itself).
    pub binds: Vec<Option<OwnedFd>>,
}

impl Premounted {
    pub fn bind(&self, i: usize) -> Option<BorrowedFd<'_>> {
        self.binds
            .get(i)
            .and_then(|b| b.as_ref())
            .map(|b| b.as_fd())
    }
}

fn err(what: String, e: impl Into<std::io::Error>) -> anyhow::Error {
    anyhow!("{what}: {}", super::io_text(&e.into()))
}

/// Make what the container of bundle `b` (planned as `plan`) needs made
/// before its fork.
pub fn prepare(b: &Bundle, plan: &Plan) -> Result<Premounted> {
    let mut out = Premounted::default();
    let driver = b.overlay.as_ref().map(|o| o.driver);
    // Only root (the host's, or skiff's rootless namespace's) can clone
    // mounts. An unprivileged caller of the OCI runtime with a user
    // namespace in its spec has its init mount everything, as before.
    let own_userns = plan.new_userns() && nix::unistd::geteuid().is_root();
    if driver == Some(Driver::FuseOverlayfs) {
        let o = b.overlay.as_ref().expect("a driver comes with its overlay");
        out.rootfs = Some(super::fuse::mount_detached(o, &b.rootfs, false)?);
    } else if own_userns {
        out.rootfs = Some(
            match b.overlay.as_ref().filter(|o| o.driver == Driver::Overlay) {
                Some(o) => overlay_detached(o, &b.rootfs, plan)?,
                None => clone_tree(&b.rootfs, true)?,
            },
        );
    }
    if own_userns {
        for m in &plan.mounts {
            out.binds.push(match (&m.kind, &m.source) {
                (Kind::Bind { recursive }, Some(src)) => Some(clone_tree(src, *recursive)?),
                _ => None,
            });
        }
    }
    Ok(out)
}

/// A detached copy of the mount tree at `src` (`--bind`; with `recursive`
/// its submounts too, `--rbind`).
fn clone_tree(src: &Path, recursive: bool) -> Result<OwnedFd> {
    let mut f = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    if recursive {
        f |= OpenTreeFlags::AT_RECURSIVE;
    }
    open_tree(rustix::fs::CWD, src, f)
        .map_err(|e| err(format!("clone the mount of {}", src.display()), e))
}

/// Run `f` on a thread of its own in a private mount namespace of its own
/// (`unshare(CLONE_NEWNS | CLONE_FS)` moves that thread alone): what it
/// mounts there never reaches the host, and goes with the namespace.
pub fn in_private_mount_ns<T: Send>(f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| -> Result<T> {
            nix::sched::unshare(
                nix::sched::CloneFlags::CLONE_FS | nix::sched::CloneFlags::CLONE_NEWNS,
            )
            .map_err(|e| anyhow!("unshare the mount namespace: {}", e.desc()))?;
            mount(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                None::<&str>,
            )
            .map_err(|e| anyhow!("make / private: {}", e.desc()))?;
            f()
        })
        .join()
        .map_err(|_| anyhow!("the mount thread panicked"))?
    })
}

/// The overlay `o`, detached; with `o.idmap`, its lower layers are
/// idmapped mounts of themselves (overlayfs takes idmapped lower layers
/// since Linux 5.19), with the container's maps.
fn overlay_detached(o: &Overlay, target: &Path, plan: &Plan) -> Result<OwnedFd> {
    let userns = if o.idmap {
        Some(crate::ns::idmap::userns_with(
            &plan.uid_maps,
            &plan.gid_maps,
        )?)
    } else {
        None
    };
    let o = Overlay {
        userxattr: crate::util::ids::in_userns(),
        ..o.clone()
    };
    match overlay_by_fds(&o, userns.as_ref().map(|u| u.as_fd())) {
        Ok(fd) => Ok(fd),
        // Layers given by descriptor need a recent kernel. Before, by
        // path, mounted in a namespace of a thread's own and cloned out
        // (that namespace's end then costs the kernel an RCU grace
        // period at the thread's exit, which the fork waits for).
        Err(e) if e.kind() == std::io::ErrorKind::Unsupported => in_private_mount_ns(|| {
            if let Some(ns) = &userns {
                for l in &o.lower {
                    idmap_over(l, ns.as_fd())?;
                }
            }
            super::rootfs::mount_overlay(&o, target, MsFlags::empty())?;
            clone_tree(target, false)
        }),
        Err(e) => Err(anyhow!(
            "mount overlay for {}: {}",
            target.display(),
            super::io_text(&e)
        )),
    }
}

/// Overlay `o` made with `fsopen` and its layers given as descriptors
/// (idmapped with `userns` when given), never attached anywhere; an
/// `Unsupported` error when the kernel takes no layer by descriptor.
pub fn overlay_by_fds(o: &Overlay, userns: Option<BorrowedFd>) -> std::io::Result<OwnedFd> {
    use rustix::mount::{
        fsconfig_create, fsconfig_set_fd, fsconfig_set_flag, fsmount, fsopen, FsMountFlags,
        FsOpenFlags, MountAttrFlags,
    };
    let dir = |p: &Path| {
        rustix::fs::open(
            p,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
    };
    let fs = fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
    // Kept open until the overlay is made: closing a detached mount's
    // last descriptor dissolves it, and overlayfs could no longer take it.
    let mut layers = Vec::new();
    for l in &o.lower {
        let fd = match userns {
            Some(ns) => {
                let m = open_tree(
                    rustix::fs::CWD,
                    l,
                    OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
                )?;
                crate::sys::mount::set_idmap(m.as_fd(), ns)?;
                m
            }
            None => dir(l)?,
        };
        fsconfig_set_fd(&fs, "lowerdir+", &fd).map_err(|e| {
            if e == rustix::io::Errno::INVAL {
                // Layers by descriptor: recent kernels only.
                std::io::Error::from(std::io::ErrorKind::Unsupported)
            } else {
                e.into()
            }
        })?;
        layers.push(fd);
    }
    if let (Some(u), Some(w)) = (&o.upper, &o.work) {
        fsconfig_set_fd(&fs, "upperdir", dir(u)?)?;
        fsconfig_set_fd(&fs, "workdir", dir(w)?)?;
        if o.volatile {
            // A kernel before 5.10 knows no `volatile`: without it then.
            let _ = fsconfig_set_flag(&fs, "volatile");
        }
    }
    if o.userxattr {
        fsconfig_set_flag(&fs, "userxattr")?;
    }
    fsconfig_create(&fs)?;
    let m = fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::empty())?;
    drop(layers);
    Ok(m)
}

/// Cover directory `dir` (in the caller's private mount namespace) with an
/// idmapped mount of itself.
pub fn idmap_over(dir: &Path, userns: BorrowedFd) -> Result<()> {
    let what = || format!("idmapped mount of {}", dir.display());
    let m = clone_tree(dir, false)?;
    crate::sys::mount::set_idmap(m.as_fd(), userns).map_err(|e| err(what(), e))?;
    move_mount(
        m.as_fd(),
        "",
        rustix::fs::CWD,
        dir,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(|e| err(what(), e))
}

/// On the init's word: move the detached root file system `rootfs` onto
/// `at` in the container's mount namespace `ns` (which the init sent),
/// from a thread that joins that namespace (skiff may search the store's
/// directories, the init may not), and open it there for the init.
pub fn attach(ns: OwnedFd, rootfs: BorrowedFd, at: &Path) -> Result<OwnedFd> {
    let rootfs = rootfs
        .try_clone_to_owned()
        .context("duplicate the root's descriptor")?;
    std::thread::scope(|s| {
        s.spawn(move || -> Result<OwnedFd> {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_FS)
                .map_err(|e| anyhow!("unshare the file system context: {}", e.desc()))?;
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNS)
                .map_err(|e| anyhow!("join the container's mount namespace: {}", e.desc()))?;
            move_mount(
                rootfs.as_fd(),
                "",
                rustix::fs::CWD,
                at,
                MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
            )
            .map_err(|e| {
                err(
                    format!("move the root file system onto {}", at.display()),
                    e,
                )
            })?;
            rustix::fs::open(
                at,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| err(format!("open {}", at.display()), e))
        })
        .join()
        .map_err(|_| anyhow!("the mount thread panicked"))?
    })
}

/// In the init: move the detached mount `src` onto `target` (a descriptor
/// of the mount point, inside the container's root).
pub fn move_onto(src: BorrowedFd, target: BorrowedFd, what: &Path) -> Result<()> {
    move_mount(
        src,
        "",
        target,
        "",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )
    .map_err(|e| err(format!("mount on {}", what.display()), e))
}
