//! Resource limits held by the container's own cgroup, on whatever layout
//! this machine has (here: hybrid, v1 controllers and a cgroup2 hierarchy
//! without controllers): a memory hog OOM-killed at its limit, a fork bomb
//! held by `--pids-limit`, block I/O limits on a loop device (written
//! where the kernel reads them, and a throttled write taking its time),
//! the cgroup there while the container runs and gone with it, `exec`
//! joining it, bad values refused before anything is made.

mod common;

use common::run::{
    cgroup_dir, cgroup_dirs_named, cgroup_v1, cgroups_left, read_trim, Ctx, LoopDev,
};
use std::path::Path;
use std::time::{Duration, Instant};

#[test]
fn a_memory_hog_is_oom_killed_at_its_limit() {
    let c = Ctx::new("cg_oom");
    let bb = c.bb();
    // tail keeps the last lines of a file with no newline: all of it.
    let out = c.run(&[
        "--name",
        "hog",
        "--memory",
        "32m",
        "--memory-swap",
        "32m",
        &bb,
        "tail",
        "/dev/zero",
    ]);
    out.assert_code(137);
    let j = c.inspect("hog");
    assert_eq!(j["State"]["OOMKilled"], true, "{j:#}");
    assert_eq!(j["State"]["ExitCode"], 137, "{j:#}");
    assert_eq!(j["HostConfig"]["Memory"], 32 << 20, "{j:#}");

    // Detached, under its monitor, the same.
    let out = c.run_ok(&[
        "-d",
        "--name",
        "hog2",
        "-m",
        "32m",
        "--memory-swap",
        "32m",
        &bb,
        "tail",
        "/dev/zero",
    ]);
    let id = out.stdout.trim().to_string();
    c.env.run(&["wait", "hog2"]).assert_stdout_has("137");
    let j = c.inspect("hog2");
    assert_eq!(j["State"]["OOMKilled"], true, "{j:#}");
    // Its cgroup went when it ended.
    assert!(cgroups_left(&id).is_empty(), "{:?}", cgroup_dirs_named(&id));

    // Within its limit, a container is not OOM killed.
    c.run_ok(&["--name", "fine", "-m", "32m", &bb, "true"]);
    assert_eq!(c.inspect("fine")["State"]["OOMKilled"], false);
}

#[test]
fn a_fork_bomb_is_held_by_the_pids_limit() {
    let c = Ctx::new("cg_pids");
    let bb = c.bb();
    let script = "i=0; while [ $i -lt 200 ]; do sleep 100 & i=$((i+1)); echo $i; done";
    let out = c.run(&["--rm", "--pids-limit", "12", &bb, "sh", "-c", script]);
    assert_ne!(out.code, 0, "{out}");
    let last: u32 = out.lines().last().and_then(|l| l.parse().ok()).unwrap_or(0);
    assert!(last < 12, "at most 11 children beside the shell:\n{out}");
    out.assert_stderr_any(&["fork", "resource temporarily unavailable"]);
    // Without the limit the same script runs to its end.
    let out = c.run_ok(&["--rm", &bb, "sh", "-c", script]);
    assert_eq!(out.lines().last().copied(), Some("200"), "{out}");
}

