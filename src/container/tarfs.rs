//! Trees to tar streams and back, for `cp`, `export` and `commit`.
//!
//! Reading walks directory descriptors one name at a time, never following
//! a symlink (`O_NOFOLLOW`, `AT_SYMLINK_NOFOLLOW`): a running container
//! that swaps a directory for a symlink mid-walk makes the open fail, it
//! never leads the walk out of the tree. Writing resolves every entry's
//! parent with `RESOLVE_IN_ROOT` from the root descriptor, so neither a
//! symlink already in the tree nor a `../` in the archive can land a file
//! outside it (CVE-2019-14271 and CVE-2018-15664 were `docker cp` escapes).

use crate::runtime::paths::{clean, fd_path, mkdir_all_in_root, open_in_root};
use crate::util::idshift::IdShift;
use anyhow::{bail, Context, Result};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat, Timespec, Timestamps};
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Hard links already written: (device, inode) to the first name.
pub type Links = HashMap<(u64, u64), PathBuf>;

/// `name` inside `dir`, without following a symlink; the empty name is
/// `dir` itself (an `O_PATH` descriptor of what was resolved).
pub fn stat_node(dir: BorrowedFd, name: &OsStr) -> io::Result<Stat> {
    if name.is_empty() {
        Ok(rustix::fs::fstat(dir)?)
    } else {
        Ok(rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?)
    }
}

/// Open `name` inside `dir` (never through a symlink); the empty name
/// reopens `dir` itself.
pub fn open_node(dir: BorrowedFd, name: &OsStr, flags: OFlags) -> io::Result<OwnedFd> {
    let flags = flags | OFlags::CLOEXEC | OFlags::NOCTTY;
    if name.is_empty() {
        Ok(rustix::fs::open(fd_path(dir), flags, Mode::empty())?)
    } else {
        Ok(rustix::fs::openat(
            dir,
            name,
            flags | OFlags::NOFOLLOW,
            Mode::empty(),
        )?)
    }
}

fn readlink_node(dir: BorrowedFd, name: &OsStr) -> io::Result<PathBuf> {
    let t = rustix::fs::readlinkat(dir, name, Vec::new())?;
    Ok(PathBuf::from(OsStr::from_bytes(t.as_bytes())))
}

pub fn file_type(st: &Stat) -> FileType {
    FileType::from_raw_mode(st.st_mode)
}

/// The sorted names in a directory.
pub fn dir_names(dir: BorrowedFd) -> io::Result<Vec<OsString>> {
    let mut names = Vec::new();
    for e in rustix::fs::Dir::read_from(dir)? {
        let e = e?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(OsStr::from_bytes(n).to_os_string());
        }
    }
    names.sort();
    Ok(names)
}

/// A tar header for `st`, of the right type and metadata.
pub fn header_for(st: &Stat) -> Option<tar::Header> {
    let mut h = tar::Header::new_gnu();
    let kind = match file_type(st) {
        FileType::RegularFile => tar::EntryType::Regular,
        FileType::Directory => tar::EntryType::Directory,
        FileType::Symlink => tar::EntryType::Symlink,
        FileType::CharacterDevice => tar::EntryType::Char,
        FileType::BlockDevice => tar::EntryType::Block,
        FileType::Fifo => tar::EntryType::Fifo,
        // Sockets have no tar form; Docker skips them too.
        _ => return None,
    };
    h.set_entry_type(kind);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(st.st_uid as u64);
    h.set_gid(st.st_gid as u64);
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(0);
    if matches!(kind, tar::EntryType::Char | tar::EntryType::Block) {
        let _ = h.set_device_major(rustix::fs::major(st.st_rdev));
        let _ = h.set_device_minor(rustix::fs::minor(st.st_rdev));
    }
    Some(h)
}

