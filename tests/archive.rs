//! `skiff save`, `load` and `import`: round trips in both archive
//! formats, and archives other tools (podman, skopeo) read.

mod common;

use common::expect::{assert_busybox_unpacked, pull};
use common::{fixtures, sha256, Registry, Setup, Skiff};
use std::io::Read;
use std::process::Command;

/// A store holding busybox:latest and multi:latest.
fn pulled(name: &str) -> (Registry, Skiff) {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new(name);
    let b = reg.image("busybox:latest");
    pull(&env, &[&b], &b, &f.busybox.manifest.digest);
    let m = reg.image("multi:latest");
    pull(&env, &[&m], &m, &f.multi.manifest.digest);
    (reg, env)
}

/// The entry names of a tar file.
fn tar_names(data: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(data);
    a.entries()
        .expect("read the archive")
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect()
}

fn tar_file(data: &[u8], name: &str) -> Vec<u8> {
    let mut a = tar::Archive::new(data);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().display().to_string() == name {
            let mut v = Vec::new();
            e.read_to_end(&mut v).unwrap();
            return v;
        }
    }
    panic!("no {name} in the archive: {:?}", tar_names(data));
}

fn round_trip(format: &str) {
    let f = fixtures();
    let (reg, env) = pulled(&format!("save_load_{format}"));
    let b = reg.image("busybox:latest");
    let m = reg.image("multi:latest");
    let file = env.path("images.tar");
    let file_s = file.display().to_string();
    env.ok(&["save", "--format", format, "-o", &file_s, &b, &m]);
    let data = std::fs::read(&file).unwrap();
    let names = tar_names(&data);
    if format == "docker-archive" {
        assert!(names.iter().any(|n| n == "manifest.json"), "{names:?}");
        let manifest: serde_json::Value =
            serde_json::from_slice(&tar_file(&data, "manifest.json")).unwrap();
        let tags: Vec<String> = manifest
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|e| e["RepoTags"].as_array().unwrap().clone())
            .map(|t| t.as_str().unwrap().to_string())
            .collect();
        assert!(tags.contains(&b) && tags.contains(&m), "RepoTags: {tags:?}");
    } else {
        assert!(names.iter().any(|n| n == "oci-layout"), "{names:?}");
        assert!(names.iter().any(|n| n == "index.json"), "{names:?}");
    }

    let fresh = Skiff::new(&format!("save_load_{format}_fresh"));
    let out = fresh.ok(&["load", "-i", &file_s]);
    out.assert_stdout_has(&format!("Loaded image: {b}"));
    out.assert_stdout_has(&format!("Loaded image: {m}"));
    assert_eq!(fresh.inspect(&b)["Id"], f.busybox.id());
    let img = fresh.inspect(&m);
    assert_eq!(img["Id"], f.multi.id());
    assert_eq!(
        img["RootFS"]["Layers"],
        serde_json::json!(f.multi.diff_ids())
    );
    assert_busybox_unpacked(&fresh);
    for c in f.multi.chain_ids() {
        assert!(fresh.layer_dir(&c).is_dir(), "layer {c} unpacked");
    }
    fresh.assert_store_clean();

    // Loading into a store that has them already is fine too.
    env.ok(&["load", "-q", "-i", &file_s]);
    env.assert_store_clean();
}

#[test]
fn save_and_load_docker_archive() {
    round_trip("docker-archive");
}

#[test]
fn save_and_load_oci_archive() {
    round_trip("oci-archive");
}

#[test]
fn save_to_stdout_and_load_from_stdin() {
    let f = fixtures();
    let reg = Registry::start(Setup::Plain);
    let env = Skiff::new("save_stdout");
    let h = reg.image("hello:latest");
    pull(&env, &[&h], &h, &f.hello.manifest.digest);
    let out = env.ok(&["save", &h]);
    let data = out.stdout_bytes;
    assert!(
        data.len() > 1024 && &data[257..262] == b"ustar",
        "a tar on stdout"
    );
    assert!(tar_names(&data).iter().any(|n| n == "manifest.json"));

    let fresh = Skiff::new("load_stdin");
    let out = fresh.run_stdin(&["load"], Some(&data));
    out.assert_ok();
    out.assert_stdout_has(&format!("Loaded image: {h}"));
    assert_eq!(fresh.inspect(&h)["Id"], f.hello.id());
    fresh.assert_store_clean();
}

