//! The Distribution API v2 client: one per registry host, shared across
//! threads. This file holds the connection logic (scheme discovery, auth,
//! retries, redirects) and the manifest and tag calls; blobs live in
//! `blob.rs` and uploads in `upload.rs`.

use super::auth::{self, Auth};
use super::challenge;
use super::errors::{self, describe, Object};
use super::manifest::{self, media, Descriptor};
use super::tls::{self, Plan};
use super::transport::{self, header};
use super::url;
use crate::digest::Digest;
use crate::error::{kind_err, ErrorKind};
use anyhow::{anyhow, bail, Context, Result};
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use ureq::http::Response;
use ureq::{Agent, Body, SendBody};

pub use super::auth::Credentials;

/// Manifests larger than this are refused (the registry's own limit).
pub const MANIFEST_MAX: u64 = 4 << 20;
const MAX_REDIRECTS: usize = 10;

#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// `--tls-verify=false`, or the host is in the insecure list: try https
    /// without verification, then fall back to http.
    pub insecure: bool,
    pub credentials: Option<Credentials>,
    /// Per-host certificate directories, Docker's and Podman's by default.
    pub cert_dirs: Vec<PathBuf>,
    /// A directory holding this host's `*.crt`, `*.cert` and `*.key`
    /// directly (`--cert-dir`).
    pub host_cert_dir: Option<PathBuf>,
    pub user_agent: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            insecure: false,
            credentials: None,
            cert_dirs: tls::default_cert_dirs(),
            host_cert_dir: None,
            user_agent: format!("skiff/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// A client for one registry host. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

/// A manifest as the registry sent it.
pub struct ManifestResponse {
    pub bytes: Vec<u8>,
    pub media_type: String,
    /// Computed over `bytes`.
    pub digest: Digest,
}

/// Where and how the registry answers, learned by the first ping.
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    /// `https://host:port` or `http://host:port`
    pub base: String,
    pub verify: bool,
}

pub(crate) struct Inner {
    pub host: String,
    plan: Plan,
    verified: Agent,
    unverified: Agent,
    endpoint: Mutex<Option<Endpoint>>,
    pub auth: Auth,
}

