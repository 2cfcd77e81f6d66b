//! The built-in runtime, driven with hand-made OCI bundles through the
//! hidden `skiff runtime run --bundle DIR ID`: a busybox root file system,
//! a `config.json` with Docker's security defaults, and assertions made
//! from inside the container (as root, on the real kernel).

mod common;

use common::{Out, Skiff};
use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Docker's 14 default capabilities.
const DOCKER_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];
/// Their mask, as /proc/PID/status prints it.
const DOCKER_CAP_MASK: &str = "00000000a80425fb";

/// A test's bundle: `DIR/config.json` and `DIR/rootfs`.
struct Bundle {
    env: Skiff,
    spec: Value,
}

impl Bundle {
    /// A bundle named after the test, running `args` with Docker's
    /// defaults (no seccomp unless a test adds it).
    fn new(name: &str, args: &[&str]) -> Bundle {
        let env = Skiff::new(name);
        make_rootfs(&env.path("rootfs"));
        let spec = docker_spec(args);
        Bundle { env, spec }
    }

    fn dir(&self) -> PathBuf {
        self.env.path("")
    }

    fn rootfs(&self) -> PathBuf {
        self.env.path("rootfs")
    }

    /// Write config.json, checked to be a valid OCI spec.
    fn write(&self) {
        let spec: oci_spec::runtime::Spec =
            serde_json::from_value(self.spec.clone()).expect("the test's spec is valid");
        spec.save(self.env.path("config.json")).unwrap();
    }

    fn args(&self) -> Vec<String> {
        vec![
            "runtime".into(),
            "run".into(),
            "--bundle".into(),
            self.dir().display().to_string(),
            "c1".into(),
        ]
    }

    fn run(&self) -> Out {
        self.run_stdin(None)
    }

    fn run_stdin(&self, input: Option<&[u8]>) -> Out {
        self.write();
        let args = self.args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.env.run_stdin(&args, input);
        assert_no_host_mounts(&self.dir());
        out
    }

    fn set_args(&mut self, args: &[&str]) {
        self.spec["process"]["args"] = json!(args);
    }

    /// Drop a namespace from the spec.
    fn without_ns(&mut self, typ: &str) {
        let ns = self.spec["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != typ);
    }
}

/// A root file system of busybox-static and its applets.
fn make_rootfs(root: &Path) {
    for d in ["bin", "etc", "tmp", "proc", "sys", "dev", "root"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let bb = root.join("bin/busybox");
    if std::fs::hard_link("/bin/busybox", &bb).is_err() {
        std::fs::copy("/bin/busybox", &bb).unwrap();
    }
    let list = std::process::Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .expect("busybox --list");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let _ = std::os::unix::fs::symlink("busybox", root.join("bin").join(applet));
    }
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\n").unwrap();
    std::fs::set_permissions(
        root.join("tmp"),
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )
    .unwrap();
}

/// The spec Docker would give `docker run IMG ARGS`, minus seccomp.
fn docker_spec(args: &[&str]) -> Value {
    json!({
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "skiff-test",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=skiff-test"],
            "cwd": "/",
            "capabilities": {
                "bounding": DOCKER_CAPS,
                "effective": DOCKER_CAPS,
                "permitted": DOCKER_CAPS,
                "inheritable": DOCKER_CAPS,
            },
        },
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "noexec", "nodev"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]},
        ],
        "linux": {
            "namespaces": [
                {"type": "mount"}, {"type": "network"}, {"type": "uts"},
                {"type": "pid"}, {"type": "ipc"}, {"type": "cgroup"},
            ],
            "maskedPaths": [
                "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                "/sys/devices/virtual/powercap",
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
            ],
        },
    })
}

/// No mount of the host names the bundle: every mount the runtime made
/// lived and died in the container's mount namespace.
fn assert_no_host_mounts(dir: &Path) {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let d = dir.display().to_string();
    let leaked: Vec<&str> = mi.lines().filter(|l| l.contains(&d)).collect();
    assert!(
        leaked.is_empty(),
        "mounts left on the host:\n{}",
        leaked.join("\n")
    );
}

