//! A directory tree treated as a root file system: the build context, a
//! stage's files, or the step's file system being written.
//!
//! Paths are resolved the way the kernel's `RESOLVE_IN_ROOT` resolves
//! them (and containerd's `fs.RootPath`, which BuildKit's copy uses):
//! symlinks are followed, but an absolute target or a `..` never climbs
//! above the root. It is done here one component at a time, from
//! descriptors, so the caller learns the resolved path (the context's
//! ignore rules apply to where a symlink leads, and a destination's name
//! is what is replaced); every open then goes through `RESOLVE_IN_ROOT`
//! as well, so even a tree changed meanwhile cannot lead out
//! (CVE-2018-15664 was a `docker cp` race of exactly this kind).

use crate::runtime::paths::open_in_root;
use anyhow::{anyhow, Context, Result};
use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Stat, Uid};
use rustix::io::Errno;
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Symlinks followed in one resolution: the kernel's own limit.
const MAX_LINKS: u32 = 40;

/// An open root directory.
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
}

/// What resolving a path met on the way.
#[derive(Default)]
pub struct Walked {
    /// The symlinks followed, as resolved paths of the links themselves.
    pub links: Vec<PathBuf>,
}

impl Root {
    /// Open `path` as a root.
    pub fn open(path: &Path) -> Result<Root> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .with_context(|| format!("open {}", path.display()))?;
        Ok(Root {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// Use an open directory as a root (an archive's destination).
    pub fn from_fd(fd: OwnedFd, path: PathBuf) -> Root {
        Root { fd, path }
    }

    /// The root's descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The root's path on the host (for messages about the root itself).
    pub fn host_path(&self) -> &Path {
        &self.path
    }

    /// Open a resolved directory inside the root for reading its entries
    /// and changing its metadata.
    pub fn open_dir(&self, rel: &Path) -> io::Result<OwnedFd> {
        open_in_root(
            self.fd(),
            rel,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW,
        )
    }

    /// `lstat` a resolved path; None when it does not exist.
    pub fn lstat(&self, rel: &Path) -> io::Result<Option<Stat>> {
        let (dir, name) = split(rel);
        let Some(name) = name else {
            return rustix::fs::fstat(&self.fd).map(Some).map_err(Into::into);
        };
        let dfd = match self.open_path_dir(dir) {
            Ok(fd) => fd,
            Err(e) if is_missing(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        match rustix::fs::statat(&dfd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(st)),
            Err(Errno::NOENT) | Err(Errno::NOTDIR) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn open_path_dir(&self, rel: &Path) -> io::Result<OwnedFd> {
        open_in_root(self.fd(), rel, OFlags::PATH | OFlags::DIRECTORY)
    }

    /// Resolve `path` inside the root: `.`/`..` folded, symlinks on the
    /// way followed (the last one too when `follow_last`). Components
    /// that do not exist are kept as written, so a destination to create
    /// resolves as well.
    pub fn resolve(
        &self,
        path: &Path,
        follow_last: bool,
        walked: &mut Walked,
    ) -> io::Result<PathBuf> {
        self.walk(path, follow_last, None, walked)
    }

    /// Create every missing directory of `path` (mode 0755, owned by
    /// `owner` when given, as Docker makes a destination's parents), and
    /// return the resolved path. A symlink on the way is followed inside
    /// the root; a non-directory is an error.
    pub fn mkdir_all(&self, path: &Path, owner: Option<(u32, u32)>) -> Result<PathBuf> {
        let shown = Path::new("/").join(lexical(path));
        self.walk(path, true, Some(owner), &mut Walked::default())
            .map_err(|e| anyhow!("create directory {}: {}", shown.display(), describe(&e)))
    }

    fn walk(
        &self,
        path: &Path,
        follow_last: bool,
        create: Option<Option<(u32, u32)>>,
        walked: &mut Walked,
    ) -> io::Result<PathBuf> {
        let mut todo: VecDeque<OsString> = parts(path);
        let mut out = PathBuf::new();
        let mut links = 0;
        while let Some(c) = todo.pop_front() {
            if c == ".." {
                out.pop();
                continue;
            }
            let dir = self.open_path_dir(&out)?;
            let st = match rustix::fs::statat(&dir, &c, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                Err(Errno::NOENT) => {
                    let Some(owner) = create else {
                        // Kept lexically from here on.
                        out.push(&c);
                        for rest in todo {
                            if rest == ".." {
                                out.pop();
                            } else {
                                out.push(rest);
                            }
                        }
                        return Ok(out);
                    };
                    match rustix::fs::mkdirat(&dir, &c, Mode::from_raw_mode(0o755)) {
                        // Made meanwhile by someone else: look again.
                        Err(Errno::EXIST) => {
                            todo.push_front(c);
                            continue;
                        }
                        r => r?,
                    }
                    let made = self.open_dir(&out.join(&c))?;
                    if let Some((u, g)) = owner {
                        rustix::fs::fchown(&made, Some(Uid::from_raw(u)), Some(Gid::from_raw(g)))?;
                    }
                    // The umask must not narrow Docker's 0755.
                    rustix::fs::fchmod(&made, Mode::from_raw_mode(0o755))?;
                    out.push(&c);
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let last = todo.is_empty();
            match FileType::from_raw_mode(st.st_mode) {
                FileType::Symlink if !last || follow_last || create.is_some() => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(Errno::LOOP.into());
                    }
                    let target = rustix::fs::readlinkat(&dir, &c, Vec::new())?;
                    walked.links.push(out.join(&c));
                    let target = Path::new(OsStr::from_bytes(target.as_bytes()));
                    if target.is_absolute() {
                        out = PathBuf::new();
                    }
                    for (i, t) in parts(target).into_iter().enumerate() {
                        todo.insert(i, t);
                    }
                }
                FileType::Directory => out.push(&c),
                _ if last && create.is_none() => out.push(&c),
                _ => return Err(Errno::NOTDIR.into()),
            }
        }
        Ok(out)
    }
}

/// The components of a path that matter: names and `..`.
fn parts(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

/// `path` made relative, `.` and `..` folded without looking at the disk.
pub fn lexical(path: &Path) -> PathBuf {
    crate::runtime::paths::clean(path)
}

/// A resolved path's parent and last name (None for the root itself).
pub fn split(rel: &Path) -> (&Path, Option<&OsStr>) {
    match rel.file_name() {
        Some(n) => (rel.parent().unwrap_or(Path::new("")), Some(n)),
        None => (Path::new(""), None),
    }
}

/// A path inside a root as a user sees it: `/a/b`.
pub fn shown(rel: &Path) -> String {
    Path::new("/").join(rel).display().to_string()
}

fn is_missing(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR))
}

/// An I/O error's cause in words, without Rust's "(os error N)".
pub fn describe(e: &io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn resolves_symlinks_inside_the_root() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("etc/sub")).unwrap();
        symlink("/etc", r.join("abs")).unwrap();
        symlink("../../../..", r.join("etc/up")).unwrap();
        symlink("sub", r.join("etc/rel")).unwrap();
        symlink("nowhere/x", r.join("dangling")).unwrap();
        let root = Root::open(r).unwrap();
        let mut w = Walked::default();
        let res = |p: &str, f: bool, w: &mut Walked| root.resolve(Path::new(p), f, w).unwrap();
        assert_eq!(res("/abs/sub", true, &mut w), Path::new("etc/sub"));
        assert_eq!(w.links, vec![PathBuf::from("abs")]);
        assert_eq!(res("etc/up/etc/rel", true, &mut w), Path::new("etc/sub"));
        assert_eq!(res("etc/up", false, &mut w), Path::new("etc/up"));
        assert_eq!(res("etc/up", true, &mut w), Path::new(""));
        assert_eq!(
            res("../../abs/new/file", true, &mut w),
            Path::new("etc/new/file")
        );
        assert_eq!(res("dangling", true, &mut w), Path::new("nowhere/x"));
        // A loop ends with ELOOP, not a hang.
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("loop1", r.join("loop2")).unwrap();
        let e = root
            .resolve(Path::new("loop1/x"), true, &mut w)
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
        // A file in the middle of a path.
        std::fs::write(r.join("file"), "").unwrap();
        let e = root.resolve(Path::new("file/x"), true, &mut w).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTDIR));
    }

    #[test]
    fn mkdir_all_stays_inside_and_owns() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path().join("root");
        std::fs::create_dir(&r).unwrap();
        symlink("/../../outside", r.join("escape")).unwrap();
        let root = Root::open(&r).unwrap();
        let got = root
            .mkdir_all(Path::new("/escape/a/b"), Some((1234, 4321)))
            .unwrap();
        assert_eq!(got, Path::new("outside/a/b"));
        assert!(r.join("outside/a/b").is_dir());
        assert!(!d.path().join("outside").exists());
        use std::os::unix::fs::MetadataExt;
        let md = std::fs::metadata(r.join("outside/a")).unwrap();
        assert_eq!(
            (md.uid(), md.gid(), md.mode() & 0o7777),
            (1234, 4321, 0o755)
        );
        std::fs::write(r.join("f"), "").unwrap();
        let e = root.mkdir_all(Path::new("f/x"), None).unwrap_err();
        assert_eq!(format!("{e:#}"), "create directory /f/x: Not a directory");
    }
}