#[test]
fn the_cgroup_lives_as_long_as_the_container() {
    let c = Ctx::new("cg_life");
    let bb = c.bb();
    let out = c.run_ok(&[
        "-d",
        "--name",
        "box",
        "--memory",
        "64m",
        "--memory-reservation",
        "32m",
        "--pids-limit",
        "50",
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        &bb,
        "sleep",
        "100",
    ]);
    let id = out.stdout.trim().to_string();
    let j = c.inspect("box");
    let pid = j["State"]["Pid"].as_u64().unwrap();
    let host = &j["HostConfig"];
    assert_eq!(host["Memory"], 64 << 20, "{host:#}");
    assert_eq!(host["MemorySwap"], 128 << 20, "{host:#}");
    assert_eq!(host["MemoryReservation"], 32 << 20, "{host:#}");
    assert_eq!(host["NanoCpus"], 500_000_000u64, "{host:#}");
    assert_eq!(host["CpuShares"], 512, "{host:#}");
    assert_eq!(host["PidsLimit"], 50, "{host:#}");
    assert_eq!(host["BlkioWeight"], 0, "{host:#}");
    for k in [
        "BlkioWeightDevice",
        "BlkioDeviceReadBps",
        "BlkioDeviceWriteIOps",
    ] {
        assert_eq!(host[k], serde_json::json!([]), "{k}");
    }

    if cgroup_v1() {
        let mem = cgroup_dir("memory", &id);
        assert_eq!(
            read_trim(&mem.join("memory.limit_in_bytes")),
            (64 << 20).to_string()
        );
        assert_eq!(
            read_trim(&mem.join("memory.memsw.limit_in_bytes")),
            (128 << 20).to_string()
        );
        assert_eq!(
            read_trim(&mem.join("memory.soft_limit_in_bytes")),
            (32 << 20).to_string()
        );
        assert_eq!(read_trim(&cgroup_dir("pids", &id).join("pids.max")), "50");
        let cpu = cgroup_dir("cpu", &id);
        assert_eq!(read_trim(&cpu.join("cpu.cfs_quota_us")), "50000");
        assert_eq!(read_trim(&cpu.join("cpu.cfs_period_us")), "100000");
        assert_eq!(read_trim(&cpu.join("cpu.shares")), "512");
        // Only the hierarchies with limits get a directory.
        assert!(!cgroup_dir("blkio", &id).exists());
        assert!(!cgroup_dir("devices", &id).exists());
        let procs = read_trim(&mem.join("cgroup.procs"));
        assert!(procs.lines().any(|l| l == pid.to_string()), "{procs}");
    } else {
        let d = cgroup_dir("", &id);
        assert_eq!(read_trim(&d.join("memory.max")), (64 << 20).to_string());
        assert_eq!(read_trim(&d.join("pids.max")), "50");
        assert_eq!(read_trim(&d.join("cpu.max")), "50000 100000");
    }
    // The container's process is in its cgroup, its monitor is not.
    let own = read_trim(Path::new(&format!("/proc/{pid}/cgroup")));
    assert!(own.contains(&format!("/skiff/{id}")), "{own}");
    let monitors = common::skiff::monitors_of(&c.env.root);
    assert_eq!(monitors.len(), 1, "one monitor");
    for m in monitors {
        let cg = read_trim(Path::new(&format!("/proc/{m}/cgroup")));
        assert!(
            !cg.contains(&format!("/skiff/{id}")),
            "the monitor stays outside: {cg}"
        );
    }
    // Its cgroup namespace is rooted at its cgroup, and an exec joins both.
    let inside = c.env.ok(&["exec", "box", "cat", "/proc/self/cgroup"]);
    for l in inside
        .stdout
        .lines()
        .filter(|l| l.contains(":memory:") || l.starts_with("0::"))
    {
        assert!(
            l.ends_with(":/"),
            "exec joins the container's cgroup: {l}\n{inside}"
        );
    }
    c.env.ok(&["rm", "-f", "box"]);
    assert!(cgroups_left(&id).is_empty(), "{:?}", cgroup_dirs_named(&id));

    // `run --rm`: in its cgroup while it runs, nothing left after.
    let out = c.run_ok(&[
        "--rm",
        "-m",
        "16m",
        &bb,
        "sh",
        "-c",
        "hostname; cat /proc/self/cgroup",
    ]);
    let short = out.lines()[0].to_string();
    assert!(out.stdout.contains(":memory:/\n"), "{out}");
    assert!(
        cgroups_left(&short).is_empty(),
        "{:?}",
        cgroup_dirs_named(&short)
    );
    // Without limits too.
    let out = c.run_ok(&["--rm", &bb, "hostname"]);
    let short = out.stdout.trim().to_string();
    assert!(
        cgroups_left(&short).is_empty(),
        "{:?}",
        cgroup_dirs_named(&short)
    );
}

#[test]
fn cgroup_parent_places_the_cgroup() {
    let c = Ctx::new("cg_parent");
    let bb = c.bb();
    let out = c.run_ok(&[
        "--rm",
        "--cgroup-parent",
        "skiff-test-parent",
        "--pids-limit",
        "9",
        &bb,
        "sh",
        "-c",
        "hostname; cat /proc/1/cgroup",
    ]);
    let short = out.lines()[0].to_string();
    assert!(cgroups_left(&short).is_empty(), "{out}");
    let parents = cgroup_dirs_named("skiff-test-parent");
    assert!(!parents.is_empty(), "the parent was made");
    for p in parents {
        let _ = std::fs::remove_dir(p);
    }
}

