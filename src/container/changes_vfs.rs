//! `diff` and `commit` of a `vfs` container, whose root is a whole copy
//! of its image's layers with no upper dir to read: its files are
//! compared with the layers they were copied from, the way Docker's own
//! vfs driver finds changes (kind, mode, owner, size, modification time,
//! device and link target; a directory counts as changed when it is, or
//! when something below it is). The copy kept every time and owner (see
//! `copy`), so what the container did not touch compares equal.

use super::changes::{
    is_opaque, is_whiteout, marker, mount_targets, plumbing, shift_of, unshifted, Change, Kind,
    Lowers,
};
use super::fs::overlay_of;
use super::tarfs::{append_node, dir_names, file_type, open_node, stat_node, Links};
use crate::image::whiteout::WHITEOUT_PREFIX;
use crate::store::{ContainerRecord, Store};
use crate::util::idshift::IdShift;
use anyhow::{Context, Result};
use rustix::fs::{FileType, Mode, OFlags, ResolveFlags, Stat};
use std::collections::{BTreeSet, HashSet};
use std::ffi::OsStr;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The copy and what it was copied from.
struct Tree {
    root: OwnedFd,
    layers: Vec<OwnedFd>,
    lowers: Lowers,
    skip: HashSet<PathBuf>,
    shift: IdShift,
}

