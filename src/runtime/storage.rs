//! Choosing a store's storage driver: the kernel's overlayfs when a test
//! mount of one works where skiff runs (always as root; in a user
//! namespace from Linux 5.11), else `fuse-overlayfs` when it is installed
//! and `/dev/fuse` may be opened, else `vfs` (copies), with a warning.
//! The probe runs once per store; its answer is remembered
//! (`store::driver`).

use super::bundle::Overlay;
use crate::store::driver::Driver;
use crate::store::Store;
use anyhow::Result;
use nix::mount::MsFlags;

/// The driver for a new container of `store`, and whether it was forced
/// (`--storage-driver` and its kin) rather than probed.
pub fn driver_for(store: &Store, forced: Option<Driver>) -> Result<(Driver, bool)> {
    if let Some(d) = forced {
        return Ok((d, true));
    }
    Ok((store.driver_or_probe(|| Ok(probe(store)))?, false))
}

/// The one-line warning of a `vfs` store.
pub fn warn_vfs(why: &str) {
    eprintln!(
        "skiff: warning: storage driver vfs ({why}): each container's root file system is a whole copy of its image, which is slow to make and takes space"
    );
}

/// The best driver that works here.
pub fn probe(store: &Store) -> Driver {
    let overlay = overlay_works(store);
    if overlay.is_ok() {
        return Driver::Overlay;
    }
    let fuse = super::fuse::usable();
    if fuse.is_ok() {
        return Driver::FuseOverlayfs;
    }
    let why = format!(
        "{}; and {}",
        overlay.err().unwrap_or_default(),
        fuse.err().unwrap_or_default()
    );
    warn_vfs(&why);
    Driver::Vfs
}

/// Mount a small overlay (upper and work included, as containers get)
/// in a private mount namespace, as skiff would here.
fn overlay_works(store: &Store) -> std::result::Result<(), String> {
    let dir = store
        .root()
        .join("tmp")
        .join(format!("probe-overlay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let made = ["lower", "upper", "work", "merged"]
        .iter()
        .try_for_each(|d| std::fs::create_dir_all(dir.join(d)));
    let res = match made {
        Err(e) => Err(format!("probe overlayfs in {}: {e}", dir.display())),
        Ok(()) => {
            let o = Overlay {
                lower: vec![dir.join("lower")],
                upper: Some(dir.join("upper")),
                work: Some(dir.join("work")),
                volatile: false,
                driver: Driver::Overlay,
                idmap: false,
                userxattr: crate::util::ids::in_userns(),
            };
            let target = dir.join("merged");
            match super::premount::overlay_by_fds(&o, None) {
                Ok(_) => Ok(()),
                // Layers by descriptor need Linux 6.13: by path, then.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    super::premount::in_private_mount_ns(|| {
                        super::rootfs::mount_overlay(&o, &target, MsFlags::empty())
                    })
                    .map_err(|e| format!("{e:#}"))
                }
                Err(e) => Err(format!("mount overlayfs: {}", super::io_text(&e))),
            }
        }
    };
    let _ = std::fs::remove_dir_all(&dir);
    res
}
