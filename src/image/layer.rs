//! One layer into the store: its compressed blob (from the registry or
//! already local) and its unpacked directory, made in a single streaming
//! pass and committed only when the compressed digest and size match the
//! manifest and the uncompressed digest matches the config's diff_id.

use super::progress::Progress;
use super::unpack::{unpack_layer, UnpackOptions};
use crate::digest::{Digest, HashingReader};
use crate::error::{kind_err, ErrorKind};
use crate::registry::manifest::{layer_compression, Compression, Descriptor};
use crate::registry::Client;
use crate::store::{BlobWriter, LayerRecord, Store};
use anyhow::{Context, Result};
use std::io::{self, BufReader, Read, Write};

/// A reader of a layer's tar stream from its stored (maybe compressed) form.
pub fn decompressor<'a>(c: Compression, r: impl Read + 'a) -> Result<Box<dyn Read + 'a>> {
    let r = BufReader::with_capacity(256 << 10, r);
    Ok(match c {
        Compression::None => Box::new(r),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
        Compression::Zstd => Box::new(zstd::Decoder::with_buffer(r).context("start zstd decoder")?),
    })
}

/// The diff_id (digest of the uncompressed tar) and tar length of a
/// stored layer.
pub fn diff_of(c: Compression, r: impl Read) -> Result<(Digest, u64)> {
    let mut h = HashingReader::new(decompressor(c, r)?);
    io::copy(&mut h, &mut io::sink()).context("read layer")?;
    Ok(h.finish())
}

/// The jobs for an image's layers: descriptor, diff_id, chain id, parent.
pub fn layer_jobs(layers: &[Descriptor], diff_ids: &[Digest]) -> Vec<LayerJob> {
    let chains = crate::store::chain_ids(diff_ids);
    layers
        .iter()
        .enumerate()
        .map(|(i, desc)| LayerJob {
            desc: desc.clone(),
            diff_id: diff_ids[i].clone(),
            chain_id: chains[i].clone(),
            parent: i.checked_sub(1).map(|p| chains[p].clone()),
        })
        .collect()
}

/// What one layer of an image is.
pub struct LayerJob {
    pub desc: Descriptor,
    pub diff_id: Digest,
    pub chain_id: Digest,
    pub parent: Option<Digest>,
}

/// Passes bytes through, copying them into the blob being written and
/// reporting progress.
struct Tee<'a, R> {
    inner: R,
    sink: Option<&'a mut BlobWriter>,
    progress: &'a Progress,
    id: &'a str,
    total: u64,
    done: u64,
    last_report: u64,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(w) = self.sink.as_mut() {
            w.write_all(&buf[..n])?;
        }
        self.done += n as u64;
        if self.done - self.last_report >= 1 << 20 || (n == 0 && self.done != self.last_report) {
            self.last_report = self.done;
            self.progress.bytes(self.id, self.done, self.total);
        }
        Ok(n)
    }
}

/// Decompress, hash and unpack (or just hash) the tar stream of a layer;
/// returns the diff digest and the unpacked size.
fn consume<R: Read>(
    compression: Compression,
    src: R,
    dest: Option<&std::path::Path>,
    opts: &UnpackOptions,
) -> Result<(Digest, u64, u64)> {
    fn finish<D: Read>(
        d: D,
        dest: Option<&std::path::Path>,
        opts: &UnpackOptions,
    ) -> Result<(Digest, u64, u64)> {
        let mut h = HashingReader::new(d);
        let size = match dest {
            Some(dir) => unpack_layer(&mut h, dir, opts)?.size,
            None => 0,
        };
        io::copy(&mut h, &mut io::sink()).context("read layer")?;
        let (digest, len) = h.finish();
        Ok((digest, len, size))
    }
    match compression {
        Compression::None => finish(src, dest, opts),
        Compression::Gzip => finish(
            flate2::read::MultiGzDecoder::new(BufReader::with_capacity(256 << 10, src)),
            dest,
            opts,
        )
        .context("decompress gzip layer"),
        Compression::Zstd => finish(
            zstd::Decoder::new(src).context("start zstd decoder")?,
            dest,
            opts,
        )
        .context("decompress zstd layer"),
    }
}

