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

/// The busybox layer is unpacked where the store keeps it.
pub fn assert_busybox_unpacked(env: &Skiff) {
    let dir = env.layer_dir(&fixtures().busybox.chain_ids()[0]);
    if !dir.is_dir() {
        panic!(
            "no layer dir {} (layers: {:?})",
            dir.display(),
            env.layer_names()
        );
    }
    assert_busybox_layer(&dir);
}

/// A busybox layer dir: `bin/busybox` is the binary, `bin/sh` a symlink
/// to it, `etc/hostname` and `tmp` as written.
pub fn assert_busybox_layer(dir: &Path) {
    let bb = dir.join("bin/busybox");
    let md = std::fs::metadata(&bb).unwrap_or_else(|e| panic!("{}: {e}", bb.display()));
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
    let tmp = std::fs::metadata(dir.join("tmp")).unwrap();
    assert_eq!(tmp.mode() & 0o7777, 0o1777);
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
    let root = (super::rootless::host_uid(0), super::rootless::host_gid(0));
    assert_eq!((md.uid(), md.gid()), root);
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
        // Layers unpacked rootless keep overlay metadata in user xattrs.
        let userxattr = if super::rootless::enabled() {
            ",userxattr"
        } else {
            ""
        };
        let out = Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o"])
            .arg(format!("lowerdir={}{userxattr}", lower.join(":")))
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

/// The `multi` image's layers (dirs bottom first) hold what its tars say,
/// in overlay form, and stacked as an overlay at `scratch` they read as
/// the image should.
pub fn assert_multi_unpacked(l: &[PathBuf], scratch: &Path) {
    assert_eq!(l.len(), 4, "multi has four layers");

    // Layer 1 is as it was written.
    assert_eq!(
        std::fs::read(l[0].join("data/deleted.txt")).unwrap(),
        b"deleted by layer 2\n"
    );
    assert_eq!(
        std::fs::read(l[0].join("opq/old1")).unwrap(),
        b"hidden by the opaque dir\n"
    );
    let keep = std::fs::metadata(l[0].join("data/keep.txt")).unwrap();
    assert_eq!(
        keep.mtime(),
        super::tarball::MTIME as i64,
        "file mtimes kept"
    );
    let data = std::fs::metadata(l[0].join("data")).unwrap();
    assert_eq!(
        data.mtime(),
        super::tarball::MTIME as i64,
        "dir mtimes kept"
    );

    // Layer 2: whiteouts in overlay form, not as .wh. files.
    assert_whiteout(&l[1].join("data/deleted.txt"));
    assert!(!l[1].join("data/.wh.deleted.txt").exists());
    assert_eq!(
        xattr(&l[1].join("opq"), &super::rootless::overlay_xattr("opaque")).as_deref(),
        Some("y")
    );
    assert!(!l[1].join("opq/.wh..wh..opq").exists());
    assert_eq!(
        xattr(&l[0].join("opq"), &super::rootless::overlay_xattr("opaque")),
        None
    );
    // Hardlinks share one inode.
    let orig = std::fs::metadata(l[1].join("hl/orig")).unwrap();
    let link = std::fs::metadata(l[1].join("hl/link")).unwrap();
    let link2 = std::fs::metadata(l[1].join("hl/link2")).unwrap();
    assert_eq!(orig.ino(), link.ino());
    assert_eq!(orig.ino(), link2.ino());
    assert_eq!(orig.nlink(), 3);
    assert_eq!(orig.mode() & 0o7777, 0o644);
    assert_eq!(
        std::fs::read_link(l[1].join("sym")).unwrap(),
        Path::new("data/keep.txt")
    );
    let suid = std::fs::metadata(l[1].join("bin/suid")).unwrap();
    assert_eq!(suid.mode() & 0o7777, 0o4755, "setuid kept");
    let owned = std::fs::metadata(l[1].join("home/user-file")).unwrap();
    assert_eq!(
        (owned.uid(), owned.gid()),
        (
            super::rootless::host_uid(1000),
            super::rootless::host_gid(1000)
        )
    );
    assert_eq!(owned.mode() & 0o7777, 0o600);
    let fifo = std::fs::symlink_metadata(l[1].join("run/fifo")).unwrap();
    assert!(fifo.file_type().is_fifo());

    // Layers 3 (plain tar) and 4 (gzip).
    assert_eq!(
        std::fs::read(l[2].join("l3/file.txt")).unwrap(),
        b"third layer\n"
    );
    let sticky = std::fs::metadata(l[3].join("sticky")).unwrap();
    assert_eq!(sticky.mode() & 0o7777, 0o1777);

    // Stacked as overlay lowerdirs, top first, the image reads right.
    let top_first: Vec<_> = l.iter().rev().cloned().collect();
    let mnt = Overlay::mount(&top_first, scratch.to_path_buf());
    let t = &mnt.target;
    assert!(
        !t.join("data/deleted.txt").exists(),
        "whiteout hides the file"
    );
    assert_eq!(std::fs::read(t.join("data/keep.txt")).unwrap(), b"kept\n");
    assert!(
        !t.join("opq/old1").exists(),
        "opaque dir hides the lower one"
    );
    assert_eq!(
        std::fs::read(t.join("opq/new")).unwrap(),
        b"new in layer 2\n"
    );
    assert_eq!(
        std::fs::read(t.join("etc/multi-release")).unwrap(),
        b"multi 3\n"
    );
    assert_eq!(std::fs::read(t.join("sym")).unwrap(), b"kept\n");
    assert!(t.join("l4.txt").exists());
    drop(mnt);
}
