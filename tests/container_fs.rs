//! A container's file system from the outside: `cp` in and out of running
//! and stopped containers (directories, `-` tar streams, and symlinks in
//! the container that point at the host's files), `export`, `diff` and
//! `commit`.

mod common;

use common::run::{mounts_under, Ctx};
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

/// Removes the named containers when the test ends, passing or not.
struct Cleanup<'a>(&'a Ctx, &'a [&'a str]);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let mut a = vec!["rm", "-f"];
        a.extend_from_slice(self.1);
        let _ = self.0.env.run(&a);
    }
}

fn wait_for_file(c: &Ctx, name: &str, path: &str) {
    let start = Instant::now();
    let spot = format!("{name}:{path}");
    while c.env.run(&["cp", &spot, "-"]).code != 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{spot} never appeared"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The entries of a tar stream: name, and the contents of regular files.
fn tar_entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = tar::Archive::new(bytes);
    let mut out = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.push((name.trim_end_matches('/').to_string(), data));
    }
    out
}

fn has(entries: &[(String, Vec<u8>)], name: &str) -> bool {
    entries.iter().any(|(n, _)| n == name)
}

/// The container's own symlinks that point at the host (`/leak`) or climb
/// out of the root (`/up`).
const SETUP: &str = "echo inside > /in.txt; mkdir -p /d/sub; echo deep > /d/sub/f; \
    ln -s /etc/shadow /leak; ln -s ../../../../etc /up";

/// What a test can check on either kind of container.
fn check_cp(c: &Ctx, name: &str) {
    let host = c.env.path("host");
    std::fs::create_dir_all(&host).unwrap();
    // skiff's user writes here (rootless: the test user).
    common::rootless::give(&host);
    let h = |p: &str| host.join(p).to_string_lossy().into_owned();
    let spot = |p: &str| format!("{name}:{p}");

    // A file, to a new name and into a directory.
    c.env.ok(&["cp", &spot("/in.txt"), &h("out.txt")]);
    assert_eq!(std::fs::read_to_string(h("out.txt")).unwrap(), "inside\n");
    c.env.ok(&["cp", &spot("in.txt"), &h("")]);
    assert_eq!(std::fs::read_to_string(h("in.txt")).unwrap(), "inside\n");

    // Directories: the directory itself, then `/.` for its contents.
    c.env.ok(&["cp", &spot("/d"), &h("")]);
    assert_eq!(std::fs::read_to_string(h("d/sub/f")).unwrap(), "deep\n");
    std::fs::create_dir_all(h("g")).unwrap();
    common::rootless::give(Path::new(&h("g")));
    c.env.ok(&["cp", &spot("/d/."), &h("g")]);
    assert_eq!(std::fs::read_to_string(h("g/sub/f")).unwrap(), "deep\n");
    c.env.ok(&["cp", &spot("/d"), &h("newdir")]);
    assert_eq!(
        std::fs::read_to_string(h("newdir/sub/f")).unwrap(),
        "deep\n"
    );

    // Into the container: a file, a directory, then read back.
    std::fs::write(h("up.txt"), "from host\n").unwrap();
    std::fs::create_dir_all(h("tree/a")).unwrap();
    std::fs::write(h("tree/a/b"), "bee\n").unwrap();
    c.env.ok(&["cp", &h("up.txt"), &spot("/d/")]);
    c.env.ok(&["cp", &h("tree"), &spot("/")]);
    c.env.ok(&["cp", &spot("/d/up.txt"), &h("back.txt")]);
    assert_eq!(
        std::fs::read_to_string(h("back.txt")).unwrap(),
        "from host\n"
    );
    c.env.ok(&["cp", &spot("/tree/a/b"), &h("bee")]);
    assert_eq!(std::fs::read_to_string(h("bee")).unwrap(), "bee\n");

    // `-`: a tar on stdout, and one on stdin.
    let out = c.env.ok(&["cp", &spot("/d"), "-"]);
    let entries = tar_entries(&out.stdout_bytes);
    assert!(has(&entries, "d/sub/f"), "{:?}", entries);
    let mut b = tar::Builder::new(Vec::new());
    let mut hd = tar::Header::new_gnu();
    hd.set_size(6);
    hd.set_mode(0o644);
    b.append_data(&mut hd, "streamed/s.txt", &b"piped\n"[..])
        .unwrap();
    let tar = b.into_inner().unwrap();
    c.env
        .run_stdin(&["cp", "-", &spot("/d")], Some(&tar))
        .assert_ok();
    c.env.ok(&["cp", &spot("/d/streamed/s.txt"), &h("s.txt")]);
    assert_eq!(std::fs::read_to_string(h("s.txt")).unwrap(), "piped\n");

    // The container's symlinks never reach the host: /leak is copied as
    // the link it is, and followed (-L) it resolves inside the container,
    // which has no /etc/shadow.
    c.env.ok(&["cp", &spot("/leak"), &h("leak")]);
    assert_eq!(
        std::fs::read_link(h("leak")).unwrap(),
        Path::new("/etc/shadow")
    );
    let out = c.env.fails(&["cp", "-L", &spot("/leak"), &h("leak2")]);
    out.assert_error_line();
    assert!(!Path::new(&h("leak2")).exists());
    // /up/passwd is the container's /etc/passwd, not the host's.
    c.env.ok(&["cp", &spot("/up/passwd"), &h("passwd")]);
    let got = std::fs::read_to_string(h("passwd")).unwrap();
    assert_ne!(got, std::fs::read_to_string("/etc/passwd").unwrap());
    // Writing through /up lands in the container's /etc.
    let marker = format!("skiff-cp-escape-{}", std::process::id());
    std::fs::write(h(&marker), "x").unwrap();
    c.env
        .ok(&["cp", &h(&marker), &spot(&format!("/up/{marker}"))]);
    assert!(!Path::new("/etc").join(&marker).exists(), "wrote the host");
    c.env
        .ok(&["cp", &spot(&format!("/etc/{marker}")), &h("m2")]);
    c.env.ok(&["cp", &h(&marker), &spot("/up/")]);
    assert!(!Path::new("/etc").join(&marker).exists(), "wrote the host");

    // Errors: one line, 125.
    let out = c.env.fails(&["cp", &spot("/nope"), &h("x")]);
    out.assert_error_line();
    out.assert_stderr_has(&format!(
        "Could not find the file /nope in container {name}"
    ));
    let out = c.env.fails(&["cp", "no-such-container:/x", &h("x")]);
    out.assert_error_line();
}

