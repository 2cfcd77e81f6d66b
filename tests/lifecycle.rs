//! Detached containers without a daemon: `run -d` under a monitor of its
//! own, and `create`, `start`, `stop`, `restart`, `kill`, `rm`, `wait`
//! acting on them; the state kept true when a monitor is killed; many at
//! once.

mod common;

use common::run::Ctx;
use common::skiff::monitors_of;
use std::time::{Duration, Instant};

/// `skiff run -d ARGS`: the full ID it prints.
fn run_d(c: &Ctx, args: &[&str]) -> String {
    let mut a = vec!["-d"];
    a.extend_from_slice(args);
    let out = c.run_ok(&a);
    let id = out.stdout.trim().to_string();
    assert!(
        id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "run -d prints the full ID:\n{out}"
    );
    id
}

/// The record of container `id` as the store holds it.
fn record(c: &Ctx, id: &str) -> serde_json::Value {
    c.container_records()
        .into_iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no record of {id}"))
}

/// `ps -a` lines of the names given (the first line is the header).
fn ps_line(c: &Ctx, name: &str) -> String {
    let out = c.env.ok(&["ps", "-a", "--no-trunc"]);
    out.lines()
        .into_iter()
        .find(|l| l.split_whitespace().last() == Some(name))
        .unwrap_or_else(|| panic!("{name} not in ps -a:\n{out}"))
        .to_string()
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn run_d_logs_stop_rm() {
    let c = Ctx::new("life_basic");
    let bb = c.bb();
    let id = run_d(
        &c,
        &[
            "--name",
            "web",
            &bb,
            "sh",
            "-c",
            "trap 'echo bye; exit 3' TERM; echo out; echo err >&2; while true; do sleep 0.1; done",
        ],
    );
    assert_eq!(monitors_of(&c.env.root).len(), 1, "one monitor");
    // Running, with its pid alive; `ps` without -a shows it.
    let rec = record(&c, &id);
    assert_eq!(rec["state"]["status"], "running", "{rec}");
    let pid = rec["state"]["pid"].as_u64().unwrap();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    let ps = c.env.ok(&["ps"]);
    ps.assert_stdout_has("web");
    ps.assert_stdout_has(&id[..12]);
    assert!(ps_line(&c, "web").contains("Up "), "{ps}");

    wait_until("the output in the log", Duration::from_secs(10), || {
        c.env.ok(&["logs", "web"]).stdout.contains("out")
    });
    let logs = c.env.ok(&["logs", "web"]);
    assert_eq!(logs.stdout, "out\n", "{logs}");
    assert_eq!(logs.stderr, "err\n", "{logs}");

    // rm of a running container is refused; the container keeps running.
    let out = c.env.run(&["rm", "web"]);
    out.assert_code(125);
    out.assert_error_line();
    out.assert_stderr_has("stop the container before removing or force remove");

    // stop: the trap runs, its exit code is recorded.
    let out = c.env.ok(&["stop", "web"]);
    assert_eq!(out.stdout, "web\n");
    let rec = record(&c, &id);
    assert_eq!(rec["state"]["status"], "exited", "{rec}");
    assert_eq!(rec["state"]["exit_code"], 3, "{rec}");
    assert!(ps_line(&c, "web").contains("Exited (3)"));
    assert!(c.env.ok(&["ps", "-q"]).stdout.is_empty());
    c.env.ok(&["logs", "web"]).assert_stdout_has("bye");
    assert!(monitors_of(&c.env.root).is_empty(), "the monitor left");
    assert_eq!(c.env.ok(&["wait", "web"]).stdout, "3\n");

    c.env.ok(&["rm", "web"]);
    assert!(c.container_dirs().is_empty());
    let out = c.env.run(&["rm", "web"]);
    out.assert_code(125);
    out.assert_stderr_has("No such container: web");
}

#[test]
fn stop_timeout_then_kill_and_kill_signals() {
    let c = Ctx::new("life_stop_kill");
    let bb = c.bb();
    // pid 1 without a handler ignores TERM: stop falls back to KILL.
    let id = run_d(&c, &["--name", "stubborn", &bb, "sleep", "60"]);
    let t = Instant::now();
    c.env.ok(&["stop", "-t", "1", "stubborn"]);
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    assert_eq!(record(&c, &id)["state"]["exit_code"], 137);

    // kill -s USR1 reaches a trap; kill (KILL) ends it.
    run_d(
        &c,
        &[
            "--name",
            "kk",
            &bb,
            "sh",
            "-c",
            "trap 'echo usr1' USR1; echo ready; while true; do sleep 0.1; done",
        ],
    );
    wait_until("ready", Duration::from_secs(10), || {
        c.env.ok(&["logs", "kk"]).stdout.contains("ready")
    });
    c.env.ok(&["kill", "-s", "USR1", "kk"]);
    wait_until("the trap", Duration::from_secs(10), || {
        c.env.ok(&["logs", "kk"]).stdout.contains("usr1")
    });
    c.env.ok(&["kill", "kk"]);
    assert_eq!(c.env.ok(&["wait", "kk"]).stdout, "137\n");
    let out = c.env.run(&["kill", "kk"]);
    out.assert_code(125);
    out.assert_stderr_has("is not running");
    c.env.ok(&["rm", "stubborn", "kk"]);
}

#[test]
fn rm_force_and_several_at_once() {
    let c = Ctx::new("life_rm_force");
    let bb = c.bb();
    let a = run_d(&c, &["--name", "aa", &bb, "sleep", "60"]);
    run_d(&c, &["--name", "bb", &bb, "sleep", "60"]);
    let pid = record(&c, &a)["state"]["pid"].as_u64().unwrap();
    let out = c.env.ok(&["rm", "-f", "aa", "bb"]);
    assert_eq!(out.stdout, "aa\nbb\n");
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert!(c.container_dirs().is_empty());
    assert!(monitors_of(&c.env.root).is_empty());
    // -f of a missing container is no error; without -f it is.
    c.env.ok(&["rm", "-f", "nothing-here"]);
    c.env.run(&["rm", "nothing-here"]).assert_code(125);
}

#[test]
fn run_d_rm_removes_after_exit() {
    let c = Ctx::new("life_rm_after");
    let id = run_d(&c, &["--rm", &c.bb(), "sh", "-c", "sleep 0.3"]);
    assert_eq!(c.env.ok(&["wait", &id]).stdout, "0\n");
    wait_until("the removal", Duration::from_secs(10), || {
        c.container_dirs().is_empty() && monitors_of(&c.env.root).is_empty()
    });
}

#[test]
fn start_failures_keep_dockers_exit_codes() {
    let c = Ctx::new("life_start_fail");
    let out = c.run(&["-d", "--name", "nf", &c.bb(), "/no/such/cmd"]);
    out.assert_code(127);
    out.assert_error_line();
    out.assert_stderr_has("no such file or directory");
    // The container stays, created and never started.
    assert!(ps_line(&c, "nf").contains("Created"));
    let out = c.run(&["-d", "--rm", &c.bb(), "/etc"]);
    out.assert_code(126);
    assert!(c.container_dirs().len() == 1, "--rm removed the failed one");
    assert!(monitors_of(&c.env.root).is_empty());
}

#[test]
fn create_then_start_and_restart() {
    let c = Ctx::new("life_create_start");
    let out = c.env.ok(&[
        "create",
        "--name",
        "later",
        &c.bb(),
        "sh",
        "-c",
        "echo started; sleep 60",
    ]);
    let id = out.stdout.trim().to_string();
    assert_eq!(id.len(), 64);
    assert!(ps_line(&c, "later").contains("Created"));
    assert!(monitors_of(&c.env.root).is_empty(), "create starts nothing");
    c.env.ok(&["start", "later"]);
    assert_eq!(record(&c, &id)["state"]["status"], "running");
    let pid1 = record(&c, &id)["state"]["pid"].as_u64().unwrap();
    // start of a running container is no error and changes nothing.
    c.env.ok(&["start", "later"]);
    assert_eq!(record(&c, &id)["state"]["pid"], pid1);
    c.env.ok(&["restart", "-t", "0", "later"]);
    let rec = record(&c, &id);
    assert_eq!(rec["state"]["status"], "running");
    assert_ne!(rec["state"]["pid"].as_u64().unwrap(), pid1);
    wait_until(
        "the second start in the log",
        Duration::from_secs(10),
        || c.env.ok(&["logs", "later"]).stdout == "started\nstarted\n",
    );
    c.env.ok(&["rm", "-f", "later"]);
}

#[test]
fn restart_policies() {
    let c = Ctx::new("life_restart");
    let bb = c.bb();
    // on-failure:2 — the first run and two restarts, then it stays exited.
    let id = run_d(
        &c,
        &[
            "--restart",
            "on-failure:2",
            &bb,
            "sh",
            "-c",
            "echo run; exit 4",
        ],
    );
    wait_until("two restarts", Duration::from_secs(20), || {
        let r = record(&c, &id);
        r["state"]["status"] == "exited" && r["state"]["restart_count"] == 2
    });
    wait_until("the monitor's exit", Duration::from_secs(10), || {
        monitors_of(&c.env.root).is_empty()
    });
    assert_eq!(c.env.ok(&["logs", &id]).stdout, "run\nrun\nrun\n");
    assert_eq!(record(&c, &id)["state"]["exit_code"], 4);

    // always restarts after success too; stop ends it for good.
    let a = run_d(
        &c,
        &["--restart", "always", &bb, "sh", "-c", "echo up; sleep 0.2"],
    );
    wait_until("a restart", Duration::from_secs(20), || {
        record(&c, &a)["state"]["restart_count"].as_u64() >= Some(1)
    });
    c.env.ok(&["stop", "-t", "1", &a]);
    wait_until("the monitor's exit", Duration::from_secs(10), || {
        monitors_of(&c.env.root).is_empty()
    });
    assert_eq!(record(&c, &a)["state"]["status"], "exited");

    // Conflicting and malformed policies are refused before anything is made.
    let out = c.run(&["-d", "--rm", "--restart", "always", &bb, "true"]);
    out.assert_code(125);
    out.assert_stderr_has("Conflicting options: --restart and --rm");
    c.run(&["-d", "--restart", "sometimes", &bb, "true"])
        .assert_code(125);
    c.env.ok(&["rm", &id, &a]);
    assert!(c.container_dirs().is_empty());
}

#[test]
fn a_killed_monitor_is_noticed_by_the_next_command() {
    let c = Ctx::new("life_kill9");
    let id = run_d(&c, &["--name", "victim", &c.bb(), "sleep", "60"]);
    let pid = record(&c, &id)["state"]["pid"].as_u64().unwrap();
    for m in monitors_of(&c.env.root) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(m as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    }
    // The container dies with its monitor...
    wait_until("the container's death", Duration::from_secs(10), || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z"))
    });
    // ... and the next command says so, instead of "Up".
    let line = ps_line(&c, "victim");
    assert!(line.contains("Exited (255)"), "{line}");
    assert!(c.env.ok(&["ps", "-q"]).stdout.is_empty());
    assert_eq!(record(&c, &id)["state"]["status"], "exited");
    // It starts again like any stopped container.
    c.env.ok(&["start", "victim"]);
    assert!(ps_line(&c, "victim").contains("Up "));
    c.env.ok(&["rm", "-f", "victim"]);
}

