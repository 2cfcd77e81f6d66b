//! The harness itself: each registry setup answers, serves the seeded
//! images and refuses what it should; the token server, the proxy and the
//! fixtures do what the other tests rely on. These pass before any skiff
//! command beyond `version` exists.

mod common;

use common::fixtures::{fixtures, layout};
use common::oci::{media, Image};
use common::registry::{PASSWORD, USER};
use common::{sha256, Fault, Proxy, Registry, Setup, Skiff};
use std::process::Command;

struct Curl {
    code: i32,
    body: Vec<u8>,
    stderr: String,
}

fn curl(args: &[&str]) -> Curl {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "30"])
        .args(args)
        .output()
        .expect("run curl");
    Curl {
        code: out.status.code().unwrap_or(-1),
        body: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The status code of a request (`-w %{http_code}`), body discarded.
fn status(args: &[&str]) -> String {
    let mut a = vec!["-o", "/dev/null", "-w", "%{http_code}"];
    a.extend_from_slice(args);
    let c = curl(&a);
    String::from_utf8_lossy(&c.body).into_owned()
}

fn skopeo(args: &[String]) -> std::process::Output {
    Command::new("skopeo")
        .args(args)
        .output()
        .expect("run skopeo")
}

fn skopeo_ok(args: &[String]) -> Vec<u8> {
    let out = skopeo(args);
    assert!(
        out.status.success(),
        "skopeo {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

const ACCEPT: &str = "Accept: application/vnd.oci.image.manifest.v1+json, \
    application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.docker.distribution.manifest.list.v2+json";

/// `skopeo inspect --raw` of `repo:tag` hashes to `digest`, and a plain
/// `skopeo inspect` reports that digest too.
fn assert_serves(reg: &Registry, repo_tag: &str, digest: &str) {
    let mut args = vec!["inspect".to_string(), "--raw".to_string()];
    args.extend(reg.skopeo_args(""));
    args.push(format!("docker://{}", reg.image(repo_tag)));
    let raw = skopeo_ok(&args);
    assert_eq!(sha256(&raw), digest, "{repo_tag} on {:?}", reg.setup);
    args.remove(1);
    let v: serde_json::Value = serde_json::from_slice(&skopeo_ok(&args)).unwrap();
    assert_eq!(v["Digest"], digest, "{repo_tag} on {:?}", reg.setup);
}

fn layer_entries(img: &Image, i: usize) -> Vec<String> {
    let mut a = tar::Archive::new(&img.layers[i].tar[..]);
    a.entries()
        .unwrap()
        .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
        .collect()
}

#[test]
fn fixtures_hold_what_they_claim() {
    let f = fixtures();
    let bb = &f.busybox;
    assert!(layer_entries(bb, 0).contains(&"bin/busybox".to_string()));
    assert!(layer_entries(bb, 0).contains(&"bin/sh".to_string()));
    assert_eq!(bb.diff_ids(), vec![sha256(&bb.layers[0].tar)]);
    assert_eq!(
        bb.chain_ids(),
        bb.diff_ids(),
        "one layer: chain id = diff id"
    );

    let m = &f.multi;
    let types: Vec<&str> = m.layers.iter().map(|l| l.media_type.as_str()).collect();
    assert_eq!(
        types,
        [
            media::OCI_LAYER_GZIP,
            media::OCI_LAYER_ZSTD,
            media::OCI_LAYER,
            media::OCI_LAYER_GZIP
        ]
    );
    let l2 = layer_entries(m, 1);
    for want in [
        "data/.wh.deleted.txt",
        "opq/.wh..wh..opq",
        "hl/link",
        "run/fifo",
    ] {
        assert!(
            l2.contains(&want.to_string()),
            "layer 2 lacks {want}: {l2:?}"
        );
    }
    let c = m.chain_ids();
    assert_eq!(c[0], m.diff_ids()[0]);
    assert_eq!(
        c[1],
        sha256(format!("{} {}", c[0], m.diff_ids()[1]).as_bytes())
    );
    let cfg: serde_json::Value = serde_json::from_slice(&m.config.data).unwrap();
    assert_eq!(cfg["rootfs"]["diff_ids"].as_array().unwrap().len(), 4);
    assert_eq!(cfg["history"].as_array().unwrap().len(), 5);

    assert_eq!(f.multiarch.images.len(), 2);
    assert_ne!(
        f.multiarch.image("amd64").id(),
        f.multiarch.image("arm64").id()
    );
    assert_eq!(f.multiarch.media_type, media::OCI_INDEX);
    assert_eq!(f.multiarch_list.media_type, media::DOCKER_LIST);

    // The malicious names are in the tars byte for byte.
    let dotdot = layer_entries(&f.evil("dotdot").image, 0);
    assert_eq!(dotdot, vec![format!("../{}", f.escape)]);
    let abs = layer_entries(&f.evil("absolute").image, 0);
    assert_eq!(abs, vec![format!("/{}", f.escape)]);

    // The lies are lies.
    let l = f.lying("digest");
    assert_ne!(
        sha256(&l.image.layers[0].blob.data),
        l.image.layers[0].blob.digest
    );
    let l = f.lying("size");
    assert_ne!(
        l.image.layers[0].blob.data.len() as u64,
        l.image.layers[0].blob.size
    );
    let l = f.lying("diffid");
    assert_ne!(sha256(&l.image.layers[0].tar), l.image.layers[0].diff_id);
}

#[test]
fn plain_registry_serves_the_seeded_images() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    assert_eq!(status(&[&reg.url("/v2/")]), "200");
    assert_serves(&reg, "busybox:latest", &f.busybox.manifest.digest);
    assert_serves(&reg, "busybox:1.36", &f.busybox.manifest.digest);
    assert_serves(&reg, "multi:latest", &f.multi.manifest.digest);
    assert_serves(&reg, "hello:latest", &f.hello.manifest.digest);
    assert_serves(&reg, "multiarch:latest", &f.multiarch.manifest.digest);
    assert_serves(&reg, "multiarch:list", &f.multiarch_list.manifest.digest);
    for e in &f.evil {
        assert_serves(
            &reg,
            &format!("evil/{}:latest", e.case),
            &e.image.manifest.digest,
        );
    }

    // Blobs come back intact, and the manifest by digest too.
    let layer = &f.busybox.layers[0].blob;
    let c = curl(&[&reg.url(&format!("/v2/busybox/blobs/{}", layer.digest))]);
    assert_eq!(c.code, 0, "{}", c.stderr);
    assert_eq!(sha256(&c.body), layer.digest);
    let c = curl(&[
        "-H",
        ACCEPT,
        &reg.url(&format!("/v2/multi/manifests/{}", f.multi.manifest.digest)),
    ]);
    assert_eq!(c.body, f.multi.manifest.data);

    // Ranges work (what resuming a download relies on).
    let c = curl(&[
        "-r",
        "100-",
        &reg.url(&format!("/v2/busybox/blobs/{}", layer.digest)),
    ]);
    assert_eq!(c.body, layer.data[100..]);

    let c = curl(&[&reg.url("/v2/alltags/tags/list")]);
    let v: serde_json::Value = serde_json::from_slice(&c.body).unwrap();
    let mut tags: Vec<&str> = v["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    tags.sort();
    assert_eq!(tags, ["one", "two"]);

    assert_eq!(
        status(&["-H", ACCEPT, &reg.url("/v2/busybox/manifests/nosuchtag")]),
        "404"
    );
    assert_eq!(
        status(&["-H", ACCEPT, &reg.url("/v2/nosuchrepo/manifests/latest")]),
        "404"
    );
}

#[test]
fn lying_images_are_served_as_the_lies_they_are() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    for l in &f.lying {
        assert_serves(
            &reg,
            &format!("lying/{}:latest", l.case),
            &l.image.manifest.digest,
        );
    }
    let d = &f.lying("digest").image.layers[0].blob;
    let c = curl(&[&reg.url(&format!("/v2/lying/digest/blobs/{}", d.digest))]);
    assert_eq!(c.code, 0, "{}", c.stderr);
    assert_eq!(c.body, d.data, "served under the fake digest");
    assert_ne!(sha256(&c.body), d.digest);

    let s = &f.lying("size").image.layers[0].blob;
    let c = curl(&[&reg.url(&format!("/v2/lying/size/blobs/{}", s.digest))]);
    assert_eq!(c.body.len(), s.data.len());
    assert_ne!(c.body.len() as u64, s.size);
}

#[test]
fn tls_registry_needs_the_ca() {
    let f = fixtures();
    let reg = Registry::start(Setup::Tls);
    let ca = reg.cert_dir().join(reg.host()).join("ca.crt");
    assert!(ca.exists(), "cert dir has HOST:PORT/ca.crt");
    let ca = ca.display().to_string();
    assert_eq!(status(&["--cacert", &ca, &reg.url("/v2/")]), "200");
    let c = curl(&[&reg.url("/v2/")]);
    assert_eq!(c.code, 60, "no CA: certificate problem: {}", c.stderr);
    let localhost = format!("https://localhost:{}/v2/", reg.port);
    assert_eq!(status(&["--cacert", &ca, &localhost]), "200");
    assert_serves(&reg, "busybox:latest", &f.busybox.manifest.digest);
}

#[test]
fn basic_registry_checks_credentials() {
    let f = fixtures();
    let reg = Registry::start(Setup::Basic);
    let c = curl(&["-D", "-", "-o", "/dev/null", &reg.url("/v2/")]);
    let head = String::from_utf8_lossy(&c.body).to_lowercase();
    assert!(head.contains(" 401"), "{head}");
    assert!(head.contains("www-authenticate: basic"), "{head}");
    let good = format!("{USER}:{PASSWORD}");
    assert_eq!(status(&["-u", &good, &reg.url("/v2/")]), "200");
    assert_eq!(
        status(&["-u", &format!("{USER}:wrong"), &reg.url("/v2/")]),
        "401"
    );
    assert_serves(&reg, "busybox:latest", &f.busybox.manifest.digest);

    let out = skopeo(&[
        "inspect".into(),
        "--tls-verify=false".into(),
        format!("--creds={USER}:wrong"),
        format!("docker://{}", reg.image("busybox:latest")),
    ]);
    assert!(!out.status.success());
}

#[test]
fn token_registry_accepts_issued_tokens() {
    let f = fixtures();
    let reg = Registry::start(Setup::Token);
    let ts = reg.token.as_ref().unwrap();
    let c = curl(&["-D", "-", "-o", "/dev/null", &reg.url("/v2/")]);
    let head = String::from_utf8_lossy(&c.body);
    assert!(head.contains(" 401"), "{head}");
    assert!(
        head.contains(&format!("Bearer realm=\"{}\"", ts.realm())),
        "{head}"
    );

    // Wrong credentials: the token server says no.
    let scope = "service=skiff-test-registry&scope=repository:busybox:pull";
    let url = format!("{}?{scope}", ts.realm());
    assert_eq!(status(&["-u", &format!("{USER}:wrong"), &url]), "401");
    assert_eq!(ts.refused(), 1);

    // Right credentials: a token the registry takes.
    let c = curl(&["-u", &format!("{USER}:{PASSWORD}"), &url]);
    let v: serde_json::Value = serde_json::from_slice(&c.body).unwrap();
    let token = v["token"].as_str().unwrap().to_string();
    assert_eq!(v["access_token"], token.as_str());
    let bearer = format!("Authorization: Bearer {token}");
    let c = curl(&[
        "-H",
        &bearer,
        "-H",
        ACCEPT,
        &reg.url("/v2/busybox/manifests/latest"),
    ]);
    assert_eq!(sha256(&c.body), f.busybox.manifest.digest, "{}", reg.log());
    // The token is for busybox only.
    assert_eq!(
        status(&[
            "-H",
            &bearer,
            "-H",
            ACCEPT,
            &reg.url("/v2/multi/manifests/latest")
        ]),
        "401"
    );
    // Anonymous: a token with no access.
    let c = curl(&[&url]);
    let v: serde_json::Value = serde_json::from_slice(&c.body).unwrap();
    let anon = format!("Authorization: Bearer {}", v["token"].as_str().unwrap());
    assert_eq!(
        status(&[
            "-H",
            &anon,
            "-H",
            ACCEPT,
            &reg.url("/v2/busybox/manifests/latest")
        ]),
        "401"
    );
    assert_eq!(ts.issued(), 2);

    assert_serves(&reg, "multiarch:latest", &f.multiarch.manifest.digest);
    assert!(ts.issued() > 2);
}

#[test]
fn registries_share_their_storage_and_skopeo_pushes_to_them() {
    let f = fixtures();
    let plain = Registry::start(Setup::Plain);
    let basic = Registry::start(Setup::Basic);
    let repo = common::unique("harness-shared");
    skopeo_ok(&[
        "copy".into(),
        "--quiet".into(),
        "--dest-tls-verify=false".into(),
        format!("oci:{}:hello", layout().display()),
        format!("docker://{}", plain.image(&format!("{repo}:v1"))),
    ]);
    assert_serves(&basic, &format!("{repo}:v1"), &f.hello.manifest.digest);
}

#[test]
fn proxy_relays_and_injects_faults() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let proxy = Proxy::start(&reg, Fault::None);
    let layer = &f.busybox.layers[0].blob;
    let url = format!("http://{}/v2/busybox/blobs/{}", proxy.host(), layer.digest);

    let c = curl(&[&url]);
    assert_eq!(sha256(&c.body), layer.digest);
    assert_eq!(proxy.blob_bytes(), layer.size);
    let c = curl(&["-r", "1000-", &url]);
    assert_eq!(c.body, layer.data[1000..]);
    assert!(
        proxy.log_text().contains("range=bytes=1000-"),
        "{}",
        proxy.log_text()
    );

    proxy.set_fault(Fault::Status {
        code: 500,
        times: 2,
    });
    assert_eq!(status(&[&url]), "500");
    assert_eq!(status(&[&url]), "500");
    assert_eq!(status(&[&url]), "200");

    proxy.set_fault(Fault::DropAfter {
        bytes: 4096,
        times: 1,
    });
    let c = curl(&[&url]);
    assert_eq!(c.code, 18, "a partial transfer: {}", c.stderr);
    assert_eq!(c.body.len(), 4096);
    assert_eq!(curl(&[&url]).body, layer.data, "only once");

    proxy.set_fault(Fault::Truncate { bytes: 1000 });
    let c = curl(&[&url]);
    assert_eq!(c.code, 0);
    assert_eq!(c.body, layer.data[..1000]);
    assert_eq!(status(&["-r", "400-", &url]), "206");
    assert_eq!(curl(&["-r", "400-", &url]).body, layer.data[400..1000]);
    assert_eq!(status(&["-r", "1000-", &url]), "416");

    proxy.set_fault(Fault::Corrupt { offset: 10 });
    let c = curl(&[&url]);
    assert_eq!(c.body.len(), layer.data.len());
    assert_ne!(sha256(&c.body), layer.digest);
    assert_eq!(c.body[10], layer.data[10] ^ 0xff);

    proxy.set_fault(Fault::Throttle {
        bytes_per_sec: 2_000_000,
    });
    let start = std::time::Instant::now();
    let c = curl(&[&url]);
    assert_eq!(c.body, layer.data);
    let want = layer.size as f64 / 2_000_000.0;
    assert!(start.elapsed().as_secs_f64() > want * 0.8, "throttled");

    proxy.set_fault(Fault::Manifest {
        media_type: media::OCI_MANIFEST.into(),
        body: b"{not json".to_vec(),
    });
    let c = curl(&[&format!(
        "http://{}/v2/busybox/manifests/latest",
        proxy.host()
    )]);
    assert_eq!(c.body, b"{not json");
}

#[test]
fn skiff_environments_are_isolated() {
    let a = Skiff::new("harness-env-a");
    let b = Skiff::new("harness-env-b");
    assert_ne!(a.root, b.root);
    let out = a.ok(&["version", "--format", "{{.Client.Version}}"]);
    assert_eq!(out.stdout.trim(), env!("CARGO_PKG_VERSION"));
    let out = a.ok(&["info", "--format", "{{.DockerRootDir}}"]);
    assert_eq!(out.stdout.trim(), a.root.display().to_string());
    let out = a.run(&["--bogus-flag-for-the-harness"]);
    assert_ne!(out.code, 0);
    assert!(out.to_string().contains("exit code"));
}

#[test]
fn four_registries_start_at_once() {
    let setups = [Setup::Plain, Setup::Tls, Setup::Basic, Setup::Token];
    // Each registry lives as long as the thread that started it, so each
    // thread keeps its own until all have answered at once.
    let barrier = std::sync::Barrier::new(setups.len());
    let mut ports: Vec<u16> = std::thread::scope(|s| {
        let hs: Vec<_> = setups
            .iter()
            .map(|&st| {
                let barrier = &barrier;
                s.spawn(move || {
                    let reg = Registry::start(st);
                    barrier.wait();
                    let code = status(&["-k", &reg.url("/v2/")]);
                    assert!(code == "200" || code == "401", "{st:?}: {code}");
                    barrier.wait();
                    reg.port
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), 4);
}

/// The checks the pull tests make on skiff's unpacked `multi` and
/// `busybox` hold for a reference implementation: podman's overlay
/// storage of the same images.
#[test]
fn podman_unpacks_the_fixtures_as_the_pull_tests_expect() {
    let reg = Registry::start(Setup::Plain);
    let dir = common::test_dir("harness-podman-multi");
    // Podman's overlay driver wants a runroot path under 50 characters.
    let run = tempfile::tempdir().unwrap();
    let podman = |args: &[&str]| -> String {
        let out = Command::new("podman")
            .arg("--root")
            .arg(dir.path().join("root"))
            .arg("--runroot")
            .arg(run.path())
            .args(["--storage-driver", "overlay", "--events-backend", "file"])
            .args(args)
            .output()
            .expect("run podman");
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let image = reg.image("multi:latest");
    podman(&["pull", "-q", "--tls-verify=false", &image]);
    let dirs = podman(&[
        "image",
        "inspect",
        "--format",
        "{{.GraphDriver.Data.UpperDir}}:{{.GraphDriver.Data.LowerDir}}",
        &image,
    ]);
    let mut bottom_first: Vec<std::path::PathBuf> = dirs.split(':').map(Into::into).collect();
    bottom_first.reverse();
    common::expect::assert_multi_unpacked(&bottom_first, &dir.path().join("merged"));

    let image = reg.image("busybox:latest");
    podman(&["pull", "-q", "--tls-verify=false", &image]);
    let upper = podman(&[
        "image",
        "inspect",
        "--format",
        "{{.GraphDriver.Data.UpperDir}}",
        &image,
    ]);
    common::expect::assert_busybox_layer(std::path::Path::new(&upper));
    podman(&["rmi", "-a", "-f"]);
}

/// A reference client refuses the lying digest, so the fixture lies.
#[test]
fn skopeo_refuses_the_lying_digest() {
    let reg = Registry::start(Setup::Plain);
    let dir = common::test_dir("harness-skopeo-lying");
    let out = skopeo(&[
        "copy".into(),
        "--src-tls-verify=false".into(),
        format!("docker://{}", reg.image("lying/digest:latest")),
        format!("oci:{}:x", dir.path().join("oci").display()),
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Digest did not match"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
