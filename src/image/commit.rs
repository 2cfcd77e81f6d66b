//! Turn blobs already in the store into an image: unpack the layers,
//! write a manifest if there is none, record the image. Load and import
//! end here; pull has its own path because its blobs stream in.

use super::config::ImageConfig;
use super::layer::{fetch_layer, layer_jobs};
use super::progress::Progress;
use super::pull::{add_image, run_parallel};
use crate::digest::Digest;
use crate::error::{kind_err, ErrorKind};
use crate::registry::manifest::{media, Compression, Descriptor};
use crate::store::{chain_ids, ImageRecord, Store};
use anyhow::{Context, Result};
use serde_json::json;

/// The OCI media type for a layer of this compression.
pub fn layer_media_type(c: Compression) -> &'static str {
    match c {
        Compression::None => media::OCI_LAYER,
        Compression::Gzip => media::OCI_LAYER_GZIP,
        Compression::Zstd => media::OCI_LAYER_ZSTD,
    }
}

/// Sniff a layer's compression from its first bytes.
pub fn sniff_compression(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// An OCI image manifest for a config and layers.
pub fn oci_manifest(config: &Digest, config_size: u64, layers: &[Descriptor]) -> Vec<u8> {
    let m = json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_MANIFEST,
        "config": {"mediaType": media::OCI_CONFIG, "digest": config, "size": config_size},
        "layers": layers,
    });
    serde_json::to_vec(&m).expect("a manifest serializes")
}

/// A fresh image record (no names yet) for a config and its manifest
/// (digest, media type, size).
pub fn new_record(
    id: &Digest,
    manifest: (&Digest, &str, u64),
    config: &ImageConfig,
    layers: Vec<Digest>,
    size: u64,
    extra_blobs: Vec<Digest>,
) -> ImageRecord {
    ImageRecord {
        id: id.clone(),
        manifest_digest: manifest.0.clone(),
        manifest_media_type: manifest.1.to_string(),
        manifest_size: manifest.2,
        names: Vec::new(),
        repo_digests: Vec::new(),
        extra_blobs,
        layers,
        created: config.created.clone(),
        added: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        size,
        labels: config.labels(),
        architecture: config.architecture.clone(),
        os: config.os.clone(),
    }
}

/// Record an image whose config and layer blobs are in the store.
/// `manifest` keeps an existing manifest (so its digest survives a
/// save/load round trip); without one, an OCI manifest is written.
pub fn commit_image(
    store: &Store,
    config_bytes: &[u8],
    manifest: Option<(Vec<u8>, String)>,
    layers: &[Descriptor],
    names: &[String],
    progress: &Progress,
) -> Result<ImageRecord> {
    let config = ImageConfig::parse(config_bytes)?;
    let diff_ids = &config.rootfs.diff_ids;
    if diff_ids.len() != layers.len() {
        return Err(kind_err(
            ErrorKind::Corrupt,
            format!(
                "image config lists {} layers but {} were given",
                diff_ids.len(),
                layers.len()
            ),
        ));
    }
    let id = store.put_blob(config_bytes)?;
    let chains = chain_ids(diff_ids);
    let jobs = layer_jobs(layers, diff_ids);
    run_parallel(&jobs, 2, |job| {
        fetch_layer(store, None, job, progress).map(|_| ())
    })?;
    let (mbytes, mtype) = match manifest {
        Some(m) => m,
        None => (
            oci_manifest(&id, config_bytes.len() as u64, layers),
            media::OCI_MANIFEST.to_string(),
        ),
    };
    let mdigest = store.put_blob(&mbytes)?;
    let mut size = 0;
    for c in &chains {
        size += store.layer_record(c).context("layer record")?.size;
    }
    let record = new_record(
        &id,
        (&mdigest, &mtype, mbytes.len() as u64),
        &config,
        chains,
        size,
        Vec::new(),
    );
    store.update_images(|images| {
        if names.is_empty() {
            add_image(images, record.clone(), None, None);
        }
        for n in names {
            add_image(images, record.clone(), Some(n), None);
        }
        Ok(images
            .iter()
            .find(|i| i.id == id)
            .cloned()
            .expect("just added"))
    })
}