#[test]
fn starts_at_once_start_it_once() {
    let c = Ctx::new("life_start_race");
    let bb = c.bb();
    let since = chrono_now_secs().to_string();
    c.env.ok(&["create", "--name", "once", &bb, "sleep", "60"]);
    // Six at once, some attached: each succeeds, one of them starts it,
    // the others find it running.
    let starts: Vec<_> = (0..6)
        .map(|i| {
            let args: &[&str] = if i % 3 == 2 {
                &["start", "-a", "once"]
            } else {
                &["start", "once"]
            };
            c.env.spawn(args)
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    c.env.ok(&["stop", "-t", "0", "once"]);
    for ch in starts {
        let out = common::skiff::wait_out(ch, "skiff start once");
        assert!(out.code == 0 || out.code == 137, "{out}");
    }
    let until = (chrono_now_secs() + 1).to_string();
    let out = c.env.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "container=once",
        "--format",
        "{{.Action}}",
    ]);
    assert_eq!(
        out.stdout.lines().filter(|l| *l == "start").count(),
        1,
        "{out}"
    );
    // And a start right after a stop waits for the old monitor's end.
    for _ in 0..3 {
        c.env.ok(&["start", "once"]);
        assert!(ps_line(&c, "once").contains("Up "));
        c.env.ok(&["stop", "-t", "0", "once"]);
    }
    c.env.ok(&["rm", "once"]);
}