impl Tree {
    fn open(store: &Store, rec: &ContainerRecord) -> Result<Tree> {
        let ov = overlay_of(store, rec)?;
        let rootfs = store.container_dir(&rec.id).join("rootfs");
        let root = rustix::fs::open(
            &rootfs,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .with_context(|| format!("open {}", rootfs.display()))?;
        let mut layers = Vec::new();
        for d in &ov.lower {
            layers.push(
                rustix::fs::open(
                    d,
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .with_context(|| format!("open layer {}", d.display()))?,
            );
        }
        Ok(Tree {
            root,
            layers,
            lowers: Lowers::open(&ov.lower)?,
            skip: mount_targets(store, rec),
            shift: shift_of(store, rec),
        })
    }

    fn lookup(layer: BorrowedFd, rel: &Path, flags: OFlags) -> Option<OwnedFd> {
        rustix::fs::openat2(
            layer,
            rel,
            flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        )
        .ok()
    }

    /// What the image had at `rel`: the stat of the top layer's entry
    /// (the ids shifted as the copy's are), and its symlink target; `None`
    /// when no layer has it, a whiteout hides it, or an opaque directory
    /// above it hides the layers below.
    fn image_entry(&self, rel: &Path) -> Option<(Stat, Option<std::ffi::OsString>)> {
        for l in &self.layers {
            if let Some(fd) = Self::lookup(l.as_fd(), rel, OFlags::PATH) {
                let mut st = rustix::fs::fstat(&fd).ok()?;
                if is_whiteout(&st) {
                    return None;
                }
                st.st_uid = self.shift.uid(st.st_uid);
                st.st_gid = self.shift.gid(st.st_gid);
                let target = (file_type(&st) == FileType::Symlink)
                    .then(|| rustix::fs::readlinkat(&fd, "", Vec::new()).ok())
                    .flatten()
                    .map(|t| os_string(t.into_bytes()));
                return Some((st, target));
            }
            // An opaque directory on the way hides the layers below.
            let mut up = rel.parent();
            while let Some(p) = up.filter(|p| !p.as_os_str().is_empty()) {
                let opaque = Self::lookup(l.as_fd(), p, OFlags::RDONLY | OFlags::DIRECTORY)
                    .is_some_and(|d| is_opaque(d.as_fd()));
                if opaque {
                    return None;
                }
                up = p.parent();
            }
        }
        None
    }
}

/// Do the copy's `now` and the image's `was` differ, as Docker's vfs
/// driver tells (a directory's times and size change with its entries,
/// and are not compared)?
fn differs(now: &Stat, now_link: Option<&OsStr>, was: &Stat, was_link: Option<&OsStr>) -> bool {
    let ft = file_type(now);
    if ft != file_type(was)
        || now.st_mode != was.st_mode
        || now.st_uid != was.st_uid
        || now.st_gid != was.st_gid
        || now.st_rdev != was.st_rdev
    {
        return true;
    }
    if ft == FileType::Directory {
        return false;
    }
    now.st_size != was.st_size
        || now.st_mtime != was.st_mtime
        || now.st_mtime_nsec != was.st_mtime_nsec
        || now_link != was_link
}

fn os_string(b: Vec<u8>) -> std::ffi::OsString {
    std::os::unix::ffi::OsStringExt::from_vec(b)
}

fn link_of(dir: BorrowedFd, name: &OsStr, st: &Stat) -> Option<std::ffi::OsString> {
    (file_type(st) == FileType::Symlink)
        .then(|| rustix::fs::readlinkat(dir, name, Vec::new()).ok())
        .flatten()
        .map(|t| os_string(t.into_bytes()))
}

/// Changes in directory `dir` (`rel`, which the image has as a directory
/// when `in_image`); whether there were any.
fn walk(
    t: &Tree,
    dir: BorrowedFd,
    rel: &Path,
    in_image: bool,
    out: &mut Vec<Change>,
) -> Result<bool> {
    let names = dir_names(dir).with_context(|| format!("list /{}", rel.display()))?;
    let mut any = false;
    if in_image {
        let mine: BTreeSet<_> = names.iter().cloned().collect();
        for gone in t.lowers.names(rel) {
            if !mine.contains(&gone) {
                out.push(Change {
                    path: Path::new("/").join(rel).join(&gone),
                    kind: Kind::Deleted,
                });
                any = true;
            }
        }
    }
    for n in &names {
        let child = rel.join(n);
        let Ok(st) = stat_node(dir, n) else { continue };
        let path = Path::new("/").join(&child);
        let was = if in_image {
            t.image_entry(&child)
        } else {
            None
        };
        if was.is_none() && plumbing(&t.skip, &t.lowers, &child, dir, n, &st) {
            continue;
        }
        let is_dir = file_type(&st) == FileType::Directory;
        let changed = match &was {
            None => Some(Kind::Added),
            Some((w, wl)) => differs(&st, link_of(dir, n, &st).as_deref(), w, wl.as_deref())
                .then_some(Kind::Changed),
        };
        let at = out.len();
        let mut below = false;
        if is_dir {
            let d = open_node(dir, n, OFlags::RDONLY | OFlags::DIRECTORY)
                .with_context(|| format!("open {}", path.display()))?;
            let dir_in_image = was
                .as_ref()
                .is_some_and(|(w, _)| file_type(w) == FileType::Directory);
            below = walk(t, d.as_fd(), &child, dir_in_image, out)?;
        }
        // Docker lists a directory whose content changed as changed.
        let kind = changed.or((is_dir && below).then_some(Kind::Changed));
        if let Some(kind) = kind {
            out.insert(at, Change { path, kind });
            any = true;
        }
        any |= below;
    }
    Ok(any)
}

/// The container's changes, sorted by path.
pub fn changes(store: &Store, rec: &ContainerRecord) -> Result<Vec<Change>> {
    let t = Tree::open(store, rec)?;
    let mut out = Vec::new();
    walk(&t, t.root.as_fd(), Path::new(""), true, &mut out)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// The container's changes as an OCI layer tar, with its own ids: what
/// was added or changed as it is now (a directory as its entry alone),
/// what was deleted as a whiteout.
pub fn write_layer<W: Write>(store: &Store, rec: &ContainerRecord, w: W) -> Result<W> {
    let list = changes(store, rec)?;
    let t = Tree::open(store, rec)?;
    let mut b = tar::Builder::new(w);
    b.follow_symlinks(false);
    let mut links = Links::new();
    for c in &list {
        let rel = c.path.strip_prefix("/").unwrap_or(&c.path);
        let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
            continue;
        };
        if c.kind == Kind::Deleted {
            let mut wh = std::ffi::OsString::from(WHITEOUT_PREFIX);
            wh.push(name);
            marker(&mut b, &parent.join(wh))?;
            continue;
        }
        let dir = if parent.as_os_str().is_empty() {
            t.root.try_clone().context("duplicate a descriptor")?
        } else {
            Tree::lookup(t.root.as_fd(), parent, OFlags::RDONLY | OFlags::DIRECTORY)
                .with_context(|| format!("open /{}", parent.display()))?
        };
        let Ok(st) = stat_node(dir.as_fd(), name) else {
            continue;
        };
        append_node(
            &mut b,
            dir.as_fd(),
            name,
            &unshifted(&st, &t.shift),
            rel,
            &mut links,
        )?;
    }
    Ok(b.into_inner()?)
}
