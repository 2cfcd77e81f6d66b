//! Tar archives: recognising one (ADD extracts a local archive instead of
//! copying it, as Docker does when the file is a tar, plain or
//! compressed) and extracting one safely (ADD, and a context given as a
//! tar on stdin).
//!
//! Extraction treats the destination directory as the archive's root, as
//! Docker's `chrootarchive` does: a name with `..` that would climb out is
//! refused, an absolute name lands inside, and every parent is resolved
//! inside the destination, so a symlink from the archive (`x -> /etc`,
//! then `x/passwd`) or one already there cannot lead a file out of it.
//!
//! Whiteouts are dropped: a `.wh.NAME` file or a 0:0 character device
//! written into the step's file system would turn into a real deletion
//! marker once that file system becomes an image layer, hiding files of
//! the layers below, which nobody asked an `ADD` to do.

use super::root::{describe, split, Root, Walked};
use crate::image::whiteout::is_overlay_xattr;
use anyhow::{anyhow, bail, Context, Result};
use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid, XattrFlags};
use rustix::io::Errno;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// How a stream is compressed, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain stream.
    None,
    /// gzip (`1f 8b 08`).
    Gzip,
    /// zstd (`28 b5 2f fd`).
    Zstd,
    /// Recognised, but no decoder is built in.
    Bzip2,
    /// Recognised, but no decoder is built in.
    Xz,
}

/// The compression the magic bytes at the start of a stream announce.
pub fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b, 0x08]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Compression::Xz
    } else if head.len() >= 10
        && head.starts_with(b"BZh")
        && (b'1'..=b'9').contains(&head[3])
        && (head[4..10] == [0x31, 0x41, 0x59, 0x26, 0x53, 0x59]
            || head[4..10] == [0x17, 0x72, 0x45, 0x38, 0x50, 0x90])
    {
        Compression::Bzip2
    } else {
        Compression::None
    }
}

/// A reader of the decompressed stream.
pub fn decompress<'a, R: BufRead + 'a>(c: Compression, r: R) -> Result<Box<dyn Read + 'a>> {
    Ok(match c {
        Compression::None => Box::new(r),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        Compression::Zstd => Box::new(zstd::Decoder::with_buffer(r).context("start zstd decoder")?),
        Compression::Bzip2 => bail!("bzip2-compressed archives are not supported"),
        Compression::Xz => bail!("xz-compressed archives are not supported"),
    })
}

/// Is `block` a valid tar header (what Go's `tar.Reader.Next` accepts
/// for a first entry)? An all-zero block is an empty archive, which
/// Docker copies as a plain file.
pub fn is_tar_header(block: &[u8]) -> bool {
    if block.len() < 512 || block[..512].iter().all(|&b| b == 0) {
        return false;
    }
    let h = tar::Header::from_byte_slice(&block[..512]);
    let Ok(want) = h.cksum() else {
        return false;
    };
    let unsigned: u32 = block[..512]
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                b as u32
            }
        })
        .sum();
    let signed: i64 = block[..512]
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                b as i8 as i64
            }
        })
        .sum();
    want == unsigned || want as i64 == signed
}

/// Read up to `n` bytes (fewer only at the end of the stream).
pub fn read_head(r: &mut impl Read, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(n);
    r.take(n as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// If the file is a tar archive (plain, gzip or zstd), how it is
/// compressed; None for anything else, which ADD copies as it is. A
/// bzip2 or xz stream is an error: Docker would extract it, and copying
/// it instead would silently build something else.
pub fn archive_kind(file: &File, shown: &str) -> Result<Option<Compression>> {
    let mut f = file;
    let head = read_head(&mut f, 16).with_context(|| format!("read {shown}"))?;
    rustix::fs::seek(file, rustix::fs::SeekFrom::Start(0))
        .with_context(|| format!("read {shown}"))?;
    let c = sniff(&head);
    if matches!(c, Compression::Bzip2 | Compression::Xz) {
        let what = if c == Compression::Bzip2 {
            "bzip2"
        } else {
            "xz"
        };
        bail!("extract {shown}: {what}-compressed archives are not supported; decompress it first");
    }
    let mut r = decompress(c, BufReader::new(file))?;
    // A stream that does not decompress is no archive: copied as is.
    let block = read_head(&mut r, 512).unwrap_or_default();
    drop(r);
    rustix::fs::seek(file, rustix::fs::SeekFrom::Start(0))
        .with_context(|| format!("read {shown}"))?;
    Ok(is_tar_header(&block).then_some(c))
}

/// How an extraction treats what the archive says.
#[derive(Debug, Clone, Copy)]
pub struct Extract {
    /// Give entries the archive's owners (ADD); otherwise they belong to
    /// whoever runs skiff (a context).
    pub owners: bool,
    /// Create device nodes and fifos; otherwise they are skipped.
    pub devices: bool,
}

/// Metadata of one entry, PAX records applied.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    xattrs: Vec<(String, Vec<u8>)>,
}

fn meta<R: Read>(e: &mut tar::Entry<'_, R>) -> Result<Meta> {
    let h = e.header();
    let mut m = Meta {
        mode: h.mode().unwrap_or(0o644) & 0o7777,
        uid: h.uid().unwrap_or(0) as u32,
        gid: h.gid().unwrap_or(0) as u32,
        mtime: h.mtime().unwrap_or(0) as i64,
        xattrs: Vec::new(),
    };
    if let Some(pax) = e.pax_extensions().context("read PAX records")? {
        for ext in pax {
            let ext = ext.context("read PAX records")?;
            let Ok(key) = ext.key() else { continue };
            let value = ext.value().unwrap_or("");
            match key {
                "uid" => m.uid = value.parse().unwrap_or(m.uid),
                "gid" => m.gid = value.parse().unwrap_or(m.gid),
                "mtime" => {
                    let secs = value.split('.').next().unwrap_or("");
                    m.mtime = secs.parse().unwrap_or(m.mtime);
                }
                _ => {
                    if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                        if !is_overlay_xattr(name) {
                            m.xattrs
                                .push((name.to_string(), ext.value_bytes().to_vec()));
                        }
                    }
                }
            }
        }
    }
    Ok(m)
}

