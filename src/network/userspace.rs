//! Networking without a bridge, from a user-space network stack: `pasta`
//! (the passt package) or `slirp4netns` gives a container's namespace an
//! interface whose packets it carries through ordinary sockets on the
//! host, so it needs no privilege (`--network pasta`,
//! `--network slirp4netns`, and what rootless containers use).
//!
//! Each is started when the container joins its namespace and lives as
//! long as the namespace's file: `pasta` watches the file and quits when
//! it goes; `slirp4netns` is told to go by `stop` (its PID is kept in the
//! container's directory).

use anyhow::{anyhow, bail, Context, Result};
use std::io::Read;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::store::ports::PublishedPort;

/// In a stack's directory: the stack holds published host ports.
const PORTS_MARK: &str = "ports";

/// A user-space network stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stack {
    Pasta,
    Slirp4netns,
}

impl Stack {
    pub fn name(self) -> &'static str {
        match self {
            Stack::Pasta => "pasta",
            Stack::Slirp4netns => "slirp4netns",
        }
    }
}

/// The stack a network mode names and its options:
/// `pasta[:ARG,ARG...]`, `slirp4netns[:KEY=VALUE,...]`.
pub fn parse_mode(mode: &str) -> Option<(Stack, Vec<String>)> {
    let (name, opts) = mode.split_once(':').unwrap_or((mode, ""));
    let stack = match name {
        "pasta" => Stack::Pasta,
        "slirp4netns" => Stack::Slirp4netns,
        _ => return None,
    };
    let opts = opts
        .split(',')
        .filter(|o| !o.is_empty())
        .map(String::from)
        .collect();
    Some((stack, opts))
}

/// Where pasta answers DNS in a container's namespace (Podman's address):
/// it passes the queries on to the host's first resolver, which may be a
/// loopback one (systemd-resolved's 127.0.0.53) out of the container's
/// reach.
const PASTA_DNS: Ipv4Addr = Ipv4Addr::new(169, 254, 1, 1);

/// The address in a container's namespace where `stack` takes DNS
/// queries to the host's own resolvers: pasta's `--dns-forward` (the
/// one given in `opts`, else [`PASTA_DNS`]), slirp4netns' built-in
/// forwarder (the network's third address, 10.0.2.3 by default).
pub fn dns_forwarder(stack: Stack, opts: &[String]) -> Option<Ipv4Addr> {
    match stack {
        Stack::Pasta => {
            let words: Vec<&str> = opts.iter().flat_map(|o| o.split_whitespace()).collect();
            match words.iter().position(|w| *w == "--dns-forward") {
                Some(i) => words.get(i + 1).and_then(|a| a.parse().ok()),
                None => Some(PASTA_DNS),
            }
        }
        Stack::Slirp4netns => {
            let cidr = opts
                .iter()
                .find_map(|o| o.strip_prefix("cidr="))
                .unwrap_or("10.0.2.0/24");
            let net = crate::store::subnet::Ipv4Net::parse(cidr)?;
            Some(Ipv4Addr::from(u32::from(net.network()) + 3))
        }
    }
}

/// Check `slirp4netns` options now, in Podman's words, so a typo fails
/// `run` rather than the start.
pub fn check_options(stack: Stack, opts: &[String]) -> Result<()> {
    if stack == Stack::Pasta {
        return Ok(());
    }
    for o in opts {
        let (k, v) = o.split_once('=').unwrap_or((o, ""));
        let ok = match k {
            "allow_host_loopback" | "enable_ipv6" => matches!(v, "true" | "false"),
            "mtu" => v.parse::<u32>().is_ok_and(|m| m >= 68),
            "cidr" => crate::store::subnet::Ipv4Net::parse(v).is_some(),
            _ => false,
        };
        if !ok {
            bail!("slirp4netns: unknown or invalid option {o:?} (allow_host_loopback=true|false, enable_ipv6=true|false, mtu=N, cidr=A.B.C.D/N)");
        }
    }
    Ok(())
}

/// The stack to use where none is named: pasta when it is installed,
/// else slirp4netns; neither is a clear error.
pub fn pick() -> Result<Stack> {
    if crate::util::fs::on_path("pasta") {
        Ok(Stack::Pasta)
    } else if crate::util::fs::on_path("slirp4netns") {
        Ok(Stack::Slirp4netns)
    } else {
        Err(crate::error::kind_err(
            crate::error::ErrorKind::InvalidArgument,
            "networking without privileges needs pasta or slirp4netns: install the passt or the slirp4netns package (or run with --network none)",
        ))
    }
}