#[test]
fn a_killed_container_and_killed_commands_leave_a_true_state() {
    let c = Ctx::new("life_kill_cmds");
    let bb = c.bb();
    // The container's process killed: its monitor records the signal.
    let id = run_d(&c, &["--name", "shot", &bb, "sleep", "60"]);
    let pid = record(&c, &id)["state"]["pid"].as_u64().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert_eq!(c.env.ok(&["wait", "shot"]).stdout.trim(), "137");
    assert!(ps_line(&c, "shot").contains("Exited (137)"));

    // `run -d` killed at every point of its work, from the first
    // millisecond to after it printed: whatever it left is either a whole
    // container that every command handles or nothing at all.
    for i in 0..12u64 {
        let name = format!("k{i}");
        let mut ch = c
            .env
            .spawn(&["run", "-d", "--name", &name, &bb, "sleep", "60"]);
        std::thread::sleep(Duration::from_millis(i * 4));
        let _ = ch.kill();
        let _ = ch.wait();
    }
    let out = c.env.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
    for line in out.lines().into_iter() {
        let (name, state) = line.split_once(' ').unwrap();
        assert!(
            ["created", "running", "exited"].contains(&state),
            "{name}: {state}\n{out}"
        );
        c.env.ok(&["inspect", name]);
        if state == "created" {
            c.env.ok(&["start", name]);
        }
    }
    c.env.ok(&["rm", "-f", "shot"]);
    let names: Vec<String> = out
        .lines()
        .into_iter()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .filter(|n| n != "shot")
        .collect();
    if !names.is_empty() {
        let mut args = vec!["rm", "-f"];
        args.extend(names.iter().map(String::as_str));
        c.env.ok(&args);
    }
    // A name a killed command held is free again, with no other command
    // run before.
    for i in 0..12u64 {
        let name = format!("n{i}");
        let mut ch = c.env.spawn(&["create", "--name", &name, &bb, "true"]);
        std::thread::sleep(Duration::from_millis(i * 3));
        let _ = ch.kill();
        let _ = ch.wait();
        let whole = c
            .container_records()
            .iter()
            .any(|r| r["name"] == name.as_str() && r["state"].get("creator_pid").is_none());
        if whole {
            c.env.ok(&["rm", &name]);
        }
        c.env.ok(&["create", "--name", &name, &bb, "true"]);
        c.env.ok(&["rm", &name]);
    }
    // The same, made certain: a record whose maker is dead.
    let id = c
        .env
        .ok(&["create", "--name", "half", &bb, "true"])
        .stdout
        .trim()
        .to_string();
    let path = c
        .env
        .root
        .join("containers")
        .join(&id)
        .join("container.json");
    let mut rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut dead = std::process::Command::new("true").spawn().unwrap();
    dead.wait().unwrap();
    rec["state"]["creator_pid"] = dead.id().into();
    std::fs::write(&path, serde_json::to_vec(&rec).unwrap()).unwrap();
    c.env.ok(&["create", "--name", "half", &bb, "true"]);
    assert!(!c.container_dirs().contains(&id));
    c.env.ok(&["rm", "half"]);
    // A dead maker whose lock another still holds (here this test; the
    // monitor of a killed `run -d` until the container runs): a
    // container, listed and keeping its name, until the lock goes too.
    let id = c
        .env
        .ok(&["create", "--name", "held", &bb, "true"])
        .stdout
        .trim()
        .to_string();
    let holder = c.hold_as_being_made(&id, dead.id());
    assert!(ps_line(&c, "held").contains("Created"));
    let out = c.env.fails(&["create", "--name", "held", &bb, "true"]);
    assert!(out.stderr.contains("is already in use"), "{}", out.stderr);
    drop(holder);
    c.env.ok(&["create", "--name", "held", &bb, "true"]);
    assert!(!c.container_dirs().contains(&id));
    c.env.ok(&["rm", "held"]);
    for i in 0..12 {
        let name = format!("k{i}");
        c.env.ok(&["create", "--name", &name, &bb, "true"]);
        c.env.ok(&["rm", &name]);
    }
    // Half-made leftovers go with the next removal.
    assert!(c.container_records().is_empty());
    wait_until("every monitor's exit", Duration::from_secs(10), || {
        monitors_of(&c.env.root).is_empty()
    });
    let root = c.env.root.clone();
    assert!(
        common::run::mounts_under(&[&root]).is_empty(),
        "{:?}",
        common::run::mounts_under(&[&root])
    );
}

