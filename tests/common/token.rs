//! A token server for the registry's `auth: token` setup, written the way
//! Docker Hub's behaves: `GET /token?service=..&scope=..` with optional
//! basic credentials answers `{"token": JWT, "access_token": JWT,
//! "expires_in": 300}`.
//!
//! The JWT is RS256 with the signing certificate in the header's `x5c`, so
//! registry 2.8 accepts it by chaining that certificate to its
//! `rootcertbundle` (no key id needed); the signature comes from
//! `openssl dgst -sha256 -sign`. Known credentials get every action they
//! ask for; no credentials get an empty grant (a private registry); wrong
//! ones get 401. Each issued token is counted, so tests can tell that
//! skiff caches tokens rather than asking for one per request.

use super::http;
use base64::Engine as _;
use serde_json::{json, Value};
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

pub const SERVICE: &str = "skiff-test-registry";
pub const ISSUER: &str = "skiff-test-issuer";

struct Shared {
    user: String,
    password: String,
    issued: AtomicUsize,
    refused: AtomicUsize,
    stop: AtomicBool,
}

pub struct TokenServer {
    pub port: u16,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl TokenServer {
    pub fn start(user: &str, password: &str) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the token server");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            user: user.into(),
            password: password.into(),
            issued: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let s = s.clone();
                std::thread::spawn(move || serve(conn, &s));
            }
        });
        TokenServer {
            port,
            shared,
            thread: Some(thread),
        }
    }

    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    /// How many tokens were handed out so far.
    pub fn issued(&self) -> usize {
        self.shared.issued.load(Ordering::SeqCst)
    }

    /// How many requests were turned away for bad credentials.
    pub fn refused(&self) -> usize {
        self.shared.refused.load(Ordering::SeqCst)
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(conn: TcpStream, s: &Shared) {
    let mut w = conn.try_clone().expect("clone a token connection");
    let mut r = BufReader::new(conn);
    while let Ok(Some(req)) = http::read_request(&mut r) {
        let (status, body) = answer(&req, s);
        let close = req
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let body = serde_json::to_vec(&body).unwrap();
        if http::write_response(
            &mut w,
            status,
            &[("Content-Type", "application/json")],
            &body,
        )
        .is_err()
            || close
        {
            return;
        }
    }
}

fn answer(req: &http::Request, s: &Shared) -> (u16, Value) {
    if req.method != "GET" || req.path() != "/token" {
        // Docker's client falls back from POST (OAuth2) to GET on 404.
        return (
            404,
            json!({"errors": [{"code": "NOT_FOUND", "message": "no such endpoint"}]}),
        );
    }
    let query = req.query();
    let service = query
        .iter()
        .find(|(k, _)| k == "service")
        .map(|(_, v)| v.as_str());
    if service.is_some_and(|v| v != SERVICE) {
        return (400, json!({"details": "unknown service"}));
    }
    let subject = match basic_credentials(req) {
        None => String::new(),
        Some((u, p)) if u == s.user && p == s.password => u,
        Some(_) => {
            s.refused.fetch_add(1, Ordering::SeqCst);
            return (401, json!({"details": "incorrect username or password"}));
        }
    };
    let access: Vec<Value> = if subject.is_empty() {
        Vec::new()
    } else {
        query
            .iter()
            .filter(|(k, _)| k == "scope")
            .flat_map(|(_, v)| v.split(' ').map(str::to_string).collect::<Vec<_>>())
            .filter_map(|scope| grant(&scope))
            .collect()
    };
    let token = jwt(&subject, access);
    s.issued.fetch_add(1, Ordering::SeqCst);
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    (
        200,
        json!({"token": token, "access_token": token, "expires_in": 300, "issued_at": now}),
    )
}

fn basic_credentials(req: &http::Request) -> Option<(String, String)> {
    let v = req.header("authorization")?;
    let b64 = v
        .strip_prefix("Basic ")
        .or_else(|| v.strip_prefix("basic "))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let (u, p) = raw.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// `repository:NAME:pull,push` -> the access entry granting those actions.
fn grant(scope: &str) -> Option<Value> {
    let (kind, rest) = scope.split_once(':')?;
    let (name, actions) = rest.rsplit_once(':')?;
    let actions: Vec<&str> = actions.split(',').filter(|a| !a.is_empty()).collect();
    Some(json!({"type": kind, "name": name, "actions": actions}))
}

fn b64url(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

fn jwt(subject: &str, access: Vec<Value>) -> String {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let certs = super::certs::certs();
    let now = chrono::Utc::now().timestamp();
    let header = json!({"typ": "JWT", "alg": "RS256", "x5c": [certs.token_x5c]});
    let claims = json!({
        "iss": ISSUER,
        "sub": subject,
        "aud": SERVICE,
        "exp": now + 300,
        "nbf": now - 10,
        "iat": now,
        "jti": format!("{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::SeqCst)),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        b64url(&serde_json::to_vec(&header).unwrap()),
        b64url(&serde_json::to_vec(&claims).unwrap())
    );
    let sig = sign(
        signing_input.as_bytes(),
        &certs.token_key.display().to_string(),
    );
    format!("{signing_input}.{}", b64url(&sig))
}

/// RS256 is RSASSA-PKCS1-v1_5 over SHA-256: what `openssl dgst -sign` makes.
fn sign(data: &[u8], key: &str) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-binary", "-sign", key])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run openssl dgst");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(data)
        .expect("feed openssl dgst");
    let out = child.wait_with_output().expect("wait for openssl dgst");
    assert!(
        out.status.success(),
        "openssl dgst -sign failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
