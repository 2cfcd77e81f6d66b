//! `-e/--env`, `--env-file`, `--label` and `--label-file`, and merging an
//! environment the way Docker's `ReplaceOrAppendEnvValues` does.

use super::bad;
use anyhow::Result;
use std::collections::BTreeMap;

/// One `-e` entry: `K=V` sets; a bare `K` whose value skiff's own
/// environment lacks unsets `K` (Docker's daemon removes it from the
/// image's environment too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvVar {
    Set(String, String),
    Unset(String),
}

impl EnvVar {
    pub fn key(&self) -> &str {
        match self {
            EnvVar::Set(k, _) | EnvVar::Unset(k) => k,
        }
    }
}

/// `-e K=V` or `-e K` (the value taken from `lookup`, skiff's environment).
pub fn parse_env(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<EnvVar> {
    let (key, value) = match s.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (s, None),
    };
    if key.is_empty() {
        return Err(bad(format!("invalid environment variable: {s}")));
    }
    Ok(match value {
        Some(v) => EnvVar::Set(key.into(), v.into()),
        None => match lookup(key) {
            Some(v) => EnvVar::Set(key.into(), v),
            None => EnvVar::Unset(key.into()),
        },
    })
}

/// Docker's env-file format: one `K=V` per line, the value taken verbatim
/// (no quotes, no trimming); blank lines and lines starting with `#` are
/// skipped; a bare `K` takes its value from `lookup` and is dropped when
/// absent. `name` is the file's path, for errors.
pub fn parse_env_file(
    name: &str,
    contents: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<EnvVar>> {
    let mut out = Vec::new();
    for (key, value) in key_value_lines(name, contents)? {
        match value {
            Some(v) => out.push(EnvVar::Set(key, v)),
            None => {
                if let Some(v) = lookup(&key) {
                    out.push(EnvVar::Set(key, v));
                }
            }
        }
    }
    Ok(out)
}

/// The lines of an env or label file as (key, value-if-any).
fn key_value_lines(name: &str, contents: &str) -> Result<Vec<(String, Option<String>)>> {
    let contents = contents.strip_prefix('\u{feff}').unwrap_or(contents);
    let mut out = Vec::new();
    for line in contents.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (line.trim_end(), None),
        };
        if key.is_empty() {
            return Err(bad(format!("no variable name on line '{line}' in {name}")));
        }
        if key.contains(char::is_whitespace) {
            return Err(bad(format!(
                "poorly formatted environment: variable '{key}' contains whitespaces"
            )));
        }
        out.push((key.to_string(), value.map(str::to_string)));
    }
    Ok(out)
}

/// Merge `overrides` into `base` (both `K=V` lists), as Docker's
/// `ReplaceOrAppendEnvValues`: a key already present is replaced in place,
/// a new one appended, an [`EnvVar::Unset`] removes it.
pub fn merge_env(base: &[String], overrides: &[EnvVar]) -> Vec<String> {
    let mut out: Vec<Option<String>> = base.iter().cloned().map(Some).collect();
    let key_of = |e: &str| e.split_once('=').map_or(e, |(k, _)| k).to_string();
    for var in overrides {
        let pos = out
            .iter()
            .position(|e| e.as_deref().is_some_and(|e| key_of(e) == var.key()));
        match (var, pos) {
            (EnvVar::Set(k, v), Some(i)) => out[i] = Some(format!("{k}={v}")),
            (EnvVar::Set(k, v), None) => out.push(Some(format!("{k}={v}"))),
            (EnvVar::Unset(_), Some(i)) => out[i] = None,
            (EnvVar::Unset(_), None) => {}
        }
    }
    out.into_iter().flatten().collect()
}

/// Whether a `K=V` list sets `key`.
pub fn env_has(env: &[String], key: &str) -> bool {
    env.iter()
        .any(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key)
}

/// `--label K=V` or `--label K` (an empty value), Docker's `ValidateLabel`.
pub fn parse_label(s: &str) -> Result<(String, String)> {
    let (key, value) = s.split_once('=').unwrap_or((s, ""));
    if key.trim().is_empty() {
        return Err(bad(format!("invalid label '{s}': empty name")));
    }
    if key.contains(char::is_whitespace) {
        return Err(bad(format!("label '{key}' contains whitespaces")));
    }
    Ok((key.to_string(), value.to_string()))
}

/// A `--label-file`: the env-file format, a bare `K` meaning an empty value.
pub fn parse_label_file(name: &str, contents: &str) -> Result<BTreeMap<String, String>> {
    Ok(key_value_lines(name, contents)?
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_env(k: &str) -> Option<String> {
        (k == "FROM_HOST").then(|| "hv".to_string())
    }

    #[test]
    fn env_flag_forms() {
        assert_eq!(
            parse_env("A=1=2", &host_env).unwrap(),
            EnvVar::Set("A".into(), "1=2".into())
        );
        assert_eq!(
            parse_env("A=", &host_env).unwrap(),
            EnvVar::Set("A".into(), "".into())
        );
        assert_eq!(
            parse_env("FROM_HOST", &host_env).unwrap(),
            EnvVar::Set("FROM_HOST".into(), "hv".into())
        );
        assert_eq!(
            parse_env("MISSING", &host_env).unwrap(),
            EnvVar::Unset("MISSING".into())
        );
        assert_eq!(
            parse_env("=x", &host_env).unwrap_err().to_string(),
            "invalid environment variable: =x"
        );
    }

    #[test]
    fn env_file_lines() {
        let file = "\u{feff}# comment\n\n  A=1\nB= spaced value \nFROM_HOST\nMISSING\nC=x=y\n";
        let vars = parse_env_file("f.env", file, &host_env).unwrap();
        assert_eq!(
            vars,
            vec![
                EnvVar::Set("A".into(), "1".into()),
                EnvVar::Set("B".into(), " spaced value ".into()),
                EnvVar::Set("FROM_HOST".into(), "hv".into()),
                EnvVar::Set("C".into(), "x=y".into()),
            ]
        );
        let e = parse_env_file("f.env", "BAD KEY=1\n", &host_env).unwrap_err();
        assert_eq!(
            e.to_string(),
            "poorly formatted environment: variable 'BAD KEY' contains whitespaces"
        );
        assert!(parse_env_file("f.env", "=1\n", &host_env).is_err());
    }

    #[test]
    fn merge_replaces_in_place_and_unsets() {
        let base = vec!["PATH=/bin".to_string(), "A=1".into(), "B=2".into()];
        let merged = merge_env(
            &base,
            &[
                EnvVar::Set("A".into(), "x".into()),
                EnvVar::Unset("B".into()),
                EnvVar::Set("C".into(), "3".into()),
                EnvVar::Unset("NOPE".into()),
            ],
        );
        assert_eq!(merged, vec!["PATH=/bin", "A=x", "C=3"]);
        assert!(env_has(&merged, "C"));
        assert!(!env_has(&merged, "B"));
    }

    #[test]
    fn labels() {
        assert_eq!(parse_label("a=b").unwrap(), ("a".into(), "b".into()));
        assert_eq!(parse_label("a").unwrap(), ("a".into(), "".into()));
        assert_eq!(
            parse_label("=b").unwrap_err().to_string(),
            "invalid label '=b': empty name"
        );
        let m = parse_label_file("l", "# c\nx=1\ny\n").unwrap();
        assert_eq!(m["x"], "1");
        assert_eq!(m["y"], "");
    }
}
