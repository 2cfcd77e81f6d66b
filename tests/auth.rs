//! Credentials: `skiff login`/`logout` and the auth file, basic auth and
//! the bearer-token flow, refused passwords.

mod common;

use base64::Engine as _;
use common::expect::{assert_busybox_unpacked, pull};
use common::registry::{PASSWORD, USER};
use common::{fixtures, unique, Registry, Setup, Skiff};

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn pull_without_credentials_is_unauthorized() {
    let reg = Registry::start(Setup::Basic);
    let env = Skiff::new("auth_pull_anonymous");
    let out = env.fails(&["pull", &reg.image("busybox:latest")]);
    out.assert_error_line();
    out.assert_stderr_any(&["unauthorized", "authentication required"]);
    assert!(env.image_ids().is_empty());
    env.assert_store_clean();
}

#[test]
fn wrong_password_is_unauthorized() {
    let reg = Registry::start(Setup::Basic);
    let env = Skiff::new("auth_wrong_password");
    env.write_auth(&reg.host(), USER, "not-the-password");
    let out = env.fails(&["pull", &reg.image("busybox:latest")]);
    out.assert_error_line();
    out.assert_stderr_any(&["unauthorized"]);
    env.assert_store_clean();
}

#[test]
fn login_pull_logout_round_trip() {
    let f = fixtures();
    let reg = Registry::start(Setup::Basic);
    let env = Skiff::new("auth_login_logout");
    let host = reg.host();
    let out = env.ok(&["login", "-u", USER, "-p", PASSWORD, &host]);
    out.assert_stdout_has("Login Succeeded");
    let auth = env.auth_json();
    assert_eq!(
        auth["auths"][&host]["auth"],
        b64(&format!("{USER}:{PASSWORD}")).as_str(),
        "auth file: {auth}"
    );

    let full = reg.image("busybox:latest");
    pull(&env, &[&full], &full, &f.busybox.manifest.digest);
    assert_busybox_unpacked(&env);

    let out = env.ok(&["logout", &host]);
    out.assert_stdout_has(&format!("Removed login credentials for {host}"));
    assert!(
        env.auth_json()["auths"].get(&host).is_none(),
        "credentials gone: {}",
        env.auth_json()
    );
    let out = env.fails(&["pull", &reg.image("hello:latest")]);
    out.assert_stderr_any(&["unauthorized", "authentication required"]);
    env.assert_store_clean();
}

#[test]
fn login_with_password_on_stdin() {
    let reg = Registry::start(Setup::Basic);
    let env = Skiff::new("auth_password_stdin");
    let host = reg.host();
    let out = env.run_stdin(
        &["login", "-u", USER, "--password-stdin", &host],
        Some(format!("{PASSWORD}\n").as_bytes()),
    );
    out.assert_ok();
    out.assert_stdout_has("Login Succeeded");
    assert_eq!(
        env.auth_json()["auths"][&host]["auth"],
        b64(&format!("{USER}:{PASSWORD}")).as_str()
    );
}

#[test]
fn login_with_a_wrong_password_fails_and_stores_nothing() {
    let reg = Registry::start(Setup::Basic);
    let env = Skiff::new("auth_login_wrong");
    let host = reg.host();
    let out = env.fails(&["login", "-u", USER, "-p", "wrong", &host]);
    out.assert_error_line();
    out.assert_stderr_any(&["unauthorized"]);
    assert!(env.auth_json()["auths"].get(&host).is_none());
}

#[test]
fn login_keeps_the_other_entries_of_the_auth_file() {
    let reg = Registry::start(Setup::Basic);
    let env = Skiff::new("auth_login_keeps_others");
    env.write_auth("other.example:5000", "someone", "secret");
    let host = reg.host();
    env.ok(&["login", "-u", USER, "-p", PASSWORD, &host]);
    let auth = env.auth_json();
    assert_eq!(
        auth["auths"]["other.example:5000"]["auth"],
        b64("someone:secret").as_str()
    );
    assert!(auth["auths"].get(&host).is_some());
    env.ok(&["logout", &host]);
    let auth = env.auth_json();
    assert_eq!(
        auth["auths"]["other.example:5000"]["auth"],
        b64("someone:secret").as_str()
    );
}

#[test]
fn logout_when_not_logged_in_is_not_an_error() {
    let env = Skiff::new("auth_logout_none");
    env.ok(&["logout", "127.0.0.1:1"]);
}

#[test]
fn login_over_tls_with_cert_dir() {
    let reg = Registry::start(Setup::Tls);
    let env = Skiff::new("auth_login_tls");
    let cert_dir = reg.cert_dir().display().to_string();
    let out = env.ok(&[
        "login",
        "--cert-dir",
        &cert_dir,
        "-u",
        USER,
        "-p",
        PASSWORD,
        &reg.host(),
    ]);
    out.assert_stdout_has("Login Succeeded");
}

#[test]
fn token_registry_login_pull_and_push() {
    let f = fixtures();
    let reg = Registry::start(Setup::Token);
    let ts = reg.token.as_ref().unwrap();
    let env = Skiff::new("auth_token_pull_push");
    let out = env.ok(&["login", "-u", USER, "-p", PASSWORD, &reg.host()]);
    out.assert_stdout_has("Login Succeeded");

    let before = ts.issued();
    let src = reg.image("multi:latest");
    pull(&env, &[&src], &src, &f.multi.manifest.digest);
    let for_pull = ts.issued() - before;
    assert!(
        (1..=2).contains(&for_pull),
        "one token for the whole pull, not one per blob: {for_pull}"
    );

    let before = ts.issued();
    let repo = reg.image(&unique("token-push"));
    let dst = format!("{repo}:v1");
    env.ok(&["tag", &src, &dst]);
    let out = env.ok(&["push", &dst]);
    out.assert_stdout_has(&format!("The push refers to repository [{repo}]"));
    let for_push = ts.issued() - before;
    assert!(
        (1..=3).contains(&for_push),
        "tokens are cached across the push's requests: {for_push}"
    );

    let fresh = Skiff::new("auth_token_pull_back");
    fresh.write_auth(&reg.host(), USER, PASSWORD);
    let out = fresh.ok(&["pull", &dst]);
    assert_eq!(out.last_line(), dst);
    assert_eq!(fresh.inspect(&dst)["Id"], f.multi.id());
    env.assert_store_clean();
    fresh.assert_store_clean();
}

#[test]
fn token_registry_refuses_a_wrong_password() {
    let reg = Registry::start(Setup::Token);
    let env = Skiff::new("auth_token_wrong");
    env.write_auth(&reg.host(), USER, "wrong");
    let out = env.fails(&["pull", &reg.image("busybox:latest")]);
    out.assert_error_line();
    out.assert_stderr_any(&["unauthorized"]);
    let out = env.fails(&["login", "-u", USER, "-p", "wrong", &reg.host()]);
    out.assert_stderr_any(&["unauthorized"]);
    env.assert_store_clean();
}

#[test]
fn token_registry_without_credentials_is_unauthorized() {
    let reg = Registry::start(Setup::Token);
    let env = Skiff::new("auth_token_anonymous");
    let out = env.fails(&["pull", &reg.image("busybox:latest")]);
    out.assert_stderr_any(&["unauthorized", "authentication required", "denied"]);
    env.assert_store_clean();
}
