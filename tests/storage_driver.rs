//! Storage drivers, each forced with `--storage-driver` (the kernel's
//! overlay, `fuse-overlayfs`, `vfs`): a container's writes seen by `cp`,
//! `diff` and `commit`; `rm` leaving no mount, no daemon and no
//! directory; a `kill -9` of a detached container's monitor repaired by
//! the next command. Also: the store's probe runs once and is remembered,
//! and the flag, `STORAGE_DRIVER` and the configuration file force it.

mod common;

use common::run::{mounts_under, Ctx};
use std::path::Path;
use std::time::{Duration, Instant};

const DRIVERS: [&str; 3] = ["overlay", "fuse-overlayfs", "vfs"];

/// Can fuse-overlayfs run here for the user the commands run as? When it
/// cannot, the fuse-overlayfs runs are skipped, saying so on stderr in a
/// way no one misses.
fn fuse_missing(c: &Ctx) -> Option<String> {
    if !Path::new("/usr/bin/fuse-overlayfs").exists()
        && std::process::Command::new("sh")
            .args(["-c", "command -v fuse-overlayfs"])
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
    {
        return Some("fuse-overlayfs is not installed (Debian package fuse-overlayfs)".into());
    }
    // As the command's user: /dev/fuse must open read-write.
    let out = c
        .env
        .run(&["unshare", "sh", "-c", "exec 3<>/dev/fuse && echo ok"]);
    if c.env.user.is_some() && !out.stdout.contains("ok") {
        return Some(format!(
            "/dev/fuse cannot be opened by the test user: {out}"
        ));
    }
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .is_err()
    {
        return Some("/dev/fuse cannot be opened".into());
    }
    None
}

fn skip_loudly(test: &str, why: &str) {
    eprintln!("\n!!!!!!!!!! SKIPPED {test} with fuse-overlayfs: {why} !!!!!!!!!!\n");
}

/// Live (not yet reaped: zombies hold nothing) fuse-overlayfs processes
/// whose command line names `needle`.
fn fuse_daemons(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd);
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z')));
        if cmd.starts_with("fuse-overlayfs") && cmd.contains(needle) && !zombie {
            out.push(pid);
        }
    }
    out
}

