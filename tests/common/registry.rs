//! Debian's distribution registry (`/usr/bin/docker-registry serve`) on a
//! free loopback port, in one of four setups, over the shared seeded
//! storage; killed when dropped.

use super::certs::certs;
use super::token::{self, TokenServer};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tempfile::TempDir;

pub const USER: &str = "skiff-user";
pub const PASSWORD: &str = "skiff-pass-1";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setup {
    /// Plain HTTP, no auth.
    Plain,
    /// HTTPS with a certificate from the test CA.
    Tls,
    /// HTTP basic auth from an htpasswd file.
    Basic,
    /// Bearer tokens from the harness's token server.
    Token,
}

pub struct Registry {
    pub setup: Setup,
    pub port: u16,
    pub storage: PathBuf,
    pub token: Option<TokenServer>,
    child: Child,
    dir: TempDir,
}

impl Registry {
    /// A registry over the seeded storage every registry of this test
    /// process shares. It lives until dropped, and no longer than the
    /// thread that started it (see `setpriv` below): start it on the
    /// thread that uses it.
    pub fn start(setup: Setup) -> Registry {
        Registry::start_on(setup, super::seed::storage())
    }

    /// A registry over the given storage directory.
    pub fn start_on(setup: Setup, storage: &Path) -> Registry {
        let dir = super::test_dir(&format!("registry-{setup:?}").to_lowercase());
        let token = (setup == Setup::Token).then(|| TokenServer::start(USER, PASSWORD));
        // Another process may take the port between our probe and the
        // registry's bind; the registry then exits and we try another.
        for attempt in 0..10 {
            let port = free_port();
            let id = format!("{}-{attempt}", dir.path().display());
            let cfg = config(setup, port, storage, &id, token.as_ref());
            let cfg_path = dir.path().join("config.yml");
            std::fs::write(&cfg_path, cfg).expect("write the registry config");
            let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
            // setpriv makes the kernel kill the registry when the thread
            // that started it ends, so a test binary killed mid-run (where
            // no Drop runs) leaves no registry behind.
            let mut child = Command::new("setpriv")
                .args([
                    "--pdeathsig",
                    "KILL",
                    "--",
                    "/usr/bin/docker-registry",
                    "serve",
                ])
                .arg(&cfg_path)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("start /usr/bin/docker-registry (install docker-registry)");
            if wait_ready(&mut child, setup, port, &id) {
                let reg = Registry {
                    setup,
                    port,
                    storage: storage.to_path_buf(),
                    token,
                    child,
                    dir,
                };
                if setup == Setup::Tls {
                    let d = reg.cert_dir().join(reg.host());
                    std::fs::create_dir_all(&d).unwrap();
                    std::fs::copy(&certs().ca_crt, d.join("ca.crt")).unwrap();
                }
                return reg;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "the {setup:?} registry did not come up; its log:\n{}",
            std::fs::read_to_string(dir.path().join("registry.log")).unwrap_or_default()
        );
    }

    /// `127.0.0.1:PORT`
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:PORT/<name>`
    pub fn image(&self, name: &str) -> String {
        format!("{}/{name}", self.host())
    }

    pub fn scheme(&self) -> &'static str {
        if self.setup == Setup::Tls {
            "https"
        } else {
            "http"
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme(), self.host())
    }

    /// A certs.d-shaped directory (`<dir>/127.0.0.1:PORT/ca.crt`) for
    /// `--cert-dir`; holds the CA only in the TLS setup.
    pub fn cert_dir(&self) -> PathBuf {
        self.dir.path().join("certs.d")
    }

    pub fn needs_credentials(&self) -> bool {
        matches!(self.setup, Setup::Basic | Setup::Token)
    }

    /// What skopeo needs to talk to this registry.
    pub fn skopeo_args(&self, prefix: &str) -> Vec<String> {
        let mut a = Vec::new();
        if self.setup == Setup::Tls {
            a.push(format!(
                "--{prefix}cert-dir={}",
                self.cert_dir().join(self.host()).display()
            ));
        } else {
            a.push(format!("--{prefix}tls-verify=false"));
        }
        if self.needs_credentials() {
            a.push(format!("--{prefix}creds={USER}:{PASSWORD}"));
        }
        a
    }

    /// Everything the registry logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("find a free loopback port")
        .port()
}

fn htpasswd() -> &'static Path {
    static H: OnceLock<PathBuf> = OnceLock::new();
    H.get_or_init(|| {
        let out = super::run_tool("htpasswd", &["-Bbn", USER, PASSWORD]);
        let p = super::work_dir().join("htpasswd");
        std::fs::write(&p, out.stdout).expect("write htpasswd");
        p
    })
}

fn config(
    setup: Setup,
    port: u16,
    storage: &Path,
    id: &str,
    token: Option<&TokenServer>,
) -> String {
    let mut c = format!(
        "version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
  secret: skiff-tests
  headers:
    X-Skiff-Test: [\"{id}\"]
",
        storage = storage.display()
    );
    match setup {
        Setup::Plain => {}
        Setup::Tls => {
            let certs = certs();
            c.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                certs.server_crt.display(),
                certs.server_key.display()
            ));
        }
        Setup::Basic => c.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: skiff-basic\n    path: {}\n",
            htpasswd().display()
        )),
        Setup::Token => {
            let t = token.expect("a token server for the token setup");
            c.push_str(&format!(
                "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                t.realm(),
                token::SERVICE,
                token::ISSUER,
                certs().token_crt.display()
            ));
        }
    }
    c
}

/// Wait until *this* registry answers `/v2/`: the response must carry our
/// `X-Skiff-Test` header, since another test's registry could be the one
/// that got the port.
fn wait_ready(child: &mut Child, setup: Setup, port: u16, id: &str) -> bool {
    let host = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        let ours = if setup == Setup::Tls {
            Command::new("curl")
                .args(["-sk", "-o", "/dev/null", "-D", "-", "--max-time", "2"])
                .arg(format!("https://{host}/v2/"))
                .output()
                .map(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .to_ascii_lowercase()
                        .contains(&format!("x-skiff-test: {}", id.to_ascii_lowercase()))
                })
                .unwrap_or(false)
        } else {
            super::http::get(&host, "/v2/", &[])
                .map(|(h, _)| h.header("x-skiff-test") == Some(id))
                .unwrap_or(false)
        };
        if ours {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    false
}