/// Make sure the store holds the layer's blob and its unpacked directory.
/// `remote` is where to fetch the blob when the store lacks it.
pub fn fetch_layer(
    store: &Store,
    remote: Option<(&Client, &str)>,
    job: &LayerJob,
    progress: &Progress,
) -> Result<LayerRecord> {
    let desc = &job.desc;
    let id = desc.digest.short();
    let chain = &job.chain_id;
    if store.has_layer(chain) && store.has_blob(&desc.digest) {
        progress.status(id, "Already exists");
        return store.layer_record(chain);
    }
    let _lock = store.lock_layer(chain)?;
    let need_unpack = !store.has_layer(chain);
    let need_blob = !store.has_blob(&desc.digest);
    if !need_unpack && !need_blob {
        progress.status(id, "Already exists");
        return store.layer_record(chain);
    }
    let compression =
        layer_compression(&desc.media_type).with_context(|| format!("layer {}", desc.digest))?;
    let source: Box<dyn Read + Send> = if need_blob {
        let (client, repo) = remote.ok_or_else(|| {
            kind_err(
                ErrorKind::NotFound,
                format!("layer {}: blob not in the store", desc.digest),
            )
        })?;
        progress.status(id, "Downloading");
        Box::new(
            client
                .get_blob(repo, &desc.digest, desc.size)
                .with_context(|| format!("fetch layer {}", desc.digest))?,
        )
    } else {
        Box::new(store.open_blob(&desc.digest)?)
    };
    let mut writer = if need_blob {
        Some(store.blob_writer(Some((desc.digest.clone(), Some(desc.size))))?)
    } else {
        None
    };
    let staging = if need_unpack {
        Some(store.layer_staging()?)
    } else {
        None
    };
    let opts = UnpackOptions {
        rootless: crate::config::is_rootless(),
    };
    let mut tee = Tee {
        inner: source,
        sink: writer.as_mut(),
        progress,
        id,
        total: desc.size,
        done: 0,
        last_report: 0,
    };
    let (diff, diff_len, size) = consume(
        compression,
        &mut tee,
        staging.as_ref().map(|s| s.diff_dir()),
        &opts,
    )
    .with_context(|| format!("layer {}", desc.digest))?;
    io::copy(&mut tee, &mut io::sink()).with_context(|| format!("fetch layer {}", desc.digest))?;
    drop(tee);
    // Both digests must hold before either the blob or the layer enters
    // the store: the compressed one (the manifest's word) first, since a
    // wrong blob explains a wrong diff too.
    if let Some(w) = &writer {
        progress.status(id, "Verifying Checksum");
        w.verify()
            .with_context(|| format!("layer {}", desc.digest))?;
    }
    if diff != job.diff_id {
        return Err(kind_err(
            ErrorKind::Corrupt,
            format!(
                "layer {}: uncompressed digest {} does not match the config's diff_id {}",
                desc.digest, diff, job.diff_id
            ),
        ));
    }
    if let Some(w) = writer {
        w.commit()
            .with_context(|| format!("layer {}", desc.digest))?;
        progress.status(id, "Download complete");
    }
    let record = LayerRecord {
        chain_id: chain.clone(),
        diff_id: diff,
        parent: job.parent.clone(),
        size,
        diff_size: Some(diff_len),
        compressed_digest: Some(desc.digest.clone()),
        compressed_size: Some(desc.size),
        media_type: Some(desc.media_type.clone()),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    match staging {
        Some(s) => {
            s.commit(store, &record)
                .with_context(|| format!("store layer {}", desc.digest))?;
            progress.status(id, "Pull complete");
            Ok(record)
        }
        None => {
            progress.status(id, "Pull complete");
            store.layer_record(chain)
        }
    }
}
