//! The destination of a layer unpack, seen through a directory fd, with
//! the rules that keep every entry inside it.
//!
//! Layer tars are untrusted (CVE-2018-15664, CVE-2019-14271 and many
//! "zip slip" bugs came from trusting them). Every entry name is cleaned
//! lexically, and every directory on the way to it is known to be a real
//! directory inside the layer: either this unpack created it, or it was
//! checked with a no-follow stat. Nothing is ever created or written through
//! a symlink. The set of known directories is kept in memory, which also
//! makes the common case (a file in a directory already seen) cost no
//! extra system call.

use anyhow::{Context, Result};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timespec, Timestamps, CWD};
use rustix::io::Errno;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::ops::Bound;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::{kind_err, ErrorKind};

/// A refusal of untrusted layer data (Corrupt kind).
pub(crate) fn refused(why: impl Into<String>) -> anyhow::Error {
    kind_err(ErrorKind::Corrupt, why)
}

/// Clean an entry name into a path relative to the layer root: `.` and
/// empty components dropped, `..` applied. Absolute names and names that
/// climb out of the layer are refused. The empty path is the layer root.
pub(crate) fn clean_entry_path(raw: &[u8]) -> Result<PathBuf> {
    if raw.starts_with(b"/") {
        return Err(refused("absolute path"));
    }
    let mut out = PathBuf::new();
    for comp in raw.split(|b| *b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                if !out.pop() {
                    return Err(refused("path escapes the layer"));
                }
            }
            c => out.push(OsStr::from_bytes(c)),
        }
    }
    Ok(out)
}

/// Metadata applied to a directory after all entries are in, since adding
/// children changes a directory's mtime and a read-only mode would stop a
/// rootless unpack from adding them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DirMeta {
    pub mode: u32,
    pub mtime: Timespec,
}

pub(crate) struct Tree {
    root: PathBuf,
    fd: OwnedFd,
    /// Real directories known inside the layer (relative paths; the root is
    /// implied), with their deferred metadata when an entry gave some.
    dirs: BTreeMap<PathBuf, Option<DirMeta>>,
    /// The umask would take bits off the 0755 of implied directories.
    fix_implied_mode: bool,
}

/// The process umask, read without changing it (umask(2) can only swap,
/// which would race with other threads creating files).
fn current_umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

/// `rel`, or `.` for the layer root (the `*at` calls refuse an empty path).
pub(crate) fn at_path(rel: &Path) -> &Path {
    if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    }
}

