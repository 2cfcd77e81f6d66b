//! Nothing stays behind after `run --rm`: no container directory, no
//! mount in the host's table, no process, no cgroup, no runroot entry,
//! and a consistent store; after many runs, after failures, and after a
//! container is killed.
//!
//! The soak runs 10 containers by default; `SKIFF_SOAK=1` runs 100.

mod common;

use common::run::{is_short_id, mark, Ctx};
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};

#[test]
fn many_rm_runs_leave_nothing() {
    let c = Ctx::new("run_cleanup_soak");
    let n = if std::env::var_os("SKIFF_SOAK").is_some() {
        100
    } else {
        10
    };
    let m = mark("soak");
    let bb = c.bb();
    let start = Instant::now();
    let mut ids = Vec::new();
    for _ in 0..n {
        // The default hostname is the short id: the name to look for in
        // the cgroup tree and the runroot afterwards.
        let out = c.run_ok(&["--rm", "-e", &m, &bb, "hostname"]);
        let id = out.stdout.trim().to_string();
        assert!(is_short_id(&id), "{out}");
        ids.push(id);
    }
    eprintln!("{n} runs of `run --rm` took {:?}", start.elapsed());
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), n, "every container has its own id");
    c.assert_nothing_left(&ids, Some(&m));
}

#[test]
fn failures_leave_nothing() {
    let c = Ctx::new("run_cleanup_failures");
    let bb = c.bb();
    let m = mark("failures");
    let missing_src = format!(
        "type=bind,source={},target=/x",
        c.env.path("missing").display()
    );
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["/nonexistent"], 127),
        (vec!["/etc"], 126),
        (vec!["sh", "-c", "exit 3"], 3),
        (vec!["-w", "/etc/passwd", "true"], 125),
        (vec!["-u", "nosuchuser", "true"], 125),
        (vec!["--mount", &missing_src, "true"], 125),
        (vec!["--sysctl", "kernel.panic=5", "true"], 125),
    ];
    for (rest, code) in &cases {
        // Flags go before the image, the command after it.
        let (flags, cmd): (Vec<&str>, Vec<&str>) = if rest[0].starts_with('-') {
            (rest[..2].to_vec(), rest[2..].to_vec())
        } else {
            (vec![], rest.clone())
        };
        let mut a = vec!["--rm", "-e", m.as_str()];
        a.extend(flags);
        a.push(&bb);
        a.extend(cmd);
        c.run(&a).assert_code(*code);
    }
    c.assert_nothing_left(&[], Some(&m));
}

#[test]
fn a_container_ended_by_a_signal_leaves_nothing() {
    let c = Ctx::new("run_cleanup_signal");
    let m = mark("signal");
    let mut bg = c.spawn_run(&[
        "--rm",
        "-e",
        &m,
        &c.bb(),
        "sh",
        "-c",
        "trap 'exit 9' TERM; hostname; echo ready; i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; exit 99",
    ]);
    bg.wait_for("ready", Duration::from_secs(60));
    let id = bg.stdout_now().lines().next().unwrap_or("").to_string();
    bg.signal(Signal::SIGTERM);
    bg.finish().assert_code(9);
    c.assert_nothing_left(&[id], Some(&m));
}

#[test]
fn kept_containers_hold_no_mounts_after_exit() {
    let c = Ctx::new("run_cleanup_kept");
    let bb = c.bb();
    for _ in 0..3 {
        c.run_ok(&[&bb, "true"]);
    }
    assert_eq!(c.container_dirs().len(), 3);
    let mounts = common::run::mounts_under(&[&c.env.root, &c.env.runroot]);
    assert!(
        mounts.is_empty(),
        "an exited container keeps its files, not its mounts:\n{}",
        mounts.join("\n")
    );
    c.env.assert_store_clean();
}
