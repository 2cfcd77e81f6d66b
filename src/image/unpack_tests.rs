//! Tests of `unpack_layer`. Tars are built from raw headers, because the
//! tar crate's builder (rightly) refuses the hostile names tested here.
//! They run as root: chown, mknod and trusted.* xattrs need it.

use super::*;
use crate::digest::HashingReader;
use crate::error::{kind_of, ErrorKind};
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;
use tar::{Builder, Header};

const MTIME: u64 = 1_600_000_000;

fn header(kind: EntryType, name: &str, size: u64, mode: u32) -> Header {
    let mut h = Header::new_ustar();
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(MTIME);
    h
}

fn link_header(kind: EntryType, name: &str, target: &str) -> Header {
    let mut h = header(kind, name, 0, 0o777);
    h.as_old_mut().linkname[..target.len()].copy_from_slice(target.as_bytes());
    h
}

/// A tar under construction, with one-line helpers per entry kind.
struct Tar(Builder<Vec<u8>>);

impl Tar {
    fn new() -> Tar {
        Tar(Builder::new(Vec::new()))
    }
    fn add(&mut self, mut h: Header, data: &[u8]) -> &mut Tar {
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }
    fn file(&mut self, name: &str, data: &str) -> &mut Tar {
        self.add(
            header(EntryType::Regular, name, data.len() as u64, 0o644),
            data.as_bytes(),
        )
    }
    fn dir(&mut self, name: &str) -> &mut Tar {
        self.add(header(EntryType::Directory, name, 0, 0o755), b"")
    }
    fn symlink(&mut self, name: &str, target: &str) -> &mut Tar {
        self.add(link_header(EntryType::Symlink, name, target), b"")
    }
    fn hardlink(&mut self, name: &str, target: &str) -> &mut Tar {
        self.add(link_header(EntryType::Link, name, target), b"")
    }
    fn xattrs(&mut self, kv: &[(&str, &[u8])]) -> &mut Tar {
        let recs: Vec<(String, &[u8])> = kv
            .iter()
            .map(|(k, v)| (format!("SCHILY.xattr.{k}"), *v))
            .collect();
        self.0
            .append_pax_extensions(recs.iter().map(|(k, v)| (k.as_str(), *v)))
            .unwrap();
        self
    }
    fn bytes(&mut self) -> Vec<u8> {
        let b = std::mem::replace(&mut self.0, Builder::new(Vec::new()));
        b.into_inner().unwrap()
    }
}

fn unpack(tar: &[u8], dest: &Path) -> Result<UnpackStats> {
    unpack_layer(tar, dest, &UnpackOptions::default())
}

