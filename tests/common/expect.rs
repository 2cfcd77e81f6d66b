//! Checks on what a user sees after a command: pull output, unpacked
//! layers on disk, extended attributes, overlay mounts of the layers.

use super::fixtures::fixtures;
use super::skiff::{Out, Skiff};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The architecture name Docker uses for this machine.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// `skiff pull ARGS` succeeded and printed Docker's summary: `Digest: D`,
/// `Status: Downloaded newer image for R` (or `Image is up to date`), and
/// the full reference as the last stdout line.
pub fn assert_pulled(out: &Out, full: &str, digest: &str, fresh: bool) {
    out.assert_ok();
    out.assert_stdout_has(&format!("Digest: {digest}"));
    let status = if fresh {
        format!("Status: Downloaded newer image for {full}")
    } else {
        format!("Status: Image is up to date for {full}")
    };
    out.assert_stdout_has(&status);
    if out.last_line() != full {
        out.fail(&format!("the last stdout line should be {full:?}"));
    }
}

/// `skiff pull REF` with all Docker's output checks; returns the output.
pub fn pull(env: &Skiff, args: &[&str], full: &str, digest: &str) -> Out {
    let mut a = vec!["pull"];
    a.extend_from_slice(args);
    let out = env.run(&a);
    assert_pulled(&out, full, digest, true);
    out
}

/// The busybox layer is unpacked where the store keeps it: `bin/busybox`
/// is the binary, `bin/sh` a symlink to it.
pub fn assert_busybox_unpacked(env: &Skiff) {
    let f = fixtures();
    let dir = env.layer_dir(&f.busybox.chain_ids()[0]);
    let bb = dir.join("bin/busybox");
    let md = std::fs::metadata(&bb)
        .unwrap_or_else(|e| panic!("{}: {e} (layers: {:?})", bb.display(), env.layer_names()));
    assert_eq!(md.len(), std::fs::metadata("/bin/busybox").unwrap().len());
    assert_eq!(md.mode() & 0o7777, 0o755);
    assert_eq!(
        std::fs::read_link(dir.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    assert_eq!(
        std::fs::read(dir.join("etc/hostname")).unwrap(),
        b"busybox\n"
    );
}

/// An extended attribute of a path, not following symlinks.
pub fn xattr(path: &Path, name: &str) -> Option<String> {
    let out = Command::new("getfattr")
        .args(["-h", "--only-values", "-n", name])
        .arg(path)
        .output()
        .expect("run getfattr (install attr)");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A whiteout in overlay form: a 0:0 character device owned by root.
pub fn assert_whiteout(path: &Path) {
    let md = std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("whiteout {}: {e}", path.display()));
    assert!(
        md.file_type().is_char_device(),
        "{} is a char device",
        path.display()
    );
    assert_eq!(md.rdev(), 0, "{} is device 0:0", path.display());
    assert_eq!((md.uid(), md.gid()), (0, 0));
}

/// An overlay mount of layer dirs (top first) on a fresh directory,
/// unmounted when dropped.
pub struct Overlay {
    pub target: PathBuf,
}

impl Overlay {
    pub fn mount(lowerdirs: &[PathBuf], target: PathBuf) -> Overlay {
        std::fs::create_dir_all(&target).unwrap();
        let lower: Vec<String> = lowerdirs.iter().map(|p| p.display().to_string()).collect();
        let out = Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o"])
            .arg(format!("lowerdir={}", lower.join(":")))
            .arg(&target)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mount overlay on {}: {}",
            target.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Overlay { target }
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.target).status();
    }
}

/// Every path under `root` whose file name contains `needle` (symlinks
/// not followed).
pub fn find_named(root: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_name().to_string_lossy().contains(needle) {
                found.push(p.clone());
            }
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(p);
            }
        }
    }
    found
}

/// The entries of a directory of the store (`tmp`, `ingest`, ...), empty
/// when it does not exist.
pub fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A loopback port nothing listens on.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
