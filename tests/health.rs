//! Health checks: the image's `HEALTHCHECK` and the `--health-*` flags,
//! run in the container by its monitor; `State.Health` in `inspect`,
//! `(healthy)` in `ps`, `--filter health=`, `health_status` events.

mod common;

use common::run::Ctx;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Wait until the container's health status is `want`; its inspect then.
fn wait_health(c: &Ctx, name: &str, want: &str, timeout: Duration) -> Value {
    let end = Instant::now() + timeout;
    loop {
        // The container may not exist yet (a foreground run starting).
        let out = c.env.run(&["inspect", name]);
        let v = serde_json::from_str::<Value>(&out.stdout).unwrap_or_default()[0].clone();
        if v["State"]["Health"]["Status"] == want {
            return v;
        }
        assert!(
            Instant::now() < end,
            "{name} never became {want}: {:#}",
            v["State"]
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn ps_status(c: &Ctx, name: &str) -> String {
    c.env
        .ok(&[
            "ps",
            "-a",
            "--filter",
            &format!("name=^{name}$"),
            "--format",
            "{{.Status}}",
        ])
        .stdout
        .trim()
        .to_string()
}

fn ps_names(c: &Ctx, filter: &str) -> Vec<String> {
    let out = c
        .env
        .ok(&["ps", "-a", "--filter", filter, "--format", "{{.Names}}"]);
    let mut names: Vec<String> = out.stdout.lines().map(str::to_string).collect();
    names.sort();
    names
}

#[test]
fn the_images_check_turns_healthy_and_unhealthy() {
    let c = Ctx::with("health_image", &["busybox", "run/health"]);
    let img = c.image("run/health");
    c.run_ok(&["-d", "--name", "hc", &img, "sleep", "1000"]);
    c.run_ok(&["-d", "--name", "plain", &c.bb(), "sleep", "1000"]);
    let v = c.inspect("hc");
    assert_eq!(
        v["Config"]["Healthcheck"]["Test"],
        serde_json::json!(["CMD-SHELL", "test -f /tmp/ok"]),
        "{:#}",
        v["Config"]
    );
    assert_eq!(v["Config"]["Healthcheck"]["Interval"], 200_000_000);
    assert_eq!(
        v["State"]["Health"]["Status"], "starting",
        "{:#}",
        v["State"]
    );
    assert!(
        ps_status(&c, "hc").ends_with("(health: starting)"),
        "{}",
        ps_status(&c, "hc")
    );
    assert!(c.inspect("plain")["State"].get("Health").is_none());

    c.env.ok(&["exec", "hc", "touch", "/tmp/ok"]);
    let v = wait_health(&c, "hc", "healthy", Duration::from_secs(10));
    let log = v["State"]["Health"]["Log"].as_array().unwrap().clone();
    let last = log.last().unwrap();
    assert_eq!(last["ExitCode"], 0, "{last:#}");
    assert!(last["Start"].as_str().unwrap() <= last["End"].as_str().unwrap());
    assert!(
        ps_status(&c, "hc").ends_with("(healthy)"),
        "{}",
        ps_status(&c, "hc")
    );
    assert_eq!(ps_names(&c, "health=healthy"), ["hc"]);
    assert_eq!(ps_names(&c, "health=none"), ["plain"]);

    // Two failures in a row (the image's Retries) make it unhealthy.
    c.env.ok(&["exec", "hc", "rm", "/tmp/ok"]);
    let v = wait_health(&c, "hc", "unhealthy", Duration::from_secs(10));
    let h = &v["State"]["Health"];
    assert!(h["FailingStreak"].as_u64().unwrap() >= 2, "{h:#}");
    let log = h["Log"].as_array().unwrap();
    assert!(log.len() <= 5, "{h:#}");
    assert_eq!(log.last().unwrap()["ExitCode"], 1, "{h:#}");
    assert!(ps_status(&c, "hc").ends_with("(unhealthy)"));
    assert_eq!(ps_names(&c, "health=unhealthy"), ["hc"]);
    let events = c.env.ok(&[
        "events",
        "--since",
        "10m",
        "--until=-1s",
        "--filter",
        "container=hc",
        "--format",
        "{{.Action}}",
    ]);
    let actions: Vec<&str> = events
        .stdout
        .lines()
        .filter(|l| l.starts_with("health_status"))
        .collect();
    assert_eq!(
        actions,
        ["health_status: healthy", "health_status: unhealthy"],
        "{events}"
    );

    // A restart starts the check over; a stopped container's check is
    // unhealthy, as Docker has it.
    c.env.ok(&["restart", "-t", "0", "hc"]);
    assert_eq!(c.inspect("hc")["State"]["Health"]["Status"], "starting");
    c.env.ok(&["stop", "-t", "0", "hc"]);
    let v = c.inspect("hc");
    assert_eq!(
        v["State"]["Health"]["Status"], "unhealthy",
        "{:#}",
        v["State"]
    );
    c.env.ok(&["rm", "-f", "hc", "plain"]);
}

#[test]
fn the_probe_runs_as_the_container_and_its_output_is_kept() {
    let c = Ctx::new("health_probe");
    c.run_ok(&[
        "-d",
        "--name",
        "who",
        "-u",
        "1000:1000",
        "-w",
        "/tmp",
        "-e",
        "FOO=from-run",
        "--health-cmd",
        "echo out-$FOO; id -u; pwd; echo err >&2",
        "--health-interval",
        "100ms",
        &c.bb(),
        "sleep",
        "1000",
    ]);
    let v = wait_health(&c, "who", "healthy", Duration::from_secs(10));
    let out = v["State"]["Health"]["Log"][0]["Output"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(out, "out-from-run\n1000\n/tmp\nerr\n", "{:#}", v["State"]);
    assert_eq!(
        v["Config"]["Healthcheck"],
        serde_json::json!({"Test": ["CMD-SHELL", "echo out-$FOO; id -u; pwd; echo err >&2"], "Interval": 100_000_000})
    );
    // Long output is cut at 4096 bytes.
    c.run_ok(&[
        "-d",
        "--name",
        "chatty",
        "--health-cmd",
        "seq 1 5000",
        "--health-interval",
        "100ms",
        &c.bb(),
        "sleep",
        "1000",
    ]);
    let v = wait_health(&c, "chatty", "healthy", Duration::from_secs(10));
    let out = v["State"]["Health"]["Log"][0]["Output"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(out.len(), 4096 + 3);
    assert!(out.starts_with("1\n2\n3\n") && out.ends_with("..."));
    c.env.ok(&["rm", "-f", "who", "chatty"]);
}

#[test]
fn a_probe_past_its_timeout_is_killed_and_fails() {
    let c = Ctx::new("health_timeout");
    c.run_ok(&[
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "echo begun; exec sleep 30",
        "--health-timeout",
        "300ms",
        "--health-interval",
        "100ms",
        "--health-retries",
        "1",
        &c.bb(),
        "sleep",
        "1000",
    ]);
    let v = wait_health(&c, "slow", "unhealthy", Duration::from_secs(10));
    let last = &v["State"]["Health"]["Log"][0];
    assert_eq!(last["ExitCode"], -1, "{last:#}");
    assert_eq!(
        last["Output"], "Health check exceeded timeout (300ms): begun\n",
        "{last:#}"
    );
    // The timed-out probes are gone from the container, reaped (its init,
    // `sleep`, reaps nothing): only the probe running now, if one is,
    // shows `sleep 30`.
    std::thread::sleep(Duration::from_secs(1));
    let ps = c.env.ok(&["exec", "slow", "ps", "-o", "pid,stat,args"]);
    let sleeping = ps.stdout.lines().filter(|l| l.contains("sleep 30")).count();
    assert!(sleeping <= 1, "{ps}");
    assert!(!ps.stdout.lines().any(|l| l.contains(" Z ")), "{ps}");
    c.env.ok(&["rm", "-f", "slow"]);
}

#[test]
fn the_start_period_forgives_failures_until_it_ends() {
    let c = Ctx::new("health_start");
    c.run_ok(&[
        "-d",
        "--name",
        "boot",
        "--health-cmd",
        "false",
        "--health-interval",
        "100ms",
        "--health-start-interval",
        "100ms",
        "--health-start-period",
        "1500ms",
        "--health-retries",
        "1",
        &c.bb(),
        "sleep",
        "1000",
    ]);
    std::thread::sleep(Duration::from_millis(700));
    let v = c.inspect("boot");
    let h = &v["State"]["Health"];
    assert_eq!(h["Status"], "starting", "{h:#}");
    assert_eq!(h["FailingStreak"], 0, "{h:#}");
    assert!(!h["Log"].as_array().unwrap().is_empty(), "{h:#}");
    wait_health(&c, "boot", "unhealthy", Duration::from_secs(10));
    c.env.ok(&["rm", "-f", "boot"]);
}

#[test]
fn no_healthcheck_and_bad_settings() {
    let c = Ctx::with("health_flags", &["busybox", "run/health"]);
    let img = c.image("run/health");
    c.run_ok(&[
        "-d",
        "--name",
        "off",
        "--no-healthcheck",
        &img,
        "sleep",
        "1000",
    ]);
    let v = c.inspect("off");
    assert_eq!(
        v["Config"]["Healthcheck"]["Test"],
        serde_json::json!(["NONE"])
    );
    assert!(v["State"].get("Health").is_none(), "{:#}", v["State"]);
    assert_eq!(ps_names(&c, "health=none"), ["off"]);
    // Flags over the image's check, field by field.
    c.env
        .ok(&["create", "--name", "tuned", "--health-retries", "7", &img]);
    let v = c.inspect("tuned");
    assert_eq!(
        v["Config"]["Healthcheck"],
        serde_json::json!({"Test": ["CMD-SHELL", "test -f /tmp/ok"], "Interval": 200_000_000, "Retries": 7})
    );
    // A commit keeps the container's check, as Docker's does.
    c.env.ok(&["commit", "tuned", "tuned-image"]);
    let out = c.env.ok(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config.Healthcheck}}",
        "tuned-image",
    ]);
    let h: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(h["Retries"], 7, "{out}");
    assert_eq!(h["Test"][1], "test -f /tmp/ok", "{out}");
    c.env.ok(&["rm", "-f", "off", "tuned"]);

    let bb = c.bb();
    for args in [
        vec!["--health-interval", "10"],
        vec!["--health-interval", "-1s"],
        vec!["--health-timeout", "500us"],
        vec!["--health-retries", "-1"],
        vec!["--no-healthcheck", "--health-cmd", "true"],
    ] {
        let mut a = args.clone();
        a.extend([bb.as_str(), "true"]);
        c.run(&a).assert_code(125).assert_error_line();
    }
    c.env
        .run(&["ps", "--filter", "health=sick"])
        .assert_code(125)
        .assert_error_line();
    assert!(c.container_records().is_empty());
}

#[test]
fn a_foreground_container_is_checked_too() {
    let c = Ctx::new("health_fg");
    let mut fg = c.spawn_run(&[
        "--name",
        "fg",
        "--health-cmd",
        "test -f /tmp/up",
        "--health-interval",
        "100ms",
        &c.bb(),
        "sh",
        "-c",
        "touch /tmp/up; sleep 2; echo done",
    ]);
    let v = wait_health(&c, "fg", "healthy", Duration::from_secs(10));
    assert_eq!(v["State"]["Status"], "running");
    fg.wait_for("done", Duration::from_secs(10));
    let out = fg.finish();
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(c.inspect("fg")["State"]["Health"]["Status"], "unhealthy");
    c.env.ok(&["rm", "fg"]);
}
