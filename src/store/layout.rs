//! The OCI image layout files (`oci-layout`, `index.json`) that let
//! standard tools read the store: `skopeo inspect oci:<root>:<name>`.
//!
//! OCI layout readers (containers/image, so skopeo, podman, buildah) skip
//! index entries whose media type is not an OCI one, so an image pulled
//! with a Docker schema 2 manifest is listed through an OCI copy of that
//! manifest: the same config and layer blobs, OCI media types. The copy is
//! derived from the Docker manifest's bytes alone, so gc and check can
//! recompute it and no record has to carry it.

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

use super::images::ImageRecord;
use super::Store;
use crate::digest::Digest;
use crate::util::fs::atomic_write;

pub(crate) const OCI_LAYOUT: &str = "{\"imageLayoutVersion\":\"1.0.0\"}";

/// The annotation that OCI layout readers match `oci:<dir>:<name>` against.
pub(crate) const REF_NAME: &str = "org.opencontainers.image.ref.name";

pub(crate) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// The manifest an index entry points at, when it is not the image's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LayoutManifest {
    pub digest: Digest,
    pub size: u64,
}

/// Docker media types and their OCI equivalents (the blobs are the same
/// bytes; only the label differs).
fn oci_media_type(docker: &str) -> Option<&'static str> {
    Some(match docker {
        "application/vnd.docker.container.image.v1+json" => {
            "application/vnd.oci.image.config.v1+json"
        }
        "application/vnd.docker.image.rootfs.diff.tar.gzip" => {
            "application/vnd.oci.image.layer.v1.tar+gzip"
        }
        "application/vnd.docker.image.rootfs.diff.tar" => "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => {
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
        }
        "application/vnd.docker.image.rootfs.foreign.diff.tar" => {
            "application/vnd.oci.image.layer.nondistributable.v1.tar"
        }
        _ => return None,
    })
}

/// The OCI copy of a Docker schema 2 manifest: same descriptors, OCI media
/// types. Deterministic: the same input always gives the same bytes.
pub(crate) fn oci_manifest_from_docker(data: &[u8]) -> Result<Vec<u8>> {
    let mut v: Value = serde_json::from_slice(data).context("parse manifest")?;
    let Some(obj) = v.as_object_mut() else {
        bail!("manifest is not a JSON object");
    };
    obj.insert("mediaType".into(), json!(OCI_MANIFEST));
    let relabel = |d: &mut Value| {
        if let Some(mt) = d.get("mediaType").and_then(Value::as_str) {
            if let Some(oci) = oci_media_type(mt) {
                d["mediaType"] = json!(oci);
            }
        }
    };
    if let Some(c) = obj.get_mut("config") {
        relabel(c);
    }
    if let Some(layers) = obj.get_mut("layers").and_then(Value::as_array_mut) {
        layers.iter_mut().for_each(relabel);
    }
    serde_json::to_vec(&v).context("serialize manifest")
}