/// The cgroup2 path of process `pid` (`0::PATH`).
fn cgroup2_of(pid: u64) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn the_monitor_lives_in_a_cgroup_of_its_own() {
    if common::rootless::skip_rootless(
        "an unprivileged user makes no cgroup without a delegated subtree",
    ) {
        return;
    }
    let unified = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .into_iter()
        .map(std::path::Path::new)
        .find(|p| p.join("cgroup.procs").exists())
        .expect("a cgroup2 hierarchy");
    let c = Ctx::new("life_monitor_cg");
    let bb = c.bb();
    for (name, kill_monitor) in [("scoped", false), ("lost", true)] {
        let id = run_d(&c, &["--name", name, &bb, "sleep", "60"]);
        let rec = record(&c, &id);
        let monitor = rec["state"]["monitor_pid"].as_u64().unwrap();
        let pid = rec["state"]["pid"].as_u64().unwrap();
        // Started there: in it as soon as `run -d` returns.
        assert_eq!(cgroup2_of(monitor), format!("/skiff-monitors/{id}"));
        assert_eq!(cgroup2_of(pid), format!("/skiff/{id}"));
        let scope = unified.join("skiff-monitors").join(&id);
        assert!(scope.is_dir());
        if kill_monitor {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(monitor as i32),
                nix::sys::signal::Signal::SIGKILL,
            )
            .unwrap();
            wait_until("the monitor's death", Duration::from_secs(10), || {
                !std::path::Path::new(&format!("/proc/{monitor}")).exists()
            });
            // The next look finds the container lost and clears up.
            assert!(ps_line(&c, name).contains("Exited (255)"));
        } else {
            c.env.ok(&["stop", "-t", "1", name]);
            wait_until("the monitor's exit", Duration::from_secs(10), || {
                !std::path::Path::new(&format!("/proc/{monitor}")).exists()
            });
        }
        assert!(!scope.exists(), "{} is left", scope.display());
        c.env.ok(&["rm", name]);
    }

    // Started from a session whose cgroup is then killed whole (a CI
    // step's end): the container lives on.
    let session = unified.join(format!("skiff-test-session-{}", std::process::id()));
    std::fs::create_dir(&session).unwrap();
    if !session.join("cgroup.kill").exists() {
        // A kernel before 5.14.
        let _ = std::fs::remove_dir(&session);
        return;
    }
    let cmd = c
        .env
        .command(&["run", "-d", "--name", "survivor", &bb, "sleep", "60"]);
    let skiff = cmd.get_program().to_owned();
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c")
        .arg("echo $$ > \"$0/cgroup.procs\" && exec \"$@\"")
        .arg(&session)
        .arg(skiff)
        .args(cmd.get_args())
        .envs(cmd.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .current_dir(cmd.get_current_dir().unwrap());
    let out = sh.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let monitor = record(&c, &id)["state"]["monitor_pid"].as_u64().unwrap();
    // The monitor moves out once the container runs, moments after
    // `run -d` returned.
    wait_until("the monitor's own cgroup", Duration::from_secs(10), || {
        cgroup2_of(monitor) == format!("/skiff-monitors/{id}")
    });
    std::fs::write(session.join("cgroup.kill"), "1").unwrap();
    wait_until("the session's end", Duration::from_secs(10), || {
        std::fs::read_to_string(session.join("cgroup.procs")).is_ok_and(|p| p.trim().is_empty())
    });
    let _ = std::fs::remove_dir(&session);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        ps_line(&c, "survivor").contains("Up "),
        "{}",
        ps_line(&c, "survivor")
    );
    c.env.ok(&["rm", "-f", "survivor"]);
}

