//! `skiff run` in the foreground, the basics: output, exit codes (the
//! container's own, 125, 126, 127, 128+N), stdout and stderr kept apart
//! and binary-safe, stdin with `-i`, pulling a missing image, and bad
//! input refused with one line and nothing left behind.

mod common;

use common::run::{mark, procs_with_env, Ctx};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::time::{Duration, Instant};

#[test]
fn echo_prints_and_exits_zero() {
    let c = Ctx::new("run_echo");
    let out = c.run_ok(&["--rm", &c.bb(), "echo", "hi"]);
    assert_eq!(out.stdout, "hi\n", "{out}");
    assert!(out.stderr.trim().is_empty(), "nothing on stderr:\n{out}");
    c.env.assert_store_clean();
}

#[test]
fn a_missing_image_is_pulled_first() {
    let c = Ctx::with("run_pulls_missing", &[]);
    let img = c.bb();
    let out = c.run_ok(&["--rm", &img, "echo", "hi"]);
    // Docker says so on stderr; stdout carries only the container's.
    assert_eq!(out.stdout, "hi\n", "pull output stays off stdout:\n{out}");
    out.assert_stderr_has("Unable to find image");
    let ids = c.env.image_ids();
    assert_eq!(
        ids,
        [common::fixtures().busybox.id().to_string()],
        "the image is in the store"
    );
    c.env.assert_store_clean();
}

#[test]
fn the_containers_exit_code_is_skiffs() {
    let c = Ctx::new("run_exit_codes");
    let bb = c.bb();
    for code in [0, 1, 3, 42, 255] {
        let out = c.run(&["--rm", &bb, "sh", "-c", &format!("exit {code}")]);
        out.assert_code(code);
        assert!(
            out.stderr.trim().is_empty(),
            "the container's own failure is not skiff's error:\n{out}"
        );
    }
    c.run(&["--rm", &bb, "false"]).assert_code(1);
}

#[test]
fn a_missing_command_is_127() {
    let c = Ctx::new("run_127");
    let bb = c.bb();
    for cmd in ["/nonexistent", "no-such-command"] {
        let out = c.run(&["--rm", &bb, cmd]);
        out.assert_code(127);
        out.assert_error_line();
        out.assert_stderr_has(cmd);
        assert!(out.stdout.is_empty(), "{out}");
    }
    assert!(c.container_dirs().is_empty(), "--rm even when exec fails");
}

#[test]
fn a_command_that_cannot_be_invoked_is_126() {
    let c = Ctx::new("run_126");
    let bb = c.bb();
    // A directory, and a file without the execute bit.
    for cmd in ["/etc", "/etc/passwd"] {
        let out = c.run(&["--rm", &bb, cmd]);
        out.assert_code(126);
        out.assert_error_line();
        out.assert_stderr_has(cmd);
    }
    assert!(c.container_dirs().is_empty(), "--rm even when exec fails");
}

#[test]
fn skiffs_own_failures_are_125_with_one_line() {
    let c = Ctx::new("run_125");
    let bb = c.bb();
    let missing = c.image("no-such-repo");
    let cases: Vec<Vec<&str>> = vec![
        vec!["--rm", &missing, "true"],
        vec!["--rm", "--bogus-flag", &bb, "true"],
        vec!["--rm", "--mount", "type=bogus,target=/x", &bb, "true"],
        vec!["--rm", "--mount", "type=bind,target=/x", &bb, "true"],
        vec!["--rm", "--mount", "type=tmpfs", &bb, "true"],
        vec![
            "--rm",
            "--mount",
            "type=bind,source=/,target=/x,bogus=1",
            &bb,
            "true",
        ],
        vec!["--rm", "--pull", "sometimes", &bb, "true"],
        vec!["--rm", "-v", "relative-target:data", &bb, "true"],
        vec!["--rm", "--ulimit", "nofile=abc", &bb, "true"],
        vec!["--rm", "-e", "=novalue", &bb, "true"],
    ];
    for a in &cases {
        let out = c.run(a);
        out.assert_code(125);
        out.assert_error_line();
        assert!(out.stdout.is_empty(), "{out}");
    }
    // The unknown image is named in its error.
    let out = c.run(&cases[0]);
    out.assert_stderr_has("no-such-repo");
    let out = c.run(&cases[1]);
    out.assert_stderr_has("--bogus-flag");

    assert!(
        c.container_dirs().is_empty(),
        "bad input leaves no container: {:?}",
        c.container_dirs()
    );
    c.env.assert_store_clean();
}

