//! `skiff update`: limits changed in a running container's cgroup (a
//! process starved at the old memory limit finishes after the raise; a
//! controller it had no directory for is added, its processes moved in),
//! a stopped container's stored limits used by its next start, and bad
//! values refused with Docker's words, changing nothing.

mod common;

use common::run::{cgroup_dir, cgroup_dirs_named, cgroup_v1, read_trim, Ctx};
use std::path::Path;

/// The container's memory limit as its cgroup holds it.
fn memory_limit(id: &str) -> String {
    if cgroup_v1() {
        read_trim(&cgroup_dir("memory", id).join("memory.limit_in_bytes"))
    } else {
        read_trim(&cgroup_dir("", id).join("memory.max"))
    }
}

fn pids_max(id: &str) -> String {
    read_trim(&cgroup_dir("pids", id).join("pids.max"))
}

/// The container's `config.json`, as its next start reads it.
fn bundle_spec(c: &Ctx, id: &str) -> serde_json::Value {
    let p = c.env.root.join("containers").join(id).join("config.json");
    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
}

#[test]
fn raising_the_memory_limit_lets_a_hungry_process_finish() {
    let c = Ctx::new("up_mem");
    let bb = c.bb();
    // tail keeps all of an input without newlines: 24 MiB, more than 16.
    let eat = "dd if=/dev/zero bs=1M count=24 2>/dev/null | tail >/dev/null && echo fed";
    let starved = c.run(&[
        "--rm",
        "-m",
        "16m",
        "--memory-swap",
        "16m",
        &bb,
        "sh",
        "-c",
        eat,
    ]);
    assert_ne!(starved.code, 0, "{starved}");
    starved.assert_stdout_lacks("fed");

    let wait_go = format!("while [ ! -e /tmp/go ]; do sleep 0.1; done; {eat}");
    let out = c.run_ok(&[
        "-d",
        "--name",
        "hungry",
        "-m",
        "16m",
        "--memory-swap",
        "16m",
        &bb,
        "sh",
        "-c",
        &wait_go,
    ]);
    let id = out.stdout.trim().to_string();
    assert_eq!(memory_limit(&id), (16 << 20).to_string());

    // Above the memory+swap in force, the swap must come along.
    let out = c.env.fails(&["update", "-m", "64m", "hungry"]);
    out.assert_error_line().assert_stderr_has(&format!(
        "Cannot update container {id}: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"
    ));
    assert_eq!(memory_limit(&id), (16 << 20).to_string());

    let out = c
        .env
        .ok(&["update", "-m", "64m", "--memory-swap", "64m", "hungry"]);
    assert_eq!(out.stdout, "hungry\n");
    assert_eq!(memory_limit(&id), (64 << 20).to_string());
    if cgroup_v1() {
        let memsw = cgroup_dir("memory", &id).join("memory.memsw.limit_in_bytes");
        assert_eq!(read_trim(&memsw), (64 << 20).to_string());
    }
    let host = &c.inspect("hungry")["HostConfig"];
    assert_eq!(host["Memory"], 64 << 20, "{host:#}");
    assert_eq!(host["MemorySwap"], 64 << 20, "{host:#}");
    let spec = bundle_spec(&c, &id);
    assert_eq!(
        spec["linux"]["resources"]["memory"]["limit"],
        64 << 20,
        "{spec:#}"
    );

    c.env.ok(&["exec", "hungry", "touch", "/tmp/go"]);
    c.env.ok(&["wait", "hungry"]).assert_stdout_has("0");
    c.env.ok(&["logs", "hungry"]).assert_stdout_has("fed");
    assert_eq!(c.inspect("hungry")["State"]["OOMKilled"], false);

    c.env.ok(&["rm", "hungry"]);
    assert!(cgroup_dirs_named(&id).is_empty());

    // Lowering both: the limit goes first, and the kernel takes it.
    let out = c.run_ok(&[
        "-d",
        "-m",
        "64m",
        "--memory-swap",
        "64m",
        &bb,
        "sleep",
        "100",
    ]);
    let id = out.stdout.trim().to_string();
    c.env
        .ok(&["update", "-m", "32m", "--memory-swap", "48m", &id]);
    assert_eq!(memory_limit(&id), (32 << 20).to_string());
    if cgroup_v1() {
        let memsw = cgroup_dir("memory", &id).join("memory.memsw.limit_in_bytes");
        assert_eq!(read_trim(&memsw), (48 << 20).to_string());
    }
    c.env.ok(&["rm", "-f", &id]);
}

