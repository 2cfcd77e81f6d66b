//! `skiff pull` against the real registry in each setup, as Docker's
//! users see it: output, exit code, the store on disk.

mod common;

use common::expect::{
    self, assert_busybox_unpacked, assert_multi_unpacked, assert_pulled, entries, host_arch, pull,
};
use common::{fixtures, Registry, Setup, Skiff};

#[test]
fn pull_from_plain_registry() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new("pull_from_plain_registry");
    let name = reg.image("busybox");
    let full = format!("{name}:latest");
    let out = pull(&env, &[&name], &full, &f.busybox.manifest.digest);
    assert_eq!(out.lines()[0], "Using default tag: latest", "{out}");
    assert_busybox_unpacked(&env);

    let img = env.inspect(&full);
    assert_eq!(img["Id"], f.busybox.id());
    assert_eq!(img["RepoTags"], serde_json::json!([full]));
    assert_eq!(
        img["RepoDigests"],
        serde_json::json!([format!("{name}@{}", f.busybox.manifest.digest)])
    );
    assert_eq!(img["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(img["RootFS"]["Type"], "layers");
    assert_eq!(
        img["RootFS"]["Layers"],
        serde_json::json!(f.busybox.diff_ids())
    );
    assert_eq!(img["Architecture"], "amd64");
    assert_eq!(img["Os"], "linux");
    env.assert_store_clean();
}

#[test]
fn pull_with_a_tag_prints_no_default_tag_line() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new("pull_with_a_tag");
    let full = reg.image("busybox:1.36");
    let out = pull(&env, &[&full], &full, &f.busybox.manifest.digest);
    out.assert_stdout_lacks("Using default tag");
    env.assert_store_clean();
}

#[test]
fn pull_quiet_prints_only_the_reference() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new("pull_quiet");
    let full = reg.image("hello:latest");
    let out = env.ok(&["pull", "-q", &reg.image("hello")]);
    assert_eq!(out.stdout, format!("{full}\n"), "{out}");
    assert_eq!(env.image_ids(), vec![f.hello.id().to_string()]);
    env.assert_store_clean();
}

#[test]
fn pull_twice_says_up_to_date() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new("pull_twice");
    let full = reg.image("busybox:latest");
    pull(&env, &[&full], &full, &f.busybox.manifest.digest);
    let out = env.run(&["pull", &full]);
    assert_pulled(&out, &full, &f.busybox.manifest.digest, false);
    assert_eq!(env.image_ids().len(), 1);
    env.assert_store_clean();
}

#[test]
fn pull_over_tls_with_cert_dir() {
    let f = fixtures();
    let reg = Registry::start(Setup::Tls);
    let env = Skiff::new("pull_tls_cert_dir");
    let full = reg.image("busybox:latest");
    let cert_dir = reg.cert_dir().display().to_string();
    pull(
        &env,
        &["--cert-dir", &cert_dir, &full],
        &full,
        &f.busybox.manifest.digest,
    );
    assert_busybox_unpacked(&env);
    env.assert_store_clean();
}

#[test]
fn pull_over_tls_without_the_ca_fails_with_a_certificate_error() {
    let reg = Registry::start(Setup::Tls);
    let env = Skiff::new("pull_tls_no_ca");
    let out = env.fails(&["pull", &reg.image("busybox:latest")]);
    out.assert_error_line();
    // Either the TLS handshake fails verification, or (plain HTTP tried
    // first on loopback) the server says it speaks HTTPS.
    out.assert_stderr_any(&["certificate", "x509", "tls", "https", "unknown issuer"]);
    out.assert_stderr_has(&reg.host());
    assert!(env.image_ids().is_empty());
    env.assert_store_clean();
}

#[test]
fn pull_over_tls_with_verification_off() {
    let f = fixtures();
    let reg = Registry::start(Setup::Tls);
    let env = Skiff::new("pull_tls_verify_false");
    let full = reg.image("busybox:latest");
    pull(
        &env,
        &["--tls-verify=false", &full],
        &full,
        &f.busybox.manifest.digest,
    );
    assert_busybox_unpacked(&env);
    env.assert_store_clean();
}

#[test]
fn pull_with_basic_auth_credentials() {
    let f = fixtures();
    let reg = Registry::start(Setup::Basic);
    let env = Skiff::new("pull_basic");
    env.write_auth(
        &reg.host(),
        common::registry::USER,
        common::registry::PASSWORD,
    );
    let full = reg.image("busybox:latest");
    pull(&env, &[&full], &full, &f.busybox.manifest.digest);
    assert_busybox_unpacked(&env);
    env.assert_store_clean();
}

