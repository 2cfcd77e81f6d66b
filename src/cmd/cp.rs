//! `skiff cp`: copy files between a container and the host, with Docker's
//! rules for where things land (a trailing `/`, a trailing `/.`, an
//! existing directory or file at the destination). Data always travels as
//! a tar stream from a reader thread to the extractor, so `-` (a tar on
//! stdin or stdout) is the same path with one end swapped.

use crate::config::Config;
use crate::container::fs::{container_path, open_root, Access};
use crate::container::state::find;
use crate::container::tarfs::{append_tree, extract, Links, Owner};
use crate::error::{kind_err, ErrorKind};
use crate::runtime::paths::{clean, open_in_root};
use crate::store::Store;
use anyhow::{Context, Result};
use rustix::fs::{Mode, OFlags};
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Archive mode (copy all uid/gid information)
    #[arg(short, long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// Suppress progress output during copy (accepted; skiff prints none)
    #[arg(short, long)]
    pub quiet: bool,
    /// CONTAINER:SRC_PATH, or a local path, or - for a tar on STDIN
    pub src: String,
    /// CONTAINER:DEST_PATH, or a local path, or - for a tar on STDOUT
    pub dest: String,
}

enum Spot<'a> {
    Container(&'a str, &'a str),
    Local(&'a str),
}

/// Docker's split: `NAME:PATH` names a container unless the part before
/// the colon could only be a local path (`./a:b`, `/x:y`).
fn spot(s: &str) -> Spot<'_> {
    if s.starts_with('/') || s.starts_with('.') {
        return Spot::Local(s);
    }
    match s.split_once(':') {
        Some((c, p)) if !c.contains('/') && !c.is_empty() => Spot::Container(c, p),
        _ => Spot::Local(s),
    }
}

/// What the source is, once resolved.
struct Source {
    is_dir: bool,
    /// `SRC/.`: the directory's contents, not the directory.
    contents_only: bool,
    /// The name it gets by default at the destination.
    base_name: PathBuf,
}

fn base_name(p: &str) -> PathBuf {
    clean(Path::new(p))
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_default()
}

fn ends_with_dot(p: &str) -> bool {
    p == "." || p.ends_with("/.")
}

fn invalid(msg: String) -> anyhow::Error {
    kind_err(ErrorKind::InvalidArgument, msg)
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    match (spot(&args.src), spot(&args.dest)) {
        (Spot::Container(..), Spot::Container(..)) => Err(invalid(
            "copying between containers is not supported".into(),
        )),
        (Spot::Local(_), Spot::Local(_)) => {
            Err(invalid("must specify at least one container source".into()))
        }
        (Spot::Container(c, p), Spot::Local(d)) => copy_out(&args, cfg, c, p, d),
        (Spot::Local(s), Spot::Container(c, p)) => copy_in(&args, cfg, s, c, p),
    }
    .map(|()| 0)
}

/// Resolve `path` inside `root` (following symlinks inside it, and the last
/// one only when `follow`) to an O_PATH descriptor.
fn resolve(root: BorrowedFd, path: &Path, follow: bool) -> std::io::Result<OwnedFd> {
    let flags = if follow {
        OFlags::PATH
    } else {
        OFlags::PATH | OFlags::NOFOLLOW
    };
    open_in_root(root, path, flags)
}

fn is_dir_fd(fd: BorrowedFd) -> bool {
    crate::runtime::paths::is_dir(fd).unwrap_or(false)
}

/// Run `produce` (writing a tar) on a thread and `consume` (reading it)
/// here, joined by a pipe; the first error wins.
fn pipe_through(
    produce: impl FnOnce(&mut dyn Write) -> Result<()> + Send,
    consume: impl FnOnce(&mut dyn Read) -> Result<()>,
) -> Result<()> {
    let (mut r, w) = std::io::pipe().context("make a pipe")?;
    std::thread::scope(|s| {
        let h = s.spawn(move || {
            let mut w = w;
            produce(&mut w)
        });
        let res = consume(&mut r);
        // Unblock a producer the consumer stopped listening to.
        let _ = std::io::copy(&mut r, &mut std::io::sink());
        drop(r);
        let prod = h
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the archive thread panicked")));
        res.and(prod)
    })
}

