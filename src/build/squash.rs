//! `--squash`: the layers a build made above its base image, as one.
//! Every path any of those layers touched is written from the final
//! file system as it is (or as a whiteout when it is gone there), with
//! an opaque marker for a directory one of them made opaque; the base
//! image's layers stay as they were.

use super::builder::BuildOptions;
use super::state::State;
use super::step::StepContainer;
use crate::config::Config;
use crate::container::changes::{is_opaque, is_whiteout, marker};
use crate::container::tarfs::{append_node, dir_names, file_type, open_node, stat_node, Links};
use crate::image::whiteout::{OPAQUE_MARKER, WHITEOUT_PREFIX};
use crate::store::Store;
use anyhow::{Context, Result};
use rustix::fs::{FileType, OFlags};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// What the layers above the base did to one path.
#[derive(Debug, Default, Clone, Copy)]
struct Touch {
    /// Some layer made the directory opaque.
    opaque: bool,
}

/// `state` with the layers above its base image's made one.
pub fn squash(store: &Store, cfg: &Config, state: &State, opts: &BuildOptions) -> Result<State> {
    let base = state.base_layers.min(state.layers.len());
    if state.layers.len() - base <= 1 {
        return Ok(state.clone());
    }
    let mut touched: BTreeMap<PathBuf, Touch> = BTreeMap::new();
    for l in &state.layers[base..] {
        let dir = rustix::fs::open(
            store.layer_dir(&l.chain_id),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .with_context(|| format!("open layer {}", l.chain_id))?;
        collect(dir.as_fd(), Path::new(""), &mut touched)?;
    }
    let sc = StepContainer::files_only(store, cfg, state, "build squash")?;
    let view = sc.view_root()?;
    let parent = base
        .checked_sub(1)
        .map(|i| state.layers[i].chain_id.clone());
    let compression = opts
        .compression
        .unwrap_or(crate::registry::manifest::Compression::Gzip);
    let layer = super::layer::store_layer(store, parent.as_ref(), compression, |w| {
        let mut b = tar::Builder::new(w);
        b.follow_symlinks(false);
        let mut links = Links::new();
        for (rel, t) in &touched {
            write_path(&mut b, view.fd(), rel, *t, &mut links)?;
        }
        Ok(b.into_inner()?)
    })?;
    let mut out = state.clone();
    out.layers.truncate(base);
    out.config.rootfs.diff_ids.truncate(base);
    if let Some(l) = layer {
        out.config.rootfs.diff_ids.push(l.diff_id.clone());
        out.layers.push(l);
    }
    // The history keeps every step; the last of those that made a layer
    // now stands for the squashed one.
    let mut seen = 0;
    let mut last = None;
    for (i, h) in out.config.history.iter_mut().enumerate() {
        if h.empty_layer {
            continue;
        }
        seen += 1;
        if seen > base {
            h.empty_layer = true;
            last = Some(i);
        }
    }
    if let (Some(i), true) = (last, out.layers.len() > base) {
        out.config.history[i].empty_layer = false;
    }
    Ok(out)
}

/// Every path below `dir` (a layer's directory), at `rel`.
fn collect(dir: BorrowedFd, rel: &Path, out: &mut BTreeMap<PathBuf, Touch>) -> Result<()> {
    for name in dir_names(dir).with_context(|| format!("list /{}", rel.display()))? {
        let child = rel.join(&name);
        let st = stat_node(dir, &name)?;
        let t = out.entry(child.clone()).or_default();
        if is_whiteout(&st) || file_type(&st) != FileType::Directory {
            continue;
        }
        let d = open_node(dir, &name, OFlags::RDONLY | OFlags::DIRECTORY)?;
        if is_opaque(d.as_fd()) {
            t.opaque = true;
        }
        collect(d.as_fd(), &child, out)?;
    }
    Ok(())
}

/// The directory holding `rel` in the final file system, open (no
/// symlink followed); `None` when it is not there.
fn parent_of(root: BorrowedFd, rel: &Path) -> Option<OwnedFd> {
    let mut cur = rustix::fs::openat(
        root,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .ok()?;
    if let Some(p) = rel.parent() {
        for c in p.components() {
            cur = open_node(
                cur.as_fd(),
                c.as_os_str(),
                OFlags::RDONLY | OFlags::DIRECTORY,
            )
            .ok()?;
        }
    }
    Some(cur)
}

fn write_path<W: std::io::Write>(
    b: &mut tar::Builder<W>,
    root: BorrowedFd,
    rel: &Path,
    t: Touch,
    links: &mut Links,
) -> Result<()> {
    let Some(name) = rel.file_name() else {
        return Ok(());
    };
    let parent = parent_of(root, rel);
    let st = parent
        .as_ref()
        .and_then(|p| stat_node(p.as_fd(), name).ok());
    let Some(st) = st else {
        // Gone in the end: a whiteout, for the base may have it.
        let mut wh = OsString::from(WHITEOUT_PREFIX);
        wh.push(name);
        return marker(b, &rel.with_file_name(wh));
    };
    let p = parent.expect("stat came from the parent");
    append_node(b, p.as_fd(), name, &st, rel, links)?;
    if t.opaque && file_type(&st) == FileType::Directory {
        marker(b, &rel.join(OPAQUE_MARKER))?;
    }
    Ok(())
}