#[test]
fn bad_values_are_refused_before_anything_is_made() {
    let c = Ctx::new("cg_bad");
    let bb = c.bb();
    for (flags, words) in [
        (
            &["--memory", "4m"][..],
            "Minimum memory limit allowed is 6MB",
        ),
        (&["-m", "lots"][..], "invalid size: 'lots'"),
        (
            &["--memory-swap", "64m"][..],
            "You should always set the Memory limit",
        ),
        (
            &["-m", "64m", "--memory-swap", "32m"][..],
            "Minimum memoryswap limit",
        ),
        (&["--cpus", "99"][..], "Range of CPUs is from 0.01 to"),
        (
            &["--cpus", "half"][..],
            "failed to parse half as a rational number",
        ),
        (
            &["--cpus", "1", "--cpu-quota", "50000"][..],
            "Conflicting options",
        ),
        (
            &["--cpu-period", "10"][..],
            "CPU cfs period can not be less than 1ms",
        ),
        (
            &["--cpuset-cpus", "0-4095"][..],
            "Requested CPUs are not available",
        ),
        (
            &["--cpuset-cpus", "a"][..],
            "Invalid value a for cpuset cpus",
        ),
        (&["--cgroup-parent", "../up"][..], "invalid cgroup parent"),
        (
            &["--blkio-weight", "5"][..],
            "Range of blkio weight is from 10 to 1000",
        ),
        (
            &["--blkio-weight-device", "sda:100"][..],
            "bad format for device path: sda:100",
        ),
        (
            &["--device-read-bps", "/dev/null:fast"][..],
            "invalid rate for device: /dev/null:fast",
        ),
        (
            &["--device-write-iops", "/dev/null"][..],
            "bad format: /dev/null",
        ),
        (
            &["--device-read-bps", "/dev/skiff-none:1mb"][..],
            "stat /dev/skiff-none: no such file or directory",
        ),
        (
            &["--device-write-bps", "/dev/null:1mb"][..],
            "stat /dev/null: not a block device",
        ),
    ] {
        let mut args: Vec<&str> = vec!["--rm"];
        args.extend_from_slice(flags);
        args.extend([bb.as_str(), "true"]);
        let out = c.run(&args);
        out.assert_code(125)
            .assert_error_line()
            .assert_stderr_has(words);
    }
    assert!(c.container_dirs().is_empty(), "{:?}", c.container_dirs());
}

#[test]
fn cpuset_and_cpu_limits_seen_from_inside() {
    if !cgroup_v1() {
        return;
    }
    let c = Ctx::new("cg_cpuset");
    let bb = c.bb();
    let out = c.run_ok(&[
        "--rm",
        "--cpuset-cpus",
        "0",
        "--cpuset-mems",
        "0",
        "--cpu-quota",
        "20000",
        "--cpu-period",
        "50000",
        &bb,
        "cat",
        "/sys/fs/cgroup/cpuset/cpuset.cpus",
        "/sys/fs/cgroup/cpuset/cpuset.mems",
        "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
        "/sys/fs/cgroup/cpu/cpu.cfs_period_us",
    ]);
    assert_eq!(out.lines(), ["0", "0", "20000", "50000"], "{out}");
}

#[test]
fn a_lost_container_s_cgroup_goes_at_the_next_look() {
    let c = Ctx::new("cg_lost");
    let bb = c.bb();
    let out = c.run_ok(&["-d", "-m", "64m", "--pids-limit", "20", &bb, "sleep", "100"]);
    let id = out.stdout.trim().to_string();
    assert!(!cgroup_dirs_named(&id).is_empty(), "made while it runs");
    let monitors = common::skiff::monitors_of(&c.env.root);
    for m in &monitors {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*m as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    // Gone (or a zombie) before the next command looks.
    let end = Instant::now() + Duration::from_secs(10);
    let alive = |m: &u32| {
        std::fs::read_to_string(format!("/proc/{m}/stat")).is_ok_and(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| !r.trim_start().starts_with('Z'))
        })
    };
    while monitors.iter().any(alive) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    c.env.ok(&["ps", "-a"]);
    assert!(cgroups_left(&id).is_empty(), "{:?}", cgroup_dirs_named(&id));
    c.env.ok(&["rm", &id]);
}

