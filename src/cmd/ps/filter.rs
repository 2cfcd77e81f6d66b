//! `ps --filter`: Docker's keys and matching rules. The same key given
//! twice matches either value; different keys must all match.

use crate::error::{kind_err, ErrorKind};
use anyhow::Result;
use std::collections::BTreeMap;

/// The keys `ps --filter` takes (Docker's, less `network`, `is-task`
/// and `isolation`).
const KEYS: [&str; 12] = [
    "id", "name", "label", "status", "ancestor", "exited", "before", "since", "volume", "health",
    "publish", "expose",
];

/// The values `health=` takes.
const HEALTH: [&str; 4] = ["starting", "healthy", "unhealthy", "none"];

/// Docker's container states, the values `status=` takes.
const STATES: [&str; 7] = [
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

/// The `--filter` flags, by key.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Filters {
    by_key: BTreeMap<String, Vec<String>>,
}

fn invalid(what: &str) -> anyhow::Error {
    kind_err(
        ErrorKind::InvalidArgument,
        format!("invalid filter '{what}'"),
    )
}

impl Filters {
    /// Parse `key=value` flags, refusing unknown keys and bad values.
    pub fn parse(flags: &[String]) -> Result<Filters> {
        let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in flags {
            let Some((k, v)) = f.split_once('=') else {
                return Err(kind_err(
                    ErrorKind::InvalidArgument,
                    format!("bad format of filter (expected name=value): {f}"),
                ));
            };
            let k = k.trim().to_lowercase();
            if !KEYS.contains(&k.as_str()) {
                return Err(invalid(&k));
            }
            match k.as_str() {
                "status" if !STATES.contains(&v) => return Err(invalid(f)),
                "exited" if v.parse::<i32>().is_err() => return Err(invalid(f)),
                "publish" | "expose" if port_set(v).is_none() => return Err(invalid(f)),
                "health" if !HEALTH.contains(&v) => {
                    return Err(kind_err(
                        ErrorKind::InvalidArgument,
                        format!("Unrecognised filter value for health: {v}"),
                    ))
                }
                _ => {}
            }
            by_key.entry(k).or_default().push(v.to_string());
        }
        Ok(Filters { by_key })
    }

    /// The values given for `key` (empty when the key was not).
    pub fn get(&self, key: &str) -> &[String] {
        self.by_key.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn has(&self, key: &str) -> bool {
        self.by_key.contains_key(key)
    }

    /// Does the key, if given, have a value that `pred` accepts?
    pub fn any(&self, key: &str, pred: impl Fn(&str) -> bool) -> bool {
        !self.has(key) || self.get(key).iter().any(|v| pred(v))
    }
}

/// What one container offers to the filters.
pub struct Subject<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub status: &'a str,
    pub exit_code: Option<i32>,
    pub labels: &'a BTreeMap<String, String>,
    /// Whether the container ever ran (exited= ignores those that never did).
    pub started: bool,
    /// Volume names and mount destinations, for `volume=`.
    pub volumes: &'a [String],
    /// The health check's status, `none` without one.
    pub health: &'a str,
    /// (private port, public port or 0, protocol) while it runs.
    pub ports: &'a [(u16, u16, String)],
}

/// `80`, `80/udp`, `8000-8080/tcp`: the ports and their protocol.
fn port_set(v: &str) -> Option<(u16, u16, String)> {
    let (ports, proto) = v.split_once('/').unwrap_or((v, "tcp"));
    let (a, b) = ports.split_once('-').unwrap_or((ports, ports));
    let (a, b): (u16, u16) = (a.parse().ok()?, b.parse().ok()?);
    (a <= b && ["tcp", "udp", "sctp"].contains(&proto)).then(|| (a, b, proto.to_string()))
}

impl Filters {
    /// Does a container pass the filters that need no look-up (all but
    /// ancestor, before and since, which the caller resolves)?
    pub fn matches(&self, s: &Subject) -> bool {
        let slash_name = format!("/{}", s.name);
        self.any("id", |v| regex_match(v, s.id))
            && self.any("name", |v| {
                regex_match(v, s.name) || regex_match(v, &slash_name)
            })
            && self.any("label", |v| match v.split_once('=') {
                Some((k, val)) => s.labels.get(k).is_some_and(|x| x == val),
                None => s.labels.contains_key(v),
            })
            && self.any("status", |v| v == s.status)
            && self.any("exited", |v| {
                s.status == "exited" && s.started && v.parse().ok() == s.exit_code
            })
            && self.any("volume", |v| s.volumes.iter().any(|x| x == v))
            && self.any("health", |v| v == s.health)
            && self.ports_match(s)
    }

