//! Containers in user namespaces of their own: `--uidmap`/`--gidmap`
//! (root: host ids; rootless: the ids of skiff's namespace, 0 being the
//! caller and 1 and up its subordinate ids), `--userns=auto` (ranges no
//! two containers share) and `--userns=nomap` (rootless, the caller's id
//! left out). Root inside is someone else outside, the image's files
//! are still root's inside (idmapped layers, or chowned copies of them,
//! whatever the storage driver), and `diff`/`commit` give back the
//! container's own ids.

mod common;

use common::run::Ctx;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

/// The first line of a uid_map: (inside, outside, count).
fn first_map_line(text: &str) -> (u64, u64, u64) {
    let f: Vec<u64> = text
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(f.len(), 3, "a map line: {text:?}");
    (f[0], f[1], f[2])
}

/// (the --uidmap to give, where container root lands on the host, and
/// what the container's uid_map says of it: the id in its parent
/// namespace, skiff's).
fn root_map() -> (String, u32, u64) {
    match common::rootless::as_user() {
        // Rootless: Podman's intermediate ids; 1 is the first subordinate.
        Some(u) => ("0:1:65536".to_string(), u.sub, 1),
        None => ("0:100000:65536".to_string(), 100000, 100000),
    }
}

/// A directory anyone may write into, for the container's root.
fn open_dir(c: &Ctx, name: &str) -> std::path::PathBuf {
    let d = c.env.path(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
    d
}

#[test]
fn uidmap_root_inside_is_another_id_outside_with_every_driver() {
    let c = Ctx::new("un_uidmap");
    let bb = c.bb();
    let (map, host_root, in_map) = root_map();
    for driver in ["overlay", "vfs", "fuse-overlayfs"] {
        if driver == "fuse-overlayfs" && !std::path::Path::new("/usr/bin/fuse-overlayfs").exists() {
            eprintln!("\n!!!!!!!!!! SKIPPED the --uidmap run with fuse-overlayfs: it is not installed !!!!!!!!!!\n");
            continue;
        }
        let bind = open_dir(&c, &format!("bind-{driver}"));
        let vol = format!("unvol-{driver}");
        let v1 = format!("{}:/b", bind.display());
        let v2 = format!("{vol}:/data");
        let out = c.env.run(&[
            "--storage-driver",
            driver,
            "run",
            "--rm",
            "--uidmap",
            &map,
            "-v",
            &v1,
            "-v",
            &v2,
            &bb,
            "sh",
            "-c",
            "id -u; id -g; stat -c %u:%g /bin/busybox /etc/passwd; touch /b/made /data/made /root-made; \
             stat -c %u:%g /root-made /b/made; cat /proc/self/uid_map; echo ok > /etc/hostname && echo wrote",
        ]);
        out.assert_ok();
        let lines = out.lines();
        assert_eq!(
            &lines[..6],
            ["0", "0", "0:0", "0:0", "0:0", "0:0"],
            "{driver}: {out}"
        );
        let (inside, outside, count) = first_map_line(lines[6]);
        assert_eq!(
            (inside, outside, count),
            (0, in_map, 65536),
            "{driver}: {out}"
        );
        assert_eq!(
            lines[7], "wrote",
            "{driver}: its /etc files are its root's: {out}"
        );
        // What root made in the bind and the volume is the mapped id's.
        let made = std::fs::metadata(bind.join("made")).unwrap();
        assert_eq!((made.uid(), made.gid()), (host_root, host_root), "{driver}");
        let data = c
            .env
            .ok(&["volume", "inspect", "--format", "{{.Mountpoint}}", &vol]);
        let in_vol = std::path::Path::new(data.stdout.trim()).join("made");
        let made = std::fs::metadata(&in_vol).unwrap();
        assert_eq!((made.uid(), made.gid()), (host_root, host_root), "{driver}");
        c.env.ok(&["volume", "rm", &vol]);
    }
    // The store's layers are as they were: the image's root's.
    let su = common::expect::find_named(&c.env.root.join("layers"), "busybox");
    let md = std::fs::symlink_metadata(&su[0]).unwrap();
    assert_eq!(md.uid(), common::rootless::host_uid(0));
    c.env.assert_store_clean();
}

#[test]
fn uidmap_containers_commit_and_diff_with_their_own_ids() {
    let c = Ctx::new("un_commit");
    let bb = c.bb();
    let (map, _, _) = root_map();
    c.run_ok(&[
        "--name",
        "mapped",
        "--uidmap",
        &map,
        &bb,
        "sh",
        "-c",
        "echo hi > /by-root; mkdir /owned && chown 1000:1000 /owned; rm /etc/group",
    ]);
    let out = c.env.ok(&["diff", "mapped"]);
    for want in ["A /by-root", "A /owned", "D /etc/group"] {
        assert!(out.lines().contains(&want), "{want}:\n{out}");
    }
    c.env.ok(&["commit", "mapped", "committed/mapped:v1"]);
    // Run without a map: the committed files are the ids the container
    // gave them, not the ones they had on the host.
    let out = c.run_ok(&[
        "--rm",
        "committed/mapped:v1",
        "sh",
        "-c",
        "stat -c %u:%g /by-root /owned; test -e /etc/group || echo nogroup",
    ]);
    assert_eq!(out.lines(), ["0:0", "1000:1000", "nogroup"], "{out}");
    // export too shows the container's ids.
    let out = c.env.ok(&["export", "mapped"]);
    let mut a = tar::Archive::new(&out.stdout_bytes[..]);
    let mut seen = 0;
    for e in a.entries().unwrap() {
        let e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        if p == "by-root" || p == "bin/busybox" {
            assert_eq!(e.header().uid().unwrap(), 0, "{p}");
            seen += 1;
        }
        if p == "owned" || p == "owned/" {
            assert_eq!(e.header().uid().unwrap(), 1000, "{p}");
            seen += 1;
        }
    }
    assert_eq!(seen, 3);
    c.env.ok(&["rm", "mapped"]);
}

#[test]
fn auto_containers_get_ranges_no_other_holds() {
    let c = Ctx::new("un_auto");
    let bb = c.bb();
    let mut ranges = Vec::new();
    for name in ["auto1", "auto2", "auto3"] {
        let mut args = vec!["-d", "--name", name, "--userns=auto"];
        if name == "auto3" {
            args[3] = "--userns=auto:size=2048";
        }
        args.extend([bb.as_str(), "sleep", "60"]);
        c.run_ok(&args);
        let out = c.env.ok(&[
            "exec",
            name,
            "sh",
            "-c",
            "cat /proc/self/uid_map; cat /proc/self/gid_map; id -u; stat -c %u:%g /bin/busybox",
        ]);
        let lines = out.lines();
        let uid = first_map_line(lines[0]);
        let gid = first_map_line(lines[1]);
        assert_eq!(uid.0, 0, "{out}");
        assert_eq!(
            &lines[2..4],
            ["0", "0:0"],
            "root inside, and the image's files its: {out}"
        );
        if name == "auto3" {
            assert_eq!(uid.2, 2048, "{out}");
        } else {
            // busybox's highest id is small: Podman's least, 1024.
            assert_eq!(uid.2, 1024, "{out}");
        }
        assert_eq!(uid.2, gid.2, "{out}");
        // Rootless: never the caller's own id (0 of skiff's namespace).
        if c.env.user.is_some() {
            assert!(uid.1 >= 1 && gid.1 >= 1, "{out}");
        }
        ranges.push((uid.1, uid.2, gid.1));
    }
    for (i, a) in ranges.iter().enumerate() {
        for b in &ranges[i + 1..] {
            assert!(
                a.0 + a.1 <= b.0 || b.0 + b.1 <= a.0,
                "uid ranges overlap: {ranges:?}"
            );
            assert!(
                a.2 + a.1 <= b.2 || b.2 + b.1 <= a.2,
                "gid ranges overlap: {ranges:?}"
            );
        }
    }
    // A range is free again once its container is gone.
    c.env.ok(&["rm", "-f", "auto1"]);
    c.run_ok(&["-d", "--name", "auto4", "--userns=auto", &bb, "sleep", "60"]);
    let out = c.env.ok(&["exec", "auto4", "cat", "/proc/self/uid_map"]);
    assert_eq!(first_map_line(&out.stdout).1, ranges[0].0, "{out}");
    c.env.ok(&["rm", "-f", "auto2", "auto3", "auto4"]);
    c.env.assert_store_clean();
}

#[test]
fn nomap_leaves_the_callers_id_out() {
    let c = Ctx::new("un_nomap");
    let bb = c.bb();
    let out = c.run(&[
        "--rm",
        "--userns=nomap",
        &bb,
        "sh",
        "-c",
        "cat /proc/self/uid_map; id -u; stat -c %u /bin/busybox",
    ]);
    if c.env.user.is_none() {
        // Root has no id of its own to leave out (Podman refuses too).
        out.assert_code(125);
        out.assert_error_line();
        out.assert_stderr_has("rootless");
        return;
    }
    out.assert_ok();
    let lines = out.lines();
    let (inside, outside, _) = first_map_line(lines[0]);
    assert_eq!(
        (inside, outside),
        (0, 1),
        "from the first subordinate id: {out}"
    );
    assert!(
        !out.stdout
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some("0")),
        "{out}"
    );
    assert_eq!(&lines[lines.len() - 2..], ["0", "0"], "{out}");
}

#[test]
fn bad_maps_are_refused_before_anything_is_made() {
    let c = Ctx::new("un_refuse");
    let bb = c.bb();
    for args in [
        vec!["--uidmap", "zero:1:1"],
        vec!["--uidmap", "0:1:0"],
        vec!["--uidmap", "0:100000:10", "--uidmap", "5:200000:10"],
        vec!["--userns=keep-id", "--uidmap", "0:1:1"],
        vec!["--userns=auto:size=x"],
    ] {
        let mut a = vec!["--rm"];
        a.extend(args.iter().copied());
        a.extend([bb.as_str(), "true"]);
        let out = c.run(&a);
        out.assert_code(125);
        out.assert_error_line();
    }
    if c.env.user.is_some() {
        // Beyond the ids skiff's namespace has.
        let out = c.run(&["--rm", "--uidmap", "0:1:1000000", &bb, "true"]);
        out.assert_code(125);
        out.assert_stderr_has("subordinate");
    }
    assert!(c.env.ok(&["ps", "-aq"]).stdout.trim().is_empty());
}