/// The value of `KEY:` in a /proc/PID/status text.
fn status_field<'a>(status: &'a str, key: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {key} in:\n{status}"))
}

#[test]
fn pid_1_is_the_command_and_alone() {
    let b = Bundle::new(
        "rt_pid1",
        &[
            "sh",
            "-c",
            "tr '\\0' ' ' </proc/1/cmdline; echo; ps -o pid,comm | tail -n +2",
        ],
    );
    let out = b.run();
    out.assert_ok();
    let lines = out.lines();
    assert!(
        lines[0].starts_with("sh -c tr"),
        "pid 1 is the command:\n{out}"
    );
    let procs: Vec<&str> = lines[1..].iter().map(|l| l.trim()).collect();
    // The command and what it started for the pipe (busybox names an
    // applet it re-executes "exe"; `tail` may not have started yet when
    // `ps` reads /proc): no runtime helper.
    assert!((2..=3).contains(&procs.len()), "{out}");
    assert_eq!(procs[0], "1 sh", "{out}");
    assert!(procs.iter().all(|p| !p.contains("skiff")), "{out}");
}

#[test]
fn hostname_and_no_host_mounts_inside() {
    let b = Bundle::new(
        "rt_isolation",
        &["sh", "-c", "hostname; cat /proc/self/mountinfo"],
    );
    let out = b.run();
    out.assert_ok();
    assert_eq!(out.lines()[0], "skiff-test");
    for l in &out.lines()[1..] {
        let mountpoint = l.split(' ').nth(4).unwrap();
        let inside = ["/", "/proc", "/dev", "/sys"]
            .iter()
            .any(|p| mountpoint == *p || mountpoint.starts_with(&format!("{p}/")) && *p != "/");
        assert!(inside, "a mount outside the container's own: {l}\n{out}");
        assert!(
            !mountpoint.starts_with("/work") && !mountpoint.starts_with("/mnt"),
            "{l}"
        );
    }
}

#[test]
fn capabilities_are_dockers() {
    let b = Bundle::new("rt_caps", &["cat", "/proc/self/status"]);
    let out = b.run();
    out.assert_ok();
    assert_eq!(status_field(&out.stdout, "CapEff:"), DOCKER_CAP_MASK);
    assert_eq!(status_field(&out.stdout, "CapPrm:"), DOCKER_CAP_MASK);
    assert_eq!(status_field(&out.stdout, "CapBnd:"), DOCKER_CAP_MASK);
    assert_eq!(status_field(&out.stdout, "CapAmb:"), "0000000000000000");
    // Docker's containers run without no_new_privs; seccomp is off here.
    assert_eq!(status_field(&out.stdout, "NoNewPrivs:"), "0");
}

/// An allowlist of every call this architecture has but the blocked ones,
/// with the default action EPERM, clone allowed only without namespace
/// flags (Docker's rule), clone3 answered ENOSYS (Docker's too).
fn seccomp_section(blocked: &[&str]) -> Value {
    let allowed: Vec<&str> = skiff::runtime::syscall_table::names()
        .filter(|n| !blocked.contains(n) && *n != "clone" && *n != "clone3")
        .collect();
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": allowed, "action": "SCMP_ACT_ALLOW"},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2114060288u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
        ],
    })
}

#[test]
fn seccomp_blocks_calls_with_eperm() {
    let mut b = Bundle::new(
        "rt_seccomp",
        &[
            "sh",
            "-c",
            "unshare -U true; echo unshare=$?; mount -t tmpfs none /tmp; echo mount=$?; \
             echo still-running; grep -E 'Seccomp:|NoNewPrivs:' /proc/self/status",
        ],
    );
    b.spec["linux"]["seccomp"] = seccomp_section(&["mount", "unshare", "keyctl"]);
    let out = b.run();
    out.assert_ok();
    out.assert_stdout_has("unshare=1")
        .assert_stdout_has("mount=");
    out.assert_stdout_has("still-running");
    assert!(!out.stdout.contains("mount=0"), "{out}");
    out.assert_stderr_any(&["Operation not permitted"]);
    assert_eq!(status_field(&out.stdout, "Seccomp:"), "2");
}

