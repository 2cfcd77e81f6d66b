//! The client against a real `docker-registry` (skipped when it is not
//! installed) and against a scripted server for failure modes.

use super::*;
use crate::error::kind_of;
use crate::registry::testutil::*;
use crate::registry::BlobReader;
use std::io::Read;

#[test]
fn shareable_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Client>();
    send::<BlobReader>();
}

fn client(host: &str) -> Client {
    Client::new(host, ClientOptions::default()).unwrap()
}

fn creds(u: &str, p: &str) -> Option<Credentials> {
    Some(Credentials {
        username: u.into(),
        password: p.into(),
    })
}

/// Push a config and a layer, then a manifest tagged `tag`.
fn push_image(c: &Client, repo: &str, tag: &str, layer: &[u8]) -> (Digest, Vec<u8>) {
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let cd = Digest::of(config);
    let ld = Digest::of(layer);
    c.push_blob(repo, &cd, config.len() as u64, &mut &config[..], None)
        .unwrap();
    c.push_blob(repo, &ld, layer.len() as u64, &mut &layer[..], Some(7))
        .unwrap();
    let m = manifest::ImageManifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.into()),
        artifact_type: None,
        config: Descriptor::new(media::OCI_CONFIG, cd, config.len() as u64),
        layers: vec![Descriptor::new(media::OCI_LAYER, ld, layer.len() as u64)],
        subject: None,
        annotations: None,
    };
    let bytes = serde_json::to_vec(&m).unwrap();
    let d = c
        .put_manifest(repo, tag, media::OCI_MANIFEST, &bytes)
        .unwrap();
    assert_eq!(d, Digest::of(&bytes));
    (d, bytes)
}

#[test]
fn roundtrip_against_registry() {
    let Some(reg) = TestRegistry::start(RegistrySetup::default()) else {
        return;
    };
    let c = client(&reg.host);
    c.ping().unwrap();
    let layer: Vec<u8> = (0..100u8).collect();
    let (md, mbytes) = push_image(&c, "a/b", "v1", &layer);

    let m = c.get_manifest("a/b", "v1").unwrap();
    assert_eq!(m.bytes, mbytes);
    assert_eq!(m.digest, md);
    assert_eq!(m.media_type, media::OCI_MANIFEST);
    let m2 = c.get_manifest("a/b", md.as_str()).unwrap();
    assert_eq!(m2.bytes, mbytes);
    let h = c.head_manifest("a/b", "v1").unwrap().unwrap();
    assert_eq!((h.digest, h.size), (md.clone(), mbytes.len() as u64));
    assert_eq!(h.media_type, media::OCI_MANIFEST);
    assert!(c.head_manifest("a/b", "nope").unwrap().is_none());

    let e = c.get_manifest("a/b", "nope").err().unwrap();
    assert_eq!(kind_of(&e), Some(ErrorKind::NotFound));
    assert_eq!(e.to_string(), "manifest unknown: a/b:nope");
    // This registry says MANIFEST_UNKNOWN for a missing repository too.
    let e = c.get_manifest("x/y", "v1").err().unwrap();
    assert_eq!(kind_of(&e), Some(ErrorKind::NotFound));
    assert_eq!(e.to_string(), "manifest unknown: x/y:v1");

    let ld = Digest::of(&layer);
    assert!(c.blob_exists("a/b", &ld).unwrap());
    assert!(!c.blob_exists("a/b", &Digest::of(b"other")).unwrap());
    let mut got = Vec::new();
    c.get_blob("a/b", &ld, layer.len() as u64)
        .unwrap()
        .read_to_end(&mut got)
        .unwrap();
    assert_eq!(got, layer);
    assert_eq!(c.get_blob_bytes("a/b", &ld, 1000).unwrap(), layer);
    let e = c.get_blob_bytes("a/b", &ld, 10).err().unwrap();
    assert_eq!(kind_of(&e), Some(ErrorKind::Corrupt));
    let e = c.get_blob("a/b", &ld, 99).err().unwrap();
    assert_eq!(kind_of(&e), Some(ErrorKind::Corrupt), "{e:#}");
    let e = c.get_blob("a/b", &Digest::of(b"zz"), 2).err().unwrap();
    assert_eq!(kind_of(&e), Some(ErrorKind::NotFound));

    // Mounts: present in the source repo, then absent.
    assert!(c.mount_blob("c/d", &ld, "a/b").unwrap());
    assert!(c.blob_exists("c/d", &ld).unwrap());
    assert!(!c.mount_blob("c/d", &Digest::of(b"absent"), "a/b").unwrap());

    // A wrong digest is refused by the registry; a short source by us.
    let e = c
        .push_blob("a/b", &Digest::of(b"x"), 3, &mut &b"abc"[..], None)
        .err()
        .unwrap();
    assert!(format!("{e:#}").contains("digest invalid"), "{e:#}");
    let e = c
        .push_blob("a/b", &Digest::of(b"abcd"), 4, &mut &b"abc"[..], Some(2))
        .err()
        .unwrap();
    assert!(
        format!("{e:#}").contains("source ended after 3 of 4 bytes"),
        "{e:#}"
    );
    // Empty blobs, both ways.
    let empty = Digest::of(b"");
    c.push_blob("e/f", &empty, 0, &mut &b""[..], Some(4))
        .unwrap();
    c.push_blob("e/g", &empty, 0, &mut &b""[..], None).unwrap();
    assert!(c.blob_exists("e/f", &empty).unwrap());

    for t in ["v2", "v3", "latest"] {
        c.put_manifest("a/b", t, media::OCI_MANIFEST, &mbytes)
            .unwrap();
    }
    let mut tags = c.list_tags("a/b").unwrap();
    tags.sort();
    assert_eq!(tags, ["latest", "v1", "v2", "v3"]);
    let e = c.list_tags("no/such").err().unwrap();
    assert_eq!(kind_of(&e), Some(ErrorKind::NotFound));
    assert_eq!(e.to_string(), "name unknown: no/such");
}

