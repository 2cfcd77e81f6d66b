//! `skiff exec`: a command run in a running container sees its processes,
//! host name, environment, root and working directory; `-e`, `-u`, `-w`,
//! `-i`, `-t`, `-d` and `--privileged` do what Docker's do; exit codes
//! pass through (126, 127, 128+N, 125 for a container that is not
//! running); the process is confined as the container is (capabilities,
//! seccomp) and gets no descriptor of skiff's.

mod common;

use common::pty::PtyRun;
use common::run::{status_mask, Ctx, CAP_SYS_ADMIN, DOCKER_CAPS};
use std::time::{Duration, Instant};

/// A detached busybox `sleep` named `name`, with a host name and a
/// variable of its own.
fn start(c: &Ctx, name: &str) {
    let bb = c.bb();
    c.run_ok(&[
        "-d",
        "--name",
        name,
        "-h",
        "exechost",
        "-e",
        "FROM_RUN=1",
        &bb,
        "sleep",
        "60",
    ]);
}

/// `skiff exec ARGS`.
fn exec(c: &Ctx, args: &[&str]) -> common::skiff::Out {
    let mut a = vec!["exec"];
    a.extend_from_slice(args);
    c.env.run(&a)
}

fn exec_ok(c: &Ctx, args: &[&str]) -> String {
    let out = exec(c, args);
    out.assert_ok();
    out.stdout
}

/// Removes the test's containers however the test ends.
struct Cleanup<'a>(&'a Ctx, &'a [&'a str]);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let mut a = vec!["rm", "-f"];
        a.extend_from_slice(self.1);
        let _ = self.0.env.run(&a);
    }
}

#[test]
fn exec_joins_the_running_container() {
    let c = Ctx::new("exec_joins");
    let _rm = Cleanup(&c, &["ej"]);
    start(&c, "ej");

    // The container's pid namespace: its `sleep` is pid 1.
    let ps = exec_ok(&c, &["ej", "ps", "-o", "pid,comm"]);
    let first = ps.lines().nth(1).unwrap_or_default();
    assert_eq!(
        first.split_whitespace().collect::<Vec<_>>(),
        ["1", "sleep"],
        "{ps}"
    );
    assert_eq!(exec_ok(&c, &["ej", "hostname"]), "exechost\n");
    // `container exec` is the same command.
    assert_eq!(
        c.env.run(&["container", "exec", "ej", "hostname"]).stdout,
        "exechost\n"
    );

    // The container's environment, then --env-file, then -e.
    let file = c.env.path("exec.env");
    std::fs::write(&file, "FROM_FILE=f\nBOTH=file\n").unwrap();
    let env = exec_ok(
        &c,
        &[
            "--env-file",
            file.to_str().unwrap(),
            "-e",
            "BOTH=flag",
            "-e",
            "FROM_RUN=2",
            "ej",
            "env",
        ],
    );
    for want in [
        "FROM_FILE=f",
        "BOTH=flag",
        "FROM_RUN=2",
        "HOSTNAME=exechost",
    ] {
        assert!(env.lines().any(|l| l == want), "{want} in:\n{env}");
    }
    assert!(env.lines().any(|l| l.starts_with("PATH=")), "{env}");
    assert!(exec_ok(&c, &["ej", "env"]).contains("FROM_RUN=1\n"));

    // -u, resolved in the container's /etc/passwd; -w.
    assert_eq!(
        exec_ok(&c, &["-u", "1000:2000", "ej", "id", "-u"]),
        "1000\n"
    );
    assert_eq!(
        exec_ok(&c, &["-u", "1000:2000", "ej", "id", "-g"]),
        "2000\n"
    );
    assert_eq!(
        exec_ok(&c, &["-u", "nobody", "ej", "id", "-un"]),
        "nobody\n"
    );
    assert_eq!(exec_ok(&c, &["-w", "/etc", "ej", "pwd"]), "/etc\n");
    assert_eq!(exec_ok(&c, &["ej", "pwd"]), "/\n");

    // stdin only with -i.
    let out = c
        .env
        .run_stdin(&["exec", "-i", "ej", "cat"], Some(b"hi from stdin\n"));
    assert_eq!(out.stdout, "hi from stdin\n", "{out}");
    let out = c
        .env
        .run_stdin(&["exec", "ej", "cat"], Some(b"not passed\n"));
    assert_eq!(out.stdout, "", "{out}");
}

