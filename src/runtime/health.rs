//! Health checks, the rules: when the next probe is due and what a
//! probe's result does to the container's `State.Health`, as Docker's
//! daemon has them. The monitor runs the probes (`runtime::probe`).

use crate::image::config::HealthConfig;
use crate::store::containers::{Health, HealthResult};
use std::time::Duration;

/// Docker's defaults for the settings left at 0.
const INTERVAL: Duration = Duration::from_secs(30);
const TIMEOUT: Duration = Duration::from_secs(30);
const START_INTERVAL: Duration = Duration::from_secs(5);
const RETRIES: u32 = 3;

/// The last probes kept in `State.Health.Log`.
const LOG_ENTRIES: usize = 5;
/// The output kept of a probe, in bytes (then "...").
pub const OUTPUT_MAX: usize = 4096;

pub const STARTING: &str = "starting";
pub const HEALTHY: &str = "healthy";
pub const UNHEALTHY: &str = "unhealthy";

fn or_default(ns: i64, default: Duration) -> Duration {
    if ns <= 0 {
        default
    } else {
        Duration::from_nanos(ns as u64)
    }
}

/// The settings of a check, defaults applied.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub start_interval: Duration,
    pub retries: u32,
}

impl Schedule {
    pub fn of(c: &HealthConfig) -> Schedule {
        Schedule {
            interval: or_default(c.interval, INTERVAL),
            timeout: or_default(c.timeout, TIMEOUT),
            start_period: or_default(c.start_period, Duration::ZERO),
            start_interval: or_default(c.start_interval, START_INTERVAL),
            retries: if c.retries <= 0 {
                RETRIES
            } else {
                c.retries.min(u32::MAX as i64) as u32
            },
        }
    }

    /// How long after the last probe (or the start) the next one runs,
    /// `since_start` into the container's life: the interval, but during
    /// the start period the start interval while still `starting`, and
    /// never past the period's end.
    pub fn wait(&self, since_start: Duration, status: &str) -> Duration {
        if since_start >= self.start_period {
            return self.interval;
        }
        let left = self.start_period - since_start;
        if left < self.interval {
            return left;
        }
        if status == STARTING {
            self.start_interval
        } else {
            self.interval
        }
    }
}

/// What a container's start does to its record's health: `starting`
/// when it has a check to run (written with the `running` status, so no
/// command sees one without the other).
pub fn on_start(c: &mut crate::store::ContainerRecord) {
    if c.healthcheck
        .as_ref()
        .is_some_and(|h| h.probe_command().is_some())
    {
        c.state.health = Some(started(c.state.health.take()));
    }
}

/// A fresh start: `starting`, no failures, the log kept.
pub fn started(h: Option<Health>) -> Health {
    let mut h = h.unwrap_or_default();
    h.status = STARTING.into();
    h.failing_streak = 0;
    h
}

/// Take a probe's result into `h`; `in_start_period` says whether the
/// probe began within the start period (where failures do not count
/// while the container has never been healthy). Returns the new status
/// when it changed.
pub fn record(
    h: &mut Health,
    result: HealthResult,
    s: &Schedule,
    in_start_period: bool,
) -> Option<String> {
    let before = h.status.clone();
    if h.log.len() >= LOG_ENTRIES {
        h.log.drain(..=h.log.len() - LOG_ENTRIES);
    }
    let ok = result.exit_code == 0;
    h.log.push(result);
    if ok {
        h.failing_streak = 0;
        h.status = HEALTHY.into();
    } else if !(h.status == STARTING && in_start_period) {
        h.failing_streak += 1;
        if h.failing_streak >= s.retries {
            h.status = UNHEALTHY.into();
        }
    }
    (h.status != before).then(|| h.status.clone())
}

/// The output as kept: at most [`OUTPUT_MAX`] bytes, "..." after a cut.
pub fn output_text(out: &[u8], truncated: bool) -> String {
    let mut s = String::from_utf8_lossy(out).into_owned();
    if truncated {
        s.push_str("...");
    }
    s
}

