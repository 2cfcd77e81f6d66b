//! Push: store -> registry. Blobs the registry has are skipped, blobs it
//! holds in another repository are mounted, the rest are uploaded (in
//! chunks when large), and the manifest goes last.

use super::lookup::repo_of;
use super::progress::{Mode, Progress};
use super::pull::run_parallel;
use super::remote::{client_for, RegistryFlags};
use crate::config::Config;
use crate::digest::Digest;
use crate::error::{kind_err, ErrorKind};
use crate::registry::manifest::{parse_manifest, Descriptor, Manifest};
use crate::registry::reference::Reference;
use crate::registry::Client;
use crate::store::{ImageRecord, Store};
use anyhow::{Context, Result};

/// Blobs above this size go up in chunks of `CHUNK` bytes.
const CHUNKED_ABOVE: u64 = 64 << 20;
const CHUNK: u64 = 16 << 20;

pub struct PushOptions {
    pub registry: RegistryFlags,
    pub max_concurrent: usize,
    /// Force chunked uploads of every blob (tests use it).
    pub chunk_size: Option<u64>,
}

pub struct Pushed {
    pub digest: Digest,
    pub size: u64,
}

/// Repositories on the target's registry that may already hold the blobs
/// (where this image came from), for cross-repository mounts.
fn mount_sources(img: &ImageRecord, target: &Reference) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in img.names.iter().chain(&img.repo_digests) {
        let repo = repo_of(n);
        if let Some((domain, path)) = repo.split_once('/') {
            if domain == target.domain && path != target.path && !out.iter().any(|o| o == path) {
                out.push(path.to_string());
            }
        }
    }
    out
}

fn push_blob(
    store: &Store,
    client: &Client,
    repo: &str,
    desc: &Descriptor,
    sources: &[String],
    opts: &PushOptions,
    progress: &Progress,
) -> Result<()> {
    let id = desc.digest.short();
    if client.blob_exists(repo, &desc.digest)? {
        progress.status(id, "Layer already exists");
        return Ok(());
    }
    for src in sources {
        if client.mount_blob(repo, &desc.digest, src)? {
            progress.status(id, &format!("Mounted from {src}"));
            return Ok(());
        }
    }
    let mut f = store
        .open_blob(&desc.digest)
        .with_context(|| format!("blob {}", desc.digest))?;
    let chunk = opts
        .chunk_size
        .or_else(|| (desc.size > CHUNKED_ABOVE).then_some(CHUNK));
    progress.status(id, "Pushing");
    client
        .push_blob(repo, &desc.digest, desc.size, &mut f, chunk)
        .with_context(|| format!("upload blob {}", desc.digest))?;
    progress.status(id, "Pushed");
    Ok(())
}

/// Push a stored image to `target`.
pub fn push(
    store: &Store,
    cfg: &Config,
    img: &ImageRecord,
    target: &Reference,
    opts: &PushOptions,
    progress: &Progress,
) -> Result<Pushed> {
    let bytes = store.read_blob(&img.manifest_digest)?;
    let manifest = match parse_manifest(&bytes, Some(&img.manifest_media_type))? {
        Manifest::Image(m) => m,
        Manifest::Index(_) => {
            return Err(kind_err(
                ErrorKind::InvalidState,
                format!("image {} is stored as a manifest list", img.id.short()),
            ))
        }
    };
    let client = client_for(cfg, target, &opts.registry)?;
    let repo = target.path.as_str();
    let sources = mount_sources(img, target);
    let mut blobs: Vec<Descriptor> = manifest.layers.clone();
    for l in &blobs {
        progress.status(l.digest.short(), "Preparing");
    }
    blobs.push(manifest.config.clone());
    // Docker lists layers only; the config blob goes up silently.
    let silent = Progress::new(Mode::Quiet);
    run_parallel(&blobs, opts.max_concurrent, |d| {
        let p = if d.digest == manifest.config.digest {
            &silent
        } else {
            progress
        };
        push_blob(store, &client, repo, d, &sources, opts, p)
    })?;
    let reference = target
        .tag
        .clone()
        .unwrap_or_else(|| img.manifest_digest.to_string());
    let digest = client
        .put_manifest(repo, &reference, &img.manifest_media_type, &bytes)
        .with_context(|| format!("put manifest {target}"))?;
    if digest != img.manifest_digest {
        return Err(kind_err(
            ErrorKind::Corrupt,
            format!(
                "registry stored the manifest as {digest}, expected {}",
                img.manifest_digest
            ),
        ));
    }
    let repo_digest = format!("{}@{}", target.name(), digest);
    store.update_images(|images| {
        if let Some(i) = images.iter_mut().find(|i| i.id == img.id) {
            if !i.repo_digests.contains(&repo_digest) {
                i.repo_digests.push(repo_digest.clone());
            }
        }
        Ok(())
    })?;
    progress.finish();
    Ok(Pushed {
        digest,
        size: bytes.len() as u64,
    })
}
