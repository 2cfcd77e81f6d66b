//! Unpack one layer tar into a directory that overlayfs will stack as a
//! lowerdir: whiteouts become overlay whiteouts, and no entry lands
//! outside the directory (see `unpack_tree`).
//!
//! Files are created here rather than with `tar::Entry::unpack`, to keep
//! full control of path resolution and to spend few system calls per entry
//! (a pull benchmark compares this with `tar -x`): everything on a regular
//! file goes through its open fd, and directory metadata is applied once at
//! the end.

use anyhow::{Context, Result};
use rustix::fd::AsFd;
use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid, XattrFlags};
use rustix::io::Errno;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use tar::EntryType;

use super::unpack_tree::{at_path, clean_entry_path, refused, DirMeta, Tree};
use super::whiteout::{self, Whiteout};

/// Large enough that a big file streams in few read/write pairs.
const BUF_SIZE: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, Default)]
pub struct UnpackOptions {
    /// Unpacking without root: no chown, no device nodes, and overlay
    /// metadata in the `user.overlay.*` xattrs a `userxattr` mount reads.
    pub rootless: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnpackStats {
    /// Bytes of regular file content written (hardlinks counted once).
    pub size: u64,
    /// Entries created (files, dirs, links, nodes, whiteouts).
    pub files: u64,
}

/// Unpack an uncompressed layer tar into `dest` (an empty directory). The
/// stream is read to its very end, trailing blocks included, because the
/// caller hashes it to get the layer's diff ID.
pub fn unpack_layer(tar: impl Read, dest: &Path, opts: &UnpackOptions) -> Result<UnpackStats> {
    let mut u = Unpacker::new(dest, opts)?;
    let mut archive = tar::Archive::new(BufReader::with_capacity(BUF_SIZE, tar));
    for entry in archive.entries().context("read layer tar")? {
        let mut entry = entry.context("read layer tar")?;
        let raw = entry.path_bytes().into_owned();
        u.entry(&mut entry, &raw)
            .with_context(|| format!("layer entry {:?}", String::from_utf8_lossy(&raw)))?;
    }
    u.tree
        .finish()
        .context("unpack layer: directory metadata")?;
    // The end-of-archive blocks and any padding after them: part of the
    // blob, so part of the diff ID the caller is computing.
    io::copy(&mut archive.into_inner(), &mut io::sink()).context("read layer tar: trailer")?;
    Ok(u.stats)
}

/// Owner, mode, times and xattrs of one entry, PAX records applied.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: Timespec,
    xattrs: Vec<(String, Vec<u8>)>,
}

impl Meta {
    fn of<R: Read>(e: &mut tar::Entry<'_, R>) -> Result<Meta> {
        let h = e.header();
        let mode = h.mode().context("entry mode")? & 0o7777;
        let mut uid = h.uid().context("entry uid")?;
        let mut gid = h.gid().context("entry gid")?;
        let mut mtime = Timespec {
            tv_sec: h.mtime().context("entry mtime")? as i64,
            tv_nsec: 0,
        };
        let mut xattrs = Vec::new();
        if let Some(pax) = e.pax_extensions().context("entry PAX records")? {
            for ext in pax {
                let ext = ext.context("entry PAX records")?;
                let Ok(key) = ext.key() else { continue };
                let value = ext.value_bytes();
                match key {
                    "uid" => uid = parse_num(value).context("PAX uid")?,
                    "gid" => gid = parse_num(value).context("PAX gid")?,
                    "mtime" => mtime = parse_pax_time(value).context("PAX mtime")?,
                    _ => {
                        if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                            if !whiteout::is_overlay_xattr(name) {
                                xattrs.push((name.to_string(), value.to_vec()));
                            }
                        }
                    }
                }
            }
        }
        let uid = u32::try_from(uid).map_err(|_| refused(format!("uid {uid} out of range")))?;
        let gid = u32::try_from(gid).map_err(|_| refused(format!("gid {gid} out of range")))?;
        Ok(Meta {
            mode,
            uid,
            gid,
            mtime,
            xattrs,
        })
    }

    fn times(&self) -> Timestamps {
        Timestamps {
            last_access: self.mtime,
            last_modification: self.mtime,
        }
    }
}

