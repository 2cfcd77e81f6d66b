//! Running the suites as an unprivileged user. With `SKIFF_TEST_ROOTLESS=1`
//! every skiff command a test runs through [`super::Skiff`] runs as the
//! test user (made here, with subordinate ids for `newuidmap`) through
//! `setpriv`, in an environment that user owns: the same tests, asserting
//! the same things, against skiff's rootless mode. Tests of what only root
//! can do (bridges, published ports, cgroup limits on this hybrid host)
//! say so with [`skip_rootless`].

use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

/// The test user: (uid, gid, first subordinate id).
pub struct TestUser {
    pub name: &'static str,
    pub uid: u32,
    pub gid: u32,
    pub sub: u32,
}

const NAME: &str = "skiff-rt";
const SUB: u32 = 400_000;
/// A user without subordinate ids.
const PLAIN: &str = "skiff-rt-nosub";

fn id_as(name: &str, flag: &str) -> Option<u32> {
    let out = std::process::Command::new("id")
        .args([flag, name])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn id_of(flag: &str) -> Option<u32> {
    id_as(NAME, flag)
}

fn useradd(name: &str) {
    if id_as(name, "-u").is_some() {
        return;
    }
    let st = std::process::Command::new("useradd")
        .args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ])
        .status()
        .expect("useradd");
    // Another test process may have made it meanwhile.
    assert!(
        st.success() || id_as(name, "-u").is_some(),
        "useradd {name}"
    );
}

/// A user with no subordinate ids at all (a single-id namespace).
pub fn plain_user() -> &'static TestUser {
    static U: OnceLock<TestUser> = OnceLock::new();
    U.get_or_init(|| {
        useradd(PLAIN);
        TestUser {
            name: PLAIN,
            uid: id_as(PLAIN, "-u").unwrap(),
            gid: id_as(PLAIN, "-g").unwrap(),
            sub: 0,
        }
    })
}

/// The test user, made (with 65536 subordinate uids and gids from
/// 400000) if it does not exist yet.
pub fn user() -> &'static TestUser {
    static U: OnceLock<TestUser> = OnceLock::new();
    U.get_or_init(|| {
        useradd(NAME);
        for file in ["/etc/subuid", "/etc/subgid"] {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            if !text.lines().any(|l| l.starts_with(&format!("{NAME}:"))) {
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(file)
                    .unwrap();
                writeln!(f, "{NAME}:{SUB}:65536").unwrap();
            }
        }
        // Distributions ship /dev/net/tun open to every user (0666):
        // pasta and slirp4netns need it for a rootless container's way
        // out. Some machines have it 0600.
        // /dev/fuse likewise, for the fuse-overlayfs storage driver.
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions("/dev/net/tun", std::fs::Permissions::from_mode(0o666));
        let _ = std::fs::set_permissions("/dev/fuse", std::fs::Permissions::from_mode(0o666));
        TestUser {
            name: NAME,
            uid: id_of("-u").unwrap(),
            gid: id_of("-g").unwrap(),
            sub: SUB,
        }
    })
}

/// Do skiff's commands run as the test user (`SKIFF_TEST_ROOTLESS=1`)?
pub fn enabled() -> bool {
    std::env::var_os("SKIFF_TEST_ROOTLESS").is_some_and(|v| !v.is_empty() && v != "0")
}

/// The test user when the suites run rootless.
pub fn as_user() -> Option<&'static TestUser> {
    enabled().then(user)
}

/// In a rootless run, end the test here (passing) with why it does not
/// apply; returns whether it did.
pub fn skip_rootless(why: &str) -> bool {
    if enabled() {
        eprintln!("skipped rootless: {why}");
    }
    enabled()
}

/// Give `dir` and everything in it to the test user.
pub fn chown_tree(dir: &Path, u: &TestUser) {
    let st = std::process::Command::new("chown")
        .args(["-R", &format!("{}:{}", u.uid, u.gid)])
        .arg(dir)
        .status()
        .expect("chown");
    assert!(st.success(), "chown -R {}", dir.display());
}

/// The pause process of a rootless environment (its runroot's
/// `pause.pid`), if it made one.
pub fn pause_pid(runroot: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(runroot.join("pause.pid")).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Stop the pause process a rootless environment made (its runroot's
/// `pause.pid`), which holds the environment's user namespace.
pub fn stop_pause(runroot: &Path) {
    let Ok(text) = std::fs::read_to_string(runroot.join("pause.pid")) else {
        return;
    };
    let Some(pid) = text
        .split_whitespace()
        .next()
        .and_then(|p| p.parse::<i32>().ok())
    else {
        return;
    };
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// Where id `id` of the image (or container) lands on the host: itself as
/// root, the test user's ids (0) and subordinate ids (1 and up) rootless.
pub fn host_uid(id: u32) -> u32 {
    match as_user() {
        None => id,
        Some(u) if id == 0 => u.uid,
        Some(u) => u.sub + id - 1,
    }
}

/// [`host_uid`] for group ids.
pub fn host_gid(id: u32) -> u32 {
    match as_user() {
        None => id,
        Some(u) if id == 0 => u.gid,
        Some(u) => u.sub + id - 1,
    }
}

/// The xattr overlayfs reads for `what` (`opaque`, ...): `trusted.` as
/// root, `user.` in the rootless user namespace (`userxattr`).
pub fn overlay_xattr(what: &str) -> String {
    if enabled() {
        format!("user.overlay.{what}")
    } else {
        format!("trusted.overlay.{what}")
    }
}

/// Files a test wrote into the store as root become the store owner's,
/// as if skiff's user had written them.
pub fn give(path: &Path) {
    if let Some(u) = as_user() {
        chown_tree(path, u);
    }
}
