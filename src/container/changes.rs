//! What a container changed against its image, read from the overlay's
//! upper directory: `diff` lists it, `commit` turns it into a layer.
//!
//! In the upper dir, a 0:0 character device is a deletion (overlayfs's
//! whiteout) and a directory with the `opaque` xattr hides everything of
//! the same path below it. A layer tar says the same with `.wh.NAME` and
//! `.wh..wh..opq` files (OCI image spec). The upper dir is walked by
//! descriptor, one name at a time, never through a symlink: a running
//! container may change it under us.

use super::fs::overlay_of;
use super::tarfs::{append_node, dir_names, file_type, open_node, stat_node, Links};
use crate::image::whiteout::{classify, opaque_xattr, Whiteout, OPAQUE_MARKER, WHITEOUT_PREFIX};
use crate::store::driver::Driver;
use crate::store::{ContainerRecord, Store};
use crate::util::idshift::IdShift;
use anyhow::{Context, Result};
use rustix::fs::{FileType, Mode, OFlags, ResolveFlags, Stat};
use std::collections::{BTreeSet, HashSet};
use std::ffi::OsStr;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Changed,
    Added,
    Deleted,
}

impl Kind {
    /// Docker's letter (and its numeric Kind in the API: C 0, A 1, D 2).
    pub fn letter(self) -> char {
        match self {
            Kind::Changed => 'C',
            Kind::Added => 'A',
            Kind::Deleted => 'D',
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Absolute, as seen in the container.
    pub path: PathBuf,
    pub kind: Kind,
}

pub(crate) fn is_whiteout(st: &Stat) -> bool {
    file_type(st) == FileType::CharacterDevice && st.st_rdev == 0
}

/// What `fuse-overlayfs` leaves where it cannot make a 0:0 device (a
/// user namespace before Linux 5.8): `.wh.NAME`, an empty file, deletes
/// NAME; `.wh..wh..opq` makes its directory opaque.
fn fuse_whiteout(name: &OsStr) -> Whiteout<'_> {
    classify(name)
}

/// Is the directory opaque, in any of the forms an upper dir or a layer
/// may say it: overlayfs's xattr (`trusted.` as root, `user.` in a user
/// namespace), fuse-overlayfs's own, or its `.wh..wh..opq` file?
pub(crate) fn is_opaque(dir: BorrowedFd) -> bool {
    let mut buf = [0u8; 8];
    let by_xattr = [
        opaque_xattr(false).as_str(),
        opaque_xattr(true).as_str(),
        "user.fuseoverlayfs.opaque",
    ]
    .into_iter()
    .any(|x| matches!(rustix::fs::fgetxattr(dir, x, &mut buf), Ok(1) if buf[0] == b'y'));
    by_xattr
        || rustix::fs::statat(dir, OPAQUE_MARKER, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).is_ok()
}

/// The image's layers, top first, open.
pub(super) struct Lowers(Vec<OwnedFd>);

impl Lowers {
    pub(super) fn open(dirs: &[PathBuf]) -> Result<Lowers> {
        let mut v = Vec::new();
        for d in dirs {
            let fd = rustix::fs::open(
                d,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .with_context(|| format!("open layer {}", d.display()))?;
            v.push(fd);
        }
        Ok(Lowers(v))
    }

    /// Open `rel` in one layer without following any symlink.
    fn lookup(layer: BorrowedFd, rel: &Path) -> Option<OwnedFd> {
        rustix::fs::openat2(
            layer,
            rel,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        )
        .ok()
    }

    /// Does the image show `rel`?
    pub(super) fn exists(&self, rel: &Path) -> bool {
        for l in &self.0 {
            if let Some(fd) = Self::lookup(l.as_fd(), rel) {
                return rustix::fs::fstat(&fd).is_ok_and(|st| !is_whiteout(&st));
            }
        }
        false
    }

    /// The names the image shows in directory `rel`.
    pub(super) fn names(&self, rel: &Path) -> BTreeSet<std::ffi::OsString> {
        let mut seen = BTreeSet::new();
        let mut gone = BTreeSet::new();
        for l in &self.0 {
            let Some(p) = Self::lookup(l.as_fd(), rel) else {
                continue;
            };
            let Ok(d) = open_node(
                p.as_fd(),
                OsStr::new(""),
                OFlags::RDONLY | OFlags::DIRECTORY,
            ) else {
                break;
            };
            for n in dir_names(d.as_fd()).unwrap_or_default() {
                if gone.contains(&n) || seen.contains(&n) {
                    continue;
                }
                match rustix::fs::statat(&d, &n, rustix::fs::AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) if is_whiteout(&st) => {
                        gone.insert(n);
                    }
                    _ => {
                        seen.insert(n);
                    }
                }
            }
            if is_opaque(d.as_fd()) {
                break;
            }
        }
        seen
    }
}

/// The mount targets the runtime made in the upper dir (empty files and
/// directories for the spec's mounts: /etc/hosts, /proc, ...): they are
/// the container's plumbing, not its changes, as Docker keeps them in its
/// init layer.
pub(super) fn mount_targets(store: &Store, rec: &ContainerRecord) -> HashSet<PathBuf> {
    let cfg = store.container_dir(&rec.id).join("config.json");
    let Ok(bytes) = std::fs::read(cfg) else {
        return HashSet::new();
    };
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    v["mounts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["destination"].as_str())
                .map(|d| crate::runtime::paths::clean(Path::new(d)))
                .collect()
        })
        .unwrap_or_default()
}

