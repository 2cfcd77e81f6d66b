//! `load`: a docker-archive or oci-archive (from a file or stdin) into the
//! store. The archive is spooled to a private directory first, since the
//! index (`manifest.json`, `index.json`) may come last in the stream; every
//! blob is verified against its digest before it is stored.

use super::commit::{commit_image, layer_media_type, sniff_compression};
use super::config::ImageConfig;
use super::layer::diff_of;
use super::progress::Progress;
use crate::digest::Digest;
use crate::error::{kind_err, ErrorKind};
use crate::registry::manifest::{
    parse_manifest, select_platform, Compression, Descriptor, Manifest,
};
use crate::registry::platform::Platform;
use crate::registry::reference::Reference;
use crate::store::Store;
use anyhow::{Context, Result};
use serde::Deserialize;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

/// One image that was loaded: its ID and the names it got.
pub struct Loaded {
    pub id: Digest,
    pub names: Vec<String>,
}

/// Removes the spool directory however `load` ends.
struct Spool(PathBuf);

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Unpack the archive's regular files under `dir`, refusing names that
/// would leave it.
fn spool(input: impl Read, dir: &Path) -> Result<()> {
    let mut ar = tar::Archive::new(input);
    for entry in ar.entries().context("read archive")? {
        let mut e = entry.context("read archive entry")?;
        let kind = e.header().entry_type();
        let path = e.path().context("archive entry name")?.into_owned();
        if path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(kind_err(
                ErrorKind::Corrupt,
                format!("archive entry {:?}: path escapes the archive", path),
            ));
        }
        let dest = dir.join(&path);
        match kind {
            tar::EntryType::Directory => {
                fs::create_dir_all(&dest).with_context(|| format!("create {}", dest.display()))?
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if let Some(p) = dest.parent() {
                    fs::create_dir_all(p).with_context(|| format!("create {}", p.display()))?;
                }
                let mut f =
                    File::create(&dest).with_context(|| format!("create {}", dest.display()))?;
                io::copy(&mut e, &mut f).with_context(|| format!("write {}", dest.display()))?;
            }
            // Docker's archives hold symlinks for layers shared between
            // images; follow them by copying what they point at later.
            tar::EntryType::Symlink => {
                if let Some(target) = e.link_name().context("archive link")? {
                    let resolved = dest.parent().unwrap_or(dir).join(target);
                    let rel = resolved.strip_prefix(dir).map(|p| p.to_path_buf());
                    if let (Ok(_), Some(p)) = (rel, dest.parent()) {
                        fs::create_dir_all(p)?;
                        make_link(&dest, &resolved)?;
                    }
                }
            }
            _ => {}
        }
    }
    // Drain the end-of-archive blocks so a pipe writer is not cut off.
    let mut rest = ar.into_inner();
    io::copy(&mut rest, &mut io::sink()).ok();
    Ok(())
}

/// Recreate a link between archive members; it is resolved (and checked
/// to stay inside the spool) only when a member is read.
fn make_link(link: &Path, target: &Path) -> Result<()> {
    std::os::unix::fs::symlink(target, link).with_context(|| format!("link {}", link.display()))
}

/// Is `p` a path inside `dir` after resolving links?
fn inside(dir: &Path, p: &Path) -> Result<PathBuf> {
    let real = fs::canonicalize(p).with_context(|| format!("archive member {}", p.display()))?;
    let base = fs::canonicalize(dir)?;
    if !real.starts_with(&base) {
        return Err(kind_err(
            ErrorKind::Corrupt,
            format!("archive member {}: points outside the archive", p.display()),
        ));
    }
    Ok(real)
}

/// Copy a file into the store as a blob; returns its digest and size.
fn store_file(store: &Store, path: &Path, expect: Option<&Digest>) -> Result<(Digest, u64)> {
    let mut f = File::open(path).with_context(|| format!("open {}", path.display()))?;
    let mut w = store.blob_writer(expect.map(|d| (d.clone(), None)))?;
    io::copy(&mut f, &mut w).with_context(|| format!("store {}", path.display()))?;
    w.commit()
        .with_context(|| format!("archive member {}", path.display()))
}

