//! `skiff push`: to the plain registry, read back by skopeo; cross-repo
//! mounts; layers that already exist; and images skopeo pushed, pulled by
//! skiff (interop both ways).

mod common;

use common::expect::{assert_busybox_unpacked, pull};
use common::fixtures::layout;
use common::{fixtures, sha256, unique, Out, Registry, Setup, Skiff};
use std::process::Command;

fn skopeo(args: &[String]) -> Vec<u8> {
    let out = Command::new("skopeo")
        .args(args)
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Docker's closing line, `TAG: digest: sha256:... size: N`; returns the
/// digest after checking the rest.
fn pushed_digest(out: &Out, tag: &str) -> String {
    let line = out.last_line();
    let rest = line
        .strip_prefix(&format!("{tag}: digest: "))
        .unwrap_or_else(|| out.fail(&format!("the last line should be \"{tag}: digest: ...\"")));
    let (digest, size) = rest
        .split_once(" size: ")
        .unwrap_or_else(|| out.fail("the last line should end \"size: N\""));
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{out}");
    size.parse::<u64>()
        .unwrap_or_else(|_| out.fail("size is a number"));
    digest.to_string()
}

fn push(env: &Skiff, full: &str, repo: &str, tag: &str) -> (Out, String) {
    let out = env.run(&["push", full]);
    out.assert_ok();
    out.assert_stdout_has(&format!("The push refers to repository [{repo}]"));
    let d = pushed_digest(&out, tag);
    (out, d)
}

#[test]
fn push_a_pulled_image_under_a_new_name() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new("push_new_name");
    let src = reg.image("busybox:latest");
    pull(&env, &[&src], &src, &f.busybox.manifest.digest);
    let repo = reg.image(&unique("pushed/busybox"));
    let dst = format!("{repo}:v1");
    env.ok(&["tag", &src, &dst]);
    let (out, digest) = push(&env, &dst, &repo, "v1");
    let all = out.all();
    assert!(
        all.contains("Pushed") || all.contains("Mounted from"),
        "per-layer lines:\n{out}"
    );

    // skopeo reads it back as pushed.
    let v: serde_json::Value = serde_json::from_slice(&skopeo(&[
        "inspect".into(),
        "--tls-verify=false".into(),
        format!("docker://{dst}"),
    ]))
    .unwrap();
    assert_eq!(v["Digest"], digest.as_str());
    assert_eq!(
        v["Layers"],
        serde_json::json!([f.busybox.layers[0].blob.digest])
    );
    let raw = skopeo(&[
        "inspect".into(),
        "--raw".into(),
        "--tls-verify=false".into(),
        format!("docker://{dst}"),
    ]);
    assert_eq!(sha256(&raw), digest);

    // And copies it into a layout: the config (the image ID) survived.
    let oci = env.path("copied");
    skopeo(&[
        "copy".into(),
        "--quiet".into(),
        "--src-tls-verify=false".into(),
        format!("docker://{dst}"),
        format!("oci:{}:v1", oci.display()),
    ]);
    let cfg = oci
        .join("blobs/sha256")
        .join(common::hex_of(f.busybox.id()));
    assert_eq!(sha256(&std::fs::read(&cfg).unwrap()), f.busybox.id());
    env.assert_store_clean();
}

#[test]
fn push_to_another_repository_mounts_the_layers() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new("push_cross_repo_mount");
    let src = reg.image("multi:latest");
    pull(&env, &[&src], &src, &f.multi.manifest.digest);
    let first = reg.image(&unique("mount-a"));
    env.ok(&["tag", &src, &format!("{first}:t")]);
    push(&env, &format!("{first}:t"), &first, "t");

    let second = reg.image(&unique("mount-b"));
    env.ok(&["tag", &src, &format!("{second}:t")]);
    let (out, _) = push(&env, &format!("{second}:t"), &second, "t");
    out.assert_any_has("Mounted from");
    env.assert_store_clean();
}

