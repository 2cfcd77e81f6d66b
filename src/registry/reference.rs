//! Image references in Docker's grammar (distribution/reference):
//!
//! ```text
//! reference  := name [ ":" tag ] [ "@" digest ]
//! name       := [domain "/"] path
//! domain     := host [":" port]        host: dns name, IPv4 or "[" IPv6 "]"
//! path       := component ("/" component)*
//! component  := [a-z0-9]+ (separator [a-z0-9]+)*   separator: "." "_" "__" "-"+
//! tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//! ```
//!
//! Normalisation follows `docker`: a name without a domain lives on
//! docker.io, a single-component name there gains `library/`, and the tag
//! `latest` is filled in only when neither a tag nor a digest was given.

use crate::digest::Digest;
use crate::error::{kind_err, ErrorKind};
use anyhow::Result;
use std::fmt;
use std::str::FromStr;

pub const DEFAULT_DOMAIN: &str = "docker.io";
/// Docker Hub's old name, still accepted in references and auth files.
pub const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// The host that actually serves Docker Hub's v2 API.
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";
const OFFICIAL_PREFIX: &str = "library/";
const DEFAULT_TAG: &str = "latest";
const NAME_TOTAL_MAX: usize = 255;
const TAG_MAX: usize = 128;

/// A parsed, normalised image reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    /// `docker.io`, `localhost:5000`, `[::1]:5000`
    pub domain: String,
    /// `library/busybox`
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

fn invalid(reason: impl fmt::Display) -> anyhow::Error {
    kind_err(
        ErrorKind::InvalidArgument,
        format!("invalid reference format: {reason}"),
    )
}

impl Reference {
    /// Parse a reference as `docker pull` does (default domain docker.io).
    pub fn parse(s: &str) -> Result<Reference> {
        Reference::parse_with_domain(s, DEFAULT_DOMAIN)
    }

    /// Parse a reference; a name without a domain gets `default_domain`.
    pub fn parse_with_domain(s: &str, default_domain: &str) -> Result<Reference> {
        if s.is_empty() {
            return Err(invalid("repository name must have at least one component"));
        }
        // A bare 64-hex string is an image ID, never a repository name.
        if s.len() == 64 && is_lower_hex(s) {
            return Err(invalid(format!(
                "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
            )));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((rest, d)) => {
                let digest = Digest::parse(d).map_err(invalid)?;
                (rest, Some(digest))
            }
            None => (s, None),
        };
        // The tag is after the last ':' that follows the last '/': any
        // earlier ':' belongs to the domain's port.
        let slash = rest.rfind('/');
        let (name, tag) = match rest.rfind(':') {
            Some(c) if slash.is_none_or(|sl| c > sl) => (&rest[..c], Some(&rest[c + 1..])),
            _ => (rest, None),
        };
        if name.is_empty() {
            return Err(invalid("repository name must have at least one component"));
        }
        if let Some(t) = tag {
            validate_tag(t)?;
        }
        let (domain, path) = split_domain(name, default_domain);
        if path.to_lowercase() != path {
            return Err(invalid("repository name must be lowercase"));
        }
        validate_domain(&domain)?;
        validate_path(&path)?;
        if domain.len() + 1 + path.len() > NAME_TOTAL_MAX {
            return Err(invalid(format!(
                "repository name must not be more than {NAME_TOTAL_MAX} characters"
            )));
        }
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, None) => Some(DEFAULT_TAG.to_string()),
            (None, Some(_)) => None,
        };
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// Does the string name a registry? True when it has a first component
    /// (before a '/') that holds a '.' or ':', is `localhost`, or has an
    /// uppercase letter (repository paths cannot, so Docker reads it as a
    /// host) — exactly the cases in which [`Reference::parse`] takes it as
    /// the domain.
    pub fn has_domain(s: &str) -> bool {
        match s.split_once('/') {
            Some((first, _)) => {
                first == "localhost" || first.contains(['.', ':']) || first.to_lowercase() != first
            }
            None => false,
        }
    }

    /// `docker.io/library/busybox`
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// What to ask `/v2/<path>/manifests/<x>` for: the digest if any, else
    /// the tag.
    pub fn reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }

    /// The name as `docker images` shows it: `busybox`, `user/app`,
    /// `myreg:5000/a/b`.
    pub fn familiar_name(&self) -> String {
        if self.domain != DEFAULT_DOMAIN {
            return self.name();
        }
        // `library/x` shortens to `x`, but a nested `library/x/y` does not:
        // the short form would parse back as a different name.
        match self.path.strip_prefix(OFFICIAL_PREFIX) {
            Some(rest) if !rest.contains('/') => rest.to_string(),
            _ => self.path.clone(),
        }
    }

    /// The short form with tag and digest: `busybox:latest`,
    /// `myreg:5000/a/b:t`, `busybox@sha256:...`.
    pub fn familiar(&self) -> String {
        self.with_suffix(self.familiar_name())
    }

    /// The same repository with another tag (a digest, if any, is kept, as
    /// Docker's `WithTag` does). The tag must be valid ([`validate_tag`]).
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: Some(tag.to_string()),
            ..self.clone()
        }
    }

    /// The same repository pinned to a digest (a tag, if any, is kept).
    pub fn with_digest(&self, d: &Digest) -> Reference {
        Reference {
            digest: Some(d.clone()),
            ..self.clone()
        }
    }

    /// The same reference without its digest (`latest` if it had no tag).
    pub fn without_digest(&self) -> Reference {
        Reference {
            tag: Some(self.tag.clone().unwrap_or_else(|| DEFAULT_TAG.into())),
            digest: None,
            ..self.clone()
        }
    }

    /// The host serving the v2 API for this reference: Docker Hub's
    /// references say `docker.io` but its API lives elsewhere.
    pub fn api_host(&self) -> String {
        api_host(&self.domain)
    }

    fn with_suffix(&self, mut s: String) -> String {
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d.as_str());
        }
        s
    }
}

