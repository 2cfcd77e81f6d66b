//! The writing side of COPY/ADD: nodes made inside the destination root
//! with Docker's metadata rules.
//!
//! - Owner: `--chown`'s, else 0:0 (Docker: "all new files and
//!   directories are created with a UID and GID of 0").
//! - Mode: the source's, or with `--chmod` its permission bits replaced
//!   (set-id and sticky bits kept, as BuildKit's `copyFileInfo` does);
//!   directories copied get it too.
//! - Times: the source's access and modification times (Docker keeps the
//!   mtime for COPY). Extended attributes: copied best effort (overlay's
//!   own left out), after the chown that would clear file capabilities.
//! - Hard links between files of one copy stay links.
//!
//! Every node is made with `*at` calls on a directory descriptor that was
//! resolved inside the root, never following a symlink at the last name:
//! an existing symlink there is replaced, not written through.

use super::root::{describe, shown, split, Root};
use super::source::{file_type, is_dir, Visitor};
use crate::image::whiteout::is_overlay_xattr;
use anyhow::{anyhow, bail, Context, Result};
use rustix::fs::{
    AtFlags, FileType, Gid, Mode, OFlags, Stat, Timespec, Timestamps, Uid, XattrFlags,
};
use rustix::io::Errno;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Owner and mode rules for what is written.
#[derive(Debug, Clone, Copy)]
pub struct Apply {
    /// Owner of everything written.
    pub owner: (u32, u32),
    /// `--chmod`: permission bits to use instead of the source's.
    pub chmod: Option<u32>,
}

impl Apply {
    /// The mode a node with source mode `st_mode` gets.
    pub fn mode(&self, st_mode: u32) -> u32 {
        let m = st_mode & 0o7777;
        match self.chmod {
            Some(c) => (m & !0o777) | (c & 0o777),
            None => m,
        }
    }

    fn ids(&self) -> (Option<Uid>, Option<Gid>) {
        (
            Some(Uid::from_raw(self.owner.0)),
            Some(Gid::from_raw(self.owner.1)),
        )
    }
}

/// A stat's access and modification times.
pub fn stat_times(st: &Stat) -> Timestamps {
    Timestamps {
        last_access: Timespec {
            tv_sec: st.st_atime,
            tv_nsec: st.st_atime_nsec as _,
        },
        last_modification: Timespec {
            tv_sec: st.st_mtime,
            tv_nsec: st.st_mtime_nsec as _,
        },
    }
}

/// Both times set to `secs`.
pub fn times_at(secs: i64) -> Timestamps {
    let t = Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// Copy extended attributes from one open node to another, best effort
/// (a file system without them, or a name only some may set, is no
/// failure, as BuildKit's copy treats it).
pub fn copy_xattrs(src: BorrowedFd, dst: BorrowedFd) {
    let Ok(n) = rustix::fs::flistxattr_query(src) else {
        return;
    };
    if n == 0 {
        return;
    }
    let mut list = vec![0u8; n];
    let Ok(n) = rustix::fs::flistxattr(src, &mut list[..]) else {
        return;
    };
    for name in list[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = OsStr::from_bytes(name);
        if is_overlay_xattr(&name.to_string_lossy()) {
            continue;
        }
        let Ok(size) = rustix::fs::fgetxattr_query(src, name) else {
            continue;
        };
        let mut value = vec![0u8; size];
        if let Ok(size) = rustix::fs::fgetxattr(src, name, &mut value[..]) {
            let _ = rustix::fs::fsetxattr(dst, name, &value[..size], XattrFlags::empty());
        }
    }
}

/// Make room for a non-directory at `name` in `dir`: what is there is
/// removed, unless it is a directory (Docker refuses to replace one).
pub fn clear_for_file(dir: BorrowedFd, name: &OsStr, rel: &Path) -> Result<()> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) if is_dir(&st) => bail!("cannot replace to directory {} with file", shown(rel)),
        Ok(_) => rustix::fs::unlinkat(dir, name, AtFlags::empty())
            .with_context(|| format!("replace {}", shown(rel))),
        Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(anyhow!("stat {}: {e}", shown(rel))),
    }
}

