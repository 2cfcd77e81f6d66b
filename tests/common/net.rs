//! Containers' networking as the tests look at it: addresses from
//! inspect, the host's interfaces, detached sleepers to talk to.

use super::run::Ctx;
use std::io::{Read, Write};
use std::net::{SocketAddrV4, TcpListener, TcpStream};
use std::time::Duration;

/// The container's address on its first network, as inspect shows it.
pub fn ip_of(c: &Ctx, name: &str) -> String {
    let j = c.inspect(name);
    let ip = j["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        !ip.is_empty(),
        "{name} has no address: {:#}",
        j["NetworkSettings"]
    );
    ip
}

/// Host interfaces whose name starts with `prefix`.
pub fn host_links(prefix: &str) -> Vec<String> {
    std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// The host end of a container's veth goes with its network namespace,
/// which the kernel frees in the background once the container is gone:
/// waits up to five seconds for that.
pub fn veths_gone(id: &str) -> bool {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::time::Instant::now() < end {
        if host_links(&format!("sk{}", &id[..10])).is_empty() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    false
}

pub fn sleeper(c: &Ctx, name: &str, flags: &[&str]) {
    let bb = c.bb();
    let mut args = vec!["-d", "--name", name];
    args.extend_from_slice(flags);
    args.extend([bb.as_str(), "sleep", "60"]);
    c.run_ok(&args);
}

/// A TCP port free on every host address right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A web server on the host's loopback that answers every request with
/// `body`; its port. (Request and answer, as `wget` talks: a client
/// that half-closes first is what user-space stacks handle worst.)
pub fn host_server(body: &'static str) -> u16 {
    host_server_on("127.0.0.1", body)
}

/// The same server on the host address `ip` (`0.0.0.0`: every one).
pub fn host_server_on(ip: &str, body: &'static str) -> u16 {
    let l = TcpListener::bind((ip, 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// An HTTP GET of `/index.html` from the host's loopback port `port`,
/// tried for up to three seconds (a published port's stack may be
/// starting); the whole answer, or nothing.
pub fn get_local(port: u16) -> String {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(3)));
            let _ = s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n");
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            if out.contains("200 OK") || std::time::Instant::now() > end {
                return out;
            }
        }
        if std::time::Instant::now() > end {
            return String::new();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// `GET /` at `ip:port`: the body, or `None` when nothing answers.
pub fn get(ip: &str, port: u16) -> Option<String> {
    let addr = SocketAddrV4::new(ip.parse().unwrap(), port);
    let mut s = TcpStream::connect_timeout(&addr.into(), Duration::from_secs(3)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n")
        .map(|(_, body)| body.trim().to_string())
        .filter(|b| !b.is_empty())
}

/// The same `GET` from inside a container (busybox `nc`): `exec` in
/// `who`, or a new container with `flags`.
pub fn nc_get(ip: &str, port: u16) -> String {
    format!("printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {ip} {port} | tail -n 1")
}

/// A web server answering `body` on its port 80.
pub fn web(c: &Ctx, name: &str, flags: &[&str], body: &str) -> String {
    let bb = c.bb();
    let script =
        format!("mkdir -p /www && echo {body} >/www/index.html && exec httpd -f -p 80 -h /www");
    let mut a = vec!["-d", "--name", name];
    a.extend_from_slice(flags);
    a.extend([bb.as_str(), "sh", "-c", &script]);
    let id = c.run_ok(&a).stdout.trim().to_string();
    // httpd binds a moment after the start.
    for _ in 0..100 {
        let ok = c
            .env
            .run(&["exec", name, "sh", "-c", &nc_get("127.0.0.1", 80)])
            .stdout
            .contains(body);
        if ok {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    id
}

/// An IPv4 address of the host's own other than loopback (and other
/// than skiff's and other tools' bridges): the host's, or one the test
/// adds on a dummy interface it removes when dropped.
pub struct HostAddr {
    pub ip: String,
    pub dummy: Option<String>,
}

impl HostAddr {
    pub fn get() -> HostAddr {
        let out = super::run_tool("ip", &["-4", "-o", "addr", "show", "scope", "global"]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        for l in text.lines() {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (dev, addr) = (f[1], f[3]);
            let tool = [
                "sk", "cni", "podman", "docker", "veth", "br-", "virbr", "dmp",
            ];
            if !tool.iter().any(|p| dev.starts_with(p)) {
                return HostAddr {
                    ip: addr.split('/').next().unwrap().to_string(),
                    dummy: None,
                };
            }
        }
        let dev = format!("dmp{}", std::process::id() % 100000);
        super::run_tool("ip", &["link", "add", &dev, "type", "dummy"]);
        super::run_tool("ip", &["addr", "add", "198.51.100.77/32", "dev", &dev]);
        super::run_tool("ip", &["link", "set", &dev, "up"]);
        HostAddr {
            ip: "198.51.100.77".into(),
            dummy: Some(dev),
        }
    }
}

impl Drop for HostAddr {
    fn drop(&mut self) {
        if let Some(d) = &self.dummy {
            let _ = std::process::Command::new("ip")
                .args(["link", "del", d])
                .status();
        }
    }
}

/// A DNS server on the host at `ip` port 53 (UDP) that answers every A
/// query with `answer` and every other with no records, for as long as
/// the test runs; `false` when the port cannot be had.
pub fn dns_server(ip: &str, answer: [u8; 4]) -> bool {
    dns_server_seen(ip, answer).is_some()
}

/// [`dns_server`], which also keeps the source address of every query.
pub fn dns_server_seen(
    ip: &str,
    answer: [u8; 4],
) -> Option<std::sync::Arc<std::sync::Mutex<Vec<std::net::IpAddr>>>> {
    let s = std::net::UdpSocket::bind((ip, 53)).ok()?;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            log.lock().unwrap().push(from.ip());
            let q = &buf[..n];
            // The question: a name (labels up to a zero) then type, class.
            let Some(end) = q.get(12..).and_then(|r| r.iter().position(|b| *b == 0)) else {
                continue;
            };
            let qend = 12 + end + 5;
            if qend > n {
                continue;
            }
            let is_a = q[qend - 4..qend - 2] == [0, 1];
            let mut r = Vec::with_capacity(qend + 16);
            r.extend_from_slice(&q[..2]);
            r.extend_from_slice(&[0x81, 0x80, 0, 1, 0, u8::from(is_a), 0, 0, 0, 0]);
            r.extend_from_slice(&q[12..qend]);
            if is_a {
                r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
                r.extend_from_slice(&answer);
            }
            let _ = s.send_to(&r, from);
        }
    });
    Some(seen)
}

/// `skiff ARGS` (as `env` runs it) with `resolv` standing in for the
/// host's /etc/resolv.conf: bound over it in a mount namespace of its
/// own, which the processes it starts (user-space stacks) keep.
pub fn with_resolv(
    env: &super::skiff::Skiff,
    resolv: &std::path::Path,
    args: &[&str],
) -> super::skiff::Out {
    with_resolvers(env, resolv, None, args)
}

/// [`with_resolv`], and with `upstream` as systemd-resolved's list of
/// upstream servers (`/run/systemd/resolve/resolv.conf`, on a tmpfs of
/// the same mount namespace).
pub fn with_resolvers(
    env: &super::skiff::Skiff,
    resolv: &std::path::Path,
    upstream: Option<&std::path::Path>,
    args: &[&str],
) -> super::skiff::Out {
    let script = "mount --bind \"$0\" /etc/resolv.conf && \
        if [ -n \"$1\" ]; then mkdir -p /run/systemd && mount -t tmpfs none /run/systemd && \
        mkdir /run/systemd/resolve && cp \"$1\" /run/systemd/resolve/resolv.conf; fi && \
        shift && exec \"$@\"";
    let wrapper: Vec<&std::ffi::OsStr> = [
        "unshare",
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
    ]
    .into_iter()
    .map(std::ffi::OsStr::new)
    .chain([
        resolv.as_os_str(),
        upstream.map(|p| p.as_os_str()).unwrap_or_default(),
    ])
    .collect();
    let child = env
        .command_via(&wrapper, args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn unshare");
    super::skiff::wait_out(child, &format!("skiff {}", args.join(" ")))
}

/// Network `net`'s gateway, as inspect shows it.
pub fn gateway_of(c: &Ctx, net: &str) -> String {
    let out = c.env.ok(&[
        "network",
        "inspect",
        "-f",
        "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
        net,
    ]);
    out.stdout.trim().to_string()
}

/// The rules of skiff's nft table tagged with `id` (a container's or a
/// network's).
pub fn nft_tagged(id: &str) -> Vec<String> {
    let out = std::process::Command::new("nft")
        .args(["list", "table", "ip", "skiff"])
        .output()
        .unwrap();
    let tag = format!("\"skiff:{}\"", &id[..12]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&tag))
        .map(|l| l.trim().to_string())
        .collect()
}
