//! Copies of image layers, for what overlayfs cannot do here:
//! - the `vfs` driver's root file system: the layers applied one over the
//!   other into one directory, their whiteouts and opaque directories
//!   obeyed (what the overlay would have shown);
//! - layers for a container whose user namespace maps the image's ids
//!   elsewhere, where idmapped mounts are refused (rootless, or an old
//!   kernel): each layer copied as it is, whiteouts and overlay xattrs
//!   kept, its files chowned to the ids the container's maps give them
//!   (Podman's "chown copy").
//!
//! Layers are the store's own, unpacked by skiff, but no symlink is ever
//! followed: every entry is read and written with no-follow calls.

use crate::util::idshift::IdShift;
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Is the directory at `p` opaque in a layer (either overlay xattr
/// namespace)?
fn opaque(p: &Path) -> bool {
    ["trusted.overlay.opaque", "user.overlay.opaque"]
        .iter()
        .any(|x| matches!(xattr_get(p, x), Some(v) if v == b"y"))
}

fn xattr_get(p: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    let n = rustix::fs::lgetxattr(p, name, &mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// A 0:0 character device: overlayfs's whiteout.
fn is_whiteout(m: &fs::Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

/// Copy the xattrs of `from` to `to` (no-follow); `keep_overlay` keeps
/// overlayfs's own (`*.overlay.*`), which a merged copy must drop.
fn copy_xattrs(from: &Path, to: &Path, keep_overlay: bool) -> Result<()> {
    let mut names = vec![0u8; 4096];
    let n = match rustix::fs::llistxattr(from, &mut names) {
        Ok(n) => n,
        Err(_) => return Ok(()),
    };
    for name in names[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        if !keep_overlay && crate::image::whiteout::is_overlay_xattr(&name) {
            continue;
        }
        let Some(v) = xattr_get(from, &name) else {
            continue;
        };
        // xattrs this process may not set (trusted.* in a user
        // namespace) are skipped: what cannot be kept cannot be shown.
        let _ = rustix::fs::lsetxattr(to, name.as_str(), &v, rustix::fs::XattrFlags::empty());
    }
    Ok(())
}

/// Give `to` the owner (shifted), mode and times of `m`.
fn set_meta(to: &Path, m: &fs::Metadata, shift: &IdShift) -> Result<()> {
    let what = || format!("set the owner and times of {}", to.display());
    std::os::unix::fs::lchown(to, Some(shift.uid(m.uid())), Some(shift.gid(m.gid())))
        .with_context(what)?;
    if !m.file_type().is_symlink() {
        // After chown, which clears setuid bits.
        fs::set_permissions(to, fs::Permissions::from_mode(m.mode() & 0o7777))
            .with_context(what)?;
    }
    let ts = |s: i64, ns: i64| rustix::fs::Timespec {
        tv_sec: s,
        tv_nsec: ns as _,
    };
    let times = rustix::fs::Timestamps {
        last_access: ts(m.atime(), m.atime_nsec()),
        last_modification: ts(m.mtime(), m.mtime_nsec()),
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        to,
        &times,
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .with_context(what)?;
    Ok(())
}

/// Remove whatever is at `p` (a tree, a file), if anything.
fn remove_any(p: &Path) -> Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
        Err(_) => return Ok(()),
    }
    .with_context(|| format!("remove {}", p.display()))
}

/// How a copy treats the source's overlay metadata.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Applied onto what is there: whiteouts delete, opaque directories
    /// empty theirs first; none of it is copied.
    Merge,
    /// Copied as it is: whiteouts and overlay xattrs too.
    Verbatim,
}

struct Copier<'a> {
    shift: &'a IdShift,
    mode: Mode,
    /// Hard links of the layer being copied: (device, inode) to the first
    /// copy's path.
    links: HashMap<(u64, u64), PathBuf>,
}

impl Copier<'_> {
    fn dir(&mut self, from: &Path, to: &Path) -> Result<()> {
        let mut names: Vec<OsString> = fs::read_dir(from)
            .with_context(|| format!("read {}", from.display()))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<std::io::Result<_>>()
            .with_context(|| format!("read {}", from.display()))?;
        names.sort();
        for n in names {
            self.entry(&from.join(&n), &to.join(&n))?;
        }
        Ok(())
    }

    fn entry(&mut self, from: &Path, to: &Path) -> Result<()> {
        let m = fs::symlink_metadata(from).with_context(|| format!("stat {}", from.display()))?;
        let ft = m.file_type();
        if self.mode == Mode::Merge && is_whiteout(&m) {
            return remove_any(to);
        }
        if ft.is_dir() {
            let there = fs::symlink_metadata(to).ok();
            match there {
                Some(t) if t.is_dir() => {
                    if self.mode == Mode::Merge && opaque(from) {
                        for e in fs::read_dir(to)? {
                            remove_any(&e?.path())?;
                        }
                    }
                }
                Some(_) => {
                    remove_any(to)?;
                    fs::create_dir(to).with_context(|| format!("create {}", to.display()))?;
                }
                None => fs::create_dir(to).with_context(|| format!("create {}", to.display()))?,
            }
            self.dir(from, to)?;
            copy_xattrs(from, to, self.mode == Mode::Verbatim)?;
            return set_meta(to, &m, self.shift);
        }
        remove_any(to)?;
        let what = || format!("copy {} to {}", from.display(), to.display());
        if m.nlink() > 1 {
            if let Some(first) = self.links.get(&(m.dev(), m.ino())) {
                return fs::hard_link(first, to).with_context(what);
            }
        }
        if ft.is_file() {
            fs::copy(from, to).with_context(what)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(from).with_context(what)?, to)
                .with_context(what)?;
        } else {
            use rustix::fs::{FileType, Mode as M};
            let kind = FileType::from_raw_mode(m.mode());
            rustix::fs::mknodat(
                rustix::fs::CWD,
                to,
                kind,
                M::from_raw_mode(m.mode() & 0o7777),
                m.rdev() as _,
            )
            .map_err(std::io::Error::from)
            .with_context(what)?;
        }
        copy_xattrs(from, to, self.mode == Mode::Verbatim)?;
        set_meta(to, &m, self.shift)?;
        if m.nlink() > 1 {
            self.links.insert((m.dev(), m.ino()), to.to_path_buf());
        }
        Ok(())
    }
}