impl Tree {
    pub fn open(root: &Path) -> Result<Tree> {
        let fd = rustix::fs::openat(
            CWD,
            root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .with_context(|| format!("open layer directory {}", root.display()))?;
        Ok(Tree {
            root: root.to_path_buf(),
            fd,
            dirs: BTreeMap::new(),
            fix_implied_mode: current_umask() & 0o755 != 0,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The absolute path of `rel`, for the calls that have no `*at` form
    /// (xattrs). Safe because every parent of `rel` is a known real dir.
    pub fn abs(&self, rel: &Path) -> PathBuf {
        self.root.join(rel)
    }

    fn is_known_dir(&self, rel: &Path) -> bool {
        rel.as_os_str().is_empty() || self.dirs.contains_key(rel)
    }

    /// Make every component of `dir` a real directory, creating missing
    /// ones (0755, as `tar -x` does for implied parents).
    pub fn ensure_dir(&mut self, dir: &Path) -> Result<()> {
        self.walk_dir(dir, true)
    }

    /// Check that every component of `dir` is an existing real directory.
    pub fn check_dir(&mut self, dir: &Path) -> Result<()> {
        self.walk_dir(dir, false)
    }

    fn walk_dir(&mut self, dir: &Path, create: bool) -> Result<()> {
        if self.is_known_dir(dir) {
            return Ok(());
        }
        if let Some(parent) = dir.parent() {
            self.walk_dir(parent, create)?;
        }
        match rustix::fs::statat(self.fd(), dir, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => match FileType::from_raw_mode(st.st_mode) {
                FileType::Directory => {}
                FileType::Symlink => {
                    return Err(refused(format!("crosses a symlink at {dir:?}")));
                }
                _ => return Err(refused(format!("{dir:?} is not a directory"))),
            },
            Err(Errno::NOENT) if create => {
                rustix::fs::mkdirat(self.fd(), dir, Mode::from_raw_mode(0o755))
                    .with_context(|| format!("create directory {}", dir.display()))?;
                if self.fix_implied_mode {
                    // A container's non-root user must still traverse it.
                    rustix::fs::chmodat(
                        self.fd(),
                        dir,
                        Mode::from_raw_mode(0o755),
                        AtFlags::empty(),
                    )
                    .with_context(|| format!("chmod {}", dir.display()))?;
                }
            }
            Err(Errno::NOENT) => return Err(refused(format!("{dir:?} does not exist"))),
            Err(e) => return Err(e).with_context(|| format!("stat {}", dir.display())),
        }
        self.dirs.insert(dir.to_path_buf(), None);
        Ok(())
    }

    /// Record `rel` as a real directory (with deferred metadata if given).
    pub fn add_dir(&mut self, rel: &Path, meta: Option<DirMeta>) {
        let slot = self.dirs.entry(rel.to_path_buf()).or_insert(None);
        if meta.is_some() {
            *slot = meta;
        }
    }

    /// Remove whatever is at `rel`, never following a symlink; a directory
    /// goes with everything below it (later entries win, as with `tar -x`).
    pub fn remove(&mut self, rel: &Path) -> Result<()> {
        if rel.as_os_str().is_empty() {
            return Err(refused("would replace the layer root"));
        }
        let st = match rustix::fs::statat(self.fd(), rel, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("stat {}", rel.display())),
        };
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            crate::store::remove_tree(&self.abs(rel))?;
            self.forget(rel);
        } else {
            rustix::fs::unlinkat(self.fd(), rel, AtFlags::empty())
                .with_context(|| format!("remove {}", rel.display()))?;
        }
        Ok(())
    }

    /// Forget `rel` and every known directory below it.
    fn forget(&mut self, rel: &Path) {
        let doomed: Vec<PathBuf> = self
            .dirs
            .range::<Path, _>((Bound::Included(rel), Bound::Unbounded))
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(rel))
            .cloned()
            .collect();
        for k in doomed {
            self.dirs.remove(&k);
        }
    }

    /// Run a creating call; if something is in the way, remove it and try
    /// once more.
    pub fn create<T>(
        &mut self,
        rel: &Path,
        what: &str,
        mut op: impl FnMut(BorrowedFd<'_>, &Path) -> rustix::io::Result<T>,
    ) -> Result<T> {
        match op(self.fd(), rel) {
            Err(Errno::EXIST) => {
                self.remove(rel)?;
                op(self.fd(), rel)
            }
            r => r,
        }
        .with_context(|| format!("create {what} {}", rel.display()))
    }

    /// Apply the deferred directory metadata, deepest first so that
    /// setting a child's times cannot disturb its parent's afterwards.
    pub fn finish(&mut self) -> Result<()> {
        for (rel, meta) in self.dirs.iter().rev() {
            let Some(meta) = meta else { continue };
            let p = at_path(rel);
            rustix::fs::chmodat(
                self.fd(),
                p,
                Mode::from_raw_mode(meta.mode),
                AtFlags::empty(),
            )
            .with_context(|| format!("chmod {}", rel.display()))?;
            let times = Timestamps {
                last_access: meta.mtime,
                last_modification: meta.mtime,
            };
            rustix::fs::utimensat(self.fd(), p, &times, AtFlags::SYMLINK_NOFOLLOW)
                .with_context(|| format!("set times of {}", rel.display()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(s: &str) -> Result<PathBuf, String> {
        clean_entry_path(s.as_bytes()).map_err(|e| e.to_string())
    }

    #[test]
    fn cleaning() {
        assert_eq!(clean("a/b/c").unwrap(), Path::new("a/b/c"));
        assert_eq!(clean("./a//b/./c/").unwrap(), Path::new("a/b/c"));
        assert_eq!(clean("a/../b").unwrap(), Path::new("b"));
        assert_eq!(clean("./").unwrap(), Path::new(""));
        assert_eq!(clean(".").unwrap(), Path::new(""));
        assert_eq!(clean("../x").unwrap_err(), "path escapes the layer");
        assert_eq!(clean("a/../../x").unwrap_err(), "path escapes the layer");
        assert_eq!(clean("..").unwrap_err(), "path escapes the layer");
        assert_eq!(clean("/etc/x").unwrap_err(), "absolute path");
    }

    #[test]
    fn reads_the_umask() {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
        assert_eq!(format!("Umask:\t{:04o}", current_umask()), line);
    }

    #[test]
    fn forget_drops_a_subtree_only() {
        let d = tempfile::tempdir().unwrap();
        let mut t = Tree::open(d.path()).unwrap();
        for p in ["a", "a/b", "a/b/c", "a b", "ab", "b"] {
            t.ensure_dir(Path::new(p)).unwrap();
        }
        t.remove(Path::new("a")).unwrap();
        let left: Vec<_> = t.dirs.keys().map(|k| k.to_str().unwrap()).collect();
        assert_eq!(left, vec!["a b", "ab", "b"]);
        assert!(!d.path().join("a").exists());
    }

    #[test]
    fn refuses_symlinked_and_non_dir_parents() {
        let d = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/", d.path().join("s")).unwrap();
        std::fs::write(d.path().join("f"), b"").unwrap();
        let mut t = Tree::open(d.path()).unwrap();
        let e = t.ensure_dir(Path::new("s/x")).unwrap_err();
        assert_eq!(e.to_string(), "crosses a symlink at \"s\"");
        let e = t.ensure_dir(Path::new("f/x")).unwrap_err();
        assert_eq!(e.to_string(), "\"f\" is not a directory");
        let e = t.check_dir(Path::new("nope")).unwrap_err();
        assert_eq!(e.to_string(), "\"nope\" does not exist");
    }
}
