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

/// The driver for a new container of `store`: `forced` (by
/// `--storage-driver` and its kin), else the store's. A `vfs` store's
/// containers are made with its warning (the probe that chose it said
/// why).
pub fn driver_for(store: &Store, forced: Option<Driver>) -> Result<Driver> {
    if let Some(d) = forced {
        return Ok(d);
    }
    let mut probed = false;
    let d = store.driver_or_probe(|| {
        probed = true;
        Ok(probe(store))
    })?;
    if d == Driver::Vfs && !probed {
        warn_vfs("the store's storage driver");
    }
    Ok(d)
}

/// The one-line warning of a `vfs` store.
pub fn warn_vfs(why: &str) {
    eprintln!(
        "skiff: warning: storage driver vfs ({why}): each container's root file system is a whole copy of its image, which is slow to make and takes space"
    );
}

/// The best driver that works here (saying why when it is `vfs`).
pub fn probe(store: &Store) -> Driver {
    let (d, why) = probe_quietly(store.root());
    if let Some(why) = why {
        warn_vfs(&why);
    }
    d
}

/// [`probe`] for the store at `root`, the reasons for `vfs` returned
/// rather than said.
pub fn probe_quietly(root: &std::path::Path) -> (Driver, Option<String>) {
    let overlay = overlay_works(root);
    if overlay.is_ok() {
        return (Driver::Overlay, None);
    }
    let fuse = super::fuse::usable();
    if fuse.is_ok() {
        return (Driver::FuseOverlayfs, None);
    }
    let why = format!(
        "{}; and {}",
        overlay.err().unwrap_or_default(),
        fuse.err().unwrap_or_default()
    );
    (Driver::Vfs, Some(why))
}

/// Mount a small overlay (upper and work included, as containers get),
/// detached, as skiff would here.
fn overlay_works(root: &std::path::Path) -> std::result::Result<(), String> {
    let dir = std::env::temp_dir().join(format!("skiff-probe-overlay-{}", std::process::id()));
    let dir = if root.is_dir() {
        root.join("tmp")
            .join(format!("probe-overlay-{}", std::process::id()))
    } else {
        dir
    };
    let _ = std::fs::remove_dir_all(&dir);
    let made = ["lower", "upper", "work", "merged"]
        .iter()
        .try_for_each(|d| std::fs::create_dir_all(dir.join(d)));
    let res = match made {
        Err(e) => Err(format!("probe overlayfs in {}: {e}", dir.display())),
        Ok(()) => {
            let o = Overlay {
                userxattr: crate::util::ids::in_userns(),
                ..super::create::overlay_plan(&[dir.join("lower")], &dir)
            };
            let target = dir.join("merged");
            match super::premount::overlay_by_fds(&o, None) {
                Ok(_) => Ok(()),
                // A kernel that takes no layer by descriptor: by path, then.
                Err(e) if e.kind() == std::io::ErrorKind::Unsupported => {
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