    /// Docker's rule: with `publish=` or `expose=` given, a container
    /// passes when one of its ports is published or exposed as asked.
    fn ports_match(&self, s: &Subject) -> bool {
        if !self.has("publish") && !self.has("expose") {
            return true;
        }
        let hit = |key: &str, pick: fn(&(u16, u16, String)) -> u16| {
            self.get(key)
                .iter()
                .filter_map(|v| port_set(v))
                .any(|(a, b, proto)| {
                    s.ports
                        .iter()
                        .any(|p| p.2 == proto && (a..=b).contains(&pick(p)) && pick(p) != 0)
                })
        };
        hit("publish", |p| p.1) || hit("expose", |p| p.0)
    }
}

/// Docker matches `id=` and `name=` as an unanchored regular expression
/// (so `name=web` finds `myweb1`). This covers the part people use:
/// literals, `.`, `*`, `^` and `$`.
pub fn regex_match(re: &str, text: &str) -> bool {
    if re == text {
        return true;
    }
    let re: Vec<char> = re.chars().collect();
    let text: Vec<char> = text.chars().collect();
    if let Some(rest) = re.strip_prefix(&['^']) {
        return match_here(rest, &text);
    }
    (0..=text.len()).any(|i| match_here(&re, &text[i..]))
}

fn match_here(re: &[char], text: &[char]) -> bool {
    match re {
        [] => true,
        [c, '*', rest @ ..] => {
            let mut i = 0;
            loop {
                if match_here(rest, &text[i..]) {
                    return true;
                }
                if i < text.len() && (*c == '.' || text[i] == *c) {
                    i += 1;
                } else {
                    return false;
                }
            }
        }
        ['$'] => text.is_empty(),
        [c, rest @ ..] => {
            !text.is_empty() && (*c == '.' || *c == text[0]) && match_here(rest, &text[1..])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(flags: &[&str]) -> Filters {
        Filters::parse(&flags.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn err(flags: &[&str]) -> String {
        let e =
            Filters::parse(&flags.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap_err();
        assert_eq!(crate::error::kind_of(&e), Some(ErrorKind::InvalidArgument));
        e.to_string()
    }

    #[test]
    fn regexes_like_docker() {
        assert!(regex_match("web", "myweb1"));
        assert!(regex_match("^web", "web1"));
        assert!(!regex_match("^web", "myweb"));
        assert!(regex_match("^web$", "web"));
        assert!(!regex_match("^web$", "web1"));
        assert!(regex_match("w.b", "awxb"));
        assert!(regex_match("^a.*z$", "abcz"));
        assert!(!regex_match("^a.*z$", "abcza"));
    }

    #[test]
    fn bad_filters_are_refused() {
        assert_eq!(err(&["color=red"]), "invalid filter 'color'");
        assert_eq!(
            err(&["status=sleeping"]),
            "invalid filter 'status=sleeping'"
        );
        assert_eq!(err(&["exited=x"]), "invalid filter 'exited=x'");
        assert!(err(&["status"]).contains("expected name=value"));
    }

    #[test]
    fn same_key_or_different_keys_and() {
        let labels: BTreeMap<String, String> = [("app".to_string(), "web".to_string())]
            .into_iter()
            .collect();
        let s = Subject {
            id: "abcdef0123",
            name: "web1",
            status: "exited",
            exit_code: Some(3),
            labels: &labels,
            started: true,
            volumes: &[],
            health: "none",
            ports: &[(80, 8080, "tcp".into()), (53, 0, "udp".into())],
        };
        assert!(f(&["publish=8080"]).matches(&s));
        assert!(f(&["publish=8000-8100/tcp"]).matches(&s));
        assert!(!f(&["publish=80"]).matches(&s));
        assert!(f(&["expose=80"]).matches(&s));
        assert!(f(&["expose=53/udp"]).matches(&s));
        assert!(!f(&["expose=53"]).matches(&s));
        assert!(!f(&["publish=53/udp"]).matches(&s));
        assert!(f(&["publish=1", "expose=53/udp"]).matches(&s));
        assert!(Filters::parse(&["publish=x".to_string()]).is_err());
        assert!(f(&[]).matches(&s));
        assert!(f(&["health=none"]).matches(&s));
        assert!(!f(&["health=healthy"]).matches(&s));
        assert!(Filters::parse(&["health=sick".to_string()]).is_err());
        assert!(f(&["status=running", "status=exited"]).matches(&s));
        assert!(!f(&["status=running", "name=web"]).matches(&s));
        assert!(f(&["status=exited", "name=^/web1$"]).matches(&s));
        assert!(f(&["label=app", "label=app=web"]).matches(&s));
        assert!(!f(&["label=app=db"]).matches(&s));
        assert!(f(&["exited=3"]).matches(&s));
        assert!(!f(&["exited=0"]).matches(&s));
        assert!(f(&["id=abcd"]).matches(&s));
        assert!(!f(&["id=^bcd"]).matches(&s));
    }
}
