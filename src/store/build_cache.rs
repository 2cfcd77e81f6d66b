//! The build cache: what each build step made, by the step's key (a
//! digest of the state it ran on and of what it did, see `build::cache`).
//! One small JSON file per step in `build-cache/`; the blobs and layers
//! an entry names stay alive through gc until the entry is pruned
//! (`builder prune`, `system prune`).

use super::scratch::list_names;
use super::Store;
use crate::digest::Digest;
use crate::util::fs::{atomic_write, mkdir_all};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What one step made.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CacheEntry {
    /// When the step first ran: its history entry's time, kept so a
    /// rebuild from the cache makes the very same image.
    pub created: String,
    /// Its layer; `None` when it changed no file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<CachedLayer>,
}

/// A step's layer: the blob as stored and the unpacked layer it becomes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CachedLayer {
    pub diff_id: Digest,
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    /// The chain ID of the unpacked layer on top of the step's parent.
    pub chain_id: Digest,
}

impl Store {
    fn build_cache_dir(&self) -> PathBuf {
        self.root().join("build-cache")
    }

    /// The entry of step `key`, if the cache has one whose blob is still
    /// there.
    pub fn cache_get(&self, key: &Digest) -> Option<CacheEntry> {
        let data = std::fs::read(self.build_cache_dir().join(key.hex())).ok()?;
        let entry: CacheEntry = serde_json::from_slice(&data).ok()?;
        match &entry.layer {
            Some(l) if !self.has_blob(&l.digest) => None,
            _ => Some(entry),
        }
    }

    /// Remember what step `key` made.
    pub fn cache_put(&self, key: &Digest, entry: &CacheEntry) -> Result<()> {
        let dir = self.build_cache_dir();
        mkdir_all(&dir, 0o700)?;
        atomic_write(&dir.join(key.hex()), &serde_json::to_vec(entry)?)
    }

    /// Every entry, by key.
    pub fn cache_entries(&self) -> Result<Vec<(Digest, CacheEntry)>> {
        let dir = self.build_cache_dir();
        let mut out = Vec::new();
        for name in list_names(&dir)? {
            let Ok(key) = Digest::parse(&format!("sha256:{name}")) else {
                continue;
            };
            let Ok(data) = std::fs::read(dir.join(&name)) else {
                continue;
            };
            if let Ok(e) = serde_json::from_slice::<CacheEntry>(&data) {
                out.push((key, e));
            }
        }
        Ok(out)
    }

    /// Forget every entry (with `until`, those written before it); the
    /// names of those forgotten. Their blobs and layers go with the next
    /// gc unless an image holds them.
    pub fn cache_prune(&self, until: Option<std::time::SystemTime>) -> Result<Vec<String>> {
        let dir = self.build_cache_dir();
        let mut gone = Vec::new();
        for name in list_names(&dir)? {
            // Kept when written (used) since `until`.
            if let Some(t) = until {
                let at = std::fs::metadata(dir.join(&name)).and_then(|m| m.modified());
                if at.is_ok_and(|m| m >= t) {
                    continue;
                }
            }
            std::fs::remove_file(dir.join(&name))
                .with_context(|| format!("remove build cache entry {name}"))?;
            gone.push(name);
        }
        Ok(gone)
    }
}