/// A tar of `name` inside `dir`, its entries named under `tarname`.
fn write_tar(w: &mut dyn Write, dir: BorrowedFd, name: &OsStr, tarname: &Path) -> Result<()> {
    let mut b = tar::Builder::new(std::io::BufWriter::with_capacity(1 << 20, w));
    b.follow_symlinks(false);
    append_tree(&mut b, dir, name, tarname, &mut Links::new())?;
    b.into_inner()?.flush()?;
    Ok(())
}

fn copy_out(args: &Args, cfg: &Config, c: &str, p: &str, dest: &str) -> Result<()> {
    let store = Store::open(&cfg.root)?;
    let rec = find(&store, c)?;
    let view = open_root(&store, &rec, Access::Read)?;
    let cpath = container_path(p);
    let follow = args.follow_link || p.ends_with('/') || ends_with_dot(p);
    let not_found = || {
        kind_err(
            ErrorKind::NotFound,
            format!("Could not find the file {p} in container {c}"),
        )
    };
    let src = resolve(view.fd(), &cpath, follow).map_err(|_| not_found())?;
    let is_dir = is_dir_fd(src.as_fd());
    if p.ends_with('/') && !is_dir {
        return Err(invalid(format!("{p}: not a directory")));
    }
    let source = Source {
        is_dir,
        contents_only: is_dir && ends_with_dot(p),
        base_name: base_name(p),
    };
    if dest == "-" {
        let name = if source.contents_only {
            PathBuf::new()
        } else {
            source.base_name.clone()
        };
        let out = std::io::stdout();
        let mut lock = out.lock();
        return write_tar(&mut lock, src.as_fd(), OsStr::new(""), &name);
    }
    let (parent, name) = landing(&source, dest, local_kind(dest))?;
    let host_parent = rustix::fs::open(
        &parent,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| invalid(format!("destination directory {}: {e}", parent.display())))?;
    let owner = if args.archive {
        Owner::Keep
    } else {
        Owner::Caller
    };
    let srcfd = src.as_fd();
    pipe_through(
        |w| write_tar(w, srcfd, OsStr::new(""), &name),
        |r| extract(r, host_parent.as_fd(), Path::new(""), owner),
    )
    .with_context(|| format!("copy {c}:{p} to {dest}"))
}

/// What is at a destination path now.
enum DestKind {
    Missing,
    Dir,
    File,
}

fn local_kind(p: &str) -> DestKind {
    match std::fs::metadata(p) {
        Ok(m) if m.is_dir() => DestKind::Dir,
        Ok(_) => DestKind::File,
        Err(_) => DestKind::Missing,
    }
}

/// Where the source lands: the directory to extract into and the name the
/// source's top entry gets there (empty: its contents go in directly).
fn landing(src: &Source, dest: &str, kind: DestKind) -> Result<(PathBuf, PathBuf)> {
    let d = Path::new(dest);
    let parent_of = || {
        let c = d.parent().unwrap_or(Path::new(""));
        if c.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            c.to_path_buf()
        }
    };
    let own_name = || d.file_name().map(PathBuf::from).unwrap_or_default();
    Ok(match kind {
        DestKind::Dir if src.contents_only => (d.to_path_buf(), PathBuf::new()),
        DestKind::Dir => (d.to_path_buf(), src.base_name.clone()),
        DestKind::File if src.is_dir => {
            return Err(invalid(format!(
                "cannot copy a directory to a file: {dest} is not a directory"
            )))
        }
        DestKind::File => (parent_of(), own_name()),
        DestKind::Missing if dest.ends_with('/') && !src.is_dir => {
            return Err(invalid(format!(
                "destination directory {dest} does not exist"
            )))
        }
        DestKind::Missing => (parent_of(), own_name()),
    })
}

