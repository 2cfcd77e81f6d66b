//! Helpers for the `skiff run` tests: an environment with images pulled
//! from a test registry, runs with extra caller environment, runs in the
//! background that a test reads as they go and signals, and what the host
//! sees (mounts, processes, cgroups, capability masks) around a run.

use super::registry::{Registry, Setup};
use super::run_images::run_images;
use super::skiff::{skiff_bin, wait_out, Out, Skiff, DEADLINE};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Docker's default capability set (CHOWN, DAC_OVERRIDE, FOWNER, FSETID,
/// KILL, SETGID, SETUID, SETPCAP, NET_BIND_SERVICE, NET_RAW, SYS_CHROOT,
/// MKNOD, AUDIT_WRITE, SETFCAP) as `/proc/PID/status` prints it.
pub const DOCKER_CAPS: u64 = 0x0000_0000_a804_25fb;

pub const CAP_CHOWN: u32 = 0;
pub const CAP_SYS_ADMIN: u32 = 21;

/// A test's registry and skiff environment, with images pulled into it.
pub struct Ctx {
    pub reg: Registry,
    pub env: Skiff,
}

impl Ctx {
    /// A fresh environment named after the test with `busybox:latest`
    /// pulled.
    pub fn new(name: &str) -> Ctx {
        Ctx::with(name, &["busybox"])
    }

    /// A fresh environment with each `repo:latest` pulled (`busybox`, or
    /// one of the `run/*` images).
    pub fn with(name: &str, repos: &[&str]) -> Ctx {
        Ctx::with_env(Skiff::new(name), repos)
    }

    /// [`Ctx::with`], every command run as the unprivileged test user.
    pub fn rootless(name: &str, repos: &[&str]) -> Ctx {
        Ctx::with_env(Skiff::rootless(name), repos)
    }

    fn with_env(env: Skiff, repos: &[&str]) -> Ctx {
        if repos.iter().any(|r| r.starts_with("run/")) {
            run_images();
        }
        let reg = Registry::start(Setup::Plain);
        let ctx = Ctx { reg, env };
        for r in repos {
            ctx.env.ok(&["pull", &ctx.image(r)]);
        }
        ctx
    }

    /// `127.0.0.1:PORT/<repo>:latest`
    pub fn image(&self, repo: &str) -> String {
        self.reg.image(&format!("{repo}:latest"))
    }

    /// The busybox image's reference.
    pub fn bb(&self) -> String {
        self.image("busybox")
    }

    /// `skiff run ARGS`.
    pub fn run(&self, args: &[&str]) -> Out {
        self.env.run(&prefixed("run", args))
    }

    /// `skiff run ARGS` with `input` on its stdin.
    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Out {
        self.env.run_stdin(&prefixed("run", args), Some(input))
    }

    /// `skiff run ARGS`, asserting exit 0.
    pub fn run_ok(&self, args: &[&str]) -> Out {
        let out = self.run(args);
        out.assert_ok();
        out
    }

    /// `skiff run --rm FLAGS busybox sh -c SCRIPT`, asserting exit 0;
    /// returns its stdout.
    pub fn sh(&self, flags: &[&str], script: &str) -> String {
        let out = self.sh_out(flags, script);
        out.assert_ok();
        out.stdout
    }

    /// `skiff run --rm FLAGS busybox sh -c SCRIPT`, whatever its exit.
    pub fn sh_out(&self, flags: &[&str], script: &str) -> Out {
        let bb = self.bb();
        let mut a = vec!["--rm"];
        a.extend_from_slice(flags);
        a.extend_from_slice(&[&bb, "sh", "-c", script]);
        self.run(&a)
    }

    /// `skiff run ARGS` with these variables added to skiff's own
    /// environment (for `-e KEY`, which takes the caller's value).
    pub fn run_with_env(&self, args: &[&str], vars: &[(&str, &str)]) -> Out {
        let a = prefixed("run", args);
        let mut c = self.env.command(&a);
        for (k, v) in vars {
            c.env(k, v);
        }
        let child = c
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", skiff_bin()));
        wait_out(child, &format!("skiff {}", a.join(" ")))
    }

    /// `skiff run ARGS` in the background.
    pub fn spawn_run(&self, args: &[&str]) -> Bg {
        Bg::spawn(&self.env, &prefixed("run", args))
    }

