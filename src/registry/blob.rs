//! Reading blobs: a streaming reader that survives dropped connections by
//! resuming with `Range`, small verified reads for configs, and existence
//! checks.

use super::auth;
use super::client::{expect, Call, Client, Inner, Payload};
use super::errors::{self, describe, Object};
use super::transport::{self, header};
use crate::digest::Digest;
use crate::error::{kind_err, kind_of, ErrorKind, KindError};
use anyhow::{anyhow, Result};
use std::io::{self, Read};
use std::sync::Arc;
use ureq::BodyReader;

/// Reconnections in a row without progress before a read gives up.
const MAX_RESUMES: u32 = 5;

/// The body of a blob, as a `Read`. It does not hash (callers do, while
/// they store), but it counts: more or fewer bytes than the expected size
/// is an error (`ErrorKind::Corrupt` inside the `io::Error`; see
/// [`into_anyhow`]).
pub struct BlobReader {
    inner: Arc<Inner>,
    repo: String,
    digest: Digest,
    size: u64,
    pos: u64,
    body: Option<BodyReader<'static>>,
    failures: u32,
}

/// Turn an `io::Error` from a [`BlobReader`] into an `anyhow::Error`,
/// keeping the [`ErrorKind`] it carries (a plain `?` would hide it: an
/// `io::Error` does not expose its payload as a source).
pub fn into_anyhow(e: io::Error) -> anyhow::Error {
    if e.get_ref().is_some_and(|r| r.is::<KindError>()) {
        if let Some(inner) = e.into_inner() {
            if let Ok(k) = inner.downcast::<KindError>() {
                return anyhow::Error::new(*k);
            }
        }
        unreachable!("checked above");
    }
    anyhow::Error::new(e)
}

fn to_io(e: anyhow::Error) -> io::Error {
    let msg = format!("{e:#}");
    match kind_of(&e) {
        Some(kind) => io::Error::other(KindError { kind, msg }),
        None => io::Error::other(msg),
    }
}

enum ConnectError {
    /// Worth another try: a broken connection, a 5xx, a failed ping.
    Transient(anyhow::Error),
    Fatal(anyhow::Error),
}

impl Client {
    /// Open a blob for streaming. `size` is the descriptor's: the reader
    /// fails if the body turns out longer or shorter.
    pub fn get_blob(&self, repo: &str, digest: &Digest, size: u64) -> Result<BlobReader> {
        let mut r = BlobReader {
            inner: self.inner.clone(),
            repo: repo.to_string(),
            digest: digest.clone(),
            size,
            pos: 0,
            body: None,
            failures: 0,
        };
        match r.connect() {
            Ok(()) => Ok(r),
            Err(ConnectError::Transient(e) | ConnectError::Fatal(e)) => Err(e),
        }
    }

    /// A small blob (an image config) in memory, verified against its
    /// digest (`ErrorKind::Corrupt` on a mismatch); refused above `max`.
    pub fn get_blob_bytes(&self, repo: &str, digest: &Digest, max: u64) -> Result<Vec<u8>> {
        let inner = &self.inner;
        let u = inner.url(&format!("/v2/{repo}/blobs/{digest}"))?;
        let resp = inner.call(
            Call::new("GET", u.clone(), vec![auth::pull_scope(repo)]),
            Payload::Empty,
        )?;
        let obj = Object::Blob {
            repo,
            digest: digest.as_str(),
        };
        let resp = expect(resp, "GET", &u, &[200], &obj)?;
        let bytes = match resp.into_body().into_with_config().limit(max).read_to_vec() {
            Ok(b) => b,
            Err(ureq::Error::BodyExceedsLimit(_)) => {
                return Err(kind_err(
                    ErrorKind::Corrupt,
                    format!("blob {repo}@{digest} is larger than {max} bytes"),
                ))
            }
            Err(e) => return Err(anyhow!("read blob {repo}@{digest}: {}", describe(&e))),
        };
        let got = Digest::of(&bytes);
        if &got != digest {
            return Err(kind_err(
                ErrorKind::Corrupt,
                format!("blob {repo}@{digest}: digest mismatch: got {got}"),
            ));
        }
        Ok(bytes)
    }

    /// Does the repository have this blob? (`HEAD`; a redirect counts as
    /// yes, since registries redirect only for blobs they have.)
    pub fn blob_exists(&self, repo: &str, digest: &Digest) -> Result<bool> {
        let inner = &self.inner;
        let u = inner.url(&format!("/v2/{repo}/blobs/{digest}"))?;
        let mut call = Call::new("HEAD", u.clone(), vec![auth::pull_scope(repo)]);
        call.follow = false;
        let resp = inner.call(call, Payload::Empty)?;
        match resp.status().as_u16() {
            200..=299 | 301 | 302 | 303 | 307 | 308 => Ok(true),
            404 => Ok(false),
            _ => {
                let obj = Object::Blob {
                    repo,
                    digest: digest.as_str(),
                };
                expect(resp, "HEAD", &u, &[], &obj).map(|_| false)
            }
        }
    }
}