#[test]
fn a_container_killed_by_a_signal_exits_128_plus_n() {
    let c = Ctx::new("run_killed");
    let m = mark("killed");
    let mut bg = c.spawn_run(&[
        "--rm",
        "-e",
        &m,
        &c.bb(),
        "sh",
        "-c",
        "echo ready; exec sleep 1000",
    ]);
    bg.wait_for("ready", Duration::from_secs(60));
    // The container's process, found by the variable only it has.
    let start = Instant::now();
    let pid = loop {
        let procs = procs_with_env(&m);
        if let [p] = procs[..] {
            break p;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "one container process carries {m}: {procs:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).unwrap();
    let out = bg.finish();
    out.assert_code(137);
    assert!(c.container_dirs().is_empty(), "--rm after a kill");
}

#[test]
fn stdout_and_stderr_are_kept_apart() {
    let c = Ctx::new("run_streams");
    let out = c.run_ok(&[
        "--rm",
        &c.bb(),
        "sh",
        "-c",
        "echo out1; echo err1 >&2; echo out2; echo err2 >&2",
    ]);
    assert_eq!(out.stdout, "out1\nout2\n", "{out}");
    assert_eq!(out.stderr, "err1\nerr2\n", "{out}");
}

#[test]
fn stdout_is_binary_safe() {
    let c = Ctx::new("run_binary");
    // Every byte value, NULs and CRs included, 1 MiB in all.
    let input: Vec<u8> = (0..(1 << 20)).map(|i| (i % 251) as u8).collect();
    let out = c.run_stdin(&["--rm", "-i", &c.bb(), "cat"], &input);
    out.assert_ok();
    assert!(
        out.stdout_bytes == input,
        "stdout differs: {} bytes back of {}",
        out.stdout_bytes.len(),
        input.len()
    );
    // The same bytes written by the container itself.
    let out = c.run_stdin(
        &[
            "--rm",
            "-i",
            &c.bb(),
            "sh",
            "-c",
            "cat > /tmp/f; cat /tmp/f /tmp/f",
        ],
        &input,
    );
    out.assert_ok();
    assert_eq!(out.stdout_bytes.len(), 2 * input.len());
    assert!(out.stdout_bytes[input.len()..] == input[..]);
}

#[test]
fn stdin_streams_with_i() {
    let c = Ctx::new("run_stdin");
    let bb = c.bb();
    let out = c.run_stdin(&["--rm", "-i", &bb, "cat"], b"hi\n");
    out.assert_ok();
    assert_eq!(out.stdout, "hi\n", "{out}");

    // Without -i the container's stdin is not the caller's.
    let out = c.run_stdin(&["--rm", &bb, "cat"], b"not for the container\n");
    out.assert_ok();
    assert!(out.stdout.is_empty(), "{out}");

    // Streamed, not read to the end first: the answer to the first line
    // comes while stdin is still open.
    let mut bg = c.spawn_run_stdin(&[
        "--rm",
        "-i",
        &bb,
        "sh",
        "-c",
        "read a; echo got:$a; read b; echo got:$b",
    ]);
    bg.write_stdin(b"one\n");
    bg.wait_for("got:one", Duration::from_secs(60));
    bg.write_stdin(b"two\n");
    bg.close_stdin();
    let out = bg.finish();
    out.assert_ok();
    assert_eq!(out.stdout, "got:one\ngot:two\n", "{out}");
}

#[test]
fn output_is_not_buffered() {
    let c = Ctx::new("run_unbuffered");
    let mut bg = c.spawn_run(&[
        "--rm",
        &c.bb(),
        "sh",
        "-c",
        "echo first; sleep 3; echo second",
    ]);
    bg.wait_for("first", Duration::from_secs(60));
    let seen_first = Instant::now();
    assert!(
        !bg.stdout_now().contains("second"),
        "first arrives on its own"
    );
    let out = bg.finish();
    out.assert_ok();
    assert!(
        seen_first.elapsed() >= Duration::from_secs(2),
        "the first line came as it was written, not at the exit"
    );
}

#[test]
fn rmi_of_an_image_a_container_uses_is_refused_unless_forced() {
    let c = Ctx::new("run_rmi_in_use");
    let bb = c.bb();
    // A container that stays (no --rm) keeps using the image.
    c.run_ok(&["--name", "keeper", &bb, "true"]);
    let out = c.env.fails(&["rmi", &bb]);
    out.assert_error_line();
    out.assert_stderr_has("conflict: unable to remove repository reference");
    out.assert_stderr_has("is using its referenced image");
    assert!(!c.env.image_ids().is_empty(), "the image stays");
    // -f untags it; the image stays for the container, dangling.
    let out = c.env.ok(&["rmi", "-f", &bb]);
    out.assert_stdout_has("Untagged:");
    out.assert_stdout_lacks("Deleted:");
    assert_eq!(c.env.image_ids().len(), 1, "kept, without its name");
    c.env.assert_store_clean();
}

#[test]
fn image_prune_all_keeps_an_image_a_container_uses() {
    let c = Ctx::new("run_prune_in_use");
    let bb = c.bb();
    c.run_ok(&["--name", "keeper", &bb, "true"]);
    c.env.ok(&["image", "prune", "-a", "-f"]);
    assert!(
        !c.env.image_ids().is_empty(),
        "the image a container uses survives prune -a"
    );
    c.env.assert_store_clean();
}