    /// `skiff run ARGS` in the background, its stdin a pipe.
    pub fn spawn_run_stdin(&self, args: &[&str]) -> Bg {
        Bg::spawn_with_stdin(&self.env, &prefixed("run", args))
    }

    /// The names in `ROOT/containers/` (one per container the store
    /// keeps).
    pub fn container_dirs(&self) -> Vec<String> {
        super::expect::entries(&self.env.root.join("containers"))
    }

    /// `skiff inspect NAME`: its one object.
    pub fn inspect(&self, name: &str) -> serde_json::Value {
        let out = self.env.ok(&["inspect", name]);
        let v: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("inspect printed no JSON ({e}):\n{out}"));
        v[0].clone()
    }

    /// Every container record the store holds, as JSON.
    /// Make container `id` look still being made: its record names
    /// `maker` as its maker, and this process holds the lock on its
    /// directory (as a live maker, or the monitor it handed the lock to,
    /// does) until the returned lock is dropped.
    pub fn hold_as_being_made(&self, id: &str, maker: u32) -> nix::fcntl::Flock<std::fs::File> {
        let dir = self.env.root.join("containers").join(id);
        let path = dir.join("container.json");
        let mut rec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        rec["state"]["creator_pid"] = maker.into();
        std::fs::write(&path, serde_json::to_vec(&rec).unwrap()).unwrap();
        nix::fcntl::Flock::lock(
            std::fs::File::open(&dir).unwrap(),
            nix::fcntl::FlockArg::LockExclusiveNonblock,
        )
        .unwrap()
    }

    pub fn container_records(&self) -> Vec<serde_json::Value> {
        self.container_dirs()
            .iter()
            .filter_map(|id| {
                let p = self
                    .env
                    .root
                    .join("containers")
                    .join(id)
                    .join("container.json");
                std::fs::read(p)
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
            })
            .collect()
    }

    /// The names `skiff volume ls -q` prints.
    pub fn volumes(&self) -> Vec<String> {
        let out = self.env.ok(&["volume", "ls", "-q"]);
        out.lines().iter().map(|l| l.trim().to_string()).collect()
    }

    /// Nothing of this environment is left on the host: no container
    /// directory, no mount under its root or runroot, no process whose
    /// environment holds `mark` (pass one that each run set with `-e`), no
    /// cgroup directory named after any of `ids`, and a consistent store.
    pub fn assert_nothing_left(&self, ids: &[String], mark: Option<&str>) {
        let dirs = self.container_dirs();
        assert!(dirs.is_empty(), "container directories left: {dirs:?}");
        let mounts = mounts_under(&[&self.env.root, &self.env.runroot]);
        assert!(mounts.is_empty(), "mounts left:\n{}", mounts.join("\n"));
        if let Some(m) = mark {
            let procs = procs_with_env(m);
            assert!(procs.is_empty(), "container processes left: {procs:?}");
        }
        let mut ours = procs_with_env(&format!("SKIFF_ROOT={}", self.env.root.display()));
        // The rootless pause process keeps the environment's namespaces
        // for its whole life, by design.
        ours.retain(|p| Some(*p) != super::rootless::pause_pid(&self.env.runroot));
        assert!(ours.is_empty(), "skiff processes left: {ours:?}");
        for id in ids {
            let cg = cgroups_left(id);
            assert!(cg.is_empty(), "cgroups left for {id}: {cg:?}");
            let rr = super::expect::find_named(&self.env.runroot, id);
            assert!(rr.is_empty(), "runroot entries left for {id}: {rr:?}");
        }
        self.env.assert_store_clean();
    }
}

fn prefixed<'a>(first: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![first];
    a.extend_from_slice(args);
    a
}

/// A skiff command running in the background: its output collected as
/// it comes, signals sent to it (only to it, not to its process group),
/// killed if the test ends first.
pub struct Bg {
    cmd: String,
    child: Option<Child>,
    stdin: Option<std::process::ChildStdin>,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

fn collect(mut r: impl Read + Send + 'static, buf: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = r.read(&mut chunk) {
            if n == 0 {
                break;
            }
            buf.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    })
}

impl Bg {
    /// Run with stdin at /dev/null.
    pub fn spawn(env: &Skiff, args: &[&str]) -> Bg {
        Bg::start(env, args, false)
    }

