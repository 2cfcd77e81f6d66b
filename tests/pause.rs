//! `pause` and `unpause` through the cgroup freezer: a counter stops and
//! goes on, the state says so everywhere, the commands a paused container
//! cannot serve refuse it with Docker's words, and the ways out (`kill`,
//! `stop`, `rm -f`) still end it.

mod common;

use common::run::Ctx;
use std::time::{Duration, Instant};

/// A container counting up in /n every 20 ms.
fn counter(c: &Ctx, name: &str) -> u32 {
    let bb = c.bb();
    c.run_ok(&[
        "-d",
        "--name",
        name,
        &bb,
        "sh",
        "-c",
        "i=0; while :; do i=$((i+1)); echo $i > /n; sleep 0.02; done",
    ]);
    c.inspect(name)["State"]["Pid"].as_u64().unwrap() as u32
}

/// The counter as the host reads it, through the container's root.
fn count(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/root/n"))
        .unwrap_or_default()
        .trim()
        .parse()
        .unwrap_or(0)
}

/// Wait until the counter passes `above`, at most five seconds.
fn counts_past(pid: u32, above: u64) -> bool {
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if count(pid) > above {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn pause_stops_a_counter_and_unpause_resumes_it() {
    let c = Ctx::new("pause_counter");
    let pid = counter(&c, "ticker");
    assert!(counts_past(pid, 2), "the counter never counted");

    assert_eq!(c.env.ok(&["pause", "ticker"]).stdout.trim(), "ticker");
    let j = c.inspect("ticker");
    assert_eq!(j["State"]["Status"], "paused", "{j:#}");
    assert_eq!(j["State"]["Paused"], true);
    assert_eq!(j["State"]["Running"], true);
    let ps = c
        .env
        .ok(&["ps", "--format", "{{.Names}} {{.Status}}"])
        .stdout;
    assert!(ps.contains("ticker Up") && ps.contains("(Paused)"), "{ps}");
    let only = c.env.ok(&["ps", "-q", "--filter", "status=paused"]).stdout;
    assert_eq!(only.lines().count(), 1, "{only}");

    // Frozen: nothing counts while it is.
    let held = count(pid);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(count(pid), held, "the counter went on while paused");

    assert_eq!(c.env.ok(&["unpause", "ticker"]).stdout.trim(), "ticker");
    assert!(counts_past(pid, held), "the counter did not go on");
    assert_eq!(c.inspect("ticker")["State"]["Status"], "running");

    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let ev = c
        .env
        .ok(&[
            "events",
            "--since",
            "1",
            "--until",
            &until.to_string(),
            "--filter",
            "container=ticker",
            "--format",
            "{{.Action}}",
        ])
        .stdout;
    let actions: Vec<&str> = ev.lines().collect();
    assert!(
        actions.contains(&"pause") && actions.contains(&"unpause"),
        "{ev}"
    );
    c.env.ok(&["rm", "-f", "ticker"]);
}

#[test]
fn a_paused_container_refuses_what_it_cannot_do() {
    let c = Ctx::new("pause_refuse");
    let bb = c.bb();
    counter(&c, "frozen");
    c.env.ok(&["pause", "frozen"]);
    let id = c.inspect("frozen")["Id"].as_str().unwrap().to_string();

    let again = c.env.fails(&["pause", "frozen"]);
    assert!(
        again
            .stderr
            .contains(&format!("Container {id} is already paused")),
        "{}",
        again.stderr
    );
    let exec = c.env.fails(&["exec", "frozen", "true"]);
    assert!(
        exec.stderr
            .contains("is paused, unpause the container before exec"),
        "{}",
        exec.stderr
    );
    let start = c.env.fails(&["start", "frozen"]);
    assert!(
        start
            .stderr
            .contains("cannot start a paused container, try unpause instead"),
        "{}",
        start.stderr
    );
    let attach = c.env.fails(&["attach", "frozen"]);
    assert!(
        attach
            .stderr
            .contains("You cannot attach to a paused container, unpause it first"),
        "{}",
        attach.stderr
    );
    let rm = c.env.fails(&["rm", "frozen"]);
    assert!(rm.stderr.contains("container is paused"), "{}", rm.stderr);
    assert_eq!(c.inspect("frozen")["State"]["Status"], "paused");

    // Neither paused nor running.
    c.env.ok(&["unpause", "frozen"]);
    let not = c.env.fails(&["unpause", "frozen"]);
    assert!(
        not.stderr
            .contains(&format!("Container {id} is not paused")),
        "{}",
        not.stderr
    );
    c.env.ok(&["create", "--name", "idle", &bb, "true"]);
    let idle = c.env.fails(&["pause", "idle"]);
    assert!(idle.stderr.contains("is not running"), "{}", idle.stderr);
    assert!(c
        .env
        .fails(&["pause", "nosuch"])
        .stderr
        .contains("No such container: nosuch"));
    // Several at once: the failures named, the rest done.
    let both = c.env.run(&["pause", "frozen", "nosuch"]);
    both.assert_code(125);
    assert_eq!(both.stdout.trim(), "frozen");
    c.env.ok(&["rm", "-f", "frozen", "idle"]);
}

#[test]
fn a_paused_container_still_ends() {
    let c = Ctx::new("pause_end");
    // kill: the signal lands once it is thawed.
    counter(&c, "kk");
    c.env.ok(&["pause", "kk"]);
    c.env.ok(&["kill", "kk"]);
    assert_eq!(c.env.ok(&["wait", "kk"]).stdout.trim(), "137");
    assert_eq!(c.inspect("kk")["State"]["Status"], "exited");

    // stop: the stop signal, which sh ignores as pid 1, then SIGKILL.
    counter(&c, "ss");
    c.env.ok(&["pause", "ss"]);
    let t = Instant::now();
    c.env.ok(&["stop", "-t", "1", "ss"]);
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    let j = c.inspect("ss");
    assert_eq!(j["State"]["Status"], "exited", "{j:#}");
    assert_eq!(j["State"]["Paused"], false);

    // rm -f: gone, and its cgroup with it.
    counter(&c, "rr");
    c.env.ok(&["pause", "rr"]);
    let id = c.inspect("rr")["Id"].as_str().unwrap().to_string();
    c.env.ok(&["rm", "-f", "rr"]);
    assert!(common::run::cgroups_left(&id).is_empty());
    c.env.ok(&["rm", "kk", "ss"]);
}

#[test]
fn commit_pauses_a_running_container_and_lets_it_go_on() {
    let c = Ctx::new("pause_commit");
    let pid = counter(&c, "busy");
    assert!(counts_past(pid, 1));
    c.env.ok(&["commit", "busy", "snap:1"]);
    c.env.ok(&["commit", "-p=false", "busy", "snap:2"]);
    // Thawed after each: it still counts.
    assert_eq!(c.inspect("busy")["State"]["Status"], "running");
    let now = count(pid);
    assert!(counts_past(pid, now), "the counter stayed frozen");
    // The counter's file, as the freeze found it.
    c.run_ok(&["--rm", "snap:1", "test", "-f", "/n"]);
    c.env.ok(&["rm", "-f", "busy"]);
}
