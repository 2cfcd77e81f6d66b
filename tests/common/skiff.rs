//! One isolated skiff environment per test: its own store, runroot, HOME,
//! auth file and config, so tests run in parallel without sharing state;
//! and the real binary run with a deadline, its exit code, stdout and
//! stderr captured and printed in full whenever an assertion fails.

use base64::Engine as _;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The binary under test: the crate's own `skiff`, unless
/// `SKIFF_TEST_BIN` names another one (a wrapper around a reference tool,
/// to check the tests themselves against known-good behaviour).
pub fn skiff_bin() -> String {
    std::env::var("SKIFF_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_skiff").to_string())
}

/// A generous bound on any one command; a hung skiff fails the test with
/// its output instead of hanging the suite.
pub const DEADLINE: Duration = Duration::from_secs(180);

pub struct Skiff {
    pub name: String,
    pub root: PathBuf,
    pub runroot: PathBuf,
    pub home: PathBuf,
    pub auth_file: PathBuf,
    pub config: PathBuf,
    /// The unprivileged user every command runs as (rootless), if any.
    pub user: Option<&'static super::rootless::TestUser>,
    dir: TempDir,
}

/// The pids of the detached-container monitors of the store at `root`.
pub fn monitors_of(root: &Path) -> Vec<u32> {
    let root = root.as_os_str().as_encoded_bytes();
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmd.split(|b| *b == 0).collect();
        if args.contains(&&b"container-monitor"[..]) && args.contains(&root) {
            out.push(pid);
        }
    }
    out
}

/// Detached containers outlive the commands that start them: a test's
/// leftovers (a failed assertion before its `rm -f`) are killed with its
/// environment, monitors first (their containers die with them).
impl Drop for Skiff {
    fn drop(&mut self) {
        for pid in monitors_of(&self.root) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        super::rootless::stop_pause(&self.runroot);
        remove_cgroups_left(&self.root);
        remove_networks_left(&self.root);
    }
}

/// The host side of the networks of store `root`: their bridges and
/// their packet filter rules (skiff keeps a network's bridge as long as
/// the network, as Docker keeps docker0), and the network namespaces its
/// containers kept.
fn remove_networks_left(root: &Path) {
    if let Ok(rd) = std::fs::read_dir(root.join("containers")) {
        for e in rd.flatten() {
            let _ = nix::mount::umount2(&e.path().join("netns"), nix::mount::MntFlags::MNT_DETACH);
        }
    }
    // The default network's bridge (named after the store's path):
    // removed even when a test took the store's records away.
    if let Ok(store) = skiff::store::Store::open(root) {
        // The published ports' rules of containers killed with it.
        if let Ok(rd) = std::fs::read_dir(root.join("published")) {
            for e in rd.flatten() {
                skiff::network::publish::unpublish(&store, &e.file_name().to_string_lossy());
            }
        }
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &store.default_bridge()])
            .stderr(std::process::Stdio::null())
            .status();
    }
    let Ok(rd) = std::fs::read_dir(root.join("networks")) else {
        return;
    };
    let Ok(store) = skiff::store::Store::open(root) else {
        return;
    };
    for e in rd.flatten() {
        let Ok(data) = std::fs::read(e.path()) else {
            continue;
        };
        // Its bridge and its packet filter rules, as `network rm` takes them.
        if let Ok(net) = serde_json::from_slice::<skiff::store::NetworkRecord>(&data) {
            skiff::network::setup::remove_bridge(&store, &net);
        }
    }
}

