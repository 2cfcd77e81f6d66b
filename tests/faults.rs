//! Untrusted registries and a hostile network: lying manifests, malicious
//! layers, dropped connections, 5xx answers, truncated and corrupted
//! bodies, malformed manifests, and pulls killed mid-flight. After each,
//! the store is consistent and nothing bad is in it.

mod common;

use common::expect::{assert_busybox_unpacked, entries, find_named, pull};
use common::fixtures::VICTIM;
use common::oci::media;
use common::{fixtures, Fault, Proxy, Registry, Setup, Skiff};
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

/// The pull failed and left nothing behind: no image, no blob of it, a
/// consistent store.
fn assert_nothing_stored(env: &Skiff, digests: &[&str]) {
    assert!(env.image_ids().is_empty(), "no image was recorded");
    for d in digests {
        assert!(!env.has_blob(d), "blob {d} must not be in the store");
    }
    env.assert_store_clean();
}

fn lying(case: &str, extra_blame: &[String]) {
    let f = fixtures();
    let l = f.lying(case);
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new(&format!("lying_{case}"));
    let out = env.fails(&["pull", &reg.image(&format!("lying/{case}:latest"))]);
    out.assert_error_line();
    let mut blame: Vec<&str> = vec![&l.blame];
    blame.extend(extra_blame.iter().map(String::as_str));
    out.assert_stderr_any(&blame);
    let layer = &l.image.layers[0].blob;
    assert_nothing_stored(&env, &[&layer.digest, &common::sha256(&layer.data)]);
    assert!(env.layer_names().is_empty(), "no layer committed");
}

#[test]
fn wrong_blob_digest_is_refused() {
    lying("digest", &[]);
}

#[test]
fn wrong_blob_size_is_refused() {
    lying("size", &[]);
}

#[test]
fn diff_id_mismatch_is_refused() {
    let l = fixtures().lying("diffid");
    // The error may name the layer blob or either diff id.
    lying(
        "diffid",
        &[
            l.image.layers[0].blob.digest.clone(),
            common::sha256(&l.image.layers[0].tar),
        ],
    );
}

/// Each malicious layer is refused with 125, and nothing it aimed at
/// exists afterwards.
fn evil(case: &str) {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new(&format!("evil_{case}"));
    let passwd = std::fs::read("/etc/passwd").unwrap();
    let passwd_links = std::fs::metadata("/etc/passwd").unwrap().nlink();

    let out = env.fails(&["pull", &reg.image(&format!("evil/{case}:latest"))]);
    out.assert_error_line();

    let escaped: Vec<_> = [env.dir(), f.outside.as_path()]
        .iter()
        .flat_map(|d| find_named(d, &f.escape))
        .collect();
    assert!(
        escaped.is_empty(),
        "files escaped the layer: {escaped:?}\n{out}"
    );
    assert!(!std::path::Path::new("/").join(&f.escape).exists());
    let victim = f.outside.join("victim");
    assert_eq!(std::fs::read(&victim).unwrap(), VICTIM, "victim untouched");
    assert_eq!(
        std::fs::metadata(&victim).unwrap().nlink(),
        1,
        "victim not linked"
    );
    assert_eq!(std::fs::read("/etc/passwd").unwrap(), passwd);
    assert_eq!(
        std::fs::metadata("/etc/passwd").unwrap().nlink(),
        passwd_links
    );
    let img = &f.evil(case).image;
    assert_nothing_stored(&env, &[]);
    assert!(
        !env.layer_dir(&img.chain_ids()[0]).exists(),
        "the layer is not committed"
    );
}

#[test]
fn evil_dotdot() {
    evil("dotdot");
}

#[test]
fn evil_nested_dotdot() {
    evil("nested-dotdot");
}

#[test]
fn evil_absolute() {
    evil("absolute");
}

#[test]
fn evil_symlink_absolute() {
    evil("symlink-absolute");
}

#[test]
fn evil_symlink_dotdot() {
    evil("symlink-dotdot");
}

