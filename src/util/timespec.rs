//! Points in time as Docker's `--since` / `--until` take them (its
//! `timetypes.GetTimestamp`): a Go duration back from now (`10m`, `1h30m`,
//! `42s`, `1.5h`), an RFC 3339 time, possibly shortened (`2026-01-02`,
//! `2026-01-02T15`, `2026-01-02T15:04`, with or without a zone; no zone
//! means local time), or Unix seconds with an optional fraction
//! (`1767225600.5`).

use anyhow::{anyhow, Result};
use chrono::{DateTime, FixedOffset, Local, NaiveDate, TimeZone, Utc};

/// Parse `value` as Docker does, durations counted back from `now`.
pub fn parse(value: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    // Docker reads a bare "0" as Unix time 0, not as a zero duration.
    if value != "0" {
        if let Some(nanos) = go_duration(value) {
            // Docker keeps whole seconds of a relative time.
            let t = now.timestamp_nanos_opt().unwrap_or(i64::MAX) as i128 - nanos;
            let secs = t.div_euclid(1_000_000_000);
            return DateTime::from_timestamp(secs as i64, 0)
                .ok_or_else(|| anyhow!("time out of range: {value:?}"));
        }
    }
    match rfc3339ish(value) {
        Some(Ok(t)) => return Ok(t),
        Some(Err(e)) => return Err(e),
        None => {}
    }
    if value.contains('-') {
        return Err(anyhow!("parsing time {value:?}: not an RFC 3339 time"));
    }
    unix(value).ok_or_else(|| anyhow!("failed to parse value as time or duration: {value:?}"))
}

/// A Go duration (`time.ParseDuration`) in nanoseconds: `[-+]` then one
/// or more `NUMBER[.FRACTION]UNIT`, units ns, us, µs, ms, s, m, h.
pub fn go_duration(s: &str) -> Option<i128> {
    let (neg, mut rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_end];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return None;
        }
        let n: f64 = num.parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale: f64 = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += n * scale;
    }
    let nanos = total.round() as i128;
    Some(if neg { -nanos } else { nanos })
}

/// `YYYY-MM-DD[THH[:MM[:SS[.FRACTION]]]][Z|±HH:MM]`; `None` when `s` is
/// not shaped like a date at all.
fn rfc3339ish(s: &str) -> Option<Result<DateTime<Utc>>> {
    let bad = || Some(Err(anyhow!("parsing time {s:?}: not an RFC 3339 time")));
    if s.len() < 10 || !s.is_char_boundary(10) {
        return None;
    }
    let date = NaiveDate::parse_from_str(&s[..10], "%Y-%m-%d").ok()?;
    let mut rest = &s[10..];
    // The zone: a trailing Z, or +HH:MM / -HH:MM.
    let mut zone: Option<FixedOffset> = None;
    if let Some(r) = rest.strip_suffix(['Z', 'z']) {
        zone = FixedOffset::east_opt(0);
        rest = r;
    } else if rest.len() >= 6 && rest.is_char_boundary(rest.len() - 6) {
        let z = &rest[rest.len() - 6..];
        let b = z.as_bytes();
        if (b[0] == b'+' || b[0] == b'-') && b[3] == b':' {
            let (Ok(h), Ok(m)) = (z[1..3].parse::<i32>(), z[4..6].parse::<i32>()) else {
                return bad();
            };
            let secs = (h * 3600 + m * 60) * if b[0] == b'-' { -1 } else { 1 };
            let Some(off) = FixedOffset::east_opt(secs) else {
                return bad();
            };
            zone = Some(off);
            rest = &rest[..rest.len() - 6];
        }
    }
    let (mut h, mut m, mut sec, mut nano) = (0, 0, 0, 0);
    if !rest.is_empty() {
        let Some(t) = rest.strip_prefix('T') else {
            return bad();
        };
        let (hms, frac) = match t.split_once('.') {
            Some((a, f)) => (a, Some(f)),
            None => (t, None),
        };
        let parts: Vec<&str> = hms.split(':').collect();
        let two = |p: &str| (p.len() == 2).then(|| p.parse::<u32>().ok()).flatten();
        let nums: Option<Vec<u32>> = parts.iter().map(|p| two(p)).collect();
        let Some(nums) = nums else {
            return bad();
        };
        // A fraction only follows seconds.
        if nums.is_empty() || nums.len() > 3 || (frac.is_some() && nums.len() != 3) {
            return bad();
        }
        h = nums[0];
        m = nums.get(1).copied().unwrap_or(0);
        sec = nums.get(2).copied().unwrap_or(0);
        if let Some(f) = frac {
            match fraction_nanos(f) {
                Some(n) => nano = n,
                None => return bad(),
            }
        }
    }
    let Some(naive) = date.and_hms_nano_opt(h, m, sec, nano) else {
        return bad();
    };
    let t = match zone {
        Some(z) => z.from_local_datetime(&naive).single(),
        None => Local
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.into()),
    };
    match t {
        Some(t) => Some(Ok(t.with_timezone(&Utc))),
        None => bad(),
    }
}