/// `index.json` for these records: one manifest descriptor per (image,
/// name), annotated with the full name, and one without annotations for an
/// image with no name (so tools still see it, and it is reachable).
/// `layout` maps an image ID to the OCI copy of its manifest, if it has one.
pub(crate) fn index_json(
    images: &[ImageRecord],
    layout: &HashMap<Digest, LayoutManifest>,
) -> Value {
    let mut manifests = Vec::new();
    let mut seen = HashSet::new();
    for img in images {
        let descriptor = |name: Option<&str>| {
            let mut d = match layout.get(&img.id) {
                Some(copy) => json!({
                    "mediaType": OCI_MANIFEST,
                    "digest": copy.digest,
                    "size": copy.size,
                }),
                None => json!({
                    "mediaType": img.manifest_media_type,
                    "digest": img.manifest_digest,
                    "size": img.manifest_size,
                }),
            };
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
    /// The OCI copy of an image's manifest (bytes), for Docker schema 2
    /// images; `None` for images whose manifest is OCI already.
    pub(crate) fn oci_copy(&self, img: &ImageRecord) -> Result<Option<Vec<u8>>> {
        if img.manifest_media_type != DOCKER_MANIFEST {
            return Ok(None);
        }
        let data = self.read_blob(&img.manifest_digest)?;
        oci_manifest_from_docker(&data)
            .map(Some)
            .with_context(|| format!("manifest {}", img.manifest_digest))
    }

    /// The OCI copies the index should point at. With `write`, the copies
    /// are stored as blobs. An image whose manifest cannot be read keeps its
    /// own descriptor (`check` reports the missing manifest).
    pub(crate) fn layout_manifests(
        &self,
        images: &[ImageRecord],
        write: bool,
    ) -> Result<HashMap<Digest, LayoutManifest>> {
        let mut out = HashMap::new();
        for img in images {
            let Ok(Some(copy)) = self.oci_copy(img) else {
                continue;
            };
            let digest = if write {
                self.put_blob(&copy)?
            } else {
                Digest::of(&copy)
            };
            out.insert(
                img.id.clone(),
                LayoutManifest {
                    digest,
                    size: copy.len() as u64,
                },
            );
        }
        Ok(out)
    }

    /// Regenerate `index.json` from the image records. The caller holds
    /// the images lock.
    pub(crate) fn write_index_locked(&self, images: &[ImageRecord]) -> Result<()> {
        let layout = self.layout_manifests(images, true)?;
        let json = serde_json::to_vec_pretty(&index_json(images, &layout))
            .context("serialize index.json")?;
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
        let idx = index_json(&[a.clone(), b.clone()], &HashMap::new());
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
    fn docker_manifests_get_an_oci_copy() {
        let docker = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1,"digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":2,"digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}]}"#;
        let oci = oci_manifest_from_docker(docker).unwrap();
        let v: Value = serde_json::from_slice(&oci).unwrap();
        assert_eq!(v["mediaType"], OCI_MANIFEST);
        assert_eq!(
            v["config"]["mediaType"],
            "application/vnd.oci.image.config.v1+json"
        );
        assert_eq!(
            v["layers"][0]["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        assert_eq!(v["layers"][0]["size"], 2);
        assert_eq!(oci_manifest_from_docker(docker).unwrap(), oci);
        assert!(oci_manifest_from_docker(b"[]").is_err());
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
        assert_eq!(on_disk, index_json(&[a], &HashMap::new()));
        s.update_images(|imgs| {
            imgs.clear();
            Ok(())
        })
        .unwrap();
        let on_disk: Value =
            serde_json::from_slice(&std::fs::read(s.index_path()).unwrap()).unwrap();
        assert_eq!(on_disk["manifests"].as_array().unwrap().len(), 0);
    }

    /// Build a one-layer image in the store with the given manifest media
    /// type (and the matching config and layer types).
    fn put_real_image(s: &Store, manifest_type: &str, name: &str) -> ImageRecord {
        let (config_type, layer_type) = if manifest_type.contains("docker") {
            (
                "application/vnd.docker.container.image.v1+json",
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
            )
        } else {
            (
                "application/vnd.oci.image.config.v1+json",
                "application/vnd.oci.image.layer.v1.tar+gzip",
            )
        };
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(6);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, "hello.txt", &b"hello\n"[..])
            .unwrap();
        let tar = tar.into_inner().unwrap();
        let diff_id = Digest::of(&tar);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        let gz = gz.finish().unwrap();
        let layer = s.put_blob(&gz).unwrap();
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","config":{{"Cmd":["/bin/sh"],"Labels":{{"name":"{name}"}}}},"rootfs":{{"type":"layers","diff_ids":["{diff_id}"]}}}}"#
        );
        let config_digest = s.put_blob(config.as_bytes()).unwrap();
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{manifest_type}","config":{{"mediaType":"{config_type}","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"{layer_type}","digest":"{layer}","size":{}}}]}}"#,
            config.len(),
            gz.len()
        );
        let m = s.put_blob(manifest.as_bytes()).unwrap();
        let mut img = sample(name, &[name]);
        img.id = config_digest;
        img.manifest_digest = m;
        img.manifest_media_type = manifest_type.to_string();
        img.manifest_size = manifest.len() as u64;
        img
    }

    /// The store is an OCI layout that skopeo reads by full name, for OCI
    /// and Docker schema 2 manifests alike.
    #[test]
    fn skopeo_reads_the_store() {
        if std::process::Command::new("skopeo")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("skopeo not installed: skipped");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("store")).unwrap();
        let oci = put_real_image(
            &s,
            "application/vnd.oci.image.manifest.v1+json",
            "docker.io/library/busybox:latest",
        );
        let docker = put_real_image(
            &s,
            "application/vnd.docker.distribution.manifest.v2+json",
            "localhost:5000/test/app:v1",
        );
        s.update_images(|imgs| {
            imgs.push(oci.clone());
            imgs.push(docker.clone());
            Ok(())
        })
        .unwrap();
        // gc keeps the OCI copy of the Docker manifest; check is happy.
        assert_eq!(s.gc().unwrap().blobs_removed, 0);
        assert_eq!(s.check().unwrap(), Vec::<String>::new());
        for img in [&oci, &docker] {
            let name = &img.names[0];
            let reference = format!("oci:{}:{name}", s.root().display());
            let out = std::process::Command::new("skopeo")
                .args(["inspect", "--raw", &reference])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "skopeo inspect {reference}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let listed = match s.oci_copy(img).unwrap() {
                Some(copy) => Digest::of(&copy),
                None => img.manifest_digest.clone(),
            };
            assert_eq!(Digest::of(&out.stdout), listed);
            let dest = d.path().join(format!("copy-{}", img.id.short()));
            let out = std::process::Command::new("skopeo")
                .args(["copy", &reference, &format!("dir:{}", dest.display())])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "skopeo copy {reference}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(dest.join(img.id.hex()).is_file());
        }
    }
}