/// Start `stack` for the namespace kept at `netns` (already made) of the
/// container in `dir`; returns once the namespace's interface is up.
pub fn start(
    stack: Stack,
    opts: &[String],
    netns: &Path,
    dir: &Path,
    forwards: &[PublishedPort],
    gone: &dyn Fn() -> bool,
) -> Result<()> {
    if !crate::util::fs::on_path(stack.name()) {
        let package = match stack {
            Stack::Pasta => "passt",
            Stack::Slirp4netns => "slirp4netns",
        };
        bail!(
            "--network {}: {} is not installed (package {package})",
            stack.name(),
            stack.name()
        );
    }
    if !forwards.is_empty() {
        // Its end is waited for (`stop`) only when it holds host ports.
        crate::util::fs::atomic_write_volatile(&dir.join(PORTS_MARK), b"")?;
    }
    match stack {
        Stack::Pasta => start_pasta(opts, netns, dir, forwards, gone),
        Stack::Slirp4netns => {
            start_slirp(opts, netns, dir, !forwards.is_empty())?;
            forward_slirp(dir, forwards)
        }
    }
}

/// pasta's `-t`/`-u` for one published port: `[ADDR/]HOST:CONTAINER`.
fn pasta_forward(p: &PublishedPort) -> Option<[String; 2]> {
    let flag = match p.proto.as_str() {
        "tcp" => "-t",
        "udp" => "-u",
        _ => return None,
    };
    let addr = if p.host_ip.is_empty() || p.host_ip == "0.0.0.0" {
        String::new()
    } else {
        format!("{}/", p.host_ip)
    };
    Some([
        flag.to_string(),
        format!("{addr}{}:{}", p.host_port, p.port),
    ])
}