#[test]
fn evil_hardlink_dotdot() {
    evil("hardlink-dotdot");
}

#[test]
fn evil_hardlink_passwd() {
    evil("hardlink-passwd");
}

#[test]
fn evil_hardlink_overwrite() {
    evil("hardlink-overwrite");
}

#[test]
fn evil_hardlink_via_symlink() {
    evil("hardlink-via-symlink");
}

#[test]
fn dropped_connection_resumes_with_range() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let proxy = Proxy::start(
        &reg,
        Fault::DropAfter {
            bytes: 100_000,
            times: 2,
        },
    );
    let env = Skiff::new("fault_resume");
    let full = proxy.image("busybox:latest");
    pull(&env, &[&full], &full, &f.busybox.manifest.digest);
    let log = proxy.log_text();
    assert!(
        log.lines()
            .any(|l| l.contains(&f.busybox.layers[0].blob.digest) && l.contains("range=bytes=")),
        "a Range request resumed the layer:\n{log}"
    );
    assert_busybox_unpacked(&env);
    env.assert_store_clean();
}

#[test]
fn server_errors_are_retried() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let proxy = Proxy::start(
        &reg,
        Fault::Status {
            code: 500,
            times: 2,
        },
    );
    let env = Skiff::new("fault_5xx");
    let full = proxy.image("busybox:latest");
    pull(&env, &[&full], &full, &f.busybox.manifest.digest);
    assert!(proxy.log_text().contains("-> 500"), "{}", proxy.log_text());
    assert_busybox_unpacked(&env);

    proxy.set_fault(Fault::Status {
        code: 503,
        times: 2,
    });
    let m = proxy.image("multi:latest");
    pull(&env, &[&m], &m, &f.multi.manifest.digest);
    env.assert_store_clean();
}

#[test]
fn persistent_server_errors_fail_cleanly() {
    let reg = Registry::start(Setup::Plain);
    let proxy = Proxy::start(
        &reg,
        Fault::Status {
            code: 500,
            times: usize::MAX,
        },
    );
    let env = Skiff::new("fault_5xx_forever");
    let start = Instant::now();
    let out = env.fails(&["pull", &proxy.image("busybox:latest")]);
    out.assert_error_line();
    out.assert_stderr_any(&["500", "internal server error", "injected fault"]);
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "gives up in time"
    );
    assert_nothing_stored(&env, &[]);
}

#[test]
fn truncated_blob_fails_cleanly() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let proxy = Proxy::start(&reg, Fault::Truncate { bytes: 50_000 });
    let env = Skiff::new("fault_truncated");
    let out = env.fails(&["pull", &proxy.image("busybox:latest")]);
    out.assert_error_line();
    out.assert_stderr_has(&f.busybox.layers[0].blob.digest);
    assert_nothing_stored(&env, &[&f.busybox.layers[0].blob.digest]);
    assert!(entries(&env.root.join("ingest")).is_empty());
}

#[test]
fn corrupted_blob_is_refused() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let proxy = Proxy::start(&reg, Fault::Corrupt { offset: 5000 });
    let env = Skiff::new("fault_corrupt");
    let out = env.fails(&["pull", &proxy.image("busybox:latest")]);
    out.assert_error_line();
    out.assert_stderr_has(&f.busybox.layers[0].blob.digest);
    out.assert_stderr_any(&["digest", "mismatch", "corrupt"]);
    assert_nothing_stored(&env, &[&f.busybox.layers[0].blob.digest]);

    // The same registry without the fault: the next pull completes.
    proxy.set_fault(Fault::None);
    let full = proxy.image("busybox:latest");
    pull(&env, &[&full], &full, &f.busybox.manifest.digest);
    env.assert_store_clean();
}

