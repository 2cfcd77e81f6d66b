//! Garbage collection: delete the blobs and layers no image refers to.
//!
//! gc takes the gc lock exclusively: every pull, load or import holds it
//! shared from its first blob write until its image record is committed, so
//! nothing gc sees unreferenced can be about to gain a reference.

use anyhow::Result;
use std::collections::HashSet;
use std::fs;

use super::images::ImageRecord;
use super::layout::{oci_manifest_from_docker, DOCKER_MANIFEST};
use super::refs::manifest_refs;
use super::scratch::list_names;
use super::Store;
use crate::digest::Digest;
use crate::util::fs::fsync_dir;

/// What a gc run removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    pub blobs_removed: usize,
    pub layers_removed: usize,
    /// Blob bytes plus unpacked layer bytes.
    pub bytes_freed: u64,
    /// Why some garbage was kept (an image whose manifest cannot be read
    /// makes its layer blobs unknowable, so no blob is deleted then).
    pub warnings: Vec<String>,
}

/// What the image records keep alive. `blobs` is `None` when some image's
/// manifest could not be read: then the set of live blobs is unknown.
struct Live {
    blobs: Option<HashSet<Digest>>,
    layers: HashSet<Digest>,
    warnings: Vec<String>,
}

impl Store {
    /// Delete every blob and layer that no image references (its manifest,
    /// config, the layer blobs its manifest lists, its extra blobs, its
    /// chain ids), plus dead writers' leftovers.
    pub fn gc(&self) -> Result<GcReport> {
        let _gc = self.lock_gc_exclusive()?;
        let _images = self.lock_images_exclusive()?;
        let images = self.load_images_locked()?;
        let live = self.live_set(&images);
        let mut report = GcReport {
            warnings: live.warnings,
            ..GcReport::default()
        };

        if let Some(live_blobs) = &live.blobs {
            let dir = self.blobs_dir();
            for name in list_names(&dir)? {
                let Ok(d) = Digest::parse(&format!("sha256:{name}")) else {
                    continue; // not a blob: `check` reports it, gc leaves it
                };
                if live_blobs.contains(&d) {
                    continue;
                }
                let path = dir.join(&name);
                let size = fs::symlink_metadata(&path).map(|m| m.len()).unwrap_or(0);
                match fs::remove_file(&path) {
                    Ok(()) => {
                        report.blobs_removed += 1;
                        report.bytes_freed += size;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(anyhow::Error::new(e)
                            .context(format!("gc: remove blob {}", path.display())))
                    }
                }
            }
            if report.blobs_removed > 0 {
                fsync_dir(&dir)?;
            }
        }

        for name in list_names(&self.layers_dir())? {
            let Ok(id) = Digest::parse(&format!("sha256:{name}")) else {
                continue;
            };
            if live.layers.contains(&id) {
                continue;
            }
            let size = self.layer_record(&id).map(|r| r.size).unwrap_or(0);
            if self.remove_layer_locked(&id)? {
                report.layers_removed += 1;
                report.bytes_freed += size;
            }
        }
        if report.layers_removed > 0 {
            fsync_dir(&self.layers_dir())?;
        }

        // Lock files of layers that are not committed: nobody holds them
        // (unpackers hold the gc lock shared, and we hold it exclusively).
        for name in list_names(&self.locks_dir())? {
            let Some(hex) = name
                .strip_prefix("layer-")
                .and_then(|n| n.strip_suffix(".lock"))
            else {
                continue;
            };
            if let Ok(id) = Digest::parse(&format!("sha256:{hex}")) {
                if !self.has_layer(&id) {
                    let _ = fs::remove_file(self.locks_dir().join(&name));
                }
            }
        }

        self.clean_leftovers()?;
        Ok(report)
    }