#[test]
fn rootless_limits_are_never_dropped_silently() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    // An unprivileged user (nobody) with a store of its own, and a copy of
    // skiff it can reach.
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("skiff");
    std::fs::copy(common::skiff::skiff_bin(), &bin).unwrap();
    // A child another test thread forks while the copy is open for
    // writing holds it open a moment: "text file busy" until it execs.
    let mut tries = 0;
    let out = loop {
        let r = std::process::Command::new(&bin)
            .args(["create", "--memory", "64m", "127.0.0.1:1/none"])
            .env_clear()
            .env("HOME", &home)
            .env("SKIFF_ROOT", home.join("root"))
            .env("SKIFF_RUNROOT", home.join("run"))
            .uid(65534)
            .gid(65534)
            .output();
        match r {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            r => break r.unwrap(),
        }
    };
    // The user's rootless namespace outlives the command, kept by its
    // pause process.
    common::rootless::stop_pause(&home.join("run"));
    let err = String::from_utf8_lossy(&out.stderr);
    // Before anything is pulled (only the warning that a user without
    // subordinate ids gets for its namespace may come first).
    let first = err
        .lines()
        .find(|l| !l.contains("cannot be represented"))
        .unwrap_or_default();
    assert!(
        first.starts_with("skiff: warning: resource limits cannot be applied rootless"),
        "{err}"
    );
}

#[test]
fn cgroupns_private_by_default_or_the_hosts() {
    let c = Ctx::new("cg_ns");
    let bb = c.bb();
    let script = "cat /proc/self/cgroup; echo --; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max";
    // Private: the container's cgroup is the root of its view.
    for flags in [&[][..], &["--cgroupns", "private"][..]] {
        let mut args = vec!["--rm", "--pids-limit", "7"];
        args.extend_from_slice(flags);
        args.extend([bb.as_str(), "sh", "-c", script]);
        let out = c.run_ok(&args).stdout;
        let (cg, max) = out.split_once("--\n").unwrap();
        assert!(cg.lines().all(|l| l.ends_with(":/")), "{flags:?}: {cg}");
        assert_eq!(max.trim(), "7", "{flags:?}: {out}");
    }
    // The host's: its full path shows, and still only its own part of
    // the hierarchy is mounted.
    let out = c
        .run_ok(&[
            "--name",
            "hostns",
            "--cgroupns",
            "host",
            "--pids-limit",
            "7",
            &bb,
            "sh",
            "-c",
            script,
        ])
        .stdout;
    let id = c.inspect("hostns")["Id"].as_str().unwrap().to_string();
    let (cg, max) = out.split_once("--\n").unwrap();
    assert!(cg.contains(&format!("/skiff/{id}")), "{cg}");
    assert_eq!(max.trim(), "7", "{out}");
    assert_eq!(c.inspect("hostns")["HostConfig"]["CgroupnsMode"], "host");
    c.env.ok(&["rm", "hostns"]);

    let bad = c.run(&["--rm", "--cgroupns", "other", &bb, "true"]);
    bad.assert_code(125);
    assert!(
        bad.stderr.contains("--cgroupns: invalid CGROUP mode"),
        "{}",
        bad.stderr
    );
    assert!(c.container_dirs().is_empty());
}

/// CPU time the container `id` has used: `usage_usec` of `cpu.stat`,
/// which every cgroup2 group has (the hybrid layout's controller-less one
/// too).
fn cpu_used(id: &str) -> Duration {
    let unified = Path::new("/sys/fs/cgroup/unified");
    let base = if unified.is_dir() {
        unified
    } else {
        Path::new("/sys/fs/cgroup")
    };
    let stat = read_trim(&base.join("skiff").join(id).join("cpu.stat"));
    let us = stat
        .lines()
        .find_map(|l| l.strip_prefix("usage_usec "))
        .unwrap()
        .parse()
        .unwrap();
    Duration::from_micros(us)
}

