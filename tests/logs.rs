//! `skiff logs`: a detached container's output read back from its log,
//! stdout and stderr apart, with Docker's `--tail`, `-t`, `--details`,
//! `--since`/`--until`, and `-f` following a running container (across
//! rotation) until it exits; the k8s-file driver; the errors for the
//! `none` driver, a missing container and a bad time.

mod common;

use common::run::{Bg, Ctx};
use std::time::{Duration, Instant};

/// `skiff run -d --name NAME FLAGS busybox sh -c SCRIPT`; its ID.
fn detached(c: &Ctx, name: &str, flags: &[&str], script: &str) -> String {
    let bb = c.bb();
    let mut a = vec!["-d", "--name", name];
    a.extend_from_slice(flags);
    a.extend_from_slice(&[&bb, "sh", "-c", script]);
    let out = c.run_ok(&a);
    out.stdout.trim().to_string()
}

fn wait_exit(c: &Ctx, name: &str) {
    c.env.ok(&["wait", name]);
}

/// The `-t` prefix: RFC 3339 UTC with exactly nine fraction digits.
fn is_docker_time(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 30
        && b[4] == b'-'
        && b[10] == b'T'
        && b[19] == b'.'
        && s.ends_with('Z')
        && b[20..29].iter().all(u8::is_ascii_digit)
        && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

#[test]
fn streams_stay_apart_with_tail_timestamps_and_details() {
    let c = Ctx::new("logs_streams");
    detached(
        &c,
        "cs",
        &[],
        // Pauses order the entries across the two streams (the monitor
        // reads two pipes).
        "echo out1; sleep 0.1; echo err1 >&2; sleep 0.1; echo out2; echo out3; printf 'no newline'",
    );
    wait_exit(&c, "cs");

    let out = c.env.ok(&["logs", "cs"]);
    assert_eq!(out.stdout, "out1\nout2\nout3\nno newline", "{out}");
    assert_eq!(out.stderr, "err1\n", "{out}");
    let same = c.env.ok(&["container", "logs", "cs"]);
    assert_eq!((same.stdout, same.stderr), (out.stdout, out.stderr));

    // The last N entries, whichever stream they came from.
    let out = c.env.ok(&["logs", "--tail", "3", "cs"]);
    assert_eq!(out.stdout, "out2\nout3\nno newline", "{out}");
    assert_eq!(out.stderr, "", "{out}");
    let out = c.env.ok(&["logs", "-n", "4", "cs"]);
    assert_eq!(out.stderr, "err1\n", "{out}");
    let out = c.env.ok(&["logs", "-n", "0", "cs"]);
    assert_eq!(out.all().trim(), "", "{out}");
    let out = c.env.ok(&["logs", "--tail", "all", "cs"]);
    assert_eq!(out.stdout, "out1\nout2\nout3\nno newline", "{out}");

    let out = c.env.ok(&["logs", "-t", "cs"]);
    let lines: Vec<&str> = out.stdout.split_inclusive('\n').collect();
    assert_eq!(lines.len(), 4, "{out}");
    for (line, want) in lines
        .iter()
        .zip(["out1\n", "out2\n", "out3\n", "no newline"])
    {
        let (time, text) = line.split_once(' ').unwrap();
        assert!(is_docker_time(time), "{time:?} in {out}");
        assert_eq!(text, want, "{out}");
    }
    let (time, text) = out.stderr.split_once(' ').unwrap();
    assert!(is_docker_time(time) && text == "err1\n", "{out}");

    // Without attributes, Docker's --details leaves its separating space.
    let out = c.env.ok(&["logs", "--details", "cs"]);
    assert_eq!(out.stdout, " out1\n out2\n out3\n no newline", "{out}");

    c.env.ok(&["rm", "-f", "cs"]);
}

#[test]
fn since_and_until_pick_entries_by_time() {
    let c = Ctx::new("logs_since");
    detached(&c, "ct", &[], "echo early; sleep 1.2; echo late");
    wait_exit(&c, "ct");
    let out = c.env.ok(&["logs", "-t", "ct"]);
    let stamps: Vec<&str> = out
        .stdout
        .lines()
        .map(|l| l.split_once(' ').unwrap().0)
        .collect();
    assert_eq!(stamps.len(), 2, "{out}");
    let (early, late) = (stamps[0], stamps[1]);

    let logs = |args: &[&str]| {
        let mut a = vec!["logs"];
        a.extend_from_slice(args);
        a.push("ct");
        c.env.ok(&a).stdout
    };
    assert_eq!(logs(&["--since", late]), "late\n");
    assert_eq!(logs(&["--until", early]), "early\n");
    assert_eq!(logs(&["--since", early, "--until", late]), "early\nlate\n");
    // Unix seconds with a fraction, half a second before the late line.
    let t =
        chrono::DateTime::parse_from_rfc3339(late).unwrap() - chrono::Duration::milliseconds(500);
    let unix = format!("{}.{:09}", t.timestamp(), t.timestamp_subsec_nanos());
    assert_eq!(logs(&["--since", &unix]), "late\n");
    // Relative: everything is newer than ten minutes, nothing older.
    assert_eq!(logs(&["--since", "10m"]), "early\nlate\n");
    assert_eq!(logs(&["--until", "1h30m"]), "");
    assert_eq!(logs(&["--since", "2000-01-01T00:00:00Z"]), "early\nlate\n");

    for (flag, bad) in [("--since", "yesterday"), ("--until", "2026-13-45")] {
        let out = c.env.fails(&["logs", flag, bad, "ct"]);
        out.assert_error_line();
        out.assert_stderr_has(&format!(
            "invalid value for \"{}\"",
            flag.trim_start_matches('-')
        ));
        assert_eq!(out.stdout, "", "{out}");
    }
    c.env.ok(&["rm", "-f", "ct"]);
}

#[test]
fn follow_prints_as_the_container_writes_and_returns_at_its_exit() {
    let c = Ctx::new("logs_follow");
    detached(
        &c,
        "cf",
        &[],
        "for i in 1 2 3; do echo $i; echo e$i >&2; sleep 0.3; done",
    );
    let mut bg = Bg::spawn(&c.env, &["logs", "-f", "cf"]);
    bg.wait_for("1\n", Duration::from_secs(5));
    // Shown while the container still runs, not at its end.
    assert!(
        !bg.stdout_now().contains('3'),
        "followed live:\n{}",
        bg.stdout_now()
    );
    let start = Instant::now();
    let out = bg.finish();
    out.assert_ok();
    assert_eq!(out.stdout, "1\n2\n3\n", "{out}");
    assert_eq!(out.stderr, "e1\ne2\ne3\n", "{out}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "returned at the container's exit, not {:?} later",
        start.elapsed()
    );
    // Following an exited container prints what there is and returns.
    let out = c.env.ok(&["logs", "-f", "--tail", "2", "cf"]);
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("3\n", "e3\n"));
    c.env.ok(&["rm", "-f", "cf"]);

    // A time to come in --until ends the follow then, the container
    // running on.
    detached(&c, "cu", &[], "echo a; sleep 30");
    let until = (chrono::Utc::now() + chrono::Duration::milliseconds(1500))
        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let start = Instant::now();
    let out = c.env.ok(&["logs", "-f", "--until", &until, "cu"]);
    assert_eq!(out.stdout, "a\n", "{out}");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "returned at --until, after {took:?}"
    );
    c.env.ok(&["rm", "-f", "cu"]);
}

