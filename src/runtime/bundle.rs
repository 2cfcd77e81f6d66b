//! An OCI bundle on disk: `config.json` and the root file system it names,
//! plus skiff's own overlay annotation.

use crate::store::driver::Driver;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The annotation that asks the runtime to mount the root file system
/// itself, as an overlay, inside the container's mount namespace: a crash
/// then never leaves the mount behind on the host.
/// `{"lower":["/a","/b"],"upper":"/u","work":"/w"}`, lower dirs top first.
pub const OVERLAY_ANNOTATION: &str = "org.skiff.rootfs.overlay";

/// The kernel copies mount options into one page, the terminating NUL
/// included.
const MOUNT_DATA_MAX: usize = 4095;

/// A loaded bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub dir: PathBuf,
    pub spec: Spec,
    /// `root.path`, absolute.
    pub rootfs: PathBuf,
    pub overlay: Option<Overlay>,
}

/// The overlay the annotation asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overlay {
    /// Lower directories, the top one first.
    pub lower: Vec<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upper: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work: Option<PathBuf>,
    /// Mount with overlayfs's `volatile` option (Linux 5.10): for a
    /// container whose upper directory is deleted when it exits (`--rm`).
    /// Unmounting an overlay otherwise syncs the whole file system that
    /// holds the upper directory and waits for its journal, a few
    /// milliseconds to tens of them at every container's exit, for data
    /// that is about to be deleted. Podman does the same for `--rm`. A
    /// volatile overlay leaves a mark in its work directory that makes the
    /// kernel refuse to mount that upper directory again, so only the
    /// container's own, last mount may use it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub volatile: bool,
    /// How the root file system is made: the kernel's overlay (mounted
    /// by the container's init, or by skiff for a container with a user
    /// namespace of its own), `fuse-overlayfs` (started by skiff before
    /// the container, its mount handed to the init), or `vfs` (a copy of
    /// the layers already in the root directory, bound as it is; `lower`
    /// then names the layers it was copied from, for `diff`).
    #[serde(default, skip_serializing_if = "Driver::is_default")]
    pub driver: Driver,
    /// The lower layers are seen through idmapped mounts with the
    /// container's maps (its `linux.uidMappings`), so that their files,
    /// owned by the image's ids on disk, are the image's ids inside.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub idmap: bool,
    /// The image's files are seen with the container's maps (idmapped,
    /// or copies chowned to them): their ids outside are the maps' for
    /// the image's (what `export` takes back).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shifted: bool,
    /// Keep overlayfs's own metadata (whiteouts, opaque directories) in
    /// `user.overlay.*` xattrs: inside a user namespace (rootless) the
    /// `trusted.*` ones can be neither read nor written. Not part of the
    /// annotation: it follows from where the mount is made.
    #[serde(skip)]
    pub userxattr: bool,
}

impl Bundle {
    /// Read `DIR/config.json`.
    pub fn load(dir: &Path) -> Result<Bundle> {
        let path = dir.join("config.json");
        let data = std::fs::read(&path).with_context(|| format!("read {}", path.display()))?;
        let spec: Spec =
            serde_json::from_slice(&data).with_context(|| format!("parse {}", path.display()))?;
        Bundle::new(dir, spec)
    }

    /// A bundle from a spec already in memory; `root.path` is taken
    /// relative to `dir` when it is relative.
    pub fn new(dir: &Path, spec: Spec) -> Result<Bundle> {
        let dir = std::path::absolute(dir)
            .with_context(|| format!("resolve bundle path {}", dir.display()))?;
        let Some(root) = spec.root() else {
            bail!("{}/config.json: no root.path", dir.display());
        };
        let rootfs = dir.join(root.path());
        let rootfs = std::fs::canonicalize(&rootfs)
            .with_context(|| format!("root file system {}", rootfs.display()))?;
        let overlay = spec
            .annotations()
            .as_ref()
            .and_then(|a| a.get(OVERLAY_ANNOTATION))
            .map(|v| parse_overlay(v))
            .transpose()?;
        Ok(Bundle {
            dir,
            spec,
            rootfs,
            overlay,
        })
    }
}

/// Parse and check the overlay annotation.
pub fn parse_overlay(json: &str) -> Result<Overlay> {
    let mut o: Overlay = serde_json::from_str(json)
        .with_context(|| format!("annotation {OVERLAY_ANNOTATION}: invalid JSON"))?;
    o.userxattr = crate::util::ids::in_userns();
    let what = || format!("annotation {OVERLAY_ANNOTATION}");
    if o.lower.is_empty() {
        bail!("{}: no lower directory", what());
    }
    if o.upper.is_some() != o.work.is_some() {
        bail!("{}: upper and work go together", what());
    }
    if o.upper.is_none() && o.lower.len() < 2 && o.driver != Driver::Vfs {
        // The kernel refuses a read-only overlay of a single layer.
        bail!(
            "{}: without an upper directory, two lower directories are needed",
            what()
        );
    }
    let all = o.lower.iter().chain(&o.upper).chain(&o.work);
    for p in all {
        if !p.is_absolute() {
            bail!("{}: {} is not an absolute path", what(), p.display());
        }
    }
    Ok(o)
}