#[test]
fn half_a_cpu_holds_a_busy_loop_near_half_a_core() {
    let c = Ctx::new("cg_cpus");
    let bb = c.bb();
    let id = c
        .run_ok(&[
            "-d",
            "--cpus",
            "0.5",
            &bb,
            "sh",
            "-c",
            "while :; do :; done",
        ])
        .stdout
        .trim()
        .to_string();
    // Measured over a window of many CFS periods (100 ms each).
    std::thread::sleep(Duration::from_millis(300));
    let (t0, u0) = (Instant::now(), cpu_used(&id));
    std::thread::sleep(Duration::from_secs(3));
    let (t1, u1) = (Instant::now(), cpu_used(&id));
    let share = (u1 - u0).as_secs_f64() / (t1 - t0).as_secs_f64();
    // The quota allows 0.5; a loaded machine may give it less, never
    // more (a little slack for the edges of the window).
    assert!(share <= 0.6, "a busy loop used {share:.2} of a core");
    assert!(share >= 0.15, "a busy loop used only {share:.2} of a core");
    c.env.ok(&["rm", "-f", &id]);
}

/// `SKIFF_SOAK=1` (scripts/soak.sh) makes it 100 of each.
fn soak_rounds() -> usize {
    if std::env::var_os("SKIFF_SOAK").is_some() {
        100
    } else {
        10
    }
}

#[test]
fn many_limited_containers_leave_no_cgroup() {
    let c = Ctx::new("cg_soak");
    let bb = c.bb();
    let n = soak_rounds();
    let limits = ["--memory", "32m", "--pids-limit", "50", "--cpus", "1"];
    let mut ids = Vec::new();
    for i in 0..n {
        // In the foreground with --rm, and detached then removed running.
        let mut args = vec!["--rm"];
        args.extend(limits);
        args.extend([bb.as_str(), "hostname"]);
        ids.push(c.run_ok(&args).stdout.trim().to_string());
        let mut args = vec!["-d"];
        args.extend(limits);
        args.extend([bb.as_str(), "sleep", "60"]);
        let id = c.run_ok(&args).stdout.trim().to_string();
        if i % 2 == 0 {
            c.env.ok(&["rm", "-f", &id]);
        } else {
            c.env.ok(&["kill", &id]);
            c.env.ok(&["rm", &id]);
        }
        ids.push(id[..12].to_string());
    }
    c.assert_nothing_left(&ids, None);
}

#[test]
fn stop_and_kill_leave_no_process_of_the_cgroup() {
    let c = Ctx::new("cg_children");
    let bb = c.bb();
    // An init that leaves children behind: one ignoring SIGTERM, one in a
    // session of its own, one started by exec.
    for (how, name) in [("stop", "st"), ("kill", "ki"), ("rm", "rmf")] {
        let m = common::run::mark(name);
        c.run_ok(&[
            "-d",
            "--name",
            name,
            "-e",
            &m,
            &bb,
            "sh",
            "-c",
            "(trap '' TERM; sleep 1000) & setsid sleep 1000 & sleep 1000",
        ]);
        c.env.ok(&["exec", "-d", name, "sleep", "1000"]);
        let id = c.inspect(name)["Id"].as_str().unwrap().to_string();
        let before = common::run::procs_with_env(&m);
        assert!(before.len() >= 4, "{how}: {before:?}");
        match how {
            "stop" => c.env.ok(&["stop", "-t", "1", name]),
            "kill" => c.env.ok(&["kill", name]),
            _ => c.env.ok(&["rm", "-f", name]),
        };
        let left = common::run::procs_with_env(&m);
        assert!(left.is_empty(), "{how} left {left:?}");
        if how != "rm" {
            c.env.ok(&["rm", name]);
        }
        assert!(
            cgroups_left(&id).is_empty(),
            "{how}: {:?}",
            cgroup_dirs_named(&id)
        );
    }
}

/// Can this host's block I/O controller hold a weight? (Not without a
/// CFQ or BFQ scheduler on v1.)
fn blkio_weight_supported() -> bool {
    if cgroup_v1() {
        ["blkio.weight", "blkio.bfq.weight"]
            .iter()
            .any(|f| Path::new("/sys/fs/cgroup/blkio").join(f).exists())
    } else {
        read_trim(Path::new("/sys/fs/cgroup/cgroup.controllers"))
            .split_whitespace()
            .any(|c| c == "io")
    }
}

