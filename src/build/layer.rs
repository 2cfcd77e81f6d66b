//! A build step's change set as a layer: the step container's upper
//! directory written as a tar (deletions as whiteouts), hashed for its
//! diff ID while it is compressed into a blob, then unpacked into the
//! store as the next step's lower layer.

use crate::digest::{Digest, HashingWriter};
use crate::image::commit::layer_media_type;
use crate::image::layer::{fetch_layer, LayerJob};
use crate::image::progress::{Mode, Progress};
use crate::registry::manifest::{Compression, Descriptor};
use crate::store::build_cache::CachedLayer;
use crate::store::{ContainerRecord, Store};
use anyhow::{Context, Result};
use std::io::Write;

/// An empty tar: its two zero blocks.
const EMPTY_TAR: u64 = 1024;

/// The compressors a layer is written through.
pub enum Packer<W: Write> {
    Plain(W),
    Gzip(flate2::write::GzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Packer<W> {
    fn new(w: W, c: Compression) -> Result<Packer<W>> {
        Ok(match c {
            Compression::None => Packer::Plain(w),
            Compression::Gzip => Packer::Gzip(flate2::write::GzEncoder::new(
                w,
                flate2::Compression::new(6),
            )),
            Compression::Zstd => Packer::Zstd(
                zstd::stream::write::Encoder::new(w, 3).context("start zstd compression")?,
            ),
        })
    }

    fn finish(self) -> Result<W> {
        Ok(match self {
            Packer::Plain(w) => w,
            Packer::Gzip(g) => g.finish().context("finish gzip compression")?,
            Packer::Zstd(z) => z.finish().context("finish zstd compression")?,
        })
    }
}

impl<W: Write> Write for Packer<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Packer::Plain(w) => w.write(buf),
            Packer::Gzip(g) => g.write(buf),
            Packer::Zstd(z) => z.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Packer::Plain(w) => w.flush(),
            Packer::Gzip(g) => g.flush(),
            Packer::Zstd(z) => z.flush(),
        }
    }
}

/// The tar a layer is written as: hashed for its diff ID, compressed
/// into a blob.
pub type LayerTar = HashingWriter<Packer<crate::store::BlobWriter>>;

/// The layer of step container `rec`, on top of the layer `parent`
/// (its chain ID), stored as a blob and unpacked; `None` when the step
/// changed nothing.
pub fn commit_step(
    store: &Store,
    rec: &ContainerRecord,
    parent: Option<&Digest>,
    compression: Compression,
) -> Result<Option<CachedLayer>> {
    store_layer(store, parent, compression, |tar| {
        crate::container::changes::write_layer(store, rec, tar).context("write the step's changes")
    })
}

/// A layer `write` writes as a tar (finished, trailer included), on top
/// of `parent`: stored as a blob and unpacked; `None` when it holds
/// nothing.
pub fn store_layer(
    store: &Store,
    parent: Option<&Digest>,
    compression: Compression,
    write: impl FnOnce(LayerTar) -> Result<LayerTar>,
) -> Result<Option<CachedLayer>> {
    let blob = store.blob_writer(None)?;
    let tar = write(HashingWriter::new(Packer::new(blob, compression)?))?;
    let (packer, diff_id, len) = tar.finish();
    if len <= EMPTY_TAR {
        return Ok(None);
    }
    let blob = packer.finish()?;
    let (digest, size) = blob.commit()?;
    let chain_id = match parent {
        None => diff_id.clone(),
        Some(p) => Digest::of(format!("{p} {diff_id}").as_bytes()),
    };
    let media_type = layer_media_type(compression).to_string();
    unpack(
        store,
        &CachedLayer {
            diff_id,
            digest,
            media_type,
            size,
            chain_id,
        },
        parent,
    )
    .map(Some)
}

/// Make sure layer `l` (on `parent`) is unpacked in the store; `l` again.
pub fn unpack(store: &Store, l: &CachedLayer, parent: Option<&Digest>) -> Result<CachedLayer> {
    if !store.has_layer(&l.chain_id) {
        let job = LayerJob {
            desc: Descriptor::new(&l.media_type, l.digest.clone(), l.size),
            diff_id: l.diff_id.clone(),
            chain_id: l.chain_id.clone(),
            parent: parent.cloned(),
        };
        fetch_layer(store, None, &job, &Progress::new(Mode::Quiet))
            .with_context(|| format!("unpack layer {}", l.digest))?;
    }
    Ok(l.clone())
}
