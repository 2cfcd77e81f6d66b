//! Unpacked layers, keyed by chain ID: `layers/<hex>/diff` is the overlay
//! lowerdir, `layers/<hex>/layer.json` its record. A layer is staged under
//! `tmp/` and appears in `layers/` by one rename, so a layer dir with a
//! record is always complete.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::scratch::{list_names, remove_tree, scratch_name};
use super::Store;
use crate::digest::Digest;
use crate::error::{kind_err, ErrorKind};
use crate::util::fs::{atomic_write, fsync_dir, mkdir_all};
use crate::util::lock::{lock_exclusive, LockGuard};

/// What the store knows of one unpacked layer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct LayerRecord {
    pub chain_id: Digest,
    /// The digest of the uncompressed tar.
    pub diff_id: Digest,
    /// The chain ID of the layer below, if any.
    pub parent: Option<Digest>,
    /// Unpacked bytes (regular file contents).
    pub size: u64,
    /// Length of the uncompressed tar stream (what `save` writes as the
    /// layer's tar without decompressing twice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff_size: Option<u64>,
    pub compressed_digest: Option<Digest>,
    pub compressed_size: Option<u64>,
    pub media_type: Option<String>,
    /// When it was unpacked, RFC 3339.
    pub created: String,
}

/// OCI chain IDs: `chain[0] = diff[0]`, `chain[n] = sha256(chain[n-1] + " " + diff[n])`.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => Digest::of(format!("{prev} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

impl Store {
    fn layer_root(&self, chain_id: &Digest) -> PathBuf {
        self.layers_dir().join(chain_id.hex())
    }

    /// `layers/<hex>/diff`: the directory to stack as an overlay lowerdir.
    pub fn layer_dir(&self, chain_id: &Digest) -> PathBuf {
        self.layer_root(chain_id).join("diff")
    }

    /// Is the layer committed (its record present)?
    pub fn has_layer(&self, chain_id: &Digest) -> bool {
        self.layer_root(chain_id).join("layer.json").is_file()
    }

    /// The exclusive lock for unpacking one layer. Callers hold
    /// [`Store::lock_gc_shared`] first, then: lock, re-check
    /// [`Store::has_layer`], else stage, unpack and commit.
    pub fn lock_layer(&self, chain_id: &Digest) -> Result<LockGuard> {
        lock_exclusive(
            &self
                .locks_dir()
                .join(format!("layer-{}.lock", chain_id.hex())),
        )
    }

    /// A fresh staging dir under `tmp/` holding an empty `diff/`.
    pub fn layer_staging(&self) -> Result<LayerStaging> {
        let dir = self.tmp_dir().join(scratch_name("layer"));
        mkdir_all(&dir, 0o700)?;
        let staging = LayerStaging {
            diff: dir.join("diff"),
            dir,
            done: false,
        };
        // The layer root's own mode shows as the container's `/` when no
        // layer entry names `./`; 0755 is what images expect, whatever
        // our umask.
        mkdir_all(&staging.diff, 0o755)?;
        fs::set_permissions(&staging.diff, fs::Permissions::from_mode(0o755))
            .with_context(|| format!("chmod {}", staging.diff.display()))?;
        Ok(staging)
    }

    /// The record of a committed layer (NotFound kind when absent).
    pub fn layer_record(&self, chain_id: &Digest) -> Result<LayerRecord> {
        let path = self.layer_root(chain_id).join("layer.json");
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(kind_err(
                    ErrorKind::NotFound,
                    format!("layer {chain_id}: not in the store"),
                ))
            }
            Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
        };
        serde_json::from_slice(&data).with_context(|| format!("parse {}", path.display()))
    }

    /// Every committed layer's record.
    pub fn layers(&self) -> Result<Vec<LayerRecord>> {
        let mut out = Vec::new();
        for name in list_names(&self.layers_dir())? {
            let Ok(id) = Digest::parse(&format!("sha256:{name}")) else {
                continue;
            };
            if self.has_layer(&id) {
                out.push(self.layer_record(&id)?);
            }
        }
        Ok(out)
    }

    /// Take a layer out of `layers/` (one rename, so it vanishes whole) and
    /// delete it. Returns whether it was there. Callers hold the gc lock
    /// exclusively, so nothing is stacking or unpacking it.
    pub(crate) fn remove_layer_locked(&self, chain_id: &Digest) -> Result<bool> {
        let dir = self.layer_root(chain_id);
        let trash = self.tmp_dir().join(scratch_name("gc"));
        match fs::rename(&dir, &trash) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("rename {} to {}", dir.display(), trash.display()))
            }
        }
        remove_tree(&trash)?;
        let lock = self
            .locks_dir()
            .join(format!("layer-{}.lock", chain_id.hex()));
        let _ = fs::remove_file(lock);
        Ok(true)
    }
}

/// A layer being unpacked under `tmp/`. Dropping it without
/// [`LayerStaging::commit`] removes it.
#[derive(Debug)]
pub struct LayerStaging {
    dir: PathBuf,
    diff: PathBuf,
    done: bool,
}

