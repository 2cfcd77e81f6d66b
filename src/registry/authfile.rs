//! Registry credentials in the `auth.json` format Docker and Podman share:
//! `{"auths": {"<host>": {"auth": base64("user:pass")}}}`. Docker Hub's
//! key is `https://index.docker.io/v1/`, a relic of the v1 API; keys may
//! carry a scheme and a path, which are ignored when matching.
//!
//! Credential helpers (`credsStore`, `credHelpers`) are not run.

use super::auth::{Credentials, IDENTITY_TOKEN_USER};
use super::reference::{DEFAULT_DOMAIN, DOCKER_HUB_API_HOST, LEGACY_DEFAULT_DOMAIN};
use crate::util::fs::{atomic_write_mode, mkdir_all};
use anyhow::{bail, Context, Result};
use base64::Engine;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// The key Docker writes for Docker Hub.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

fn env(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn home() -> PathBuf {
    env("HOME").unwrap_or_else(|| {
        nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map(|u| u.dir)
            .unwrap_or_else(|| PathBuf::from("/"))
    })
}

/// Where credentials are looked up, in order: `$REGISTRY_AUTH_FILE`,
/// `$XDG_RUNTIME_DIR/containers/auth.json`, `$DOCKER_CONFIG/config.json`,
/// `~/.docker/config.json`.
pub fn read_paths() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = env("REGISTRY_AUTH_FILE") {
        out.push(p);
    }
    if let Some(d) = env("XDG_RUNTIME_DIR") {
        out.push(d.join("containers/auth.json"));
    }
    if let Some(d) = env("DOCKER_CONFIG") {
        out.push(d.join("config.json"));
    }
    out.push(home().join(".docker/config.json"));
    out
}

/// Where `login` writes: `$REGISTRY_AUTH_FILE`, else
/// `$DOCKER_CONFIG/config.json`, else `$XDG_RUNTIME_DIR/containers/auth.json`
/// when `XDG_RUNTIME_DIR` is set, else `~/.docker/config.json`.
pub fn write_path() -> PathBuf {
    if let Some(p) = env("REGISTRY_AUTH_FILE") {
        return p;
    }
    if let Some(d) = env("DOCKER_CONFIG") {
        return d.join("config.json");
    }
    if let Some(d) = env("XDG_RUNTIME_DIR") {
        return d.join("containers/auth.json");
    }
    home().join(".docker/config.json")
}

/// The credentials for a registry host (a reference domain or an API
/// host: `docker.io` and `registry-1.docker.io` find the same entry).
pub fn lookup(host: &str) -> Result<Option<Credentials>> {
    lookup_in(&read_paths(), host)
}

/// Save credentials for a host; returns the file written.
pub fn store(host: &str, creds: &Credentials) -> Result<PathBuf> {
    let path = write_path();
    store_at(&path, host, creds)?;
    Ok(path)
}

/// Forget a host's credentials; false when there were none.
pub fn remove(host: &str) -> Result<bool> {
    remove_at(&write_path(), host)
}

/// `https://index.docker.io/v1/` -> `docker.io`, `http://h:5000/x` ->
/// `h:5000`; every Docker Hub alias becomes `docker.io`.
pub fn normalize_key(key: &str) -> String {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let k = k.split('/').next().unwrap_or(k);
    match k {
        LEGACY_DEFAULT_DOMAIN | DOCKER_HUB_API_HOST => DEFAULT_DOMAIN.to_string(),
        _ => k.to_string(),
    }
}

fn key_for(host: &str) -> String {
    match normalize_key(host).as_str() {
        DEFAULT_DOMAIN => DOCKER_HUB_KEY.to_string(),
        h => h.to_string(),
    }
}

/// Read a file's JSON; None when it does not exist.
fn read_json(path: &Path) -> Result<Option<Map<String, Value>>> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
    };
    if data.iter().all(u8::is_ascii_whitespace) {
        return Ok(Some(Map::new()));
    }
    match serde_json::from_slice(&data) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        Ok(_) => bail!("parse {}: not a JSON object", path.display()),
        Err(e) => bail!("parse {}: {e}", path.display()),
    }
}

pub(crate) fn lookup_in(paths: &[PathBuf], host: &str) -> Result<Option<Credentials>> {
    let want = normalize_key(host);
    for path in paths {
        let Some(doc) = read_json(path)? else {
            continue;
        };
        let Some(auths) = doc.get("auths").and_then(Value::as_object) else {
            continue;
        };
        for (key, entry) in auths {
            if normalize_key(key) != want {
                continue;
            }
            if let Some(c) = decode_entry(entry)
                .with_context(|| format!("read credentials for {key} in {}", path.display()))?
            {
                return Ok(Some(c));
            }
        }
    }
    Ok(None)
}

