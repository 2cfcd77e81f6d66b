//! COPY/ADD against real trees (run as root: owners are checked).

use super::*;
use crate::build::ignore::Matcher;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;

/// A context directory and a destination root side by side.
struct T {
    _d: tempfile::TempDir,
    ctx: PathBuf,
    root: PathBuf,
    outside: PathBuf,
}

fn setup() -> T {
    let d = tempfile::tempdir().unwrap();
    let ctx = d.path().join("ctx");
    let root = d.path().join("root");
    let outside = d.path().join("outside");
    for p in [&ctx, &root, &outside] {
        fs::create_dir_all(p).unwrap();
    }
    T {
        ctx,
        root,
        outside,
        _d: d,
    }
}

fn put(base: &Path, rel: &str, data: &str) {
    let p = base.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
}

fn read(base: &Path, rel: &str) -> String {
    fs::read_to_string(base.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn mode(base: &Path, rel: &str) -> u32 {
    fs::symlink_metadata(base.join(rel)).unwrap().mode() & 0o7777
}

fn owner(base: &Path, rel: &str) -> (u32, u32) {
    let m = fs::symlink_metadata(base.join(rel)).unwrap();
    (m.uid(), m.gid())
}

fn set_mtime(p: &Path, secs: i64) {
    let f = fs::File::open(p).unwrap();
    rustix::fs::futimens(&f, &write::times_at(secs)).unwrap();
}

fn run(t: &T, spec: &CopySpec) -> Result<()> {
    copy(&t.ctx, None, spec, &t.root)
}

fn spec(sources: &[&str], dest: &str) -> CopySpec {
    CopySpec::new(sources.iter().copied(), dest)
}

fn err(r: Result<()>) -> String {
    format!("{:#}", r.unwrap_err())
}

#[test]
fn file_to_directory_keeps_name_and_metadata() {
    let t = setup();
    put(&t.ctx, "a.txt", "hello");
    let p = t.ctx.join("a.txt");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::chown(&p, Some(1000), Some(1000)).unwrap();
    set_mtime(&p, 1_000_000);
    run(&t, &spec(&["a.txt"], "/dest/")).unwrap();
    assert_eq!(read(&t.root, "dest/a.txt"), "hello");
    assert_eq!(mode(&t.root, "dest/a.txt"), 0o640);
    assert_eq!(owner(&t.root, "dest/a.txt"), (0, 0));
    assert_eq!(
        fs::metadata(t.root.join("dest/a.txt")).unwrap().mtime(),
        1_000_000
    );
    assert_eq!(mode(&t.root, "dest"), 0o755);
}

#[test]
fn file_to_path_without_slash() {
    let t = setup();
    put(&t.ctx, "a.txt", "A");
    run(&t, &spec(&["a.txt"], "/x/newname")).unwrap();
    assert_eq!(read(&t.root, "x/newname"), "A");
    // An existing directory takes the file under its own name.
    fs::create_dir(t.root.join("existing")).unwrap();
    run(&t, &spec(&["a.txt"], "/existing")).unwrap();
    assert_eq!(read(&t.root, "existing/a.txt"), "A");
    // An existing file is replaced.
    put(&t.root, "old", "old");
    run(&t, &spec(&["a.txt"], "/old")).unwrap();
    assert_eq!(read(&t.root, "old"), "A");
    // A directory is never replaced by a file.
    fs::create_dir_all(t.root.join("d/a.txt")).unwrap();
    let e = err(run(&t, &spec(&["a.txt"], "/d/")));
    assert_eq!(e, "cannot replace to directory /d/a.txt with file");
}

#[test]
fn directory_copies_its_contents() {
    let t = setup();
    put(&t.ctx, "dir/x", "x");
    put(&t.ctx, "dir/sub/y", "y");
    fs::set_permissions(t.ctx.join("dir"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::set_permissions(t.ctx.join("dir/sub"), fs::Permissions::from_mode(0o750)).unwrap();
    set_mtime(&t.ctx.join("dir/sub"), 2_000_000);
    run(&t, &spec(&["dir"], "/out")).unwrap();
    assert_eq!(read(&t.root, "out/x"), "x");
    assert_eq!(read(&t.root, "out/sub/y"), "y");
    // The top is the destination (made 0755), not a copy of `dir`.
    assert_eq!(mode(&t.root, "out"), 0o755);
    assert_eq!(mode(&t.root, "out/sub"), 0o750);
    assert_eq!(
        fs::metadata(t.root.join("out/sub")).unwrap().mtime(),
        2_000_000
    );
    // Merged into what is there.
    put(&t.root, "into/keep", "k");
    run(&t, &spec(&["dir/"], "/into/")).unwrap();
    assert_eq!(read(&t.root, "into/keep"), "k");
    assert_eq!(read(&t.root, "into/sub/y"), "y");
    // Not onto a file.
    put(&t.root, "file", "");
    assert_eq!(
        err(run(&t, &spec(&["dir"], "/file"))),
        "cannot copy to non-directory: /file"
    );
    // `.` is the whole context.
    run(&t, &spec(&["."], "/all/")).unwrap();
    assert_eq!(read(&t.root, "all/dir/sub/y"), "y");
}

#[test]
fn more_than_one_source_needs_a_directory() {
    let t = setup();
    put(&t.ctx, "a", "a");
    put(&t.ctx, "b", "b");
    let want = "When using COPY with more than one source file, the destination must be a directory and end with a /";
    let e = run(&t, &spec(&["a", "b"], "/dest")).unwrap_err();
    assert_eq!(format!("{e:#}"), want);
    assert_eq!(crate::error::kind_of(&e), Some(ErrorKind::InvalidArgument));
    assert_eq!(err(run(&t, &spec(&["*"], "/dest"))), want);
    let mut add = spec(&["a", "b"], "/dest");
    add.add = true;
    assert!(err(copy(&t.ctx, None, &add, &t.root)).starts_with("When using ADD"));
    run(&t, &spec(&["a", "b"], "/dest/")).unwrap();
    assert_eq!(read(&t.root, "dest/b"), "b");
    // A glob that finds one file may name a file.
    run(&t, &spec(&["[a]"], "/single")).unwrap();
    assert_eq!(read(&t.root, "single"), "a");
}

#[test]
fn globs_expand_like_go() {
    let t = setup();
    put(&t.ctx, "one.txt", "1");
    put(&t.ctx, "two.txt", "2");
    put(&t.ctx, "three.md", "3");
    put(&t.ctx, "src/a.c", "a");
    put(&t.ctx, "src/deep/b.c", "b");
    put(&t.ctx, "sub1/f", "f1");
    run(&t, &spec(&["*.txt"], "/g/")).unwrap();
    assert!(t.root.join("g/one.txt").exists() && t.root.join("g/two.txt").exists());
    assert!(!t.root.join("g/three.md").exists());
    run(&t, &spec(&["s?c/*.c"], "/c/")).unwrap();
    assert_eq!(read(&t.root, "c/a.c"), "a");
    assert!(!t.root.join("c/b.c").exists());
    // A matched directory has its contents copied, as any directory.
    run(&t, &spec(&["sub[0-9]"], "/m/")).unwrap();
    assert_eq!(read(&t.root, "m/f"), "f1");
    let e = run(&t, &spec(&["*.none"], "/g/")).unwrap_err();
    assert_eq!(format!("{e:#}"), "\"/*.none\": not found");
    assert_eq!(crate::error::kind_of(&e), Some(ErrorKind::NotFound));
}

#[test]
fn missing_source_is_not_found() {
    let t = setup();
    let e = run(&t, &spec(&["missing"], "/x")).unwrap_err();
    assert_eq!(format!("{e:#}"), "\"/missing\": not found");
    assert_eq!(crate::error::kind_of(&e), Some(ErrorKind::NotFound));
}

#[test]
fn sources_never_leave_the_source_root() {
    let t = setup();
    put(&t.outside, "secret", "host secret");
    put(&t.ctx, "etc/passwd", "context passwd");
    // `..` stops at the root, as Docker resolves it.
    run(&t, &spec(&["../../../etc/passwd"], "/p")).unwrap();
    assert_eq!(read(&t.root, "p"), "context passwd");
    // Symlinks are followed, but inside the context.
    symlink("/etc/passwd", t.ctx.join("abs")).unwrap();
    symlink("../outside", t.ctx.join("up")).unwrap();
    run(&t, &spec(&["abs"], "/q")).unwrap();
    assert_eq!(read(&t.root, "q"), "context passwd");
    let e = err(run(&t, &spec(&["up/secret"], "/r")));
    assert_eq!(e, "\"/up/secret\": not found");
    assert!(!t.root.join("r").exists());
    // Inside a copied directory a symlink stays a symlink.
    symlink("../../outside/secret", t.ctx.join("etc/link")).unwrap();
    run(&t, &spec(&["etc"], "/e/")).unwrap();
    assert_eq!(
        fs::read_link(t.root.join("e/link")).unwrap(),
        Path::new("../../outside/secret")
    );
}

#[test]
fn destination_symlinks_stay_inside_the_root() {
    let t = setup();
    put(&t.ctx, "a.txt", "payload");
    put(&t.ctx, "dir/f", "payload");
    put(&t.outside, "victim", "untouched");
    // Relative and absolute links that point out of the root.
    symlink("../outside", t.root.join("rel")).unwrap();
    symlink("/../../../outside", t.root.join("abs")).unwrap();
    symlink("../outside/victim", t.root.join("file-link")).unwrap();
    fs::create_dir(t.root.join("etc")).unwrap();
    symlink("../../..", t.root.join("etc/up")).unwrap();
    run(&t, &spec(&["a.txt"], "/rel/")).unwrap();
    run(&t, &spec(&["a.txt"], "/abs/sub/x")).unwrap();
    run(&t, &spec(&["a.txt"], "/file-link")).unwrap();
    run(&t, &spec(&["dir"], "/etc/up/tree")).unwrap();
    assert_eq!(read(&t.outside, "victim"), "untouched");
    assert_eq!(fs::read_dir(&t.outside).unwrap().count(), 1);
    assert_eq!(read(&t.root, "outside/a.txt"), "payload");
    assert_eq!(read(&t.root, "outside/sub/x"), "payload");
    assert_eq!(read(&t.root, "outside/victim"), "payload");
    assert_eq!(read(&t.root, "tree/f"), "payload");
    // A symlink at a file's own name inside a copied tree is replaced,
    // never written through.
    fs::create_dir(t.root.join("t")).unwrap();
    symlink("../../outside/victim", t.root.join("t/f")).unwrap();
    run(&t, &spec(&["dir"], "/t")).unwrap();
    assert_eq!(read(&t.outside, "victim"), "untouched");
    assert!(!fs::symlink_metadata(t.root.join("t/f"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn chown_and_chmod() {
    let t = setup();
    put(&t.ctx, "d/f", "f");
    put(&t.ctx, "d/sub/g", "g");
    put(&t.ctx, "suid", "s");
    fs::set_permissions(t.ctx.join("suid"), fs::Permissions::from_mode(0o4755)).unwrap();
    symlink("f", t.ctx.join("d/link")).unwrap();
    let mut s = spec(&["d"], "/new/parent/out/");
    s.chown = Some((1000, 1001));
    s.chmod = Some(parse_chmod("750").unwrap());
    run(&t, &s).unwrap();
    for rel in [
        "new",
        "new/parent",
        "new/parent/out",
        "new/parent/out/f",
        "new/parent/out/sub",
        "new/parent/out/link",
    ] {
        assert_eq!(owner(&t.root, rel), (1000, 1001), "{rel}");
    }
    assert_eq!(mode(&t.root, "new/parent"), 0o755);
    assert_eq!(mode(&t.root, "new/parent/out/f"), 0o750);
    assert_eq!(mode(&t.root, "new/parent/out/sub"), 0o750);
    let mut s = spec(&["suid"], "/s");
    s.chmod = Some(0o700);
    run(&t, &s).unwrap();
    assert_eq!(mode(&t.root, "s"), 0o4700);
    assert!(parse_chmod("9").is_err());
    assert!(parse_chmod("").is_err());
    assert!(parse_chmod("17777").is_err());
    assert_eq!(parse_chmod("0644").unwrap(), 0o644);
}

#[test]
fn links_and_special_files() {
    let t = setup();
    put(&t.ctx, "d/f", "data");
    fs::hard_link(t.ctx.join("d/f"), t.ctx.join("d/hard")).unwrap();
    symlink("f", t.ctx.join("d/sym")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        t.ctx.join("d/fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    run(&t, &spec(&["d"], "/o/")).unwrap();
    let a = fs::metadata(t.root.join("o/f")).unwrap();
    let b = fs::metadata(t.root.join("o/hard")).unwrap();
    assert_eq!(a.ino(), b.ino());
    assert_eq!(fs::read_link(t.root.join("o/sym")).unwrap(), Path::new("f"));
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(
        &fs::symlink_metadata(t.root.join("o/fifo"))
            .unwrap()
            .file_type()
    ));
}

#[test]
fn exclude_flag() {
    let t = setup();
    put(&t.ctx, "app/main.go", "m");
    put(&t.ctx, "app/debug.log", "l");
    put(&t.ctx, "app/sub/x.log", "l");
    put(&t.ctx, "home.txt", "t");
    put(&t.ctx, "home.md", "md");
    let mut s = spec(&["app"], "/o/");
    s.exclude = vec!["*.log".into(), "sub".into()];
    run(&t, &s).unwrap();
    assert!(t.root.join("o/main.go").exists());
    assert!(!t.root.join("o/debug.log").exists());
    assert!(!t.root.join("o/sub").exists());
    // Docker's own example: `COPY --exclude=*.txt hom* /mydir/`.
    let mut s = spec(&["hom*"], "/mydir/");
    s.exclude = vec!["*.txt".into()];
    run(&t, &s).unwrap();
    assert!(t.root.join("mydir/home.md").exists());
    assert!(!t.root.join("mydir/home.txt").exists());
    let mut s = spec(&["app"], "/o/");
    s.exclude = vec!["[".into()];
    assert!(err(run(&t, &s)).starts_with("invalid --exclude pattern"));
}

#[test]
fn ignore_file_hides_paths() {
    let t = setup();
    put(&t.ctx, "src/main.c", "c");
    put(&t.ctx, "secret.key", "k");
    put(&t.ctx, "docs/keep/a.md", "a");
    put(&t.ctx, "docs/drop.md", "d");
    put(&t.ctx, "Dockerfile", "FROM x");
    symlink("secret.key", t.ctx.join("alias")).unwrap();
    let m = Matcher::parse("secret.key\ndocs\n!docs/keep\nDockerfile\n").unwrap();
    copy(&t.ctx, Some(&m), &spec(&["."], "/o/"), &t.root).unwrap();
    assert!(t.root.join("o/src/main.c").exists());
    assert!(!t.root.join("o/secret.key").exists());
    assert!(!t.root.join("o/Dockerfile").exists());
    assert_eq!(read(&t.root, "o/docs/keep/a.md"), "a");
    assert!(!t.root.join("o/docs/drop.md").exists());
    // The symlink itself is copied (a symlink inside a tree), but naming
    // an excluded file, directly or through a link, finds nothing.
    for src in ["secret.key", "alias", "docs/drop.md", "Dockerfile"] {
        let e = copy(&t.ctx, Some(&m), &spec(&[src], "/x"), &t.root).unwrap_err();
        assert_eq!(
            crate::error::kind_of(&e),
            Some(ErrorKind::NotFound),
            "{src}"
        );
    }
    // An excluded directory with a kept entry is found, with only that.
    copy(&t.ctx, Some(&m), &spec(&["docs"], "/docs/"), &t.root).unwrap();
    assert!(t.root.join("docs/keep/a.md").exists());
    assert!(!t.root.join("docs/drop.md").exists());
    // Globs do not see excluded names either.
    copy(&t.ctx, Some(&m), &spec(&["s*"], "/gl/"), &t.root).unwrap();
    assert!(t.root.join("gl/main.c").exists());
    assert!(!t.root.join("gl/secret.key").exists());
}

#[test]
fn parents_keep_paths() {
    let t = setup();
    put(&t.ctx, "a/b/c.txt", "c");
    put(&t.ctx, "x/y/z.txt", "z");
    put(&t.ctx, "x/y/w.md", "w");
    fs::set_permissions(t.ctx.join("a/b"), fs::Permissions::from_mode(0o711)).unwrap();
    let mut s = spec(&["a/b/c.txt", "x/./y/*.txt"], "/out");
    s.parents = true;
    run(&t, &s).unwrap();
    assert_eq!(read(&t.root, "out/a/b/c.txt"), "c");
    assert_eq!(mode(&t.root, "out/a/b"), 0o711);
    assert_eq!(read(&t.root, "out/y/z.txt"), "z");
    assert!(!t.root.join("out/y/w.md").exists());
    assert!(!t.root.join("out/x").exists());
    // A directory keeps its own name under --parents.
    let mut s = spec(&["x/y"], "/dirs/");
    s.parents = true;
    run(&t, &s).unwrap();
    assert_eq!(read(&t.root, "dirs/x/y/w.md"), "w");
}

#[test]
fn heredocs_are_files() {
    let t = setup();
    let mut s = spec(&[], "/etc/app.conf");
    s.heredocs = vec![("EOF".into(), b"key=value\n".to_vec())];
    run(&t, &s).unwrap();
    assert_eq!(read(&t.root, "etc/app.conf"), "key=value\n");
    assert_eq!(mode(&t.root, "etc/app.conf"), 0o644);
    let mut s = spec(&[], "/dir/");
    s.heredocs = vec![("script.sh".into(), b"echo hi\n".to_vec())];
    s.chmod = Some(0o755);
    run(&t, &s).unwrap();
    assert_eq!(mode(&t.root, "dir/script.sh"), 0o755);
}

/// A tar built entry by entry, names written raw (the tar crate refuses
/// to write `..`, which is exactly what a hostile archive holds).
fn raw_tar(entries: &[(&str, tar::EntryType, &str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, data, link) in entries {
        let mut h = tar::Header::new_gnu();
        {
            let old = h.as_old_mut();
            old.name[..name.len()].copy_from_slice(name.as_bytes());
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_entry_type(*kind);
        h.set_mode(if kind.is_dir() { 0o750 } else { 0o640 });
        h.set_uid(1234);
        h.set_gid(5678);
        h.set_mtime(3_000_000);
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, data.as_bytes()).unwrap();
    }
    b.into_inner().unwrap()
}

fn add(t: &T, name: &str, data: &[u8], dest: &str) -> Result<()> {
    fs::write(t.ctx.join(name), data).unwrap();
    let mut s = spec(&[name], dest);
    s.add = true;
    run(t, &s)
}

#[test]
fn add_extracts_archives() {
    let t = setup();
    let tar = raw_tar(&[
        ("top/", tar::EntryType::Directory, "", ""),
        ("top/file", tar::EntryType::Regular, "inside", ""),
        ("/abs/file", tar::EntryType::Regular, "abs", ""),
        ("top/.wh.gone", tar::EntryType::Regular, "", ""),
        ("top/hard", tar::EntryType::Link, "", "top/file"),
    ]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    add(&t, "a.tar.gz", &gz.finish().unwrap(), "/x").unwrap();
    assert_eq!(read(&t.root, "x/top/file"), "inside");
    assert_eq!(owner(&t.root, "x/top/file"), (1234, 5678));
    assert_eq!(mode(&t.root, "x/top"), 0o750);
    assert_eq!(read(&t.root, "x/abs/file"), "abs");
    assert!(!t.root.join("x/top/.wh.gone").exists());
    assert_eq!(
        fs::metadata(t.root.join("x/top/hard")).unwrap().ino(),
        fs::metadata(t.root.join("x/top/file")).unwrap().ino()
    );
    // zstd too.
    let z = zstd::encode_all(&tar[..], 1).unwrap();
    add(&t, "b.tar.zst", &z, "/z/").unwrap();
    assert_eq!(read(&t.root, "z/top/file"), "inside");
    // Not an archive (or an empty one): copied as it is.
    add(&t, "notes.gz", b"\x1f\x8b\x08 but not gzip", "/n/").unwrap();
    assert_eq!(
        fs::read(t.root.join("n/notes.gz")).unwrap(),
        b"\x1f\x8b\x08 but not gzip"
    );
    add(&t, "empty.tar", &[0u8; 1024], "/n/").unwrap();
    assert_eq!(fs::read(t.root.join("n/empty.tar")).unwrap().len(), 1024);
    // COPY never extracts.
    run(&t, &spec(&["a.tar.gz"], "/copied/")).unwrap();
    assert!(t.root.join("copied/a.tar.gz").is_file());
}

#[test]
fn add_refuses_hostile_archives() {
    let t = setup();
    put(&t.outside, "victim", "untouched");
    let escape = raw_tar(&[("../../outside/victim", tar::EntryType::Regular, "pwned", "")]);
    let e = err(add(&t, "e.tar", &escape, "/x/"));
    assert!(e.contains("outside the destination"), "{e}");
    let link = raw_tar(&[("l", tar::EntryType::Symlink, "", "../../../outside")]);
    let e = err(add(&t, "l.tar", &link, "/y/"));
    assert!(e.contains("outside the destination"), "{e}");
    // An absolute link is kept, and what goes through it lands inside
    // the destination (its root, as Docker's chrooted untar sees it).
    let through = raw_tar(&[
        ("etc", tar::EntryType::Symlink, "", "/"),
        ("etc/victim", tar::EntryType::Regular, "pwned", ""),
    ]);
    add(&t, "t.tar", &through, "/w/").unwrap();
    assert_eq!(read(&t.root, "w/victim"), "pwned");
    // A symlink in the destination root that points out changes nothing.
    symlink("../outside", t.root.join("out")).unwrap();
    let plain = raw_tar(&[("victim", tar::EntryType::Regular, "pwned", "")]);
    add(&t, "p.tar", &plain, "/out/").unwrap();
    assert_eq!(read(&t.outside, "victim"), "untouched");
    assert_eq!(read(&t.root, "outside/victim"), "pwned");
}

/// Serve `body` over HTTP on loopback for `n` requests.
fn serve(body: &'static [u8], n: usize) -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for _ in 0..n {
            let Ok((mut s, _)) = l.accept() else { return };
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match std::io::Read::read(&mut s, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => req.extend_from_slice(&buf[..k]),
                }
            }
            let head = if req.starts_with(b"GET /missing") {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_string()
            } else {
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nLast-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\nConnection: close\r\n\r\n",
                    body.len()
                )
            };
            let _ = s.write_all(head.as_bytes());
            if !req.starts_with(b"GET /missing") {
                let _ = s.write_all(body);
            }
        }
    });
    format!("http://{addr}")
}

#[test]
fn add_downloads_urls() {
    let t = setup();
    let base = serve(b"remote data", 5);
    let mut s = spec(&[&format!("{base}/files/data.bin?x=1")], "/dl/");
    s.add = true;
    run(&t, &s).unwrap();
    assert_eq!(read(&t.root, "dl/data.bin"), "remote data");
    assert_eq!(mode(&t.root, "dl/data.bin"), 0o600);
    assert_eq!(
        fs::metadata(t.root.join("dl/data.bin")).unwrap().mtime(),
        784111777
    );
    // The right checksum passes; a wrong one leaves nothing behind.
    s.dest = "/named".into();
    s.checksum = Some(Digest::of(b"remote data"));
    run(&t, &s).unwrap();
    assert_eq!(read(&t.root, "named"), "remote data");
    s.dest = "/bad/".into();
    s.checksum = Some(Digest::of(b"other"));
    let e = err(run(&t, &s));
    assert!(e.contains("digest mismatch"), "{e}");
    assert_eq!(fs::read_dir(t.root.join("bad")).unwrap().count(), 0);
    // An HTTP error is reported.
    let mut s = spec(&[&format!("{base}/missing")], "/m/");
    s.add = true;
    assert!(err(run(&t, &s)).contains("HTTP status 404"));
    // Tarballs from URLs are not extracted; COPY takes no URL.
    let c = spec(&[&format!("{base}/x")], "/c/");
    assert_eq!(err(run(&t, &c)), "source can't be a URL for COPY");
    let mut c = spec(&["local"], "/c/");
    c.checksum = Some(Digest::of(b""));
    assert_eq!(err(run(&t, &c)), "checksum can't be specified for COPY");
}

#[test]
fn checksum_follows_what_is_read() {
    let t = setup();
    put(&t.ctx, "app/a.txt", "a");
    put(&t.ctx, "app/b/c.txt", "c");
    put(&t.ctx, "app/ignored.log", "x");
    put(&t.ctx, "other.txt", "o");
    let m = Matcher::parse("app/ignored.log\n").unwrap();
    let s = spec(&["app"], "/dst/");
    let sum = || checksum(&t.ctx, Some(&m), &s).unwrap();
    let first = sum();
    assert_eq!(first, sum());
    // Unread and ignored files do not count, nor do times.
    put(&t.ctx, "other.txt", "changed");
    put(&t.ctx, "app/ignored.log", "changed");
    set_mtime(&t.ctx.join("app/a.txt"), 12345);
    assert_eq!(first, sum());
    // A read file's content, name or mode does.
    put(&t.ctx, "app/b/c.txt", "C");
    let second = sum();
    assert_ne!(first, second);
    fs::set_permissions(t.ctx.join("app/a.txt"), fs::Permissions::from_mode(0o600)).unwrap();
    let third = sum();
    assert_ne!(second, third);
    fs::rename(t.ctx.join("app/b/c.txt"), t.ctx.join("app/b/d.txt")).unwrap();
    assert_ne!(third, sum());
    // So do the options that change the result.
    let base = sum();
    let mut s2 = s.clone();
    s2.chmod = Some(0o644);
    assert_ne!(base, checksum(&t.ctx, Some(&m), &s2).unwrap());
    let mut s3 = s.clone();
    s3.exclude = vec!["*.txt".into()];
    assert_ne!(base, checksum(&t.ctx, Some(&m), &s3).unwrap());
    let mut s4 = s.clone();
    s4.chown = Some((1, 1));
    assert_ne!(base, checksum(&t.ctx, Some(&m), &s4).unwrap());
    // A missing source fails here already, as Docker's cache key does.
    let e = checksum(&t.ctx, None, &spec(&["nope"], "/")).unwrap_err();
    assert_eq!(crate::error::kind_of(&e), Some(ErrorKind::NotFound));
}

#[test]
fn checksum_is_quick_on_thousands_of_files() {
    let t = setup();
    for i in 0..3000 {
        put(
            &t.ctx,
            &format!("many/d{}/f{i}", i % 50),
            &"x".repeat(i % 700),
        );
    }
    let s = spec(&["many"], "/m/");
    let start = std::time::Instant::now();
    let a = checksum(&t.ctx, None, &s).unwrap();
    assert!(
        start.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    put(&t.ctx, "many/d7/f7", "different");
    assert_ne!(a, checksum(&t.ctx, None, &s).unwrap());
}
