//! The on-disk store: blobs, layers, images, under locks with atomic writes.
//!
//! ```text
//! <root>/oci-layout, index.json, blobs/sha256/<hex>   an OCI image layout
//! <root>/ingest/<pid>-<start>-<n>                     blob writes in progress
//! <root>/layers/<chain-id hex>/{diff/,layer.json}     committed unpacked layers
//! <root>/tmp/<pid>-<start>-<n>                        staging (layers being unpacked)
//! <root>/locks/*.lock                                 flock files
//! <root>/images.json                                  the image records
//! <root>/networks/<name>.json, <name>.leases          networks and their IPAM leases
//! <root>/storage.json                                 the storage driver the probe chose
//! <root>/userns-auto.json                             `--userns=auto` containers' id ranges
//! ```
//!
//! Lock order, to keep every path deadlock-free: `gc.lock` (shared by
//! pulls, exclusive for gc), then a layer lock, then `images.lock`.
//! `networks.lock` is a leaf: nothing else is taken while it is held.

mod blobs;
pub mod build_cache;
mod check;
mod claims;
pub mod containers;
pub mod driver;
pub mod events;
mod gc;
mod images;
mod layers;
mod layout;
mod leases;
mod names;
pub mod networks;
pub mod ports;
mod refs;
mod scratch;
pub mod subnet;
pub mod userns;
mod volumes;

pub use blobs::BlobWriter;
pub use containers::{
    valid_container_name, ContainerRecord, ContainerState, LogConfig, RestartPolicy,
};
pub use gc::GcReport;
pub use images::ImageRecord;
pub use layers::{chain_ids, LayerRecord, LayerStaging};
pub use leases::{endpoint_id, mac_of, mac_text, Lease};
pub use networks::{
    valid_network_name, NetworkRecord, NetworkSpec, DEFAULT_BRIDGE, DEFAULT_NETWORK,
    PREDEFINED_NETWORKS,
};
pub use scratch::remove_tree;
pub use subnet::Ipv4Net;
pub use volumes::{valid_volume_name, VolumeRecord};

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

use crate::util::fs::{atomic_write, mkdir_all};
use crate::util::lock::{lock_exclusive, lock_shared, LockGuard};

/// An open store rooted at a directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Open (creating if needed) the store at `root`, and remove what dead
    /// writers left in `ingest/`, `tmp/` and the root.
    pub fn open(root: &Path) -> Result<Store> {
        let store = Store {
            root: root.to_path_buf(),
        };
        store
            .init()
            .with_context(|| format!("open store {}", root.display()))?;
        Ok(store)
    }

    /// The store at `root` if one is there, without creating or cleaning
    /// anything (for read-only callers such as `info`).
    pub fn open_existing(root: &Path) -> Result<Option<Store>> {
        Ok(root.join("oci-layout").exists().then(|| Store {
            root: root.to_path_buf(),
        }))
    }

    /// The store at `root` for commands that look rather than change
    /// (`inspect`, `ps`): taken as it is when there is one, without the
    /// directory checks and the sweep of dead writers' leftovers that
    /// [`Store::open`] makes (the next command that writes sweeps); made
    /// as [`Store::open`] makes it when there is none yet.
    pub fn open_to_read(root: &Path) -> Result<Store> {
        match Store::open_existing(root)? {
            Some(s) => Ok(s),
            None => Store::open(root),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn init(&self) -> Result<()> {
        // 0711 on the root, as containers/storage does: other users may
        // traverse to paths handed to them (bind mounts) but not list.
        mkdir_all(&self.root, 0o711)?;
        mkdir_all(&self.blobs_dir(), 0o700)?;
        mkdir_all(&self.layers_dir(), 0o711)?;
        for dir in [self.ingest_dir(), self.tmp_dir(), self.locks_dir()] {
            mkdir_all(&dir, 0o700)?;
        }
        let layout = self.root.join("oci-layout");
        if !layout.exists() {
            atomic_write(&layout, layout::OCI_LAYOUT.as_bytes())?;
        }
        if !self.index_path().exists() {
            let _g = self.lock_images_exclusive()?;
            if !self.index_path().exists() {
                let images = self.load_images_locked()?;
                self.write_index_locked(&images)?;
            }
        }
        self.clean_leftovers()?;
        Ok(())
    }

    /// Remove the temp files and dirs of writers that are no longer running.
    pub fn clean_leftovers(&self) -> Result<usize> {
        let mut n = scratch::clean_dead_scratch(&self.ingest_dir())?;
        n += scratch::clean_dead_scratch(&self.tmp_dir())?;
        n += scratch::clean_dead_tmp_siblings(&self.root)?;
        n += scratch::clean_dead_tmp_siblings(&self.networks_dir())?;
        Ok(n)
    }

    pub(crate) fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs").join("sha256")
    }
    pub(crate) fn ingest_dir(&self) -> PathBuf {
        self.root.join("ingest")
    }
    pub(crate) fn layers_dir(&self) -> PathBuf {
        self.root.join("layers")
    }
    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// A fresh private directory under `tmp/` for work in progress (a
    /// `load` spooling its archive); named for this process, so the next
    /// command removes it if this one dies.
    pub fn temp_dir(&self, tag: &str) -> Result<PathBuf> {
        let dir = self.tmp_dir().join(scratch::scratch_name(tag));
        crate::util::fs::mkdir_all(&dir, 0o700)?;
        Ok(dir)
    }
    pub(crate) fn locks_dir(&self) -> PathBuf {
        self.root.join("locks")
    }
    pub(crate) fn images_path(&self) -> PathBuf {
        self.root.join("images.json")
    }
    pub(crate) fn index_path(&self) -> PathBuf {
        self.root.join("index.json")
    }

    fn lock_images_exclusive(&self) -> Result<LockGuard> {
        lock_exclusive(&self.locks_dir().join("images.lock"))
    }
    fn lock_images_shared(&self) -> Result<LockGuard> {
        lock_shared(&self.locks_dir().join("images.lock"))
    }

    /// Held by a pull, load or import from its first blob write until its
    /// image record is committed, so gc never deletes blobs or layers that
    /// are in flight. Take it before any layer lock.
    pub fn lock_gc_shared(&self) -> Result<LockGuard> {
        lock_shared(&self.locks_dir().join("gc.lock"))
    }

    fn lock_gc_exclusive(&self) -> Result<LockGuard> {
        lock_exclusive(&self.locks_dir().join("gc.lock"))
    }
}

