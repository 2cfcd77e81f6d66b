//! Resource limits held by the container's own cgroup, on whatever layout
//! this machine has (here: hybrid, v1 controllers and a cgroup2 hierarchy
//! without controllers): a memory hog OOM-killed at its limit, a fork bomb
//! held by `--pids-limit`, the cgroup there while the container runs and
//! gone with it, `exec` joining it, bad values refused before anything is
//! made.

mod common;

use common::run::{cgroup_dirs_named, cgroups_left, Ctx};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn layout_is_v1() -> bool {
    Path::new("/sys/fs/cgroup/memory/cgroup.procs").exists()
}

/// The container's directory in hierarchy `h` (`memory`, `unified`, ...).
fn dir(h: &str, id: &str) -> PathBuf {
    if layout_is_v1() {
        Path::new("/sys/fs/cgroup").join(h).join("skiff").join(id)
    } else {
        Path::new("/sys/fs/cgroup/skiff").join(id)
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

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

    if layout_is_v1() {
        let mem = dir("memory", &id);
        assert_eq!(
            read(&mem.join("memory.limit_in_bytes")),
            (64 << 20).to_string()
        );
        assert_eq!(
            read(&mem.join("memory.memsw.limit_in_bytes")),
            (128 << 20).to_string()
        );
        assert_eq!(
            read(&mem.join("memory.soft_limit_in_bytes")),
            (32 << 20).to_string()
        );
        assert_eq!(read(&dir("pids", &id).join("pids.max")), "50");
        let cpu = dir("cpu", &id);
        assert_eq!(read(&cpu.join("cpu.cfs_quota_us")), "50000");
        assert_eq!(read(&cpu.join("cpu.cfs_period_us")), "100000");
        assert_eq!(read(&cpu.join("cpu.shares")), "512");
        // Only the hierarchies with limits get a directory.
        assert!(!dir("blkio", &id).exists());
        assert!(!dir("devices", &id).exists());
        let procs = read(&mem.join("cgroup.procs"));
        assert!(procs.lines().any(|l| l == pid.to_string()), "{procs}");
    } else {
        let d = dir("", &id);
        assert_eq!(read(&d.join("memory.max")), (64 << 20).to_string());
        assert_eq!(read(&d.join("pids.max")), "50");
        assert_eq!(read(&d.join("cpu.max")), "50000 100000");
    }
    // The container's process is in its cgroup, its monitor is not.
    let own = read(Path::new(&format!("/proc/{pid}/cgroup")));
    assert!(own.contains(&format!("/skiff/{id}")), "{own}");
    let monitors = common::skiff::monitors_of(&c.env.root);
    assert_eq!(monitors.len(), 1, "one monitor");
    for m in monitors {
        let cg = read(Path::new(&format!("/proc/{m}/cgroup")));
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
    if !layout_is_v1() {
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
    for m in common::skiff::monitors_of(&c.env.root) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(m as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
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
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.lines().next().is_some_and(
            |l| l.starts_with("skiff: warning: resource limits cannot be applied rootless")
        ),
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
    let stat = read(&base.join("skiff").join(id).join("cpu.stat"));
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
