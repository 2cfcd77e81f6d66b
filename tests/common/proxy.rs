//! A fault-injecting HTTP proxy in front of a plain registry: a thread on a
//! loopback port that relays requests one by one and, as told, cuts a blob
//! body short, answers 5xx a few times, truncates or corrupts blob bodies,
//! slows them down, or serves a manifest of its own.

use super::http::{self, ResponseHead};
use super::registry::Registry;
use std::io::{BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub enum Fault {
    /// Relay faithfully.
    None,
    /// Close the connection after `bytes` of a blob body longer than that,
    /// the first `times` times (the client should resume with Range).
    DropAfter { bytes: u64, times: usize },
    /// Answer `code` to the first `times` GETs/HEADs of manifests and blobs.
    Status { code: u16, times: usize },
    /// Serve every blob as if it had only its first `bytes` bytes: bodies
    /// cut there with a Content-Length that agrees, and a Range starting at
    /// or past the cut answered 416 (so resuming cannot complete it).
    Truncate { bytes: u64 },
    /// Flip every bit of the byte at `offset` of every blob body.
    Corrupt { offset: u64 },
    /// Send blob bodies at about `bytes_per_sec`.
    Throttle { bytes_per_sec: u64 },
    /// Answer every manifest GET/HEAD with this document.
    Manifest { media_type: String, body: Vec<u8> },
}

struct State {
    fault: Mutex<Fault>,
    blob_bytes: AtomicU64,
    log: Mutex<Vec<String>>,
    stop: AtomicBool,
    upstream: u16,
}

pub struct Proxy {
    pub port: u16,
    state: Arc<State>,
    thread: Option<JoinHandle<()>>,
}

impl Proxy {
    pub fn start(upstream: &Registry, fault: Fault) -> Proxy {
        assert!(
            !matches!(upstream.setup, super::Setup::Tls),
            "the proxy speaks plain HTTP"
        );
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State {
            fault: Mutex::new(fault),
            blob_bytes: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            upstream: upstream.port,
        });
        let st = state.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, &st);
                });
            }
        });
        Proxy {
            port,
            state,
            thread: Some(thread),
        }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn image(&self, name: &str) -> String {
        format!("{}/{name}", self.host())
    }

    pub fn set_fault(&self, f: Fault) {
        *self.state.fault.lock().unwrap() = f;
    }

    /// Blob body bytes sent to clients so far.
    pub fn blob_bytes(&self) -> u64 {
        self.state.blob_bytes.load(Ordering::SeqCst)
    }

    /// One line per request: `GET /v2/.. [range=bytes=N-] -> STATUS`.
    pub fn log(&self) -> Vec<String> {
        self.state.log.lock().unwrap().clone()
    }

    pub fn log_text(&self) -> String {
        self.log().join("\n")
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What to do to one blob body.
enum Body {
    Pass,
    Drop(u64),
    /// Send `send` bytes of a blob cut at `total`, starting at `start`.
    Truncate {
        start: u64,
        send: u64,
        total: u64,
    },
    Corrupt(u64),
    Throttle(u64),
}

fn note(st: &State, req: &http::Request, status: u16) {
    let range = req
        .header("range")
        .map(|r| format!(" range={r}"))
        .unwrap_or_default();
    st.log
        .lock()
        .unwrap()
        .push(format!("{} {}{range} -> {status}", req.method, req.target));
}

fn serve(client: TcpStream, st: &State) -> std::io::Result<()> {
    let mut cw = client.try_clone()?;
    let mut cr = BufReader::new(client);
    while let Some(req) = http::read_request(&mut cr)? {
        let is_blob = req.path().contains("/blobs/sha256:");
        let is_manifest = req.path().contains("/manifests/");
        let fetch = req.method == "GET" || req.method == "HEAD";

        // Faults that replace the upstream's answer.
        let replaced = {
            let mut f = st.fault.lock().unwrap();
            match &mut *f {
                Fault::Status { code, times }
                    if fetch && (is_blob || is_manifest) && *times > 0 =>
                {
                    *times -= 1;
                    Some((
                        *code,
                        "application/json".to_string(),
                        br#"{"errors":[{"code":"UNKNOWN","message":"injected fault"}]}"#.to_vec(),
                    ))
                }
                Fault::Manifest { media_type, body } if fetch && is_manifest => {
                    Some((200, media_type.clone(), body.clone()))
                }
                Fault::Truncate { bytes } if is_blob && range_start(&req) >= *bytes => Some((
                    416,
                    "application/json".to_string(),
                    br#"{"errors":[{"code":"UNKNOWN","message":"range not satisfiable"}]}"#
                        .to_vec(),
                )),
                _ => None,
            }
        };
        if let Some((code, mt, body)) = replaced {
            note(st, &req, code);
            let len = body.len().to_string();
            let head = ResponseHead {
                status: code,
                reason: http::reason(code).into(),
                headers: vec![
                    ("Content-Type".into(), mt),
                    ("Content-Length".into(), len),
                    (
                        "Docker-Distribution-Api-Version".into(),
                        "registry/2.0".into(),
                    ),
                ],
            };
            http::write_head(&mut cw, &head)?;
            if req.method != "HEAD" {
                cw.write_all(&body)?;
            }
            cw.flush()?;
            continue;
        }

        let up = TcpStream::connect(("127.0.0.1", st.upstream))?;
        up.set_read_timeout(Some(Duration::from_secs(60)))?;
        let mut uw = up.try_clone()?;
        let mut fwd = format!("{} {} HTTP/1.1\r\n", req.method, req.target);
        for (k, v) in &req.headers {
            if !k.eq_ignore_ascii_case("connection") {
                fwd.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        fwd.push_str("Connection: close\r\n\r\n");
        uw.write_all(fwd.as_bytes())?;
        uw.write_all(&req.body)?;
        let mut ur = BufReader::new(up);
        let mut head = http::read_response_head(&mut ur)?;
        note(st, &req, head.status);
        head.headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case("connection"));

        let no_body = req.method == "HEAD" || matches!(head.status, 100..=199 | 204 | 304);
        if no_body {
            http::write_head(&mut cw, &head)?;
            cw.flush()?;
            continue;
        }
        let Some(len) = head.content_length() else {
            // No length: relay to EOF and close, which ends the body.
            head.headers.push(("Connection".into(), "close".into()));
            http::write_head(&mut cw, &head)?;
            std::io::copy(&mut ur, &mut cw)?;
            return Ok(());
        };

        let body_fault = if is_blob && req.method == "GET" && matches!(head.status, 200 | 206) {
            let mut f = st.fault.lock().unwrap();
            match &mut *f {
                Fault::DropAfter { bytes, times } if *times > 0 && len > *bytes => {
                    *times -= 1;
                    Body::Drop(*bytes)
                }
                Fault::Truncate { bytes } => {
                    let start = if head.status == 206 {
                        range_start(&req)
                    } else {
                        0
                    };
                    Body::Truncate {
                        start,
                        send: bytes.saturating_sub(start).min(len),
                        total: *bytes,
                    }
                }
                Fault::Corrupt { offset } => Body::Corrupt(*offset),
                Fault::Throttle { bytes_per_sec } => Body::Throttle(*bytes_per_sec),
                _ => Body::Pass,
            }
        } else {
            Body::Pass
        };

        let send = match body_fault {
            Body::Drop(n) => n,
            Body::Truncate { send, .. } => send,
            _ => len,
        };
        if let Body::Truncate { start, send, total } = body_fault {
            for (k, v) in head.headers.iter_mut() {
                if k.eq_ignore_ascii_case("content-length") {
                    *v = send.to_string();
                } else if k.eq_ignore_ascii_case("content-range") {
                    *v = format!("bytes {start}-{}/{total}", start + send - 1);
                }
            }
        }
        http::write_head(&mut cw, &head)?;
        relay(&mut ur, &mut cw, send, &body_fault, is_blob, st)?;
        cw.flush()?;
        if let Body::Drop(_) = body_fault {
            // A clean FIN mid-body: the client sees a short read.
            let _ = cw.shutdown(Shutdown::Both);
            return Ok(());
        }
    }
    Ok(())
}

/// Where a `Range: bytes=S-[E]` request starts; 0 without one.
fn range_start(req: &http::Request) -> u64 {
    req.header("range")
        .and_then(|r| r.trim().strip_prefix("bytes="))
        .and_then(|r| r.split('-').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn relay(
    from: &mut impl Read,
    to: &mut impl Write,
    n: u64,
    fault: &Body,
    is_blob: bool,
    st: &State,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut sent = 0u64;
    let start = Instant::now();
    while sent < n {
        let want = buf.len().min((n - sent) as usize);
        let got = from.read(&mut buf[..want])?;
        if got == 0 {
            break;
        }
        if let Body::Corrupt(off) = fault {
            if *off >= sent && *off < sent + got as u64 {
                buf[(*off - sent) as usize] ^= 0xff;
            }
        }
        to.write_all(&buf[..got])?;
        sent += got as u64;
        if is_blob {
            st.blob_bytes.fetch_add(got as u64, Ordering::SeqCst);
        }
        if let Body::Throttle(bps) = fault {
            to.flush()?;
            let due = Duration::from_secs_f64(sent as f64 / *bps as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
    Ok(())
}