/// Create a regular file `name` in `dir` (which must not exist), for
/// writing.
pub fn create_file(dir: BorrowedFd, name: &OsStr, rel: &Path) -> Result<File> {
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .with_context(|| format!("create {}", shown(rel)))?;
    Ok(File::from(fd))
}

/// Owner, mode, extended attributes (from `xattrs_from`) and times of a
/// written file or directory, in the order that keeps each: chown clears
/// set-id bits and capabilities, writes change times.
pub fn finish(
    fd: BorrowedFd,
    rel: &Path,
    apply: &Apply,
    mode: u32,
    xattrs_from: Option<BorrowedFd>,
    times: &Timestamps,
) -> Result<()> {
    let (u, g) = apply.ids();
    rustix::fs::fchown(fd, u, g).with_context(|| format!("chown {}", shown(rel)))?;
    rustix::fs::fchmod(fd, Mode::from_raw_mode(mode))
        .with_context(|| format!("chmod {}", shown(rel)))?;
    if let Some(src) = xattrs_from {
        copy_xattrs(src, fd);
    }
    rustix::fs::futimens(fd, times).with_context(|| format!("set times of {}", shown(rel)))?;
    Ok(())
}

/// Writes a source's nodes below one destination directory; a walk's
/// [`Visitor`].
pub struct Writer<'a> {
    dest: &'a Root,
    apply: Apply,
    /// Files with more than one link already written: (device, inode) of
    /// the source to the resolved destination path of the first copy.
    links: HashMap<(u64, u64), PathBuf>,
    /// The destination directories being filled: descriptor and path.
    stack: Vec<(OwnedFd, PathBuf)>,
}

