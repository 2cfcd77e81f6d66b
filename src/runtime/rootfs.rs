//! The root file system: its propagation, the overlay (when the bundle
//! asks the runtime to mount it), `pivot_root` and the read-only remount.

use super::bundle::{overlay_options, Overlay};
use super::mounts::{errno, kept_flags};
use anyhow::{anyhow, bail, Result};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// The flags for `linux.rootfsPropagation`; runc's default is rslave, so
/// nothing the container mounts reaches the host while host mounts still
/// reach the container.
pub fn propagation(spec: Option<&str>) -> Result<MsFlags> {
    Ok(match spec.unwrap_or("rslave") {
        "slave" | "rslave" | "" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "private" | "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" | "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "unbindable" | "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        other => {
            bail!("rootfsPropagation {other:?} is not one of shared, slave, private, unbindable")
        }
    })
}

/// Mount overlay `o` at `target`, in the caller's mount namespace (the
/// container's, or a thread's own for a mount made before the fork or
/// for `cp`), with `flags` (`MS_RDONLY` for a read-only view).
pub fn mount_overlay(o: &Overlay, target: &Path, flags: MsFlags) -> Result<()> {
    let (dir, opts) = overlay_options(o)?;
    if let Some(d) = &dir {
        nix::unistd::chdir(d).map_err(|e| anyhow!("enter {}: {}", d.display(), errno(e)))?;
    }
    let overlay = |opts: &str| mount(Some("overlay"), target, Some("overlay"), flags, Some(opts));
    match overlay(&opts) {
        // A kernel before 5.10 knows no `volatile`.
        Err(nix::errno::Errno::EINVAL) if o.volatile => {
            let plain = Overlay {
                volatile: false,
                ..o.clone()
            };
            overlay(&overlay_options(&plain)?.1)
        }
        r => r,
    }
    .map_err(|e| {
        // Rootless overlays need the kernel's support for them in a user
        // namespace (5.11).
        let hint =
            if o.userxattr && matches!(e, nix::errno::Errno::EPERM | nix::errno::Errno::EINVAL) {
                " (rootless overlay mounts need Linux 5.11 or later; --storage-driver fuse-overlayfs or vfs work without)"
            } else {
                ""
            };
        anyhow!("mount overlay on {}: {}{hint}", target.display(), errno(e))
    })
}

/// Set the propagation of `/` in the new mount namespace: first, so that
/// no mount below propagates back to the host (a crash then leaves
/// nothing behind).
pub fn set_root_propagation(prop: MsFlags) -> Result<()> {
    mount(None::<&str>, "/", None::<&str>, prop, None::<&str>)
        .map_err(|e| anyhow!("set the propagation of /: {}", errno(e)))
}

/// In the new mount namespace (its propagation set): mount the overlay
/// at `rootfs` (or bind `rootfs` onto itself, as `pivot_root` needs a
/// mount point), and open the result.
pub fn prepare(rootfs: &Path, overlay: Option<&Overlay>) -> Result<OwnedFd> {
    let r = rootfs.display();
    match overlay {
        Some(o) => mount_overlay(o, rootfs, MsFlags::empty())?,
        None => mount(
            Some(rootfs),
            rootfs,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| anyhow!("bind mount {r} on itself: {}", errno(e)))?,
    }
    let fd = rustix::fs::open(
        rootfs,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| anyhow!("open {r}: {}", super::io_text(&e.into())))?;
    Ok(fd)
}

/// Make `rootfs` the root with `pivot_root` (never `chroot`, which leaves
/// the host's tree reachable) and detach the old root.
pub fn pivot(root: BorrowedFd, rootfs: &Path) -> Result<()> {
    let r = rootfs.display();
    // By descriptor: the path may not be searchable from the container's
    // user namespace (see `premount`).
    nix::unistd::fchdir(root).map_err(|e| anyhow!("enter {r}: {}", errno(e)))?;
    // pivot_root(".", ".") stacks the old root on top of the new one, with
    // no directory to create inside the image; it is then detached.
    nix::unistd::pivot_root(".", ".").map_err(|e| anyhow!("pivot_root to {r}: {}", errno(e)))?;
    // Slave first, so the detach cannot propagate to a shared host mount.
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| anyhow!("make the old root a slave: {}", errno(e)))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| anyhow!("detach the old root: {}", errno(e)))?;
    nix::unistd::chdir("/").map_err(|e| anyhow!("enter /: {}", errno(e)))
}

/// `root.readonly`: remount the new root read-only (after `pivot_root`).
pub fn remount_root_readonly() -> Result<()> {
    let fd = rustix::fs::open(
        "/",
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| anyhow!("open /: {}", super::io_text(&e.into())))?;
    let f = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | kept_flags(fd.as_fd(), MsFlags::empty());
    mount(None::<&str>, "/", None::<&str>, f, None::<&str>)
        .map_err(|e| anyhow!("remount / read-only: {}", errno(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propagation_names() {
        assert_eq!(
            propagation(None).unwrap(),
            MsFlags::MS_SLAVE | MsFlags::MS_REC
        );
        assert_eq!(
            propagation(Some("rprivate")).unwrap(),
            MsFlags::MS_PRIVATE | MsFlags::MS_REC
        );
        assert!(propagation(Some("sideways")).is_err());
    }
}