fn lstat(p: &Path) -> fs::Metadata {
    fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn xattr(p: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    let n = rustix::fs::lgetxattr(p, name, &mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

#[test]
fn every_entry_type_with_its_metadata() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    // security.capability v2: cap_net_raw (13) permitted and effective.
    let mut cap = vec![0u8; 20];
    cap[..4].copy_from_slice(&0x0200_0001u32.to_le_bytes());
    cap[4..8].copy_from_slice(&(1u32 << 13).to_le_bytes());

    let mut t = Tar::new();
    let mut h = header(EntryType::Directory, "etc/", 0, 0o750);
    h.set_uid(1000);
    h.set_gid(1001);
    h.set_mtime(1_500_000_000);
    t.add(h, b"");
    let mut h = header(EntryType::Regular, "etc/passwd", 11, 0o640);
    h.set_uid(0);
    h.set_gid(42);
    h.set_mtime(1_500_000_001);
    t.add(h, b"root:x:0:0\n");
    t.add(header(EntryType::Regular, "bin/su", 2, 0o4755), b"su");
    t.add(header(EntryType::Regular, "bin/sgid", 0, 0o2711), b"");
    t.add(header(EntryType::Directory, "tmp/", 0, 0o1777), b"");
    t.xattrs(&[
        ("security.capability", &cap),
        ("user.comment", b"hi"),
        ("trusted.note", b"t"),
        ("trusted.overlay.redirect", b"/elsewhere"),
    ]);
    let mut h = header(EntryType::Regular, "bin/ping", 4, 0o755);
    h.set_uid(7);
    t.add(h, b"ping");
    let mut h = link_header(EntryType::Symlink, "bin/sh", "busybox");
    h.set_uid(5);
    h.set_gid(6);
    h.set_mtime(1_400_000_000);
    t.add(h, b"");
    t.hardlink("bin/passwd-too", "etc/passwd");
    let mut h = header(EntryType::Char, "dev/null", 0, 0o666);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    t.add(h, b"");
    let mut h = header(EntryType::Block, "dev/loop0", 0, 0o660);
    h.set_device_major(7).unwrap();
    h.set_device_minor(0).unwrap();
    t.add(h, b"");
    t.add(header(EntryType::Fifo, "run/fifo", 0, 0o600), b"");
    t.xattrs(&[("user.dir", b"d")]);
    t.dir("data/");
    t.file("data/big", &"x".repeat(600_000));
    let stats = unpack(&t.bytes(), root).unwrap();
    assert_eq!(stats.size, 11 + 2 + 4 + 600_000);

    let m = lstat(&root.join("etc"));
    assert!(m.is_dir());
    assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o750, 1000, 1001));
    assert_eq!(m.mtime(), 1_500_000_000);
    let m = lstat(&root.join("etc/passwd"));
    assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o640, 0, 42));
    assert_eq!(m.mtime(), 1_500_000_001);
    assert_eq!(m.nlink(), 2);
    assert_eq!(
        fs::read(root.join("bin/passwd-too")).unwrap(),
        b"root:x:0:0\n"
    );
    assert_eq!(lstat(&root.join("bin/passwd-too")).ino(), m.ino());
    assert_eq!(lstat(&root.join("bin/su")).mode() & 0o7777, 0o4755);
    assert_eq!(lstat(&root.join("bin/sgid")).mode() & 0o7777, 0o2711);
    assert_eq!(lstat(&root.join("tmp")).mode() & 0o7777, 0o1777);

    let ping = root.join("bin/ping");
    let m = lstat(&ping);
    assert_eq!(
        (m.mode() & 0o7777, m.uid(), m.mtime()),
        (0o755, 7, MTIME as i64)
    );
    assert_eq!(xattr(&ping, "security.capability").unwrap(), cap);
    assert_eq!(xattr(&ping, "user.comment").unwrap(), b"hi");
    assert_eq!(xattr(&ping, "trusted.note").unwrap(), b"t");
    assert_eq!(
        xattr(&ping, "trusted.overlay.redirect"),
        None,
        "overlay xattrs are dropped"
    );
    assert_eq!(xattr(&root.join("data"), "user.dir").unwrap(), b"d");

    let sh = root.join("bin/sh");
    let m = lstat(&sh);
    assert!(m.file_type().is_symlink());
    assert_eq!(fs::read_link(&sh).unwrap(), Path::new("busybox"));
    assert_eq!((m.uid(), m.gid(), m.mtime()), (5, 6, 1_400_000_000));

    let m = lstat(&root.join("dev/null"));
    assert!(m.file_type().is_char_device());
    assert_eq!(m.rdev(), rustix::fs::makedev(1, 3));
    assert_eq!(m.mode() & 0o7777, 0o666);
    let m = lstat(&root.join("dev/loop0"));
    assert!(m.file_type().is_block_device());
    assert_eq!(m.rdev(), rustix::fs::makedev(7, 0));
    let m = lstat(&root.join("run/fifo"));
    assert!(m.file_type().is_fifo());
    assert_eq!(m.mode() & 0o7777, 0o600);
    // Implied parents: 0755 and ours.
    assert_eq!(lstat(&root.join("bin")).mode() & 0o7777, 0o755);
    assert_eq!(fs::read(root.join("data/big")).unwrap().len(), 600_000);
}

