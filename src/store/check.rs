//! A consistency walk over the store, for tests and `skiff system check`:
//! every problem found is described in one line; none means consistent.

use anyhow::Result;
use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::path::Path;

use super::layout::index_json;
use super::refs::manifest_refs;
use super::scratch::list_names;
use super::{chain_ids, ImageRecord, Store};
use crate::digest::{Digest, HashingReader};

/// What the blob walk learned about one blob.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BlobState {
    Good,
    Corrupt,
}

impl Store {
    /// Check that every image's manifest, config and layer blobs exist and
    /// verify, that each chain id has a committed layer with a matching
    /// record, that `index.json` agrees with `images.json`, that no
    /// temp file lies outside `ingest/` and `tmp/`, and that networks
    /// and their leases agree. Returns the problems.
    pub fn check(&self) -> Result<Vec<String>> {
        let _gc = self.lock_gc_shared()?;
        let _images = self.lock_images_shared()?;
        let mut problems = Vec::new();
        let images = match self.load_images_locked() {
            Ok(i) => i,
            Err(e) => {
                problems.push(format!("{e:#}"));
                Vec::new()
            }
        };
        let blobs = self.check_blobs(&mut problems)?;
        for img in &images {
            self.check_image(img, &blobs, &mut problems);
        }
        self.check_index(&images, &blobs, &mut problems)?;
        self.check_strays(&mut problems)?;
        self.check_networks(&mut problems)?;
        Ok(problems)
    }

    /// Hash every blob; report those whose content does not match their
    /// name, and names that are not blobs at all.
    fn check_blobs(&self, problems: &mut Vec<String>) -> Result<HashMap<Digest, BlobState>> {
        let mut out = HashMap::new();
        let dir = self.blobs_dir();
        for name in list_names(&dir)? {
            let path = dir.join(&name);
            let Ok(d) = Digest::parse(&format!("sha256:{name}")) else {
                problems.push(format!("stray file {}", path.display()));
                continue;
            };
            let state = match hash_file(&path) {
                Ok(got) if got == d => BlobState::Good,
                Ok(got) => {
                    problems.push(format!("blob {d}: digest mismatch: got {got}"));
                    BlobState::Corrupt
                }
                Err(e) => {
                    problems.push(format!("blob {d}: read {}: {e}", path.display()));
                    BlobState::Corrupt
                }
            };
            out.insert(d, state);
        }
        Ok(out)
    }

    fn check_image(
        &self,
        img: &ImageRecord,
        blobs: &HashMap<Digest, BlobState>,
        problems: &mut Vec<String>,
    ) {
        let who = match img.names.first() {
            Some(n) => format!("image {} ({n})", img.id),
            None => format!("image {}", img.id),
        };
        // Records the problem, if any; true when the blob is there and good.
        let need = |problems: &mut Vec<String>, what: &str, d: &Digest| -> bool {
            match blobs.get(d) {
                Some(BlobState::Good) => true,
                Some(BlobState::Corrupt) => {
                    problems.push(format!("{who}: {what} blob {d} is corrupt"));
                    false
                }
                None => {
                    problems.push(format!("{who}: {what} blob {d} is missing"));
                    false
                }
            }
        };
        need(problems, "config", &img.id);
        for extra in &img.extra_blobs {
            need(problems, "extra", extra);
        }
        if need(problems, "manifest", &img.manifest_digest) {
            match fs::read(self.blob_path(&img.manifest_digest))
                .map_err(|e| e.to_string())
                .and_then(|data| manifest_refs(&data).map_err(|e| e.to_string()))
            {
                Ok(refs) => {
                    if refs.config.as_ref() != Some(&img.id) {
                        problems.push(format!(
                            "{who}: manifest {} names config {:?}, the record says {}",
                            img.manifest_digest, refs.config, img.id
                        ));
                    }
                    for l in &refs.layers {
                        need(problems, "layer", l);
                    }
                }
                Err(e) => problems.push(format!(
                    "{who}: parse manifest {}: {e}",
                    img.manifest_digest
                )),
            }
        }
        let mut diff_ids = Vec::new();
        for (i, chain) in img.layers.iter().enumerate() {
            let rec = match self.layer_record(chain) {
                Ok(r) => r,
                Err(e) => {
                    problems.push(format!("{who}: layer {chain}: {e:#}"));
                    continue;
                }
            };
            if &rec.chain_id != chain {
                problems.push(format!(
                    "{who}: layer {chain}: its record names chain id {}",
                    rec.chain_id
                ));
            }
            let parent = i.checked_sub(1).map(|p| &img.layers[p]);
            if rec.parent.as_ref() != parent {
                problems.push(format!(
                    "{who}: layer {chain}: parent {:?}, expected {:?}",
                    rec.parent, parent
                ));
            }
            if !self.layer_dir(chain).is_dir() {
                problems.push(format!("{who}: layer {chain}: diff directory missing"));
            }
            diff_ids.push(rec.diff_id);
        }
        if diff_ids.len() == img.layers.len() && chain_ids(&diff_ids) != img.layers {
            problems.push(format!(
                "{who}: chain ids do not follow from the layers' diff ids"
            ));
        }
    }

