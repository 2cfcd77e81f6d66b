//! Docker's small value parsers: sizes (`64m`), signals (`SIGTERM`, `TERM`,
//! `15`), container names, `--pull`, booleans the way Go reads them.

use super::bad;
use anyhow::Result;

/// Docker's `RAMInBytes` (go-units): a number, an optional space, then an
/// optional binary unit `b`, `k`, `m`, `g`, `t`, `p` (any case, with an
/// optional `b` or `ib`): `64m`, `1.5g`, `512`, `10 KiB`.
pub fn parse_size(s: &str) -> Result<u64> {
    let invalid = || bad(format!("invalid size: '{s}'"));
    let split = s
        .rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')
        .ok_or_else(invalid)?;
    let (num, suffix) = if s.as_bytes()[split] == b' ' {
        (&s[..split], &s[split + 1..])
    } else {
        (&s[..=split], &s[split + 1..])
    };
    // Go's ParseFloat rejects these too; Rust's would take "inf" or "1e3"
    // only through letters, which the split above has already cut off.
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(invalid());
    }
    let value: f64 = num.parse().map_err(|_| invalid())?;
    let suffix = suffix.to_ascii_lowercase();
    let bad_suffix = || bad(format!("invalid suffix: '{suffix}'"));
    if suffix.is_empty() || suffix == "b" {
        return Ok(value as u64);
    }
    if suffix.len() > 3 {
        return Err(bad_suffix());
    }
    let mult: u64 = match suffix.as_bytes()[0] {
        b'k' => 1 << 10,
        b'm' => 1 << 20,
        b'g' => 1 << 30,
        b't' => 1 << 40,
        b'p' => 1 << 50,
        _ => return Err(bad_suffix()),
    };
    match &suffix[1..] {
        "" | "b" | "ib" => Ok((value * mult as f64) as u64),
        _ => Err(bad_suffix()),
    }
}

/// Linux signal numbers as x86-64 and arm64 share them (asm-generic).
const SIGNALS: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
];
const SIGRTMIN: i32 = 34;
const SIGRTMAX: i32 = 64;