/// The upper dir and lower layers of a container.
struct Layers {
    upper: OwnedFd,
    lowers: Lowers,
    skip: HashSet<PathBuf>,
    /// The container's maps: its files hold the ids outside.
    shift: IdShift,
}

/// The ids of the container's user namespace, from its spec (identity
/// without one of its own).
pub fn shift_of(store: &Store, rec: &ContainerRecord) -> IdShift {
    let p = store.container_dir(&rec.id).join("config.json");
    let Ok(bytes) = std::fs::read(p) else {
        return IdShift::identity();
    };
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let lines = |key: &str| -> Vec<(u32, u32, u32)> {
        v["linux"][key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| {
                        Some((
                            m["containerID"].as_u64()? as u32,
                            m["hostID"].as_u64()? as u32,
                            m["size"].as_u64()? as u32,
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    IdShift::new(lines("uidMappings"), lines("gidMappings"))
}

/// `st` with the container's own ids.
pub(super) fn unshifted(st: &Stat, shift: &IdShift) -> Stat {
    let mut out = *st;
    out.st_uid = shift.unuid(st.st_uid);
    out.st_gid = shift.ungid(st.st_gid);
    out
}

impl Layers {
    fn open(store: &Store, rec: &ContainerRecord) -> Result<Layers> {
        let ov = overlay_of(store, rec)?;
        let upper_path = ov
            .upper
            .clone()
            .unwrap_or_else(|| store.container_dir(&rec.id).join("upper"));
        let upper = rustix::fs::open(
            &upper_path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .with_context(|| format!("open {}", upper_path.display()))?;
        Ok(Layers {
            upper,
            lowers: Lowers::open(&ov.lower)?,
            skip: mount_targets(store, rec),
            shift: shift_of(store, rec),
        })
    }

    /// Is `rel` (stat `st`, in `dir` as `name`) a mount target the
    /// runtime made rather than a change?
    fn plumbing(&self, rel: &Path, dir: BorrowedFd, name: &OsStr, st: &Stat) -> bool {
        plumbing(&self.skip, &self.lowers, rel, dir, name, st)
    }
}

/// Is `rel` (stat `st`, in `dir` as `name`) one of the mount targets
/// `skip` that the runtime made (an empty file or directory the image
/// does not have) rather than a change?
pub(super) fn plumbing(
    skip: &HashSet<PathBuf>,
    lowers: &Lowers,
    rel: &Path,
    dir: BorrowedFd,
    name: &OsStr,
    st: &Stat,
) -> bool {
    if !skip.contains(rel) || lowers.exists(rel) {
        return false;
    }
    match file_type(st) {
        FileType::RegularFile => st.st_size == 0,
        FileType::Directory => open_node(dir, name, OFlags::RDONLY | OFlags::DIRECTORY)
            .ok()
            .and_then(|d| dir_names(d.as_fd()).ok())
            .is_some_and(|n| n.is_empty()),
        _ => false,
    }
}

/// The container's changes, sorted by path as Docker prints them.
pub fn changes(store: &Store, rec: &ContainerRecord) -> Result<Vec<Change>> {
    if overlay_of(store, rec)?.driver == Driver::Vfs {
        return super::changes_vfs::changes(store, rec);
    }
    let l = Layers::open(store, rec)?;
    let mut out = Vec::new();
    walk_changes(&l, l.upper.as_fd(), Path::new(""), &mut out)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn walk_changes(l: &Layers, dir: BorrowedFd, rel: &Path, out: &mut Vec<Change>) -> Result<()> {
    let names = dir_names(dir).with_context(|| format!("list /{}", rel.display()))?;
    for n in &names {
        let child = rel.join(n);
        let Ok(st) = stat_node(dir, n) else { continue };
        let path = Path::new("/").join(&child);
        if is_whiteout(&st) {
            out.push(Change {
                path,
                kind: Kind::Deleted,
            });
            continue;
        }
        match fuse_whiteout(n) {
            Whiteout::Remove(gone) if file_type(&st) == FileType::RegularFile => {
                out.push(Change {
                    path: Path::new("/").join(rel).join(gone),
                    kind: Kind::Deleted,
                });
                continue;
            }
            Whiteout::Opaque | Whiteout::Meta => continue,
            _ => {}
        }
        if l.plumbing(&child, dir, n, &st) {
            continue;
        }
        let below = l.lowers.exists(&child);
        out.push(Change {
            path: path.clone(),
            kind: if below { Kind::Changed } else { Kind::Added },
        });
        if file_type(&st) != FileType::Directory {
            continue;
        }
        let Ok(d) = open_node(dir, n, OFlags::RDONLY | OFlags::DIRECTORY) else {
            continue;
        };
        if below && is_opaque(d.as_fd()) {
            // Everything the image had there is gone, bar what was made
            // anew.
            let mine: BTreeSet<_> = dir_names(d.as_fd())?.into_iter().collect();
            for gone in l.lowers.names(&child) {
                if !mine.contains(&gone) {
                    out.push(Change {
                        path: path.join(&gone),
                        kind: Kind::Deleted,
                    });
                }
            }
        }
        walk_changes(l, d.as_fd(), &child, out)?;
    }
    Ok(())
}

/// Write the container's changes as an OCI layer tar, with the
/// container's own ids.
pub fn write_layer<W: Write>(store: &Store, rec: &ContainerRecord, w: W) -> Result<W> {
    if overlay_of(store, rec)?.driver == Driver::Vfs {
        return super::changes_vfs::write_layer(store, rec, w);
    }
    let l = Layers::open(store, rec)?;
    let mut b = tar::Builder::new(w);
    b.follow_symlinks(false);
    let mut links = Links::new();
    layer_dir(&l, &mut b, l.upper.as_fd(), Path::new(""), &mut links)?;
    Ok(b.into_inner()?)
}

/// An empty marker entry (a whiteout, an opaque directory's marker).
pub(crate) fn marker<W: Write>(b: &mut tar::Builder<W>, tarname: &Path) -> Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_size(0);
    h.set_mtime(0);
    b.append_data(&mut h, tarname, std::io::empty())
        .with_context(|| format!("archive {}", tarname.display()))
}

fn layer_dir<W: Write>(
    l: &Layers,
    b: &mut tar::Builder<W>,
    dir: BorrowedFd,
    rel: &Path,
    links: &mut Links,
) -> Result<()> {
    for n in dir_names(dir).with_context(|| format!("list /{}", rel.display()))? {
        let child = rel.join(&n);
        let Ok(st) = stat_node(dir, &n) else { continue };
        if is_whiteout(&st) {
            let mut wh = std::ffi::OsString::from(WHITEOUT_PREFIX);
            wh.push(&n);
            marker(b, &rel.join(wh))?;
            continue;
        }
        match fuse_whiteout(&n) {
            // The layer says it the same way.
            Whiteout::Remove(_) if file_type(&st) == FileType::RegularFile => {
                marker(b, &child)?;
                continue;
            }
            // Said by the directory's own marker, below.
            Whiteout::Opaque | Whiteout::Meta => continue,
            _ => {}
        }
        if l.plumbing(&child, dir, &n, &st) {
            continue;
        }
        append_node(b, dir, &n, &unshifted(&st, &l.shift), &child, links)?;
        if file_type(&st) == FileType::Directory {
            let d = open_node(dir, &n, OFlags::RDONLY | OFlags::DIRECTORY)
                .with_context(|| format!("open /{}", child.display()))?;
            if is_opaque(d.as_fd()) {
                marker(b, &child.join(OPAQUE_MARKER))?;
            }
            layer_dir(l, b, d.as_fd(), &child, links)?;
        }
    }
    Ok(())
}