/// The API host for a reference domain (`docker.io` -> `registry-1.docker.io`).
pub fn api_host(domain: &str) -> String {
    if domain == DEFAULT_DOMAIN || domain == LEGACY_DEFAULT_DOMAIN {
        DOCKER_HUB_API_HOST.to_string()
    } else {
        domain.to_string()
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.with_suffix(self.name()))
    }
}

impl FromStr for Reference {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Reference> {
        Reference::parse(s)
    }
}

/// Stored as its full string form.
impl serde::Serialize for Reference {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Reference {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Reference, D::Error> {
        let s = String::deserialize(d)?;
        Reference::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Check a tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn validate_tag(tag: &str) -> Result<()> {
    if tag.len() > TAG_MAX {
        return Err(invalid(format!(
            "tag must not be more than {TAG_MAX} characters"
        )));
    }
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let ok = match tag.as_bytes().split_first() {
        Some((&first, rest)) => {
            word(first) && rest.iter().all(|&b| word(b) || b == b'.' || b == b'-')
        }
        None => false,
    };
    if !ok {
        return Err(invalid(format!(
            "invalid tag {tag:?}: only [A-Za-z0-9_.-] allowed, not starting with '.' or '-'"
        )));
    }
    Ok(())
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Split a name (no tag, no digest) into domain and path as
/// distribution's `splitDockerDomain` does.
fn split_domain(name: &str, default_domain: &str) -> (String, String) {
    let (mut domain, mut path) = match name.split_once('/') {
        Some((first, rest)) if Reference::has_domain(name) => (first.to_string(), rest.to_string()),
        _ => (default_domain.to_string(), name.to_string()),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !path.contains('/') {
        path = format!("{OFFICIAL_PREFIX}{path}");
    }
    (domain, path)
}

/// host [":" port], host a DNS name, an IPv4 address or a bracketed IPv6.
fn validate_domain(domain: &str) -> Result<()> {
    let bad = || invalid(format!("invalid registry host {domain:?}"));
    let port = if let Some(rest) = domain.strip_prefix('[') {
        let (ip, after) = rest.split_once(']').ok_or_else(bad)?;
        if ip.is_empty() || !ip.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return Err(bad());
        }
        match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(bad)?),
        }
    } else {
        let (host, port) = match domain.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (domain, None),
        };
        if !host.split('.').all(valid_domain_component) {
            return Err(bad());
        }
        port
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
    }
    Ok(())
}

/// `[a-zA-Z0-9]` or `[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`
fn valid_domain_component(c: &str) -> bool {
    let b = c.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => {
            f.is_ascii_alphanumeric()
                && l.is_ascii_alphanumeric()
                && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
        }
        _ => false,
    }
}

fn validate_path(path: &str) -> Result<()> {
    for c in path.split('/') {
        if c.is_empty() {
            return Err(invalid("repository name has an empty component"));
        }
        if !valid_path_component(c) {
            return Err(invalid(format!(
                "repository name component {c:?} must be [a-z0-9] runs joined by '.', '_', '__' or '-'"
            )));
        }
    }
    Ok(())
}

/// `[a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let b = c.as_bytes();
    if !b.first().is_some_and(|&x| alnum(x)) || !b.last().is_some_and(|&x| alnum(x)) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
#[path = "reference_tests.rs"]
mod tests;
