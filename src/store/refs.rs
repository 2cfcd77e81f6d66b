//! The blobs a manifest refers to, read with the least parsing that works
//! for every manifest format (OCI, Docker schema 2, indexes). The
//! `registry` module owns the real manifest types; `store` may not import
//! it, and gc must not depend on their strictness anyway.

use serde_json::Value;

use crate::digest::Digest;

/// What one manifest blob refers to.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ManifestRefs {
    pub config: Option<Digest>,
    pub layers: Vec<Digest>,
    /// The children of an index / manifest list.
    pub manifests: Vec<Digest>,
}

impl ManifestRefs {
    pub fn all(&self) -> impl Iterator<Item = &Digest> {
        self.config
            .iter()
            .chain(self.layers.iter())
            .chain(self.manifests.iter())
    }
}

/// Parse `config.digest`, `layers[].digest` and `manifests[].digest`.
/// Entries whose digest is missing or not sha256 are skipped: they cannot
/// name a blob in this store.
pub(crate) fn manifest_refs(data: &[u8]) -> Result<ManifestRefs, serde_json::Error> {
    let v: Value = serde_json::from_slice(data)?;
    let digest_of = |d: &Value| {
        d.get("digest")?
            .as_str()
            .and_then(|s| Digest::parse(s).ok())
    };
    let list = |key: &str| -> Vec<Digest> {
        v.get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(digest_of).collect())
            .unwrap_or_default()
    };
    Ok(ManifestRefs {
        config: v.get("config").and_then(digest_of),
        layers: list("layers"),
        manifests: list("manifests"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_manifests_and_indexes() {
        let c = Digest::of(b"c");
        let l1 = Digest::of(b"l1");
        let l2 = Digest::of(b"l2");
        let m = format!(
            r#"{{"schemaVersion":2,"config":{{"digest":"{c}","size":1}},
               "layers":[{{"digest":"{l1}"}},{{"digest":"{l2}"}},{{"digest":"md5:x"}}]}}"#
        );
        let r = manifest_refs(m.as_bytes()).unwrap();
        assert_eq!(r.config, Some(c.clone()));
        assert_eq!(r.layers, vec![l1.clone(), l2.clone()]);
        assert_eq!(r.all().count(), 3);
        let idx = format!(r#"{{"manifests":[{{"digest":"{l1}"}}]}}"#);
        let r = manifest_refs(idx.as_bytes()).unwrap();
        assert_eq!(r.manifests, vec![l1]);
        assert!(r.config.is_none());
        assert!(manifest_refs(b"not json").is_err());
    }
}
