//! `skiff run -t` through a real pty: the container gets a terminal of
//! its own (`/dev/pts/0`) of the outer one's size, resizes follow, output
//! streams, keys reach it in raw mode, its exit code passes through, and
//! the outer terminal's mode is restored afterwards.

mod common;

use common::pty::PtyRun;
use common::run::Ctx;
use nix::sys::termios::LocalFlags;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// The container's first output can overtake skiff's own setup (its
/// SIGWINCH handler, the raw mode) on a loaded machine; a person at the
/// terminal is never that quick.
fn settle() {
    std::thread::sleep(Duration::from_millis(100));
}

fn pty(c: &Ctx, args: &[&str]) -> PtyRun {
    let mut a = vec!["run"];
    a.extend_from_slice(args);
    PtyRun::spawn(&c.env, &a, 33, 101)
}

#[test]
fn the_container_has_its_own_terminal_of_the_outer_size() {
    let c = Ctx::new("run_tty_basic");
    let bb = c.bb();
    let out = pty(
        &c,
        &[
            "--rm",
            "-t",
            &bb,
            "sh",
            "-c",
            "tty; stty size; test -t 0 && echo stdin-is-a-tty",
        ],
    )
    .finish();
    assert_eq!(out.code, 0, "{out}");
    let text = out.text();
    assert!(text.contains("/dev/pts/0\n"), "{out}");
    assert!(text.contains("33 101\n"), "the outer window size:\n{out}");
    assert!(text.contains("stdin-is-a-tty"), "{out}");
    assert_eq!(out.mode_after, out.mode_before, "terminal mode restored");
}

#[test]
fn the_exit_code_passes_through() {
    let c = Ctx::new("run_tty_exit");
    let out = pty(&c, &["--rm", "-t", &c.bb(), "sh", "-c", "exit 7"]).finish();
    assert_eq!(out.code, 7, "{out}");
    let out = pty(&c, &["--rm", "-it", &c.bb(), "/nonexistent"]).finish();
    assert_eq!(out.code, 127, "{out}");
    assert_eq!(
        out.mode_after, out.mode_before,
        "restored after a failure too"
    );
}

#[test]
fn output_is_not_buffered() {
    let c = Ctx::new("run_tty_stream");
    let out = pty(
        &c,
        &[
            "--rm",
            "-t",
            &c.bb(),
            "sh",
            "-c",
            "echo first; sleep 2; echo second",
        ],
    )
    .finish();
    assert_eq!(out.code, 0, "{out}");
    let first = out.time_of("first").expect("first shown");
    let second = out.time_of("second").expect("second shown");
    assert!(
        second.duration_since(first) >= Duration::from_millis(1500),
        "first shown as written, not at the end:\n{out}"
    );
}

#[test]
fn interactive_input_in_raw_mode() {
    let c = Ctx::new("run_tty_interactive");
    let mut p = pty(
        &c,
        &[
            "--rm",
            "-it",
            &c.bb(),
            "sh",
            "-c",
            "echo ready; read line; echo got:$line",
        ],
    );
    p.wait_for("ready", WAIT);
    settle();
    // skiff puts the outer terminal in raw mode: no echo, no line editing
    // of its own (the container's terminal does that).
    let m = p.mode();
    assert!(
        !m.local_flags.contains(LocalFlags::ICANON) && !m.local_flags.contains(LocalFlags::ECHO),
        "raw mode while attached: {:?}",
        m.local_flags
    );
    p.write(b"hello\r");
    p.wait_for("got:hello", WAIT);
    let out = p.finish();
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.mode_after, out.mode_before, "terminal mode restored");
}

fn ctrl_c_reaches(c: &Ctx, extra: &[&str]) {
    let bb = c.bb();
    let mut args = vec!["--rm", "-it"];
    args.extend_from_slice(extra);
    args.extend([
        bb.as_str(),
        "sh",
        "-c",
        "trap 'echo caught-int; exit 5' INT; echo ready; i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; exit 99",
    ]);
    let mut p = pty(c, &args);
    p.wait_for("ready", WAIT);
    settle();
    p.write(b"\x03");
    let out = p.finish();
    assert_eq!(out.code, 5, "{extra:?}: {out}");
    assert!(out.text().contains("caught-int"), "{extra:?}: {out}");
}

#[test]
fn ctrl_c_reaches_the_container() {
    let c = Ctx::new("run_tty_ctrl_c");
    ctrl_c_reaches(&c, &[]);
    // Under --init the command is the terminal's foreground group, so the
    // key reaches it rather than the init.
    ctrl_c_reaches(&c, &["--init"]);
}

#[test]
fn window_size_changes_follow() {
    let c = Ctx::new("run_tty_winch");
    let mut p = pty(
        &c,
        &[
            "--rm",
            "-t",
            &c.bb(),
            "sh",
            "-c",
            "trap 'stty size; exit 0' WINCH; echo ready; i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; exit 99",
        ],
    );
    p.wait_for("ready", WAIT);
    settle();
    // Resizing the outer terminal signals skiff (its foreground process
    // group); skiff resizes the container's.
    let slave = p.slave_path();
    common::run_tool("stty", &["-F", &slave, "rows", "40", "cols", "120"]);
    p.wait_for("40 120", WAIT);
    let out = p.finish();
    assert_eq!(out.code, 0, "{out}");
}

#[test]
fn tty_without_a_terminal_outside() {
    // -t with stdout a pipe: the container still gets a pty, and its
    // output (with the pty's CRLF line ends) comes through.
    let c = Ctx::new("run_tty_piped");
    let out = c.run_ok(&["--rm", "-t", &c.bb(), "sh", "-c", "tty"]);
    assert_eq!(out.stdout, "/dev/pts/0\r\n", "{out}");
    let out = c.run(&["--rm", "-t", &c.bb(), "sh", "-c", "echo err >&2; exit 3"]);
    out.assert_code(3);
    assert!(
        out.stdout.contains("err"),
        "a tty merges stderr into stdout:\n{out}"
    );
}