/// Digits after a decimal point as nanoseconds (at most 9 count).
fn fraction_nanos(f: &str) -> Option<u32> {
    if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: String = f.chars().take(9).collect();
    let n: u32 = digits.parse().ok()?;
    Some(n * 10u32.pow(9 - digits.len() as u32))
}

/// Unix seconds with an optional fraction: `1767225600`, `1767225600.25`.
fn unix(s: &str) -> Option<DateTime<Utc>> {
    let (secs, frac) = match s.split_once('.') {
        Some((a, f)) => (a, Some(f)),
        None => (s, None),
    };
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = secs.parse().ok()?;
    let nanos = match frac {
        Some(f) => fraction_nanos(f)?,
        None => 0,
    };
    DateTime::from_timestamp(secs, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-04T05:06:07.890Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn durations_count_back_from_now_in_whole_seconds() {
        for (v, want) in [
            ("42s", "2026-03-04T05:05:25Z"),
            ("10m", "2026-03-04T04:56:07Z"),
            ("1h30m", "2026-03-04T03:36:07Z"),
            ("1.5h", "2026-03-04T03:36:07Z"),
            ("1h0m0.5s", "2026-03-04T04:06:07Z"),
            ("500ms", "2026-03-04T05:06:07Z"),
            ("-1m", "2026-03-04T05:07:07Z"),
        ] {
            assert_eq!(parse(v, now()).unwrap(), at(want), "{v}");
        }
    }

    #[test]
    fn rfc3339_times_full_and_shortened() {
        for (v, want) in [
            ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05Z"),
            ("2026-01-02T03:04:05.25Z", "2026-01-02T03:04:05.25Z"),
            (
                "2026-01-02T03:04:05.123456789+02:00",
                "2026-01-02T01:04:05.123456789Z",
            ),
            ("2026-01-02T03:04:05-01:30", "2026-01-02T04:34:05Z"),
            ("2026-01-02T03:04Z", "2026-01-02T03:04:00Z"),
            ("2026-01-02T03+01:00", "2026-01-02T02:00:00Z"),
            ("2026-01-02Z", "2026-01-02T00:00:00Z"),
        ] {
            assert_eq!(parse(v, now()).unwrap(), at(want), "{v}");
        }
    }

    #[test]
    fn times_without_a_zone_are_local() {
        let naive = NaiveDate::from_ymd_opt(2026, 1, 2)
            .unwrap()
            .and_hms_opt(3, 4, 5)
            .unwrap();
        let want = Local
            .from_local_datetime(&naive)
            .earliest()
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse("2026-01-02T03:04:05", now()).unwrap(), want);
        let midnight = Local
            .from_local_datetime(&naive.date().and_hms_opt(0, 0, 0).unwrap())
            .earliest()
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse("2026-01-02", now()).unwrap(), midnight);
    }

    #[test]
    fn unix_seconds_with_a_fraction() {
        assert_eq!(
            parse("1767225600", now()).unwrap(),
            at("2026-01-01T00:00:00Z")
        );
        assert_eq!(
            parse("1767225600.5", now()).unwrap(),
            at("2026-01-01T00:00:00.5Z")
        );
        assert_eq!(
            parse("1767225600.000000001", now()).unwrap(),
            at("2026-01-01T00:00:00.000000001Z")
        );
        assert_eq!(parse("0", now()).unwrap(), at("1970-01-01T00:00:00Z"));
    }

    #[test]
    fn nonsense_is_refused() {
        for v in [
            "",
            "abc",
            "10x",
            "1h30",
            "2026-13-01",
            "2026-01-02T3:04",
            "2026-01-02 03:04",
            "2026-01-02T03:04:05.",
            "1.2.3",
            "-5",
            "h",
            ".s",
        ] {
            assert!(parse(v, now()).is_err(), "{v:?} was accepted");
        }
        let e = parse("abc", now()).unwrap_err().to_string();
        assert_eq!(e, "failed to parse value as time or duration: \"abc\"");
    }
}
