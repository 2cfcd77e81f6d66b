//! Pull: registry -> store. One streaming pass per layer (download, hash,
//! decompress, hash again, unpack), layers in parallel, and nothing enters
//! the store before both digests hold.

use super::commit::new_record;
use super::config::ImageConfig;
use super::layer::{fetch_layer, layer_jobs};
use super::progress::Progress;
use super::remote::{client_for, RegistryFlags};
use crate::config::Config;
use crate::digest::Digest;
use crate::error::{kind_err, ErrorKind};
use crate::registry::manifest::{parse_manifest, select_platform, ImageManifest, Manifest};
use crate::registry::platform::Platform;
use crate::registry::reference::Reference;
use crate::registry::Client;
use crate::store::{chain_ids, ImageRecord, LayerRecord, Store};
use anyhow::{Context, Result};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Largest image config accepted (real ones are a few KiB).
const MAX_CONFIG: u64 = 8 << 20;

pub struct PullOptions {
    pub platform: Option<Platform>,
    pub max_concurrent: usize,
    pub registry: RegistryFlags,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            platform: None,
            max_concurrent: 3,
            registry: RegistryFlags::default(),
        }
    }
}

pub struct Pulled {
    pub id: Digest,
    /// The digest the registry knows the reference by (the manifest list's
    /// when the tag names one), as `Digest:` prints it.
    pub digest: Digest,
    pub up_to_date: bool,
}

/// Pull one reference into the store.
pub fn pull(
    store: &Store,
    cfg: &Config,
    reference: &Reference,
    opts: &PullOptions,
    progress: &Progress,
) -> Result<Pulled> {
    let client = client_for(cfg, reference, &opts.registry)?;
    pull_with(store, &client, reference, opts, progress)
}

/// Pull with a client the caller made (so `-a` reuses one for every tag).
pub fn pull_with(
    store: &Store,
    client: &Client,
    reference: &Reference,
    opts: &PullOptions,
    progress: &Progress,
) -> Result<Pulled> {
    let repo = reference.path.as_str();
    let top = client
        .get_manifest(repo, &reference.reference())
        .with_context(|| format!("pull {reference}"))?;
    let want = opts.platform.clone().unwrap_or_else(Platform::host);
    let parsed = parse_manifest(&top.bytes, Some(&top.media_type))
        .with_context(|| format!("pull {reference}"))?;
    let (manifest, manifest_bytes, manifest_digest, manifest_type, index) = match parsed {
        Manifest::Image(m) => (
            m,
            top.bytes.clone(),
            top.digest.clone(),
            top.media_type.clone(),
            None,
        ),
        Manifest::Index(idx) => {
            let desc = select_platform(&idx, &want).with_context(|| format!("pull {reference}"))?;
            let inner = client
                .get_manifest(repo, desc.digest.as_str())
                .with_context(|| format!("pull {reference}: manifest for {want}"))?;
            match parse_manifest(&inner.bytes, Some(&inner.media_type))
                .with_context(|| format!("pull {reference}: manifest for {want}"))?
            {
                Manifest::Image(m) => (
                    m,
                    inner.bytes,
                    inner.digest,
                    inner.media_type,
                    Some((top.bytes.clone(), top.digest.clone())),
                ),
                Manifest::Index(_) => {
                    return Err(kind_err(
                        ErrorKind::Corrupt,
                        format!(
                            "pull {reference}: manifest list entry {} is itself a list",
                            desc.digest
                        ),
                    ))
                }
            }
        }
    };
    let id = manifest.config.digest.clone();

    let _gc = store.lock_gc_shared()?;
    let up_to_date = image_complete(store, &id, &manifest_digest, &manifest);
    if !up_to_date {
        progress.line(&format!(
            "{}: Pulling from {}",
            reference.tag.as_deref().unwrap_or(top.digest.as_str()),
            reference.path
        ));
        fetch_image(
            store,
            client,
            repo,
            &manifest,
            progress,
            opts.max_concurrent,
        )
        .with_context(|| format!("pull {reference}"))?;
    }
    let config_bytes = store.read_blob(&id)?;
    let config = ImageConfig::parse(&config_bytes)?;
    store.put_blob(&manifest_bytes)?;
    let mut extra = Vec::new();
    if let Some((bytes, digest)) = &index {
        store.put_blob(bytes)?;
        extra.push(digest.clone());
    }
    let chains = chain_ids(&config.rootfs.diff_ids);
    let mut size = 0;
    for c in &chains {
        size += store.layer_record(c)?.size;
    }
    let record = new_record(
        &id,
        (
            &manifest_digest,
            &manifest_type,
            manifest_bytes.len() as u64,
        ),
        &config,
        chains,
        size,
        extra,
    );
    let name = reference
        .tag
        .as_ref()
        .map(|t| format!("{}:{}", reference.name(), t));
    let repo_digest = format!("{}@{}", reference.name(), top.digest);
    store.update_images(|images| {
        add_image(images, record, name.as_deref(), Some(&repo_digest));
        Ok(())
    })?;
    progress.finish();
    Ok(Pulled {
        id,
        digest: top.digest,
        up_to_date,
    })
}

