//! A container's root file system as its store's storage driver makes
//! it, at the container's creation, and the bundle annotation that tells
//! the runtime what to mount (`runtime::bundle::Overlay`):
//! - `overlay`: the image's layers as overlayfs lower dirs, the
//!   container's `upper` and `work`;
//! - `fuse-overlayfs`: the same dirs, mounted by `fuse-overlayfs`;
//! - `vfs`: the layers copied into `rootfs` itself, whiteouts applied.
//!
//! A container whose user namespace maps the image's ids elsewhere
//! (`--uidmap`, `--userns=auto|nomap`) sees the layers through idmapped
//! mounts where the kernel makes them (root, overlay), and otherwise
//! through copies of them chowned to the ids its maps give (`lower/N` in
//! its directory), as Podman falls back to; its upper directory is its
//! root's.

use super::copy::{copy_layer, merge_layers};
use crate::config::Config;
use crate::runtime::bundle::Overlay;
use crate::runtime::create::overlay_plan;
use crate::store::driver::Driver;
use crate::store::Store;
use crate::util::idshift::IdShift;
use anyhow::{Context, Result};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// Make the root file system of the container in `dir` from `layers`
/// (bottom first); `shift` moves the image's ids to the container's
/// outside (identity: none); `rm`: its writes need not outlive it.
pub fn make(
    store: &Store,
    cfg: &Config,
    layers: &[PathBuf],
    dir: &Path,
    shift: &IdShift,
    maps: Option<&crate::runtime::spec::UserNs>,
    rm: bool,
) -> Result<Overlay> {
    let driver = crate::runtime::storage::driver_for(store, cfg.storage_driver)?;
    let mut o = overlay_plan(layers, dir);
    o.driver = driver;
    o.shifted = !shift.is_identity();
    match driver {
        Driver::Vfs => {
            let rootfs = dir.join("rootfs");
            merge_layers(layers, &rootfs, shift)
                .with_context(|| format!("copy the image into {}", rootfs.display()))?;
            o.upper = None;
            o.work = None;
            // Nothing is mounted over it: its upper and work dirs go.
            let _ = std::fs::remove_dir(dir.join("upper"));
            let _ = std::fs::remove_dir(dir.join("work"));
        }
        Driver::Overlay | Driver::FuseOverlayfs => {
            o.volatile = rm && driver == Driver::Overlay;
            if !shift.is_identity() {
                let idmapped = driver == Driver::Overlay
                    && maps.is_some_and(|m| idmap_works(layers.first(), m));
                if idmapped {
                    o.idmap = true;
                } else {
                    o.lower = shifted_copies(layers, dir, shift)?;
                }
                let upper = dir.join("upper");
                std::os::unix::fs::chown(&upper, Some(shift.uid(0)), Some(shift.gid(0)))
                    .with_context(|| format!("chown {}", upper.display()))?;
            }
        }
    }
    Ok(o)
}

/// Copies of `layers` (bottom first) in `dir/lower`, chowned by `shift`;
/// their paths top first.
fn shifted_copies(layers: &[PathBuf], dir: &Path, shift: &IdShift) -> Result<Vec<PathBuf>> {
    let base = dir.join("lower");
    crate::util::fs::mkdir_all(&base, 0o755)?;
    let mut out = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let d = base.join(i.to_string());
        copy_layer(l, &d, shift).with_context(|| {
            format!("copy layer {} of the image for the container's ids", i + 1)
        })?;
        out.push(d);
    }
    out.reverse();
    Ok(out)
}

/// Does the kernel make an idmapped mount of `layer` with `maps` here
/// (Linux 5.12 and a file system that allows them, mounted by this user
/// namespace's owner: never rootless on the host's disks)?
fn idmap_works(layer: Option<&PathBuf>, maps: &crate::runtime::spec::UserNs) -> bool {
    let Some(layer) = layer else {
        return false;
    };
    let Ok(ns) = crate::ns::idmap::userns_with(&maps.uids, &maps.gids) else {
        return false;
    };
    let Ok(m) = rustix::mount::open_tree(
        rustix::fs::CWD,
        layer,
        rustix::mount::OpenTreeFlags::OPEN_TREE_CLONE
            | rustix::mount::OpenTreeFlags::OPEN_TREE_CLOEXEC,
    ) else {
        return false;
    };
    crate::sys::mount::set_idmap(m.as_fd(), ns.as_fd()).is_ok()
}