#[test]
fn basic_auth() {
    let setup = RegistrySetup {
        basic: Some(("user", "pass")),
        ..Default::default()
    };
    let Some(reg) = TestRegistry::start(setup) else {
        return;
    };
    let anon = client(&reg.host);
    anon.ping().unwrap();
    let e = anon.get_manifest("a/b", "v1").err().unwrap();
    assert_eq!(kind_of(&e), Some(ErrorKind::Unauthorized));
    assert_eq!(e.to_string(), "unauthorized: authentication required");

    let bad = Client::new(
        &reg.host,
        ClientOptions {
            credentials: creds("user", "wrong"),
            ..Default::default()
        },
    )
    .unwrap();
    let e = bad.login().err().unwrap();
    assert_eq!(kind_of(&e), Some(ErrorKind::Unauthorized), "{e:#}");

    let good = Client::new(
        &reg.host,
        ClientOptions {
            credentials: creds("user", "pass"),
            ..Default::default()
        },
    )
    .unwrap();
    good.login().unwrap();
    let (md, _) = push_image(&good, "a/b", "v1", b"layer bytes");
    assert_eq!(good.get_manifest("a/b", "v1").unwrap().digest, md);
}

#[test]
fn tls_with_cert_dir() {
    let dir = tempfile::tempdir().unwrap();
    let certs = make_certs(dir.path(), "good");
    let setup = RegistrySetup {
        tls: Some((certs.cert.clone(), certs.key.clone())),
        ..Default::default()
    };
    let Some(reg) = TestRegistry::start(setup) else {
        return;
    };
    let cert_dirs = dir.path().join("certs.d");
    std::fs::create_dir_all(cert_dirs.join(&reg.host)).unwrap();
    std::fs::copy(&certs.ca, cert_dirs.join(&reg.host).join("ca.crt")).unwrap();
    let opts = || ClientOptions {
        cert_dirs: vec![cert_dirs.clone()],
        ..Default::default()
    };

    let c = Client::new(&reg.host, opts()).unwrap();
    c.ping().unwrap();
    assert!(c.inner.endpoint().unwrap().base.starts_with("https://"));
    push_image(&c, "t/ls", "v1", b"over tls");
    assert_eq!(c.list_tags("t/ls").unwrap(), ["v1"]);

    // No CA for it: plain http to a TLS port, and a hint.
    let plain = client(&reg.host);
    let e = plain.ping().err().unwrap();
    assert!(e.to_string().contains("speaks https"), "{e:#}");

    // Insecure: https without verification.
    let insecure = Client::new(
        &reg.host,
        ClientOptions {
            insecure: true,
            ..Default::default()
        },
    )
    .unwrap();
    insecure.ping().unwrap();
    assert!(insecure.get_manifest("t/ls", "v1").is_ok());

    // Another CA: a verification failure, reported, not bypassed.
    let other = make_certs(dir.path(), "other");
    std::fs::copy(&other.ca, cert_dirs.join(&reg.host).join("ca.crt")).unwrap();
    let c = Client::new(&reg.host, opts()).unwrap();
    let e = c.ping().err().unwrap();
    assert_eq!(
        e.to_string(),
        format!(
            "ping {}: certificate verify failed: certificate signed by unknown authority",
            reg.host
        )
    );
}