/// Docker's `ParseSignal`: `SIGTERM`, `term`, `15`, `RTMIN+3`, `SIGRTMAX-1`.
/// Returns the signal number.
pub fn parse_signal(s: &str) -> Result<i32> {
    let invalid = || bad(format!("invalid signal: {s}"));
    if let Ok(n) = s.parse::<i32>() {
        return if (1..=SIGRTMAX).contains(&n) {
            Ok(n)
        } else {
            Err(invalid())
        };
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(&(_, n)) = SIGNALS.iter().find(|(k, _)| *k == name) {
        return Ok(n);
    }
    let rt = |base: i32, rest: &str, sign: i32| -> Option<i32> {
        let off: i32 = if rest.is_empty() {
            0
        } else {
            rest.parse().ok()?
        };
        let n = base + sign * off;
        (SIGRTMIN..=SIGRTMAX).contains(&n).then_some(n)
    };
    let found = if name == "RTMIN" {
        Some(SIGRTMIN)
    } else if name == "RTMAX" {
        Some(SIGRTMAX)
    } else if let Some(rest) = name.strip_prefix("RTMIN+") {
        rt(SIGRTMIN, rest, 1)
    } else if let Some(rest) = name.strip_prefix("RTMAX-") {
        rt(SIGRTMAX, rest, -1)
    } else {
        None
    };
    found.ok_or_else(invalid)
}

/// The canonical name of a signal number (`SIGTERM`, `SIGRTMIN+2`), for
/// showing a stop signal back to the user.
pub fn signal_name(n: i32) -> Option<String> {
    if let Some((name, _)) = SIGNALS.iter().find(|(_, v)| *v == n) {
        return Some(format!("SIG{name}"));
    }
    match n {
        SIGRTMIN => Some("SIGRTMIN".into()),
        SIGRTMAX => Some("SIGRTMAX".into()),
        n if n > SIGRTMIN && n < SIGRTMAX => Some(format!("SIGRTMIN+{}", n - SIGRTMIN)),
        _ => None,
    }
}

/// Docker's container name rule, `[a-zA-Z0-9][a-zA-Z0-9_.-]+`; a leading
/// `/` (how the API shows names) is dropped first.
pub fn parse_container_name(s: &str) -> Result<String> {
    let name = s.strip_prefix('/').unwrap_or(s);
    if !is_valid_name(name) {
        return Err(bad(format!(
            "invalid container name ({s}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )));
    }
    Ok(name.to_string())
}

/// `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, the rule Docker applies to container and
/// local volume names alike.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphanumeric() => {}
        _ => return false,
    }
    let rest = chars.as_str();
    !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// `--pull`: when to pull the image before running it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullPolicy {
    Always,
    #[default]
    Missing,
    Never,
}

impl PullPolicy {
    pub fn parse(s: &str) -> Result<PullPolicy> {
        match s {
            "always" => Ok(PullPolicy::Always),
            "missing" => Ok(PullPolicy::Missing),
            "never" => Ok(PullPolicy::Never),
            _ => Err(bad(format!(
                "invalid pull option: '{s}': must be one of \"always\", \"missing\" or \"never\""
            ))),
        }
    }
}

/// Go's `strconv.ParseBool`, which Docker uses for `ro=`, `volume-nocopy=`
/// and `no-new-privileges:`.
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Clean an absolute path the way Go's `path.Clean` does (no file system
/// access): collapse `//`, drop `.`, resolve `..` lexically, no trailing `/`.
pub fn clean_path(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (abs, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{kind_of, ErrorKind};

    #[test]
    fn sizes_follow_go_units() {
        assert_eq!(parse_size("64m").unwrap(), 64 << 20);
        assert_eq!(parse_size("64M").unwrap(), 64 << 20);
        assert_eq!(parse_size("1g").unwrap(), 1 << 30);
        assert_eq!(parse_size("1.5k").unwrap(), 1536);
        assert_eq!(parse_size("512").unwrap(), 512);
        assert_eq!(parse_size("10b").unwrap(), 10);
        assert_eq!(parse_size("10 KiB").unwrap(), 10 << 10);
        assert_eq!(parse_size("2mb").unwrap(), 2 << 20);
        for bad in ["", "m", "12x", "1.2.3m", "-1", "5kb2", "1kibx"] {
            let e = parse_size(bad).unwrap_err();
            assert_eq!(kind_of(&e), Some(ErrorKind::InvalidArgument), "{bad}");
        }
        assert_eq!(
            parse_size("abc").unwrap_err().to_string(),
            "invalid size: 'abc'"
        );
        assert_eq!(
            parse_size("3x").unwrap_err().to_string(),
            "invalid suffix: 'x'"
        );
    }

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("TERM").unwrap(), 15);
        assert_eq!(parse_signal("term").unwrap(), 15);
        assert_eq!(parse_signal("15").unwrap(), 15);
        assert_eq!(parse_signal("SIGKILL").unwrap(), 9);
        assert_eq!(parse_signal("RTMIN+2").unwrap(), 36);
        assert_eq!(parse_signal("SIGRTMAX-1").unwrap(), 63);
        assert_eq!(parse_signal("SIGRTMAX").unwrap(), 64);
        for bad in ["0", "65", "SIGFOO", "", "RTMIN+40", "-3"] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_signal("NOPE").unwrap_err().to_string(),
            "invalid signal: NOPE"
        );
        assert_eq!(signal_name(15).as_deref(), Some("SIGTERM"));
        assert_eq!(signal_name(36).as_deref(), Some("SIGRTMIN+2"));
        assert_eq!(signal_name(0), None);
    }

    #[test]
    fn container_names() {
        assert_eq!(parse_container_name("web-1").unwrap(), "web-1");
        assert_eq!(parse_container_name("/web").unwrap(), "web");
        assert_eq!(parse_container_name("a.b_c").unwrap(), "a.b_c");
        for bad in ["a", "-ab", "_ab", "a b", "ab/c", "", "é1"] {
            assert!(parse_container_name(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_container_name("x").unwrap_err().to_string(),
            "invalid container name (x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        );
    }

    #[test]
    fn pull_policies() {
        assert_eq!(PullPolicy::parse("always").unwrap(), PullPolicy::Always);
        assert_eq!(PullPolicy::parse("never").unwrap(), PullPolicy::Never);
        assert_eq!(PullPolicy::default(), PullPolicy::Missing);
        assert!(PullPolicy::parse("sometimes").is_err());
    }

    #[test]
    fn paths_clean_like_go() {
        assert_eq!(clean_path("/a//b/./c/"), "/a/b/c");
        assert_eq!(clean_path("/a/../../b"), "/b");
        assert_eq!(clean_path("/"), "/");
        assert_eq!(clean_path("a/../.."), "..");
        assert_eq!(clean_path("./x"), "x");
    }
}