/// The diff_id of a layer file (hash of its uncompressed tar stream).
fn file_diff(path: &Path, c: Compression) -> Result<Digest> {
    let f = File::open(path).with_context(|| format!("open {}", path.display()))?;
    Ok(diff_of(c, f)
        .with_context(|| format!("read layer {}", path.display()))?
        .0)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn full_name(n: &str) -> Option<String> {
    let r = Reference::parse(n).ok()?;
    r.tag.as_ref().map(|t| format!("{}:{}", r.name(), t))
}

fn load_docker(store: &Store, dir: &Path, progress: &Progress) -> Result<Vec<Loaded>> {
    let raw = fs::read(dir.join("manifest.json")).context("read manifest.json")?;
    let entries: Vec<DockerEntry> = serde_json::from_slice(&raw)
        .map_err(|e| kind_err(ErrorKind::Corrupt, format!("malformed manifest.json: {e}")))?;
    let mut out = Vec::new();
    for e in entries {
        let cfg_path = inside(dir, &dir.join(&e.config))?;
        let cfg_bytes = fs::read(&cfg_path).with_context(|| format!("read {}", e.config))?;
        let cfg = ImageConfig::parse(&cfg_bytes)?;
        if cfg.rootfs.diff_ids.len() != e.layers.len() {
            return Err(kind_err(
                ErrorKind::Corrupt,
                format!(
                    "{}: config lists {} layers, manifest.json {}",
                    e.config,
                    cfg.rootfs.diff_ids.len(),
                    e.layers.len()
                ),
            ));
        }
        let mut layers = Vec::new();
        for (i, l) in e.layers.iter().enumerate() {
            let p = inside(dir, &dir.join(l))?;
            let mut head = [0u8; 4];
            let n = File::open(&p)?.read(&mut head)?;
            let c = sniff_compression(&head[..n]);
            let diff = file_diff(&p, c)?;
            if diff != cfg.rootfs.diff_ids[i] {
                return Err(kind_err(
                    ErrorKind::Corrupt,
                    format!(
                        "layer {l}: digest {diff} does not match the config's diff_id {}",
                        cfg.rootfs.diff_ids[i]
                    ),
                ));
            }
            let (digest, size) = store_file(store, &p, None)?;
            layers.push(Descriptor::new(layer_media_type(c), digest, size));
        }
        let names: Vec<String> = e
            .repo_tags
            .unwrap_or_default()
            .iter()
            .filter_map(|n| full_name(n))
            .collect();
        let rec = commit_image(store, &cfg_bytes, None, &layers, &names, progress)?;
        out.push(Loaded { id: rec.id, names });
    }
    Ok(out)
}

fn blob_path(dir: &Path, d: &Digest) -> PathBuf {
    dir.join("blobs").join(d.algorithm()).join(d.hex())
}

fn load_oci(store: &Store, dir: &Path, progress: &Progress) -> Result<Vec<Loaded>> {
    let raw = fs::read(dir.join("index.json")).context("read index.json")?;
    let index = match parse_manifest(&raw, None).context("index.json")? {
        Manifest::Index(i) => i,
        Manifest::Image(_) => {
            return Err(kind_err(
                ErrorKind::Corrupt,
                "index.json is not an image index",
            ))
        }
    };
    let mut out = Vec::new();
    for desc in &index.manifests {
        let name = desc.annotations.as_ref().and_then(|a| {
            a.get("io.containerd.image.name")
                .or_else(|| a.get("org.opencontainers.image.ref.name"))
                .and_then(|n| full_name(n).filter(|_| n.contains('/') || n.contains(':')))
        });
        let mut mdesc = desc.clone();
        let mut mbytes = fs::read(inside(dir, &blob_path(dir, &desc.digest))?)?;
        if let Manifest::Index(inner) = parse_manifest(&mbytes, Some(&desc.media_type))? {
            mdesc = select_platform(&inner, &Platform::host())?;
            mbytes = fs::read(inside(dir, &blob_path(dir, &mdesc.digest))?)?;
        }
        if Digest::of(&mbytes) != mdesc.digest {
            return Err(kind_err(
                ErrorKind::Corrupt,
                format!("manifest {}: digest mismatch", mdesc.digest),
            ));
        }
        let Manifest::Image(m) = parse_manifest(&mbytes, Some(&mdesc.media_type))? else {
            return Err(kind_err(
                ErrorKind::Corrupt,
                format!("manifest {}: nested index", mdesc.digest),
            ));
        };
        let cfg_bytes = fs::read(inside(dir, &blob_path(dir, &m.config.digest))?)?;
        if Digest::of(&cfg_bytes) != m.config.digest {
            return Err(kind_err(
                ErrorKind::Corrupt,
                format!("config {}: digest mismatch", m.config.digest),
            ));
        }
        for l in &m.layers {
            store_file(
                store,
                &inside(dir, &blob_path(dir, &l.digest))?,
                Some(&l.digest),
            )?;
        }
        let names: Vec<String> = name.into_iter().collect();
        let rec = commit_image(
            store,
            &cfg_bytes,
            Some((mbytes, mdesc.media_type.clone())),
            &m.layers,
            &names,
            progress,
        )?;
        out.push(Loaded { id: rec.id, names });
    }
    Ok(out)
}

/// Load every image in the archive.
pub fn load(store: &Store, input: impl Read, progress: &Progress) -> Result<Vec<Loaded>> {
    let dir = store.temp_dir("load")?;
    let _cleanup = Spool(dir.clone());
    spool(input, &dir)?;
    let _gc = store.lock_gc_shared()?;
    if dir.join("manifest.json").exists() {
        load_docker(store, &dir, progress)
    } else if dir.join("index.json").exists() {
        load_oci(store, &dir, progress)
    } else {
        Err(kind_err(
            ErrorKind::InvalidArgument,
            "not an image archive: no manifest.json or index.json inside",
        ))
    }
}