/// A request body.
pub(crate) enum Payload<'a> {
    Empty,
    Bytes(&'a [u8]),
    /// Sent once, never replayed: requests with it are not retried.
    Stream(&'a mut dyn Read, u64),
}

/// One API request.
pub(crate) struct Call {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub scopes: Vec<String>,
    /// Retry broken connections and 5xx (idempotent, replayable requests only).
    pub retry: bool,
    /// Follow redirects (GET/HEAD only).
    pub follow: bool,
}

impl Call {
    pub fn new(method: &'static str, url: String, scopes: Vec<String>) -> Call {
        let idempotent = matches!(method, "GET" | "HEAD");
        Call {
            method,
            url,
            headers: Vec::new(),
            scopes,
            retry: idempotent,
            follow: idempotent,
        }
    }
    pub fn header(mut self, k: &'static str, v: impl Into<String>) -> Call {
        self.headers.push((k, v.into()));
        self
    }
}

impl Client {
    /// A client for `host` (as [`super::Reference::api_host`] gives it).
    /// Nothing is sent until the first request.
    pub fn new(host: &str, opts: ClientOptions) -> Result<Client> {
        if host.is_empty() || host.contains('/') {
            bail!("invalid registry host {host:?}");
        }
        let t = tls::load(host, &opts.cert_dirs, opts.host_cert_dir.as_deref())
            .with_context(|| format!("load TLS settings for {host}"))?;
        let plan = tls::plan(host, opts.insecure, t.has_cert_dir);
        Ok(Client {
            inner: Arc::new(Inner {
                host: host.to_string(),
                plan,
                verified: transport::agent(t.verified, &opts.user_agent),
                unverified: transport::agent(t.unverified, &opts.user_agent),
                endpoint: Mutex::new(None),
                auth: Auth::new(opts.credentials),
            }),
        })
    }

    pub fn host(&self) -> &str {
        &self.inner.host
    }

    /// `GET /v2/`: learn the scheme and the auth challenge. Errors read
    /// `ping <host>: <cause>`.
    pub fn ping(&self) -> Result<()> {
        let ep = self.inner.probe()?;
        *self.inner.endpoint_slot() = Some(ep);
        Ok(())
    }

    /// Check the credentials, as `login` does: `/v2/` with Basic
    /// credentials, or a token request with no scope for Bearer registries.
    /// Refused credentials are `ErrorKind::Unauthorized`.
    pub fn login(&self) -> Result<()> {
        self.ping()?;
        let inner = &self.inner;
        match inner.auth.challenge() {
            Some(ch) if ch.scheme == "bearer" => {
                let ep = inner.endpoint()?;
                inner.auth.verify(inner.agent(&ep))
            }
            Some(_) => {
                let resp =
                    inner.call(Call::new("GET", inner.url("/v2/")?, vec![]), Payload::Empty)?;
                match resp.status().as_u16() {
                    200..=299 => Ok(()),
                    s => {
                        let body = transport::read_small(resp, 1 << 16);
                        Err(errors::status_error(
                            "GET",
                            "/v2/",
                            s,
                            &body,
                            &Object::Repo(""),
                        ))
                    }
                }
            }
            None => Ok(()),
        }
    }

    /// Fetch a manifest or index. The digest is computed over the bytes;
    /// when `reference` is a digest the bytes must hash to it, and a
    /// `Docker-Content-Digest` the registry sends must agree
    /// (`ErrorKind::Corrupt` otherwise).
    pub fn get_manifest(&self, repo: &str, reference: &str) -> Result<ManifestResponse> {
        let inner = &self.inner;
        let u = inner.url(&format!("/v2/{repo}/manifests/{reference}"))?;
        let call = Call::new("GET", u.clone(), vec![auth::pull_scope(repo)])
            .header("accept", media::MANIFEST_TYPES.join(", "));
        let resp = inner.call(call, Payload::Empty)?;
        let obj = Object::Manifest { repo, reference };
        let resp = expect(resp, "GET", &u, &[200], &obj)?;
        let content_type = header(&resp, "content-type").map(str::to_string);
        let claimed = header(&resp, "docker-content-digest").map(str::to_string);
        let bytes = match resp
            .into_body()
            .into_with_config()
            .limit(MANIFEST_MAX)
            .read_to_vec()
        {
            Ok(b) => b,
            Err(ureq::Error::BodyExceedsLimit(_)) => {
                return Err(kind_err(
                    ErrorKind::Corrupt,
                    format!("manifest {repo}:{reference} is larger than {MANIFEST_MAX} bytes"),
                ))
            }
            Err(e) => bail!("read manifest {repo}:{reference}: {}", describe(&e)),
        };
        let digest = Digest::of(&bytes);
        let expected = match Digest::parse(reference) {
            Ok(d) => Some(d),
            Err(_) => claimed.as_deref().and_then(|c| Digest::parse(c).ok()),
        };
        if let Some(want) = expected {
            if want != digest {
                return Err(kind_err(
                    ErrorKind::Corrupt,
                    format!("manifest {repo}:{reference}: digest mismatch: expected {want}, got {digest}"),
                ));
            }
        }
        let media_type = manifest::manifest_media_type(&bytes, content_type.as_deref())
            .with_context(|| format!("manifest {repo}:{reference}"))?;
        Ok(ManifestResponse {
            bytes,
            media_type,
            digest,
        })
    }

    /// `HEAD` a manifest: its descriptor, or None when the registry has
    /// no such manifest. Falls back to a GET when the registry's answer
    /// lacks the digest or a manifest content type.
    pub fn head_manifest(&self, repo: &str, reference: &str) -> Result<Option<Descriptor>> {
        let inner = &self.inner;
        let u = inner.url(&format!("/v2/{repo}/manifests/{reference}"))?;
        let call = Call::new("HEAD", u.clone(), vec![auth::pull_scope(repo)])
            .header("accept", media::MANIFEST_TYPES.join(", "));
        let resp = inner.call(call, Payload::Empty)?;
        if resp.status().as_u16() == 404 {
            return Ok(None);
        }
        let obj = Object::Manifest { repo, reference };
        let resp = expect(resp, "HEAD", &u, &[200], &obj)?;
        let media_type = header(&resp, "content-type").map(manifest::strip_params);
        let digest = header(&resp, "docker-content-digest")
            .and_then(|d| Digest::parse(d).ok())
            .or_else(|| Digest::parse(reference).ok());
        let size = header(&resp, "content-length").and_then(|s| s.parse::<u64>().ok());
        match (media_type, digest, size) {
            (Some(mt), Some(d), Some(n)) if media::MANIFEST_TYPES.contains(&mt) => {
                Ok(Some(Descriptor::new(mt, d, n)))
            }
            _ => {
                let m = self.get_manifest(repo, reference)?;
                Ok(Some(Descriptor::new(
                    &m.media_type,
                    m.digest,
                    m.bytes.len() as u64,
                )))
            }
        }
    }

    /// Upload a manifest under a tag or digest; returns its digest.
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest> {
        let digest = Digest::of(bytes);
        if let Ok(want) = Digest::parse(reference) {
            if want != digest {
                bail!("put manifest {repo}@{reference}: the manifest's digest is {digest}");
            }
        }
        let inner = &self.inner;
        let u = inner.url(&format!("/v2/{repo}/manifests/{reference}"))?;
        let mut call = Call::new("PUT", u.clone(), vec![auth::push_scope(repo)])
            .header("content-type", media_type);
        // The body is in memory and PUT is idempotent: safe to replay.
        call.retry = true;
        let resp = inner.call(call, Payload::Bytes(bytes))?;
        let obj = Object::Manifest { repo, reference };
        let resp = expect(resp, "PUT", &u, &[200, 201, 202, 204], &obj)?;
        if let Some(claimed) =
            header(&resp, "docker-content-digest").and_then(|d| Digest::parse(d).ok())
        {
            if claimed != digest {
                return Err(kind_err(
                    ErrorKind::Corrupt,
                    format!("put manifest {repo}:{reference}: registry stored {claimed}, we sent {digest}"),
                ));
            }
        }
        Ok(digest)
    }

    /// Every tag of a repository, following `Link` pagination.
    pub fn list_tags(&self, repo: &str) -> Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let inner = &self.inner;
        let mut u = inner.url(&format!("/v2/{repo}/tags/list"))?;
        let mut tags = Vec::new();
        let mut seen = std::collections::HashSet::new();
        while seen.insert(u.clone()) {
            let resp = inner.call(
                Call::new("GET", u.clone(), vec![auth::pull_scope(repo)]),
                Payload::Empty,
            )?;
            let resp = expect(resp, "GET", &u, &[200], &Object::Repo(repo))?;
            let next = header(&resp, "link").and_then(url::link_next);
            let body = resp
                .into_body()
                .into_with_config()
                .limit(64 << 20)
                .read_to_vec()
                .map_err(|e| anyhow!("list tags of {repo}: {}", describe(&e)))?;
            let page: Page = serde_json::from_slice(&body)
                .map_err(|e| anyhow!("list tags of {repo}: malformed answer: {e}"))?;
            tags.extend(page.tags.unwrap_or_default());
            match next {
                Some(n) => u = url::resolve(&u, &n),
                None => break,
            }
        }
        Ok(tags)
    }
}