#[test]
fn malformed_manifest_is_refused() {
    let reg = Registry::start(Setup::Plain);
    let proxy = Proxy::start(
        &reg,
        Fault::Manifest {
            media_type: media::OCI_MANIFEST.into(),
            body: br#"{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": "#.to_vec(),
        },
    );
    let env = Skiff::new("fault_malformed_manifest");
    let out = env.fails(&["pull", &proxy.image("busybox:latest")]);
    out.assert_error_line();
    out.assert_stderr_any(&["malformed", "invalid"]);
    assert_nothing_stored(&env, &[]);

    // Valid JSON, but not a manifest.
    proxy.set_fault(Fault::Manifest {
        media_type: media::OCI_MANIFEST.into(),
        body: br#"{"schemaVersion": 2, "layers": "not a list"}"#.to_vec(),
    });
    let out = env.fails(&["pull", &proxy.image("busybox:latest")]);
    out.assert_stderr_any(&["malformed", "invalid"]);
    assert_nothing_stored(&env, &[]);
}

/// Start a slow pull, interrupt it with `signal` once some of the layer
/// has arrived, then check the store and finish the pull.
fn interrupted_pull(name: &str, signal: nix::sys::signal::Signal) {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let proxy = Proxy::start(
        &reg,
        Fault::Throttle {
            bytes_per_sec: 200_000,
        },
    );
    let env = Skiff::new(name);
    let full = proxy.image("busybox:latest");
    let mut child = env.spawn(&["pull", &full]);
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let config = f.busybox.config.size;
    let deadline = Instant::now() + Duration::from_secs(60);
    while proxy.blob_bytes() < config + 64 * 1024 {
        if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
            let out = common::skiff::wait_out(child, "skiff pull (slow)");
            out.fail("the pull ended (or stalled) before any layer bytes arrived");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    nix::sys::signal::kill(pid, signal).expect("signal the pull");
    let started = Instant::now();
    let out = common::skiff::wait_out(child, "skiff pull (interrupted)");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the pull stops promptly on {signal}"
    );
    assert_ne!(out.code, 0, "an interrupted pull does not succeed:\n{out}");
    assert!(
        env.image_ids().is_empty(),
        "no image from a pull that did not finish"
    );
    env.assert_store_clean();

    proxy.set_fault(Fault::None);
    pull(&env, &[&full], &full, &f.busybox.manifest.digest);
    assert_busybox_unpacked(&env);
    env.assert_store_clean();
}

#[test]
fn pull_killed_with_sigkill_leaves_a_consistent_store() {
    interrupted_pull("fault_sigkill", nix::sys::signal::Signal::SIGKILL);
}

#[test]
fn pull_interrupted_with_sigint_leaves_a_consistent_store() {
    interrupted_pull("fault_sigint", nix::sys::signal::Signal::SIGINT);
}

/// Unmounts a test's file system however the test ends.
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

fn mount_tmpfs(dir: &std::path::Path, size: &str, remount: bool) {
    std::fs::create_dir_all(dir).unwrap();
    let mut opts = format!("size={size}");
    if remount {
        opts = format!("remount,{opts}");
    }
    let st = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &opts, "tmpfs"])
        .arg(dir)
        .status()
        .expect("run mount");
    assert!(st.success(), "mount tmpfs ({opts}) on {}", dir.display());
}

#[test]
fn full_disk_fails_cleanly_and_the_next_pull_completes() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new("fault_disk_full");
    // The store on a file system too small for the image.
    mount_tmpfs(&env.root, "512k", false);
    let _unmount = Mounted(env.root.clone());
    let full = reg.image("busybox:latest");
    let out = env.fails(&["pull", &full]);
    out.assert_code(125);
    out.assert_error_line();
    out.assert_stderr_has("No space left on device");
    assert!(
        env.image_ids().is_empty(),
        "no image from a pull that did not fit"
    );
    env.assert_store_clean();

    // Room again: the same pull now completes.
    mount_tmpfs(&env.root, "64m", true);
    pull(&env, &[&full], &full, &f.busybox.manifest.digest);
    assert_busybox_unpacked(&env);
    env.assert_store_clean();
}
