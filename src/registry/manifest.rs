//! Registry documents: descriptors, image manifests, indexes (manifest
//! lists), and how to tell them apart.

use super::platform::{self, Platform};
use crate::digest::Digest;
use crate::error::{kind_err, ErrorKind};
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Media types of the documents and blobs skiff deals with.
pub mod media {
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
    pub const DOCKER_SCHEMA1_SIGNED: &str =
        "application/vnd.docker.distribution.manifest.v1+prettyjws";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
    pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
    pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    pub const OCI_LAYER_NONDIST: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar";
    pub const OCI_LAYER_NONDIST_GZIP: &str =
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
    pub const OCI_LAYER_NONDIST_ZSTD: &str =
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
    /// Not in Docker's spec, but written by some tools for uncompressed layers.
    pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
    pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    pub const DOCKER_LAYER_ZSTD: &str = "application/vnd.docker.image.rootfs.diff.tar.zstd";
    pub const DOCKER_FOREIGN_LAYER_GZIP: &str =
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

    /// Every manifest type a registry may answer with, for `Accept`.
    pub const MANIFEST_TYPES: &[&str] = &[
        OCI_INDEX,
        DOCKER_LIST,
        OCI_MANIFEST,
        DOCKER_MANIFEST,
        DOCKER_SCHEMA1_SIGNED,
        DOCKER_SCHEMA1,
    ];
}

/// A pointer to content: what it is, its digest and size.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    pub fn new(media_type: &str, digest: Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest,
            size,
            urls: None,
            annotations: None,
            platform: None,
            artifact_type: None,
        }
    }
}

/// An image manifest (OCI or Docker schema 2): one config and its layers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// An image index (OCI) or manifest list (Docker): one manifest per platform.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// A parsed manifest document. (Unboxed although the variants differ in
/// size: there is one per pull, and callers match on it directly.)
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Manifest {
    Image(ImageManifest),
    Index(ImageIndex),
}

/// Is this the media type of an index / manifest list?
pub fn is_index_type(media_type: &str) -> bool {
    media_type == media::OCI_INDEX || media_type == media::DOCKER_LIST
}

/// Is this the media type of a single-image manifest?
pub fn is_image_type(media_type: &str) -> bool {
    media_type == media::OCI_MANIFEST || media_type == media::DOCKER_MANIFEST
}

fn is_schema1(media_type: &str) -> bool {
    media_type == media::DOCKER_SCHEMA1 || media_type == media::DOCKER_SCHEMA1_SIGNED
}

fn known(media_type: &str) -> bool {
    is_index_type(media_type) || is_image_type(media_type) || is_schema1(media_type)
}

/// `application/json; charset=utf-8` -> `application/json`
pub fn strip_params(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or("").trim()
}

fn malformed(e: impl std::fmt::Display) -> anyhow::Error {
    kind_err(ErrorKind::Corrupt, format!("malformed manifest: {e}"))
}

/// The media type of a manifest document: the `Content-Type` the registry
/// sent when it is a manifest type, else the document's own `mediaType`,
/// else guessed from its shape (OCI documents may omit `mediaType`, and
/// some servers send `application/json`).
pub fn manifest_media_type(bytes: &[u8], content_type: Option<&str>) -> Result<String> {
    if let Some(ct) = content_type.map(strip_params) {
        if known(ct) {
            return Ok(ct.to_string());
        }
    }
    let doc: serde_json::Value = serde_json::from_slice(bytes).map_err(malformed)?;
    media_type_of_value(&doc)
}

fn media_type_of_value(doc: &serde_json::Value) -> Result<String> {
    let Some(obj) = doc.as_object() else {
        return Err(malformed("not a JSON object"));
    };
    if let Some(mt) = obj.get("mediaType").and_then(|v| v.as_str()) {
        return Ok(mt.to_string());
    }
    let shape = if obj.contains_key("manifests") {
        media::OCI_INDEX
    } else if obj.contains_key("config") {
        media::OCI_MANIFEST
    } else if obj.contains_key("fsLayers") || obj.get("schemaVersion") == Some(&1.into()) {
        if obj.contains_key("signatures") {
            media::DOCKER_SCHEMA1_SIGNED
        } else {
            media::DOCKER_SCHEMA1
        }
    } else {
        return Err(malformed(
            "no mediaType, and neither \"manifests\" nor \"config\"",
        ));
    };
    Ok(shape.to_string())
}

/// Parse a manifest or index. Schema 1 manifests are refused (the caller
/// adds the reference as context); malformed JSON is `ErrorKind::Corrupt`.
pub fn parse_manifest(bytes: &[u8], content_type: Option<&str>) -> Result<Manifest> {
    let doc: serde_json::Value = serde_json::from_slice(bytes).map_err(malformed)?;
    let media_type = match content_type.map(strip_params) {
        Some(ct) if known(ct) => ct.to_string(),
        _ => media_type_of_value(&doc)?,
    };
    if is_schema1(&media_type) {
        bail!("manifest schema 1 is not supported; push the image again with a current client");
    }
    let check_version = |v: u32| {
        if v != 2 {
            return Err(malformed(format!("schemaVersion {v}, expected 2")));
        }
        Ok(())
    };
    if is_index_type(&media_type) {
        let index: ImageIndex = serde_json::from_value(doc).map_err(malformed)?;
        check_version(index.schema_version)?;
        Ok(Manifest::Index(index))
    } else if is_image_type(&media_type) {
        let m: ImageManifest = serde_json::from_value(doc).map_err(malformed)?;
        check_version(m.schema_version)?;
        Ok(Manifest::Image(m))
    } else {
        bail!("unsupported manifest media type {media_type:?}")
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// How a layer blob is compressed, from its media type. Unknown types
/// (artifacts, encrypted layers) are refused by name rather than guessed.
pub fn layer_compression(media_type: &str) -> Result<Compression> {
    use media::*;
    Ok(match media_type {
        OCI_LAYER | OCI_LAYER_NONDIST | DOCKER_LAYER => Compression::None,
        OCI_LAYER_GZIP | OCI_LAYER_NONDIST_GZIP | DOCKER_LAYER_GZIP | DOCKER_FOREIGN_LAYER_GZIP => {
            Compression::Gzip
        }
        OCI_LAYER_ZSTD | OCI_LAYER_NONDIST_ZSTD | DOCKER_LAYER_ZSTD => Compression::Zstd,
        other => bail!("unsupported layer media type {other:?}"),
    })
}

/// The entry of an index for a platform. The error names the platform
/// wanted and the ones the index offers (`ErrorKind::NotFound`).
pub fn select_platform(index: &ImageIndex, want: &Platform) -> Result<Descriptor> {
    // Attestation entries carry `unknown/unknown` and so never match.
    let candidates = index.manifests.iter().map(|d| d.platform.as_ref());
    if let Some(i) = platform::select(want, candidates) {
        return Ok(index.manifests[i].clone());
    }
    let available: Vec<String> = index
        .manifests
        .iter()
        .filter_map(|d| d.platform.as_ref())
        .filter(|p| p.os != "unknown" && p.architecture != "unknown")
        .map(|p| p.to_string())
        .collect();
    let list = if available.is_empty() {
        "none".to_string()
    } else {
        available.join(", ")
    };
    Err(kind_err(
        ErrorKind::NotFound,
        format!("no matching manifest for {want} in the manifest list entries (available: {list})"),
    ))
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;