fn copy_in(args: &Args, cfg: &Config, local: &str, c: &str, p: &str) -> Result<()> {
    let store = Store::open(&cfg.root)?;
    let rec = find(&store, c)?;
    let view = open_root(&store, &rec, Access::Write)?;
    let root = view.fd();
    let cpath = clean(&container_path(p));
    let owner = if args.archive {
        Owner::Keep
    } else {
        Owner::Force(0, 0)
    };
    let what = || format!("copy {local} to {c}:{p}");
    let kind = match resolve(root, &cpath, true) {
        Ok(fd) if is_dir_fd(fd.as_fd()) => DestKind::Dir,
        Ok(_) => DestKind::File,
        Err(_) => DestKind::Missing,
    };
    if local == "-" {
        if !matches!(kind, DestKind::Dir) {
            return Err(kind_err(
                ErrorKind::NotFound,
                format!("Could not find the directory {p} in container {c}"),
            ));
        }
        let stdin = std::io::stdin();
        return extract(stdin.lock(), root, &cpath, owner).with_context(what);
    }
    let follow = args.follow_link || local.ends_with('/') || ends_with_dot(local);
    let abs = std::path::absolute(local).with_context(|| format!("resolve {local}"))?;
    let host_root =
        rustix::fs::open("/", OFlags::PATH | OFlags::CLOEXEC, Mode::empty()).context("open /")?;
    let src = resolve(host_root.as_fd(), &abs, follow).map_err(|e| {
        kind_err(
            ErrorKind::NotFound,
            format!("lstat {local}: {}", crate::runtime::io_text(&e)),
        )
    })?;
    let is_dir = is_dir_fd(src.as_fd());
    if local.ends_with('/') && !is_dir {
        return Err(invalid(format!("{local}: not a directory")));
    }
    let source = Source {
        is_dir,
        contents_only: is_dir && ends_with_dot(local),
        base_name: base_name(local),
    };
    let shown = Path::new("/").join(&cpath);
    let (parent, name) = landing(&source, &shown.to_string_lossy(), kind)?;
    if !matches!(resolve(root, &parent, true), Ok(fd) if is_dir_fd(fd.as_fd())) {
        return Err(kind_err(
            ErrorKind::NotFound,
            format!(
                "Could not find the file {} in container {c}",
                parent.display()
            ),
        ));
    }
    let srcfd = src.as_fd();
    pipe_through(
        |w| write_tar(w, srcfd, OsStr::new(""), &name),
        |r| extract(r, root, &parent, owner),
    )
    .with_context(what)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(is_dir: bool, p: &str) -> Source {
        Source {
            is_dir,
            contents_only: is_dir && ends_with_dot(p),
            base_name: base_name(p),
        }
    }

    #[test]
    fn spots() {
        assert!(matches!(spot("c:/etc"), Spot::Container("c", "/etc")));
        assert!(matches!(spot("./c:/etc"), Spot::Local(_)));
        assert!(matches!(spot("/tmp/x"), Spot::Local(_)));
        assert!(matches!(spot("-"), Spot::Local("-")));
    }

    #[test]
    fn landings_follow_docker() {
        let l = |s: &Source, d: &str, k| landing(s, d, k).map_err(|e| e.to_string());
        // A file into a directory keeps its name; onto a file or a new
        // name takes that name.
        let f = src(false, "/etc/hosts");
        assert_eq!(
            l(&f, "/tmp", DestKind::Dir).unwrap(),
            ("/tmp".into(), "hosts".into())
        );
        assert_eq!(
            l(&f, "/tmp/x", DestKind::Missing).unwrap(),
            ("/tmp".into(), "x".into())
        );
        assert!(l(&f, "/tmp/x/", DestKind::Missing).is_err());
        // A directory: into an existing one, unless `/.`.
        let d = src(true, "/etc");
        assert_eq!(
            l(&d, "/tmp", DestKind::Dir).unwrap(),
            ("/tmp".into(), "etc".into())
        );
        let dot = src(true, "/etc/.");
        assert_eq!(
            l(&dot, "/tmp", DestKind::Dir).unwrap(),
            ("/tmp".into(), PathBuf::new())
        );
        assert_eq!(
            l(&d, "/tmp/new", DestKind::Missing).unwrap(),
            ("/tmp".into(), "new".into())
        );
        assert!(l(&d, "/tmp/file", DestKind::File).is_err());
    }
}