/// Mounts under the store as the host and, rootless, skiff's own mount
/// namespace (its pause process's) see them.
fn store_mounts(c: &Ctx) -> Vec<String> {
    let mut out = mounts_under(&[&c.env.root]);
    if let Some(pause) = common::rootless::pause_pid(&c.env.runroot) {
        let root = c.env.root.display().to_string();
        if let Ok(info) = std::fs::read_to_string(format!("/proc/{pause}/mountinfo")) {
            out.extend(info.lines().filter(|l| l.contains(&root)).map(String::from));
        }
    }
    out
}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < end, "waited 10 s for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `skiff --storage-driver DRIVER ARGS`.
fn with(driver: &str, args: &[&str]) -> Vec<String> {
    let mut v = vec!["--storage-driver".to_string(), driver.to_string()];
    v.extend(args.iter().map(|s| s.to_string()));
    v
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn each_driver_runs_shows_changes_and_leaves_nothing() {
    let c = Ctx::new("sd_each");
    let bb = c.bb();
    for driver in DRIVERS {
        if driver == "fuse-overlayfs" {
            if let Some(why) = fuse_missing(&c) {
                skip_loudly("each_driver_runs_shows_changes_and_leaves_nothing", &why);
                continue;
            }
        }
        let name = format!("sd-{driver}");
        let script = "echo written > /made.txt; rm /etc/group; mkdir -p /d; echo x >> /etc/passwd; cat /made.txt";
        let out = c.env.run(&strs(&with(
            driver,
            &["run", "--name", &name, &bb, "sh", "-c", script],
        )));
        out.assert_ok();
        assert_eq!(out.stdout, "written\n", "{driver}: {out}");
        assert!(!out.stderr.contains("warning"), "{driver}: {out}");
        let j = c.inspect(&name);
        assert_eq!(j["GraphDriver"]["Name"], driver, "{driver}");
        assert_eq!(j["Driver"], driver, "{driver}");
        // cp sees the write (the container stopped: its file system
        // opened the driver's way).
        let out = c.env.ok(&["cp", &format!("{name}:/made.txt"), "-"]);
        assert!(out.stdout.contains("written"), "{driver}: {out}");
        // diff finds it, the deletion and the change.
        let out = c.env.ok(&["diff", &name]);
        let lines = out.lines();
        for want in [
            "A /made.txt",
            "D /etc/group",
            "C /etc/passwd",
            "C /etc",
            "A /d",
        ] {
            assert!(lines.contains(&want), "{driver}: {want} missing:\n{out}");
        }
        assert!(!out.stdout.contains("/proc"), "{driver}: {out}");
        // commit makes an image with them.
        let img = format!("committed/{driver}:v1");
        c.env.ok(&["commit", &name, &img]);
        let out = c.run_ok(&[
            "--rm",
            &img,
            "sh",
            "-c",
            "cat /made.txt; test -e /etc/group || echo nogroup",
        ]);
        assert_eq!(out.stdout, "written\nnogroup\n", "{driver}: {out}");
        // cp into the stopped container, then it runs with it.
        let host = c.env.path(&format!("in-{driver}.txt"));
        std::fs::write(&host, "put\n").unwrap();
        common::rootless::give(&host);
        c.env
            .ok(&["cp", &host.to_string_lossy(), &format!("{name}:/put.txt")]);
        let out = c.env.ok(&["start", "-a", &name]);
        assert!(out.stdout.contains("written"), "{driver}: {out}");
        let out = c.env.ok(&["cp", &format!("{name}:/put.txt"), "-"]);
        assert!(out.stdout.contains("put"), "{driver}: {out}");
        let id = j["Id"].as_str().unwrap().to_string();
        c.env.ok(&["rm", &name]);
        assert!(
            !c.env.root.join("containers").join(&id).exists(),
            "{driver}: its directory is gone"
        );
        assert!(
            store_mounts(&c).is_empty(),
            "{driver}: {:?}",
            store_mounts(&c)
        );
        wait_until(&format!("{driver}: no fuse-overlayfs of {id}"), || {
            fuse_daemons(&id).is_empty()
        });
    }
    c.env.assert_store_clean();
}

#[test]
fn a_killed_monitor_is_repaired_for_each_driver() {
    let c = Ctx::new("sd_kill9");
    let bb = c.bb();
    for driver in DRIVERS {
        if driver == "fuse-overlayfs" {
            if let Some(why) = fuse_missing(&c) {
                skip_loudly("a_killed_monitor_is_repaired_for_each_driver", &why);
                continue;
            }
        }
        let name = format!("k9-{driver}");
        let out = c.env.run(&strs(&with(
            driver,
            &["run", "-d", "--name", &name, &bb, "sleep", "60"],
        )));
        out.assert_ok();
        let id = out.stdout.trim().to_string();
        if driver == "fuse-overlayfs" {
            assert_eq!(fuse_daemons(&id).len(), 1, "its daemon runs");
        }
        for m in common::skiff::monitors_of(&c.env.root) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(m as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        // The next command finds it dead, and nothing of it is left.
        wait_until(&format!("{driver}: {name} seen exited"), || {
            c.env
                .ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"])
                .stdout
                .lines()
                .any(|l| l.starts_with(&format!("{name} Exited (255)")))
        });
        wait_until(&format!("{driver}: no fuse-overlayfs of {id}"), || {
            fuse_daemons(&id).is_empty()
        });
        assert!(
            store_mounts(&c).is_empty(),
            "{driver}: {:?}",
            store_mounts(&c)
        );
        // It starts again, its writes kept.
        c.env.ok(&["start", &name]);
        c.env
            .ok(&["exec", &name, "sh", "-c", "echo again > /again"]);
        c.env.ok(&["stop", "-t", "0", &name]);
        let out = c.env.ok(&["diff", &name]);
        assert!(out.stdout.contains("A /again"), "{driver}: {out}");
        c.env.ok(&["rm", "-f", &name]);
        wait_until(
            &format!("{driver}: no fuse-overlayfs of {id} after rm"),
            || fuse_daemons(&id).is_empty(),
        );
        assert!(
            store_mounts(&c).is_empty(),
            "{driver}: {:?}",
            store_mounts(&c)
        );
    }
    c.env.assert_store_clean();
}

#[test]
fn the_store_probes_once_and_the_choice_can_be_forced() {
    let c = Ctx::new("sd_probe");
    let bb = c.bb();
    let file = c.env.root.join("storage.json");
    assert!(!file.exists(), "no container yet, no probe");
    // Forced for one command: the store's own choice is not made by it.
    c.env.ok(&strs(&with("vfs", &["run", "--rm", &bb, "true"])));
    assert!(!file.exists());
    c.run_ok(&["--rm", &bb, "true"]);
    let chosen: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("the probe's answer kept")).unwrap();
    // This kernel (5.11 and later) mounts overlays in user namespaces.
    assert_eq!(chosen["driver"], "overlay", "{chosen}");
    let info = c.env.ok(&["info", "--format", "{{.Driver}}"]);
    assert_eq!(info.stdout.trim(), "overlay");
    // What the store remembers is what it uses, probe or not.
    std::fs::write(&file, r#"{"driver":"vfs"}"#).unwrap();
    common::rootless::give(&file);
    c.run_ok(&["--name", "remembered", &bb, "true"]);
    assert_eq!(c.inspect("remembered")["Driver"], "vfs");
    let out = c.run_ok(&["--rm", &bb, "true"]);
    assert!(
        out.stderr.contains("warning") && out.stderr.contains("vfs"),
        "a vfs store warns that it is slow: {out}"
    );
    // STORAGE_DRIVER and the configuration file force it too; the flag
    // wins over both.
    let out = c.run_with_env(
        &["--name", "by-env", &bb, "true"],
        &[("STORAGE_DRIVER", "overlay")],
    );
    out.assert_ok();
    assert_eq!(c.inspect("by-env")["Driver"], "overlay");
    std::fs::write(&c.env.config, r#"{"storage-driver": "overlay"}"#).unwrap();
    c.run_ok(&["--name", "by-config", &bb, "true"]);
    assert_eq!(c.inspect("by-config")["Driver"], "overlay");
    c.env.ok(&strs(&with(
        "vfs",
        &["run", "--name", "by-flag", &bb, "true"],
    )));
    assert_eq!(c.inspect("by-flag")["Driver"], "vfs");
    // An unknown driver is refused before anything is made.
    let out = c
        .env
        .run(&strs(&with("zfs", &["run", "--rm", &bb, "true"])));
    out.assert_code(125);
    out.assert_error_line();
    out.assert_stderr_has("zfs");
    c.env
        .ok(&["rm", "remembered", "by-env", "by-config", "by-flag"]);
    c.env.assert_store_clean();
}