#[test]
fn cp_running_container() {
    let c = Ctx::new("fs_cp_running");
    let _g = Cleanup(&c, &["fscprun"]);
    let script = format!("{SETUP}; touch /ready; sleep 60");
    c.run_ok(&["-d", "--name", "fscprun", &c.bb(), "sh", "-c", &script]);
    wait_for_file(&c, "fscprun", "/ready");
    check_cp(&c, "fscprun");
}

#[test]
fn cp_stopped_container_leaves_no_mount() {
    let c = Ctx::new("fs_cp_stopped");
    let _g = Cleanup(&c, &["fscpstop"]);
    c.run_ok(&["--name", "fscpstop", &c.bb(), "sh", "-c", SETUP]);
    check_cp(&c, "fscpstop");
    assert!(
        mounts_under(&[&c.env.root]).is_empty(),
        "no mount left on the host"
    );
}

#[test]
fn export_has_the_whole_file_system() {
    let c = Ctx::new("fs_export");
    let _g = Cleanup(&c, &["fsexport"]);
    c.run_ok(&[
        "--name",
        "fsexport",
        &c.bb(),
        "sh",
        "-c",
        "echo mine > /exported; rm /etc/group",
    ]);
    let out = c.env.ok(&["export", "fsexport"]);
    let entries = tar_entries(&out.stdout_bytes);
    assert!(has(&entries, "bin/busybox"), "{:?}", entries.len());
    let mine = entries.iter().find(|(n, _)| n == "exported").unwrap();
    assert_eq!(mine.1, b"mine\n");
    assert!(!has(&entries, "etc/group"), "deleted files are gone");
    let file = c.env.path("exp.tar");
    c.env.ok(&[
        "container",
        "export",
        "-o",
        &file.to_string_lossy(),
        "fsexport",
    ]);
    assert_eq!(std::fs::read(&file).unwrap(), out.stdout_bytes);
    let out = c.env.fails(&["export", "nothing-here"]);
    out.assert_error_line();
}

#[test]
fn diff_shows_added_changed_deleted() {
    let c = Ctx::new("fs_diff");
    let _g = Cleanup(&c, &["fsdiff"]);
    c.run_ok(&[
        "--name",
        "fsdiff",
        &c.bb(),
        "sh",
        "-c",
        "echo new > /added; mkdir -p /newdir/sub; echo x >> /etc/passwd; rm /etc/group /bin/ls",
    ]);
    let out = c.env.ok(&["diff", "fsdiff"]);
    let lines = out.lines();
    for want in [
        "A /added",
        "A /newdir",
        "A /newdir/sub",
        "C /etc",
        "C /etc/passwd",
        "D /etc/group",
        "C /bin",
        "D /bin/ls",
    ] {
        assert!(lines.contains(&want), "{want} missing:\n{out}");
    }
    let mut sorted = lines.clone();
    sorted.sort_by_key(|l| l[2..].to_string());
    assert_eq!(lines, sorted, "sorted by path");
    assert!(
        !out.stdout.contains("/proc") && !out.stdout.contains("/etc/hosts"),
        "mount targets are not changes:\n{out}"
    );
}

