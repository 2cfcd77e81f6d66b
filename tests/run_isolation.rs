//! Isolation, observed from inside the container: pid 1 is the command,
//! only its processes are visible, its own hostname, namespaces and
//! cgroup root, no host mounts, a fresh `/dev`.

mod common;

use common::run::{host_ns, mountpoints, Ctx};

#[test]
fn pid_1_is_the_command() {
    let c = Ctx::new("run_pid1");
    let out = c.run_ok(&["--rm", &c.bb(), "cat", "/proc/1/cmdline"]);
    assert_eq!(out.stdout_bytes, b"cat\0/proc/1/cmdline\0", "{out}");
    let out = c.run_ok(&["--rm", &c.bb(), "sh", "-c", "echo $$"]);
    assert_eq!(out.stdout, "1\n", "{out}");
}

#[test]
fn only_the_containers_processes_are_visible() {
    let c = Ctx::new("run_ps");
    let out = c.run_ok(&[
        "--rm",
        &c.bb(),
        "sh",
        "-c",
        "sleep 5 & sleep 0.5; ps -o pid,comm; ls -d /proc/[0-9]*",
    ]);
    let (ps, dirs): (Vec<&str>, Vec<&str>) = out
        .lines()
        .into_iter()
        .partition(|l| !l.starts_with("/proc/"));
    let comms: Vec<&str> = ps[1..]
        .iter()
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    let mut sorted = comms.clone();
    sorted.sort();
    assert_eq!(sorted, ["ps", "sh", "sleep"], "{out}");
    // The glob is expanded by sh before ls starts, after ps has exited.
    assert_eq!(dirs.len(), 2, "sh and sleep in /proc:\n{out}");
    let pids: Vec<u32> = ps[1..]
        .iter()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert!(pids.contains(&1) && pids.iter().all(|p| *p < 100), "{out}");
}

#[test]
fn own_hostname_that_does_not_reach_the_host() {
    let c = Ctx::new("run_uts");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let out = c.run_ok(&["--rm", &c.bb(), "hostname"]);
    assert_ne!(out.stdout, host, "{out}");
    // Even a container allowed to change its hostname changes only its own.
    let out = c.run_ok(&[
        "--rm",
        "--cap-add",
        "SYS_ADMIN",
        &c.bb(),
        "sh",
        "-c",
        "hostname changed-inside && hostname",
    ]);
    assert_eq!(out.stdout, "changed-inside\n", "{out}");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        host
    );
}

#[test]
fn own_namespaces() {
    let c = Ctx::new("run_namespaces");
    let kinds = ["ipc", "uts", "net", "pid", "mnt", "cgroup", "user"];
    let script: String = kinds
        .iter()
        .map(|k| format!("readlink /proc/self/ns/{k}; "))
        .collect();
    let out = c.run_ok(&["--rm", &c.bb(), "sh", "-c", &script]);
    let inside = out.lines();
    assert_eq!(inside.len(), kinds.len(), "{out}");
    for (k, got) in kinds.iter().zip(&inside) {
        let host = host_ns(k);
        if *k == "user" && common::rootless::enabled() {
            // Rootless: the user namespace skiff runs in, never the host's.
            assert_ne!(*got, host, "user namespace:\n{out}");
        } else if *k == "user" {
            // Docker runs root containers in the host's user namespace
            // unless asked otherwise.
            assert_eq!(*got, host, "user namespace:\n{out}");
        } else {
            assert_ne!(*got, host, "{k} namespace is the container's own:\n{out}");
        }
    }

    // Its cgroup namespace is rooted at its own cgroup.
    let out = c.run_ok(&["--rm", &c.bb(), "cat", "/proc/self/cgroup"]);
    for l in out.lines() {
        assert!(l.ends_with(":/"), "a cgroup namespace root: {l}\n{out}");
    }
}

#[test]
fn no_host_mounts_inside() {
    let c = Ctx::new("run_mounts_inside");
    let out = c.run_ok(&["--rm", &c.bb(), "cat", "/proc/self/mountinfo"]);
    let inside = mountpoints(&out.stdout);
    let allowed = |m: &str| {
        m == "/"
            || ["/proc", "/dev", "/sys"]
                .iter()
                .any(|p| m == *p || m.starts_with(&format!("{p}/")))
            || ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"].contains(&m)
    };
    for m in &inside {
        assert!(allowed(m), "an unexpected mount {m} inside:\n{out}");
    }
    assert!(inside.len() < 40, "a container's handful of mounts:\n{out}");
    let scratch = c.env.dir().display().to_string();
    for l in out.stdout.lines() {
        let f: Vec<&str> = l.split(' ').collect();
        assert!(
            !f[4].starts_with(&scratch),
            "no mount point names a host path: {l}"
        );
    }
}

#[test]
fn dev_is_fresh_with_the_standard_devices() {
    let c = Ctx::new("run_dev");
    let out = c.run_ok(&["--rm", &c.bb(), "ls", "-A", "/dev"]);
    let names: Vec<&str> = out.stdout.split_whitespace().collect();
    for want in [
        "null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm", "mqueue", "fd",
        "stdin", "stdout", "stderr",
    ] {
        assert!(names.contains(&want), "/dev/{want}:\n{out}");
    }
    // None of the host's disks or other devices.
    for host_dev in super_dev_names() {
        assert!(
            !names.contains(&host_dev.as_str()),
            "host device /dev/{host_dev} inside:\n{out}"
        );
    }
    let out = c.run_ok(&[
        "--rm",
        &c.bb(),
        "sh",
        "-c",
        "stat -c '%n %t:%T %F' /dev/null /dev/zero /dev/urandom; readlink /dev/fd; readlink /dev/stdin",
    ]);
    out.assert_stdout_has("/dev/null 1:3 character special file");
    out.assert_stdout_has("/dev/zero 1:5 character special file");
    out.assert_stdout_has("/dev/urandom 1:9 character special file");
    out.assert_stdout_has("/proc/self/fd\n/proc/self/fd/0");
    c.run_ok(&[
        "--rm",
        &c.bb(),
        "sh",
        "-c",
        "echo x > /dev/null && head -c 8 /dev/urandom > /dev/null",
    ]);
}

/// Block devices and other host-only nodes in the host's /dev (disks,
/// loop devices), which a container must not see.
fn super_dev_names() -> Vec<String> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/sys/class/block") {
        for e in rd.flatten() {
            v.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    v.extend(["mem", "kmem", "port", "kmsg"].map(String::from));
    v.retain(|n| std::path::Path::new("/dev").join(n).exists());
    v
}