#[test]
fn block_io_limits_are_written_where_the_kernel_reads_them() {
    let c = Ctx::new("cg_blkio");
    let bb = c.bb();
    let lo = LoopDev::new("cg_blkio_loop");
    let out = c.run_ok(&[
        "-d",
        "--name",
        "io",
        "--blkio-weight",
        "300",
        "--blkio-weight-device",
        &lo.at("200"),
        "--device-read-bps",
        &lo.at("1mb"),
        "--device-write-bps",
        &lo.at("2mb"),
        "--device-read-iops",
        &lo.at("100"),
        "--device-write-iops",
        &lo.at("50"),
        &bb,
        "sleep",
        "100",
    ]);
    let id = out.stdout.trim().to_string();
    let weight = blkio_weight_supported();
    if !weight {
        // Docker's warnings, and the container runs without the weights.
        out.assert_stderr_has("skiff: warning: Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.")
            .assert_stderr_has("skiff: warning: Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.");
    }
    let host = &c.inspect("io")["HostConfig"];
    let dev = |rate: u64| serde_json::json!([{"Path": lo.path, "Rate": rate}]);
    assert_eq!(host["BlkioDeviceReadBps"], dev(1 << 20), "{host:#}");
    assert_eq!(host["BlkioDeviceWriteBps"], dev(2 << 20), "{host:#}");
    assert_eq!(host["BlkioDeviceReadIOps"], dev(100), "{host:#}");
    assert_eq!(host["BlkioDeviceWriteIOps"], dev(50), "{host:#}");
    if weight {
        assert_eq!(host["BlkioWeight"], 300, "{host:#}");
        assert_eq!(
            host["BlkioWeightDevice"],
            serde_json::json!([{"Path": lo.path, "Weight": 200}])
        );
    } else {
        assert_eq!(host["BlkioWeight"], 0, "{host:#}");
        assert_eq!(host["BlkioWeightDevice"], serde_json::json!([]));
    }
    let mm = &lo.major_minor;
    if cgroup_v1() {
        let d = cgroup_dir("blkio", &id);
        for (file, value) in [
            ("read_bps_device", 1u64 << 20),
            ("write_bps_device", 2 << 20),
            ("read_iops_device", 100),
            ("write_iops_device", 50),
        ] {
            let got = read_trim(&d.join(format!("blkio.throttle.{file}")));
            assert_eq!(got, format!("{mm} {value}"), "{file}");
        }
        let procs = read_trim(&d.join("cgroup.procs"));
        let pid = c.inspect("io")["State"]["Pid"].to_string();
        assert!(procs.lines().any(|l| l == pid), "{procs}");
    } else {
        let max = read_trim(&cgroup_dir("", &id).join("io.max"));
        assert!(
            max.lines()
                .any(|l| l == format!("{mm} rbps=1048576 wbps=2097152 riops=100 wiops=50")),
            "{max}"
        );
    }
    c.env.ok(&["rm", "-f", "io"]);
    assert!(
        cgroup_dirs_named(&id).is_empty(),
        "{:?}",
        cgroup_dirs_named(&id)
    );
}

#[test]
fn a_write_limit_slows_direct_writes_to_the_device() {
    let c = Ctx::new("cg_blkio_dd");
    let lo = LoopDev::new("cg_blkio_dd_loop");
    // 2 MiB written past the page cache (v1 throttles no buffered write).
    let dd = "dd if=/dev/zero of=/dev/xvdb bs=64k count=32 oflag=direct 2>&1";
    let device = format!("{}:/dev/xvdb", lo.path);
    let timed = |extra: &[&str]| {
        let mut flags = vec!["--device", device.as_str()];
        flags.extend_from_slice(extra);
        let start = std::time::Instant::now();
        let out = c.sh(&flags, dd);
        (start.elapsed().as_secs_f64(), out)
    };
    let (free, out) = timed(&[]);
    assert!(out.contains("32+0 records out"), "{out}");
    let limit = lo.at("1mb");
    let (held, out) = timed(&["--device-write-bps", &limit]);
    assert!(out.contains("32+0 records out"), "{out}");
    // 2 MiB at 1 MiB/s: about two seconds more (here 2.1 s against 0.1).
    assert!(
        held - free > 1.5 && held < 20.0,
        "free {free:.2}s, limited {held:.2}s"
    );
}