#[test]
fn pax_times_and_owners() {
    let d = tempfile::tempdir().unwrap();
    let mut t = Tar::new();
    t.0.append_pax_extensions([
        ("mtime", &b"1700000000.25"[..]),
        ("uid", b"3000000"),
        ("gid", b"3000001"),
    ])
    .unwrap();
    t.file("f", "x");
    unpack(&t.bytes(), d.path()).unwrap();
    let m = lstat(&d.path().join("f"));
    assert_eq!((m.mtime(), m.mtime_nsec()), (1_700_000_000, 250_000_000));
    assert_eq!((m.uid(), m.gid()), (3_000_000, 3_000_001));
    assert_eq!(parse_pax_time(b"-1.5").unwrap().tv_sec, -2);
    assert_eq!(parse_pax_time(b"-1.5").unwrap().tv_nsec, 500_000_000);
    assert!(parse_pax_time(b"1.x").is_err());
}

#[test]
fn whiteouts_and_opaque_dirs_in_overlay_form() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    let mut t = Tar::new();
    t.dir("a/")
        .file("a/.wh..wh..opq", "")
        .file("a/kept", "k")
        .file(".wh.gone", "")
        .file("b/.wh.x", "")
        .dir(".wh..wh.plnk/")
        .file(".wh..wh.plnk/123.456", "aufs");
    let stats = unpack(&t.bytes(), root).unwrap();
    assert_eq!(
        xattr(&root.join("a"), "trusted.overlay.opaque").unwrap(),
        b"y"
    );
    assert!(!root.join("a/.wh..wh..opq").exists());
    for w in ["gone", "b/x"] {
        let m = lstat(&root.join(w));
        assert!(m.file_type().is_char_device(), "{w}");
        assert_eq!((m.rdev(), m.uid(), m.gid()), (0, 0, 0), "{w}");
    }
    assert!(fs::symlink_metadata(root.join(".wh.gone")).is_err());
    assert!(fs::symlink_metadata(root.join(".wh..wh.plnk")).is_err());
    assert_eq!(xattr(&root.join("b"), "trusted.overlay.opaque"), None);
    assert_eq!(stats.files, 4); // a, a/kept, gone, b/x
}

#[test]
fn rootless_unpack_does_not_fail() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    let mut t = Tar::new();
    let mut h = header(EntryType::Char, "dev/null", 0, 0o666);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    t.add(h, b"");
    let mut h = header(EntryType::Regular, "owned", 1, 0o644);
    h.set_uid(1000);
    t.add(h, b"x");
    t.add(header(EntryType::Directory, "ro/", 0, 0o555), b"");
    t.file("ro/inside", "y");
    t.xattrs(&[("trusted.secret", b"s")]);
    t.file("t", "t");
    t.dir("o/").file("o/.wh..wh..opq", "").file(".wh.gone", "");
    unpack_layer(&t.bytes()[..], root, &UnpackOptions { rootless: true }).unwrap();
    assert!(fs::symlink_metadata(root.join("dev/null")).is_err());
    assert_eq!(
        lstat(&root.join("owned")).uid(),
        nix::unistd::geteuid().as_raw()
    );
    assert_eq!(lstat(&root.join("ro")).mode() & 0o7777, 0o555);
    assert_eq!(fs::read(root.join("ro/inside")).unwrap(), b"y");
    assert_eq!(xattr(&root.join("o"), "user.overlay.opaque").unwrap(), b"y");
    assert!(lstat(&root.join("gone")).file_type().is_char_device());
}

#[test]
fn xattr_whiteouts_where_mknod_is_not_allowed() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    let mut u = Unpacker::new(root, &UnpackOptions { rootless: true }).unwrap();
    u.tree.ensure_dir(Path::new("dir")).unwrap();
    u.xwhiteout(Path::new("dir"), Path::new("dir/gone"))
        .unwrap();
    let m = lstat(&root.join("dir/gone"));
    assert!(m.is_file() && m.len() == 0);
    assert_eq!(
        xattr(&root.join("dir/gone"), "user.overlay.whiteout").unwrap(),
        b"y"
    );
    assert_eq!(
        xattr(&root.join("dir"), "user.overlay.opaque").unwrap(),
        b"x"
    );
    // An opaque directory stays opaque.
    u.opaque_dir(Path::new("odir")).unwrap();
    u.xwhiteout(Path::new("odir"), Path::new("odir/gone"))
        .unwrap();
    assert_eq!(
        xattr(&root.join("odir"), "user.overlay.opaque").unwrap(),
        b"y"
    );
}