/// Append one node (`name` in `dir`, stat `st`) as `tarname`; directories
/// are not descended into here.
pub fn append_node<W: Write>(
    b: &mut tar::Builder<W>,
    dir: BorrowedFd,
    name: &OsStr,
    st: &Stat,
    tarname: &Path,
    links: &mut Links,
) -> Result<()> {
    let Some(mut h) = header_for(st) else {
        return Ok(());
    };
    let what = || format!("archive {}", tarname.display());
    let ft = file_type(st);
    if ft != FileType::Directory && st.st_nlink > 1 {
        let key = (st.st_dev, st.st_ino);
        if let Some(first) = links.get(&key) {
            h.set_entry_type(tar::EntryType::Link);
            b.append_link(&mut h, tarname, first).with_context(what)?;
            return Ok(());
        }
        links.insert(key, tarname.to_path_buf());
    }
    match ft {
        FileType::RegularFile => {
            let fd = open_node(dir, name, OFlags::RDONLY).with_context(what)?;
            h.set_size(st.st_size as u64);
            // A file that shrinks while being read is padded, one that
            // grows is cut: the header's size is what the tar promises.
            let size = st.st_size as u64;
            let mut data = File::from(fd).take(size).chain(io::repeat(0)).take(size);
            b.append_data(&mut h, tarname, &mut data)
                .with_context(what)?;
        }
        FileType::Symlink => {
            let target = readlink_node(dir, name).with_context(what)?;
            b.append_link(&mut h, tarname, &target).with_context(what)?;
        }
        _ => {
            b.append_data(&mut h, tarname, io::empty())
                .with_context(what)?;
        }
    }
    Ok(())
}

/// Append `name` in `dir` as `tarname` and, when it is a directory,
/// everything below it. An empty `tarname` writes no entry for the top
/// (its contents go in unprefixed).
pub fn append_tree<W: Write>(
    b: &mut tar::Builder<W>,
    dir: BorrowedFd,
    name: &OsStr,
    tarname: &Path,
    links: &mut Links,
) -> Result<()> {
    append_tree_as(b, dir, name, tarname, links, &IdShift::identity())
}