#[test]
fn commit_then_run_the_new_image() {
    let c = Ctx::new("fs_commit");
    let _g = Cleanup(&c, &["fscommit"]);
    c.run_ok(&[
        "--name",
        "fscommit",
        &c.bb(),
        "sh",
        "-c",
        "echo committed > /c.txt; rm /etc/group /bin/ls",
    ]);
    let out = c.env.ok(&[
        "commit",
        "-m",
        "a message",
        "-a",
        "someone",
        "-c",
        "ENV FROM_COMMIT=yes",
        "fscommit",
        "committed/img:v1",
    ]);
    let id = out.stdout.trim();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{out}");
    let out = c.run_ok(&[
        "--rm",
        "committed/img:v1",
        "sh",
        "-c",
        "cat /c.txt; test -e /etc/group || echo nogroup; test -e /bin/ls || echo nols; echo $FROM_COMMIT",
    ]);
    // Deletions travel as whiteouts.
    assert_eq!(out.stdout, "committed\nnogroup\nnols\nyes\n", "{out}");
    let img = c.env.inspect("committed/img:v1");
    assert_eq!(img["Author"], "someone", "{img}");
    c.env.assert_store_clean();
}

#[test]
fn commit_takes_the_containers_config() {
    let c = Ctx::new("fs_commit_config");
    let _g = Cleanup(&c, &["fscfg", "fscfg-run", "fscfg-ep"]);
    let script = "echo $FOO $(pwd) $(id -un)";
    let out = c.run_ok(&[
        "--name",
        "fscfg",
        "-e",
        "FOO=bar",
        "-w",
        "/tmp",
        "-u",
        "nobody",
        "--label",
        "own=yes",
        "--stop-signal",
        "SIGINT",
        "-v",
        "/data",
        &c.bb(),
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(out.stdout, "bar /tmp nobody\n", "{out}");
    c.env.ok(&["commit", "fscfg", "committed/cfg:v1"]);
    let cfg = &c.env.inspect("committed/cfg:v1")["Config"];
    assert!(
        cfg["Env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "FOO=bar"),
        "{cfg:#}"
    );
    assert_eq!(cfg["WorkingDir"], "/tmp", "{cfg:#}");
    assert_eq!(cfg["User"], "nobody", "{cfg:#}");
    assert_eq!(
        cfg["Cmd"],
        serde_json::json!(["sh", "-c", script]),
        "{cfg:#}"
    );
    assert_eq!(cfg["Labels"]["own"], "yes", "{cfg:#}");
    assert_eq!(cfg["StopSignal"], "SIGINT", "{cfg:#}");
    assert!(cfg["Volumes"].get("/data").is_some(), "{cfg:#}");
    // The new image runs the container's command, as the container ran it.
    let out = c.run_ok(&["--rm", "committed/cfg:v1"]);
    assert_eq!(out.stdout, "bar /tmp nobody\n", "{out}");

    // --change applies on top of the container's config.
    c.env.ok(&[
        "commit",
        "-c",
        "WORKDIR /srv",
        "-c",
        "ENV MORE=1",
        "fscfg",
        "committed/cfg:v2",
    ]);
    let cfg = &c.env.inspect("committed/cfg:v2")["Config"];
    assert_eq!(cfg["WorkingDir"], "/srv", "{cfg:#}");
    let env = cfg["Env"].as_array().unwrap();
    assert!(env.iter().any(|e| e == "FOO=bar") && env.iter().any(|e| e == "MORE=1"));

    // A container of the committed image made with another command
    // commits that command, the image's config otherwise.
    c.run_ok(&["--name", "fscfg-run", "committed/cfg:v1", "true"]);
    c.env.ok(&["commit", "fscfg-run", "committed/cfg:v3"]);
    let cfg = &c.env.inspect("committed/cfg:v3")["Config"];
    assert_eq!(cfg["Cmd"], serde_json::json!(["true"]), "{cfg:#}");
    assert_eq!(cfg["WorkingDir"], "/tmp", "{cfg:#}");

    // --entrypoint is the container's Entrypoint, for inspect and commit.
    c.run_ok(&["--name", "fscfg-ep", "--entrypoint", "echo", &c.bb(), "hi"]);
    let out = c.env.ok(&[
        "inspect",
        "-f",
        "{{json .Config.Entrypoint}} {{json .Config.Cmd}}",
        "fscfg-ep",
    ]);
    assert_eq!(out.stdout, "[\"echo\"] [\"hi\"]\n", "{out}");
    c.env.ok(&["commit", "fscfg-ep", "committed/cfg:v4"]);
    let cfg = &c.env.inspect("committed/cfg:v4")["Config"];
    assert_eq!(cfg["Entrypoint"], serde_json::json!(["echo"]), "{cfg:#}");
    assert_eq!(cfg["Cmd"], serde_json::json!(["hi"]), "{cfg:#}");
    c.env.ok(&["rm", "-v", "fscfg", "fscfg-run", "fscfg-ep"]);
    c.env.assert_store_clean();
}