fn parse_num(v: &[u8]) -> Result<u64> {
    let s = std::str::from_utf8(v).context("not text")?;
    s.trim()
        .parse()
        .with_context(|| format!("bad number {s:?}"))
}

/// A PAX time: decimal seconds with an optional fraction, maybe negative.
fn parse_pax_time(v: &[u8]) -> Result<Timespec> {
    let s = std::str::from_utf8(v).context("not text")?.trim();
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let bad = || format!("bad time {s:?}");
    let tv_sec: i64 = secs.parse().with_context(bad)?;
    let digits: String = frac.chars().take(9).collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        anyhow::bail!(bad());
    }
    let tv_nsec: i64 = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse().with_context(bad)?
    };
    // "-1.5" is 1.5 seconds before the epoch: -2 s + 0.5e9 ns.
    Ok(if secs.starts_with('-') && tv_nsec > 0 {
        Timespec {
            tv_sec: tv_sec - 1,
            tv_nsec: (1_000_000_000 - tv_nsec) as _,
        }
    } else {
        Timespec {
            tv_sec,
            tv_nsec: tv_nsec as _,
        }
    })
}

struct Unpacker {
    tree: Tree,
    rootless: bool,
    /// Root chowns, and so does root of the rootless user namespace
    /// (`ns::rootless`): only a plain unprivileged user cannot.
    can_chown: bool,
    euid: u32,
    egid: u32,
    /// chown even to our own ids (the layer root has setgid, so new files
    /// would inherit its group rather than get ours).
    always_chown: bool,
    buf: Vec<u8>,
    stats: UnpackStats,
    /// Directories made opaque by this layer (the xwhiteout marker must
    /// not downgrade them).
    opaque: std::collections::HashSet<std::path::PathBuf>,
}

impl Unpacker {
    fn new(dest: &Path, opts: &UnpackOptions) -> Result<Unpacker> {
        let tree = Tree::open(dest)?;
        let st =
            rustix::fs::fstat(tree.fd()).with_context(|| format!("stat {}", dest.display()))?;
        Ok(Unpacker {
            tree,
            rootless: opts.rootless,
            can_chown: !opts.rootless
                || (nix::unistd::geteuid().is_root() && crate::util::ids::in_userns()),
            euid: nix::unistd::geteuid().as_raw(),
            egid: nix::unistd::getegid().as_raw(),
            always_chown: st.st_mode & 0o2000 != 0,
            buf: vec![0; BUF_SIZE],
            stats: UnpackStats::default(),
            opaque: Default::default(),
        })
    }