#[test]
fn twenty_at_once_with_ps_and_rm_beside() {
    let c = Ctx::new("life_many");
    let bb = c.bb();
    let mut children = Vec::new();
    for i in 0..20 {
        let name = format!("m{i}");
        children.push(
            c.env
                .spawn(&["run", "-d", "--name", &name, &bb, "sleep", "60"]),
        );
    }
    // ps and rm -f of names that may or may not exist yet, meanwhile.
    for _ in 0..5 {
        c.env.ok(&["ps", "-a"]);
    }
    c.env.ok(&["rm", "-f", "m0", "m1"]);
    let mut ids = Vec::new();
    for (i, ch) in children.into_iter().enumerate() {
        let out = ch.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            // Only m0 and m1 may fail: removed between creation and start.
            assert!(i < 2 && stderr.contains("No such container"), "{out:?}");
            continue;
        }
        ids.push(String::from_utf8(out.stdout).unwrap().trim().to_string());
    }
    let mut uniq = ids.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), ids.len(), "distinct IDs");
    assert!(ids.len() >= 18);
    // Every record parses and every name is there once (m0/m1 may have
    // been removed, if they existed when rm ran).
    let recs = c.container_records();
    let mut names: Vec<String> = recs
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    let n = names.len();
    names.dedup();
    assert_eq!(names.len(), n, "no duplicate name");
    assert!((18..=20).contains(&n), "{names:?}");
    let running = c.env.ok(&["ps", "-q"]).stdout.lines().count();
    assert_eq!(running, n);
    let all: Vec<String> = names.clone();
    let mut args = vec!["rm", "-f"];
    args.extend(all.iter().map(String::as_str));
    c.env.ok(&args);
    assert!(c.container_dirs().is_empty());
    wait_until("every monitor's exit", Duration::from_secs(10), || {
        monitors_of(&c.env.root).is_empty()
    });
}

