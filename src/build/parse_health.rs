//! `HEALTHCHECK NONE` and `HEALTHCHECK [--interval=...] CMD ...`, the
//! durations and retries checked now, as Docker does, but kept as
//! written.

use super::flags::{self, FlagKind};
use super::words::json_array;
use crate::build::ast::{Command, Health};

const FLAGS: [(&str, FlagKind); 5] = [
    ("interval", FlagKind::Str),
    ("timeout", FlagKind::Str),
    ("start-period", FlagKind::Str),
    ("start-interval", FlagKind::Str),
    ("retries", FlagKind::Str),
];

/// Parses `HEALTHCHECK`'s flags and text.
pub(super) fn parse(flag_args: &[String], args: &str) -> Result<Health, String> {
    let (typ, rest) = match args.find(char::is_whitespace) {
        Some(at) => (&args[..at], args[at..].trim_start()),
        None => (args, ""),
    };
    if typ.is_empty() {
        return Err("HEALTHCHECK requires at least one argument".into());
    }
    let typ = typ.to_uppercase();
    // Checked for NONE too (Docker ignores them there), so a misspelt
    // flag is not silently dropped.
    let flags = flags::parse(flag_args, &FLAGS)?;
    if typ == "NONE" {
        if !rest.is_empty() {
            return Err("HEALTHCHECK NONE takes no arguments".into());
        }
        return Ok(Health::None);
    }
    if typ != "CMD" {
        return Err(format!("Unknown type {typ:?} in HEALTHCHECK (try CMD)"));
    }
    let command = match json_array(rest)? {
        Some(argv) if !argv.is_empty() => Command::Exec(argv),
        None if !rest.is_empty() => Command::Shell(rest.to_string()),
        _ => return Err("Missing command after HEALTHCHECK CMD".into()),
    };
    for name in ["interval", "timeout", "start-period", "start-interval"] {
        if let Some(value) = flags.string(name) {
            check_interval(name, &value)?;
        }
    }
    if let Some(value) = flags.string("retries") {
        check_retries(&value)?;
    }
    Ok(Health::Check {
        command,
        interval: flags.string("interval"),
        timeout: flags.string("timeout"),
        start_period: flags.string("start-period"),
        start_interval: flags.string("start-interval"),
        retries: flags.string("retries"),
    })
}

/// A duration flag: Go's syntax (`30s`, `1m30s`, `1.5h`); zero means
/// the default, anything else must be at least a millisecond.
fn check_interval(name: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    let nanos = go_duration(value)?;
    if nanos != 0 && nanos < 1_000_000 {
        return Err(format!("Interval {name:?} cannot be less than 1ms"));
    }
    Ok(())
}

fn check_retries(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    let retries = go_int32(value)?;
    if retries < 0 {
        return Err(format!("--retries cannot be negative ({retries})"));
    }
    Ok(())
}

/// Go's `strconv.ParseInt(value, 10, 32)`, with its messages.
fn go_int32(value: &str) -> Result<i64, String> {
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.ParseInt: parsing {value:?}: invalid syntax"
        ));
    }
    match value.parse::<i32>() {
        Ok(n) => Ok(i64::from(n)),
        Err(_) => Err(format!(
            "strconv.ParseInt: parsing {value:?}: value out of range"
        )),
    }
}

/// Go's `time.ParseDuration`, in nanoseconds, with its messages:
/// `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or a bare `0`.
pub(super) fn go_duration(text: &str) -> Result<i128, String> {
    let invalid = || format!("time: invalid duration {text:?}");
    let (negative, mut s) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: i128 = 0;
    while !s.is_empty() {
        if !s.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
            return Err(invalid());
        }
        let int_len = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (int, rest) = s.split_at(int_len);
        let (frac, rest) = match rest.strip_prefix('.') {
            Some(rest) => {
                let len = rest
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(rest.len());
                rest.split_at(len)
            }
            None => ("", rest),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(invalid());
        }
        let unit_len = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {text:?}"));
        }
        let (unit, rest) = rest.split_at(unit_len);
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(format!("time: unknown unit {unit:?} in duration {text:?}")),
        };
        let whole: i128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| invalid())?
        };
        let mut part = whole.checked_mul(scale).ok_or_else(invalid)?;
        // The fraction's digits beyond nanosecond precision are dropped,
        // as Go drops them.
        let mut unit_scale = scale;
        for digit in frac.bytes() {
            unit_scale /= 10;
            part += i128::from(digit - b'0') * unit_scale;
        }
        total = total.checked_add(part).ok_or_else(invalid)?;
        if total > i128::from(i64::MAX) + i128::from(negative) {
            return Err(invalid());
        }
        s = rest;
    }
    Ok(if negative { -total } else { total })
}
