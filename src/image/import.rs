//! `import`: a root file system tarball (plain, gzip or zstd) becomes a
//! one-layer image, with `--change` lines applied to its config.

use super::change;
use super::commit::{commit_image, layer_media_type, sniff_compression};
use super::config::{History, ImageConfig, RootFs, RunConfig};
use super::layer::diff_of;
use super::progress::Progress;
use crate::registry::manifest::Descriptor;
use crate::registry::platform::Platform;
use crate::store::{ImageRecord, Store};
use anyhow::{Context, Result};
use std::io::{self, Read};

pub struct ImportOptions {
    pub changes: Vec<String>,
    pub message: Option<String>,
    pub platform: Option<Platform>,
    pub name: Option<String>,
}

pub fn import(
    store: &Store,
    input: impl Read,
    opts: &ImportOptions,
    progress: &Progress,
) -> Result<ImageRecord> {
    let mut run = RunConfig::default();
    for c in &opts.changes {
        change::apply(&mut run, c).with_context(|| format!("--change {c:?}"))?;
    }
    let _gc = store.lock_gc_shared()?;
    let mut w = store.blob_writer(None)?;
    let mut input = input;
    io::copy(&mut input, &mut w).context("read the tarball")?;
    let (digest, size) = w.commit()?;
    let mut head = [0u8; 4];
    let n = store.open_blob(&digest)?.read(&mut head)?;
    let c = sniff_compression(&head[..n]);
    let (diff, _) = diff_of(c, store.open_blob(&digest)?).context("read the tarball")?;
    let platform = opts.platform.clone().unwrap_or_else(Platform::host);
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let cfg = ImageConfig {
        architecture: platform.architecture.clone(),
        os: platform.os.clone(),
        variant: platform.variant.clone(),
        created: Some(now.clone()),
        config: Some(run),
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: vec![diff],
        },
        history: vec![History {
            created: Some(now),
            created_by: Some("skiff import".into()),
            comment: opts.message.clone(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let cfg_bytes = serde_json::to_vec(&cfg)?;
    let layer = Descriptor::new(layer_media_type(c), digest, size);
    let names: Vec<String> = opts.name.iter().cloned().collect();
    commit_image(store, &cfg_bytes, None, &[layer], &names, progress)
}
