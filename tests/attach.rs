//! `attach` and `start -a`: a detached container's streams through its
//! monitor, input included, and the detach keys through a real pty.

mod common;

use common::pty::PtyRun;
use common::run::Ctx;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn attach_to_a_tty_container_type_and_detach() {
    let c = Ctx::new("attach_tty");
    let out = c.run_ok(&[
        "-d",
        "-it",
        "--name",
        "shell",
        &c.bb(),
        "sh",
        "-c",
        "while read l; do echo got-$l; done",
    ]);
    let id = out.stdout.trim().to_string();
    let mut p = PtyRun::spawn(&c.env, &["attach", "shell"], 30, 90);
    std::thread::sleep(Duration::from_millis(300));
    p.write(b"hello\r");
    p.wait_for("got-hello", WAIT);
    // ctrl-p ctrl-q: skiff leaves, the container runs on.
    p.write(&[16, 17]);
    let out = p.finish();
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.mode_after, out.mode_before, "terminal restored");
    let ps = c.env.ok(&["ps", "-q", "--no-trunc"]);
    assert!(ps.stdout.contains(&id), "still running after detach:\n{ps}");
    // Attach again; the size of this terminal reaches the container's.
    let mut p = PtyRun::spawn(
        &c.env,
        &["attach", "--detach-keys", "ctrl-a", "shell"],
        41,
        77,
    );
    std::thread::sleep(Duration::from_millis(300));
    p.write(b"again\r");
    p.wait_for("got-again", WAIT);
    let size = c
        .env
        .ok(&["exec", "shell", "stty", "-F", "/dev/console", "size"]);
    assert_eq!(size.stdout.trim(), "41 77", "{size}");
    // ctrl-d ends `read`: the container exits and attach returns its code.
    p.write(&[4]);
    let out = p.finish();
    assert_eq!(out.code, 0, "{out}");
    c.env.ok(&["rm", "shell"]);
}

#[test]
fn attach_without_a_tty_streams_apart_and_sends_stdin() {
    let c = Ctx::new("attach_pipes");
    c.run_ok(&[
        "-d",
        "-i",
        "--name",
        "cat",
        &c.bb(),
        "sh",
        "-c",
        "while read l; do echo out-$l; echo err-$l >&2; done; exit 7",
    ]);
    let mut a = common::run::Bg::spawn_with_stdin(&c.env, &["attach", "cat"]);
    std::thread::sleep(Duration::from_millis(300));
    a.write_stdin(b"one\n");
    a.wait_for("out-one", WAIT);
    a.write_stdin(b"two\n");
    a.wait_for("out-two", WAIT);
    // The container's end ends the attach, with the container's code.
    c.env.ok(&["kill", "cat"]);
    let out = a.finish();
    assert_eq!(out.code, 137, "{out}");
    c.env.ok(&["rm", "cat"]);
    assert!(out.stderr.contains("err-one"), "{out}");
    assert!(!out.stdout.contains("err-one"), "{out}");
    c.run_ok(&["-d", "--name", "cat", &c.bb(), "true"]);
    c.env.ok(&["wait", "cat"]);
    // A stopped container cannot be attached.
    c.env
        .run(&["attach", "cat"])
        .assert_code(125)
        .assert_error_line();
    c.env.ok(&["rm", "cat"]);
}

#[test]
fn start_attach_sees_the_first_output_and_returns_the_code() {
    let c = Ctx::new("attach_start");
    c.env.ok(&[
        "create",
        "--name",
        "quick",
        &c.bb(),
        "sh",
        "-c",
        "echo first; echo second >&2; exit 5",
    ]);
    let out = c.env.run(&["start", "-a", "quick"]);
    out.assert_code(5);
    assert_eq!(out.stdout, "first\n", "{out}");
    assert_eq!(out.stderr, "second\n", "{out}");
    // And again: a stopped container starts over, attached.
    let out = c.env.run(&["start", "-a", "quick"]);
    out.assert_code(5);
    assert_eq!(out.stdout, "first\n", "{out}");
    // -i sends stdin.
    c.env.ok(&[
        "create",
        "-i",
        "--name",
        "reader",
        &c.bb(),
        "sh",
        "-c",
        "read l; echo got-$l",
    ]);
    let out = c
        .env
        .run_stdin(&["start", "-a", "-i", "reader"], Some(b"hey\n"));
    out.assert_ok();
    assert_eq!(out.stdout, "got-hey\n", "{out}");
    c.env.ok(&["rm", "quick", "reader"]);
}