/// A duration as Go prints one (`30s`, `1.5s`, `500ms`, `1m30s`,
/// `2h0m0s`), for Docker's "exceeded timeout" message.
pub fn go_text(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    let frac = |v: u128, unit: u128| -> String {
        let whole = v / unit;
        let rest = v % unit;
        if rest == 0 {
            return whole.to_string();
        }
        let digits = format!("{:0width$}", rest, width = unit.ilog10() as usize);
        format!("{whole}.{}", digits.trim_end_matches('0'))
    };
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}µs", frac(ns, 1_000));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", frac(ns, 1_000_000));
    }
    let secs_ns = ns % 60_000_000_000;
    let mins = ns / 60_000_000_000;
    let s = format!("{}s", frac(secs_ns, 1_000_000_000));
    if mins == 0 {
        return s;
    }
    if mins < 60 {
        return format!("{mins}m{s}");
    }
    format!("{}h{}m{s}", mins / 60, mins % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(code: i32) -> HealthResult {
        HealthResult {
            exit_code: code,
            ..Default::default()
        }
    }

    fn schedule(retries: i64, start_period: i64) -> Schedule {
        Schedule::of(&HealthConfig {
            retries,
            start_period,
            ..Default::default()
        })
    }

    #[test]
    fn defaults_are_dockers() {
        let s = Schedule::of(&HealthConfig::default());
        assert_eq!(s.interval, Duration::from_secs(30));
        assert_eq!(s.timeout, Duration::from_secs(30));
        assert_eq!(s.start_interval, Duration::from_secs(5));
        assert_eq!(s.retries, 3);
        assert_eq!(s.wait(Duration::ZERO, STARTING), Duration::from_secs(30));
    }

    #[test]
    fn the_start_period_probes_at_the_start_interval_and_ends_on_time() {
        let s = schedule(0, 60_000_000_000);
        assert_eq!(s.wait(Duration::ZERO, STARTING), Duration::from_secs(5));
        assert_eq!(s.wait(Duration::ZERO, HEALTHY), Duration::from_secs(30));
        assert_eq!(
            s.wait(Duration::from_secs(50), STARTING),
            Duration::from_secs(10)
        );
        assert_eq!(
            s.wait(Duration::from_secs(61), STARTING),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn failures_in_a_row_make_it_unhealthy_and_a_success_heals() {
        let s = schedule(2, 0);
        let mut h = started(None);
        assert_eq!(record(&mut h, result(1), &s, false), None);
        assert_eq!(h.failing_streak, 1);
        assert_eq!(
            record(&mut h, result(1), &s, false).as_deref(),
            Some(UNHEALTHY)
        );
        assert_eq!(
            record(&mut h, result(0), &s, false).as_deref(),
            Some(HEALTHY)
        );
        assert_eq!(h.failing_streak, 0);
        for _ in 0..10 {
            record(&mut h, result(0), &s, false);
        }
        assert_eq!(h.log.len(), LOG_ENTRIES);
        let h = started(Some(h));
        assert_eq!((h.status.as_str(), h.failing_streak), (STARTING, 0));
        assert_eq!(h.log.len(), LOG_ENTRIES);
    }

    #[test]
    fn failures_in_the_start_period_do_not_count_until_healthy() {
        let s = schedule(1, 1);
        let mut h = started(None);
        assert_eq!(record(&mut h, result(1), &s, true), None);
        assert_eq!((h.status.as_str(), h.failing_streak), (STARTING, 0));
        record(&mut h, result(0), &s, true);
        assert_eq!(
            record(&mut h, result(1), &s, true).as_deref(),
            Some(UNHEALTHY)
        );
    }

    #[test]
    fn durations_read_like_go() {
        let t = |ms: u64| go_text(Duration::from_millis(ms));
        assert_eq!(t(30_000), "30s");
        assert_eq!(t(1_500), "1.5s");
        assert_eq!(t(500), "500ms");
        assert_eq!(t(90_000), "1m30s");
        assert_eq!(t(7_200_000), "2h0m0s");
        assert_eq!(go_text(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(output_text(b"abc", true), "abc...");
    }
}
