//! Whiteouts: how a layer tar says "delete this from the layers below",
//! and the names overlayfs gives them on disk.
//!
//! In the tar (OCI image spec, inherited from AUFS): `.wh.NAME` removes
//! `NAME`; `.wh..wh..opq` in a directory hides everything below it. On
//! disk (overlayfs): a 0:0 character device `NAME`, and the xattr
//! `trusted.overlay.opaque=y` on the directory (`user.overlay.*` when the
//! overlay is mounted with `userxattr`, as rootless overlays are).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub const WHITEOUT_PREFIX: &str = ".wh.";
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// What a tar entry's file name means.
#[derive(Debug, PartialEq, Eq)]
pub enum Whiteout<'a> {
    /// An ordinary entry.
    None,
    /// `.wh..wh..opq`: the containing directory is opaque.
    Opaque,
    /// `.wh.NAME`: NAME (in the same directory) is deleted.
    Remove(&'a OsStr),
    /// `.wh..wh.*` other than the opaque marker: AUFS bookkeeping
    /// (`.wh..wh.plnk`, `.wh..wh.aufs`) that has no meaning outside AUFS.
    Meta,
    /// A whiteout whose target is not a plain name (`.wh.`, `.wh..`):
    /// nothing sane can be deleted by it.
    Invalid,
}

/// Classify an entry by its last path component.
pub fn classify(file_name: &OsStr) -> Whiteout<'_> {
    let bytes = file_name.as_bytes();
    let Some(rest) = bytes.strip_prefix(WHITEOUT_PREFIX.as_bytes()) else {
        return Whiteout::None;
    };
    if bytes == OPAQUE_MARKER.as_bytes() {
        return Whiteout::Opaque;
    }
    if rest.starts_with(WHITEOUT_PREFIX.as_bytes()) {
        return Whiteout::Meta;
    }
    if rest.is_empty() || rest == b"." || rest == b".." {
        return Whiteout::Invalid;
    }
    Whiteout::Remove(OsStr::from_bytes(rest))
}

/// Is the entry inside an AUFS bookkeeping directory (`.wh..wh.plnk/...`)?
/// Such entries are skipped whole, as Docker does.
pub fn in_meta_dir(rel: &Path) -> bool {
    rel.parent().is_some_and(|p| {
        p.components()
            .any(|c| c.as_os_str().as_bytes().starts_with(b".wh..wh."))
    })
}

/// The xattr namespace overlayfs reads: `trusted.` normally, `user.` for a
/// rootless (`userxattr`) mount.
pub fn xattr_prefix(rootless: bool) -> &'static str {
    if rootless {
        "user.overlay."
    } else {
        "trusted.overlay."
    }
}

/// The opaque-directory xattr name.
pub fn opaque_xattr(rootless: bool) -> String {
    format!("{}opaque", xattr_prefix(rootless))
}

/// xattrs that steer overlayfs itself (`opaque`, `redirect`, `metacopy`,
/// `origin`, ...). A layer that carries them in its tar could make the
/// overlay show files from another layer, or another path, so they are
/// never taken from layer data.
pub fn is_overlay_xattr(name: &str) -> bool {
    name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Whiteout<'_> {
        classify(OsStr::new(s))
    }

    #[test]
    fn names() {
        assert_eq!(c("passwd"), Whiteout::None);
        assert_eq!(c(".whatever"), Whiteout::None);
        assert_eq!(c(".wh.passwd"), Whiteout::Remove(OsStr::new("passwd")));
        assert_eq!(c(".wh..hidden"), Whiteout::Remove(OsStr::new(".hidden")));
        assert_eq!(c(".wh..wh..opq"), Whiteout::Opaque);
        assert_eq!(c(".wh..wh.plnk"), Whiteout::Meta);
        assert_eq!(c(".wh."), Whiteout::Invalid);
        assert_eq!(c(".wh.."), Whiteout::Invalid);
        assert_eq!(c(".wh..."), Whiteout::Invalid);
    }

    #[test]
    fn aufs_dirs() {
        assert!(in_meta_dir(Path::new(".wh..wh.plnk/123.456")));
        assert!(!in_meta_dir(Path::new(".wh..wh.plnk")));
        assert!(!in_meta_dir(Path::new("a/.wh..wh..opq")));
        assert!(!in_meta_dir(Path::new("a/b")));
    }

    #[test]
    fn xattr_names() {
        assert_eq!(opaque_xattr(false), "trusted.overlay.opaque");
        assert_eq!(opaque_xattr(true), "user.overlay.opaque");
        assert!(is_overlay_xattr("trusted.overlay.redirect"));
        assert!(is_overlay_xattr("user.overlay.metacopy"));
        assert!(!is_overlay_xattr("security.capability"));
        assert!(!is_overlay_xattr("user.mime_type"));
    }
}
