//! Sizes and durations the way Docker prints them (its go-units package):
//! `4.26MB`, `2 days ago`, `About an hour ago`.

use std::time::Duration;

/// Decimal units with three significant digits: `4.26MB`, `512B`, `1.5GB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    format!("{}{}", sig3(v), UNITS[i])
}

/// Binary units as `docker stats` shows memory: `1.5MiB`.
pub fn bytes_binary(bytes: u64) -> String {
    const UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{}{}", sig3(v), UNITS[i])
}

/// Go's `%.4g`-like formatting that go-units uses: up to 4 significant
/// digits with trailing zeros dropped (`4.26`, `123.5`, `1`).
fn sig3(v: f64) -> String {
    let digits = if v >= 1000.0 {
        0
    } else if v >= 100.0 {
        1
    } else if v >= 10.0 {
        2
    } else {
        3
    };
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
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