impl LayerStaging {
    /// Where to unpack the layer's tar.
    pub fn diff_dir(&self) -> &Path {
        &self.diff
    }

    /// Write `layer.json` and move the staged layer to
    /// `layers/<chain id>`. If that layer is committed already, this copy is
    /// discarded. The caller holds the layer's lock.
    pub fn commit(mut self, store: &Store, rec: &LayerRecord) -> Result<()> {
        let dest = store.layer_root(&rec.chain_id);
        let res = (|| -> Result<()> {
            if store.has_layer(&rec.chain_id) {
                return Ok(());
            }
            let json = serde_json::to_vec_pretty(rec).context("serialize layer record")?;
            atomic_write(&self.dir.join("layer.json"), &json)?;
            // File data is not fsynced per file (that would cost more than
            // the unpack itself, and docker and podman do not either); what
            // matters for a killed process is that the record and the tree
            // appear together, which the rename gives.
            if dest.exists() {
                // A dir without a record: not committed, so stale junk.
                remove_tree(&dest)?;
            }
            fs::rename(&self.dir, &dest)
                .with_context(|| format!("rename {} to {}", self.dir.display(), dest.display()))?;
            self.done = true;
            fsync_dir(&store.layers_dir())
        })();
        res.with_context(|| format!("commit layer {}", rec.chain_id))
    }
}

impl Drop for LayerStaging {
    fn drop(&mut self) {
        if !self.done {
            let _ = remove_tree(&self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn record(diff: &[u8]) -> LayerRecord {
        let d = Digest::of(diff);
        LayerRecord {
            chain_id: d.clone(),
            diff_id: d,
            parent: None,
            size: diff.len() as u64,
            diff_size: None,
            compressed_digest: None,
            compressed_size: None,
            media_type: None,
            created: super::super::now_rfc3339(),
        }
    }

    #[test]
    fn chain_ids_follow_the_oci_rule() {
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        let c = Digest::of(b"c");
        let ids = chain_ids(&[a.clone(), b.clone(), c.clone()]);
        assert_eq!(ids[0], a);
        let ab = Digest::of(format!("{a} {b}").as_bytes());
        assert_eq!(ids[1], ab);
        assert_eq!(ids[2], Digest::of(format!("{ab} {c}").as_bytes()));
        assert!(chain_ids(&[]).is_empty());
    }

    #[test]
    fn staging_commit_and_drop() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let rec = record(b"layer one");

        let st = s.layer_staging().unwrap();
        let staged = st.diff_dir().to_path_buf();
        fs::create_dir(staged.join("ro")).unwrap();
        fs::write(staged.join("ro/f"), b"x").unwrap();
        fs::set_permissions(
            staged.join("ro"),
            std::os::unix::fs::PermissionsExt::from_mode(0o555),
        )
        .unwrap();
        drop(st);
        assert!(!staged.exists());
        assert_eq!(fs::read_dir(s.tmp_dir()).unwrap().count(), 0);
        assert!(!s.has_layer(&rec.chain_id));

        let st = s.layer_staging().unwrap();
        fs::write(st.diff_dir().join("hello"), b"hi").unwrap();
        st.commit(&s, &rec).unwrap();
        assert!(s.has_layer(&rec.chain_id));
        assert_eq!(
            fs::read(s.layer_dir(&rec.chain_id).join("hello")).unwrap(),
            b"hi"
        );
        assert_eq!(s.layer_record(&rec.chain_id).unwrap(), rec);
        assert_eq!(s.layers().unwrap(), vec![rec.clone()]);
        assert_eq!(fs::read_dir(s.tmp_dir()).unwrap().count(), 0);

        // A second commit of the same chain id discards itself.
        let st = s.layer_staging().unwrap();
        fs::write(st.diff_dir().join("other"), b"x").unwrap();
        st.commit(&s, &rec).unwrap();
        assert!(!s.layer_dir(&rec.chain_id).join("other").exists());
        assert_eq!(fs::read_dir(s.tmp_dir()).unwrap().count(), 0);

        assert!(s.remove_layer_locked(&rec.chain_id).unwrap());
        assert!(!s.has_layer(&rec.chain_id));
        assert!(!s.remove_layer_locked(&rec.chain_id).unwrap());
        assert_eq!(fs::read_dir(s.tmp_dir()).unwrap().count(), 0);
    }

    #[test]
    fn racing_unpackers_unpack_once() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let rec = record(b"shared layer");
        let unpacked = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                let rec = rec.clone();
                let unpacked = unpacked.clone();
                std::thread::spawn(move || {
                    let _gc = s.lock_gc_shared().unwrap();
                    let _l = s.lock_layer(&rec.chain_id).unwrap();
                    if s.has_layer(&rec.chain_id) {
                        return;
                    }
                    let st = s.layer_staging().unwrap();
                    fs::write(st.diff_dir().join("f"), b"data").unwrap();
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    unpacked.fetch_add(1, Ordering::SeqCst);
                    st.commit(&s, &rec).unwrap();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(unpacked.load(Ordering::SeqCst), 1);
        assert!(s.has_layer(&rec.chain_id));
    }
}