/// Pass a response with a wanted status; turn any other into its error.
pub(crate) fn expect(
    resp: Response<Body>,
    method: &str,
    url: &str,
    ok: &[u16],
    obj: &Object,
) -> Result<Response<Body>> {
    let status = resp.status().as_u16();
    if ok.contains(&status) {
        return Ok(resp);
    }
    let body = transport::read_small(resp, 1 << 16);
    Err(errors::status_error(method, url, status, &body, obj))
}

impl Inner {
    fn endpoint_slot(&self) -> std::sync::MutexGuard<'_, Option<Endpoint>> {
        self.endpoint.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn agent(&self, ep: &Endpoint) -> &Agent {
        if ep.verify {
            &self.verified
        } else {
            &self.unverified
        }
    }

    /// The endpoint, pinging first if this client has not yet.
    pub(crate) fn endpoint(&self) -> Result<Endpoint> {
        let mut slot = self.endpoint_slot();
        if let Some(ep) = &*slot {
            return Ok(ep.clone());
        }
        let ep = self.probe()?;
        *slot = Some(ep.clone());
        Ok(ep)
    }

    pub(crate) fn url(&self, path: &str) -> Result<String> {
        Ok(format!("{}{path}", self.endpoint()?.base))
    }

    /// `GET /v2/` by the scheme rule of [`tls::plan`].
    fn probe(&self) -> Result<Endpoint> {
        let host = &self.host;
        let attempt = |scheme: &str, verify: bool| {
            let ep = Endpoint {
                base: format!("{scheme}://{host}"),
                verify,
            };
            let u = format!("{}/v2/", ep.base);
            let agent = self.agent(&ep);
            transport::retrying(true, || {
                transport::send(agent, "GET", &u, &[], SendBody::none())
            })
            .map(|r| (ep, r))
        };
        let result = match self.plan {
            Plan::Https => attempt("https", true),
            Plan::Http => attempt("http", true),
            Plan::HttpsThenHttp { verify } => match attempt("https", verify) {
                Ok(r) => Ok(r),
                Err(e) if errors::is_tls_failure(&e) && !errors::is_cert_error(&describe(&e)) => {
                    attempt("http", true)
                }
                Err(e) => Err(e),
            },
        };
        let (ep, resp) = result.map_err(|e| anyhow!("ping {host}: {}", describe(&e)))?;
        let status = resp.status().as_u16();
        let www: Vec<String> = resp
            .headers()
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        let body = transport::read_small(resp, 1 << 16);
        match status {
            200..=299 | 403 => self.auth.set_challenge(None),
            401 => self
                .auth
                .set_challenge(challenge::pick(www.iter().map(String::as_str))),
            404 => bail!(
                "ping {host}: {}/v2/ answered 404: not a registry (v2 API)",
                ep.base
            ),
            400 if String::from_utf8_lossy(&body).contains("HTTPS server") => bail!(
                "ping {host}: the registry speaks https; put its CA certificate in \
                 /etc/containers/certs.d/{host}/ca.crt, or mark it insecure"
            ),
            s => bail!("ping {host}: {}/v2/ answered {s}", ep.base),
        }
        Ok(ep)
    }