/// pasta configures the namespace like the host's own interface, then
/// goes to the background and returns: its exit status says whether it
/// got that far.
fn start_pasta(
    opts: &[String],
    netns: &Path,
    dir: &Path,
    forwards: &[PublishedPort],
    gone: &dyn Fn() -> bool,
) -> Result<()> {
    let mut c = Command::new("pasta");
    c.args(["--config-net", "--quiet", "--netns"])
        .arg(netns)
        .arg("--pid")
        .arg(dir.join("pasta.pid"));
    let published: Vec<[String; 2]> = forwards.iter().filter_map(pasta_forward).collect();
    for p in &published {
        c.args(p);
    }
    // No port forwarded either way unless asked for.
    for flag in ["-t", "-u", "-T", "-U"] {
        let given = opts
            .iter()
            .any(|o| o == flag || o.starts_with(&format!("{flag} ")))
            || published.iter().any(|p| p[0] == flag);
        if !given {
            c.args([flag, "none"]);
        }
    }
    if !opts.iter().any(|o| o.starts_with("--dns-forward")) {
        c.args(["--dns-forward", &PASTA_DNS.to_string()]);
    }
    if !opts
        .iter()
        .any(|o| o.starts_with("-I") || o.starts_with("--ns-ifname"))
    {
        // Docker's name, whatever the host's interface is called.
        c.args(["-I", "eth0"]);
    }
    if nix::unistd::geteuid().is_root() {
        // As root it would become nobody, who may not enter the namespace.
        c.args(["--runas", "0"]);
    }
    for o in opts {
        // `-t 8080` given as one option: pasta wants two arguments.
        c.args(o.split_whitespace());
    }
    // Its messages into a file, not a pipe: its daemon would hold a
    // pipe open, and a start that never ends must not hold this one.
    let log = dir.join("pasta.log");
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).with_context(|| format!("create {}", log.display()))?)
        .spawn()
        .context("run pasta")?;
    // A container removed meanwhile (`rm -f`) takes its namespace's file
    // away under pasta, which may then never say it is ready.
    let start = std::time::Instant::now();
    let mut checked = start;
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st;
        }
        let now = std::time::Instant::now();
        let timed_out = now - start > std::time::Duration::from_secs(10);
        let removed = now - checked > std::time::Duration::from_millis(50) && {
            checked = now;
            gone()
        };
        if timed_out || removed {
            let _ = child.kill();
            let _ = child.wait();
            if let Ok(pid) = std::fs::read_to_string(dir.join("pasta.pid")) {
                if let Ok(pid) = pid.trim().parse::<i32>() {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
            if removed {
                bail!("pasta: the container was removed while its network started");
            }
            bail!("pasta: the network was not up after 10 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    };
    if !status.success() {
        let err = std::fs::read_to_string(&log).unwrap_or_default();
        let why = err
            .lines()
            .rfind(|l| !l.contains("syslog") && !l.trim().is_empty())
            .unwrap_or("it failed");
        bail!("pasta: {why}");
    }
    Ok(())
}

/// slirp4netns stays in the foreground: started in a session of its own,
/// it says on a pipe when the interface is up.
fn start_slirp(opts: &[String], netns: &Path, dir: &Path, api: bool) -> Result<()> {
    let (ready_r, ready_w): (OwnedFd, OwnedFd) =
        nix::unistd::pipe().map_err(|e| anyhow!("make a pipe for slirp4netns: {}", e.desc()))?;
    // The write end alone goes to slirp4netns.
    use std::os::fd::AsFd;
    rustix::io::fcntl_setfd(ready_r.as_fd(), rustix::io::FdFlags::CLOEXEC)?;
    rustix::io::fcntl_setfd(ready_w.as_fd(), rustix::io::FdFlags::empty())?;
    let opt = |k: &str| {
        opts.iter()
            .find_map(|o| o.strip_prefix(k)?.strip_prefix('='))
            .map(String::from)
    };
    let mut c = Command::new("slirp4netns");
    c.arg("--configure")
        .arg(format!("--mtu={}", opt("mtu").unwrap_or("65520".into())))
        .arg(format!("--ready-fd={}", ready_w.as_raw_fd()))
        .arg("--netns-type=path");
    if opt("allow_host_loopback").as_deref() != Some("true") {
        c.arg("--disable-host-loopback");
    }
    if opt("enable_ipv6").as_deref() == Some("true") {
        c.arg("--enable-ipv6");
    }
    if let Some(cidr) = opt("cidr") {
        c.arg(format!("--cidr={cidr}"));
    }
    if api {
        // Published ports are asked for through it once it is up.
        c.arg(format!("--api-socket={}", api_socket(dir).display()));
    }
    let log = std::fs::File::create(dir.join("slirp4netns.log"))
        .with_context(|| format!("create {}", dir.join("slirp4netns.log").display()))?;
    let mut child = {
        use std::os::unix::process::CommandExt;
        c.arg(netns)
            .arg("tap0")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .context("run slirp4netns")?
    };
    drop(ready_w);
    crate::util::fs::atomic_write_volatile(
        &dir.join("slirp4netns.pid"),
        child.id().to_string().as_bytes(),
    )?;
    let mut ready = std::fs::File::from(ready_r);
    let mut byte = [0u8; 1];
    // Its end closes when it dies: no wait without end.
    let got = ready.read(&mut byte).unwrap_or(0);
    if got == 0 {
        let _ = child.kill();
        let _ = child.wait();
        let log = std::fs::read_to_string(dir.join("slirp4netns.log")).unwrap_or_default();
        bail!(
            "slirp4netns: {}",
            log.lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("it ended before the network was up")
        );
    }
    // It outlives this process when this one is a foreground `run`: its
    // exit is reaped by whoever inherits it.
    std::mem::forget(child);
    Ok(())
}

/// Where the slirp4netns of the container in `dir` listens for requests:
/// a short path of its own (a socket's path has at most 107 bytes, which
/// a store's may already exceed).
fn api_socket(dir: &Path) -> std::path::PathBuf {
    let id = dir
        .file_name()
        .map(|n| n.to_string_lossy().chars().take(16).collect::<String>())
        .unwrap_or_default();
    std::env::temp_dir().join(format!("skiff-slirp-{id}.sock"))
}

/// Ask the slirp4netns of the container in `dir` (started with its API
/// socket) to forward each published port, as Podman's does.
fn forward_slirp(dir: &Path, forwards: &[PublishedPort]) -> Result<()> {
    use std::io::Write;
    for p in forwards {
        let host_addr = if p.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &p.host_ip
        };
        let req = serde_json::json!({
            "execute": "add_hostfwd",
            "arguments": {
                "proto": p.proto,
                "host_addr": host_addr,
                "host_port": p.host_port,
                "guest_port": p.port,
            }
        });
        let mut s = std::os::unix::net::UnixStream::connect(api_socket(dir))
            .context("connect to slirp4netns's API socket")?;
        s.write_all(req.to_string().as_bytes())?;
        s.shutdown(std::net::Shutdown::Write)?;
        let mut answer = String::new();
        s.read_to_string(&mut answer)?;
        let v: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
        if let Some(e) = v.get("error") {
            bail!(
                "slirp4netns: publish {host_addr}:{} -> {}/{}: {}",
                p.host_port,
                p.port,
                p.proto,
                e.get("desc").and_then(|d| d.as_str()).unwrap_or("refused")
            );
        }
    }
    Ok(())
}

/// End every pasta serving the namespace kept at `netns`, found by its
/// command line: for a container removed while its stack started, whose
/// pid file an `rm -f` may have taken away before pasta wrote it.
pub fn stop_strays(netns: &Path) {
    let want = [
        b"--netns\0".as_slice(),
        netns.as_os_str().as_encoded_bytes(),
        b"\0",
    ]
    .concat();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if !comm.trim().starts_with("pasta") && !comm.trim().starts_with("passt") {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if cmdline.windows(want.len()).any(|w| w == want.as_slice()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }
}

/// The container in `dir` has ended: its stack goes, and is gone when
/// this returns, so its host ports are free for the next container.
/// (pasta would quit by itself once the namespace's file is gone, but
/// in its own time.) Best effort.
pub fn stop(dir: &Path) {
    for (file, comm) in [
        ("slirp4netns.pid", &["slirp4netns"][..]),
        (
            "pasta.pid",
            &["pasta", "passt", "pasta.avx2", "passt.avx2"][..],
        ),
    ] {
        let pidfile = dir.join(file);
        let Ok(text) = std::fs::read_to_string(&pidfile) else {
            continue;
        };
        if let Ok(pid) = text.trim().parse::<i32>() {
            let is_it = || {
                let c = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                let state =
                    std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                // A zombie has let go of everything.
                let zombie = state
                    .rsplit_once(')')
                    .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
                comm.contains(&c.trim()) && !zombie
            };
            if is_it() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
                // Waited for when it holds host ports the next container
                // may want at once; else it goes in its own time.
                let wait = if dir.join(PORTS_MARK).exists() { 2 } else { 0 };
                let end = std::time::Instant::now() + std::time::Duration::from_secs(wait);
                while is_it() && std::time::Instant::now() < end {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
            }
        }
        let _ = std::fs::remove_file(pidfile);
    }
    let _ = std::fs::remove_file(api_socket(dir));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_options() {
        assert_eq!(parse_mode("pasta"), Some((Stack::Pasta, vec![])));
        assert_eq!(
            parse_mode("pasta:-t 8080,--ipv4-only"),
            Some((Stack::Pasta, vec!["-t 8080".into(), "--ipv4-only".into()]))
        );
        assert_eq!(
            parse_mode("slirp4netns:allow_host_loopback=true"),
            Some((Stack::Slirp4netns, vec!["allow_host_loopback=true".into()]))
        );
        assert_eq!(parse_mode("bridge"), None);
        assert!(check_options(
            Stack::Slirp4netns,
            &["mtu=1500".into(), "cidr=10.5.0.0/24".into()]
        )
        .is_ok());
        for bad in [
            "mtu=x",
            "allow_host_loopback=yes",
            "color=red",
            "cidr=10.5.0.0",
        ] {
            assert!(
                check_options(Stack::Slirp4netns, &[bad.into()]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn dns_forwarders() {
        let o = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let at = |s: &str| Some(s.parse::<Ipv4Addr>().unwrap());
        assert_eq!(dns_forwarder(Stack::Pasta, &[]), at("169.254.1.1"));
        assert_eq!(
            dns_forwarder(Stack::Pasta, &o(&["--dns-forward", "10.9.9.9"])),
            at("10.9.9.9")
        );
        assert_eq!(
            dns_forwarder(Stack::Pasta, &o(&["--dns-forward 10.9.9.8"])),
            at("10.9.9.8")
        );
        assert_eq!(dns_forwarder(Stack::Slirp4netns, &[]), at("10.0.2.3"));
        assert_eq!(
            dns_forwarder(Stack::Slirp4netns, &o(&["cidr=10.5.0.0/24"])),
            at("10.5.0.3")
        );
    }

    #[test]
    fn strays_are_found_by_their_namespace() {
        // Stand-ins named pasta, with the arguments pasta would have: a
        // shell under that name, waiting on a pipe nobody writes to.
        let dir = std::env::temp_dir().join(format!("skiff-strays-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fake = dir.join("pasta");
        // A link, not a copy: a copy written here could be held open by
        // another test's fork and then not run (ETXTBSY).
        let _ = std::fs::remove_file(&fake);
        std::os::unix::fs::symlink("/bin/sh", &fake).unwrap();
        let ours = Path::new("/x/containers/aaa/netns");
        let spawn = |ns: &Path| {
            std::process::Command::new(&fake)
                .args(["-c", "read x", "pasta", "--netns"])
                .arg(ns)
                .stdin(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let mut mine = spawn(ours);
        let mut other = spawn(Path::new("/x/containers/bbb/netns"));
        std::thread::sleep(std::time::Duration::from_millis(50));
        stop_strays(ours);
        let end = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut gone = None;
        while gone.is_none() && std::time::Instant::now() < end {
            gone = mine.try_wait().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let still = other.try_wait().unwrap();
        for c in [&mut mine, &mut other] {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert!(gone.is_some(), "the stray was not stopped");
        assert!(still.is_none(), "another container's stack was stopped");
    }
}
