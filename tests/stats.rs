//! `skiff stats` and `skiff top`, read from the container's cgroup: the
//! figures against the cgroup's own files, CPU of a busy and an idle
//! container, Docker's formats, exited containers with `-a`, the stream
//! when stdout is a pipe, unknown containers; `top` showing the
//! processes of the cgroup (an `exec -d` one too), with ps's options.

mod common;

use common::run::Ctx;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn run_d(c: &Ctx, args: &[&str]) -> String {
    let mut a = vec!["-d"];
    a.extend_from_slice(args);
    c.run_ok(&a).stdout.trim().to_string()
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The container's memory cgroup directory: v1's memory hierarchy, or the
/// v2 group.
fn memory_dir(id: &str) -> PathBuf {
    let v1 = Path::new("/sys/fs/cgroup/memory/skiff").join(id);
    if v1.is_dir() {
        v1
    } else {
        Path::new("/sys/fs/cgroup/skiff").join(id)
    }
}

fn read_num(dir: &Path, file: &str) -> u64 {
    let p = dir.join(file);
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .parse()
        .unwrap()
}

fn keyed(dir: &Path, file: &str, key: &str) -> u64 {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key} ")))
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// Memory in use less the inactive file cache, as the cgroup says now.
fn cgroup_memory(id: &str) -> u64 {
    let d = memory_dir(id);
    if d.join("memory.usage_in_bytes").exists() {
        read_num(&d, "memory.usage_in_bytes") - keyed(&d, "memory.stat", "total_inactive_file")
    } else {
        read_num(&d, "memory.current") - keyed(&d, "memory.stat", "inactive_file")
    }
}

/// `1.5MiB` (binary units, as MEM USAGE shows them) in bytes.
fn binary_bytes(s: &str) -> f64 {
    let units = [
        ("GiB", 1u64 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
        ("B", 1),
    ];
    for (u, m) in units {
        if let Some(n) = s.strip_suffix(u) {
            return n.parse::<f64>().unwrap() * m as f64;
        }
    }
    panic!("not a size: {s}")
}

/// `stats --no-stream --format '{{json .}}' ARGS`: one object per
/// container, by name.
fn stats_json(c: &Ctx, args: &[&str]) -> Vec<Value> {
    let mut a = vec!["stats", "--no-stream", "--format", "{{json .}}"];
    a.extend_from_slice(args);
    let out = c.env.ok(&a);
    out.lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{out}")))
        .collect()
}

fn percent(v: &Value) -> f64 {
    v.as_str()
        .and_then(|s| s.strip_suffix('%'))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a percentage: {v}"))
}

#[test]
fn stats_show_what_the_cgroup_counts() {
    let c = Ctx::new("stats_mem");
    let bb = c.bb();
    // 20 MiB in /dev/shm (tmpfs: charged to the container, never
    // reclaimed as cache), two sleeps beside the shell: three tasks.
    let id = run_d(
        &c,
        &[
            "--name",
            "holder",
            "--memory",
            "64m",
            &bb,
            "sh",
            "-c",
            "dd if=/dev/zero of=/dev/shm/fill bs=1M count=20 2>/dev/null; \
             sleep 301 & sleep 302 & echo ready; wait",
        ],
    );
    wait_until("the container's fill", Duration::from_secs(20), || {
        c.env.ok(&["logs", "holder"]).stdout.contains("ready")
    });
    let before = cgroup_memory(&id);
    let rows = stats_json(&c, &["holder"]);
    let after = cgroup_memory(&id);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert_eq!(r["Name"], "holder", "{r}");
    assert_eq!(r["Container"], "holder", "{r}");
    assert_eq!(r["ID"], id[..12], "{r}");
    assert_eq!(r["PIDs"], "3", "{r}");
    let mem = r["MemUsage"].as_str().unwrap();
    let (usage, limit) = mem.split_once(" / ").unwrap();
    assert_eq!(limit, "64MiB", "{r}");
    let usage = binary_bytes(usage);
    assert!(usage >= 20.0 * 1048576.0, "the 20 MiB count: {r}");
    // Four significant digits shown; the cgroup read just before and after.
    let (lo, hi) = (before.min(after) as f64, before.max(after) as f64);
    assert!(
        usage >= lo * 0.99 - 65536.0 && usage <= hi * 1.01 + 65536.0,
        "{usage} not within {lo}..{hi}: {r}"
    );
    let perc = percent(&r["MemPerc"]);
    assert!(
        (perc - usage / (64.0 * 1048576.0) * 100.0).abs() < 0.1,
        "{r}"
    );
    // No network of its own here beyond loopback, no disk read: Docker's
    // zero figures, in its units.
    assert!(r["NetIO"].as_str().unwrap().contains(" / "), "{r}");
    let block = r["BlockIO"].as_str().unwrap();
    assert!(block.ends_with('B') && block.contains(" / "), "{r}");

    // The default table, Docker's columns; the full ID with --no-trunc.
    let out = c.env.ok(&["stats", "--no-stream", "--no-trunc", "holder"]);
    let lines = out.lines();
    assert_eq!(lines.len(), 2, "{out}");
    for col in [
        "CONTAINER ID",
        "NAME",
        "CPU %",
        "MEM USAGE / LIMIT",
        "MEM %",
        "NET I/O",
        "BLOCK I/O",
        "PIDS",
    ] {
        assert!(lines[0].contains(col), "{col}: {out}");
    }
    assert!(lines[1].starts_with(&id), "{out}");
    assert!(lines[1].contains(" / 64MiB"), "{out}");
    assert!(
        !out.stdout.contains('\x1b'),
        "no escapes into a pipe: {:?}",
        out.stdout
    );

    // Custom tables and `json`.
    let out = c.env.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "table {{.Name}}\t{{.PIDs}}",
        "holder",
    ]);
    let lines = out.lines();
    assert!(
        lines[0].starts_with("NAME") && lines[0].ends_with("PIDS"),
        "{out}"
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["holder", "3"],
        "{out}"
    );
    let out = c.env.ok(&["stats", "--no-stream", "--format", "json", &id]);
    let j: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(j["Container"], id.as_str(), "{out}");
    assert_eq!(j["PIDs"], "3", "{out}");
}