/// [`append_tree`], the ids in the headers taken back through `shift`
/// (a container's maps) to the container's own.
pub fn append_tree_as<W: Write>(
    b: &mut tar::Builder<W>,
    dir: BorrowedFd,
    name: &OsStr,
    tarname: &Path,
    links: &mut Links,
    shift: &IdShift,
) -> Result<()> {
    let mut st = stat_node(dir, name).with_context(|| format!("stat {}", tarname.display()))?;
    st.st_uid = shift.unuid(st.st_uid);
    st.st_gid = shift.ungid(st.st_gid);
    if !tarname.as_os_str().is_empty() {
        append_node(b, dir, name, &st, tarname, links)?;
    }
    if file_type(&st) != FileType::Directory {
        return Ok(());
    }
    let d = open_node(dir, name, OFlags::RDONLY | OFlags::DIRECTORY)
        .with_context(|| format!("open {}", tarname.display()))?;
    for child in dir_names(d.as_fd()).with_context(|| format!("list {}", tarname.display()))? {
        match append_tree_as(b, d.as_fd(), &child, &tarname.join(&child), links, shift) {
            Ok(()) => {}
            // Gone since the listing (a running container): skip it.
            Err(e) if is_enoent(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The whole tree under `root` as a tar written to `w` (buffered; no
/// entry for the top).
pub fn write_tree(root: BorrowedFd, w: impl Write) -> Result<()> {
    write_tree_as(root, w, &IdShift::identity())
}

/// [`write_tree`], the ids taken back through `shift` (see
/// [`append_tree_as`]).
pub fn write_tree_as(root: BorrowedFd, w: impl Write, shift: &IdShift) -> Result<()> {
    let mut b = tar::Builder::new(io::BufWriter::with_capacity(1 << 20, w));
    b.follow_symlinks(false);
    append_tree_as(
        &mut b,
        root,
        OsStr::new(""),
        Path::new(""),
        &mut Links::new(),
        shift,
    )?;
    b.into_inner()?.flush()?;
    Ok(())
}

fn is_enoent(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::NotFound)
    })
}

/// Who owns what an extraction makes.
#[derive(Debug, Clone, Copy)]
pub enum Owner {
    /// The archive's uid and gid (`cp -a`).
    Keep,
    /// Everything owned by this uid and gid (`cp` into a container: its
    /// root).
    Force(u32, u32),
    /// Whoever runs skiff (`cp` out to the host without `-a`).
    Caller,
}

fn times(mtime: u64) -> Timestamps {
    let t = Timespec {
        tv_sec: mtime as i64,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// Extract the tar `r` under `base` inside `root`. Every parent is
/// resolved inside `root`; an entry replaces a non-directory already there
/// (never writing through it), but never a directory with a
/// non-directory.
pub fn extract<R: Read>(r: R, root: BorrowedFd, base: &Path, owner: Owner) -> Result<()> {
    let base = clean(base);
    let mut ar = tar::Archive::new(r);
    let mut dirs: Vec<(PathBuf, u32, u64, u32, u32)> = Vec::new();
    for entry in ar.entries().context("read the archive")? {
        let mut entry = entry.context("read the archive")?;
        let rel = clean(&entry.path().context("read the archive")?);
        let full = base.join(&rel);
        let shown = Path::new("/").join(&full);
        let h = entry.header().clone();
        let kind = h.entry_type();
        let mode = h.mode().unwrap_or(0o644) & 0o7777;
        let mtime = h.mtime().unwrap_or(0);
        let (uid, gid) = match owner {
            Owner::Keep => (h.uid().unwrap_or(0) as u32, h.gid().unwrap_or(0) as u32),
            Owner::Force(u, g) => (u, g),
            Owner::Caller => (u32::MAX, u32::MAX),
        };
        let chown = !matches!(owner, Owner::Caller);
        let ids = || {
            (
                Some(rustix::fs::Uid::from_raw(uid)),
                Some(rustix::fs::Gid::from_raw(gid)),
            )
        };
        let Some(name) = full.file_name().map(|n| n.to_os_string()) else {
            // The base itself: it exists already.
            continue;
        };
        let parent = full.parent().unwrap_or(Path::new(""));
        let pfd = mkdir_all_in_root(root, parent, 0o755)
            .with_context(|| format!("create {}", Path::new("/").join(parent).display()))?;
        let existing = rustix::fs::statat(&pfd, &name, AtFlags::SYMLINK_NOFOLLOW).ok();
        let existing_dir = existing
            .as_ref()
            .is_some_and(|s| file_type(s) == FileType::Directory);
        if kind.is_dir() {
            if !existing_dir {
                if existing.is_some() {
                    rustix::fs::unlinkat(&pfd, &name, AtFlags::empty())
                        .with_context(|| format!("replace {}", shown.display()))?;
                }
                rustix::fs::mkdirat(&pfd, &name, Mode::from_raw_mode(0o700))
                    .with_context(|| format!("create {}", shown.display()))?;
            }
            dirs.push((full.clone(), mode, mtime, uid, gid));
            continue;
        }
        if !matches!(
            kind,
            tar::EntryType::Regular
                | tar::EntryType::Continuous
                | tar::EntryType::Symlink
                | tar::EntryType::Link
                | tar::EntryType::Char
                | tar::EntryType::Block
                | tar::EntryType::Fifo
        ) {
            continue;
        }
        if existing_dir {
            bail!(
                "cannot overwrite directory {} with non-directory",
                shown.display()
            );
        }
        if existing.is_some() {
            rustix::fs::unlinkat(&pfd, &name, AtFlags::empty())
                .with_context(|| format!("replace {}", shown.display()))?;
        }
        let made = || format!("create {}", shown.display());
        match kind {
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .context("read the archive")?
                    .unwrap_or_default()
                    .into_owned();
                rustix::fs::symlinkat(&target, &pfd, &name).with_context(made)?;
                if chown {
                    let (u, g) = ids();
                    rustix::fs::chownat(&pfd, &name, u, g, AtFlags::SYMLINK_NOFOLLOW)
                        .with_context(made)?;
                }
                let _ =
                    rustix::fs::utimensat(&pfd, &name, &times(mtime), AtFlags::SYMLINK_NOFOLLOW);
            }
            tar::EntryType::Link => {
                let target = clean(
                    &entry
                        .link_name()
                        .context("read the archive")?
                        .unwrap_or_default(),
                );
                let tfull = base.join(&target);
                let tname = tfull.file_name().unwrap_or(OsStr::new("."));
                let tparent = open_in_root(
                    root,
                    tfull.parent().unwrap_or(Path::new("")),
                    OFlags::PATH | OFlags::DIRECTORY,
                )
                .with_context(made)?;
                rustix::fs::linkat(&tparent, tname, &pfd, &name, AtFlags::empty())
                    .with_context(made)?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let fd = rustix::fs::openat(
                    &pfd,
                    &name,
                    OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::WRONLY
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .with_context(made)?;
                let mut f = File::from(fd);
                io::copy(&mut entry, &mut f).with_context(made)?;
                if chown {
                    let (u, g) = ids();
                    rustix::fs::fchown(&f, u, g).with_context(made)?;
                }
                // After chown, which clears set-id bits.
                rustix::fs::fchmod(&f, Mode::from_raw_mode(mode)).with_context(made)?;
                let _ = rustix::fs::futimens(&f, &times(mtime));
            }
            _ => {
                let ft = match kind {
                    tar::EntryType::Char => FileType::CharacterDevice,
                    tar::EntryType::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                let dev = rustix::fs::makedev(
                    h.device_major().ok().flatten().unwrap_or(0),
                    h.device_minor().ok().flatten().unwrap_or(0),
                );
                rustix::fs::mknodat(&pfd, &name, ft, Mode::from_raw_mode(mode), dev)
                    .with_context(made)?;
                if chown {
                    let (u, g) = ids();
                    rustix::fs::chownat(&pfd, &name, u, g, AtFlags::SYMLINK_NOFOLLOW)
                        .with_context(made)?;
                }
            }
        }
    }
    // Directories last and deepest first: a read-only mode or an mtime set
    // earlier would be spoiled by the entries written into them.
    for (full, mode, mtime, uid, gid) in dirs.iter().rev() {
        let shown = Path::new("/").join(full);
        let fd = open_in_root(
            root,
            full,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW,
        )
        .with_context(|| format!("open {}", shown.display()))?;
        if !matches!(owner, Owner::Caller) {
            rustix::fs::fchown(
                &fd,
                Some(rustix::fs::Uid::from_raw(*uid)),
                Some(rustix::fs::Gid::from_raw(*gid)),
            )
            .with_context(|| format!("chown {}", shown.display()))?;
        }
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(*mode))
            .with_context(|| format!("chmod {}", shown.display()))?;
        let _ = rustix::fs::futimens(&fd, &times(*mtime));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_stays_inside_the_root() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        std::fs::create_dir_all(src.join("dir/sub")).unwrap();
        std::fs::write(src.join("dir/sub/f"), "data").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.join("dir/link")).unwrap();
        std::fs::hard_link(src.join("dir/sub/f"), src.join("dir/hard")).unwrap();
        let srcfd: OwnedFd = File::open(&src).unwrap().into();
        let mut b = tar::Builder::new(Vec::new());
        append_tree(
            &mut b,
            srcfd.as_fd(),
            OsStr::new("dir"),
            Path::new("dir"),
            &mut Links::new(),
        )
        .unwrap();
        let tar = b.into_inner().unwrap();

        let dst = d.path().join("dst");
        std::fs::create_dir_all(&dst).unwrap();
        // A symlink in the destination that points out of it.
        std::os::unix::fs::symlink("../../../..", dst.join("up")).unwrap();
        let dstfd: OwnedFd = File::open(&dst).unwrap().into();
        extract(&tar[..], dstfd.as_fd(), Path::new("up"), Owner::Caller).unwrap();
        // `up` resolves to the destination's own root.
        assert_eq!(
            std::fs::read_to_string(dst.join("dir/sub/f")).unwrap(),
            "data"
        );
        assert_eq!(
            std::fs::read_link(dst.join("dir/link")).unwrap(),
            Path::new("/etc/passwd")
        );
        assert_eq!(
            std::fs::read_to_string(dst.join("dir/hard")).unwrap(),
            "data"
        );
    }
}