#[test]
fn pids_limit_changes_in_place_and_a_missing_controller_is_added() {
    let c = Ctx::new("up_pids");
    let bb = c.bb();
    // A few processes, none with a limit: on v1 no pids directory yet.
    let out = c.run_ok(&[
        "-d",
        "--name",
        "pbox",
        &bb,
        "sh",
        "-c",
        "sleep 100 & sleep 100 & sleep 100",
    ]);
    let id = out.stdout.trim().to_string();
    let pid = c.inspect("pbox")["State"]["Pid"].as_u64().unwrap();
    if cgroup_v1() {
        assert!(!cgroup_dir("pids", &id).exists());
    }
    let out = c.env.ok(&["update", "--pids-limit", "20", "pbox"]);
    assert_eq!(out.stdout, "pbox\n");
    assert_eq!(pids_max(&id), "20");
    // Every process of the container is in the new directory.
    let procs = read_trim(&cgroup_dir("pids", &id).join("cgroup.procs"));
    let members = if cgroup_v1() {
        read_trim(&cgroup_dir("unified", &id).join("cgroup.procs"))
    } else {
        procs.clone()
    };
    assert!(members.lines().count() >= 3, "{members}");
    for m in members.lines() {
        assert!(procs.lines().any(|p| p == m), "{m} not in {procs}");
    }
    let own = read_trim(Path::new(&format!("/proc/{pid}/cgroup")));
    assert!(
        own.lines()
            .any(|l| l.contains(":pids:") && l.ends_with(&format!("/skiff/{id}")))
            || !cgroup_v1(),
        "{own}"
    );
    // A fork after the move lands there too.
    c.env.ok(&["exec", "-d", "pbox", "sleep", "100"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let after = read_trim(&cgroup_dir("pids", &id).join("cgroup.procs"));
    assert!(after.lines().count() > procs.lines().count(), "{after}");

    // The same for memory, the controller the v1 case is most asked of.
    c.env.ok(&["update", "-m", "64m", "pbox"]);
    assert_eq!(memory_limit(&id), (64 << 20).to_string());
    if cgroup_v1() {
        let procs = read_trim(&cgroup_dir("memory", &id).join("cgroup.procs"));
        assert!(procs.lines().any(|p| p == pid.to_string()), "{procs}");
    }

    c.env.ok(&["update", "--pids-limit", "30", "pbox"]);
    assert_eq!(pids_max(&id), "30");
    assert_eq!(c.inspect("pbox")["HostConfig"]["PidsLimit"], 30);
    c.env.ok(&["update", "--pids-limit", "-1", "pbox"]);
    assert_eq!(pids_max(&id), "max");
    assert_eq!(
        c.inspect("pbox")["HostConfig"]["PidsLimit"],
        serde_json::Value::Null
    );
    // The directory `update` made goes with the container.
    c.env.ok(&["rm", "-f", "pbox"]);
    assert!(
        cgroup_dirs_named(&id).is_empty(),
        "{:?}",
        cgroup_dirs_named(&id)
    );
}

#[test]
fn a_stopped_container_starts_with_its_new_limits() {
    let c = Ctx::new("up_stopped");
    let bb = c.bb();
    let show = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max";
    c.run_ok(&["-d", "--name", "ex", "-m", "32m", &bb, "sh", "-c", show]);
    c.env.ok(&["wait", "ex"]).assert_stdout_has("0");
    let out = c.env.ok(&[
        "update",
        "-m",
        "64m",
        "--memory-swap",
        "128m",
        "--pids-limit",
        "15",
        "--cpu-shares",
        "512",
        "--restart",
        "on-failure:3",
        "ex",
    ]);
    assert_eq!(out.stdout, "ex\n");
    let j = c.inspect("ex");
    let host = &j["HostConfig"];
    assert_eq!(host["Memory"], 64 << 20, "{host:#}");
    assert_eq!(host["MemorySwap"], 128 << 20, "{host:#}");
    assert_eq!(host["PidsLimit"], 15, "{host:#}");
    assert_eq!(host["CpuShares"], 512, "{host:#}");
    assert_eq!(
        host["RestartPolicy"],
        serde_json::json!({"Name": "on-failure", "MaximumRetryCount": 3})
    );
    assert_eq!(j["State"]["Status"], "exited");

    c.env.ok(&["start", "ex"]);
    c.env.ok(&["wait", "ex"]);
    let logs = c.env.ok(&["logs", "ex"]);
    assert_eq!(
        logs.lines(),
        [(32 << 20).to_string(), (64 << 20).to_string()],
        "{logs}"
    );

    // A created one (never started) too, seen by its cgroup while it runs.
    let out = c
        .env
        .ok(&["create", "--name", "later", &bb, "sleep", "100"]);
    let id = out.stdout.trim().to_string();
    c.env
        .ok(&["update", "-m", "48m", "--pids-limit", "9", "later"]);
    c.env.ok(&["start", "later"]);
    assert_eq!(memory_limit(&id), (48 << 20).to_string());
    assert_eq!(pids_max(&id), "9");
    c.env.ok(&["rm", "-f", "later", "ex"]);
}

#[test]
fn bad_updates_are_refused_and_change_nothing() {
    let c = Ctx::new("up_bad");
    let bb = c.bb();
    let out = c.run_ok(&[
        "-d",
        "--name",
        "box",
        "-m",
        "32m",
        "--cpu-quota",
        "50000",
        &bb,
        "sleep",
        "100",
    ]);
    let id = out.stdout.trim().to_string();
    let before = c.inspect("box")["HostConfig"].clone();
    for (flags, words) in [
        (
            &[][..],
            "you must provide one or more flags when using this command",
        ),
        (
            &["--blkio-weight", "5"][..],
            "Range of blkio weight is from 10 to 1000",
        ),
        (&["-m", "4m"][..], "Minimum memory limit allowed is 6MB"),
        (&["--memory", "lots"][..], "invalid size: 'lots'"),
        (
            &["--cpus", "1"][..],
            "Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set",
        ),
        (&["--cpus", "99"][..], "Range of CPUs is from 0.01 to"),
        (
            &["--cpu-period", "10"][..],
            "CPU cfs period can not be less than 1ms",
        ),
        (
            &["--memory-reservation", "64m"][..],
            "Minimum memory limit can not be less than memory reservation limit",
        ),
        (
            &["--restart", "sometimes"][..],
            "invalid restart policy format: unknown policy 'sometimes'",
        ),
    ] {
        let mut args = vec!["update"];
        args.extend_from_slice(flags);
        args.push("box");
        c.env
            .fails(&args)
            .assert_error_line()
            .assert_stderr_has(words);
    }
    assert_eq!(c.inspect("box")["HostConfig"], before);
    assert_eq!(memory_limit(&id), (32 << 20).to_string());

    // Each container on its own: the good one is updated and printed.
    let out = c
        .env
        .fails(&["update", "--pids-limit", "7", "box", "nosuch"]);
    assert_eq!(out.stdout, "box\n");
    out.assert_stderr_has("No such container: nosuch");
    assert_eq!(pids_max(&id), "7");

    // A container that removes itself takes no restart policy.
    c.run_ok(&["-d", "--rm", "--name", "gone", &bb, "sleep", "100"]);
    c.env
        .fails(&["update", "--restart", "always", "gone"])
        .assert_stderr_has(
            "Restart policy cannot be updated because AutoRemove is enabled for the container",
        );
    c.env.ok(&["update", "--restart", "no", "gone"]);

    // A weight this kernel cannot hold: Docker's warning, and it goes on.
    let out = c.env.ok(&["update", "--blkio-weight", "300", "box"]);
    assert_eq!(out.stdout, "box\n");
    let weight = Path::new("/sys/fs/cgroup/blkio/blkio.weight").exists()
        || Path::new("/sys/fs/cgroup/blkio/blkio.bfq.weight").exists();
    if cgroup_v1() && !weight {
        out.assert_stderr_has("skiff: warning: Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.");
        assert_eq!(c.inspect("box")["HostConfig"]["BlkioWeight"], 0);
    }
    c.env.ok(&["rm", "-f", "box", "gone"]);
}