#[test]
fn rename_top_port_and_prune() {
    let c = Ctx::new("life_misc");
    let bb = c.bb();
    let id = run_d(
        &c,
        &["--name", "first", &bb, "sh", "-c", "sleep 61 & sleep 62"],
    );
    // rename: the new name works, the old one is gone, taken names refused.
    c.env.ok(&["rename", "first", "second"]);
    assert!(ps_line(&c, "second").contains(&id));
    c.env.run(&["rename", "first", "third"]).assert_code(125);
    c.run_ok(&["--name", "done", &bb, "true"]);
    let out = c.env.run(&["rename", "second", "done"]);
    out.assert_code(125);
    out.assert_stderr_has("is already in use");
    c.env
        .run(&["rename", "second", "bad name"])
        .assert_code(125);

    // top: the container's processes only, with ps's own columns.
    let out = c.env.ok(&["top", "second"]);
    let lines = out.lines();
    assert!(
        lines[0].contains("PID") && lines[0].contains("CMD"),
        "{out}"
    );
    // (the shell execs its last command: pid 1 is `sleep 62`)
    assert_eq!(lines.len(), 3, "the two sleeps:\n{out}");
    assert!(out.stdout.contains("sleep 61") && out.stdout.contains("sleep 62"));
    let out = c.env.ok(&["top", "second", "-o", "pid,comm"]);
    assert!(out.lines()[0].contains("COMMAND"), "{out}");
    c.env.run(&["top", "done"]).assert_code(125);

    // port: nothing published (no bridge networking yet).
    assert_eq!(c.env.ok(&["port", "second"]).stdout, "");
    c.env
        .run(&["port", "second", "80"])
        .assert_code(125)
        .assert_stderr_has("No public port '80/tcp' published for second");

    // prune: stopped containers go, running ones and filtered ones stay.
    c.run_ok(&["--name", "keepme", "--label", "keep=yes", &bb, "true"]);
    let out = c
        .env
        .ok(&["container", "prune", "-f", "--filter", "label!=keep=yes"]);
    out.assert_stdout_has("Deleted Containers:");
    out.assert_stdout_has("Total reclaimed space:");
    let names = c.env.ok(&["ps", "-a"]).stdout;
    assert!(
        !names.contains("done") && names.contains("keepme") && names.contains("second"),
        "{names}"
    );
    c.env
        .run(&["container", "prune", "-f", "--filter", "nope=1"])
        .assert_code(125);
    c.env.ok(&["rm", "-f", "second", "keepme"]);
}