#[test]
fn later_entries_win() {
    let d = tempfile::tempdir().unwrap();
    let outside = d.path().join("outside");
    fs::write(&outside, b"original").unwrap();
    let root = d.path().join("layer");
    fs::create_dir(&root).unwrap();
    let mut t = Tar::new();
    t.dir("x/")
        .file("x/f", "f")
        .dir("x/sub/")
        .file("x", "now a file")
        .file("y", "a file")
        .dir("y/")
        .file("y/g", "g")
        .symlink("z", "../outside")
        .file("z", "replaced the link")
        .file("w", "first")
        .file("w", "second");
    unpack(&t.bytes(), &root).unwrap();
    assert_eq!(fs::read(root.join("x")).unwrap(), b"now a file");
    assert_eq!(fs::read(root.join("y/g")).unwrap(), b"g");
    assert!(lstat(&root.join("z")).is_file());
    assert_eq!(fs::read(root.join("z")).unwrap(), b"replaced the link");
    assert_eq!(fs::read(root.join("w")).unwrap(), b"second");
    assert_eq!(fs::read(&outside).unwrap(), b"original");
}

#[test]
fn reads_the_stream_to_its_end() {
    let d = tempfile::tempdir().unwrap();
    let mut data = Tar::new().file("f", "x").bytes();
    // GNU tar pads the archive to a 10 KiB record after the end blocks.
    data.resize(10240, 0);
    let mut r = HashingReader::new(&data[..]);
    unpack_layer(&mut r, d.path(), &UnpackOptions::default()).unwrap();
    assert_eq!(r.count(), 10240);
}

#[test]
fn truncated_tar_fails() {
    let d = tempfile::tempdir().unwrap();
    let data = Tar::new().file("f", &"x".repeat(5000)).bytes();
    let e = unpack(&data[..3000], d.path()).unwrap_err();
    assert!(format!("{e:#}").contains("layer"), "{e:#}");
}

/// One hostile tar: built by `build`, it must fail with `why` in the
/// message and leave everything outside the layer as it was.
struct Hostile {
    what: &'static str,
    build: fn(&mut Tar),
    why: &'static str,
}

const PROBE: &str = "skiff-unpack-escape-probe";