#[test]
fn insecure_falls_back_to_http() {
    let Some(reg) = TestRegistry::start(RegistrySetup::default()) else {
        return;
    };
    // An insecure registry named by a non-loopback spelling is reached by
    // https first; a plain server makes the client fall back to http.
    let c = Client::new(
        &reg.host,
        ClientOptions {
            insecure: true,
            ..Default::default()
        },
    )
    .unwrap();
    c.ping().unwrap();
    assert!(c.inner.endpoint().unwrap().base.starts_with("http://"));
}

#[test]
fn connection_refused_is_readable() {
    let host = format!("127.0.0.1:{}", free_port());
    let e = client(&host).ping().err().unwrap();
    assert_eq!(e.to_string(), format!("ping {host}: connection refused"));
    let e = client(&host).get_manifest("a", "b").err().unwrap();
    assert_eq!(e.to_string(), format!("ping {host}: connection refused"));
    let e = client("no-such-host.invalid").ping().err().unwrap();
    assert_eq!(e.to_string(), "ping no-such-host.invalid: no such host");
}

const BODY: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

fn v2_ok() -> Vec<u8> {
    response("200 OK", &[("Content-Length", "2".into())], b"{}")
}

/// The first blob GET is cut after 10 bytes; later ones honour Range
/// (or, with `honour_range` false, ignore it and send everything).
fn flaky_server(honour_range: bool) -> FakeServer {
    let calls = std::sync::atomic::AtomicUsize::new(0);
    FakeServer::start(Box::new(move |req, _| {
        if req.path == "/v2/" {
            return v2_ok();
        }
        let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let len = ("Content-Length", BODY.len().to_string());
        if n == 0 {
            return response("200 OK", &[len], &BODY[..10]);
        }
        match req.header("range").and_then(|r| r.strip_prefix("bytes=")) {
            Some(r) if honour_range => {
                let start: usize = r.trim_end_matches('-').parse().unwrap();
                let rest = &BODY[start..];
                response(
                    "206 Partial Content",
                    &[
                        ("Content-Length", rest.len().to_string()),
                        (
                            "Content-Range",
                            format!("bytes {start}-{}/{}", BODY.len() - 1, BODY.len()),
                        ),
                    ],
                    rest,
                )
            }
            _ => response("200 OK", &[len], BODY),
        }
    }))
}