fn decode_entry(entry: &Value) -> Result<Option<Credentials>> {
    if let Some(tok) = entry.get("identitytoken").and_then(Value::as_str) {
        if !tok.is_empty() {
            return Ok(Some(Credentials {
                username: IDENTITY_TOKEN_USER.into(),
                password: tok.into(),
            }));
        }
    }
    if let Some(auth) = entry.get("auth").and_then(Value::as_str) {
        if auth.is_empty() {
            return Ok(None);
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .context("\"auth\" is not base64")?;
        let raw = String::from_utf8(raw).context("\"auth\" is not UTF-8")?;
        let Some((user, pass)) = raw.split_once(':') else {
            bail!("\"auth\" is not user:password");
        };
        return Ok(Some(Credentials {
            username: user.into(),
            password: pass.into(),
        }));
    }
    // Some tools write the two fields separately.
    match (
        entry.get("username").and_then(Value::as_str),
        entry.get("password").and_then(Value::as_str),
    ) {
        (Some(u), Some(p)) if !u.is_empty() => Ok(Some(Credentials {
            username: u.into(),
            password: p.into(),
        })),
        _ => Ok(None),
    }
}

pub(crate) fn store_at(path: &Path, host: &str, creds: &Credentials) -> Result<()> {
    let mut doc = read_json(path)?.unwrap_or_default();
    let auths = doc
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(auths) = auths.as_object_mut() else {
        bail!("parse {}: \"auths\" is not an object", path.display());
    };
    // One entry per host: drop aliases spelled differently.
    let want = normalize_key(host);
    auths.retain(|k, _| normalize_key(k) != want);
    let entry = if creds.username == IDENTITY_TOKEN_USER {
        serde_json::json!({ "identitytoken": creds.password })
    } else {
        let raw = format!("{}:{}", creds.username, creds.password);
        serde_json::json!({ "auth": base64::engine::general_purpose::STANDARD.encode(raw) })
    };
    auths.insert(key_for(host), entry);
    write(path, &doc)
}

pub(crate) fn remove_at(path: &Path, host: &str) -> Result<bool> {
    let Some(mut doc) = read_json(path)? else {
        return Ok(false);
    };
    let Some(auths) = doc.get_mut("auths").and_then(Value::as_object_mut) else {
        return Ok(false);
    };
    let want = normalize_key(host);
    let before = auths.len();
    auths.retain(|k, _| normalize_key(k) != want);
    if auths.len() == before {
        return Ok(false);
    }
    write(path, &doc)?;
    Ok(true)
}

fn write(path: &Path, doc: &Map<String, Value>) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        mkdir_all(dir, 0o700)?;
    }
    let mut data = serde_json::to_vec_pretty(doc).context("encode credentials")?;
    data.push(b'\n');
    atomic_write_mode(path, &data, 0o600)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn creds(u: &str, p: &str) -> Credentials {
        Credentials {
            username: u.into(),
            password: p.into(),
        }
    }

    #[test]
    fn keys() {
        assert_eq!(normalize_key("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(normalize_key("registry-1.docker.io"), "docker.io");
        assert_eq!(normalize_key("index.docker.io"), "docker.io");
        assert_eq!(normalize_key("http://h:5000/v2/"), "h:5000");
        assert_eq!(normalize_key("quay.io/org"), "quay.io");
        assert_eq!(key_for("registry-1.docker.io"), DOCKER_HUB_KEY);
        assert_eq!(key_for("h:5000"), "h:5000");
    }

    #[test]
    fn store_lookup_remove() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("sub/dir/auth.json");
        std::fs::create_dir_all(d.path().join("sub")).unwrap();
        std::fs::write(
            d.path().join("other.json"),
            r#"{"auths": {"h:1": {"auth": ""}}}"#,
        )
        .unwrap();

        store_at(&path, "docker.io", &creds("u", "p:w")).unwrap();
        store_at(&path, "h:5000", &creds("a", "b")).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dmode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dmode & 0o777, 0o700);

        let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(doc["auths"][DOCKER_HUB_KEY]["auth"], "dTpwOnc=");

        let paths = vec![
            d.path().join("missing.json"),
            d.path().join("other.json"),
            path.clone(),
        ];
        for host in ["registry-1.docker.io", "docker.io", "index.docker.io"] {
            assert_eq!(lookup_in(&paths, host).unwrap(), Some(creds("u", "p:w")));
        }
        assert_eq!(lookup_in(&paths, "h:5000").unwrap(), Some(creds("a", "b")));
        assert_eq!(lookup_in(&paths, "h:1").unwrap(), None);
        assert_eq!(lookup_in(&paths, "nowhere").unwrap(), None);

        // Replacing keeps one entry per host and the file's other keys.
        let mut doc: Map<String, Value> =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        doc.insert("credHelpers".into(), serde_json::json!({"x": "y"}));
        doc["auths"].as_object_mut().unwrap().insert(
            "registry-1.docker.io".into(),
            serde_json::json!({"auth": "eDp5"}),
        );
        std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
        store_at(&path, "docker.io", &creds("v", "q")).unwrap();
        let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(doc["credHelpers"]["x"], "y");
        assert_eq!(doc["auths"].as_object().unwrap().len(), 2);
        assert_eq!(
            lookup_in(&paths, "docker.io").unwrap(),
            Some(creds("v", "q"))
        );

        assert!(remove_at(&path, "registry-1.docker.io").unwrap());
        assert!(!remove_at(&path, "docker.io").unwrap());
        assert_eq!(lookup_in(&paths, "docker.io").unwrap(), None);
        assert!(!remove_at(&d.path().join("none.json"), "x").unwrap());
    }

    #[test]
    fn entry_forms() {
        let t = serde_json::json!({"auth": "", "identitytoken": "tok"});
        assert_eq!(
            decode_entry(&t).unwrap(),
            Some(creds(IDENTITY_TOKEN_USER, "tok"))
        );
        let t = serde_json::json!({"username": "u", "password": "p"});
        assert_eq!(decode_entry(&t).unwrap(), Some(creds("u", "p")));
        assert!(decode_entry(&serde_json::json!({"auth": "!!"})).is_err());
        assert!(decode_entry(&serde_json::json!({"auth": "bm9jb2xvbg=="})).is_err());

        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.json");
        store_at(&p, "h", &creds(IDENTITY_TOKEN_USER, "tok")).unwrap();
        assert_eq!(
            lookup_in(std::slice::from_ref(&p), "h").unwrap(),
            Some(creds(IDENTITY_TOKEN_USER, "tok"))
        );
        std::fs::write(&p, "[1]").unwrap();
        assert!(lookup_in(&[p], "h")
            .unwrap_err()
            .to_string()
            .contains("not a JSON object"));
    }
}