#[test]
fn second_push_says_layer_already_exists() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new("push_twice");
    let src = reg.image("hello:latest");
    pull(&env, &[&src], &src, &f.hello.manifest.digest);
    let repo = reg.image(&unique("twice"));
    let dst = format!("{repo}:latest");
    env.ok(&["tag", &src, &dst]);
    let (_, d1) = push(&env, &dst, &repo, "latest");
    let (out, d2) = push(&env, &dst, &repo, "latest");
    out.assert_any_has("Layer already exists");
    assert_eq!(d1, d2, "the same manifest both times");
    env.assert_store_clean();
}

#[test]
fn pushed_multi_layer_image_pulls_back_the_same() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new("push_multi_roundtrip");
    let src = reg.image("multi:latest");
    pull(&env, &[&src], &src, &f.multi.manifest.digest);
    let repo = reg.image(&unique("multi-copy"));
    let dst = format!("{repo}:v2");
    env.ok(&["tag", &src, &dst]);
    let (_, digest) = push(&env, &dst, &repo, "v2");

    let fresh = Skiff::new("push_multi_roundtrip_fresh");
    pull(&fresh, &[&dst], &dst, &digest);
    let img = fresh.inspect(&dst);
    assert_eq!(img["Id"], f.multi.id());
    assert_eq!(
        img["RootFS"]["Layers"],
        serde_json::json!(f.multi.diff_ids())
    );
    fresh.assert_store_clean();
}

#[test]
fn image_pushed_by_skopeo_is_pulled_by_skiff() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new("pull_skopeo_pushed");
    let dst = reg.image(&format!("{}:v1", unique("from-skopeo")));
    skopeo(&[
        "copy".into(),
        "--quiet".into(),
        "--dest-tls-verify=false".into(),
        format!("oci:{}:busybox", layout().display()),
        format!("docker://{dst}"),
    ]);
    let out = env.run(&["pull", &dst]);
    out.assert_ok();
    assert_eq!(out.last_line(), dst, "{out}");
    assert_eq!(env.inspect(&dst)["Id"], f.busybox.id());
    assert_busybox_unpacked(&env);
    env.assert_store_clean();
}

#[test]
fn push_of_an_image_not_in_the_store_fails() {
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new("push_unknown");
    let r = reg.image("not-here:v1");
    let out = env.fails(&["push", &r]);
    out.assert_error_line();
    out.assert_stderr_has("not-here");
}

#[test]
fn push_needs_credentials_on_a_basic_auth_registry() {
    let f = fixtures();
    let open = Registry::start(Setup::Plain);
    let reg = Registry::start(Setup::Basic);
    let env = Skiff::new("push_basic");
    let src = open.image("hello:latest");
    pull(&env, &[&src], &src, &f.hello.manifest.digest);
    let repo = reg.image(&unique("basic-push"));
    let dst = format!("{repo}:v1");
    env.ok(&["tag", &src, &dst]);
    let out = env.fails(&["push", &dst]);
    out.assert_stderr_any(&["unauthorized", "authentication required"]);
    env.write_auth(
        &reg.host(),
        common::registry::USER,
        common::registry::PASSWORD,
    );
    push(&env, &dst, &repo, "v1");
}

#[test]
fn chunked_upload_pushes_a_layer_in_pieces() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new("push_chunked");
    let src = reg.image("busybox:latest");
    pull(&env, &[&src], &src, &f.busybox.manifest.digest);
    // Through an archive into a fresh store: no repository to mount from,
    // so the layer must really be uploaded.
    let archive = env.path("busybox.tar");
    env.ok(&["save", "-o", archive.to_str().unwrap(), &src]);
    let loaded = Skiff::new("push_chunked_loaded");
    loaded.ok(&["load", "-i", archive.to_str().unwrap()]);
    let repo = reg.image(&unique("chunked"));
    let dst = format!("{repo}:v1");
    loaded.ok(&["tag", &src, &dst]);
    // Small chunks force many PATCH requests for the ~1 MB layer.
    let out = loaded.ok(&["push", "--chunk-size", "65536", &dst]);
    out.assert_any_has("Pushed");
    let fresh = Skiff::new("push_chunked_fresh");
    let digest = out
        .stdout
        .split("digest: ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("a digest line")
        .to_string();
    pull(&fresh, &[&dst], &dst, &digest);
    assert_busybox_unpacked(&fresh);
    fresh.assert_store_clean();
}