#[test]
fn blob_read_resumes_with_range() {
    let srv = flaky_server(true);
    let c = client(&format!("127.0.0.1:{}", srv.port));
    let mut got = Vec::new();
    c.get_blob("r", &Digest::of(BODY), BODY.len() as u64)
        .unwrap()
        .read_to_end(&mut got)
        .unwrap();
    assert_eq!(got, BODY);
    let ranges: Vec<Option<String>> = srv
        .requests()
        .iter()
        .filter(|r| r.path.contains("/blobs/"))
        .map(|r| r.header("range").map(str::to_string))
        .collect();
    assert_eq!(ranges, [None, Some("bytes=10-".to_string())]);
}

#[test]
fn blob_read_skips_when_range_ignored() {
    let srv = flaky_server(false);
    let c = client(&format!("127.0.0.1:{}", srv.port));
    let mut got = Vec::new();
    c.get_blob("r", &Digest::of(BODY), BODY.len() as u64)
        .unwrap()
        .read_to_end(&mut got)
        .unwrap();
    assert_eq!(got, BODY);
}

#[test]
fn redirect_drops_authorization_for_other_origins() {
    let srv = FakeServer::start(Box::new(|req, me| {
        let port = me.rsplit(':').next().unwrap().to_string();
        if req.header("authorization").is_none() && req.path.starts_with("/v2/") {
            return response(
                "401 Unauthorized",
                &[
                    ("WWW-Authenticate", r#"Basic realm="r""#.into()),
                    ("Content-Length", "0".into()),
                ],
                b"",
            );
        }
        match req.path.as_str() {
            "/v2/" => v2_ok(),
            // "localhost" is another origin than "127.0.0.1", same server.
            p if p.contains("/blobs/") => response(
                "307 Temporary Redirect",
                &[
                    ("Location", format!("http://localhost:{port}/storage/x")),
                    ("Content-Length", "0".into()),
                ],
                b"",
            ),
            _ => response(
                "200 OK",
                &[("Content-Length", BODY.len().to_string())],
                BODY,
            ),
        }
    }));
    let c = Client::new(
        &format!("127.0.0.1:{}", srv.port),
        ClientOptions {
            credentials: creds("u", "p"),
            ..Default::default()
        },
    )
    .unwrap();
    let got = c.get_blob_bytes("r", &Digest::of(BODY), 1000).unwrap();
    assert_eq!(got, BODY);
    let reqs = srv.requests();
    let blob = reqs.iter().rfind(|r| r.path.contains("/blobs/")).unwrap();
    assert!(blob.header("authorization").is_some());
    let storage = reqs.iter().find(|r| r.path == "/storage/x").unwrap();
    assert_eq!(storage.header("authorization"), None);
}

#[test]
fn server_errors_are_retried() {
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let srv = FakeServer::start(Box::new(move |req, _| {
        if req.path == "/v2/" {
            return v2_ok();
        }
        if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 {
            return response(
                "503 Service Unavailable",
                &[("Content-Length", "0".into())],
                b"",
            );
        }
        response(
            "200 OK",
            &[("Content-Length", BODY.len().to_string())],
            BODY,
        )
    }));
    let c = client(&format!("127.0.0.1:{}", srv.port));
    assert_eq!(c.get_blob_bytes("r", &Digest::of(BODY), 100).unwrap(), BODY);
    let e = c
        .get_blob_bytes("r", &Digest::of(b"other"), 100)
        .err()
        .unwrap();
    assert_eq!(kind_of(&e), Some(ErrorKind::Corrupt));
}

/// Docker Hub's flow: /v2/ challenges with Bearer, the token server hands
/// out tokens for scopes, a revoked token earns one retry with a fresh one.
#[test]
fn bearer_token_flow() {
    let issued = std::sync::atomic::AtomicUsize::new(0);
    let srv = FakeServer::start(Box::new(move |req, me| {
        let challenge = (
            "WWW-Authenticate",
            format!(r#"Bearer realm="http://{me}/token",service="svc""#),
        );
        let empty = ("Content-Length", "0".to_string());
        if req.path.starts_with("/token") {
            if req.header("authorization") != Some("Basic dTpw") {
                let body = br#"{"details":"incorrect username or password"}"#;
                return response(
                    "401 Unauthorized",
                    &[("Content-Length", body.len().to_string())],
                    body,
                );
            }
            assert!(
                req.path.contains("service=svc&scope=repository%3Ar%3Apull"),
                "{}",
                req.path
            );
            let n = issued.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            let body = format!(r#"{{"access_token":"tok{n}","expires_in":300}}"#);
            return response(
                "200 OK",
                &[("Content-Length", body.len().to_string())],
                body.as_bytes(),
            );
        }
        // tok1 is "revoked": only tok2 and later are accepted.
        match req.header("authorization") {
            Some(a) if a.starts_with("Bearer tok") && a != "Bearer tok1" => response(
                "200 OK",
                &[("Content-Length", BODY.len().to_string())],
                BODY,
            ),
            _ => response("401 Unauthorized", &[challenge, empty], b""),
        }
    }));
    let host = format!("127.0.0.1:{}", srv.port);
    let c = Client::new(
        &host,
        ClientOptions {
            credentials: creds("u", "p"),
            ..Default::default()
        },
    )
    .unwrap();
    let d = Digest::of(BODY);
    assert_eq!(c.get_blob_bytes("r", &d, 100).unwrap(), BODY);
    assert_eq!(c.get_blob_bytes("r", &d, 100).unwrap(), BODY);
    let blob_auth: Vec<(String, Option<String>)> = srv
        .requests()
        .iter()
        .filter(|r| r.path.contains("/blobs/"))
        .map(|r| {
            (
                r.method.clone(),
                r.header("authorization").map(str::to_string),
            )
        })
        .collect();
    let bearer = |t: &str| ("GET".to_string(), Some(format!("Bearer {t}")));
    assert_eq!(blob_auth, [bearer("tok1"), bearer("tok2"), bearer("tok2")]);

    let bad = Client::new(
        &host,
        ClientOptions {
            credentials: creds("u", "x"),
            ..Default::default()
        },
    )
    .unwrap();
    let e = bad.get_blob_bytes("r", &d, 100).err().unwrap();
    assert_eq!(kind_of(&e), Some(ErrorKind::Unauthorized));
    assert_eq!(
        e.to_string(),
        "unauthorized: incorrect username or password"
    );
    let e = bad.login().err().unwrap();
    assert_eq!(kind_of(&e), Some(ErrorKind::Unauthorized));
}

#[test]
fn tls_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let certs = make_certs(dir.path(), "mtls");
    let setup = RegistrySetup {
        tls: Some((certs.cert.clone(), certs.key.clone())),
        client_ca: Some(certs.ca.clone()),
        ..Default::default()
    };
    let Some(reg) = TestRegistry::start(setup) else {
        return;
    };
    let cert_dirs = dir.path().join("certs.d");
    let host_dir = cert_dirs.join(&reg.host);
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::copy(&certs.ca, host_dir.join("ca.crt")).unwrap();
    let opts = || ClientOptions {
        cert_dirs: vec![cert_dirs.clone()],
        ..Default::default()
    };
    // Without a client certificate the registry refuses the handshake.
    assert!(Client::new(&reg.host, opts()).unwrap().ping().is_err());
    // A v1 certificate is refused up front, not at the first handshake.
    std::fs::copy(&certs.client_cert_v1, host_dir.join("client.cert")).unwrap();
    std::fs::copy(&certs.client_key, host_dir.join("client.key")).unwrap();
    let e = Client::new(&reg.host, opts()).err().unwrap();
    assert!(format!("{e:#}").contains("UnsupportedCertVersion"), "{e:#}");
    std::fs::copy(&certs.client_cert, host_dir.join("client.cert")).unwrap();
    let c = Client::new(&reg.host, opts()).unwrap();
    c.ping().unwrap();
    push_image(&c, "m/tls", "v1", b"mutual");
}