    /// Run with stdin a pipe the test writes with [`Bg::write_stdin`].
    pub fn spawn_with_stdin(env: &Skiff, args: &[&str]) -> Bg {
        Bg::start(env, args, true)
    }

    fn start(env: &Skiff, args: &[&str], piped: bool) -> Bg {
        let mut child = env
            .command(args)
            .stdin(if piped { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", skiff_bin()));
        let stdin = child.stdin.take();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            collect(child.stdout.take().unwrap(), stdout.clone()),
            collect(child.stderr.take().unwrap(), stderr.clone()),
        ];
        Bg {
            cmd: format!("skiff {}", args.join(" ")),
            child: Some(child),
            stdin,
            stdout,
            stderr,
            readers,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    pub fn stdout_now(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }

    pub fn stderr_now(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Wait until stdout contains `needle`; panics with the output so far
    /// when it does not within `timeout` or the command exits first.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) {
        let start = Instant::now();
        loop {
            if self.stdout_now().contains(needle) {
                return;
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || start.elapsed() > timeout {
                // Give the readers a moment to catch the last output.
                std::thread::sleep(Duration::from_millis(100));
                if self.stdout_now().contains(needle) {
                    return;
                }
                panic!(
                    "waited for {needle:?} on stdout ({}):\n$ {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    if exited.is_some() { "the command exited" } else { "timed out" },
                    self.cmd,
                    self.stdout_now(),
                    self.stderr_now()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn write_stdin(&mut self, data: &[u8]) {
        use std::io::Write;
        let w = self.stdin.as_mut().expect("spawned with a stdin pipe");
        w.write_all(data).expect("write to skiff's stdin");
        w.flush().expect("flush skiff's stdin");
    }

    /// Close skiff's stdin (end of input).
    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Send `sig` to the skiff process itself.
    pub fn signal(&self, sig: Signal) {
        kill(Pid::from_raw(self.pid() as i32), sig)
            .unwrap_or_else(|e| panic!("send {sig} to {}: {e}", self.cmd));
    }

    /// Wait for the exit (killing it past the harness's deadline).
    pub fn finish(mut self) -> Out {
        self.stdin.take();
        let mut child = self.child.take().unwrap();
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait for skiff") {
                break s;
            }
            if start.elapsed() > DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "killed after {DEADLINE:?}:\n$ {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    self.cmd,
                    self.stdout_now(),
                    self.stderr_now()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        use std::os::unix::process::ExitStatusExt;
        let code = status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        let stdout_bytes = std::mem::take(&mut *self.stdout.lock().unwrap());
        Out {
            cmd: self.cmd.clone(),
            code,
            stdout: String::from_utf8_lossy(&stdout_bytes).into_owned(),
            stdout_bytes,
            stderr: self.stderr_now(),
        }
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The mount points in this process's mount table (the host's).
pub fn host_mountpoints() -> Vec<String> {
    mountpoints(&std::fs::read_to_string("/proc/self/mountinfo").unwrap())
}

/// The mount points (fifth field) of a mountinfo text.
pub fn mountpoints(mountinfo: &str) -> Vec<String> {
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_mount)
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape_mount(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Host mount table lines whose mount point or source lies under one of
/// `dirs`.
pub fn mounts_under(dirs: &[&Path]) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .filter(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            dirs.iter().any(|d| {
                let d = d.display().to_string();
                f.iter().any(|x| unescape_mount(x).starts_with(&d)) || l.contains(&d)
            })
        })
        .map(String::from)
        .collect()
}

/// Pids of processes whose environment contains `needle` (e.g. a
/// `KEY=VALUE` a test passed with `-e`).
pub fn procs_with_env(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        if let Ok(env) = std::fs::read(e.path().join("environ")) {
            if env.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
                out.push(pid);
            }
        }
    }
    out
}

/// Does this machine limit through v1 controllers (hybrid or legacy)?
pub fn cgroup_v1() -> bool {
    Path::new("/sys/fs/cgroup/memory/cgroup.procs").exists()
}

/// Container `id`'s cgroup directory in hierarchy `h` (`memory`,
/// `blkio`, `unified`, ... on v1; v2 has one directory for all).
pub fn cgroup_dir(h: &str, id: &str) -> PathBuf {
    if cgroup_v1() {
        Path::new("/sys/fs/cgroup").join(h).join("skiff").join(id)
    } else {
        Path::new("/sys/fs/cgroup/skiff").join(id)
    }
}

/// A file's contents, trimmed (a cgroup file, a `/proc` one).
pub fn read_trim(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

/// Directories under `/sys/fs/cgroup` (v1 controllers and v2 alike) whose
/// name contains `needle`.
pub fn cgroup_dirs_named(needle: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, needle: &str, depth: usize, out: &mut Vec<PathBuf>) {
        if depth == 0 {
            return;
        }
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            if !e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            let p = e.path();
            if e.file_name().to_string_lossy().contains(needle) {
                out.push(p.clone());
            }
            walk(&p, needle, depth - 1, out);
        }
    }
    let mut out = Vec::new();
    walk(Path::new("/sys/fs/cgroup"), needle, 8, &mut out);
    out
}

/// [`cgroup_dirs_named`] once the monitors' own cgroups among them are
/// gone: a monitor leaves its cgroup (`skiff-monitors/ID`) as it exits,
/// a moment after it recorded the container's end. Waits at most five
/// seconds for that.
pub fn cgroups_left(needle: &str) -> Vec<PathBuf> {
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let left = cgroup_dirs_named(needle);
        let monitors = left
            .iter()
            .any(|p| p.to_string_lossy().contains("/skiff-monitors/"));
        if !monitors || Instant::now() > end {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A hex mask from a `/proc/PID/status` text (`CapEff`, `CapBnd`, ...).
pub fn status_mask(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
}

/// A field of this process's status (`CapBnd`, ...).
pub fn host_status_mask(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    status_mask(&s, field).unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// Every capability skiff can grant (`--cap-add ALL`, `--privileged`):
/// this process's bounding set as root; rootless, all the kernel knows,
/// as a user namespace gives its root every one (over its own objects).
pub fn grantable_caps() -> u64 {
    if !super::rootless::enabled() {
        return host_status_mask("CapBnd");
    }
    let last: u32 = read_trim(Path::new("/proc/sys/kernel/cap_last_cap"))
        .parse()
        .unwrap();
    (1u64 << (last + 1)) - 1
}

/// This process's hard limit on open files.
pub fn host_nofile_hard() -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(4))
        .and_then(|v| v.parse().ok())
        .expect("parse Max open files in /proc/self/limits")
}

/// The namespace links of this process (`ipc:[4026531839]`, ...).
pub fn host_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap_or_else(|e| panic!("read /proc/self/ns/{kind}: {e}"))
        .display()
        .to_string()
}

/// Interface names in a `/proc/net/dev` text.
pub fn net_dev_names(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect();
    v.sort();
    v
}

/// A string unique to this test process and call site, to find what a
/// run left behind.
pub fn mark(what: &str) -> String {
    format!("SKIFF_TEST_MARK={what}-{}", std::process::id())
}

/// Whether `s` is a 12-hex short container id.
pub fn is_short_id(s: &str) -> bool {
    s.len() == 12
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// A loop device over a small file of the test's own, detached when
/// dropped.
pub struct LoopDev {
    pub path: String,
    /// `MAJ:MIN`
    pub major_minor: String,
    _dir: tempfile::TempDir,
}

impl LoopDev {
    pub fn new(name: &str) -> LoopDev {
        let dir = super::test_dir(name);
        let file = dir.path().join("disk.img");
        std::fs::File::create(&file)
            .and_then(|f| f.set_len(32 << 20))
            .unwrap();
        let out = super::run_tool("losetup", &["-f", "--show", file.to_str().unwrap()]);
        let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let name = path.trim_start_matches("/dev/");
        let major_minor = read_trim(Path::new(&format!("/sys/block/{name}/dev")));
        LoopDev {
            path,
            major_minor,
            _dir: dir,
        }
    }

    /// `PATH:VALUE`, as the flags take it.
    pub fn at(&self, value: &str) -> String {
        format!("{}:{value}", self.path)
    }
}

impl Drop for LoopDev {
    fn drop(&mut self) {
        let _ = std::process::Command::new("losetup")
            .args(["-d", &self.path])
            .status();
    }
}