#[test]
fn events_record_the_life_cycle() {
    let c = Ctx::new("life_events");
    let bb = c.bb();
    let start = chrono_now_secs();
    // A follower started first sees what comes after it.
    let mut follow = common::run::Bg::spawn(
        &c.env,
        &[
            "events",
            "--filter",
            "type=container",
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}}",
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    c.run(&[
        "--name", "ev1", "--label", "tier=web", &bb, "sh", "-c", "exit 3",
    ])
    .assert_code(3);
    follow.wait_for("die ev1", Duration::from_secs(20));
    follow.signal(nix::sys::signal::Signal::SIGTERM);
    let seen = follow.finish();
    assert!(
        seen.stdout.contains("create ev1\nstart ev1\ndie ev1\n"),
        "{seen}"
    );

    c.env.ok(&["rename", "ev1", "ev2"]);
    c.env.ok(&["rm", "ev2"]);
    // The past, with --since/--until and filters; Docker's line format.
    let until = (chrono_now_secs() + 1).to_string();
    let since = start.to_string();
    let out = c.env.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "container=ev2",
    ]);
    let lines = out.lines();
    let actions: Vec<&str> = lines
        .iter()
        .map(|l| l.split_whitespace().nth(2).unwrap())
        .collect();
    assert_eq!(actions, ["rename", "destroy"], "{out}");
    assert!(
        lines[0].contains("container rename") && lines[0].contains("(image="),
        "{out}"
    );
    let out = c.env.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "event=die",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(out.lines()[0]).unwrap();
    assert_eq!(v["Actor"]["Attributes"]["exitCode"], "3", "{out}");
    assert_eq!(v["Actor"]["Attributes"]["tier"], "web", "{out}");
    c.env
        .run(&["events", "--filter", "nope=1", "--until", &until])
        .assert_code(125);
    c.env
        .run(&["events", "--since", "whenever"])
        .assert_code(125);
}

fn chrono_now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn detached_with_a_tty_and_without_a_log() {
    let c = Ctx::new("life_tty_nolog");
    let bb = c.bb();
    // -t: the monitor holds the pty; the output lands in the log.
    let id = run_d(&c, &["-t", &bb, "sh", "-c", "tty; echo hi"]);
    assert_eq!(c.env.ok(&["wait", &id]).stdout, "0\n");
    let logs = c.env.ok(&["logs", &id]);
    assert!(logs.stdout.starts_with("/dev/pts/0"), "{logs}");
    assert!(logs.stdout.contains("hi"), "{logs}");
    // --log-driver none: nothing is written, and logs says why.
    let id = run_d(&c, &["--log-driver", "none", &bb, "echo", "hi"]);
    assert_eq!(c.env.ok(&["wait", &id]).stdout, "0\n");
    let dir = c.env.root.join("containers").join(&id);
    let files = common::expect::entries(&dir);
    assert!(!files.iter().any(|f| f.ends_with(".log")), "{files:?}");
    c.env
        .run(&["logs", &id])
        .assert_code(125)
        .assert_stderr_has("does not support reading");
    c.env
        .run(&["run", "-d", "--log-driver", "syslog", &bb, "true"])
        .assert_code(125);
    c.env
        .run(&[
            "run",
            "-d",
            "--log-opt",
            "max-size=1k",
            "--log-opt",
            "oops",
            &bb,
            "true",
        ])
        .assert_code(125);
}

#[test]
fn a_foreground_container_is_running_for_other_commands() {
    let c = Ctx::new("life_fg");
    let bb = c.bb();
    let mut fg = c.spawn_run(&["--name", "fg", &bb, "sh", "-c", "echo ready; sleep 30"]);
    fg.wait_for("ready", Duration::from_secs(30));
    // The record says running once skiff has seen the exec, which the
    // container's first output can overtake by a moment.
    wait_until("fg running", Duration::from_secs(10), || {
        ps_line(&c, "fg").contains("Up ")
    });
    // exec and top reach it: its pid is recorded.
    let out = c.env.ok(&["exec", "fg", "cat", "/proc/1/cmdline"]);
    assert!(out.stdout.starts_with("sleep"), "{out}");
    c.env.ok(&["top", "fg"]).assert_stdout_has("sleep 30");
    // stop from another command ends the foreground run with its code.
    c.env.ok(&["stop", "-t", "1", "fg"]);
    let out = fg.finish();
    assert_eq!(out.code, 137, "{out}");
    assert!(ps_line(&c, "fg").contains("Exited (137)"));
    c.env.ok(&["rm", "fg"]);
}
