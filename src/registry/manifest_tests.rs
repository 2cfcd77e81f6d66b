use super::*;
use crate::error::kind_of;

fn d(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

fn image_json(media_type: Option<&str>) -> String {
    let mt = media_type
        .map(|m| format!(r#""mediaType": "{m}","#))
        .unwrap_or_default();
    format!(
        r#"{{"schemaVersion": 2, {mt}
            "config": {{"mediaType": "{}", "digest": "{}", "size": 7}},
            "layers": [{{"mediaType": "{}", "digest": "{}", "size": 9,
                         "annotations": {{"a": "b"}}}}]}}"#,
        media::OCI_CONFIG,
        d('a'),
        media::OCI_LAYER_GZIP,
        d('b')
    )
}

fn index_json() -> String {
    format!(
        r#"{{"schemaVersion": 2, "mediaType": "{}", "manifests": [
            {{"mediaType": "{m}", "digest": "{}", "size": 1,
              "platform": {{"architecture": "amd64", "os": "linux"}}}},
            {{"mediaType": "{m}", "digest": "{}", "size": 2,
              "platform": {{"architecture": "arm64", "os": "linux", "variant": "v8"}}}},
            {{"mediaType": "{m}", "digest": "{}", "size": 3,
              "platform": {{"architecture": "unknown", "os": "unknown"}}}}]}}"#,
        media::OCI_INDEX,
        d('1'),
        d('2'),
        d('3'),
        m = media::OCI_MANIFEST
    )
}

#[test]
fn parses_image_by_content_type_and_shape() {
    let doc = image_json(None);
    for ct in [
        Some(media::OCI_MANIFEST),
        Some("application/json; charset=utf-8"),
        None,
    ] {
        let Manifest::Image(m) = parse_manifest(doc.as_bytes(), ct).unwrap() else {
            panic!("not an image")
        };
        assert_eq!(m.config.size, 7);
        assert_eq!(m.layers[0].digest.as_str(), d('b'));
        assert_eq!(m.layers[0].annotations.as_ref().unwrap()["a"], "b");
    }
    assert_eq!(
        manifest_media_type(doc.as_bytes(), None).unwrap(),
        media::OCI_MANIFEST
    );
    let doc = image_json(Some(media::DOCKER_MANIFEST));
    assert_eq!(
        manifest_media_type(doc.as_bytes(), Some("application/json")).unwrap(),
        media::DOCKER_MANIFEST
    );
    assert_eq!(
        manifest_media_type(doc.as_bytes(), Some(media::DOCKER_MANIFEST)).unwrap(),
        media::DOCKER_MANIFEST
    );
}

#[test]
fn parses_index() {
    let doc = index_json();
    let Manifest::Index(ix) = parse_manifest(doc.as_bytes(), None).unwrap() else {
        panic!("not an index")
    };
    assert_eq!(ix.manifests.len(), 3);
    let want = Platform::parse("linux/arm64").unwrap();
    assert_eq!(select_platform(&ix, &want).unwrap().size, 2);
    let want = Platform::parse("linux/amd64").unwrap();
    assert_eq!(select_platform(&ix, &want).unwrap().size, 1);
    let want = Platform::parse("linux/s390x").unwrap();
    let e = select_platform(&ix, &want).unwrap_err();
    assert_eq!(kind_of(&e), Some(ErrorKind::NotFound));
    assert_eq!(
        e.to_string(),
        "no matching manifest for linux/s390x in the manifest list entries \
         (available: linux/amd64, linux/arm64/v8)"
    );
}

#[test]
fn refuses_schema1() {
    let doc = r#"{"schemaVersion": 1, "name": "x", "tag": "y", "fsLayers": []}"#;
    let e = parse_manifest(doc.as_bytes(), None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "manifest schema 1 is not supported; push the image again with a current client"
    );
    let e = parse_manifest(doc.as_bytes(), Some(media::DOCKER_SCHEMA1_SIGNED)).unwrap_err();
    assert!(e.to_string().contains("schema 1"));
    assert_eq!(
        manifest_media_type(doc.as_bytes(), None).unwrap(),
        media::DOCKER_SCHEMA1
    );
}

#[test]
fn malformed_is_corrupt() {
    for doc in [
        "{not json",
        "[1,2]",
        r#"{"schemaVersion": 2}"#,
        r#"{"schemaVersion": 2, "config": {"mediaType": "x", "digest": "sha256:12", "size": 1}}"#,
        r#"{"schemaVersion": 3, "manifests": []}"#,
    ] {
        let e = parse_manifest(doc.as_bytes(), None).unwrap_err();
        assert_eq!(kind_of(&e), Some(ErrorKind::Corrupt), "{doc}: {e}");
        assert!(e.to_string().starts_with("malformed manifest: "), "{e}");
    }
    let e = parse_manifest(b"{}", Some("application/vnd.example+json")).unwrap_err();
    assert_eq!(kind_of(&e), Some(ErrorKind::Corrupt));
    let doc = r#"{"schemaVersion": 2, "mediaType": "application/vnd.example+json"}"#;
    let e = parse_manifest(doc.as_bytes(), None).unwrap_err();
    assert!(
        e.to_string().contains("unsupported manifest media type"),
        "{e}"
    );
}

#[test]
fn round_trips_descriptor_fields() {
    let doc = image_json(Some(media::OCI_MANIFEST));
    let Manifest::Image(m) = parse_manifest(doc.as_bytes(), None).unwrap() else {
        panic!()
    };
    let back = serde_json::to_value(&m).unwrap();
    assert_eq!(back["layers"][0]["mediaType"], media::OCI_LAYER_GZIP);
    assert!(back["config"].get("urls").is_none());
    assert!(back.get("subject").is_none());
    let again: ImageManifest = serde_json::from_value(back).unwrap();
    assert_eq!(again, m);
}

#[test]
fn layer_compressions() {
    use media::*;
    for (mt, c) in [
        (OCI_LAYER, Compression::None),
        (DOCKER_LAYER, Compression::None),
        (OCI_LAYER_GZIP, Compression::Gzip),
        (DOCKER_LAYER_GZIP, Compression::Gzip),
        (DOCKER_FOREIGN_LAYER_GZIP, Compression::Gzip),
        (OCI_LAYER_NONDIST_GZIP, Compression::Gzip),
        (OCI_LAYER_ZSTD, Compression::Zstd),
        (OCI_LAYER_NONDIST_ZSTD, Compression::Zstd),
    ] {
        assert_eq!(layer_compression(mt).unwrap(), c, "{mt}");
    }
    let e = layer_compression("application/vnd.oci.image.layer.v1.tar+encrypted").unwrap_err();
    assert_eq!(
        e.to_string(),
        "unsupported layer media type \"application/vnd.oci.image.layer.v1.tar+encrypted\""
    );
}