/// Insert or merge an image record and point `name` at it (a name moves
/// off whatever image had it, which may leave that one dangling, as Docker
/// does).
pub fn add_image(
    images: &mut Vec<ImageRecord>,
    record: ImageRecord,
    name: Option<&str>,
    repo_digest: Option<&str>,
) {
    if let Some(n) = name {
        for img in images.iter_mut() {
            img.names.retain(|x| x != n);
        }
    }
    let idx = match images.iter().position(|i| i.id == record.id) {
        Some(i) => {
            let old = &mut images[i];
            old.manifest_digest = record.manifest_digest;
            old.manifest_media_type = record.manifest_media_type;
            old.manifest_size = record.manifest_size;
            for b in record.extra_blobs {
                if !old.extra_blobs.contains(&b) {
                    old.extra_blobs.push(b);
                }
            }
            i
        }
        None => {
            images.push(record);
            images.len() - 1
        }
    };
    let img = &mut images[idx];
    if let Some(n) = name {
        img.names.push(n.to_string());
    }
    if let Some(d) = repo_digest {
        if !img.repo_digests.iter().any(|x| x == d) {
            img.repo_digests.push(d.to_string());
        }
    }
}

/// Is everything this manifest needs already in the store?
fn image_complete(store: &Store, id: &Digest, manifest: &Digest, m: &ImageManifest) -> bool {
    let Ok(images) = store.images() else {
        return false;
    };
    let Some(rec) = images.iter().find(|i| &i.id == id) else {
        return false;
    };
    store.has_blob(manifest)
        && store.has_blob(id)
        && m.layers.iter().all(|l| store.has_blob(&l.digest))
        && rec.layers.iter().all(|c| store.has_layer(c))
}

/// Fetch the config and every layer the store lacks.
fn fetch_image(
    store: &Store,
    client: &Client,
    repo: &str,
    manifest: &ImageManifest,
    progress: &Progress,
    max_concurrent: usize,
) -> Result<()> {
    let id = &manifest.config.digest;
    let config_bytes = if store.has_blob(id) {
        store.read_blob(id)?
    } else {
        // Verified against its digest by the client; stored only once
        // every layer has been (a failed pull leaves nothing behind).
        client
            .get_blob_bytes(repo, id, MAX_CONFIG)
            .with_context(|| format!("fetch config {id}"))?
    };
    let config = ImageConfig::parse(&config_bytes).with_context(|| format!("config {id}"))?;
    let diff_ids = &config.rootfs.diff_ids;
    if diff_ids.len() != manifest.layers.len() {
        return Err(kind_err(
            ErrorKind::Corrupt,
            format!(
                "config {id} lists {} layers but the manifest has {}",
                diff_ids.len(),
                manifest.layers.len()
            ),
        ));
    }
    for l in &manifest.layers {
        progress.status(l.digest.short(), "Pulling fs layer");
    }
    let jobs = layer_jobs(&manifest.layers, diff_ids);
    run_parallel(&jobs, max_concurrent, |job| {
        fetch_layer(store, Some((client, repo)), job, progress).map(|_| ())
    })?;
    store.put_blob(&config_bytes)?;
    Ok(())
}

/// Run `work` over `jobs` with at most `max` at once; the first error stops
/// the hand-out of new jobs and is returned.
pub fn run_parallel<T: Sync>(
    jobs: &[T],
    max: usize,
    work: impl Fn(&T) -> Result<()> + Sync,
) -> Result<()> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_err: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let workers = max.clamp(1, jobs.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                if failed.load(Ordering::Relaxed) {
                    return;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { return };
                if let Err(e) = work(job) {
                    failed.store(true, Ordering::Relaxed);
                    let mut slot = first_err.lock().unwrap_or_else(|e| e.into_inner());
                    if slot.is_none() {
                        *slot = Some(e);
                    }
                    return;
                }
            });
        }
    });
    match first_err.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Layer records of an image, bottom first.
pub fn image_layers(store: &Store, rec: &ImageRecord) -> Result<Vec<LayerRecord>> {
    rec.layers.iter().map(|c| store.layer_record(c)).collect()
}