#[test]
fn masked_and_read_only_paths() {
    let b = Bundle::new(
        "rt_masks",
        &[
            "sh",
            "-c",
            "stat -c %t:%T /proc/keys /proc/timer_list; ls -A /sys/firmware | wc -l; \
             echo x > /proc/sys/kernel/domainname; echo write=$?; \
             [ -e /proc/kcore ] && wc -c < /proc/kcore; true",
        ],
    );
    let out = b.run();
    out.assert_ok();
    let lines = out.lines();
    assert_eq!(lines[0], "1:3", "/proc/keys is /dev/null:\n{out}");
    assert_eq!(lines[1], "1:3", "/proc/timer_list is /dev/null:\n{out}");
    assert_eq!(lines[2], "0", "/sys/firmware is empty:\n{out}");
    out.assert_stdout_has("write=1")
        .assert_stderr_any(&["Read-only file system"]);
    if Path::new("/proc/kcore").exists() {
        assert_eq!(lines[4], "0", "/proc/kcore reads empty:\n{out}");
    }
}

#[test]
fn exit_codes() {
    let mut b = Bundle::new("rt_exit", &["sh", "-c", "exit 3"]);
    b.run().assert_code(3);

    b.set_args(&["/bin/nope"]);
    let out = b.run();
    out.assert_code(127).assert_error_line();
    out.assert_stderr_has("skiff: exec /bin/nope: no such file or directory");

    b.set_args(&["nope"]);
    let out = b.run();
    out.assert_code(127);
    out.assert_stderr_has("exec nope: executable file not found in $PATH");

    b.set_args(&["/etc"]);
    let out = b.run();
    out.assert_code(126).assert_error_line();
    out.assert_stderr_has("skiff: exec /etc: is a directory");

    b.set_args(&["/etc/passwd"]);
    let out = b.run();
    out.assert_code(126);
    out.assert_stderr_has("skiff: exec /etc/passwd: permission denied");

    std::fs::write(b.rootfs().join("bin/garbage"), "not a program").unwrap();
    std::fs::set_permissions(
        b.rootfs().join("bin/garbage"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    b.set_args(&["garbage"]);
    let out = b.run();
    out.assert_code(126);
    out.assert_stderr_has("skiff: exec /bin/garbage: exec format error");
}

#[test]
fn killed_by_a_signal_is_128_plus_n() {
    // Without a pid namespace of its own the shell is not an init, which
    // the kernel would shield from its own SIGKILL.
    let mut b = Bundle::new("rt_signal", &["sh", "-c", "kill -9 $$"]);
    b.without_ns("pid");
    b.run().assert_code(137);
}

#[test]
fn stdout_stderr_apart_and_stdin_streamed() {
    let b = Bundle::new(
        "rt_stdio",
        &["sh", "-c", "echo out; echo err >&2; cat; echo end"],
    );
    let out = b.run_stdin(Some(b"hello\nworld\n"));
    out.assert_ok();
    assert_eq!(out.stdout, "out\nhello\nworld\nend\n");
    assert_eq!(out.stderr, "err\n");
}

#[test]
fn rlimits_are_clamped_to_the_hard_limit() {
    let mut b = Bundle::new(
        "rt_ulimit",
        &["sh", "-c", "ulimit -Sn; ulimit -Hn; ulimit -c"],
    );
    b.spec["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 1u64 << 30, "hard": 1u64 << 30},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
    ]);
    let (_, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    let out = b.run();
    out.assert_ok();
    let has_sys_resource = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            let eff = u64::from_str_radix(status_field(&s, "CapEff:"), 16).unwrap();
            eff & (1 << 24) != 0
        })
        .unwrap();
    let expect = if has_sys_resource { 1u64 << 30 } else { hard };
    assert_eq!(
        out.lines(),
        [expect.to_string(), expect.to_string(), "0".to_string()],
        "{out}"
    );
}