#[test]
fn a_working_directory_that_cannot_be_entered_is_126() {
    let c = Ctx::new("exec_bad_cwd");
    let _rm = Cleanup(&c, &["ecwd"]);
    start(&c, "ecwd");
    for (dir, user, why) in [
        ("/no/such/dir", "root", "no such file or directory"),
        ("/etc/passwd", "root", "not a directory"),
        ("/root", "nobody", "permission denied"),
    ] {
        let out = exec(&c, &["-u", user, "-w", dir, "ecwd", "echo", "ran"]);
        out.assert_code(126).assert_error_line();
        out.assert_stderr_has(&format!("chdir to {dir}: {why}"));
        assert_eq!(out.stdout, "", "{out}");
    }
    // The container is none the worse.
    assert_eq!(exec_ok(&c, &["-w", "/tmp", "ecwd", "pwd"]), "/tmp\n");
}

#[test]
fn exit_codes_pass_through() {
    let c = Ctx::new("exec_codes");
    let _rm = Cleanup(&c, &["ec", "ec-stopped"]);
    start(&c, "ec");
    exec(&c, &["ec", "sh", "-c", "exit 3"]).assert_code(3);
    exec(&c, &["ec", "sh", "-c", "kill -9 $$"]).assert_code(137);
    let out = exec(&c, &["ec", "no-such-command"]);
    out.assert_code(127).assert_error_line();
    let out = exec(&c, &["ec", "/etc"]);
    out.assert_code(126).assert_error_line();
    exec(&c, &["-w", "/no/such/dir", "ec", "true"]).assert_error_line();

    // Signals sent to skiff reach the process.
    let mut bg = common::run::Bg::spawn(
        &c.env,
        &[
            "exec",
            "ec",
            "sh",
            "-c",
            "trap 'echo caught; exit 7' TERM; echo ready; i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done",
        ],
    );
    bg.wait_for("ready", Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(100));
    bg.signal(nix::sys::signal::Signal::SIGTERM);
    let out = bg.finish();
    out.assert_code(7).assert_stdout_has("caught");

    // A container that is not running.
    c.env
        .ok(&["create", "--name", "ec-stopped", &c.bb(), "true"]);
    let out = exec(&c, &["ec-stopped", "true"]);
    out.assert_code(125).assert_error_line();
    out.assert_stderr_has("is not running");
    let out = exec(&c, &["no-such-container", "true"]);
    out.assert_code(125).assert_error_line();
}

#[test]
fn confined_as_the_container_and_nothing_leaks() {
    let c = Ctx::new("exec_confined");
    let _rm = Cleanup(&c, &["eco"]);
    c.run_ok(&[
        "-d",
        "--name",
        "eco",
        "--ulimit",
        "nofile=512:768",
        &c.bb(),
        "sleep",
        "60",
    ]);
    // The spec's rlimits.
    assert_eq!(
        exec_ok(&c, &["eco", "sh", "-c", "ulimit -n; ulimit -H -n"]),
        "512\n768\n"
    );
    let status = exec_ok(&c, &["eco", "cat", "/proc/self/status"]);
    assert_eq!(
        status_mask(&status, "CapEff"),
        Some(DOCKER_CAPS),
        "{status}"
    );
    assert_eq!(
        status_mask(&status, "CapBnd"),
        Some(DOCKER_CAPS),
        "{status}"
    );
    assert!(
        status
            .lines()
            .any(|l| l.split_whitespace().eq(["Seccomp:", "2"])),
        "{status}"
    );
    assert!(
        status
            .lines()
            .any(|l| l.split_whitespace().eq(["NoNewPrivs:", "0"])),
        "{status}"
    );

    let status = exec_ok(&c, &["--privileged", "eco", "cat", "/proc/self/status"]);
    let eff = status_mask(&status, "CapEff").unwrap();
    assert!(eff & (1 << CAP_SYS_ADMIN) != 0, "{status}");
    assert!(eff & DOCKER_CAPS == DOCKER_CAPS, "{status}");
    assert!(
        status
            .lines()
            .any(|l| l.split_whitespace().eq(["Seccomp:", "0"])),
        "{status}"
    );

    // No descriptor of skiff's: a child of the exec'd shell sees only
    // its 0, 1, 2 (and the directory it reads).
    let fds = exec_ok(&c, &["eco", "sh", "-c", "ls /proc/self/fd; true"]);
    assert_eq!(
        fds.split_whitespace().collect::<Vec<_>>(),
        ["0", "1", "2", "3"],
        "{fds}"
    );
    let fds = exec_ok(&c, &["eco", "sh", "-c", "ls /proc/$$/fd; true"]);
    assert_eq!(
        fds.split_whitespace().collect::<Vec<_>>(),
        ["0", "1", "2"],
        "{fds}"
    );
}

