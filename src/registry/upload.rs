//! Writing blobs: cross-repository mounts, monolithic uploads (POST, then
//! PUT with the body) and chunked ones (PATCH per chunk, then PUT).
//!
//! Upload bodies are streamed and so never retried; a failed upload
//! session is cancelled (DELETE) on the way out, best effort.

use super::auth;
use super::client::{expect, Call, Client, Inner, Payload};
use super::errors::Object;
use super::transport::header;
use super::url;
use crate::digest::Digest;
use anyhow::{anyhow, bail, Result};
use std::io::{self, Read};
use ureq::http::Response;
use ureq::Body;

impl Client {
    /// Ask the registry to link a blob from another repository of its own
    /// instead of uploading it. True when mounted (201); false when the
    /// registry opened an upload instead (202), which is then cancelled.
    pub fn mount_blob(&self, repo: &str, digest: &Digest, from_repo: &str) -> Result<bool> {
        let inner = &self.inner;
        let scopes = vec![auth::push_scope(repo), auth::pull_scope(from_repo)];
        let base = inner.url(&format!("/v2/{repo}/blobs/uploads/"))?;
        let u = url::with_query(&base, &[("mount", digest.as_str()), ("from", from_repo)]);
        let resp = inner.call(Call::new("POST", u.clone(), scopes.clone()), Payload::Empty)?;
        let obj = Object::Upload { repo };
        let resp = expect(resp, "POST", &u, &[201, 202], &obj)?;
        if resp.status().as_u16() == 201 {
            return Ok(true);
        }
        if let Ok(loc) = location(&u, &resp) {
            cancel(inner, &loc, &scopes);
        }
        Ok(false)
    }

    /// Upload a blob of `size` bytes read from `body`. `chunk` None: one
    /// PUT with the whole body; Some(n): PATCH chunks of n bytes, then a
    /// PUT that closes the upload. The registry checks the digest.
    pub fn push_blob(
        &self,
        repo: &str,
        digest: &Digest,
        size: u64,
        body: &mut dyn Read,
        chunk: Option<u64>,
    ) -> Result<()> {
        if chunk == Some(0) {
            bail!("push blob {digest}: chunk size must not be 0");
        }
        let inner = &self.inner;
        let scopes = vec![auth::push_scope(repo)];
        let u = inner.url(&format!("/v2/{repo}/blobs/uploads/"))?;
        let resp = inner.call(Call::new("POST", u.clone(), scopes.clone()), Payload::Empty)?;
        let resp = expect(resp, "POST", &u, &[202], &Object::Upload { repo })?;
        let loc = location(&u, &resp)?;
        drop(resp);
        let mut exact = Exact {
            inner: body,
            left: size,
            size,
        };
        let res = match chunk {
            None => put_whole(inner, repo, &loc, digest, size, &mut exact, &scopes),
            Some(n) => put_chunked(inner, repo, &loc, digest, n, &mut exact, &scopes),
        };
        if res.is_err() {
            cancel(inner, &loc, &scopes);
        }
        res
    }
}

fn put_whole(
    inner: &Inner,
    repo: &str,
    loc: &str,
    digest: &Digest,
    size: u64,
    body: &mut Exact,
    scopes: &[String],
) -> Result<()> {
    let u = url::with_query(loc, &[("digest", digest.as_str())]);
    let call = Call::new("PUT", u.clone(), scopes.to_vec())
        .header("content-type", "application/octet-stream");
    let resp = inner.call(call, Payload::Stream(body, size))?;
    let obj = Object::Blob {
        repo,
        digest: digest.as_str(),
    };
    expect(resp, "PUT", &u, &[201, 204], &obj)?;
    Ok(())
}

fn put_chunked(
    inner: &Inner,
    repo: &str,
    loc: &str,
    digest: &Digest,
    chunk: u64,
    body: &mut Exact,
    scopes: &[String],
) -> Result<()> {
    let obj = Object::Blob {
        repo,
        digest: digest.as_str(),
    };
    let mut loc = loc.to_string();
    let mut buf = vec![0u8; chunk.min(body.size.max(1)) as usize];
    let mut start = 0u64;
    while body.left > 0 {
        let n = read_full(body, &mut buf).map_err(|e| anyhow!("push blob {digest}: {e}"))?;
        let end = start + n as u64 - 1;
        let call = Call::new("PATCH", loc.clone(), scopes.to_vec())
            .header("content-type", "application/octet-stream")
            .header("content-range", format!("{start}-{end}"));
        let resp = inner.call(call, Payload::Bytes(&buf[..n]))?;
        let resp = expect(resp, "PATCH", &loc, &[202, 204], &obj)?;
        // Each answer names where the next chunk goes.
        if let Ok(next) = location(&loc, &resp) {
            loc = next;
        }
        start = end + 1;
    }
    let u = url::with_query(&loc, &[("digest", digest.as_str())]);
    let resp = inner.call(Call::new("PUT", u.clone(), scopes.to_vec()), Payload::Empty)?;
    expect(resp, "PUT", &u, &[201, 204], &obj)?;
    Ok(())
}

/// The upload URL a response points at, resolved against the request's.
fn location(request_url: &str, resp: &Response<Body>) -> Result<String> {
    let loc = header(resp, "location")
        .ok_or_else(|| anyhow!("{request_url}: registry gave no upload location"))?;
    Ok(url::resolve(request_url, loc))
}

/// Abandon an upload session; failures are ignored (the registry purges
/// stale uploads itself).
fn cancel(inner: &Inner, loc: &str, scopes: &[String]) {
    let _ = inner.call(
        Call::new("DELETE", loc.to_string(), scopes.to_vec()),
        Payload::Empty,
    );
}

/// Fill `buf` as far as the source allows.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Yields exactly `size` bytes of the source: a source that ends early is
/// an error rather than a short upload the registry would hang on.
struct Exact<'a> {
    inner: &'a mut dyn Read,
    left: u64,
    size: u64,
}

impl Read for Exact<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "source ended after {} of {} bytes",
                    self.size - self.left,
                    self.size
                ),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_reader() {
        let mut src: &[u8] = b"hello world";
        let mut e = Exact {
            inner: &mut src,
            left: 5,
            size: 5,
        };
        let mut s = String::new();
        e.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello");

        let mut src: &[u8] = b"hi";
        let mut e = Exact {
            inner: &mut src,
            left: 5,
            size: 5,
        };
        let err = e.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(err.to_string(), "source ended after 2 of 5 bytes");
    }
}