fn hostile_cases() -> Vec<Hostile> {
    vec![
        Hostile {
            what: "dotdot",
            build: |t| {
                t.file("../x", "evil");
            },
            why: "path escapes the layer",
        },
        Hostile {
            what: "inner dotdot",
            build: |t| {
                t.file("a/../../x", "evil");
            },
            why: "path escapes the layer",
        },
        Hostile {
            what: "absolute",
            build: |t| {
                t.file("/etc/skiff-unpack-escape-probe", "evil");
            },
            why: "absolute path",
        },
        Hostile {
            what: "through symlink to /",
            build: |t| {
                t.symlink("a", "/")
                    .file("a/skiff-unpack-escape-probe", "evil");
            },
            why: "crosses a symlink",
        },
        Hostile {
            what: "through symlink to ..",
            build: |t| {
                t.symlink("a", "..").file("a/x", "evil");
            },
            why: "crosses a symlink",
        },
        Hostile {
            what: "dir through symlink",
            build: |t| {
                t.symlink("a", "..").dir("a/newdir/");
            },
            why: "crosses a symlink",
        },
        Hostile {
            what: "dir replaced by a symlink",
            build: |t| {
                t.dir("a/")
                    .file("a/f", "ok")
                    .symlink("a", "..")
                    .file("a/x", "evil");
            },
            why: "crosses a symlink",
        },
        Hostile {
            what: "nested symlinked parent",
            build: |t| {
                t.dir("d/").symlink("d/up", "../..").file("d/up/x", "evil");
            },
            why: "crosses a symlink",
        },
        Hostile {
            what: "whiteout through symlink",
            build: |t| {
                t.symlink("a", "..").file("a/.wh.outside", "");
            },
            why: "crosses a symlink",
        },
        Hostile {
            what: "opaque marker through symlink",
            build: |t| {
                t.symlink("a", "..").file("a/.wh..wh..opq", "");
            },
            why: "crosses a symlink",
        },
        Hostile {
            what: "hardlink to ../outside",
            build: |t| {
                t.hardlink("l", "../outside");
            },
            why: "escapes the layer",
        },
        Hostile {
            what: "hardlink to /etc/passwd",
            build: |t| {
                t.hardlink("l", "/etc/passwd");
            },
            why: "is absolute",
        },
        Hostile {
            what: "hardlink through a symlinked dir",
            build: |t| {
                t.symlink("d", "/etc").hardlink("l", "d/passwd");
            },
            why: "crosses a symlink",
        },
        Hostile {
            what: "hardlink through a symlinked dir to outside",
            build: |t| {
                t.symlink("d", "..").hardlink("l", "d/outside");
            },
            why: "crosses a symlink",
        },
        Hostile {
            what: "hardlink to a symlink",
            build: |t| {
                t.symlink("s", "../outside").hardlink("l", "s");
            },
            why: "not a regular file in this layer",
        },
        Hostile {
            what: "hardlink to nothing",
            build: |t| {
                t.hardlink("l", "missing");
            },
            why: "not a regular file in this layer",
        },
        Hostile {
            what: "hardlink with dotdot inside",
            build: |t| {
                t.dir("a/").hardlink("l", "a/../../outside");
            },
            why: "escapes the layer",
        },
        Hostile {
            what: "file named as the root",
            build: |t| {
                t.file(".", "x");
            },
            why: "only a directory may name the layer root",
        },
    ]
}

#[test]
fn hostile_layers_are_refused_and_write_nothing_outside() {
    for case in hostile_cases() {
        let d = tempfile::tempdir().unwrap();
        let outside = d.path().join("outside");
        fs::write(&outside, b"original").unwrap();
        let root = d.path().join("layer");
        fs::create_dir(&root).unwrap();
        let mut t = Tar::new();
        (case.build)(&mut t);
        let e = unpack(&t.bytes(), &root).expect_err(case.what);
        let msg = format!("{e:#}");
        assert!(msg.starts_with("layer entry \""), "{}: {msg}", case.what);
        assert!(msg.contains(case.why), "{}: {msg}", case.what);
        assert_eq!(
            kind_of(&e),
            Some(ErrorKind::Corrupt),
            "{}: {msg}",
            case.what
        );
        let mut names: Vec<PathBuf> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into())
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec![PathBuf::from("layer"), PathBuf::from("outside")],
            "{}",
            case.what
        );
        assert_eq!(fs::read(&outside).unwrap(), b"original", "{}", case.what);
        assert_eq!(fs::metadata(&outside).unwrap().nlink(), 1, "{}", case.what);
        assert_eq!(
            xattr(d.path(), "trusted.overlay.opaque"),
            None,
            "{}",
            case.what
        );
        assert!(!Path::new("/").join(PROBE).exists(), "{}", case.what);
        assert!(!Path::new("/etc").join(PROBE).exists(), "{}", case.what);
    }
}

#[test]
fn symlink_targets_are_data() {
    let d = tempfile::tempdir().unwrap();
    let mut t = Tar::new();
    t.symlink("abs", "/etc/passwd").symlink("up", "../../..");
    unpack(&t.bytes(), d.path()).unwrap();
    assert_eq!(
        fs::read_link(d.path().join("abs")).unwrap(),
        Path::new("/etc/passwd")
    );
    assert_eq!(
        fs::read_link(d.path().join("up")).unwrap(),
        Path::new("../../..")
    );
}

