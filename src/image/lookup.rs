//! Finding a local image from what a user typed: a name (with the search
//! list for short names), a name@digest, a full or short image ID.

use crate::config::Config;
use crate::error::{kind_err, ErrorKind};
use crate::registry::reference::Reference;
use crate::store::{ImageRecord, Store};
use anyhow::Result;

/// The full references a user string may mean, most likely first.
pub fn candidates(cfg: &Config, s: &str) -> Vec<Reference> {
    let mut out = Vec::new();
    if Reference::has_domain(s) {
        if let Ok(r) = Reference::parse(s) {
            out.push(r);
        }
        return out;
    }
    // A short name means each search registry in turn (docker.io alone
    // by default, as Docker has it).
    for domain in &cfg.search_registries {
        if let Ok(r) = Reference::parse_with_domain(s, domain) {
            if !out
                .iter()
                .any(|o: &Reference| o.to_string() == r.to_string())
            {
                out.push(r);
            }
        }
    }
    out
}

/// The repository part of a stored name: `host/a/b:tag` -> `host/a/b`,
/// `host/a@sha256:..` -> `host/a`.
pub fn repo_of(name: &str) -> &str {
    let n = name.split_once('@').map(|(a, _)| a).unwrap_or(name);
    match n.rsplit_once(':') {
        Some((a, t)) if !t.contains('/') => a,
        _ => n,
    }
}

/// The references a user string may mean for images already in the
/// store: the search list's, and Docker's own normalization (docker.io)
/// whatever the search list says.
pub fn local_candidates(cfg: &Config, s: &str) -> Vec<Reference> {
    let mut refs = candidates(cfg, s);
    if let Ok(r) = Reference::parse(s) {
        if !refs.iter().any(|o| o.to_string() == r.to_string()) {
            refs.push(r);
        }
    }
    refs
}

/// Does the record carry this reference (as a tag, or as a repo digest)?
fn has_reference(img: &ImageRecord, r: &Reference) -> bool {
    match (&r.tag, &r.digest) {
        (_, Some(d)) => {
            let want = format!("{}@{}", r.name(), d);
            img.repo_digests.contains(&want)
                || (img.manifest_digest == *d
                    && img
                        .names
                        .iter()
                        .chain(&img.repo_digests)
                        .any(|n| repo_of(n) == r.name()))
        }
        (Some(t), None) => img
            .names
            .iter()
            .any(|n| *n == format!("{}:{}", r.name(), t)),
        (None, None) => false,
    }
}

/// Is `s` a plausible image ID or ID prefix?
fn id_prefix(s: &str) -> Option<&str> {
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    (!hex.is_empty()
        && hex.len() <= 64
        && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
    .then_some(hex)
}

/// The image a user string names, or a NotFound error "No such image: X".
pub fn find<'a>(images: &'a [ImageRecord], cfg: &Config, s: &str) -> Result<&'a ImageRecord> {
    for r in local_candidates(cfg, s) {
        if let Some(img) = images.iter().find(|i| has_reference(i, &r)) {
            return Ok(img);
        }
    }
    if let Some(hex) = id_prefix(s) {
        let hits: Vec<&ImageRecord> = images
            .iter()
            .filter(|i| i.id.hex().starts_with(hex))
            .collect();
        match hits.len() {
            1 => return Ok(hits[0]),
            n if n > 1 => {
                return Err(kind_err(
                    ErrorKind::InvalidArgument,
                    format!("{s}: image ID prefix is ambiguous ({n} images match)"),
                ))
            }
            _ => {}
        }
    }
    Err(kind_err(ErrorKind::NotFound, format!("No such image: {s}")))
}

/// Load the images and find one.
pub fn find_in_store(store: &Store, cfg: &Config, s: &str) -> Result<ImageRecord> {
    let images = store.images()?;
    find(&images, cfg, s).cloned()
}

/// The tag-bearing name a user string resolves to for `tag`/`push`
/// (`busybox` -> `docker.io/library/busybox:latest`).
pub fn normalize_name(s: &str) -> Result<Reference> {
    let r = Reference::parse(s)?;
    Ok(r)
}

/// `docker images` shows a repository without `docker.io/library/`.
pub fn familiar_repo(repo: &str) -> String {
    let r = repo.strip_prefix("docker.io/").unwrap_or(repo);
    r.strip_prefix("library/")
        .filter(|s| !s.contains('/'))
        .unwrap_or(r)
        .to_string()
}

/// `docker.io/library/busybox:latest` -> `busybox:latest`, as RepoTags shows.
pub fn familiar_name(full: &str) -> String {
    let repo = repo_of(full);
    format!("{}{}", familiar_repo(repo), &full[repo.len()..])
}