/// The cgroups of the containers still in store `root` (a test that
/// failed before removing them), and of their monitors: removed once
/// their processes are gone, as skiff would at the next look.
fn remove_cgroups_left(root: &Path) {
    let Ok(rd) = std::fs::read_dir(root.join("containers")) else {
        return;
    };
    let ids: Vec<String> = rd
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if ids.is_empty() {
        return;
    }
    let base = Path::new("/sys/fs/cgroup");
    let mut bases = vec![base.to_path_buf()];
    if let Ok(rd) = std::fs::read_dir(base) {
        bases.extend(rd.flatten().map(|e| e.path()));
    }
    let mut left: Vec<PathBuf> = Vec::new();
    for b in &bases {
        for id in &ids {
            for parent in ["skiff", "skiff-monitors"] {
                let d = b.join(parent).join(id);
                if d.is_dir() {
                    left.push(d);
                }
            }
        }
    }
    for _ in 0..150 {
        left.retain(|d| std::fs::remove_dir(d).is_err() && d.exists());
        if left.is_empty() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

impl Skiff {
    /// A fresh environment named after the test (`name` shows in the
    /// tempdir's name, so leftovers say which test made them).
    pub fn new(name: &str) -> Skiff {
        Skiff::new_as(name, super::rootless::as_user())
    }

    /// A fresh environment whose commands run as the unprivileged test
    /// user, whatever `SKIFF_TEST_ROOTLESS` says.
    pub fn rootless(name: &str) -> Skiff {
        Skiff::new_as(name, Some(super::rootless::user()))
    }

    /// A fresh environment whose commands run as `user` (root: `None`).
    pub fn new_as(name: &str, user: Option<&'static super::rootless::TestUser>) -> Skiff {
        let dir = super::test_dir(name);
        let d = dir.path();
        let (root, runroot, home) = (d.join("root"), d.join("runroot"), d.join("home"));
        std::fs::create_dir_all(&home).unwrap();
        let config = d.join("config.json");
        std::fs::write(&config, "{}\n").unwrap();
        if let Some(u) = user {
            super::rootless::chown_tree(d, u);
        }
        Skiff {
            name: name.to_string(),
            auth_file: d.join("auth/auth.json"),
            root,
            runroot,
            home,
            config,
            user,
            dir,
        }
    }

    /// The test's scratch directory (not the store).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `skiff ARGS` with this environment, nothing inherited that could
    /// point it elsewhere.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = match self.user {
            // As the test user: `setpriv` execs skiff in its own process.
            Some(u) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={}", u.uid))
                    .arg(format!("--regid={}", u.gid))
                    .args(["--clear-groups", "--"])
                    .arg(skiff_bin());
                c
            }
            None => Command::new(skiff_bin()),
        };
        c.args(args)
            .env_remove("DOCKER_CONFIG")
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("XDG_DATA_HOME")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("SKIFF_FIREWALL_DRIVER")
            .env("SKIFF_ROOT", &self.root)
            .env("SKIFF_RUNROOT", &self.runroot)
            .env("SKIFF_CONFIG", &self.config)
            .env("HOME", &self.home)
            .env("REGISTRY_AUTH_FILE", &self.auth_file)
            .current_dir(self.dir.path());
        c
    }

    /// `skiff ARGS` as [`Skiff::command`] makes it, run through `wrapper`
    /// (`setsid -c -w`, `unshare -m sh -c SCRIPT ...`): the wrapper's
    /// words, then skiff's command line, with skiff's environment.
    pub fn command_via(&self, wrapper: &[&std::ffi::OsStr], args: &[&str]) -> Command {
        let inner = self.command(args);
        let mut c = Command::new(wrapper[0]);
        c.args(&wrapper[1..])
            .arg(inner.get_program())
            .args(inner.get_args());
        for (k, v) in inner.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        if let Some(d) = inner.get_current_dir() {
            c.current_dir(d);
        }
        c
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", skiff_bin()))
    }

    pub fn run(&self, args: &[&str]) -> Out {
        self.run_stdin(args, None)
    }

    pub fn run_stdin(&self, args: &[&str], input: Option<&[u8]>) -> Out {
        let mut cmd = self.command(args);
        cmd.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", skiff_bin()));
        let feeder = input.map(|data| {
            let mut stdin = child.stdin.take().unwrap();
            let data = data.to_vec();
            std::thread::spawn(move || {
                let _ = stdin.write_all(&data);
            })
        });
        let out = wait_out(child, &format!("skiff {}", args.join(" ")));
        if let Some(f) = feeder {
            let _ = f.join();
        }
        out
    }

    /// Run and assert exit 0.
    pub fn ok(&self, args: &[&str]) -> Out {
        let out = self.run(args);
        out.assert_ok();
        out
    }

    /// Run and assert exit 125 (skiff's own errors).
    pub fn fails(&self, args: &[&str]) -> Out {
        let out = self.run(args);
        out.assert_code(125);
        out
    }

    /// `skiff system check` prints nothing and exits 0.
    pub fn assert_store_clean(&self) {
        let out = self.run(&["system", "check"]);
        if out.code != 0 || !out.stdout.trim().is_empty() {
            panic!("the store is not consistent:\n{out}");
        }
    }

    /// `skiff image inspect REF`'s one object.
    pub fn inspect(&self, r: &str) -> serde_json::Value {
        let out = self.ok(&["image", "inspect", r]);
        let v: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("image inspect printed no JSON ({e}):\n{out}"));
        let arr = v
            .as_array()
            .unwrap_or_else(|| panic!("not an array:\n{out}"));
        assert_eq!(arr.len(), 1, "one object per reference:\n{out}");
        arr[0].clone()
    }

    /// The IDs `skiff images -q --no-trunc` lists, sorted and deduplicated.
    pub fn image_ids(&self) -> Vec<String> {
        let out = self.ok(&["images", "-q", "--no-trunc"]);
        let mut ids: Vec<String> = out.stdout.lines().map(|l| l.trim().to_string()).collect();
        ids.retain(|l| !l.is_empty());
        ids.sort();
        ids.dedup();
        ids
    }

    /// Write credentials into this environment's auth file, as `login`
    /// would, for tests about something other than login.
    pub fn write_auth(&self, host: &str, user: &str, password: &str) {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let doc = serde_json::json!({"auths": {host: {"auth": auth}}});
        std::fs::create_dir_all(self.auth_file.parent().unwrap()).unwrap();
        std::fs::write(&self.auth_file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
        if let Some(u) = self.user {
            super::rootless::chown_tree(self.auth_file.parent().unwrap(), u);
        }
    }

    /// The auth file as JSON (`null` when absent).
    pub fn auth_json(&self) -> serde_json::Value {
        std::fs::read(&self.auth_file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(serde_json::Value::Null)
    }

    /// `ROOT/layers/<chain-id hex>/diff`
    pub fn layer_dir(&self, chain_id: &str) -> PathBuf {
        self.root
            .join("layers")
            .join(super::hex_of(chain_id))
            .join("diff")
    }

    pub fn has_blob(&self, digest: &str) -> bool {
        self.root
            .join("blobs/sha256")
            .join(super::hex_of(digest))
            .exists()
    }

    /// Names of the committed layer dirs (`ROOT/layers/*`).
    pub fn layer_names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.root.join("layers"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

/// What one run of skiff did.
pub struct Out {
    pub cmd: String,
    /// The exit code; 128+N when killed by signal N.
    pub code: i32,
    pub stdout: String,
    pub stdout_bytes: Vec<u8>,
    pub stderr: String,
}

impl fmt::Display for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "$ {}\nexit code: {}\n--- stdout ---\n{}\n--- stderr ---\n{}\n---",
            self.cmd, self.code, self.stdout, self.stderr
        )
    }
}

