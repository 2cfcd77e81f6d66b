//! `save`: images from the store into a docker-archive (what `docker load`
//! and `podman load` read: manifest.json, the config, uncompressed layer
//! tars named by diff_id) or an oci-archive (an OCI image layout in a tar).

use super::config::ImageConfig;
use super::layer::decompressor;
use super::lookup::repo_of;
use crate::registry::manifest::{layer_compression, parse_manifest, Manifest};
use crate::store::{ImageRecord, Store};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::io::{self, Read, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ArchiveFormat {
    DockerArchive,
    OciArchive,
}

/// What to save: an image and the names to give it in the archive.
pub struct SaveItem {
    pub image: ImageRecord,
    pub names: Vec<String>,
}

fn header(path: &str, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mtime(0);
    // The builder sets the path (handling long names with GNU extensions).
    let _ = path;
    h
}

fn append<W: Write>(b: &mut tar::Builder<W>, path: &str, data: &[u8]) -> Result<()> {
    let mut h = header(path, data.len() as u64);
    b.append_data(&mut h, path, data)
        .with_context(|| format!("write {path} to the archive"))
}

fn append_reader<W: Write>(
    b: &mut tar::Builder<W>,
    path: &str,
    size: u64,
    r: impl Read,
) -> Result<()> {
    let mut h = header(path, size);
    b.append_data(&mut h, path, r)
        .with_context(|| format!("write {path} to the archive"))
}

/// Write the archive.
pub fn save<W: Write>(
    store: &Store,
    items: &[SaveItem],
    format: ArchiveFormat,
    out: W,
) -> Result<()> {
    let mut b = tar::Builder::new(out);
    b.mode(tar::HeaderMode::Deterministic);
    match format {
        ArchiveFormat::DockerArchive => save_docker(store, items, &mut b)?,
        ArchiveFormat::OciArchive => save_oci(store, items, &mut b)?,
    }
    b.into_inner()
        .context("finish the archive")?
        .flush()
        .context("flush the archive")?;
    Ok(())
}

fn image_manifest(
    store: &Store,
    img: &ImageRecord,
) -> Result<crate::registry::manifest::ImageManifest> {
    let bytes = store.read_blob(&img.manifest_digest)?;
    match parse_manifest(&bytes, Some(&img.manifest_media_type))? {
        Manifest::Image(m) => Ok(m),
        Manifest::Index(_) => bail!("image {} is stored as a manifest list", img.id.short()),
    }
}

fn save_docker<W: Write>(store: &Store, items: &[SaveItem], b: &mut tar::Builder<W>) -> Result<()> {
    let mut manifest = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut written: HashSet<String> = HashSet::new();
    for item in items {
        let img = &item.image;
        let cfg_bytes = store.read_blob(&img.id)?;
        let cfg = ImageConfig::parse(&cfg_bytes)?;
        let m = image_manifest(store, img)?;
        let cfg_name = format!("{}.json", img.id.hex());
        if written.insert(cfg_name.clone()) {
            append(b, &cfg_name, &cfg_bytes)?;
        }
        let mut layer_paths = Vec::new();
        for (i, desc) in m.layers.iter().enumerate() {
            let diff =
                cfg.rootfs.diff_ids.get(i).with_context(|| {
                    format!("image {}: config lacks diff_id {i}", img.id.short())
                })?;
            let path = format!("{}/layer.tar", diff.hex());
            if written.insert(path.clone()) {
                let c = layer_compression(&desc.media_type)?;
                let rec = store.layer_record(&img.layers[i])?;
                let size = match rec.diff_size {
                    Some(s) => s,
                    None => io::copy(
                        &mut decompressor(c, store.open_blob(&desc.digest)?)?,
                        &mut io::sink(),
                    )?,
                };
                let r = decompressor(c, store.open_blob(&desc.digest)?)?;
                append_reader(b, &path, size, r)?;
            }
            layer_paths.push(path);
        }
        let tags: Vec<String> = item
            .names
            .iter()
            .map(|n| super::lookup::familiar_name(n))
            .collect();
        for n in &item.names {
            let repo = repo_of(n);
            let tag = n[repo.len()..].trim_start_matches(':');
            if !tag.is_empty() {
                let fam = super::lookup::familiar_name(repo);
                repositories
                    .entry(fam)
                    .or_default()
                    .insert(tag.to_string(), img.id.hex().to_string());
            }
        }
        manifest.push(json!({"Config": cfg_name, "RepoTags": tags, "Layers": layer_paths}));
    }
    append(
        b,
        "manifest.json",
        &serde_json::to_vec(&Value::Array(manifest))?,
    )?;
    if !repositories.is_empty() {
        append(b, "repositories", &serde_json::to_vec(&repositories)?)?;
    }
    Ok(())
}

fn save_oci<W: Write>(store: &Store, items: &[SaveItem], b: &mut tar::Builder<W>) -> Result<()> {
    let mut written: HashSet<String> = HashSet::new();
    let mut index = Vec::new();
    let mut blob = |b: &mut tar::Builder<W>, d: &crate::digest::Digest| -> Result<()> {
        let path = format!("blobs/sha256/{}", d.hex());
        if written.insert(path.clone()) {
            let f = store.open_blob(d)?;
            let size = f.metadata()?.len();
            append_reader(b, &path, size, f)?;
        }
        Ok(())
    };
    append(b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    for item in items {
        let img = &item.image;
        let m = image_manifest(store, img)?;
        for l in &m.layers {
            blob(b, &l.digest)?;
        }
        blob(b, &m.config.digest)?;
        blob(b, &img.manifest_digest)?;
        let desc = |name: Option<&String>| {
            let mut d = json!({
                "mediaType": img.manifest_media_type,
                "digest": img.manifest_digest,
                "size": img.manifest_size,
            });
            if let Some(n) = name {
                d["annotations"] = json!({
                    "org.opencontainers.image.ref.name": n,
                    "io.containerd.image.name": n,
                });
            }
            d
        };
        if item.names.is_empty() {
            index.push(desc(None));
        }
        for n in &item.names {
            index.push(desc(Some(n)));
        }
    }
    let idx = json!({"schemaVersion": 2, "mediaType": crate::registry::manifest::media::OCI_INDEX, "manifests": index});
    append(b, "index.json", &serde_json::to_vec(&idx)?)?;
    Ok(())
}
