//! Containers' networking as the tests look at it: addresses from
//! inspect, the host's interfaces, detached sleepers to talk to.

use super::run::Ctx;
use std::io::{Read, Write};
use std::net::TcpListener;

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