fn times(secs: i64) -> Timestamps {
    let t = Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// An entry's name as a path inside the destination: Docker cleans it,
/// takes an absolute one as relative, and refuses one that climbs out.
fn entry_path(raw: &[u8]) -> Result<PathBuf> {
    let p = Path::new(OsStr::from_bytes(raw));
    let mut out: Vec<&OsStr> = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir if out.pop().is_none() => bail!(
                "archive entry {:?} would land outside the destination",
                String::from_utf8_lossy(raw)
            ),
            _ => {}
        }
    }
    Ok(out.iter().collect())
}

/// Is this name a whiteout or other overlay bookkeeping?
fn is_whiteout(rel: &Path) -> bool {
    rel.iter().any(|c| c.as_bytes().starts_with(b".wh."))
}

/// Remove `name` in `dir` and, for a directory, all it holds, never
/// following a symlink.
pub fn remove_all_at(dir: BorrowedFd, name: &OsStr) -> io::Result<()> {
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) => return Ok(()),
        Err(Errno::ISDIR) | Err(Errno::PERM) => {}
        Err(e) => return Err(e.into()),
    }
    let sub = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut names = Vec::new();
    for e in rustix::fs::Dir::read_from(&sub)? {
        let e = e?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(OsStr::from_bytes(n).to_os_string());
        }
    }
    for n in names {
        remove_all_at(sub.as_fd(), &n)?;
    }
    rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)?;
    Ok(())
}