#[test]
fn stats_cpu_of_a_busy_and_an_idle_container() {
    let c = Ctx::new("stats_cpu");
    let bb = c.bb();
    run_d(
        &c,
        &["--name", "busy", &bb, "sh", "-c", "while :; do :; done"],
    );
    run_d(&c, &["--name", "idle", &bb, "sleep", "300"]);
    let out = c.env.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}",
        "busy",
        "idle",
    ]);
    let lines = out.lines();
    assert_eq!(lines.len(), 2, "{out}");
    let field = |name: &str, i: usize| -> String {
        let l = lines
            .iter()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name}: {out}"));
        l.split_whitespace().nth(i).unwrap().to_string()
    };
    let busy = percent(&Value::String(field("busy", 1)));
    let idle = percent(&Value::String(field("idle", 1)));
    // A spinning shell holds most of a CPU (100% is one CPU), even on a
    // machine that other work keeps busy.
    assert!(busy > 20.0, "busy: {out}");
    assert!(idle < 2.0, "idle: {out}");
    assert_eq!(field("idle", 5), "1", "{out}");
    assert_eq!(field("busy", 5), "1", "{out}");

    // Without names: the running containers, every one of them.
    let names: Vec<String> = stats_json(&c, &[])
        .iter()
        .map(|r| r["Name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"busy".into()) && names.contains(&"idle".into()));
    c.env.ok(&["rm", "-f", "busy", "idle"]);
}

#[test]
fn stats_of_exited_containers_and_unknown_ones() {
    let c = Ctx::new("stats_exited");
    let bb = c.bb();
    c.run_ok(&["--name", "done", &bb, "true"]);
    run_d(&c, &["--name", "up", &bb, "sleep", "300"]);
    let fmt = "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.MemPerc}}|{{.NetIO}}|{{.BlockIO}}|{{.PIDs}}";
    let out = c.env.ok(&["stats", "--no-stream", "--format", fmt]);
    assert!(!out.stdout.contains("done|"), "running ones only: {out}");
    assert!(out.stdout.contains("up|"), "{out}");
    let out = c.env.ok(&["stats", "-a", "--no-stream", "--format", fmt]);
    assert!(
        out.lines()
            .contains(&"done|0.00%|0B / 0B|0.00%|0B / 0B|0B / 0B|0"),
        "{out}"
    );
    assert!(out.stdout.contains("up|"), "{out}");
    // Named, an exited container shows the same zeros.
    let out = c.env.ok(&["stats", "--no-stream", "--format", fmt, "done"]);
    assert_eq!(out.stdout, "done|0.00%|0B / 0B|0.00%|0B / 0B|0B / 0B|0\n");

    // Unknown: Docker's message, nothing shown, skiff's error line and code.
    for args in [
        &["stats", "--no-stream", "nosuch"][..],
        &["stats", "up", "nosuch"][..],
    ] {
        let out = c.env.run(args);
        out.assert_code(125)
            .assert_error_line()
            .assert_stderr_has("No such container: nosuch");
        assert_eq!(out.stdout, "", "{out}");
    }
    // A bad template fails at once.
    c.env
        .run(&["stats", "--format", "{{.Name", "up"])
        .assert_code(125)
        .assert_error_line();
    c.env.ok(&["rm", "-f", "up"]);
}

#[test]
fn stats_stream_a_table_each_second_into_a_pipe() {
    let c = Ctx::new("stats_stream");
    let bb = c.bb();
    run_d(&c, &["--name", "s1", &bb, "sleep", "300"]);
    let start = Instant::now();
    let bg = common::run::Bg::spawn(&c.env, &["stats", "s1"]);
    let tables = || bg.stdout_now().matches("CONTAINER ID").count();
    while tables() < 2 && start.elapsed() < Duration::from_millis(2500) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = bg.stdout_now();
    assert!(tables() >= 2, "two tables within 2.5 s:\n{text}");
    assert!(!text.contains('\x1b'), "no escapes into a pipe: {text:?}");
    assert!(
        text.lines().filter(|l| l.contains(" s1 ")).count() >= 2,
        "{text}"
    );
    // It goes on until interrupted.
    bg.signal(nix::sys::signal::Signal::SIGINT);
    let out = bg.finish();
    assert_eq!(out.code, 128 + 2, "{out}");
    c.env.ok(&["rm", "-f", "s1"]);
}

#[test]
fn top_shows_the_processes_of_the_cgroup() {
    let c = Ctx::new("stats_top");
    let bb = c.bb();
    run_d(&c, &["--name", "tp", &bb, "sleep", "311"]);
    // A host process with a command line like the container's.
    let mut host = std::process::Command::new("sleep")
        .arg("312")
        .spawn()
        .expect("spawn a host sleep");
    c.env.ok(&["exec", "-d", "tp", "sleep", "313"]);
    let mut out = c.env.ok(&["top", "tp"]);
    let end = Instant::now() + Duration::from_secs(10);
    while !out.stdout.contains("sleep 313") && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
        out = c.env.ok(&["top", "tp"]);
    }
    let lines = out.lines();
    assert!(
        lines[0].contains("PID") && lines[0].contains("CMD"),
        "{out}"
    );
    assert_eq!(lines.len(), 3, "the container's two processes:\n{out}");
    assert!(out.stdout.contains("sleep 311"), "{out}");
    assert!(out.stdout.contains("sleep 313"), "exec -d's process: {out}");
    assert!(!out.stdout.contains("sleep 312"), "no host process: {out}");
    // ps's own options pass through.
    let out = c.env.ok(&["top", "tp", "-o", "pid,comm"]);
    let lines = out.lines();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["PID", "COMMAND"],
        "{out}"
    );
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[1..].iter().all(|l| l.ends_with(" sleep")), "{out}");
    let _ = host.kill();
    let _ = host.wait();
    c.env.ok(&["stop", "-t", "0", "tp"]);
    let id = c.inspect("tp")["Id"].as_str().unwrap().to_string();
    c.env
        .run(&["top", "tp"])
        .assert_code(125)
        .assert_error_line()
        .assert_stderr_has(&format!("Container {id} is not running"));
}
