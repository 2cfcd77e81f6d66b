//! `commit`: a container's changes become a new layer on top of its
//! image, with the container's config (the image's as `run` changed it:
//! its command, environment, working directory, user, ...) as the new
//! image's, `--change` lines applied and a history entry added.

use super::changes::write_layer;
use crate::image::change;
use crate::image::commit::{commit_image, layer_media_type};
use crate::image::config::{History, ImageConfig};
use crate::image::progress::Progress;
use crate::registry::manifest::{parse_manifest, Compression, Descriptor, Manifest};
use crate::store::{ContainerRecord, ImageRecord, Store};
use anyhow::{bail, Context, Result};

pub struct CommitOptions {
    pub author: Option<String>,
    pub message: Option<String>,
    pub changes: Vec<String>,
    /// `REPO:TAG`, normalized.
    pub name: Option<String>,
}

pub fn commit(store: &Store, rec: &ContainerRecord, opts: &CommitOptions) -> Result<ImageRecord> {
    let _gc = store.lock_gc_shared()?;
    let base = store
        .images()?
        .into_iter()
        .find(|i| i.id == rec.image_id)
        .with_context(|| format!("the image {} of the container is gone", rec.image))?;
    let mut config = ImageConfig::parse(&store.read_blob(&base.id)?)?;
    let manifest = store.read_blob(&base.manifest_digest)?;
    let mut layers: Vec<Descriptor> =
        match parse_manifest(&manifest, Some(&base.manifest_media_type))? {
            Manifest::Image(m) => m.layers,
            _ => bail!("image {}: not an image manifest", base.id),
        };
    // Docker commits the container's own config; a record from before
    // skiff kept it leaves the image's.
    if let Some(own) = &rec.config {
        config.config = Some(
            serde_json::from_value(serde_json::Value::Object(own.clone()))
                .context("the container's config")?,
        );
    }
    let run = config.config.get_or_insert_with(Default::default);
    for c in &opts.changes {
        change::apply(run, c).with_context(|| format!("--change {c:?}"))?;
    }

    let w = store.blob_writer(None)?;
    let w = write_layer(store, rec, w).context("write the layer")?;
    let (digest, size) = w.commit()?;
    // Uncompressed, so the blob digest is the diff_id too.
    layers.push(Descriptor::new(
        layer_media_type(Compression::None),
        digest.clone(),
        size,
    ));
    config.rootfs.diff_ids.push(digest);
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    config.created = Some(now.clone());
    if opts.author.is_some() {
        config.author = opts.author.clone();
    }
    config.history.push(History {
        created: Some(now),
        created_by: Some(rec.command.join(" ")),
        author: opts.author.clone(),
        comment: opts.message.clone(),
        empty_layer: false,
    });
    let bytes = serde_json::to_vec(&config)?;
    let names: Vec<String> = opts.name.iter().cloned().collect();
    commit_image(
        store,
        &bytes,
        None,
        &layers,
        &names,
        &Progress::for_stderr(true),
    )
}
