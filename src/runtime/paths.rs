//! Paths inside the container's root, resolved by the kernel so that no
//! symlink in the image can lead out of it (CVE-2021-30465): every lookup
//! is `openat2(RESOLVE_IN_ROOT)` from a descriptor of the root, and mounts
//! then target the descriptor through `/proc/self/fd/N`, never the path
//! again.

use rustix::fs::{openat2, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// The magic-link path of a descriptor, for mount(2) and friends.
pub fn fd_path(fd: BorrowedFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// `path` made relative and cleaned lexically: `.` dropped, `..` never
/// climbing above the root (as the kernel does under RESOLVE_IN_ROOT).
pub fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

fn resolve_flags() -> ResolveFlags {
    ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS
}

/// Open `path` inside `root` (symlinks followed, but only within it).
pub fn open_in_root(root: BorrowedFd, path: &Path, flags: OFlags) -> io::Result<OwnedFd> {
    open_in_root_mode(root, path, flags, Mode::empty())
}

/// [`open_in_root`] with the mode for a file it creates.
fn open_in_root_mode(
    root: BorrowedFd,
    path: &Path,
    flags: OFlags,
    mode: Mode,
) -> io::Result<OwnedFd> {
    let rel = clean(path);
    let rel: &Path = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        &rel
    };
    let mut tries = 0;
    loop {
        match openat2(root, rel, flags | OFlags::CLOEXEC, mode, resolve_flags()) {
            // The kernel asks for a retry when a rename raced the lookup.
            Err(Errno::AGAIN) if tries < 16 => tries += 1,
            r => return r.map_err(io::Error::from),
        }
    }
}

/// An O_PATH descriptor of `path` inside `root`.
pub fn path_in_root(root: BorrowedFd, path: &Path) -> io::Result<OwnedFd> {
    open_in_root(root, path, OFlags::PATH)
}

/// Create every missing directory of `path` inside `root` and return an
/// O_PATH descriptor of the last one.
pub fn mkdir_all_in_root(root: BorrowedFd, path: &Path, mode: u32) -> io::Result<OwnedFd> {
    mkdir_all_depth(root, path, mode, 0)
}

/// Symlinks followed while creating one path, as the kernel's own limit.
const MAX_LINKS: u32 = 40;

fn mkdir_all_depth(root: BorrowedFd, path: &Path, mode: u32, links: u32) -> io::Result<OwnedFd> {
    let rel = clean(path);
    let mut cur = open_in_root(root, Path::new("."), OFlags::PATH | OFlags::DIRECTORY)?;
    let mut sofar = PathBuf::new();
    for c in rel.iter() {
        sofar.push(c);
        cur = match open_in_root(root, &sofar, OFlags::PATH | OFlags::DIRECTORY) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                match rustix::fs::mkdirat(&cur, c, Mode::from_raw_mode(mode)) {
                    Ok(()) => {}
                    // A dangling symlink: make what it points at, resolved
                    // inside the root as the kernel will resolve it
                    // (CVE-2021-30465: never outside).
                    Err(Errno::EXIST) => {
                        if let Ok(target) = rustix::fs::readlinkat(&cur, c, Vec::new()) {
                            if links >= MAX_LINKS {
                                return Err(io::Error::from_raw_os_error(libc::ELOOP));
                            }
                            let target =
                                PathBuf::from(std::ffi::OsStr::from_bytes(target.as_bytes()));
                            let next = if target.is_absolute() {
                                target
                            } else {
                                sofar.parent().unwrap_or(Path::new("")).join(target)
                            };
                            mkdir_all_depth(root, &next, mode, links + 1)?;
                        }
                    }
                    Err(e) => return Err(e.into()),
                }
                open_in_root(root, &sofar, OFlags::PATH | OFlags::DIRECTORY)?
            }
            Err(e) => return Err(e),
        };
    }
    Ok(cur)
}

/// An O_PATH descriptor of a mount target inside `root`, creating it when
/// missing: an empty file when `file`, else a directory (with parents).
pub fn ensure_target(root: BorrowedFd, path: &Path, file: bool) -> io::Result<OwnedFd> {
    match path_in_root(root, path) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        r => return r,
    }
    if !file {
        return mkdir_all_in_root(root, path, 0o755);
    }
    let rel = clean(path);
    mkdir_all_in_root(root, rel.parent().unwrap_or(Path::new("")), 0o755)?;
    // A dangling symlink as the last component: the file is made at its
    // target, which the kernel also keeps inside the root.
    open_in_root_mode(
        root,
        &rel,
        OFlags::CREATE | OFlags::WRONLY,
        Mode::from_raw_mode(0o644),
    )?;
    path_in_root(root, path)
}

/// Is the descriptor a directory?
pub fn is_dir(fd: BorrowedFd) -> io::Result<bool> {
    let st = rustix::fs::fstat(fd)?;
    Ok(st.st_mode & libc::S_IFMT == libc::S_IFDIR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn cleans_lexically_without_climbing_out() {
        assert_eq!(clean(Path::new("/a/./b/../c")), PathBuf::from("a/c"));
        assert_eq!(clean(Path::new("/../../etc")), PathBuf::from("etc"));
        assert_eq!(clean(Path::new("/")), PathBuf::new());
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::os::unix::fs::symlink("/../../outside", root.join("etc/x")).unwrap();
        std::fs::write(d.path().join("outside"), "host").unwrap();
        let rootfd: OwnedFd = std::fs::File::open(&root).unwrap().into();
        // The target does not exist inside the root, so a file is made
        // there, never the host's `outside` used.
        let fd = ensure_target(rootfd.as_fd(), Path::new("/etc/x"), true).unwrap();
        let st = rustix::fs::fstat(&fd).unwrap();
        let inside = std::fs::metadata(root.join("outside")).unwrap();
        assert_eq!(st.st_ino, std::os::unix::fs::MetadataExt::ino(&inside));
        assert_eq!(
            std::fs::read_to_string(d.path().join("outside")).unwrap(),
            "host"
        );
        // Directories with parents.
        let fd = ensure_target(rootfd.as_fd(), Path::new("a/b/c"), false).unwrap();
        assert!(is_dir(fd.as_fd()).unwrap());
        assert!(root.join("a/b/c").is_dir());
    }
}