impl BlobReader {
    /// Bytes delivered so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    fn what(&self) -> String {
        format!("blob {}@{}", self.repo, self.digest)
    }

    fn corrupt(&self, msg: String) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            KindError {
                kind: ErrorKind::Corrupt,
                msg: format!("{}: {msg}", self.what()),
            },
        )
    }

    /// (Re)open the body at `pos`: `Range: bytes=pos-` when resuming. A
    /// server that ignores the range answers 200 with the whole blob; the
    /// bytes already delivered are then read and dropped.
    fn connect(&mut self) -> Result<(), ConnectError> {
        use ConnectError::*;
        let inner = &self.inner;
        let u = inner
            .url(&format!("/v2/{}/blobs/{}", self.repo, self.digest))
            .map_err(Transient)?;
        let mut call = Call::new("GET", u.clone(), vec![auth::pull_scope(&self.repo)]);
        if self.pos > 0 {
            call = call.header("range", format!("bytes={}-", self.pos));
            // The reader's own loop does the retrying when resuming.
            call.retry = false;
        }
        let resp = inner.call(call, Payload::Empty).map_err(Transient)?;
        let status = resp.status().as_u16();
        let length = header(&resp, "content-length").and_then(|v| v.parse::<u64>().ok());
        match status {
            200 => {
                if let Some(n) = length.filter(|&n| n != self.size) {
                    return Err(Fatal(kind_err(
                        ErrorKind::Corrupt,
                        format!(
                            "{}: registry sends {n} bytes, expected {}",
                            self.what(),
                            self.size
                        ),
                    )));
                }
                let mut body = resp.into_body().into_reader();
                if self.pos > 0 {
                    let skipped = io::copy(&mut (&mut body).take(self.pos), &mut io::sink())
                        .map_err(|e| {
                            Transient(anyhow!("{}: {}", self.what(), errors::describe_io(&e)))
                        })?;
                    if skipped != self.pos {
                        return Err(Transient(anyhow!(
                            "{}: body ended while skipping",
                            self.what()
                        )));
                    }
                }
                self.body = Some(body);
                Ok(())
            }
            206 if self.pos > 0 => {
                let start = header(&resp, "content-range")
                    .and_then(|v| v.strip_prefix("bytes "))
                    .and_then(|v| v.split('-').next())
                    .and_then(|v| v.trim().parse::<u64>().ok());
                if start != Some(self.pos) {
                    return Err(Fatal(anyhow!(
                        "{}: asked for bytes from {}, registry sent range {:?}",
                        self.what(),
                        self.pos,
                        header(&resp, "content-range")
                    )));
                }
                self.body = Some(resp.into_body().into_reader());
                Ok(())
            }
            // The blob ends before `pos`: shorter than its descriptor says.
            416 => Err(Fatal(kind_err(
                ErrorKind::Corrupt,
                format!(
                    "{}: registry has fewer than the expected {} bytes",
                    self.what(),
                    self.size
                ),
            ))),
            s if transport::transient_status(s) => {
                Err(Transient(anyhow!("GET {u}: registry answered {s}")))
            }
            _ => {
                let obj = Object::Blob {
                    repo: &self.repo,
                    digest: self.digest.as_str(),
                };
                Err(Fatal(
                    expect(resp, "GET", &u, &[], &obj)
                        .err()
                        .unwrap_or_else(|| anyhow!("GET {u}: status {status}")),
                ))
            }
        }
    }

    /// Note a failure; wait before the next attempt, or give up.
    fn fail(&mut self, cause: String) -> io::Result<()> {
        self.body = None;
        self.failures += 1;
        if self.failures > MAX_RESUMES {
            return Err(io::Error::other(format!(
                "read {} at byte {} of {}: {cause} (gave up after {MAX_RESUMES} resumes)",
                self.what(),
                self.pos,
                self.size
            )));
        }
        std::thread::sleep(transport::backoff(self.failures - 1));
        Ok(())
    }

    fn reconnect(&mut self) -> io::Result<()> {
        loop {
            match self.connect() {
                Ok(()) => return Ok(()),
                Err(ConnectError::Fatal(e)) => return Err(to_io(e)),
                Err(ConnectError::Transient(e)) => self.fail(format!("{e:#}"))?,
            }
        }
    }
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.body.is_none() {
                if self.pos == self.size {
                    return Ok(0);
                }
                self.reconnect()?;
            }
            let Some(body) = self.body.as_mut() else {
                continue;
            };
            match body.read(buf) {
                Ok(0) if self.pos == self.size => return Ok(0),
                Ok(0) => {
                    let cause = "connection closed before the end of the blob".to_string();
                    self.fail(cause)?;
                }
                Ok(n) => {
                    if self.pos + n as u64 > self.size {
                        return Err(self.corrupt(format!(
                            "registry sent more than the expected {} bytes",
                            self.size
                        )));
                    }
                    self.pos += n as u64;
                    self.failures = 0;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let cause = errors::describe_io(&e);
                    self.fail(cause)?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_survive_io_errors() {
        let e = io::Error::new(
            io::ErrorKind::InvalidData,
            KindError {
                kind: ErrorKind::Corrupt,
                msg: "blob x: too long".into(),
            },
        );
        let a = into_anyhow(e);
        assert_eq!(kind_of(&a), Some(ErrorKind::Corrupt));
        assert_eq!(a.to_string(), "blob x: too long");
        let a = into_anyhow(io::Error::from(io::ErrorKind::ConnectionReset));
        assert_eq!(kind_of(&a), None);
        let io = to_io(kind_err(ErrorKind::NotFound, "blob unknown: a@b"));
        assert_eq!(kind_of(&into_anyhow(io)), Some(ErrorKind::NotFound));
    }
}