/// Walk a tree into comparable lines: path, type, mode, owner, mtime,
/// size, link target, inode group for hardlinks.
fn listing(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut inodes = std::collections::HashMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let p = root.join(&rel);
        let m = lstat(&p);
        let link = if m.file_type().is_symlink() {
            fs::read_link(&p).unwrap().display().to_string()
        } else {
            String::new()
        };
        let n = inodes.len();
        let group = *inodes.entry(m.ino()).or_insert(n);
        let mtime = if m.is_dir() { 0 } else { m.mtime() };
        out.push(format!(
            "{} {:o} {}:{} {} {} {} #{}",
            rel.display(),
            m.mode(),
            m.uid(),
            m.gid(),
            mtime,
            if m.is_file() { m.len() } else { 0 },
            link,
            if m.is_file() && m.nlink() > 1 {
                group
            } else {
                0
            }
        ));
        if m.is_dir() {
            for e in fs::read_dir(&p).unwrap() {
                stack.push(rel.join(e.unwrap().file_name()));
            }
        }
    }
    out.sort();
    out
}

/// The same archive unpacked by GNU tar and by us gives the same tree.
#[test]
fn matches_gnu_tar() {
    if std::process::Command::new("tar")
        .arg("--version")
        .output()
        .is_err()
    {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    let mut t = Tar::new();
    t.dir("usr/").dir("usr/bin/");
    let mut h = header(EntryType::Regular, "usr/bin/tool", 5, 0o4755);
    h.set_uid(12);
    h.set_gid(34);
    t.add(h, b"tool\n");
    t.hardlink("usr/bin/tool2", "usr/bin/tool");
    t.symlink("usr/bin/t", "tool");
    t.add(header(EntryType::Fifo, "run/p", 0, 0o640), b"");
    t.add(header(EntryType::Directory, "ro/", 0, 0o555), b"");
    t.file("ro/f", "read only dir");
    for i in 0..50 {
        t.file(&format!("many/f{i}"), &"z".repeat(i * 100));
    }
    let data = t.bytes();
    let tarfile = d.path().join("layer.tar");
    fs::write(&tarfile, &data).unwrap();
    fs::create_dir(&src).unwrap();
    let st = std::process::Command::new("tar")
        .args([
            "-xpf",
            tarfile.to_str().unwrap(),
            "--numeric-owner",
            "-C",
            src.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let ours = d.path().join("ours");
    fs::create_dir(&ours).unwrap();
    unpack(&data, &ours).unwrap();
    assert_eq!(listing(&ours), listing(&src));
}

/// Two unpacked layers stacked by the kernel's overlayfs show what the
/// whiteouts and the opaque marker promised.
#[test]
fn overlayfs_honours_our_whiteouts() {
    let d = tempfile::tempdir().unwrap();
    let (l1, l2, merged) = (d.path().join("l1"), d.path().join("l2"), d.path().join("m"));
    for p in [&l1, &l2, &merged] {
        fs::create_dir(p).unwrap();
    }
    let mut t = Tar::new();
    t.file("a/x", "x")
        .file("a/y", "y")
        .file("b/z", "z")
        .file("b/keep", "k")
        .file("c", "c");
    unpack(&t.bytes(), &l1).unwrap();
    let mut t = Tar::new();
    t.file(".wh.c", "")
        .file("a/.wh..wh..opq", "")
        .file("a/new", "n")
        .file("b/.wh.z", "");
    unpack(&t.bytes(), &l2).unwrap();
    let opts = format!("lowerdir={}:{}", l2.display(), l1.display());
    if let Err(e) = nix::mount::mount(
        Some("overlay"),
        &merged,
        Some("overlay"),
        nix::mount::MsFlags::empty(),
        Some(opts.as_str()),
    ) {
        eprintln!("overlay mount not available ({e}): skipped");
        return;
    }
    let seen = listing_names(&merged);
    nix::mount::umount(&merged).unwrap();
    assert_eq!(seen, vec!["a", "a/new", "b", "b/keep"]);
}

fn listing_names(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for e in fs::read_dir(root.join(&rel)).unwrap() {
            let e = e.unwrap();
            let r = rel.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                stack.push(r.clone());
            }
            out.push(r.display().to_string());
        }
    }
    out.sort();
    out
}