#[test]
fn overlay_annotation_mounts_inside_the_container() {
    let mut b = Bundle::new(
        "rt_overlay",
        &["sh", "-c", "cat /data/x; echo new > /data/y; ls /data"],
    );
    let d = b.dir();
    // The busybox tree is the bottom layer; a second layer adds /data/x.
    std::fs::rename(b.rootfs(), d.join("lower1")).unwrap();
    std::fs::create_dir_all(d.join("lower2/data")).unwrap();
    std::fs::write(d.join("lower2/data/x"), "from lower2\n").unwrap();
    for x in ["rootfs", "upper", "work"] {
        std::fs::create_dir_all(d.join(x)).unwrap();
    }
    let overlay = json!({
        "lower": [d.join("lower2"), d.join("lower1")],
        "upper": d.join("upper"),
        "work": d.join("work"),
    });
    b.spec["annotations"] = json!({"org.skiff.rootfs.overlay": overlay.to_string()});
    let out = b.run();
    out.assert_ok();
    assert_eq!(out.lines(), ["from lower2", "x", "y"], "{out}");
    assert_eq!(
        std::fs::read_to_string(d.join("upper/data/y")).unwrap(),
        "new\n"
    );
    assert!(!d.join("lower2/data/y").exists());
    // The mount point stayed an empty directory on the host.
    assert_eq!(std::fs::read_dir(d.join("rootfs")).unwrap().count(), 0);
}

#[test]
fn bind_target_symlink_cannot_escape_the_root() {
    let unique = format!("skiff-escape-{}", std::process::id());
    let mut b = Bundle::new("rt_escape", &["sh", "-c", "cat /etc/x; cat /tmp/host-file"]);
    let src = b.dir().join("source-file");
    std::fs::write(&src, "bound\n").unwrap();
    // Resolved on the host, this would land on /tmp/<unique>-host-file.
    let target = format!("/../../../../../../tmp/{unique}-host-file");
    std::os::unix::fs::symlink(&target, b.rootfs().join("etc/x")).unwrap();
    std::os::unix::fs::symlink(
        format!("/tmp/{unique}-host-file"),
        b.rootfs().join("tmp/host-file"),
    )
    .unwrap();
    b.spec["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/etc/x", "type": "bind", "source": src, "options": ["rbind", "ro"]}),
    );
    let out = b.run();
    out.assert_ok();
    assert_eq!(out.lines(), ["bound", "bound"], "{out}");
    let host = PathBuf::from(format!("/tmp/{unique}-host-file"));
    assert!(!host.exists(), "the bind target was made on the host");
    assert!(b.rootfs().join(format!("tmp/{unique}-host-file")).exists());
}

#[test]
fn no_descriptor_leaks_in_and_cwd_is_inside() {
    let b = Bundle::new(
        "rt_fds",
        &["sh", "-c", "ls /proc/self/fd; readlink /proc/self/cwd"],
    );
    b.write();
    // A descriptor skiff inherits without close-on-exec must not reach
    // the container (CVE-2024-21626).
    let leak = std::fs::File::open(b.dir()).unwrap();
    nix::fcntl::fcntl(
        &leak,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )
    .unwrap();
    let args = b.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let child = b
        .env
        .command(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = common::skiff::wait_out(child, "runtime run");
    drop(leak);
    out.assert_ok();
    // 0, 1, 2 and ls's own descriptor of the directory.
    assert_eq!(out.lines(), ["0", "1", "2", "3", "/"], "{out}");
}

#[test]
fn working_directory_is_made_or_refused() {
    let mut b = Bundle::new("rt_cwd", &["pwd"]);
    b.spec["process"]["cwd"] = json!("/work/dir");
    let out = b.run();
    out.assert_ok();
    assert_eq!(out.stdout, "/work/dir\n");

    b.spec["process"]["cwd"] = json!("/etc/passwd");
    let out = b.run();
    out.assert_code(125).assert_error_line();
    out.assert_stderr_has("chdir to /etc/passwd: not a directory");
}

#[test]
fn a_failing_mount_is_one_line() {
    let mut b = Bundle::new("rt_badmount", &["true"]);
    b.spec["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/x", "type": "nosuchfs", "source": "none"}));
    let out = b.run();
    out.assert_code(125).assert_error_line();
    out.assert_stderr_has("skiff: mount nosuchfs on /x: no such device");
}