    fn live_set(&self, images: &[ImageRecord]) -> Live {
        let mut blobs = HashSet::new();
        let mut layers = HashSet::new();
        let mut warnings = Vec::new();
        for img in images {
            layers.extend(img.layers.iter().cloned());
            blobs.insert(img.id.clone());
            blobs.insert(img.manifest_digest.clone());
            blobs.extend(img.extra_blobs.iter().cloned());
            // Read without verifying: a manifest that still parses names the
            // blobs to keep even if it was damaged.
            let data = fs::read(self.blob_path(&img.manifest_digest)).map_err(|e| e.to_string());
            let refs = data
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|data| manifest_refs(data).map_err(|e| e.to_string()));
            match refs {
                Ok(r) => {
                    blobs.extend(r.all().cloned());
                    // The OCI copy index.json points at (see `layout`).
                    if img.manifest_media_type == DOCKER_MANIFEST {
                        if let Ok(copy) = oci_manifest_from_docker(data.as_deref().unwrap_or(&[])) {
                            blobs.insert(Digest::of(&copy));
                        }
                    }
                }
                Err(e) => warnings.push(format!(
                    "image {}: manifest {}: {e}: no blobs removed",
                    img.id, img.manifest_digest
                )),
            }
        }
        // A container keeps its image's layers (and config) even after the
        // image is untagged and removed with `rmi -f`.
        match self.containers() {
            Ok(cs) => {
                for c in cs {
                    layers.extend(c.layers.iter().cloned());
                    blobs.insert(c.image_id.clone());
                }
            }
            Err(e) => warnings.push(format!("containers: {e:#}: no blobs removed")),
        }
        // The build cache keeps what its steps made until it is pruned.
        match self.cache_entries() {
            Ok(entries) => {
                for (_, e) in entries {
                    if let Some(l) = e.layer {
                        blobs.insert(l.digest);
                        layers.insert(l.chain_id);
                    }
                }
            }
            Err(e) => warnings.push(format!("build cache: {e:#}: no blobs removed")),
        }
        Live {
            blobs: warnings.is_empty().then_some(blobs),
            layers,
            warnings,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::images::tests::sample;
    use crate::store::{chain_ids, now_rfc3339, LayerRecord};

    /// Store a small image: config, two layer blobs, a manifest, two
    /// unpacked layers. Returns its record (not yet added).
    pub(crate) fn put_image(s: &Store, seed: &str, names: &[&str]) -> ImageRecord {
        let config = s
            .put_blob(format!("{{\"config\":\"{seed}\"}}").as_bytes())
            .unwrap();
        let l1 = s.put_blob(format!("layer1 {seed}").as_bytes()).unwrap();
        let l2 = s.put_blob(format!("layer2 {seed}").as_bytes()).unwrap();
        let manifest = format!(
            r#"{{"schemaVersion":2,"config":{{"digest":"{config}"}},"layers":[{{"digest":"{l1}"}},{{"digest":"{l2}"}}]}}"#
        );
        let m = s.put_blob(manifest.as_bytes()).unwrap();
        let diffs = vec![
            Digest::of(format!("diff1 {seed}").as_bytes()),
            Digest::of(format!("diff2 {seed}").as_bytes()),
        ];
        let chains = chain_ids(&diffs);
        for (i, (chain, diff)) in chains.iter().zip(&diffs).enumerate() {
            let st = s.layer_staging().unwrap();
            fs::write(st.diff_dir().join("f"), seed).unwrap();
            let rec = LayerRecord {
                chain_id: chain.clone(),
                diff_id: diff.clone(),
                parent: (i > 0).then(|| chains[i - 1].clone()),
                size: 10,
                diff_size: None,
                compressed_digest: None,
                compressed_size: None,
                media_type: None,
                created: now_rfc3339(),
            };
            st.commit(s, &rec).unwrap();
        }
        let mut img = sample(seed, names);
        img.id = config;
        img.manifest_digest = m;
        img.manifest_size = manifest.len() as u64;
        img.layers = chains;
        img
    }

    #[test]
    fn gc_removes_exactly_the_unreferenced() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let a = put_image(&s, "a", &["docker.io/library/a:1"]);
        let mut b = put_image(&s, "b", &["docker.io/library/b:1"]);
        let list = s.put_blob(b"{\"manifests\":[]}").unwrap();
        b.extra_blobs.push(list.clone());
        let stray = s.put_blob(b"nobody's").unwrap();
        s.update_images(|imgs| {
            imgs.push(a.clone());
            imgs.push(b.clone());
            Ok(())
        })
        .unwrap();

        let r = s.gc().unwrap();
        assert_eq!((r.blobs_removed, r.layers_removed), (1, 0));
        assert!(!s.has_blob(&stray));
        assert!(s.has_blob(&list));
        assert!(s.check().unwrap().is_empty());

        // Drop image b: its four blobs, its list and its two layers go.
        s.update_images(|imgs| {
            imgs.retain(|i| i.id != b.id);
            Ok(())
        })
        .unwrap();
        let r = s.gc().unwrap();
        assert_eq!((r.blobs_removed, r.layers_removed), (5, 2));
        assert!(r.bytes_freed > 20);
        assert!(r.warnings.is_empty());
        for l in &b.layers {
            assert!(!s.has_layer(l));
        }
        for l in &a.layers {
            assert!(s.has_layer(l));
        }
        assert!(s.has_blob(&a.manifest_digest) && s.has_blob(&a.id));
        assert!(s.check().unwrap().is_empty());
        assert_eq!(fs::read_dir(s.tmp_dir()).unwrap().count(), 0);
    }

    #[test]
    fn gc_keeps_blobs_when_a_manifest_is_unreadable() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let a = put_image(&s, "a", &["docker.io/library/a:1"]);
        let stray = s.put_blob(b"stray").unwrap();
        s.update_images(|imgs| {
            imgs.push(a.clone());
            Ok(())
        })
        .unwrap();
        fs::remove_file(s.blob_path(&a.manifest_digest)).unwrap();
        let r = s.gc().unwrap();
        assert_eq!(r.blobs_removed, 0);
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
        assert!(s.has_blob(&stray));
    }
}