/// The mount options for `o`, and the directory to change into first when
/// the paths had to be made relative to fit the kernel's one-page limit
/// (images with many layers; the same trick containerd uses).
pub fn overlay_options(o: &Overlay) -> Result<(Option<PathBuf>, String)> {
    let full = options_with(o, Path::new("/"));
    if full.len() <= MOUNT_DATA_MAX {
        return Ok((None, full));
    }
    let base = common_dir(o.lower.iter().chain(&o.upper).chain(&o.work));
    let short = options_with(o, &base);
    if short.len() <= MOUNT_DATA_MAX {
        return Ok((Some(base), short));
    }
    bail!(
        "overlay mount options are {} bytes, more than the kernel's {MOUNT_DATA_MAX}",
        short.len()
    )
}

fn options_with(o: &Overlay, base: &Path) -> String {
    let rel = |p: &Path| -> String {
        let r = if base == Path::new("/") {
            p
        } else {
            p.strip_prefix(base).unwrap_or(p)
        };
        escape(&r.to_string_lossy())
    };
    let lower: Vec<String> = o.lower.iter().map(|p| rel(p)).collect();
    let mut s = format!("lowerdir={}", lower.join(":"));
    if let (Some(u), Some(w)) = (&o.upper, &o.work) {
        s.push_str(&format!(",upperdir={},workdir={}", rel(u), rel(w)));
        if o.volatile {
            s.push_str(",volatile");
        }
    }
    if o.userxattr {
        s.push_str(",userxattr");
    }
    s
}

/// Overlayfs splits lower dirs at ':' and options at ','; a backslash
/// escapes either (and itself).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ':' | ',') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The deepest directory that holds every path.
fn common_dir<'a>(paths: impl Iterator<Item = &'a PathBuf>) -> PathBuf {
    let mut common: Option<PathBuf> = None;
    for p in paths {
        let parent = p.parent().unwrap_or(Path::new("/")).to_path_buf();
        common = Some(match common {
            None => parent,
            Some(c) => {
                let mut out = PathBuf::new();
                for (a, b) in c.components().zip(parent.components()) {
                    if a != b {
                        break;
                    }
                    out.push(a);
                }
                out
            }
        });
    }
    common.unwrap_or_else(|| PathBuf::from("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_annotation() {
        let o = parse_overlay(r#"{"lower":["/a","/b"],"upper":"/u","work":"/w"}"#).unwrap();
        assert_eq!(o.lower, vec![PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(o.upper.as_deref(), Some(Path::new("/u")));
        let (dir, opts) = overlay_options(&o).unwrap();
        assert_eq!(dir, None);
        assert_eq!(opts, "lowerdir=/a:/b,upperdir=/u,workdir=/w");
    }

    #[test]
    fn a_volatile_overlay_says_so_when_it_has_an_upper() {
        let o =
            parse_overlay(r#"{"lower":["/a"],"upper":"/u","work":"/w","volatile":true}"#).unwrap();
        assert_eq!(
            overlay_options(&o).unwrap().1,
            "lowerdir=/a,upperdir=/u,workdir=/w,volatile"
        );
        let o = parse_overlay(r#"{"lower":["/a","/b"],"volatile":true}"#).unwrap();
        assert_eq!(overlay_options(&o).unwrap().1, "lowerdir=/a:/b");
    }

    #[test]
    fn read_only_overlay_needs_two_lowers() {
        let o = parse_overlay(r#"{"lower":["/a","/b"]}"#).unwrap();
        assert_eq!(overlay_options(&o).unwrap().1, "lowerdir=/a:/b");
        let e = parse_overlay(r#"{"lower":["/a"]}"#).unwrap_err();
        assert!(format!("{e:#}").contains("two lower directories"), "{e:#}");
    }

    #[test]
    fn rejects_bad_annotations() {
        for bad in [
            r#"{"lower":[]}"#,
            r#"{"lower":["/a"],"upper":"/u"}"#,
            r#"{"lower":["a","/b"]}"#,
            r#"{"lower":["/a","/b"],"extra":1}"#,
            "not json",
        ] {
            let e = parse_overlay(bad).unwrap_err();
            assert!(format!("{e:#}").starts_with("annotation org.skiff.rootfs.overlay"));
        }
    }

    #[test]
    fn escapes_separators() {
        let o = parse_overlay(r#"{"lower":["/a:1","/b,2"],"upper":"/u\\x","work":"/w"}"#).unwrap();
        assert_eq!(
            overlay_options(&o).unwrap().1,
            r"lowerdir=/a\:1:/b\,2,upperdir=/u\\x,workdir=/w"
        );
    }

    #[test]
    fn long_options_become_relative() {
        let base = "/var/lib/skiff";
        let lower: Vec<PathBuf> = (0..45)
            .map(|i| PathBuf::from(format!("{base}/layers/{:064x}/diff", i)))
            .collect();
        let o = Overlay {
            lower,
            upper: Some(PathBuf::from(format!("{base}/containers/c1/upper"))),
            work: Some(PathBuf::from(format!("{base}/containers/c1/work"))),
            userxattr: false,
            volatile: false,
            driver: Driver::Overlay,
            idmap: false,
            shifted: false,
        };
        let (dir, opts) = overlay_options(&o).unwrap();
        assert_eq!(dir.as_deref(), Some(Path::new(base)));
        assert!(opts.starts_with("lowerdir=layers/"), "{opts}");
        assert!(opts.ends_with(",upperdir=containers/c1/upper,workdir=containers/c1/work"));
        assert!(opts.len() <= MOUNT_DATA_MAX);
    }
}