/// Extract the tar stream `r` into `root` (the destination directory,
/// open as a root).
pub fn extract<R: Read>(r: R, root: &Root, opts: Extract) -> Result<()> {
    let mut ar = tar::Archive::new(r);
    let mut dirs: Vec<(PathBuf, Meta)> = Vec::new();
    // The parent of the previous entry, open: most entries share it.
    let mut cached: Option<(PathBuf, OwnedFd)> = None;
    for entry in ar.entries().context("read the archive")? {
        let mut entry = entry.context("read the archive")?;
        let rel = entry_path(&entry.path_bytes())?;
        if rel.as_os_str().is_empty() || is_whiteout(&rel) {
            continue;
        }
        let kind = entry.header().entry_type();
        let m = meta(&mut entry)?;
        let shown = rel.display().to_string();
        let made = || format!("extract {shown}");
        let (parent, name) = split(&rel);
        let name = name.expect("a non-empty path has a name").to_os_string();
        // Resolve the parent (making what is missing, as Docker does),
        // inside the destination.
        let pfd = match &cached {
            Some((p, fd)) if p == parent => fd.try_clone().with_context(made)?,
            _ => {
                let resolved = root.mkdir_all(parent, None).with_context(made)?;
                let fd = root.open_dir(&resolved).with_context(made)?;
                cached = Some((parent.to_path_buf(), fd.try_clone().with_context(made)?));
                fd
            }
        };
        let existing = rustix::fs::statat(&pfd, &name, AtFlags::SYMLINK_NOFOLLOW).ok();
        let existing_dir = existing
            .as_ref()
            .is_some_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::Directory);
        if kind.is_dir() {
            if !existing_dir {
                if existing.is_some() {
                    remove_all_at(pfd.as_fd(), &name).with_context(made)?;
                }
                rustix::fs::mkdirat(&pfd, &name, Mode::from_raw_mode(0o700)).with_context(made)?;
                cached = None;
            }
            dirs.push((rel, m));
            continue;
        }
        let node_kind = match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                Some(FileType::RegularFile)
            }
            tar::EntryType::Symlink => Some(FileType::Symlink),
            tar::EntryType::Link => None,
            tar::EntryType::Char => Some(FileType::CharacterDevice),
            tar::EntryType::Block => Some(FileType::BlockDevice),
            tar::EntryType::Fifo => Some(FileType::Fifo),
            // Metadata-only entries (PAX, GNU long names) are consumed by
            // the reader; anything else has no file to make.
            _ => continue,
        };
        let dev = (
            entry.header().device_major().ok().flatten().unwrap_or(0),
            entry.header().device_minor().ok().flatten().unwrap_or(0),
        );
        if matches!(
            node_kind,
            Some(FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo)
        ) && (!opts.devices || (node_kind == Some(FileType::CharacterDevice) && dev == (0, 0)))
        {
            continue;
        }
        if existing.is_some() {
            // Docker replaces whatever is there, a directory included.
            remove_all_at(pfd.as_fd(), &name).with_context(made)?;
            if existing_dir {
                cached = None;
            }
        }
        let owner = || (Some(Uid::from_raw(m.uid)), Some(Gid::from_raw(m.gid)));
        match node_kind {
            None => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| anyhow!("{}: hard link without a target", made()))?;
                let target = entry_path(&target)?;
                let (tdir, tname) = split(&target);
                let tname = tname.ok_or_else(|| anyhow!("{}: hard link to the root", made()))?;
                let resolved = root
                    .resolve(tdir, true, &mut Walked::default())
                    .with_context(made)?;
                let tfd = root.open_dir(&resolved).with_context(made)?;
                rustix::fs::linkat(&tfd, tname, &pfd, &name, AtFlags::empty())
                    .map_err(|e| anyhow!("{}: link to {}: {e}", made(), target.display()))?;
            }
            Some(FileType::RegularFile) => {
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
                if opts.owners {
                    let (u, g) = owner();
                    rustix::fs::fchown(&f, u, g).with_context(made)?;
                }
                // After chown, which clears set-id bits and capabilities.
                rustix::fs::fchmod(&f, Mode::from_raw_mode(m.mode)).with_context(made)?;
                for (k, v) in &m.xattrs {
                    // Best effort, as BuildKit: a file system without
                    // xattrs (or a name only root may set) is no failure.
                    let _ = rustix::fs::fsetxattr(f.as_fd(), k.as_str(), v, XattrFlags::empty());
                }
                rustix::fs::futimens(&f, &times(m.mtime)).with_context(made)?;
            }
            Some(FileType::Symlink) => {
                let target = entry.link_name_bytes().unwrap_or_default();
                // Docker refuses a link whose target climbs out of the
                // destination, even though nothing here would follow it
                // out.
                let joined = parent.join(OsStr::from_bytes(&target));
                if entry_path(joined.as_os_str().as_bytes()).is_err() {
                    bail!(
                        "{}: symlink target {:?} is outside the destination",
                        made(),
                        String::from_utf8_lossy(&target)
                    );
                }
                rustix::fs::symlinkat(OsStr::from_bytes(&target), &pfd, &name)
                    .with_context(made)?;
                if opts.owners {
                    let (u, g) = owner();
                    rustix::fs::chownat(&pfd, &name, u, g, AtFlags::SYMLINK_NOFOLLOW)
                        .with_context(made)?;
                }
                let _ =
                    rustix::fs::utimensat(&pfd, &name, &times(m.mtime), AtFlags::SYMLINK_NOFOLLOW);
            }
            Some(ft) => {
                let dev = rustix::fs::makedev(dev.0, dev.1);
                rustix::fs::mknodat(&pfd, &name, ft, Mode::from_raw_mode(m.mode), dev)
                    .with_context(made)?;
                if opts.owners {
                    let (u, g) = owner();
                    rustix::fs::chownat(&pfd, &name, u, g, AtFlags::SYMLINK_NOFOLLOW)
                        .with_context(made)?;
                }
                let _ =
                    rustix::fs::utimensat(&pfd, &name, &times(m.mtime), AtFlags::SYMLINK_NOFOLLOW);
            }
        }
    }
    // Directories last and deepest first: a read-only mode or an mtime set
    // earlier would be spoiled by the entries written into them.
    for (rel, m) in dirs.iter().rev() {
        let what = || format!("extract {}", rel.display());
        let resolved = root
            .resolve(rel, false, &mut Walked::default())
            .with_context(what)?;
        let fd = match root.open_dir(&resolved) {
            Ok(fd) => fd,
            // Replaced by a later entry: nothing left to set.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENOTDIR | libc::ELOOP | libc::ENOENT)
                ) =>
            {
                continue
            }
            Err(e) => bail!("{}: {}", what(), describe(&e)),
        };
        if opts.owners {
            rustix::fs::fchown(&fd, Some(Uid::from_raw(m.uid)), Some(Gid::from_raw(m.gid)))
                .with_context(what)?;
        }
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(m.mode)).with_context(what)?;
        for (k, v) in &m.xattrs {
            let _ = rustix::fs::fsetxattr(fd.as_fd(), k.as_str(), v, XattrFlags::empty());
        }
        rustix::fs::futimens(&fd, &times(m.mtime)).with_context(what)?;
    }
    Ok(())
}
