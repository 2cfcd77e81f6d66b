//! Rootless mode's own promises, whatever `SKIFF_TEST_ROOTLESS` says:
//! every command here runs as the unprivileged test user. Image files
//! keep their owners through the subordinate-id mapping, `--userns=keep-id`
//! keeps a bound workspace's owner, the host's root files stay out of
//! reach, setuid binaries grant nothing on the host, successive commands
//! share one namespace (kept by the pause process), and `skiff unshare`
//! enters it.

mod common;

use common::rootless::{plain_user, user};
use common::run::Ctx;
use common::Skiff;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A directory owned by the test user, holding `f` (its own file).
fn workspace(c: &Ctx, name: &str) -> std::path::PathBuf {
    let ws = c.env.path(name);
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("f"), "mine\n").unwrap();
    common::rootless::chown_tree(&ws, user());
    ws
}

#[test]
fn image_files_are_root_inside_and_the_users_on_disk() {
    let c = Ctx::rootless("rl_owners", &["busybox", "run/app"]);
    let u = user();
    let out = c.run_ok(&[
        "--rm",
        &c.image("run/app"),
        "sh",
        "-c",
        "id -u; stat -c %u:%g /suid/su; cat /proc/self/uid_map",
    ]);
    let lines = out.lines();
    assert_eq!(lines[0], "0", "root inside:\n{out}");
    assert_eq!(
        lines[1], "0:0",
        "image root's file is root's inside:\n{out}"
    );
    let first: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(first, ["0", &u.uid.to_string(), "1"], "{out}");
    let second: Vec<&str> = lines[3].split_whitespace().collect();
    assert_eq!(second, ["1", &u.sub.to_string(), "65536"], "{out}");
    // On disk: the user's own ids, and the subordinate ones for the rest.
    let su = common::expect::find_named(&c.env.root.join("layers"), "su");
    let su = su
        .iter()
        .find(|p| p.ends_with("suid/su"))
        .expect("/suid/su unpacked");
    let md = std::fs::symlink_metadata(su).unwrap();
    assert_eq!((md.uid(), md.gid()), (u.uid, u.gid));
    assert_eq!(md.mode() & 0o7777, 0o4755, "setuid kept");
}

#[test]
fn keep_id_keeps_the_owner_of_a_bound_workspace() {
    let c = Ctx::rootless("rl_keep_id", &["busybox"]);
    let u = user();
    let ws = workspace(&c, "ws");
    let v = format!("{}:/ws", ws.display());
    let out = c.run_ok(&[
        "--rm",
        "--userns=keep-id",
        "-v",
        &v,
        &c.bb(),
        "sh",
        "-c",
        "id -u; id -g; stat -c %u /ws/f; echo new > /ws/new; cat /ws/f",
    ]);
    assert_eq!(
        out.lines(),
        [
            u.uid.to_string().as_str(),
            u.gid.to_string().as_str(),
            u.uid.to_string().as_str(),
            "mine"
        ],
        "{out}"
    );
    let made = std::fs::metadata(ws.join("new")).unwrap();
    assert_eq!((made.uid(), made.gid()), (u.uid, u.gid), "{out}");
    // The caller's ids have the caller's names inside.
    let out = c.run_ok(&["--rm", "--userns=keep-id", &c.bb(), "id", "-un"]);
    assert_eq!(out.stdout.trim(), u.name, "{out}");
    // Without it the user's files are root's inside.
    let out = c.run_ok(&["--rm", "-v", &v, &c.bb(), "stat", "-c", "%u", "/ws/f"]);
    assert_eq!(out.stdout.trim(), "0", "{out}");
    // keep-id in a detached container, and in what exec runs there.
    let out = c.run_ok(&["-d", "--userns=keep-id", &c.bb(), "sleep", "30"]);
    let id = out.stdout.trim().to_string();
    let out = c.env.ok(&["exec", &id, "id", "-u"]);
    assert_eq!(out.stdout.trim(), u.uid.to_string(), "{out}");
    c.env.ok(&["rm", "-f", &id]);
    // A mode that is none is refused, clearly (auto and nomap: the
    // userns_map suite).
    let out = c.run(&["--rm", "--userns=bogus", &c.bb(), "true"]);
    out.assert_code(125);
    out.assert_error_line();
}

