//! Containers and volumes: named volumes made on first use and kept
//! across containers, filled from the image's content at the mount path
//! when empty, image `VOLUME`s as anonymous volumes removed by `--rm`,
//! and volumes in use refused by `volume rm` and spared by `prune`.

mod common;

use common::run::{is_short_id, Ctx};
use common::run_images::SEED;
use std::path::PathBuf;

fn mountpoint(c: &Ctx, name: &str) -> PathBuf {
    let out = c
        .env
        .ok(&["volume", "inspect", "--format", "{{.Mountpoint}}", name]);
    PathBuf::from(out.stdout.trim())
}

fn is_anonymous_name(n: &str) -> bool {
    n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn a_named_volume_is_made_on_first_use_and_keeps_data() {
    let c = Ctx::new("run_volume_named");
    let bb = c.bb();
    assert!(c.volumes().is_empty());
    c.run_ok(&[
        "--rm",
        "-v",
        "keep1:/data",
        &bb,
        "sh",
        "-c",
        "echo persisted > /data/f",
    ]);
    assert_eq!(c.volumes(), ["keep1"], "made on first use");
    assert_eq!(
        std::fs::read(mountpoint(&c, "keep1").join("f")).unwrap(),
        b"persisted\n"
    );
    // A second container sees it; --rm does not remove a named volume.
    let out = c.run_ok(&["--rm", "-v", "keep1:/data", &bb, "cat", "/data/f"]);
    assert_eq!(out.stdout, "persisted\n", "{out}");
    let out = c.run_ok(&[
        "--rm",
        "--mount",
        "type=volume,source=keep1,target=/other",
        &bb,
        "cat",
        "/other/f",
    ]);
    assert_eq!(out.stdout, "persisted\n", "{out}");
    // Read-only use.
    let out = c.run(&[
        "--rm",
        "-v",
        "keep1:/data:ro",
        &bb,
        "sh",
        "-c",
        "echo x > /data/f",
    ]);
    assert_ne!(out.code, 0, "{out}");
    out.assert_stderr_has("Read-only file system");
    assert_eq!(c.volumes(), ["keep1"]);

    // A volume made beforehand with `volume create` is used as it is.
    c.env.ok(&["volume", "create", "made-first"]);
    std::fs::write(mountpoint(&c, "made-first").join("pre"), b"pre\n").unwrap();
    let out = c.run_ok(&["--rm", "-v", "made-first:/data", &bb, "cat", "/data/pre"]);
    assert_eq!(out.stdout, "pre\n");
    c.env.assert_store_clean();
}

#[test]
fn an_empty_volume_is_filled_from_the_image() {
    let c = Ctx::with("run_volume_prepopulate", &["run/volume"]);
    let img = c.image("run/volume");
    let out = c.run_ok(&["--rm", "-v", "seeded:/data", &img, "cat", "/data/seed.txt"]);
    assert_eq!(
        out.stdout, SEED,
        "Docker copies the image's /data in:\n{out}"
    );
    let mp = mountpoint(&c, "seeded");
    assert_eq!(std::fs::read_to_string(mp.join("seed.txt")).unwrap(), SEED);

    // Only when empty: changed content is not overwritten later.
    std::fs::write(mp.join("seed.txt"), b"changed\n").unwrap();
    let out = c.run_ok(&["--rm", "-v", "seeded:/data", &img, "cat", "/data/seed.txt"]);
    assert_eq!(out.stdout, "changed\n", "{out}");

    // A volume that already holds something gets nothing copied.
    c.env.ok(&["volume", "create", "full"]);
    std::fs::write(mountpoint(&c, "full").join("mine"), b"mine\n").unwrap();
    let out = c.run_ok(&["--rm", "-v", "full:/data", &img, "ls", "/data"]);
    assert_eq!(out.stdout, "mine\n", "{out}");

    // A bind mount is never filled from the image.
    let dir = c.env.path("bind");
    std::fs::create_dir_all(&dir).unwrap();
    let v = format!("{}:/data", dir.display());
    let out = c.run_ok(&["--rm", "-v", &v, &img, "ls", "-A", "/data"]);
    assert!(out.stdout.is_empty(), "{out}");
    assert!(common::expect::entries(&dir).is_empty());
}

#[test]
fn an_image_volume_gets_an_anonymous_volume() {
    let c = Ctx::with("run_volume_anonymous", &["run/volume"]);
    let img = c.image("run/volume");
    // Kept container: its anonymous volume stays, filled from the image.
    let out = c.run_ok(&[
        &img,
        "sh",
        "-c",
        "cat /data/seed.txt; echo more > /data/more",
    ]);
    assert_eq!(out.stdout, SEED, "{out}");
    let vols = c.volumes();
    assert_eq!(vols.len(), 1, "{vols:?}");
    assert!(is_anonymous_name(&vols[0]), "a 64-hex name: {vols:?}");
    let mp = mountpoint(&c, &vols[0]);
    assert_eq!(std::fs::read_to_string(mp.join("seed.txt")).unwrap(), SEED);
    assert_eq!(std::fs::read(mp.join("more")).unwrap(), b"more\n");

    // With --rm the anonymous volume goes with the container.
    let out = c.run_ok(&["--rm", &img, "cat", "/data/seed.txt"]);
    assert_eq!(out.stdout, SEED, "{out}");
    assert_eq!(c.volumes(), vols, "no new volume left behind");

    // `-v /path` asks for one on any image, the same way.
    c.run_ok(&[
        "--rm",
        "-v",
        "/scratchvol",
        &c.image("run/volume"),
        "touch",
        "/scratchvol/x",
    ]);
    assert_eq!(c.volumes(), vols);
    // A named volume at the image's VOLUME path replaces the anonymous one.
    c.run_ok(&["--rm", "-v", "named-data:/data", &img, "true"]);
    let mut want = vols.clone();
    want.push("named-data".into());
    want.sort();
    let mut got = c.volumes();
    got.sort();
    assert_eq!(got, want, "named-data is kept, no anonymous one is");
    c.env.assert_store_clean();
}

#[test]
fn a_volume_in_use_is_not_removed() {
    let c = Ctx::new("run_volume_in_use");
    let bb = c.bb();
    let out = c.run_ok(&["-v", "used:/data", &bb, "hostname"]);
    let short = out.stdout.trim().to_string();
    assert!(is_short_id(&short), "{out}");
    c.env.ok(&["volume", "create", "unused"]);

    // Docker: in use by a container, even a stopped one.
    let out = c.env.fails(&["volume", "rm", "used"]);
    out.assert_error_line();
    out.assert_stderr_has("in use");
    let out = c.env.ok(&["volume", "prune", "-a", "-f"]);
    let pruned = out.lines();
    assert!(pruned.contains(&"unused"), "{out}");
    assert!(!pruned.contains(&"used"), "{out}");
    assert_eq!(c.volumes(), ["used"]);

    let dangling = c
        .env
        .ok(&["volume", "ls", "-q", "--filter", "dangling=true"]);
    assert!(dangling.stdout.trim().is_empty(), "{dangling}");
    let used = c
        .env
        .ok(&["volume", "ls", "-q", "--filter", "dangling=false"]);
    assert_eq!(used.stdout.trim(), "used", "{used}");
}

#[test]
fn bad_volume_specs_fail() {
    let c = Ctx::new("run_volume_bad");
    let bb = c.bb();
    for spec in [
        "bad/name:/data",
        "vol:relative",
        "vol:/data:bogus",
        ":/data",
    ] {
        let out = c.run(&["--rm", "-v", spec, &bb, "true"]);
        out.assert_code(125);
        out.assert_error_line();
    }
    let out = c.run(&[
        "--rm",
        "--mount",
        "type=volume,source=bad/name,target=/data",
        &bb,
        "true",
    ]);
    out.assert_code(125);
    out.assert_error_line();
    assert!(c.volumes().is_empty(), "nothing made: {:?}", c.volumes());
    assert!(c.container_dirs().is_empty());
}

#[test]
fn volumes_from_another_container() {
    let c = Ctx::new("vol_from");
    let bb = c.bb();
    let host = c.env.path("hostdir");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("f"), "from the host\n").unwrap();
    let bind = format!("{}:/hb", host.display());
    c.run_ok(&[
        "--name",
        "keeper",
        "-v",
        "/anon",
        "-v",
        "kept:/named",
        "-v",
        &bind,
        &bb,
        "sh",
        "-c",
        "echo anon > /anon/f; echo named > /named/f",
    ]);
    let anon = c.inspect("keeper")["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Destination"] == "/anon")
        .unwrap()["Name"]
        .as_str()
        .unwrap()
        .to_string();
    // Every volume and bind of a stopped container, at the same places.
    let out = c.run_ok(&[
        "--rm",
        "--volumes-from",
        "keeper",
        &bb,
        "sh",
        "-c",
        "cat /anon/f /named/f /hb/f; echo more >> /named/f",
    ]);
    assert_eq!(out.stdout, "anon\nnamed\nfrom the host\n");
    // --rm of the borrower spares the lender's anonymous volume.
    assert!(c.volumes().contains(&anon), "{:?}", c.volumes());
    // :ro makes them read-only; an own mount at the same place wins.
    let out = c.run(&[
        "--rm",
        "--volumes-from",
        "keeper:ro",
        "--tmpfs",
        "/hb",
        &bb,
        "sh",
        "-c",
        "cat /named/f; ls /hb | wc -l; touch /named/x",
    ]);
    assert_ne!(out.code, 0, "{out}");
    assert!(out.stdout.starts_with("named\nmore\n0\n"), "{out}");
    assert!(out.stderr.contains("Read-only file system"), "{out}");
    c.env.ok(&[
        "create",
        "--name",
        "borrower",
        "--volumes-from",
        "keeper",
        &bb,
    ]);
    let mounts = c.inspect("borrower")["Mounts"].clone();
    let dests: Vec<&str> = mounts
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Destination"].as_str().unwrap())
        .collect();
    for d in ["/anon", "/named", "/hb"] {
        assert!(dests.contains(&d), "{mounts:#}");
    }
    // Not there, a bad mode: refused, nothing made.
    let before = c.container_dirs().len();
    for (v, msg) in [
        ("nosuch", "No such container: nosuch"),
        ("keeper:rx", "invalid mode: rx"),
    ] {
        let out = c.run(&["--rm", "--volumes-from", v, &bb, "true"]);
        out.assert_code(125).assert_error_line();
        out.assert_stderr_has(msg);
    }
    assert_eq!(c.container_dirs().len(), before);
    c.env.ok(&["rm", "-v", "borrower", "keeper"]);
}