#[test]
fn pull_with_token_auth_caches_the_token() {
    let f = fixtures();
    let reg = Registry::start(Setup::Token);
    let env = Skiff::new("pull_token");
    env.write_auth(
        &reg.host(),
        common::registry::USER,
        common::registry::PASSWORD,
    );
    let full = reg.image("multi:latest");
    pull(&env, &[&full], &full, &f.multi.manifest.digest);
    // Six requests (manifest, config, four layers) under one scope: a
    // token per request would be six or more.
    let issued = reg.token.as_ref().unwrap().issued();
    assert!((1..=2).contains(&issued), "tokens issued: {issued}");
    env.assert_store_clean();
}

#[test]
fn pull_multi_layer_image_keeps_whiteouts_links_modes_and_owners() {
    let f = fixtures();
    let m = &f.multi;
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new("pull_multi");
    let full = reg.image("multi:latest");
    pull(&env, &[&full], &full, &m.manifest.digest);
    let chain = m.chain_ids();
    let mut want: Vec<String> = chain
        .iter()
        .map(|c| common::hex_of(c).to_string())
        .collect();
    want.sort();
    assert_eq!(env.layer_names(), want);
    let dirs: Vec<_> = chain.iter().map(|c| env.layer_dir(c)).collect();
    assert_multi_unpacked(&dirs, &env.path("merged"));

    let img = env.inspect(&full);
    assert_eq!(img["Id"], m.id());
    assert_eq!(img["RootFS"]["Layers"], serde_json::json!(m.diff_ids()));
    assert_eq!(img["Config"]["Labels"]["org.skiff.test"], "multi");
    env.assert_store_clean();
}

#[test]
fn pull_multiarch_picks_the_host_platform() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new("pull_multiarch_default");
    let full = reg.image("multiarch:latest");
    pull(&env, &[&full], &full, &f.multiarch.manifest.digest);
    let img = env.inspect(&full);
    assert_eq!(img["Architecture"], host_arch());
    assert_eq!(img["Id"], f.multiarch.image(host_arch()).id());
    assert_busybox_unpacked(&env);
    env.assert_store_clean();
}

#[test]
fn pull_multiarch_with_platform_flag() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new("pull_multiarch_arm64");
    let full = reg.image("multiarch:latest");
    pull(
        &env,
        &["--platform", "linux/arm64", &full],
        &full,
        &f.multiarch.manifest.digest,
    );
    let img = env.inspect(&full);
    assert_eq!(img["Architecture"], "arm64");
    assert_eq!(img["Id"], f.multiarch.image("arm64").id());
    env.assert_store_clean();
}

#[test]
fn pull_docker_manifest_list() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new("pull_manifest_list");
    let full = reg.image("multiarch:list");
    pull(&env, &[&full], &full, &f.multiarch_list.manifest.digest);
    let img = env.inspect(&full);
    assert_eq!(img["Architecture"], host_arch());
    assert_eq!(img["Id"], f.multiarch_list.image(host_arch()).id());
    let out = env.ok(&["pull", "--platform", "linux/arm64/v8", &full]);
    assert_pulled(&out, &full, &f.multiarch_list.manifest.digest, true);
    assert_eq!(env.inspect(&full)["Architecture"], "arm64");
    env.assert_store_clean();
}

#[test]
fn pull_by_digest() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new("pull_by_digest");
    let by_digest = format!("{}@{}", reg.image("busybox"), f.busybox.manifest.digest);
    let out = env.run(&["pull", &by_digest]);
    out.assert_ok();
    out.assert_stdout_lacks("Using default tag");
    if out.last_line() != by_digest {
        out.fail("the last line should be the reference pulled");
    }
    let img = env.inspect(&by_digest);
    assert_eq!(img["Id"], f.busybox.id());
    assert_eq!(img["RepoDigests"], serde_json::json!([by_digest]));
    assert_eq!(img["RepoTags"], serde_json::json!([]));
    assert_busybox_unpacked(&env);
    env.assert_store_clean();
}

#[test]
fn pull_by_tag_and_digest() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new("pull_by_tag_and_digest");
    let r = format!(
        "{}@{}",
        reg.image("busybox:1.36"),
        f.busybox.manifest.digest
    );
    let out = env.run(&["pull", &r]);
    out.assert_ok();
    out.assert_stdout_has(&f.busybox.manifest.digest);
    assert_eq!(env.inspect(&r)["Id"], f.busybox.id());
    env.assert_store_clean();
}