#[test]
fn keep_id_is_for_rootless_mode_only() {
    let c = Ctx::with("rl_keep_id_root", &["busybox"]);
    if c.env.user.is_some() {
        return;
    }
    let out = c.run(&["--rm", "--userns=keep-id", &c.bb(), "true"]);
    out.assert_code(125);
    out.assert_stderr_has("rootless");
}

#[test]
fn the_hosts_root_files_are_nobodys_and_read_only() {
    let c = Ctx::rootless("rl_host_root", &["busybox"]);
    let dir = c.env.path("roots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("secret"), "root's\n").unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let v = format!("{}:/r", dir.display());
    let out = c.run(&[
        "--rm",
        "-v",
        &v,
        &c.bb(),
        "sh",
        "-c",
        "stat -c %u:%g /r/secret; echo x >> /r/secret && echo wrote; touch /r/new && echo made; \
         chown 0 /r/secret && echo chowned; true",
    ]);
    out.assert_ok();
    assert_eq!(out.lines(), ["65534:65534"], "{out}");
    assert_eq!(
        std::fs::read_to_string(dir.join("secret")).unwrap(),
        "root's\n"
    );
    assert!(!dir.join("new").exists());
    // Nor with every capability the container can be given.
    let out = c.run(&[
        "--rm",
        "--privileged",
        "-v",
        &v,
        &c.bb(),
        "sh",
        "-c",
        "echo x >> /r/secret && echo wrote; true",
    ]);
    assert!(!out.stdout.contains("wrote"), "{out}");
}

#[test]
fn setuid_inside_grants_nothing_on_the_host() {
    let c = Ctx::rootless("rl_setuid", &["busybox", "run/app"]);
    let u = user();
    let ws = workspace(&c, "ws");
    std::fs::set_permissions(&ws, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let v = format!("{}:/ws", ws.display());
    // The setuid-root binary makes `app` root of the container...
    let out = c.run_ok(&[
        "--rm",
        "-u",
        "app",
        "-v",
        &v,
        &c.image("run/app"),
        "/suid/su",
        "-c",
        "id -u; touch /ws/by-root",
        "root",
    ]);
    assert_eq!(out.stdout.trim(), "0", "{out}");
    // ... which is the user, never the host's root.
    let md = std::fs::metadata(ws.join("by-root")).unwrap();
    assert_eq!(md.uid(), u.uid, "{out}");
    assert_ne!(md.uid(), 0);
}

fn user_ns_of(out: &common::Out) -> String {
    out.stdout.trim().to_string()
}

#[test]
fn commands_share_one_namespace_kept_by_the_pause_process() {
    let c = Ctx::rootless("rl_pause", &["busybox"]);
    let ns = |c: &Ctx| user_ns_of(&c.run_ok(&["--rm", &c.bb(), "readlink", "/proc/self/ns/user"]));
    let first = ns(&c);
    assert_eq!(ns(&c), first, "the same user namespace for every run");
    let out = c.env.ok(&["unshare", "readlink", "/proc/self/ns/user"]);
    assert_eq!(user_ns_of(&out), first, "unshare enters it too");
    let pause = common::rootless::pause_pid(&c.env.runroot).expect("a pause process");
    let link = std::fs::read_link(format!("/proc/{pause}/ns/user")).unwrap();
    assert_eq!(link.to_string_lossy(), first);

    // A detached container outlives its command, in the same namespace.
    let id = c
        .run_ok(&["-d", &c.bb(), "sleep", "30"])
        .stdout
        .trim()
        .to_string();
    let out = c.env.ok(&["exec", &id, "readlink", "/proc/self/ns/user"]);
    assert_eq!(user_ns_of(&out), first, "{out}");

    // A pause process that is gone is made again; nothing is lost.
    common::rootless::stop_pause(&c.env.runroot);
    for _ in 0..100 {
        if !Path::new(&format!("/proc/{pause}/ns")).exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // While a container lives in them, the namespaces are joined again
    // through it (a new namespace could not reach the container).
    assert_eq!(ns(&c), first, "the running container's namespace is kept");
    let again = common::rootless::pause_pid(&c.env.runroot).expect("a new pause process");
    assert_ne!(again, pause);
    let out = c.env.ok(&["exec", &id, "echo", "still"]);
    assert_eq!(out.stdout, "still\n", "{out}");
    c.env.ok(&["rm", "-f", &id]);
    c.env.assert_store_clean();
}

#[test]
fn unshare_runs_commands_in_the_namespace() {
    let env = Skiff::rootless("rl_unshare");
    let u = user();
    let out = env.ok(&["unshare", "sh", "-c", "id -u; cat /proc/self/uid_map"]);
    let lines = out.lines();
    assert_eq!(lines[0], "0", "{out}");
    let first: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(first, ["0", &u.uid.to_string(), "1"], "{out}");
    let out = env.run(&["unshare", "no-such-command"]);
    out.assert_code(127);
    out.assert_error_line();
    // The runroot is the user's alone.
    let md = std::fs::metadata(&env.runroot).unwrap();
    assert_eq!((md.uid(), md.mode() & 0o777), (u.uid, 0o700));
}

#[test]
fn without_subordinate_ids_one_id_is_mapped_with_a_warning() {
    let plain = plain_user();
    let c = Ctx {
        reg: common::Registry::start(common::Setup::Plain),
        env: Skiff::new_as("rl_single", Some(plain)),
    };
    let out = c.env.ok(&["pull", &c.bb()]);
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("warning"))
        .collect();
    assert_eq!(warnings.len(), 1, "{out}");
    assert!(warnings[0].contains("cannot be represented"), "{out}");
    let out = c.run_ok(&["--rm", &c.bb(), "sh", "-c", "id -u; cat /proc/self/uid_map"]);
    let lines = out.lines();
    assert_eq!(lines.len(), 2, "one mapping line:\n{out}");
    assert_eq!(lines[0], "0");
    // Said once, when the namespace was made.
    assert!(!out.stderr.contains("warning"), "{out}");
}

#[test]
fn state_is_kept_only_in_a_runroot_the_user_owns() {
    let env = Skiff::rootless("rl_runroot");
    // Made first by someone else (root here), as `/tmp/skiff-UID` could be.
    std::fs::create_dir_all(&env.runroot).unwrap();
    std::os::unix::fs::chown(&env.runroot, Some(0), Some(0)).unwrap();
    let out = env.run(&["images"]);
    out.assert_code(125);
    out.assert_error_line();
    out.assert_stderr_has("refusing to keep the rootless state there");
    assert!(!env.runroot.join("pause.pid").exists());
}

#[test]
fn keep_id_containers_have_the_default_network_and_published_ports() {
    let c = Ctx::rootless("rl_keep_id_net", &["busybox"]);
    let u = user();
    let port = common::net::host_server("hello from the host\n");
    // Out through pasta (the rootless default) to a server on the host.
    let out = c.run_ok(&[
        "--rm",
        "--userns=keep-id",
        &c.bb(),
        "sh",
        "-c",
        &format!(
            "id -u; gw=$(ip route | sed -n 's/^default via \\([0-9.]*\\).*/\\1/p'); \
             wget -qO- http://$gw:{port}/"
        ),
    ]);
    assert_eq!(out.lines()[0], u.uid.to_string(), "{out}");
    assert!(out.stdout.contains("hello from the host"), "{out}");
    assert!(!out.stderr.contains("loopback only"), "{out}");
    // And in: a published port reaches a server the caller's own id runs.
    let host = common::net::free_port();
    let spec = format!("{host}:8080");
    let id = c
        .run_ok(&[
            "-d",
            "--userns=keep-id",
            "-p",
            &spec,
            &c.bb(),
            "sh",
            "-c",
            "mkdir -p /tmp/www && echo served >/tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www",
        ])
        .stdout
        .trim()
        .to_string();
    let got = common::net::get_local(host);
    assert!(got.contains("served"), "{got}");
    let out = c.env.ok(&["exec", &id, "id", "-u"]);
    assert_eq!(out.stdout.trim(), u.uid.to_string(), "{out}");
    let listed = c.env.ok(&["port", &id]).stdout;
    assert!(
        listed.contains(&format!("8080/tcp -> 0.0.0.0:{host}")),
        "{listed}"
    );
    c.env.ok(&["rm", "-f", &id]);
    assert!(
        common::net::get_local(host).is_empty(),
        "the port is let go"
    );
}