impl Out {
    pub fn assert_ok(&self) -> &Self {
        self.assert_code(0)
    }

    pub fn assert_code(&self, code: i32) -> &Self {
        if self.code != code {
            panic!("expected exit code {code}:\n{self}");
        }
        self
    }

    pub fn assert_stdout_has(&self, s: &str) -> &Self {
        if !self.stdout.contains(s) {
            panic!("expected stdout to contain {s:?}:\n{self}");
        }
        self
    }

    pub fn assert_stdout_lacks(&self, s: &str) -> &Self {
        if self.stdout.contains(s) {
            panic!("expected stdout not to contain {s:?}:\n{self}");
        }
        self
    }

    pub fn assert_stderr_has(&self, s: &str) -> &Self {
        if !self.stderr.contains(s) {
            panic!("expected stderr to contain {s:?}:\n{self}");
        }
        self
    }

    /// stderr contains at least one of `words`, ignoring case.
    pub fn assert_stderr_any(&self, words: &[&str]) -> &Self {
        let e = self.stderr.to_lowercase();
        if !words.iter().any(|w| e.contains(&w.to_lowercase())) {
            panic!("expected stderr to mention one of {words:?}:\n{self}");
        }
        self
    }

    /// Docker's error shape: the error is one line starting `skiff: `, the
    /// last on stderr (progress lines and warnings may come before it, a
    /// pointer to `--help` after it).
    pub fn assert_error_line(&self) -> &Self {
        // A usage error adds Docker's "See 'skiff CMD --help'." after it.
        let last = self
            .stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty() && !l.starts_with("See '"));
        let errors = self
            .stderr
            .lines()
            .filter(|l| l.starts_with("skiff: "))
            .count();
        if !last.is_some_and(|l| l.starts_with("skiff: ")) || errors != 1 {
            panic!("expected one error line starting with \"skiff: \", last on stderr:\n{self}");
        }
        self
    }

    /// Both streams: for progress lines, which Docker prints on stderr
    /// when it is not a terminal.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    pub fn assert_any_has(&self, s: &str) -> &Self {
        if !self.all().contains(s) {
            panic!("expected stdout or stderr to contain {s:?}:\n{self}");
        }
        self
    }

    pub fn lines(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }

    pub fn last_line(&self) -> &str {
        self.lines().last().copied().unwrap_or("")
    }

    pub fn fail(&self, why: &str) -> ! {
        panic!("{why}:\n{self}")
    }
}

/// Collect a child's output, killing it (and failing) past [`DEADLINE`].
pub fn wait_out(mut child: Child, cmd: &str) -> Out {
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for skiff") {
            break s;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            let out = Out {
                cmd: cmd.to_string(),
                code: -1,
                stdout: String::from_utf8_lossy(&t_out.join().unwrap()).into_owned(),
                stdout_bytes: Vec::new(),
                stderr: String::from_utf8_lossy(&t_err.join().unwrap()).into_owned(),
            };
            panic!("killed after {DEADLINE:?}:\n{out}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    let stdout_bytes = t_out.join().unwrap();
    Out {
        cmd: cmd.to_string(),
        code,
        stdout: String::from_utf8_lossy(&stdout_bytes).into_owned(),
        stdout_bytes,
        stderr: String::from_utf8_lossy(&t_err.join().unwrap()).into_owned(),
    }
}
