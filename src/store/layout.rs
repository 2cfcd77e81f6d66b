//! The OCI image layout files (`oci-layout`, `index.json`) that let
//! standard tools read the store: `skopeo inspect oci:<root>:<name>`.

use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::collections::HashSet;

use super::images::ImageRecord;
use super::Store;
use crate::util::fs::atomic_write;

pub(crate) const OCI_LAYOUT: &str = "{\"imageLayoutVersion\":\"1.0.0\"}";

/// The annotation that OCI layout readers match `oci:<dir>:<name>` against.
pub(crate) const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// `index.json` for these records: one manifest descriptor per (image,
/// name), annotated with the full name, and one without annotations for an
/// image with no name (so tools still see it, and it is reachable).
pub fn index_json(images: &[ImageRecord]) -> Value {
    let mut manifests = Vec::new();
    let mut seen = HashSet::new();
    for img in images {
        let descriptor = |name: Option<&str>| {
            let mut d = json!({
                "mediaType": img.manifest_media_type,
                "digest": img.manifest_digest,
                "size": img.manifest_size,
            });
            if !img.architecture.is_empty() && !img.os.is_empty() {
                d["platform"] = json!({"architecture": img.architecture, "os": img.os});
            }
            if let Some(n) = name {
                d["annotations"] = json!({ REF_NAME: n });
            }
            d
        };
        if img.names.is_empty() {
            manifests.push(descriptor(None));
        }
        for name in &img.names {
            // update_images refuses duplicates; this keeps a hand-edited
            // images.json from producing an index that readers reject.
            if seen.insert(name.as_str()) {
                manifests.push(descriptor(Some(name)));
            }
        }
    }
    json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    })
}

impl Store {
    /// Regenerate `index.json` from the image records. The caller holds
    /// the images lock.
    pub(crate) fn write_index_locked(&self, images: &[ImageRecord]) -> Result<()> {
        let json =
            serde_json::to_vec_pretty(&index_json(images)).context("serialize index.json")?;
        atomic_write(&self.index_path(), &json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::images::tests::sample;

    #[test]
    fn one_descriptor_per_name_and_one_for_nameless() {
        let a = sample(
            "a",
            &["docker.io/library/busybox:latest", "localhost:5000/bb:1"],
        );
        let b = sample("b", &[]);
        let idx = index_json(&[a.clone(), b.clone()]);
        let m = idx["manifests"].as_array().unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[0]["digest"], a.manifest_digest.as_str());
        assert_eq!(
            m[0]["annotations"][REF_NAME],
            "docker.io/library/busybox:latest"
        );
        assert_eq!(m[1]["annotations"][REF_NAME], "localhost:5000/bb:1");
        assert_eq!(m[2]["digest"], b.manifest_digest.as_str());
        assert!(m[2].get("annotations").is_none());
        assert_eq!(m[0]["mediaType"], a.manifest_media_type);
        assert_eq!(m[0]["size"], 100);
        assert_eq!(m[0]["platform"]["architecture"], "amd64");
    }

    #[test]
    fn index_on_disk_follows_updates() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let a = sample("a", &["docker.io/library/a:1"]);
        s.update_images(|imgs| {
            imgs.push(a.clone());
            Ok(())
        })
        .unwrap();
        let on_disk: Value =
            serde_json::from_slice(&std::fs::read(s.index_path()).unwrap()).unwrap();
        assert_eq!(on_disk, index_json(&[a]));
        s.update_images(|imgs| {
            imgs.clear();
            Ok(())
        })
        .unwrap();
        let on_disk: Value =
            serde_json::from_slice(&std::fs::read(s.index_path()).unwrap()).unwrap();
        assert_eq!(on_disk["manifests"].as_array().unwrap().len(), 0);
    }
}
