//! `--pid`, `--ipc` and `--uts`: a container in the host's namespaces or
//! in another container's, as Docker's flags put it, and its own by
//! default.

mod common;

use common::run::Ctx;

fn ns_of(pid: u64, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn self_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn host_namespaces() {
    let c = Ctx::new("shares_host");
    let bb = c.bb();
    // The host's pid namespace: the host's processes, this test's among them.
    // (Looked for by its number: a listing of the host's /proc races
    // with the host's processes coming and going.)
    let me = format!(
        "test -d /proc/{} && echo seen || echo unseen",
        std::process::id()
    );
    let out = c.run_ok(&["--rm", "--pid", "host", &bb, "sh", "-c", &me]);
    assert_eq!(out.stdout, "seen\n", "{out}");
    let own = c.run_ok(&["--rm", &bb, "sh", "-c", &me]);
    assert_eq!(own.stdout, "unseen\n", "{own}");
    // The host's UTS namespace: its hostname, which cannot be set then.
    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    let out = c.run_ok(&["--rm", "--uts", "host", &bb, "hostname"]);
    assert_eq!(out.stdout.trim(), host);
    let bad = c.run(&["--rm", "--uts", "host", "--hostname", "x1", &bb, "true"]);
    bad.assert_code(125).assert_error_line();
    bad.assert_stderr_has("conflicting options: hostname and the UTS mode");
    // The host's IPC namespace and /dev/shm; none: no /dev/shm mounted.
    c.run_ok(&[
        "-d", "--name", "ipchost", "--ipc", "host", "--pid", "host", "--uts", "host", &bb, "sleep",
        "60",
    ]);
    let j = c.inspect("ipchost");
    let pid = j["State"]["Pid"].as_u64().unwrap();
    for kind in ["ipc", "pid", "uts"] {
        assert_eq!(ns_of(pid, kind), self_ns(kind), "{kind}");
    }
    assert_ne!(ns_of(pid, "mnt"), self_ns("mnt"));
    let hc = &j["HostConfig"];
    assert_eq!(
        (&hc["PidMode"], &hc["IpcMode"], &hc["UTSMode"]),
        (&"host".into(), &"host".into(), &"host".into())
    );
    let out = c.run_ok(&[
        "--rm",
        "--ipc",
        "none",
        &bb,
        "sh",
        "-c",
        "grep -c ' /dev/shm ' /proc/mounts || true",
    ]);
    assert_eq!(out.stdout.trim(), "0", "{out}");
    let out = c.run_ok(&["--rm", &bb, "sh", "-c", "grep -c ' /dev/shm ' /proc/mounts"]);
    assert_eq!(out.stdout.trim(), "1", "{out}");
    c.env.ok(&["rm", "-f", "ipchost"]);
    // Bad values, Docker's words.
    for (flag, v, msg) in [
        ("--pid", "bogus", "invalid PID mode"),
        ("--ipc", "bogus", "invalid IPC mode"),
        ("--uts", "container:x", "invalid UTS mode"),
    ] {
        let out = c.run(&["--rm", flag, v, &bb, "true"]);
        out.assert_code(125);
        out.assert_stderr_has(msg);
    }
}

#[test]
fn another_containers_pid_and_ipc_namespaces() {
    let c = Ctx::new("shares_container");
    let bb = c.bb();
    c.run_ok(&["-d", "--name", "target", &bb, "sleep", "60"]);
    let out = c.run_ok(&[
        "--rm",
        "--pid",
        "container:target",
        "--ipc",
        "container:target",
        &bb,
        "sh",
        "-c",
        "cat /proc/1/cmdline | tr '\\0' ' '; echo; readlink /proc/self/ns/ipc",
    ]);
    let pid = c.inspect("target")["State"]["Pid"].as_u64().unwrap();
    let mut lines = out.stdout.lines();
    assert_eq!(lines.next(), Some("sleep 60 "), "{out}");
    assert_eq!(lines.next(), Some(ns_of(pid, "ipc").as_str()), "{out}");
    let id = c.inspect("target")["Id"].as_str().unwrap().to_string();

    // Recorded by ID; joined again after the target restarts (a new
    // process), by a container made before that.
    c.env.ok(&[
        "create",
        "--name",
        "joiner",
        "--pid",
        "container:target",
        &bb,
        "sh",
        "-c",
        "cat /proc/1/cmdline | tr '\\0' ' '",
    ]);
    let hc = &c.inspect("joiner")["HostConfig"];
    assert_eq!(hc["PidMode"], format!("container:{id}"));
    c.env.ok(&["restart", "-t", "0", "target"]);
    let out = c.env.ok(&["start", "-a", "joiner"]);
    assert_eq!(out.stdout, "sleep 60 ", "{out}");

    // A target that does not run: Docker's words, at the start.
    c.env.ok(&["stop", "-t", "0", "target"]);
    let out = c.run(&["--rm", "--pid", "container:target", &bb, "true"]);
    out.assert_code(125).assert_error_line();
    out.assert_stderr_has(&format!("cannot join PID of a non running container: {id}"));
    let out = c.run(&["--rm", "--ipc", "container:nosuch", &bb, "true"]);
    out.assert_code(125);
    out.assert_stderr_has("No such container: nosuch");
    c.env.ok(&["rm", "-f", "target", "joiner"]);
}
