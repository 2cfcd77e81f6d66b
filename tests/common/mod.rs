//! The integration harness: an isolated skiff environment per test, the
//! real registry in four setups (plain, TLS, basic auth, token auth), test
//! images built from Debian's busybox-static, and a fault-injecting proxy.
//!
//! Every test file says `mod common;`; not every file uses every helper.
#![allow(dead_code, unused_imports)]

pub mod build;
pub mod certs;
pub mod expect;
pub mod fixtures;
pub mod http;
pub mod net;
pub mod oci;
pub mod proxy;
pub mod pty;
pub mod registry;
pub mod rootless;
pub mod run;
pub mod run_images;
pub mod seed;
pub mod skiff;
pub mod tarball;
pub mod token;

pub use fixtures::fixtures;
pub use proxy::{Fault, Proxy};
pub use registry::{Registry, Setup};
pub use skiff::{Out, Skiff};

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// This test process's own scratch directory,
/// `target/tmp/skiff-tests/<pid>/`: shared fixtures, certificates and the
/// seeded registry storage live here, and every test's tempdir is made
/// inside it, so a leftover names the run (pid) and the test that made it.
/// Directories of earlier runs whose process is gone are removed on first
/// use; nothing removes this one at exit (Rust runs no destructors for
/// statics), the next run does.
pub fn work_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("skiff-tests");
        std::fs::create_dir_all(&base).expect("create the test scratch base");
        remove_stale_runs(&base);
        let dir = base.join(std::process::id().to_string());
        std::fs::create_dir_all(&dir).expect("create the test scratch dir");
        dir
    })
}

fn remove_stale_runs(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(pid) = name.parse::<u32>() else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            // A run killed mid-test may have left an overlay mounted here;
            // then removal fails and the directory stays for a human to see.
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// A tempdir for one test, named after it: `<work_dir>/<name>-XXXXXX`.
/// Set `SKIFF_TEST_KEEP=1` to keep it after the test for inspection.
pub fn test_dir(name: &str) -> tempfile::TempDir {
    let mut dir = tempfile::Builder::new()
        .prefix(&format!("{name}-"))
        .tempdir_in(work_dir())
        .unwrap_or_else(|e| panic!("create a tempdir for {name}: {e}"));
    if std::env::var_os("SKIFF_TEST_KEEP").is_some() {
        dir.disable_cleanup(true);
    }
    dir
}

/// A name unique to this test process, for repositories that tests push
/// to the shared registry storage: `<what>-<pid>`.
pub fn unique(what: &str) -> String {
    format!("{what}-{}", std::process::id())
}

/// `sha256:<hex>` of some bytes.
pub fn sha256(data: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

/// The hex part of a `sha256:<hex>` digest.
pub fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

/// `podman ARGS` on a store of its own (`root`, `runroot`; vfs, events in
/// a file), to compare with; its output, whatever its status.
pub fn podman(
    root: &std::path::Path,
    runroot: &std::path::Path,
    args: &[&str],
) -> std::process::Output {
    std::process::Command::new("podman")
        .arg("--root")
        .arg(root)
        .arg("--runroot")
        .arg(runroot)
        .args(["--storage-driver", "vfs", "--events-backend", "file"])
        .args(args)
        .output()
        .expect("run podman")
}

/// Run a helper program (openssl, curl, skopeo, ...) and return its output;
/// panics with everything it printed when it fails.
pub fn run_tool(prog: &str, args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new(prog)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {prog}: {e}"));
    if !out.status.success() {
        panic!(
            "{prog} {} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}
