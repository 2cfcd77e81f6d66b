//! What the container's process is given: environment (`-e`,
//! `--env-file`, the image's, Docker's defaults), working directory,
//! user and groups, entrypoint and command, and `--init`.

mod common;

use common::run::Ctx;
use std::collections::BTreeMap;

/// `KEY=VALUE` lines as a map.
fn env_map(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The numbers `id -G` printed, sorted.
fn groups(text: &str) -> Vec<u32> {
    let mut v: Vec<u32> = text
        .split_whitespace()
        .map(|g| g.parse().expect("id -G prints numbers"))
        .collect();
    v.sort();
    v
}

#[test]
fn env_from_flags_files_caller_and_image() {
    let c = Ctx::with("run_env", &["run/app"]);
    let app = c.image("run/app");
    let file = c.env.path("vars.env");
    std::fs::write(
        &file,
        "# a comment, then a blank line\n\nFROM_FILE=file value\nOVERRIDE=file\nFILE_BARE\nSPACED=a b  c\n",
    )
    .unwrap();
    let out = c.run_with_env(
        &[
            "--rm",
            "--env-file",
            file.to_str().unwrap(),
            "-e",
            "A=1",
            "-e",
            "EMPTY=",
            "-e",
            "EQUALS=x=y",
            "-e",
            "FROM_CALLER",
            "-e",
            "NOT_IN_CALLER",
            "-e",
            "OVERRIDE=cli",
            &app,
            "env",
        ],
        &[
            ("FROM_CALLER", "caller value"),
            ("FILE_BARE", "bare from caller"),
        ],
    );
    out.assert_ok();
    let env = env_map(&out.stdout);
    let want = [
        ("A", "1"),
        ("EMPTY", ""),
        ("EQUALS", "x=y"),
        ("FROM_CALLER", "caller value"),
        ("FROM_FILE", "file value"),
        ("FILE_BARE", "bare from caller"),
        ("SPACED", "a b  c"),
        // -e comes after --env-file, and both beat the image.
        ("OVERRIDE", "cli"),
        ("FROM_IMAGE", "yes"),
        (
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ),
        ("HOME", "/root"),
    ];
    for (k, v) in want {
        assert_eq!(env.get(k).map(String::as_str), Some(v), "{k}:\n{out}");
    }
    // `-e KEY` for a variable the caller lacks sets nothing (Docker).
    assert!(!env.contains_key("NOT_IN_CALLER"), "{out}");
    // Nothing of skiff's own environment leaks in.
    for k in ["SKIFF_ROOT", "SKIFF_RUNROOT", "REGISTRY_AUTH_FILE"] {
        assert!(!env.contains_key(k), "{k} leaked:\n{out}");
    }
    // HOSTNAME is the container's hostname.
    let host = env.get("HOSTNAME").cloned().unwrap_or_default();
    assert!(!host.is_empty(), "HOSTNAME is set:\n{out}");

    let out = c.run_ok(&[
        "--rm",
        "--hostname",
        "envhost",
        &app,
        "sh",
        "-c",
        "echo $HOSTNAME",
    ]);
    assert_eq!(out.stdout, "envhost\n", "{out}");

    // A missing env file is skiff's error.
    let out = c.run(&["--rm", "--env-file", "/nonexistent.env", &app, "true"]);
    out.assert_code(125);
    out.assert_error_line();
    out.assert_stderr_has("/nonexistent.env");
}

#[test]
fn env_gets_dockers_default_path_when_the_image_has_none() {
    let c = Ctx::with("run_env_default_path", &["run/user"]);
    let img = c.image("run/user");
    let out = c.run_ok(&["--rm", &img, "env"]);
    let env = env_map(&out.stdout);
    assert_eq!(
        env.get("PATH").map(String::as_str),
        Some("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        "{out}"
    );
    assert_eq!(env.get("ONLY_USER_IMAGE").map(String::as_str), Some("1"));
    assert_eq!(env.get("HOME").map(String::as_str), Some("/home/app"));
    let out = c.run_ok(&["--rm", "-e", "PATH=/bin", &img, "env"]);
    assert_eq!(
        env_map(&out.stdout).get("PATH").map(String::as_str),
        Some("/bin")
    );
}

#[test]
fn workdir_is_used_and_created() {
    let c = Ctx::with("run_workdir", &["busybox", "run/entry"]);
    let bb = c.bb();
    let out = c.run_ok(&["--rm", &bb, "pwd"]);
    assert_eq!(out.stdout, "/\n", "{out}");
    let out = c.run_ok(&["--rm", "-w", "/tmp", &bb, "pwd"]);
    assert_eq!(out.stdout, "/tmp\n", "{out}");
    // A missing directory is created, as Docker does.
    let out = c.run_ok(&[
        "--rm",
        "-w",
        "/made/by/skiff",
        &bb,
        "sh",
        "-c",
        "pwd; ls -d /made/by/skiff",
    ]);
    assert_eq!(out.stdout, "/made/by/skiff\n/made/by/skiff\n", "{out}");
    let out = c.run_ok(&["--rm", "--workdir", "/made2", &bb, "pwd"]);
    assert_eq!(out.stdout, "/made2\n", "{out}");
    // The image's WorkingDir, absent from its layers, is created too.
    let out = c.run_ok(&["--rm", "--entrypoint", "pwd", &c.image("run/entry")]);
    assert_eq!(out.stdout, "/srv/work\n", "{out}");
    // -w beats the image's.
    let out = c.run_ok(&[
        "--rm",
        "-w",
        "/etc",
        "--entrypoint",
        "pwd",
        &c.image("run/entry"),
    ]);
    assert_eq!(out.stdout, "/etc\n", "{out}");
}

#[test]
fn workdir_that_is_a_file_or_relative_fails() {
    let c = Ctx::new("run_workdir_bad");
    let bb = c.bb();
    let out = c.run(&["--rm", "-w", "/etc/passwd", &bb, "pwd"]);
    out.assert_code(125);
    out.assert_error_line();
    out.assert_stderr_has("/etc/passwd");
    assert!(out.stdout.is_empty(), "{out}");

    let out = c.run(&["--rm", "-w", "relative/dir", &bb, "pwd"]);
    out.assert_code(125);
    out.assert_error_line();
    out.assert_stderr_has("relative/dir");
    assert!(c.container_dirs().is_empty());
}

#[test]
fn user_by_uid_name_and_group() {
    let c = Ctx::with("run_user", &["run/app"]);
    let app = c.image("run/app");
    let id = |flags: &[&str], args: &str| -> String {
        let mut a = vec!["--rm"];
        a.extend_from_slice(flags);
        a.push(&app);
        a.extend(["sh", "-c", args]);
        let out = c.run(&a);
        out.assert_ok();
        out.stdout.trim().to_string()
    };
    // Root by default, with only root's own group.
    assert_eq!(id(&[], "id -u; id -g"), "0\n0");
    // A uid in the image's passwd takes that entry's group and groups.
    assert_eq!(id(&["-u", "1000"], "id -u; id -g"), "1000\n1000");
    assert_eq!(groups(&id(&["-u", "1000"], "id -G")), [29, 44, 1000]);
    // By name: the same.
    assert_eq!(id(&["-u", "app"], "id -un; id -g"), "app\n1000");
    assert_eq!(groups(&id(&["--user", "app",], "id -G")), [29, 44, 1000]);
    // HOME from the passwd entry.
    assert_eq!(id(&["-u", "app"], "echo $HOME"), "/home/app");
    // uid:gid and name:group.
    assert_eq!(id(&["-u", "1000:50"], "id -u; id -g"), "1000\n50");
    assert_eq!(id(&["-u", "app:staff"], "id -u; id -g"), "1000\n50");
    // A uid the image does not know: gid 0, as Docker does.
    assert_eq!(id(&["-u", "4242"], "id -u; id -g"), "4242\n0");
    assert_eq!(id(&["-u", "4242:4243"], "id -u; id -g"), "4242\n4243");
    // --group-add, by number and by name.
    assert_eq!(
        groups(&id(&["-u", "app", "--group-add", "50"], "id -G")),
        [29, 44, 50, 1000]
    );
    assert_eq!(
        groups(&id(
            &["-u", "app", "--group-add", "staff", "--group-add", "777"],
            "id -G"
        )),
        [29, 44, 50, 777, 1000]
    );
    assert_eq!(groups(&id(&["--group-add", "audio"], "id -G")), [0, 29]);
}

#[test]
fn user_the_image_lacks_fails() {
    let c = Ctx::with("run_user_missing", &["run/app"]);
    let app = c.image("run/app");
    let out = c.run(&["--rm", "-u", "nosuchuser", &app, "id"]);
    out.assert_code(125);
    out.assert_error_line();
    out.assert_stderr_has("unable to find user nosuchuser");
    let out = c.run(&["--rm", "-u", "app:nosuchgroup", &app, "id"]);
    out.assert_code(125);
    out.assert_error_line();
    out.assert_stderr_has("nosuchgroup");
    let out = c.run(&["--rm", "--group-add", "nosuchgroup", &app, "id"]);
    out.assert_code(125);
    out.assert_error_line();
    assert!(c.container_dirs().is_empty());
}

#[test]
fn the_images_user_is_the_default() {
    let c = Ctx::with("run_image_user", &["run/user"]);
    let img = c.image("run/user");
    let out = c.run_ok(&["--rm", &img]);
    out.assert_stdout_has("uid=1000(app)");
    let out = c.run_ok(&["--rm", "-u", "0", &img, "id", "-u"]);
    assert_eq!(out.stdout, "0\n", "-u beats the image's User:\n{out}");
}

#[test]
fn entrypoint_and_command() {
    let c = Ctx::with("run_entrypoint", &["run/entry"]);
    let img = c.image("run/entry");
    let out = c.run_ok(&["--rm", &img]);
    assert_eq!(out.stdout, "entry: default-cmd\n", "{out}");
    let out = c.run_ok(&["--rm", &img, "a", "b c"]);
    assert_eq!(
        out.stdout, "entry: a b c\n",
        "arguments replace Cmd:\n{out}"
    );
    // --entrypoint drops the image's Cmd as well (Docker).
    let out = c.run_ok(&["--rm", "--entrypoint", "/bin/echo", &img]);
    assert_eq!(out.stdout, "\n", "{out}");
    let out = c.run_ok(&["--rm", "--entrypoint", "/bin/echo", &img, "x", "y"]);
    assert_eq!(out.stdout, "x y\n", "{out}");
    let out = c.run_ok(&["--rm", "--entrypoint", "echo", &img, "from", "PATH"]);
    assert_eq!(out.stdout, "from PATH\n", "{out}");
    // An empty entrypoint resets it: the arguments are the command.
    let out = c.run_ok(&["--rm", "--entrypoint", "", &img, "echo", "hi"]);
    assert_eq!(out.stdout, "hi\n", "{out}");
    let out = c.run_ok(&["--rm", "--entrypoint=", &img, "echo", "hi"]);
    assert_eq!(out.stdout, "hi\n", "{out}");
    // ... and with no arguments there is nothing to run.
    let out = c.run(&["--rm", "--entrypoint", "", &img]);
    out.assert_code(125);
    out.assert_error_line();
    out.assert_stderr_any(&["no command"]);
}

#[test]
fn init_runs_the_command_as_its_child_and_reaps_zombies() {
    let c = Ctx::new("run_init");
    let bb = c.bb();
    let out = c.run_ok(&[
        "--rm",
        "--init",
        &bb,
        "sh",
        "-c",
        "echo pid=$$; grep PPid /proc/$$/status; tr '\\0' ' ' < /proc/1/cmdline; echo",
    ]);
    let lines = out.lines();
    assert!(lines.len() >= 3, "{out}");
    assert_ne!(
        lines[0], "pid=1",
        "the command is not pid 1 under --init:\n{out}"
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["PPid:", "1"],
        "the init is its parent:\n{out}"
    );
    assert!(
        !lines[2].starts_with("sh "),
        "pid 1 is the init, not the command:\n{out}"
    );

    // An orphan (the inner shell exits at once, its background sleep is
    // reparented to pid 1) must be reaped when it exits.
    let out = c.run_ok(&[
        "--rm",
        "--init",
        &bb,
        "sh",
        "-c",
        "sh -c 'sleep 0.2 &'; sleep 1.5; grep -h '^State' /proc/[0-9]*/status",
    ]);
    out.assert_stdout_lacks("zombie");

    // The init passes the command's exit code on, and a death by signal
    // as 128+N (which pid 1 itself could not suffer from inside).
    c.run(&["--rm", "--init", &bb, "sh", "-c", "exit 7"])
        .assert_code(7);
    c.run(&["--rm", "--init", &bb, "sh", "-c", "kill -9 $$"])
        .assert_code(137);
}