    fn check_index(
        &self,
        images: &[ImageRecord],
        blobs: &HashMap<Digest, BlobState>,
        problems: &mut Vec<String>,
    ) -> Result<()> {
        let layout = self.layout_manifests(images, false)?;
        for img in images {
            if let Some(copy) = layout.get(&img.id) {
                if blobs.get(&copy.digest) != Some(&BlobState::Good) {
                    problems.push(format!(
                        "image {}: the OCI copy {} of manifest {} is missing or corrupt",
                        img.id, copy.digest, img.manifest_digest
                    ));
                }
            }
        }
        let path = self.index_path();
        let on_disk: Result<serde_json::Value, String> = fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|d| serde_json::from_slice(&d).map_err(|e| e.to_string()));
        match on_disk {
            Ok(v) if v == index_json(images, &layout) => {}
            Ok(_) => problems.push(format!(
                "{} does not match the image records",
                path.display()
            )),
            Err(e) => problems.push(format!("read {}: {e}", path.display())),
        }
        Ok(())
    }

    /// Temp files may live only in `ingest/` and `tmp/`.
    fn check_strays(&self, problems: &mut Vec<String>) -> Result<()> {
        for name in list_names(&self.root)? {
            if name.starts_with(".tmp-") {
                problems.push(format!(
                    "stray temp file {}",
                    self.root.join(name).display()
                ));
            }
        }
        for name in list_names(&self.root.join("blobs"))? {
            if name != "sha256" {
                problems.push(format!(
                    "stray file {}",
                    self.root.join("blobs").join(name).display()
                ));
            }
        }
        let layers = self.layers_dir();
        for name in list_names(&layers)? {
            let dir = layers.join(&name);
            if Digest::parse(&format!("sha256:{name}")).is_err() || !dir.is_dir() {
                problems.push(format!("stray file {}", dir.display()));
                continue;
            }
            let entries = list_names(&dir)?;
            if !entries.iter().any(|e| e == "layer.json") {
                problems.push(format!("layer dir {} has no layer.json", dir.display()));
            }
            for e in entries {
                if e != "layer.json" && e != "diff" {
                    problems.push(format!("stray file {}", dir.join(e).display()));
                }
            }
        }
        Ok(())
    }
}

fn hash_file(path: &Path) -> io::Result<Digest> {
    let mut r = HashingReader::new(File::open(path)?);
    io::copy(&mut r, &mut io::sink())?;
    Ok(r.finish().0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::gc::tests::put_image;

    fn store_with_image() -> (tempfile::TempDir, Store, ImageRecord) {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let a = put_image(&s, "a", &["docker.io/library/a:1"]);
        s.update_images(|imgs| {
            imgs.push(a.clone());
            Ok(())
        })
        .unwrap();
        (d, s, a)
    }

    fn manifest_layers(s: &Store, img: &ImageRecord) -> Vec<Digest> {
        manifest_refs(&s.read_blob(&img.manifest_digest).unwrap())
            .unwrap()
            .layers
    }

    #[test]
    fn a_fresh_store_is_consistent() {
        let (_d, s, _) = store_with_image();
        assert_eq!(s.check().unwrap(), Vec::<String>::new());
    }

    #[test]
    fn finds_a_deleted_blob() {
        let (_d, s, a) = store_with_image();
        let l = manifest_layers(&s, &a)[1].clone();
        fs::remove_file(s.blob_path(&l)).unwrap();
        let p = s.check().unwrap();
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].contains(&format!("layer blob {l} is missing")),
            "{p:?}"
        );
    }

    #[test]
    fn finds_a_corrupted_blob() {
        let (_d, s, a) = store_with_image();
        fs::write(s.blob_path(&a.id), b"tampered").unwrap();
        let p = s.check().unwrap();
        assert!(p.iter().any(|m| m.contains("digest mismatch")), "{p:?}");
        assert!(
            p.iter()
                .any(|m| m.contains("config blob") && m.contains("corrupt")),
            "{p:?}"
        );
    }

    #[test]
    fn finds_stray_temp_files() {
        let (_d, s, a) = store_with_image();
        fs::write(s.root().join(".tmp-999999-0-images.json"), b"{").unwrap();
        fs::write(s.blobs_dir().join("partial"), b"x").unwrap();
        fs::write(
            s.layer_dir(&a.layers[0]).parent().unwrap().join("junk"),
            b"x",
        )
        .unwrap();
        // Temp files in ingest/ and tmp/ are where they belong.
        fs::write(s.ingest_dir().join("999999-1-0"), b"x").unwrap();
        let p = s.check().unwrap();
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p.iter().all(|m| m.starts_with("stray")), "{p:?}");
    }

    #[test]
    fn finds_missing_layers_and_a_stale_index() {
        let (_d, s, a) = store_with_image();
        crate::store::remove_tree(s.layer_dir(&a.layers[1]).parent().unwrap()).unwrap();
        fs::write(s.index_path(), b"{\"schemaVersion\":2,\"manifests\":[]}").unwrap();
        let p = s.check().unwrap();
        assert!(p.iter().any(|m| m.contains("not in the store")), "{p:?}");
        assert!(
            p.iter()
                .any(|m| m.contains("does not match the image records")),
            "{p:?}"
        );
    }
}