impl<'a> Writer<'a> {
    /// A writer into `dest` with `apply`'s owner and mode rules.
    pub fn new(dest: &'a Root, apply: Apply) -> Writer<'a> {
        Writer {
            dest,
            apply,
            links: HashMap::new(),
            stack: Vec::new(),
        }
    }

    /// Write below the resolved destination directory `dir` from now on.
    pub fn begin(&mut self, dir: &Path) -> Result<()> {
        let fd = self
            .dest
            .open_dir(dir)
            .map_err(|e| anyhow!("open {}: {}", shown(dir), describe(&e)))?;
        self.stack.clear();
        self.stack.push((fd, dir.to_path_buf()));
        Ok(())
    }

    fn top(&self) -> (BorrowedFd<'_>, &Path) {
        let (fd, p) = self.stack.last().expect("begin() was called");
        (fd.as_fd(), p)
    }

    /// Make directory `name` in the current one (or take the one there)
    /// and return it open: what a copied directory becomes.
    fn make_dir(&self, name: &OsStr) -> Result<(OwnedFd, PathBuf)> {
        let (dir, at) = self.top();
        let rel = at.join(name);
        match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if is_dir(&st) => {}
            Ok(_) => bail!("cannot copy to non-directory: {}", shown(&rel)),
            Err(Errno::NOENT) => {
                rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o755))
                    .with_context(|| format!("create {}", shown(&rel)))?;
            }
            Err(e) => bail!("stat {}: {e}", shown(&rel)),
        }
        let fd = rustix::fs::openat(
            dir,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .with_context(|| format!("open {}", shown(&rel)))?;
        Ok((fd, rel))
    }

    /// Copy `sname` in the source directory `sdir` (stat `st`) to `name`
    /// in the current destination directory.
    pub fn node(&mut self, sdir: BorrowedFd, sname: &OsStr, st: &Stat, name: &OsStr) -> Result<()> {
        let (dir, at) = self.top();
        let rel = at.join(name);
        clear_for_file(dir, name, &rel)?;
        let made = || format!("create {}", shown(&rel));
        match file_type(st) {
            FileType::RegularFile => {
                let key = (st.st_dev, st.st_ino);
                if st.st_nlink > 1 {
                    if let Some(first) = self.links.get(&key) {
                        if self.link(first, dir, name).is_ok() {
                            return Ok(());
                        }
                    }
                }
                let src = rustix::fs::openat(
                    sdir,
                    sname,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY,
                    Mode::empty(),
                )
                .with_context(|| format!("open {}", sname.to_string_lossy()))?;
                let mut src = File::from(src);
                let mut out = create_file(dir, name, &rel)?;
                io::copy(&mut src, &mut out).with_context(made)?;
                let mode = self.apply.mode(st.st_mode);
                finish(
                    out.as_fd(),
                    &rel,
                    &self.apply,
                    mode,
                    Some(src.as_fd()),
                    &stat_times(st),
                )?;
                if st.st_nlink > 1 {
                    self.links.insert(key, rel);
                }
            }
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(sdir, sname, Vec::new())
                    .with_context(|| format!("read link {}", sname.to_string_lossy()))?;
                rustix::fs::symlinkat(OsStr::from_bytes(target.as_bytes()), dir, name)
                    .with_context(made)?;
                self.meta_at(dir, name, &rel, st)?;
            }
            ft @ (FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo) => {
                let mode = Mode::from_raw_mode(self.apply.mode(st.st_mode));
                rustix::fs::mknodat(dir, name, ft, mode, st.st_rdev).with_context(made)?;
                rustix::fs::chmodat(dir, name, mode, AtFlags::empty()).with_context(made)?;
                self.meta_at(dir, name, &rel, st)?;
            }
            // Sockets (and anything stranger) have no copy.
            _ => {}
        }
        Ok(())
    }

    /// Owner and times of a node that cannot be opened (a symlink, a
    /// device), by name.
    fn meta_at(&self, dir: BorrowedFd, name: &OsStr, rel: &Path, st: &Stat) -> Result<()> {
        let (u, g) = self.apply.ids();
        rustix::fs::chownat(dir, name, u, g, AtFlags::SYMLINK_NOFOLLOW)
            .with_context(|| format!("chown {}", shown(rel)))?;
        rustix::fs::utimensat(dir, name, &stat_times(st), AtFlags::SYMLINK_NOFOLLOW)
            .with_context(|| format!("set times of {}", shown(rel)))?;
        Ok(())
    }

    /// Link `name` in `dir` to the file first written at `first`.
    fn link(&self, first: &Path, dir: BorrowedFd, name: &OsStr) -> io::Result<()> {
        let (parent, fname) = split(first);
        let pfd = self.dest.open_dir(parent)?;
        rustix::fs::linkat(&pfd, fname.unwrap_or_default(), dir, name, AtFlags::empty())?;
        Ok(())
    }

    /// Make directory `name` in the current one with the metadata of the
    /// source directory `sdir` (`--parents` makes a match's parents so),
    /// unless one is there already; then continue inside it.
    pub fn parent_dir(&mut self, name: &OsStr, sdir: BorrowedFd, st: &Stat) -> Result<()> {
        let (dir, _) = self.top();
        let existed = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).is_ok();
        let (fd, rel) = self.make_dir(name)?;
        if !existed {
            finish(
                fd.as_fd(),
                &rel,
                &self.apply,
                self.apply.mode(st.st_mode),
                Some(sdir),
                &stat_times(st),
            )?;
        }
        self.stack.push((fd, rel));
        Ok(())
    }
}

impl Visitor for Writer<'_> {
    fn enter(&mut self, rel: &Path, _dir: BorrowedFd, _st: &Stat) -> Result<()> {
        let name = rel.file_name().unwrap_or_default();
        let (fd, at) = self.make_dir(name)?;
        self.stack.push((fd, at));
        Ok(())
    }

    fn leave(&mut self, _rel: &Path, dir: BorrowedFd, st: &Stat) -> Result<()> {
        let (fd, at) = self.stack.pop().expect("entered before");
        // Set last: the entries written inside changed its times.
        finish(
            fd.as_fd(),
            &at,
            &self.apply,
            self.apply.mode(st.st_mode),
            Some(dir),
            &stat_times(st),
        )
    }

    fn entry(&mut self, rel: &Path, parent: BorrowedFd, name: &OsStr, st: &Stat) -> Result<()> {
        self.node(parent, name, st, rel.file_name().unwrap_or(name))
    }
}
