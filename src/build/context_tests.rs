use super::*;
use std::fs;
use std::io::Write;

fn tar_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, data.as_bytes()).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn ignore_file_precedence() {
    let d = tempfile::tempdir().unwrap();
    let ctx = d.path();
    fs::write(ctx.join("Dockerfile"), "FROM x").unwrap();
    fs::write(ctx.join(".dockerignore"), "from-dockerignore\n").unwrap();
    let c = Context::dir(ctx, None).unwrap();
    assert_eq!(c.ignore_file(), Some(ctx.join(".dockerignore").as_path()));
    assert!(c.matcher().unwrap().excluded("from-dockerignore"));
    fs::write(ctx.join(".containerignore"), "from-containerignore\n").unwrap();
    let c = Context::dir(ctx, None).unwrap();
    assert!(c.matcher().unwrap().excluded("from-containerignore"));
    assert!(!c.matcher().unwrap().excluded("from-dockerignore"));
    // The Containerfile's own ignore file wins, next to it even when it
    // lives outside the context.
    fs::write(ctx.join("Dockerfile.dockerignore"), "own\n").unwrap();
    let c = Context::dir(ctx, None).unwrap();
    assert!(c.matcher().unwrap().excluded("own"));
    let other = d.path().join("elsewhere");
    fs::create_dir(&other).unwrap();
    fs::write(other.join("build.cf"), "FROM x").unwrap();
    fs::write(other.join("build.cf.dockerignore"), "mine\n").unwrap();
    let c = Context::dir(ctx, Some(&other.join("build.cf"))).unwrap();
    assert!(c.matcher().unwrap().excluded("mine"));
    // An empty ignore file means no rules.
    fs::write(ctx.join("Dockerfile.dockerignore"), "# nothing\n").unwrap();
    let c = Context::dir(ctx, None).unwrap();
    assert!(c.matcher().is_none());
    // A malformed one is an error naming it.
    fs::write(ctx.join("Dockerfile.dockerignore"), "!\n").unwrap();
    let e = format!("{:#}", Context::dir(ctx, None).err().unwrap());
    assert!(
        e.contains("Dockerfile.dockerignore") && e.contains("illegal exclusion"),
        "{e}"
    );
    assert!(Context::dir(&ctx.join("Dockerfile"), None).is_err());
}

#[test]
fn builder_reads_an_excluded_containerfile() {
    let d = tempfile::tempdir().unwrap();
    let ctx = d.path().join("ctx");
    let root = d.path().join("root");
    fs::create_dir_all(&ctx).unwrap();
    fs::create_dir_all(&root).unwrap();
    fs::write(ctx.join("Containerfile"), "FROM scratch\n").unwrap();
    fs::write(ctx.join(".dockerignore"), "Containerfile\n.dockerignore\n").unwrap();
    let c = Context::dir(&ctx, None).unwrap();
    assert_eq!(
        c.read_file(Path::new("Containerfile")).unwrap(),
        b"FROM scratch\n"
    );
    let spec = crate::build::copy::CopySpec::new(["Containerfile"], "/x");
    let e = crate::build::copy::copy(c.root(), c.matcher(), &spec, &root).unwrap_err();
    assert_eq!(format!("{e:#}"), "\"/Containerfile\": not found");
    // read_file stays inside the context.
    std::os::unix::fs::symlink("/../../../etc/hostname", ctx.join("esc")).unwrap();
    assert!(c.read_file(Path::new("esc")).is_err());
}

#[test]
fn tar_context_unpacks_inside_scratch_and_goes_away() {
    let d = tempfile::tempdir().unwrap();
    let scratch = d.path().join("scratch");
    let tar = tar_of(&[
        ("Dockerfile", "FROM x\n"),
        (".dockerignore", "secret\n"),
        ("/abs/file", "abs"),
        ("secret", "s"),
    ]);
    let c = Context::from_tar(&tar[..], &scratch, None).unwrap();
    let root = c.root().to_path_buf();
    assert!(root.starts_with(&scratch));
    assert_eq!(fs::read_to_string(root.join("abs/file")).unwrap(), "abs");
    assert!(c.matcher().unwrap().excluded("secret"));
    drop(c);
    assert!(!root.exists());
    // A `..` escape is refused and leaves nothing behind.
    let bad = tar_of(&[("../escaped", "x")]);
    let e = Context::from_tar(&bad[..], &scratch, None).err().unwrap();
    assert!(format!("{e:#}").contains("outside the destination"));
    assert!(!scratch.join("escaped").exists() && !d.path().join("escaped").exists());
    assert_eq!(fs::read_dir(&scratch).unwrap().count(), 0);
}

#[test]
fn stdin_is_a_context_or_a_containerfile() {
    let d = tempfile::tempdir().unwrap();
    let scratch = d.path().join("scratch");
    let (c, cf) = Context::from_stdin(&b"FROM busybox\nRUN true\n"[..], &scratch).unwrap();
    assert_eq!(cf.as_deref(), Some(&b"FROM busybox\nRUN true\n"[..]));
    assert_eq!(fs::read_dir(c.root()).unwrap().count(), 0);
    drop(c);
    let tar = tar_of(&[("Dockerfile", "FROM x\n"), ("app/main.c", "int main;")]);
    let (c, cf) = Context::from_stdin(&tar[..], &scratch).unwrap();
    assert!(cf.is_none());
    assert_eq!(c.read_file(Path::new("Dockerfile")).unwrap(), b"FROM x\n");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();
    let (c, cf) = Context::from_stdin(&gz[..], &scratch).unwrap();
    assert!(cf.is_none());
    assert_eq!(
        fs::read_to_string(c.root().join("app/main.c")).unwrap(),
        "int main;"
    );
}

#[test]
fn tar_ignore_file_is_read_inside_the_context() {
    let d = tempfile::tempdir().unwrap();
    let scratch = d.path().join("scratch");
    fs::write(d.path().join("host-ignore"), "everything\n").unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    // Absolute: allowed in the archive, but resolved inside the context.
    b.append_link(&mut h, ".dockerignore", d.path().join("host-ignore"))
        .unwrap();
    let tar = b.into_inner().unwrap();
    let c = Context::from_tar(&tar[..], &scratch, None).unwrap();
    assert!(c.matcher().is_none());
}