#[test]
fn follow_goes_on_across_rotation() {
    let c = Ctx::new("logs_rotation");
    // ~200 lines of ~80 bytes through 1 KiB files: many rotations, slow
    // enough that a follower is never two files behind.
    let id = detached(
        &c,
        "cr",
        &["--log-opt", "max-size=1k", "--log-opt", "max-file=3"],
        "sleep 0.5; i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); \
         [ $((i % 5)) -eq 0 ] && sleep 0.05; done; echo done",
    );
    let bg = Bg::spawn(&c.env, &["logs", "--follow", "cr"]);
    let out = bg.finish();
    out.assert_ok();
    let mut want: String = (0..200).map(|i| format!("line-{i}\n")).collect();
    want.push_str("done\n");
    assert_eq!(out.stdout, want, "every line once, in order:\n{out}");

    let dir = c.env.root.join("containers").join(&id);
    let log = dir.join(format!("{id}-json.log"));
    for f in [log.clone(), dir.join(format!("{id}-json.log.1"))] {
        let len = std::fs::metadata(&f).unwrap().len();
        assert!(len <= 1024, "{} is {len} bytes", f.display());
    }
    assert!(!dir.join(format!("{id}-json.log.3")).exists());
    // Without -f only what rotation kept: the newest lines.
    let out = c.env.ok(&["logs", "cr"]);
    assert!(out.stdout.ends_with("line-199\ndone\n"), "{out}");
    assert!(!out.stdout.contains("line-0\n"), "{out}");
    c.env.ok(&["rm", "-f", "cr"]);
}

