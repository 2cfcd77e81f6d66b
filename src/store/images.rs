//! Image records (`images.json`), changed only under the images lock:
//! lock, reload, change, write `images.json` and `index.json` atomically.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io;

use super::Store;
use crate::digest::Digest;
use crate::util::fs::atomic_write;

/// One image in the store.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ImageRecord {
    /// The config digest (Docker's image ID).
    pub id: Digest,
    pub manifest_digest: Digest,
    pub manifest_media_type: String,
    pub manifest_size: u64,
    /// Full references with tags: `docker.io/library/busybox:latest`.
    #[serde(default)]
    pub names: Vec<String>,
    /// `docker.io/library/busybox@sha256:...`
    #[serde(default)]
    pub repo_digests: Vec<String>,
    /// Other blobs kept alive for this image (the manifest list it was
    /// pulled through).
    #[serde(default)]
    pub extra_blobs: Vec<Digest>,
    /// Chain IDs, bottom layer first.
    #[serde(default)]
    pub layers: Vec<Digest>,
    /// From the image config.
    #[serde(default)]
    pub created: Option<String>,
    /// When it was stored, RFC 3339.
    pub added: String,
    /// The sum of the unpacked layer sizes.
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
}

/// The shape of `images.json`; an object so fields can be added later.
#[derive(Serialize, Deserialize, Default)]
struct ImagesFile {
    #[serde(default)]
    images: Vec<ImageRecord>,
}

impl Store {
    /// The image records (read under a shared lock).
    pub fn images(&self) -> Result<Vec<ImageRecord>> {
        // images.json is only ever replaced by rename, so a reader that
        // cannot take the lock (a user looking at root's store) still sees
        // a whole file, just maybe not the newest.
        let _g = self.lock_images_shared().ok();
        self.load_images_locked()
    }

    /// Change the image records: exclusive lock, reload, `f`, then write
    /// `images.json` and `index.json` atomically. When `f` fails, or leaves
    /// a name or ID on two records, nothing is written.
    pub fn update_images<T>(
        &self,
        f: impl FnOnce(&mut Vec<ImageRecord>) -> Result<T>,
    ) -> Result<T> {
        let _g = self.lock_images_exclusive()?;
        let mut images = self.load_images_locked()?;
        let out = f(&mut images)?;
        validate(&images)?;
        self.write_images_locked(&images)?;
        self.write_index_locked(&images)?;
        Ok(out)
    }

    pub(crate) fn load_images_locked(&self) -> Result<Vec<ImageRecord>> {
        let path = self.images_path();
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
        };
        let file: ImagesFile =
            serde_json::from_slice(&data).with_context(|| format!("parse {}", path.display()))?;
        Ok(file.images)
    }

    fn write_images_locked(&self, images: &[ImageRecord]) -> Result<()> {
        let file = ImagesFile {
            images: images.to_vec(),
        };
        let json = serde_json::to_vec_pretty(&file).context("serialize image records")?;
        atomic_write(&self.images_path(), &json)
    }
}

/// A name or an ID on two records would make `index.json` ambiguous and
/// `docker run NAME` pick at random: refuse it.
fn validate(images: &[ImageRecord]) -> Result<()> {
    let mut ids: HashSet<&Digest> = HashSet::new();
    let mut names: HashMap<&str, &Digest> = HashMap::new();
    for img in images {
        if !ids.insert(&img.id) {
            bail!("image records: image {} is recorded twice", img.id);
        }
        for name in &img.names {
            if let Some(other) = names.insert(name, &img.id) {
                if other != &img.id {
                    bail!(
                        "image records: name {name} is on two images ({other} and {})",
                        img.id
                    );
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::now_rfc3339;

    pub(crate) fn sample(seed: &str, names: &[&str]) -> ImageRecord {
        ImageRecord {
            id: Digest::of(format!("config {seed}").as_bytes()),
            manifest_digest: Digest::of(format!("manifest {seed}").as_bytes()),
            manifest_media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            manifest_size: 100,
            names: names.iter().map(|s| s.to_string()).collect(),
            repo_digests: Vec::new(),
            extra_blobs: Vec::new(),
            layers: Vec::new(),
            created: None,
            added: now_rfc3339(),
            size: 0,
            labels: BTreeMap::new(),
            architecture: "amd64".into(),
            os: "linux".into(),
        }
    }

    #[test]
    fn update_is_all_or_nothing() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let a = sample("a", &["docker.io/library/a:latest"]);
        s.update_images(|imgs| {
            imgs.push(a.clone());
            Ok(())
        })
        .unwrap();
        assert_eq!(s.images().unwrap(), vec![a.clone()]);
        let images_before = fs::read(s.images_path()).unwrap();
        let index_before = fs::read(s.index_path()).unwrap();

        let e = s
            .update_images(|imgs| -> Result<()> {
                imgs.clear();
                bail!("changed my mind")
            })
            .unwrap_err();
        assert_eq!(e.to_string(), "changed my mind");
        let dup = s
            .update_images(|imgs| {
                imgs.push(sample("b", &["docker.io/library/a:latest"]));
                Ok(())
            })
            .unwrap_err();
        assert!(dup.to_string().contains("is on two images"), "{dup}");
        assert_eq!(fs::read(s.images_path()).unwrap(), images_before);
        assert_eq!(fs::read(s.index_path()).unwrap(), index_before);
        assert_eq!(s.images().unwrap(), vec![a]);
    }

    #[test]
    fn update_returns_the_closure_value() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let n = s
            .update_images(|imgs| {
                imgs.push(sample("x", &[]));
                Ok(imgs.len())
            })
            .unwrap();
        assert_eq!(n, 1);
    }
}