    /// Send a request with auth, retries and redirects. A 401 is retried
    /// once with fresh credentials when the challenge allows it and the
    /// body can be sent again. Transport failures read
    /// `<METHOD> <url>: <cause>`; statuses are left to the caller.
    pub(crate) fn call(&self, c: Call, payload: Payload) -> Result<Response<Body>> {
        let ep = self.endpoint()?;
        let agent = self.agent(&ep);
        let replayable = !matches!(payload, Payload::Stream(..));
        let mut payload = payload;
        let mut fresh = false;
        loop {
            let auth = self.auth.header(agent, &c.scopes, fresh)?;
            let res = transport::retrying(c.retry && replayable, || {
                self.exchange(agent, &c, auth.as_deref(), &mut payload)
            });
            let resp = res.map_err(|e| anyhow!("{} {}: {}", c.method, c.url, describe(&e)))?;
            if resp.status().as_u16() == 401 && !fresh && replayable {
                let www: Vec<&str> = resp
                    .headers()
                    .get_all("www-authenticate")
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect();
                if self.auth.should_retry(&www, auth.as_deref()) {
                    fresh = true;
                    continue;
                }
            }
            return Ok(resp);
        }
    }

    /// One request, following redirects for GET/HEAD. The registry's
    /// credentials go only to the registry's own origin.
    fn exchange(
        &self,
        agent: &Agent,
        c: &Call,
        auth: Option<&str>,
        payload: &mut Payload,
    ) -> Result<Response<Body>, ureq::Error> {
        let mut u = c.url.clone();
        let mut auth = auth;
        let home = url::origin(&c.url).to_string();
        for _ in 0..=MAX_REDIRECTS {
            let mut headers: Vec<(&str, String)> = c.headers.clone();
            if let Some(a) = auth {
                headers.push(("authorization", a.to_string()));
            }
            let resp = send_payload(agent, c.method, &u, &mut headers, payload)?;
            let status = resp.status().as_u16();
            if !(c.follow && matches!(status, 301 | 302 | 303 | 307 | 308)) {
                return Ok(resp);
            }
            let Some(loc) = header(&resp, "location") else {
                return Ok(resp);
            };
            u = url::resolve(&u, loc);
            if url::origin(&u) != home {
                auth = None;
            }
        }
        Err(ureq::Error::TooManyRedirects)
    }
}

/// Send with the body; a body always goes with its `Content-Length`
/// (some registries refuse chunked uploads).
fn send_payload(
    agent: &Agent,
    method: &str,
    u: &str,
    headers: &mut Vec<(&str, String)>,
    payload: &mut Payload,
) -> Result<Response<Body>, ureq::Error> {
    match payload {
        Payload::Empty => {
            if matches!(method, "POST" | "PUT" | "PATCH") {
                headers.push(("content-length", "0".into()));
            }
            transport::send(agent, method, u, headers, SendBody::none())
        }
        Payload::Bytes(b) => {
            headers.push(("content-length", b.len().to_string()));
            let mut slice: &[u8] = b;
            transport::send(agent, method, u, headers, SendBody::from_reader(&mut slice))
        }
        Payload::Stream(r, n) => {
            headers.push(("content-length", n.to_string()));
            transport::send(agent, method, u, headers, SendBody::from_reader(&mut **r))
        }
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