    fn entry<R: Read>(&mut self, e: &mut tar::Entry<'_, R>, raw: &[u8]) -> Result<()> {
        let mut kind = e.header().entry_type();
        if matches!(
            kind,
            EntryType::XGlobalHeader
                | EntryType::XHeader
                | EntryType::GNULongName
                | EntryType::GNULongLink
        ) {
            return Ok(());
        }
        // Old (pre-POSIX) archives mark directories only by a trailing slash.
        if kind == EntryType::Regular && raw.ends_with(b"/") {
            kind = EntryType::Directory;
        }
        let rel = clean_entry_path(raw)?;
        if whiteout::in_meta_dir(&rel) {
            return Ok(());
        }
        let parent = rel.parent().unwrap_or(Path::new(""));
        if let Some(name) = rel.file_name() {
            match whiteout::classify(name) {
                Whiteout::None => {}
                Whiteout::Opaque => return self.opaque_dir(parent),
                Whiteout::Remove(target) => return self.whiteout(parent, target),
                Whiteout::Meta => return Ok(()),
                Whiteout::Invalid => return Err(refused("whiteout names no file")),
            }
        } else if kind != EntryType::Directory {
            return Err(refused("only a directory may name the layer root"));
        }
        let meta = Meta::of(e)?;
        match kind {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.file(e, &rel, &meta)
            }
            EntryType::Directory => self.dir(&rel, &meta),
            EntryType::Symlink => {
                let target = e
                    .link_name_bytes()
                    .ok_or_else(|| refused("symlink without a target"))?
                    .into_owned();
                self.symlink(&rel, &target, &meta)
            }
            EntryType::Link => {
                let target = e
                    .link_name_bytes()
                    .ok_or_else(|| refused("hardlink without a target"))?
                    .into_owned();
                self.hardlink(&rel, &target)
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let major = e.header().device_major().ok().flatten().unwrap_or(0);
                let minor = e.header().device_minor().ok().flatten().unwrap_or(0);
                self.node(&rel, kind, rustix::fs::makedev(major, minor), &meta)
            }
            // Volume labels and other exotica carry nothing for a rootfs;
            // `tar -x` skips them too.
            _ => Ok(()),
        }
    }

    fn chown_needed(&self, m: &Meta) -> bool {
        self.can_chown && (self.always_chown || m.uid != self.euid || m.gid != self.egid)
    }

    /// An id the rootless namespace does not map (no subordinate ids, or
    /// too few) cannot be given: the file stays root's of the namespace,
    /// as the warning made with the namespace said.
    fn chown_result(&self, r: rustix::io::Result<()>, rel: &Path) -> Result<()> {
        match r {
            Err(Errno::INVAL) if self.rootless => Ok(()),
            r => r.with_context(|| format!("chown {}", rel.display())),
        }
    }

    fn file<R: Read>(&mut self, e: &mut tar::Entry<'_, R>, rel: &Path, m: &Meta) -> Result<()> {
        self.tree
            .ensure_dir(rel.parent().unwrap_or(Path::new("")))?;
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = self.tree.create(rel, "file", |dir, p| {
            rustix::fs::openat(dir, p, flags, Mode::from_raw_mode(0o600))
        })?;
        let mut f = File::from(fd);
        let mut written = 0u64;
        loop {
            let n = e.read(&mut self.buf).context("read file data")?;
            if n == 0 {
                break;
            }
            f.write_all(&self.buf[..n])
                .with_context(|| format!("write {}", rel.display()))?;
            written += n as u64;
        }
        // Order matters: chown clears setuid/setgid and file capabilities,
        // so mode and xattrs come after it; times come last.
        if self.chown_needed(m) {
            let r = rustix::fs::fchown(&f, Some(Uid::from_raw(m.uid)), Some(Gid::from_raw(m.gid)));
            self.chown_result(r, rel)?;
        }
        rustix::fs::fchmod(&f, Mode::from_raw_mode(m.mode))
            .with_context(|| format!("chmod {}", rel.display()))?;
        for (name, value) in &m.xattrs {
            let r = rustix::fs::fsetxattr(f.as_fd(), name.as_str(), value, XattrFlags::empty());
            self.xattr_result(rel, name, r)?;
        }
        rustix::fs::futimens(&f, &m.times())
            .with_context(|| format!("set times of {}", rel.display()))?;
        self.stats.size += written;
        self.stats.files += 1;
        Ok(())
    }

    fn dir(&mut self, rel: &Path, m: &Meta) -> Result<()> {
        if !rel.as_os_str().is_empty() {
            self.tree
                .ensure_dir(rel.parent().unwrap_or(Path::new("")))?;
            match rustix::fs::mkdirat(self.tree.fd(), rel, Mode::from_raw_mode(0o755)) {
                Ok(()) => {}
                Err(Errno::EXIST) => {
                    let st = rustix::fs::statat(self.tree.fd(), rel, AtFlags::SYMLINK_NOFOLLOW)
                        .with_context(|| format!("stat {}", rel.display()))?;
                    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
                        self.tree.remove(rel)?;
                        rustix::fs::mkdirat(self.tree.fd(), rel, Mode::from_raw_mode(0o755))
                            .with_context(|| format!("create directory {}", rel.display()))?;
                    }
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("create directory {}", rel.display()))
                }
            }
        }
        let p = at_path(rel);
        if self.chown_needed(m) {
            let r = rustix::fs::chownat(
                self.tree.fd(),
                p,
                Some(Uid::from_raw(m.uid)),
                Some(Gid::from_raw(m.gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            );
            self.chown_result(r, p)?;
        }
        self.set_xattrs_by_path(rel, &m.xattrs)?;
        self.tree.add_dir(
            rel,
            Some(DirMeta {
                mode: m.mode,
                mtime: m.mtime,
            }),
        );
        self.stats.files += 1;
        Ok(())
    }

    /// A symlink's target is data: it may point anywhere, because nothing
    /// is ever resolved through it while unpacking.
    fn symlink(&mut self, rel: &Path, target: &[u8], m: &Meta) -> Result<()> {
        self.tree
            .ensure_dir(rel.parent().unwrap_or(Path::new("")))?;
        let target = OsStr::from_bytes(target);
        self.tree.create(rel, "symlink", |dir, p| {
            rustix::fs::symlinkat(target, dir, p)
        })?;
        self.finish_node(rel, m, false)
    }

    fn hardlink(&mut self, rel: &Path, target_raw: &[u8]) -> Result<()> {
        let shown = String::from_utf8_lossy(target_raw);
        if target_raw.starts_with(b"/") {
            return Err(refused(format!("hardlink target {shown:?} is absolute")));
        }
        let target = clean_entry_path(target_raw)
            .map_err(|e| refused(format!("hardlink target {shown:?}: {e}")))?;
        if target.as_os_str().is_empty() {
            return Err(refused(format!(
                "hardlink target {shown:?} is the layer root"
            )));
        }
        self.tree
            .check_dir(target.parent().unwrap_or(Path::new("")))
            .map_err(|e| refused(format!("hardlink target {shown:?}: {e}")))?;
        let not_a_file = || {
            refused(format!(
                "hardlink target {shown:?} is not a regular file in this layer"
            ))
        };
        match rustix::fs::statat(self.tree.fd(), &target, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile => {}
            Ok(_) | Err(Errno::NOENT) => return Err(not_a_file()),
            Err(e) => return Err(e).with_context(|| format!("stat {}", target.display())),
        }
        if target == rel {
            return Ok(());
        }
        self.tree
            .ensure_dir(rel.parent().unwrap_or(Path::new("")))?;
        self.tree.create(rel, "hardlink", |dir, p| {
            // No AT_SYMLINK_FOLLOW: the target was checked to be a file.
            rustix::fs::linkat(dir, &target, dir, p, AtFlags::empty())
        })?;
        self.stats.files += 1;
        Ok(())
    }

    fn node(&mut self, rel: &Path, kind: EntryType, dev: rustix::fs::Dev, m: &Meta) -> Result<()> {
        let ftype = match kind {
            EntryType::Char => FileType::CharacterDevice,
            EntryType::Block => FileType::BlockDevice,
            _ => FileType::Fifo,
        };
        if self.rootless && ftype != FileType::Fifo {
            // Only root may make device nodes; a rootless container gets
            // its /dev from the runtime anyway.
            return Ok(());
        }
        self.tree
            .ensure_dir(rel.parent().unwrap_or(Path::new("")))?;
        self.tree.create(rel, "device node", |dir, p| {
            rustix::fs::mknodat(dir, p, ftype, Mode::from_raw_mode(m.mode), dev)
        })?;
        self.finish_node(rel, m, true)
    }

    /// Owner, mode (not for symlinks), xattrs and times of something made
    /// by path.
    fn finish_node(&mut self, rel: &Path, m: &Meta, chmod: bool) -> Result<()> {
        if self.chown_needed(m) {
            let r = rustix::fs::chownat(
                self.tree.fd(),
                rel,
                Some(Uid::from_raw(m.uid)),
                Some(Gid::from_raw(m.gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            );
            self.chown_result(r, rel)?;
        }
        if chmod {
            // mknod's mode went through the umask; set it exactly.
            rustix::fs::chmodat(
                self.tree.fd(),
                rel,
                Mode::from_raw_mode(m.mode),
                AtFlags::empty(),
            )
            .with_context(|| format!("chmod {}", rel.display()))?;
        }
        self.set_xattrs_by_path(rel, &m.xattrs)?;
        rustix::fs::utimensat(self.tree.fd(), rel, &m.times(), AtFlags::SYMLINK_NOFOLLOW)
            .with_context(|| format!("set times of {}", rel.display()))?;
        self.stats.files += 1;
        Ok(())
    }

    fn set_xattrs_by_path(&self, rel: &Path, xattrs: &[(String, Vec<u8>)]) -> Result<()> {
        if xattrs.is_empty() {
            return Ok(());
        }
        let abs = self.tree.abs(rel);
        for (name, value) in xattrs {
            let r = rustix::fs::lsetxattr(&abs, name.as_str(), value, XattrFlags::empty());
            self.xattr_result(rel, name, r)?;
        }
        Ok(())
    }

    /// Which xattr failures are fatal. Overlay xattrs from layer data are
    /// dropped before they are written (see `whiteout::is_overlay_xattr`);
    /// a file system without xattr support loses them, as with `tar -x`;
    /// a rootless unpack cannot set `trusted.*` and may not `security.*`.
    fn xattr_result(&self, rel: &Path, name: &str, r: rustix::io::Result<()>) -> Result<()> {
        match r {
            Ok(()) => Ok(()),
            Err(Errno::NOTSUP) => Ok(()),
            Err(Errno::PERM | Errno::ACCESS) if self.rootless && !name.starts_with("user.") => {
                Ok(())
            }
            Err(e) => Err(e).with_context(|| format!("set xattr {name} on {}", rel.display())),
        }
    }

    /// `.wh..wh..opq` in `dir`: mark the directory opaque.
    fn opaque_dir(&mut self, dir: &Path) -> Result<()> {
        self.tree.ensure_dir(dir)?;
        let name = whiteout::opaque_xattr(self.rootless);
        rustix::fs::lsetxattr(self.tree.abs(dir), name.as_str(), b"y", XattrFlags::empty())
            .with_context(|| format!("set xattr {name} on {}", at_path(dir).display()))?;
        self.opaque.insert(dir.to_path_buf());
        Ok(())
    }

    /// `.wh.NAME` in `dir`: a 0:0 character device `NAME`.
    fn whiteout(&mut self, dir: &Path, name: &OsStr) -> Result<()> {
        self.tree.ensure_dir(dir)?;
        let rel = dir.join(name);
        let r = self.tree.create(&rel, "whiteout", |d, p| {
            rustix::fs::mknodat(
                d,
                p,
                FileType::CharacterDevice,
                Mode::empty(),
                rustix::fs::makedev(0, 0),
            )
        });
        match r {
            Ok(()) => {}
            Err(e) if self.rootless => self
                .xwhiteout(dir, &rel)
                .with_context(|| format!("fall back after: {e:#}"))?,
            Err(e) => return Err(e),
        }
        self.stats.files += 1;
        Ok(())
    }

    /// Where even a 0:0 device cannot be made (no user namespace, kernels
    /// before 5.8): overlayfs (6.7+) also takes an empty regular file with
    /// the `overlay.whiteout` xattr, inside a directory whose
    /// `overlay.opaque` xattr is "x".
    fn xwhiteout(&mut self, dir: &Path, rel: &Path) -> Result<()> {
        let prefix = whiteout::xattr_prefix(self.rootless);
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = self.tree.create(rel, "whiteout", |d, p| {
            rustix::fs::openat(d, p, flags, Mode::from_raw_mode(0o600))
        })?;
        let wh = format!("{prefix}whiteout");
        rustix::fs::fsetxattr(&fd, wh.as_str(), b"y", XattrFlags::empty())
            .with_context(|| format!("set xattr {wh} on {}", rel.display()))?;
        if !self.opaque.contains(dir) {
            let op = format!("{prefix}opaque");
            rustix::fs::lsetxattr(self.tree.abs(dir), op.as_str(), b"x", XattrFlags::empty())
                .with_context(|| format!("set xattr {op} on {}", at_path(dir).display()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "unpack_tests.rs"]
mod tests;
