//! Answering a registry's challenge: anonymous first, Basic when the
//! registry asks for it and credentials exist, and the Bearer token flow
//! (Docker Hub's): `GET realm?service=..&scope=..` with Basic credentials if
//! any, tokens cached per scope set until they expire.

use super::challenge::{self, Challenge};
use super::errors::{self, describe};
use super::transport;
use super::url;
use crate::error::{kind_err, ErrorKind};
use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use ureq::{Agent, SendBody};

/// A registry login. An identity token (an OAuth refresh token, as
/// `docker login` stores it) travels as username `<token>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// The username that marks `password` as an identity token.
pub const IDENTITY_TOKEN_USER: &str = "<token>";

impl std::fmt::Debug for Credentials {
    // Never print a password, not even in a debug dump.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Credentials {{ username: {:?}, password: *** }}",
            self.username
        )
    }
}

impl Credentials {
    pub fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// `expires_in` when the token server gives none (the spec's default).
const DEFAULT_TOKEN_LIFE: Duration = Duration::from_secs(60);
/// Refresh this long before expiry, so a token does not lapse in flight.
const EXPIRY_MARGIN: Duration = Duration::from_secs(5);

pub(crate) fn pull_scope(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

pub(crate) fn push_scope(repo: &str) -> String {
    format!("repository:{repo}:pull,push")
}

pub(crate) struct Token {
    value: String,
    expires: Instant,
}

#[derive(Default)]
struct State {
    challenge: Option<Challenge>,
    /// Keyed by the scopes, space-joined.
    tokens: HashMap<String, Token>,
}

pub(crate) struct Auth {
    creds: Option<Credentials>,
    state: Mutex<State>,
    /// Held while a token is fetched, so parallel blob requests wait for
    /// one token instead of each asking the token server for its own.
    fetching: Mutex<()>,
}

/// Does a token granted for `have` (space-joined scopes) cover every scope
/// in `need`? A scope is `type:name:actions`; `pull,push` covers `pull`.
fn covers(have: &str, need: &[String]) -> bool {
    let granted: Vec<(&str, Vec<&str>)> = have
        .split(' ')
        .filter_map(|s| s.rsplit_once(':'))
        .map(|(res, acts)| (res, acts.split(',').collect()))
        .collect();
    need.iter().all(|n| match n.rsplit_once(':') {
        Some((res, acts)) => acts.split(',').all(|a| {
            granted
                .iter()
                .any(|(r, g)| *r == res && g.iter().any(|x| *x == a || *x == "*"))
        }),
        None => have.split(' ').any(|h| h == n),
    })
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl Auth {
    pub fn new(creds: Option<Credentials>) -> Auth {
        Auth {
            creds,
            state: Mutex::new(State::default()),
            fetching: Mutex::new(()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere cannot leave the cache inconsistent: every
        // update is a single insert.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remember the challenge the registry's `/v2/` gave (None: open).
    pub fn set_challenge(&self, ch: Option<Challenge>) {
        let mut st = self.state();
        if st.challenge != ch {
            st.tokens.clear();
        }
        st.challenge = ch;
    }

    pub fn challenge(&self) -> Option<Challenge> {
        self.state().challenge.clone()
    }

    /// The `Authorization` value for a request needing `scopes`; `fresh`
    /// bypasses the token cache.
    pub fn header(&self, agent: &Agent, scopes: &[String], fresh: bool) -> Result<Option<String>> {
        let Some(ch) = self.challenge() else {
            return Ok(None);
        };
        match ch.scheme.as_str() {
            "basic" => Ok(self.creds.as_ref().map(Credentials::basic_header)),
            "bearer" => {
                let key = scopes.join(" ");
                if !fresh {
                    if let Some(v) = self.cached(scopes) {
                        return Ok(Some(v));
                    }
                }
                let _one_at_a_time = self.fetching.lock().unwrap_or_else(|p| p.into_inner());
                // Another thread may have fetched a covering token meanwhile.
                if !fresh {
                    if let Some(v) = self.cached(scopes) {
                        return Ok(Some(v));
                    }
                }
                let token = self.fetch_token(agent, &ch, scopes)?;
                let value = format!("Bearer {}", token.value);
                self.state().tokens.insert(key, token);
                Ok(Some(value))
            }
            _ => Ok(None),
        }
    }

    /// A live cached token whose scopes cover `scopes`.
    fn cached(&self, scopes: &[String]) -> Option<String> {
        let now = Instant::now();
        self.state()
            .tokens
            .iter()
            .find(|(k, t)| now < t.expires && covers(k, scopes))
            .map(|(_, t)| format!("Bearer {}", t.value))
    }

    /// After a 401: learn the challenge it carries, and say whether one
    /// more try can do better. Bearer: yes, with a fresh token (the cached
    /// one may have been revoked, or lacked the scope). Basic: only when
    /// the request went out without the credentials we have.
    pub fn should_retry(&self, www_authenticate: &[&str], sent: Option<&str>) -> bool {
        if let Some(ch) = challenge::pick(www_authenticate.iter().copied()) {
            self.set_challenge(Some(ch));
        }
        match self.challenge().map(|c| c.scheme) {
            Some(s) if s == "bearer" => true,
            Some(s) if s == "basic" => sent.is_none() && self.creds.is_some(),
            _ => false,
        }
    }

    /// Ask the token server for a token covering `scopes` (none: just
    /// prove the credentials, as `login` does).
    fn fetch_token(&self, agent: &Agent, ch: &Challenge, scopes: &[String]) -> Result<Token> {
        let realm = ch
            .param("realm")
            .filter(|r| r.starts_with("http://") || r.starts_with("https://"))
            .ok_or_else(|| anyhow!("bearer challenge without a usable realm: {ch:?}"))?;
        let service = ch.param("service").unwrap_or("");
        let refresh = self
            .creds
            .as_ref()
            .filter(|c| c.username == IDENTITY_TOKEN_USER)
            .map(|c| c.password.clone());
        let resp = if let Some(refresh_token) = refresh {
            // An identity token is exchanged through the OAuth2 form post.
            let form = format!(
                "grant_type=refresh_token&refresh_token={}&service={}&scope={}&client_id=skiff",
                url::escape(&refresh_token),
                url::escape(service),
                url::escape(&scopes.join(" "))
            );
            let headers = [
                (
                    "content-type",
                    "application/x-www-form-urlencoded".to_string(),
                ),
                ("content-length", form.len().to_string()),
            ];
            transport::retrying(false, || {
                let mut r = form.as_bytes();
                transport::send(
                    agent,
                    "POST",
                    realm,
                    &headers,
                    SendBody::from_reader(&mut r),
                )
            })
        } else {
            let mut pairs = Vec::new();
            if !service.is_empty() {
                pairs.push(("service", service));
            }
            for s in scopes {
                pairs.push(("scope", s.as_str()));
            }
            let u = url::with_query(realm, &pairs);
            let mut headers = Vec::new();
            if let Some(c) = &self.creds {
                headers.push(("authorization", c.basic_header()));
            }
            transport::retrying(true, || {
                transport::send(agent, "GET", &u, &headers, SendBody::none())
            })
        };
        let resp = resp.map_err(|e| anyhow!("fetch token from {realm}: {}", describe(&e)))?;
        let status = resp.status().as_u16();
        let body = transport::read_small(resp, 1 << 20);
        match status {
            200 => {}
            401 | 403 => {
                let msg = errors::registry_message(&body)
                    .map(|(_, m)| m)
                    .filter(|m| !m.is_empty());
                let msg = match msg {
                    Some(m) if m.contains(':') => m,
                    Some(m) => format!("unauthorized: {m}"),
                    None if self.creds.is_some() => {
                        "unauthorized: incorrect username or password".to_string()
                    }
                    None => "unauthorized: authentication required".to_string(),
                };
                return Err(kind_err(ErrorKind::Unauthorized, msg));
            }
            s => bail!("fetch token from {realm}: unexpected status {s}"),
        }
        let t: TokenResponse = serde_json::from_slice(&body)
            .with_context(|| format!("fetch token from {realm}: malformed answer"))?;
        let value = t
            .token
            .filter(|s| !s.is_empty())
            .or(t.access_token.filter(|s| !s.is_empty()))
            .ok_or_else(|| anyhow!("fetch token from {realm}: the answer holds no token"))?;
        let life = t
            .expires_in
            .filter(|&s| s > 0)
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_TOKEN_LIFE);
        Ok(Token {
            value,
            expires: Instant::now() + life.saturating_sub(EXPIRY_MARGIN),
        })
    }

    /// Prove the credentials: Basic registries by the caller's `/v2/`
    /// request, Bearer ones by asking for a token with no scope.
    pub fn verify(&self, agent: &Agent) -> Result<()> {
        match self.challenge() {
            Some(ch) if ch.scheme == "bearer" => self.fetch_token(agent, &ch, &[]).map(|_| ()),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn scope_cover() {
        use super::covers;
        let push = || "repository:a/b:pull,push".to_string();
        let pull = || "repository:a/b:pull".to_string();
        assert!(covers(&push(), &[pull()]));
        assert!(covers(&push(), &[push()]));
        assert!(!covers(&pull(), &[push()]));
        assert!(!covers("repository:a/c:pull,push", &[pull()]));
        assert!(covers(
            "repository:a/b:pull,push repository:x:pull",
            &["repository:x:pull".into(), pull()]
        ));
    }

    use super::*;

    #[test]
    fn basic_header_and_debug() {
        let c = Credentials {
            username: "user".into(),
            password: "pass".into(),
        };
        assert_eq!(c.basic_header(), "Basic dXNlcjpwYXNz");
        assert!(!format!("{c:?}").contains("pass\""));
    }

    #[test]
    fn retry_rules() {
        let anon = Auth::new(None);
        assert!(!anon.should_retry(&[], None));
        assert!(!anon.should_retry(&[r#"Basic realm="r""#], None));
        assert!(anon.should_retry(&[r#"Bearer realm="https://a/t""#], None));

        let creds = Credentials {
            username: "u".into(),
            password: "p".into(),
        };
        let a = Auth::new(Some(creds.clone()));
        assert!(a.should_retry(&[r#"Basic realm="r""#], None));
        assert!(!a.should_retry(&[r#"Basic realm="r""#], Some(&creds.basic_header())));
        let agent = transport::agent(ureq::tls::TlsConfig::default(), "t");
        assert_eq!(
            a.header(&agent, &[pull_scope("x")], false).unwrap(),
            Some(creds.basic_header())
        );
    }
}