#[test]
fn pull_by_a_digest_the_repository_lacks_fails() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new("pull_wrong_digest");
    let r = format!("{}@{}", reg.image("busybox"), f.hello.manifest.digest);
    let out = env.fails(&["pull", &r]);
    out.assert_error_line();
    out.assert_stderr_any(&["manifest unknown", "not found"]);
    env.assert_store_clean();
}

#[test]
fn pull_all_tags() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new("pull_all_tags");
    let name = reg.image("alltags");
    env.ok(&["pull", "-a", &name]);
    let mut want = vec![f.busybox.id().to_string(), f.hello.id().to_string()];
    want.sort();
    assert_eq!(env.image_ids(), want);
    assert_eq!(env.inspect(&format!("{name}:one"))["Id"], f.busybox.id());
    assert_eq!(env.inspect(&format!("{name}:two"))["Id"], f.hello.id());
    env.ok(&["pull", "--all-tags", &name]);
    env.assert_store_clean();
}

#[test]
fn concurrent_pulls_of_one_image_both_succeed_and_unpack_once() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new("pull_concurrent");
    let full = reg.image("busybox:latest");
    // The second image has the very same layer: one chain id for both.
    let other = reg.image("multiarch:latest");
    let children = [
        env.spawn(&["pull", &full]),
        env.spawn(&["pull", &full]),
        env.spawn(&["pull", &other]),
    ];
    for c in children {
        let out = common::skiff::wait_out(c, "skiff pull (concurrent)");
        out.assert_ok();
    }
    assert_eq!(
        env.layer_names(),
        vec![common::hex_of(&f.busybox.chain_ids()[0]).to_string()]
    );
    assert!(
        entries(&env.root.join("tmp")).is_empty(),
        "staging left behind"
    );
    assert!(
        entries(&env.root.join("ingest")).is_empty(),
        "ingest left behind"
    );
    assert_busybox_unpacked(&env);
    let mut want = vec![
        f.busybox.id().to_string(),
        f.multiarch.image(host_arch()).id().to_string(),
    ];
    want.sort();
    assert_eq!(env.image_ids(), want);
    env.assert_store_clean();
}

#[test]
fn invalid_reference_is_refused() {
    let env = Skiff::new("pull_invalid_reference");
    let out = env.fails(&["pull", "Bad/Name"]);
    out.assert_error_line();
    out.assert_stderr_has("invalid reference format");
    env.fails(&["pull", "busybox:bad tag"]);
    env.fails(&["pull", "busybox@sha256:nothex"]);
    env.assert_store_clean();
}

#[test]
fn unknown_tag_names_the_reference() {
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new("pull_unknown_tag");
    let r = reg.image("busybox:nosuchtag");
    let out = env.fails(&["pull", &r]);
    out.assert_error_line();
    out.assert_stderr_has("nosuchtag");
    out.assert_stderr_any(&["manifest unknown", "not found"]);
    assert!(env.image_ids().is_empty());
    env.assert_store_clean();
}

#[test]
fn unknown_repository_names_the_reference() {
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new("pull_unknown_repo");
    let out = env.fails(&["pull", &reg.image("no-such-repo:latest")]);
    out.assert_error_line();
    out.assert_stderr_has("no-such-repo");
    out.assert_stderr_any(&["manifest unknown", "not found", "name unknown"]);
    env.assert_store_clean();
}

#[test]
fn unreachable_registry_names_the_host() {
    let env = Skiff::new("pull_unreachable");
    let host = format!("127.0.0.1:{}", expect::closed_port());
    let out = env.fails(&["pull", &format!("{host}/busybox:latest")]);
    out.assert_error_line();
    out.assert_stderr_has(&host);
    out.assert_stderr_any(&["connection refused"]);
    env.assert_store_clean();
}

#[test]
fn short_names_resolve_through_the_configured_search_list() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new("pull_search_list");
    std::fs::write(
        &env.config,
        format!(
            "{{\"unqualified-search-registries\": [\"{}\"]}}\n",
            reg.host()
        ),
    )
    .unwrap();
    let full = format!("{}:latest", reg.image("busybox"));
    let out = env.ok(&["pull", "busybox"]);
    assert_eq!(out.lines().last().copied(), Some(full.as_str()), "{out}");
    let img = env.inspect("busybox");
    assert_eq!(img["Id"], f.busybox.id());
    env.assert_store_clean();
}