/// The `vfs` root file system: layers (bottom first) applied into `dest`,
/// an empty directory, their ids shifted by `shift`.
pub fn merge_layers(layers_bottom_first: &[PathBuf], dest: &Path, shift: &IdShift) -> Result<()> {
    for (i, l) in layers_bottom_first.iter().enumerate() {
        let mut c = Copier {
            shift,
            mode: Mode::Merge,
            links: HashMap::new(),
        };
        c.dir(l, dest)
            .with_context(|| format!("copy layer {} of the image", i + 1))?;
        // The root directory takes the top layer's modes, as the overlay
        // shows the top one's.
        let m = fs::symlink_metadata(l).with_context(|| format!("stat {}", l.display()))?;
        set_meta(dest, &m, shift)?;
    }
    Ok(())
}

/// One layer copied as it is into `dest` (which must not exist), its ids
/// shifted by `shift`.
pub fn copy_layer(layer: &Path, dest: &Path, shift: &IdShift) -> Result<()> {
    fs::create_dir(dest).with_context(|| format!("create {}", dest.display()))?;
    let mut c = Copier {
        shift,
        mode: Mode::Verbatim,
        links: HashMap::new(),
    };
    c.dir(layer, dest)?;
    copy_xattrs(layer, dest, true)?;
    let m = fs::symlink_metadata(layer).with_context(|| format!("stat {}", layer.display()))?;
    set_meta(dest, &m, shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<OsString> {
        let mut v: Vec<OsString> = fs::read_dir(dir)
            .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    fn write(p: &Path, s: &str) {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, s).unwrap();
    }

    #[test]
    fn layers_merge_with_their_whiteouts_and_opaque_dirs() {
        let t = tempfile::tempdir().unwrap();
        let (l1, l2, out) = (
            t.path().join("l1"),
            t.path().join("l2"),
            t.path().join("out"),
        );
        write(&l1.join("a"), "a1");
        write(&l1.join("gone"), "x");
        write(&l1.join("d/old"), "old");
        write(&l1.join("keep/k"), "k");
        fs::hard_link(l1.join("a"), l1.join("a-link")).unwrap();
        std::os::unix::fs::symlink("a", l1.join("s")).unwrap();
        write(&l2.join("a"), "a2");
        write(&l2.join("d/new"), "new");
        // Whiteouts need mknod of 0:0, which root (or, since 5.8, anyone)
        // may do.
        let wh = rustix::fs::mknodat(
            rustix::fs::CWD,
            l2.join("gone"),
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::from_raw_mode(0),
            0,
        );
        let opq = rustix::fs::lsetxattr(
            l2.join("d"),
            "user.overlay.opaque",
            b"y",
            rustix::fs::XattrFlags::empty(),
        );
        fs::create_dir(&out).unwrap();
        merge_layers(&[l1.clone(), l2.clone()], &out, &IdShift::identity()).unwrap();
        assert_eq!(fs::read_to_string(out.join("a")).unwrap(), "a2");
        assert_eq!(fs::read_to_string(out.join("keep/k")).unwrap(), "k");
        assert_eq!(fs::read_link(out.join("s")).unwrap(), Path::new("a"));
        assert_eq!(fs::read_to_string(out.join("a-link")).unwrap(), "a1");
        if wh.is_ok() {
            assert!(!out.join("gone").exists());
        }
        if opq.is_ok() {
            assert_eq!(names(&out.join("d")), [OsString::from("new")]);
        }
        // Times are kept (what `diff` compares).
        let (a, b) = (
            fs::metadata(l1.join("keep/k")).unwrap(),
            fs::metadata(out.join("keep/k")).unwrap(),
        );
        assert_eq!((a.mtime(), a.mtime_nsec()), (b.mtime(), b.mtime_nsec()));
        // A verbatim copy keeps the whiteout.
        let v = t.path().join("v");
        copy_layer(&l2, &v, &IdShift::identity()).unwrap();
        if wh.is_ok() {
            assert!(is_whiteout(&fs::symlink_metadata(v.join("gone")).unwrap()));
        }
        assert_eq!(names(&v)[0], OsString::from("a"));
    }
}