#[test]
fn user_namespace_with_maps() {
    let mut b = Bundle::new(
        "rt_userns",
        &[
            "sh",
            "-c",
            "id -u; cat /proc/self/uid_map; ls -l /dev/null; echo hi > /dev/null",
        ],
    );
    let ns = b.spec["linux"]["namespaces"].as_array_mut().unwrap();
    ns.push(json!({"type": "user"}));
    b.spec["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    b.spec["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    // cgroup v1 cannot be mounted from a user namespace; Docker's rootless
    // spec leaves it out the same way.
    b.spec["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["type"] != "cgroup");
    let out = b.run();
    out.assert_ok();
    let lines = out.lines();
    assert_eq!(lines[0], "0");
    let map: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(map, ["0", "200000", "65536"]);
    assert!(lines[2].starts_with("crw-rw-rw-"), "{out}");
}

#[test]
fn terminal_gets_a_pty_with_the_window_size() {
    let b = Bundle::new("rt_tty", &["sh", "-c", "tty; stty size; echo done"]);
    let mut b = b;
    b.spec["process"]["terminal"] = json!(true);
    b.write();
    let ws = nix::pty::Winsize {
        ws_row: 33,
        ws_col: 101,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&ws), None).unwrap();
    let slave = std::fs::File::from(pty.slave);
    let args = b.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = b
        .env
        .command(&args)
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave)
        .spawn()
        .unwrap();
    let mut master = std::fs::File::from(pty.master);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "skiff hung");
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    // The slave is closed in skiff and the container; read what is left.
    nix::fcntl::fcntl(
        &master,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .unwrap();
    while let Ok(n) = master.read(&mut buf) {
        if n == 0 {
            break;
        }
        text.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&text);
    assert!(status.success(), "{status:?}: {text}");
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    assert!(lines.contains(&"/dev/pts/0"), "{text:?}");
    assert!(lines.contains(&"33 101"), "{text:?}");
    assert!(lines.contains(&"done"), "{text:?}");
}

#[test]
fn signals_are_forwarded_to_the_container() {
    let b = Bundle::new(
        "rt_sigfwd",
        &[
            "sh",
            "-c",
            "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.05; done",
        ],
    );
    b.write();
    let args = b.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = b
        .env
        .command(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 64];
    while !String::from_utf8_lossy(&seen).contains("ready") {
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "the container never got ready");
        seen.extend_from_slice(&buf[..n]);
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    stdout.read_to_end(&mut seen).unwrap();
    let text = String::from_utf8_lossy(&seen);
    assert_eq!(status.code(), Some(7), "{text}");
    assert!(text.contains("got-term"), "{text}");
}

