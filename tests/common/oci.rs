//! OCI and Docker image documents built in memory: layers (tar, gzip,
//! zstd), configs, manifests, indexes, and an OCI image layout on disk.
//!
//! A [`Blob`]'s digest and size are what documents *declare*; they are
//! normally true, and the lying fixtures change them after the fact.

use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;

pub mod media {
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
    pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
}

/// Bytes and what documents say about them.
#[derive(Clone, Debug)]
pub struct Blob {
    pub digest: String,
    pub size: u64,
    pub data: Vec<u8>,
}

impl Blob {
    pub fn new(data: Vec<u8>) -> Blob {
        Blob {
            digest: super::sha256(&data),
            size: data.len() as u64,
            data,
        }
    }

    pub fn json(v: &Value) -> Blob {
        Blob::new(serde_json::to_vec(v).expect("serialize a document"))
    }

    pub fn hex(&self) -> &str {
        super::hex_of(&self.digest)
    }

    pub fn descriptor(&self, media_type: &str) -> Value {
        json!({"mediaType": media_type, "digest": self.digest, "size": self.size})
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

pub fn compress(tar: &[u8], c: Compression) -> Vec<u8> {
    match c {
        Compression::None => tar.to_vec(),
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(tar).expect("gzip a layer");
            enc.finish().expect("gzip a layer")
        }
        Compression::Zstd => zstd::encode_all(tar, 3).expect("zstd a layer"),
    }
}

#[derive(Clone, Debug)]
pub struct Layer {
    /// The compressed bytes as the registry serves them.
    pub blob: Blob,
    pub media_type: String,
    /// What the config declares: sha256 of the uncompressed tar, unless a
    /// fixture lies.
    pub diff_id: String,
    pub tar: Vec<u8>,
}

impl Layer {
    /// A layer with OCI media types, or Docker's when `docker` (gzip only).
    pub fn new(tar: Vec<u8>, c: Compression, docker: bool) -> Layer {
        let media_type = match (c, docker) {
            (Compression::Gzip, true) => media::DOCKER_LAYER_GZIP,
            (_, true) => panic!("docker layers here are gzip"),
            (Compression::None, false) => media::OCI_LAYER,
            (Compression::Gzip, false) => media::OCI_LAYER_GZIP,
            (Compression::Zstd, false) => media::OCI_LAYER_ZSTD,
        };
        Layer {
            blob: Blob::new(compress(&tar, c)),
            media_type: media_type.to_string(),
            diff_id: super::sha256(&tar),
            tar,
        }
    }

    /// The same bytes described with Docker's media type.
    pub fn as_docker(&self) -> Layer {
        assert_eq!(self.media_type, media::OCI_LAYER_GZIP);
        Layer {
            media_type: media::DOCKER_LAYER_GZIP.to_string(),
            ..self.clone()
        }
    }
}

/// What an image's config says besides its layers.
#[derive(Clone, Debug)]
pub struct ImageSpec {
    pub architecture: String,
    pub variant: Option<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub labels: Vec<(String, String)>,
    /// One `created_by` per history entry; `None` marks an entry with
    /// `empty_layer: true`. Empty: one entry per layer.
    pub history: Vec<Option<String>>,
    pub docker: bool,
    /// More keys of the config's `config` object (`Entrypoint`, `User`,
    /// `WorkingDir`, `Volumes`, ...), overriding the defaults above.
    pub extra_config: serde_json::Map<String, Value>,
}

impl ImageSpec {
    pub fn new(label: &str) -> ImageSpec {
        ImageSpec {
            architecture: "amd64".into(),
            variant: None,
            cmd: vec!["sh".into()],
            env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
            labels: vec![("org.skiff.test".into(), label.into())],
            history: Vec::new(),
            docker: false,
            extra_config: serde_json::Map::new(),
        }
    }
}

pub const CREATED: &str = "2023-11-14T22:13:20Z";

#[derive(Clone, Debug)]
pub struct Image {
    pub layers: Vec<Layer>,
    pub config: Blob,
    pub manifest: Blob,
    pub manifest_media_type: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Image {
    pub fn build(spec: &ImageSpec, layers: Vec<Layer>) -> Image {
        let diff_ids: Vec<&str> = layers.iter().map(|l| l.diff_id.as_str()).collect();
        let history: Vec<Value> = if spec.history.is_empty() {
            (0..layers.len())
                .map(|i| json!({"created": CREATED, "created_by": format!("layer {i}")}))
                .collect()
        } else {
            spec.history
                .iter()
                .map(|h| match h {
                    Some(by) => json!({"created": CREATED, "created_by": by}),
                    None => json!({"created": CREATED, "created_by": "CMD", "empty_layer": true}),
                })
                .collect()
        };
        let labels: serde_json::Map<String, Value> = spec
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let mut config = json!({
            "architecture": spec.architecture,
            "os": "linux",
            "created": CREATED,
            "author": "skiff tests",
            "config": {"Cmd": spec.cmd, "Env": spec.env, "Labels": labels, "WorkingDir": "/"},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        });
        if let Some(v) = &spec.variant {
            config["variant"] = json!(v);
        }
        for (k, v) in &spec.extra_config {
            config["config"][k] = v.clone();
        }
        let config = Blob::json(&config);
        let (mt, config_mt) = if spec.docker {
            (media::DOCKER_MANIFEST, media::DOCKER_CONFIG)
        } else {
            (media::OCI_MANIFEST, media::OCI_CONFIG)
        };
        let manifest = manifest_blob(
            mt,
            config.descriptor(config_mt),
            layers
                .iter()
                .map(|l| l.blob.descriptor(&l.media_type))
                .collect(),
        );
        Image {
            layers,
            config,
            manifest,
            manifest_media_type: mt.to_string(),
            architecture: spec.architecture.clone(),
            variant: spec.variant.clone(),
        }
    }

    /// Docker's image ID: the config digest.
    pub fn id(&self) -> &str {
        &self.config.digest
    }

    /// The 12-hex short ID `docker images` shows.
    pub fn short_id(&self) -> &str {
        &self.config.hex()[..12]
    }

    pub fn diff_ids(&self) -> Vec<String> {
        self.layers.iter().map(|l| l.diff_id.clone()).collect()
    }

    pub fn chain_ids(&self) -> Vec<String> {
        chain_ids(&self.diff_ids())
    }

    /// Config and layer blobs (not the manifest).
    pub fn blobs(&self) -> Vec<&Blob> {
        std::iter::once(&self.config)
            .chain(self.layers.iter().map(|l| &l.blob))
            .collect()
    }

    pub fn platform(&self) -> Value {
        let mut p = json!({"architecture": self.architecture, "os": "linux"});
        if let Some(v) = &self.variant {
            p["variant"] = json!(v);
        }
        p
    }

    pub fn content(&self) -> Content {
        Content {
            media_type: self.manifest_media_type.clone(),
            manifests: vec![self.manifest.clone()],
            blobs: self.blobs().into_iter().cloned().collect(),
        }
    }
}

pub fn manifest_blob(media_type: &str, config: Value, layers: Vec<Value>) -> Blob {
    Blob::json(&json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": config,
        "layers": layers,
    }))
}

