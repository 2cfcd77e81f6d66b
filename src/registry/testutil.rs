//! Test helpers: a real `docker-registry` on a loopback port, and a tiny
//! scripted HTTP server for behaviour a real registry will not show on
//! demand (dropped connections, ignored ranges, redirects).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `docker-registry serve` child, killed on drop.
pub struct TestRegistry {
    pub host: String,
    /// Holds the storage, config and htpasswd until the registry is gone.
    _dir: tempfile::TempDir,
    child: Child,
}

#[derive(Default)]
pub struct RegistrySetup {
    /// (user, password) for an htpasswd file.
    pub basic: Option<(&'static str, &'static str)>,
    /// (certificate, key) PEM paths.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Require client certificates signed by this CA.
    pub client_ca: Option<PathBuf>,
}

impl TestRegistry {
    /// None (with a note) when the registry binary is not installed.
    pub fn start(setup: RegistrySetup) -> Option<TestRegistry> {
        if !Path::new(REGISTRY_BIN).exists() {
            eprintln!("note: {REGISTRY_BIN} missing; skipping registry test");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if let Some((cert, key)) = &setup.tls {
            cfg.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            ));
            if let Some(ca) = &setup.client_ca {
                cfg.push_str(&format!("    clientcas:\n      - {}\n", ca.display()));
            }
        }
        if let Some((user, pass)) = setup.basic {
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, pass])
                .output()
                .expect("run htpasswd");
            assert!(out.status.success(), "htpasswd failed");
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, out.stdout).unwrap();
            cfg.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
                file.display()
            ));
        }
        let cfg_path = dir.path().join("config.yml");
        std::fs::write(&cfg_path, cfg).unwrap();
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&cfg_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "registry did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(TestRegistry {
            host: format!("127.0.0.1:{port}"),
            _dir: dir,
            child,
        })
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CA and a server certificate for 127.0.0.1/localhost, made with openssl.
pub struct TestCerts {
    pub ca: PathBuf,
    /// A client certificate and key signed by the same CA.
    pub client_cert: PathBuf,
    /// The same, as an X.509 v1 certificate (no extensions).
    pub client_cert_v1: PathBuf,
    pub client_key: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn make_certs(dir: &Path, name: &str) -> TestCerts {
    let p = |f: &str| dir.join(format!("{name}-{f}"));
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let (ca_key, ca, key, csr, cert, ext) = (
        p("ca.key"),
        p("ca.crt"),
        p("server.key"),
        p("server.csr"),
        p("server.crt"),
        p("ext.cnf"),
    );
    std::fs::write(&ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\n").unwrap();
    let s = |x: &PathBuf| x.to_str().unwrap().to_string();
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        &format!("/CN=skiff test CA {name}"),
        "-keyout",
        &s(&ca_key),
        "-out",
        &s(&ca),
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        &s(&key),
        "-out",
        &s(&csr),
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        &s(&csr),
        "-CA",
        &s(&ca),
        "-CAkey",
        &s(&ca_key),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        &s(&ext),
        "-out",
        &s(&cert),
    ]);
    let (client_key, client_csr, client_cert, client_cert_v1, client_ext) = (
        p("client.key"),
        p("client.csr"),
        p("client.cert"),
        p("client-v1.cert"),
        p("client-ext.cnf"),
    );
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=skiff client",
        "-keyout",
        &s(&client_key),
        "-out",
        &s(&client_csr),
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        &s(&client_csr),
        "-CA",
        &s(&ca),
        "-CAkey",
        &s(&ca_key),
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        &s(&client_cert_v1),
    ]);
    // With an extension the certificate is X.509 v3, which rustls needs.
    std::fs::write(&client_ext, "extendedKeyUsage=clientAuth\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        &s(&client_csr),
        "-CA",
        &s(&ca),
        "-CAkey",
        &s(&ca_key),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        &s(&client_ext),
        "-out",
        &s(&client_cert),
    ]);
    TestCerts {
        ca,
        cert,
        key,
        client_cert,
        client_cert_v1,
        client_key,
    }
}

/// A request as the fake server saw it.
#[derive(Clone, Debug)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl SeenRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the handler tells the fake server to write; the connection is
/// closed after it (so a short body is a dropped connection).
pub type Handler = dyn Fn(&SeenRequest, &str) -> Vec<u8> + Send + Sync;

/// One thread, one connection at a time, one request per connection.
pub struct FakeServer {
    pub port: u16,
    pub seen: Arc<Mutex<Vec<SeenRequest>>>,
}

impl FakeServer {
    /// `handler(request, own_address)` returns the raw bytes to answer.
    pub fn start(handler: Box<Handler>) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let Some(req) = read_request(&conn) else {
                    continue;
                };
                seen2.lock().unwrap().push(req.clone());
                let out = handler(&req, &format!("127.0.0.1:{port}"));
                let _ = conn.write_all(&out);
                let _ = conn.flush();
                let _ = conn.shutdown(std::net::Shutdown::Both);
            }
        });
        FakeServer { port, seen }
    }

    pub fn requests(&self) -> Vec<SeenRequest> {
        self.seen.lock().unwrap().clone()
    }
}

fn read_request(conn: &TcpStream) -> Option<SeenRequest> {
    let mut r = BufReader::new(conn.try_clone().ok()?);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).ok()?;
    Some(SeenRequest {
        method,
        path,
        headers,
    })
}

/// A raw response with the given status, headers and body.
pub fn response(status: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}