#[test]
fn k8s_file_logs_read_back() {
    let c = Ctx::new("logs_k8s");
    let id = detached(
        &c,
        "ck",
        &["--log-driver", "k8s-file"],
        "echo out; echo err >&2",
    );
    wait_exit(&c, "ck");
    let ctr = c.env.root.join("containers").join(&id).join("ctr.log");
    let raw = std::fs::read_to_string(&ctr).unwrap();
    assert!(raw.contains(" stdout F out\n"), "{raw}");
    let out = c.env.ok(&["logs", "ck"]);
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("out\n", "err\n")
    );
    let out = c.env.ok(&["logs", "-t", "ck"]);
    let (time, text) = out.stdout.split_once(' ').unwrap();
    assert!(is_docker_time(time) && text == "out\n", "{out}");
    c.env.ok(&["rm", "-f", "ck"]);
}

#[test]
fn unreadable_and_missing_logs() {
    let c = Ctx::new("logs_errors");
    detached(&c, "cn", &["--log-driver", "none"], "echo hidden");
    wait_exit(&c, "cn");
    for args in [&["logs", "cn"][..], &["logs", "-f", "cn"]] {
        let out = c.env.fails(args);
        out.assert_error_line();
        out.assert_stderr_has("configured logging driver does not support reading");
        assert_eq!(out.stdout, "", "{out}");
    }
    let out = c.env.fails(&["logs", "nope"]);
    out.assert_error_line();
    out.assert_stderr_has("No such container: nope");
    c.env.ok(&["rm", "-f", "cn"]);

    // A foreground container with no log: its output still reaches the
    // terminal.
    let bb = c.bb();
    let out = c.run_ok(&["--name", "fg", "--log-driver", "none", &bb, "echo", "hi"]);
    assert_eq!(out.stdout, "hi\n");
    let out = c.env.fails(&["logs", "fg"]);
    out.assert_stderr_has("configured logging driver does not support reading");
    c.env.ok(&["rm", "-f", "fg"]);
}

#[test]
fn a_foreground_containers_output_is_logged_too() {
    let c = Ctx::new("logs_fg");
    let bb = c.bb();
    // Streams apart, on the terminal and in the log.
    let out = c.run_ok(&[
        "--name",
        "fg",
        &bb,
        "sh",
        "-c",
        "echo out1; echo err1 >&2; echo out2; printf unended",
    ]);
    assert_eq!(out.stdout, "out1\nout2\nunended");
    assert_eq!(out.stderr, "err1\n");
    let logs = c.env.ok(&["logs", "fg"]);
    assert_eq!(logs.stdout, "out1\nout2\nunended");
    assert_eq!(logs.stderr, "err1\n");
    let tail = c.env.ok(&["logs", "--tail", "1", "-t", "fg"]);
    assert!(tail.stdout.ends_with(" unended"), "{tail}");

    // -i: stdin passed in, output logged.
    let out = c.run_stdin(
        &["-i", "--name", "fgi", &bb, "sh", "-c", "cat; echo done"],
        b"piped\n",
    );
    out.assert_ok();
    assert_eq!(out.stdout, "piped\ndone\n");
    assert_eq!(c.env.ok(&["logs", "fgi"]).stdout, "piped\ndone\n");

    // A lot of output, whole on both sides.
    let out = c.run_ok(&["--name", "big", &bb, "sh", "-c", "seq 1 50000"]);
    assert_eq!(out.stdout.lines().count(), 50000);
    let logs = c.env.ok(&["logs", "big"]);
    assert_eq!(logs.stdout, out.stdout);

    // With a terminal: what the terminal showed.
    let run = common::pty::PtyRun::spawn(
        &c.env,
        &[
            "run",
            "-t",
            "--name",
            "fgt",
            &bb,
            "sh",
            "-c",
            "echo on-the-tty",
        ],
        24,
        80,
    );
    let shown = run.finish();
    assert!(shown.text().contains("on-the-tty"), "{shown}");
    let logs = c.env.ok(&["logs", "fgt"]);
    assert!(logs.stdout.contains("on-the-tty"), "{logs}");
    c.env.ok(&["rm", "fg", "fgi", "big", "fgt"]);
}