/// OCI chain IDs: chain[0] = diff[0]; chain[n] = sha256(chain[n-1] + " " + diff[n]).
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => super::sha256(format!("{prev} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

#[derive(Clone, Debug)]
pub struct Index {
    pub manifest: Blob,
    pub media_type: String,
    pub images: Vec<Image>,
}

impl Index {
    pub fn build(images: Vec<Image>, docker: bool) -> Index {
        let mt = if docker {
            media::DOCKER_LIST
        } else {
            media::OCI_INDEX
        };
        let manifests: Vec<Value> = images
            .iter()
            .map(|i| {
                let mut d = i.manifest.descriptor(&i.manifest_media_type);
                d["platform"] = i.platform();
                d
            })
            .collect();
        let manifest = Blob::json(&json!({
            "schemaVersion": 2,
            "mediaType": mt,
            "manifests": manifests,
        }));
        Index {
            manifest,
            media_type: mt.to_string(),
            images,
        }
    }

    pub fn image(&self, arch: &str) -> &Image {
        self.images
            .iter()
            .find(|i| i.architecture == arch)
            .unwrap_or_else(|| panic!("no {arch} image in the index"))
    }

    pub fn content(&self) -> Content {
        let mut manifests = vec![self.manifest.clone()];
        let mut blobs = Vec::new();
        for i in &self.images {
            manifests.push(i.manifest.clone());
            blobs.extend(i.blobs().into_iter().cloned());
        }
        Content {
            media_type: self.media_type.clone(),
            manifests,
            blobs,
        }
    }
}

/// Everything a tag needs stored: its manifest first, then any child
/// manifests, and the config and layer blobs.
#[derive(Clone, Debug)]
pub struct Content {
    pub media_type: String,
    pub manifests: Vec<Blob>,
    pub blobs: Vec<Blob>,
}

impl Content {
    pub fn top(&self) -> &Blob {
        &self.manifests[0]
    }
}

/// Write an OCI image layout at `dir` holding each content under its
/// `org.opencontainers.image.ref.name`.
pub fn write_layout(dir: &Path, refs: &[(&str, &Content)]) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("create layout blobs dir");
    let mut index = Vec::new();
    for (name, content) in refs {
        for b in content.manifests.iter().chain(&content.blobs) {
            let p = blobs.join(b.hex());
            if !p.exists() {
                std::fs::write(&p, &b.data).expect("write a layout blob");
            }
        }
        let mut d = content.top().descriptor(&content.media_type);
        d["annotations"] = json!({"org.opencontainers.image.ref.name": name});
        index.push(d);
    }
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("write oci-layout");
    let index = json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": index});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap())
        .expect("write index.json");
}
