//! Sizes and durations the way Docker prints them (its go-units package):
//! `4.26MB`, `2 days ago`, `About an hour ago`.

use std::time::Duration;

/// Docker's `Ellipsis`: at most `max` characters, the last one `…` when
/// cut.
pub fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// Decimal units with four significant digits (go-units' `HumanSize`):
/// `4.26MB`, `512B`, `123.5kB`.
pub fn size(bytes: u64) -> String {
    scaled(bytes, 1000.0, &DECIMAL, 4)
}

/// Decimal units with three significant digits (go-units'
/// `HumanSizeWithPrecision(n, 3)`), as the SIZE column of `ps` and the
/// NET I/O and BLOCK I/O columns of `stats` show them: `12B`, `1.98MB`.
pub fn size3(bytes: u64) -> String {
    scaled(bytes, 1000.0, &DECIMAL, 3)
}

/// Binary units with four significant digits (go-units' `BytesSize`), as
/// `docker stats` shows memory: `1.5MiB`, `7.657GiB`.
pub fn bytes_binary(bytes: u64) -> String {
    scaled(bytes, 1024.0, &BINARY, 4)
}

const DECIMAL: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
const BINARY: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

fn scaled(bytes: u64, base: f64, units: &[&str; 9], precision: usize) -> String {
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= base && i < units.len() - 1 {
        v /= base;
        i += 1;
    }
    format!("{}{}", go_g(v, precision), units[i])
}

/// Go's `%.Ng` for a number not below zero: `precision` significant
/// digits, trailing zeros dropped, and the exponent form once the number
/// rounds to `precision` digits before the point (`999.7` at 3 digits
/// is `1e+03`, as go-units prints it too).
fn go_g(v: f64, precision: usize) -> String {
    if v == 0.0 || !v.is_finite() {
        return "0".into();
    }
    let precision = precision.max(1);
    let sci = format!("{:.*e}", precision - 1, v);
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return sci;
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    let all: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = all.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let nd = digits.len() as i32;
    let point = exp + 1;
    let p = precision as i32;
    let shown = if p > nd && nd >= point { nd } else { p };
    if exp < -4 || exp >= shown {
        let m = if nd > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits.to_string()
        };
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{m}e{sign}{:02}", exp.abs());
    }
    let kept = if p > point { nd } else { p };
    let decimals = (kept - point).max(0) as usize;
    format!("{v:.decimals$}")
}

/// Docker's `HumanDuration`: "Less than a second", "3 seconds",
/// "About a minute", "5 minutes", "About an hour", "3 hours", "2 days",
/// "3 weeks", "4 months", "2 years".
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    let hours = secs / 3600;
    if secs < 1 {
        "Less than a second".into()
    } else if secs == 1 {
        "1 second".into()
    } else if secs < 60 {
        format!("{secs} seconds")
    } else if secs / 60 == 1 {
        "About a minute".into()
    } else if secs < 3600 {
        format!("{} minutes", secs / 60)
    } else if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", hours / 24 / 365)
    }
}

/// "N units ago" from an RFC 3339 time, as the CREATED columns show it.
pub fn ago(t: chrono::DateTime<chrono::Utc>) -> String {
    let now = chrono::Utc::now();
    let d = (now - t).to_std().unwrap_or_default();
    format!("{} ago", duration(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_docker() {
        assert_eq!(size(0), "0B");
        assert_eq!(size(999), "999B");
        assert_eq!(size(4_260_000), "4.26MB");
        assert_eq!(size(1_500_000_000), "1.5GB");
        assert_eq!(size(123_456), "123.5kB");
        assert_eq!(bytes_binary(1536 * 1024), "1.5MiB");
        assert_eq!(bytes_binary(0), "0B");
        assert_eq!(bytes_binary(648), "648B");
        assert_eq!(bytes_binary(8_222_789_632), "7.658GiB");
        assert_eq!(bytes_binary(64 << 20), "64MiB");
        assert_eq!(bytes_binary(1023 * 1024 + 1000), "1024KiB");
    }

    #[test]
    fn sizes_with_three_digits() {
        assert_eq!(size3(0), "0B");
        assert_eq!(size3(12), "12B");
        assert_eq!(size3(648), "648B");
        assert_eq!(size3(1_200), "1.2kB");
        assert_eq!(size3(4_300_000), "4.3MB");
        assert_eq!(size3(1_982_345), "1.98MB");
        assert_eq!(size3(123_456), "123kB");
        // Go's %g switches to the exponent form here; so does Docker.
        assert_eq!(size3(999_700), "1e+03kB");
    }

    #[test]
    fn go_g_matches_go() {
        assert_eq!(go_g(0.5, 3), "0.5");
        assert_eq!(go_g(0.000_012_34, 3), "1.23e-05");
        assert_eq!(go_g(100.0, 3), "100");
        assert_eq!(go_g(1000.0, 4), "1000");
        assert_eq!(go_g(1.0, 4), "1");
        assert_eq!(go_g(9.9996, 4), "10");
    }

    #[test]
    fn durations_like_docker() {
        assert_eq!(duration(Duration::from_millis(10)), "Less than a second");
        assert_eq!(duration(Duration::from_secs(5)), "5 seconds");
        assert_eq!(duration(Duration::from_secs(90)), "About a minute");
        assert_eq!(duration(Duration::from_secs(3600 * 5)), "5 hours");
        assert_eq!(duration(Duration::from_secs(86400 * 3)), "3 days");
    }
}