/// Now, as RFC 3339 with second precision in UTC (what records store).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn open_creates_the_layout() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("store");
        assert!(Store::open_existing(&root).unwrap().is_none());
        let s = Store::open(&root).unwrap();
        for sub in ["blobs/sha256", "ingest", "layers", "tmp", "locks"] {
            assert!(root.join(sub).is_dir(), "{sub}");
        }
        let layout: serde_json::Value =
            serde_json::from_slice(&fs::read(root.join("oci-layout")).unwrap()).unwrap();
        assert_eq!(layout["imageLayoutVersion"], "1.0.0");
        let index: serde_json::Value =
            serde_json::from_slice(&fs::read(root.join("index.json")).unwrap()).unwrap();
        assert_eq!(index["schemaVersion"], 2);
        assert_eq!(index["manifests"].as_array().unwrap().len(), 0);
        assert_eq!(s.root(), root);
        assert!(Store::open_existing(&root).unwrap().is_some());
        // Opening again is harmless.
        Store::open(&root).unwrap();
    }

    #[test]
    fn open_cleans_only_dead_leftovers() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        let s = Store::open(root).unwrap();
        let dead_ingest = s.ingest_dir().join("999999-1-0");
        let dead_tmp = s.tmp_dir().join("999999-1-1-layer");
        let dead_sibling = root.join(".tmp-999999-3-index.json");
        fs::write(&dead_ingest, b"partial").unwrap();
        fs::create_dir_all(dead_tmp.join("diff/ro")).unwrap();
        fs::set_permissions(
            dead_tmp.join("diff/ro"),
            std::os::unix::fs::PermissionsExt::from_mode(0o555),
        )
        .unwrap();
        fs::write(&dead_sibling, b"{").unwrap();
        let live_ingest = s.ingest_dir().join(scratch::scratch_name(""));
        let live_tmp = s.tmp_dir().join(scratch::scratch_name("layer"));
        let live_sibling = root.join(format!(".tmp-{}-7-index.json", std::process::id()));
        fs::write(&live_ingest, b"partial").unwrap();
        fs::create_dir(&live_tmp).unwrap();
        fs::write(&live_sibling, b"{").unwrap();

        Store::open(root).unwrap();
        assert!(!dead_ingest.exists());
        assert!(!dead_tmp.exists());
        assert!(!dead_sibling.exists());
        assert!(live_ingest.exists());
        assert!(live_tmp.exists());
        assert!(live_sibling.exists());
    }

    /// A writer killed with SIGKILL mid-write: its file survives it, and
    /// the next `open` removes it, while the writer was alive it did not.
    #[test]
    fn open_cleans_after_a_killed_writer() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        let start = scratch::proc_start_time(pid).unwrap();
        let partial = s.ingest_dir().join(format!("{pid}-{start}-0"));
        fs::write(&partial, b"half a layer").unwrap();
        Store::open(d.path()).unwrap();
        assert!(partial.exists(), "a live writer's file was removed");
        child.kill().unwrap();
        child.wait().unwrap();
        Store::open(d.path()).unwrap();
        assert!(!partial.exists());
    }
}
