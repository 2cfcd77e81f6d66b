//! `ADD https://...`: a remote file, downloaded as BuildKit's HTTP source
//! does: named after the URL's last path element, mode 0600, the
//! `Last-Modified` header as its mtime, never extracted, and checked
//! against `--checksum` while it streams in (a mismatch leaves nothing
//! behind).

use crate::digest::{Digest, Hasher};
use anyhow::{anyhow, bail, Context, Result};
use std::io::{Read, Write};
use std::time::Duration;

/// Is `source` a URL ADD downloads?
pub fn is_url(source: &str) -> bool {
    let lower = source.get(..8).unwrap_or(source).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// The file name a URL's download gets: its path's last element,
/// percent-decoded, or `__unnamed__` when the path has none (BuildKit's
/// rule).
pub fn file_name(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    let base = path.rsplit('/').find(|s| !s.is_empty()).unwrap_or("");
    let base = percent_decode(base);
    if base.is_empty() || base == "." || base == ".." || base.contains('/') {
        "__unnamed__".to_string()
    } else {
        base
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a download delivered.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The digest of the body.
    pub digest: Digest,
    /// `Last-Modified`, as Unix seconds.
    pub modified: Option<i64>,
}

fn agent() -> Result<ureq::Agent> {
    let tls = crate::registry::tls::load("", &[], None)?.verified;
    Ok(ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(tls)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_per_read(Some(Duration::from_secs(120)))
        .user_agent(concat!("skiff/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent())
}

/// Download `url` into `out`, hashing it on the way; with `expected`, a
/// body of another digest is an error (reported before the caller keeps
/// anything).
pub fn fetch(url: &str, expected: Option<&Digest>, out: &mut dyn Write) -> Result<Fetched> {
    let what = || format!("download {url}");
    let resp = agent()?
        .get(url)
        .call()
        .map_err(|e| anyhow!("{}: {}", what(), e))?;
    let status = resp.status().as_u16();
    if !(200..300).contains(&status) {
        bail!("{}: HTTP status {status}", what());
    }
    let modified = resp
        .headers()
        .get("last-modified")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
        .map(|t| t.timestamp());
    let mut body = resp.into_body().into_reader();
    let mut hasher = Hasher::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = body.read(&mut buf).with_context(what)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).with_context(what)?;
    }
    let (digest, _) = hasher.finish();
    if let Some(want) = expected {
        if &digest != want {
            bail!("{}: digest mismatch: got {digest}, expected {want}", what());
        }
    }
    Ok(Fetched { digest, modified })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_urls() {
        assert_eq!(
            file_name("https://example.com/a/b/file.tar.gz"),
            "file.tar.gz"
        );
        assert_eq!(file_name("https://example.com/a/b/?x=1"), "b");
        assert_eq!(file_name("https://example.com/dl?f=x.tgz#top"), "dl");
        assert_eq!(file_name("https://example.com"), "__unnamed__");
        assert_eq!(file_name("https://example.com/"), "__unnamed__");
        assert_eq!(file_name("http://h/my%20file.txt"), "my file.txt");
        assert_eq!(file_name("http://h/a%2Fb"), "__unnamed__");
        assert!(is_url("https://x/y"));
        assert!(is_url("HTTP://x/y"));
        assert!(!is_url("httpx/y"));
        assert!(!is_url("git@github.com:x/y"));
    }
}