#[test]
fn podman_loads_what_skiff_saves() {
    let f = fixtures();
    let (reg, env) = pulled("save_for_podman");
    let b = reg.image("busybox:latest");
    let file = env.path("busybox.tar");
    env.ok(&["save", "-o", file.to_str().unwrap(), &b]);

    let proot = env.path("podman-root");
    // Podman limits the runroot path's length; /tmp keeps it short.
    let prun = tempfile::tempdir().unwrap();
    let podman = |args: &[&str]| {
        let out = common::podman(&proot, prun.path(), args);
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    podman(&["load", "-q", "-i", file.to_str().unwrap()]);
    let list = podman(&[
        "images",
        "--no-trunc",
        "--format",
        "{{.Repository}}:{{.Tag}} {{.ID}}",
    ]);
    let want = format!("{b} {}", f.busybox.id());
    assert!(
        list.lines()
            .any(|l| l.trim() == want || l.trim() == format!("{b} {}", f.busybox.config.hex())),
        "podman images:\n{list}\nwanted {want}"
    );
}

#[test]
fn skopeo_reads_both_archive_formats() {
    let f = fixtures();
    let (reg, env) = pulled("save_for_skopeo");
    let b = reg.image("busybox:latest");
    for (format, transport) in [
        ("docker-archive", "docker-archive"),
        ("oci-archive", "oci-archive"),
    ] {
        let file = env.path(&format!("{format}.tar"));
        env.ok(&["save", "--format", format, "-o", file.to_str().unwrap(), &b]);
        let out = Command::new("skopeo")
            .args(["inspect", "--config", "--raw"])
            .arg(format!("{transport}:{}", file.display()))
            .output()
            .expect("run skopeo");
        assert!(
            out.status.success(),
            "skopeo inspect {transport}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            sha256(&out.stdout),
            f.busybox.id(),
            "{format} keeps the config"
        );
    }
}

#[test]
fn import_a_rootfs_tar_with_changes() {
    let f = fixtures();
    let env = Skiff::new("import_rootfs");
    let tar = env.path("rootfs.tar");
    let rootfs = &f.busybox.layers[0].tar;
    std::fs::write(&tar, rootfs).unwrap();
    let out = env.ok(&[
        "import",
        "--change",
        r#"CMD ["sh"]"#,
        "--change",
        "ENV FOO=bar",
        "-m",
        "imported by a test",
        tar.to_str().unwrap(),
        "imported:v1",
    ]);
    let id = out.last_line().trim().to_string();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{out}");
    let img = env.inspect("imported:v1");
    assert_eq!(img["Id"], id.as_str());
    assert_eq!(img["Config"]["Cmd"], serde_json::json!(["sh"]));
    let envs = img["Config"]["Env"].as_array().unwrap();
    assert!(envs.iter().any(|e| e == "FOO=bar"), "{img}");
    assert_eq!(img["Comment"], "imported by a test");
    assert_eq!(img["RootFS"]["Layers"], serde_json::json!([sha256(rootfs)]));
    assert!(env.layer_dir(&sha256(rootfs)).join("bin/busybox").is_file());
    env.assert_store_clean();
}

#[test]
fn import_a_gzipped_tar_from_stdin() {
    let f = fixtures();
    let env = Skiff::new("import_stdin");
    let tar = &f.hello.layers[0].tar;
    let gz = common::oci::compress(tar, common::oci::Compression::Gzip);
    let out = env.run_stdin(&["import", "-", "from-stdin:latest"], Some(&gz));
    out.assert_ok();
    let img = env.inspect("from-stdin:latest");
    assert_eq!(img["RootFS"]["Layers"], serde_json::json!([sha256(tar)]));
    assert_eq!(
        std::fs::read(env.layer_dir(&sha256(tar)).join("hello.txt")).unwrap(),
        b"hello from the skiff tests\n"
    );
    env.assert_store_clean();
}

#[test]
fn load_of_something_that_is_not_an_archive_fails() {
    let env = Skiff::new("load_garbage");
    let file = env.path("garbage.tar");
    std::fs::write(&file, b"this is not a tar archive at all").unwrap();
    let out = env.fails(&["load", "-i", file.to_str().unwrap()]);
    out.assert_error_line();
    assert!(env.image_ids().is_empty());
    env.assert_store_clean();
}