#[test]
fn cve_2019_5736_the_runtime_binary_stays_out_of_reach() {
    let c = Ctx::new("exec_cve_2019_5736");
    let _rm = Cleanup(&c, &["ecve"]);
    start(&c, "ecve");
    let bin = common::skiff::skiff_bin();
    let hash = || common::sha256(&std::fs::read(&bin).unwrap());
    let before = hash();
    // Until its execve the exec'd process is a fork of skiff, in the
    // container's pid namespace: exec'ing its own /proc/self/exe must not
    // hand the container skiff's binary.
    let out = exec(&c, &["ecve", "/proc/self/exe", "--version"]);
    assert_ne!(out.code, 0, "{out}");
    out.assert_stdout_lacks("skiff");
    // Every process's executable, tried for writing with every capability
    // while another exec is starting.
    let script = "for p in /proc/[0-9]*; do \
                    echo pwned >> $p/exe 2>/dev/null && echo WROTE $p; \
                  done; true";
    let racing = c.env.spawn(&["exec", "ecve", "true"]);
    let out = exec(&c, &["--privileged", "ecve", "sh", "-c", script]);
    out.assert_ok().assert_stdout_lacks("WROTE");
    let _ = common::skiff::wait_out(racing, "exec true");
    assert_eq!(hash(), before, "the host's skiff binary changed");
}

#[test]
fn detached_returns_at_once_and_the_process_runs() {
    let c = Ctx::new("exec_detach");
    let _rm = Cleanup(&c, &["ed"]);
    start(&c, "ed");
    let t = Instant::now();
    let out = exec(
        &c,
        &["-d", "ed", "sh", "-c", "echo started > /tmp/mark; sleep 30"],
    );
    out.assert_ok();
    assert!(t.elapsed() < Duration::from_secs(10), "returned at once");
    assert_eq!(out.stdout, "", "{out}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ps = exec_ok(&c, &["ed", "ps", "-o", "pid,ppid,args"]);
        if ps.contains("sleep 30") && exec(&c, &["ed", "cat", "/tmp/mark"]).stdout == "started\n" {
            // Its parent is outside the container (a copy of skiff that
            // waits for it), not the container's init.
            let line = ps.lines().find(|l| l.contains("sleep 30")).unwrap();
            let ppid = line.split_whitespace().nth(1).unwrap();
            assert_eq!(ppid, "0", "{ps}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the detached process runs:\n{ps}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Short ones are reaped: the container's init (`sleep`) reaps nothing,
    // yet no zombie is left.
    for _ in 0..3 {
        exec(&c, &["-d", "ed", "true"]).assert_ok();
    }
    std::thread::sleep(Duration::from_millis(500));
    let ps = exec_ok(&c, &["ed", "ps", "-o", "pid,stat,args"]);
    assert!(!ps.lines().any(|l| l.contains(" Z ")), "{ps}");
    // A command that cannot start is reported, as without -d.
    let out = exec(&c, &["-d", "ed", "/no/such/command"]);
    out.assert_code(127).assert_error_line();
}

#[test]
fn tty_through_a_real_terminal() {
    let c = Ctx::new("exec_tty");
    let _rm = Cleanup(&c, &["et"]);
    start(&c, "et");
    let p = PtyRun::spawn(
        &c.env,
        &[
            "exec",
            "-t",
            "et",
            "sh",
            "-c",
            "tty; stty size; test -t 0 && echo stdin-is-a-tty; echo TERM=$TERM; exit 4",
        ],
        33,
        101,
    );
    let out = p.finish();
    assert_eq!(out.code, 4, "{out}");
    let text = out.text();
    assert!(text.contains("/dev/pts/"), "{out}");
    assert!(text.contains("33 101\n"), "the outer window size:\n{out}");
    assert!(text.contains("stdin-is-a-tty"), "{out}");
    assert!(text.contains("TERM=xterm"), "{out}");
    assert_eq!(out.mode_after, out.mode_before, "terminal mode restored");

    let mut p = PtyRun::spawn(
        &c.env,
        &[
            "exec",
            "-it",
            "et",
            "sh",
            "-c",
            "echo ready; read line; echo got:$line",
        ],
        24,
        80,
    );
    p.wait_for("ready", Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(100));
    p.write(b"hello\r");
    p.wait_for("got:hello", Duration::from_secs(30));
    let out = p.finish();
    assert_eq!(out.code, 0, "{out}");
}