/// Copy the C library skiff links against into `root`, so that skiff's
/// own binary could run there if the container reached it.
fn add_host_libc(root: &Path, exe: &str) {
    let out = std::process::Command::new("ldd").arg(exe).output().unwrap();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let path = line
            .split_whitespace()
            .find(|w| w.starts_with('/'))
            .map(PathBuf::from);
        if let Some(p) = path {
            let dest = root.join(p.strip_prefix("/").unwrap());
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

fn exe_digest() -> Vec<u8> {
    std::fs::read(env!("CARGO_BIN_EXE_skiff")).unwrap()
}

#[test]
fn proc_self_exe_never_runs_skiff_in_the_container() {
    // CVE-2019-5736. With a pid namespace of its own, the command starts
    // through the sealed trampoline: /proc/self/exe at that moment is the
    // trampoline, not skiff, so skiff never runs inside (it would print
    // its version; the libraries it needs are there).
    let mut b = Bundle::new("rt_cve_exe", &["/proc/self/exe", "--version"]);
    add_host_libc(&b.rootfs(), env!("CARGO_BIN_EXE_skiff"));
    let before = exe_digest();
    let out = b.run();
    out.assert_stdout_lacks("skiff version");
    assert_ne!(out.code, 0, "{out}");
    // The same through a script's interpreter line.
    std::fs::write(b.rootfs().join("bin/evil"), "#!/proc/self/exe\n").unwrap();
    std::fs::set_permissions(
        b.rootfs().join("bin/evil"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    b.set_args(&["/bin/evil", "--version"]);
    let out = b.run();
    out.assert_stdout_lacks("skiff version");
    assert_eq!(exe_digest(), before);
}

#[test]
fn shared_pid_namespace_runs_skiff_from_a_sealed_copy() {
    // CVE-2019-5736 without a pid namespace: the container can see skiff
    // (its parent), so skiff runs from a sealed copy that cannot be
    // opened for writing.
    let mut b = Bundle::new(
        "rt_cve_sealed",
        &[
            "sh",
            "-c",
            "readlink /proc/$PPID/exe; echo x >> /proc/$PPID/exe; echo write=$?",
        ],
    );
    b.without_ns("pid");
    // Every capability, as a privileged container would have them.
    let all: Vec<String> = caps::all().into_iter().map(|c| c.to_string()).collect();
    for set in ["bounding", "effective", "permitted", "inheritable"] {
        b.spec["process"]["capabilities"][set] = json!(all);
    }
    let before = exe_digest();
    let out = b.run();
    out.assert_ok();
    let exe = out.lines()[0].to_string();
    assert_ne!(
        Path::new(&exe),
        Path::new(env!("CARGO_BIN_EXE_skiff")),
        "skiff ran from its own binary:\n{out}"
    );
    out.assert_stdout_has("write=1");
    out.assert_stderr_any(&["Read-only file system"]);
    assert_eq!(exe_digest(), before);
}

/// A user for rootless runs, with subordinate ids for newuidmap:
/// (uid, gid, first subordinate id).
fn rootless_user() -> (u32, u32, u32) {
    let u = common::rootless::user();
    (u.uid, u.gid, u.sub)
}

#[test]
fn rootless_run_writes_maps_with_newuidmap() {
    if which("newuidmap").is_none() {
        eprintln!("skipped: newuidmap is not installed (package uidmap)");
        return;
    }
    let (uid, gid, sub) = rootless_user();
    let mut b = Bundle::new(
        "rt_rootless",
        &[
            "sh",
            "-c",
            "id -u; cat /proc/self/uid_map; grep CapEff /proc/self/status",
        ],
    );
    b.spec["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    let maps = json!([
        {"containerID": 0, "hostID": uid, "size": 1},
        {"containerID": 1, "hostID": sub, "size": 65536},
    ]);
    b.spec["linux"]["uidMappings"] = maps.clone();
    b.spec["linux"]["gidMappings"] = json!([
        {"containerID": 0, "hostID": gid, "size": 1},
        {"containerID": 1, "hostID": sub, "size": 65536},
    ]);
    b.spec["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["type"] != "cgroup");
    b.write();
    // The user must reach the bundle: its tempdir is private to root.
    std::fs::set_permissions(b.dir(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let args = b.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let child = {
        use std::os::unix::process::CommandExt;
        b.env
            .command(&args)
            .uid(uid)
            .gid(gid)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let out = common::skiff::wait_out(child, "runtime run (rootless)");
    out.assert_ok();
    let lines = out.lines();
    assert_eq!(lines[0], "0", "root inside:\n{out}");
    let first: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(first, ["0", &uid.to_string(), "1"], "{out}");
    assert_eq!(status_field(&out.stdout, "CapEff:"), DOCKER_CAP_MASK);
    assert_no_host_mounts(&b.dir());
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| f.is_file())
    })
}
