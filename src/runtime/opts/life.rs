//! The flags about a container's life rather than its process: restart
//! policy, logging, stop timeout, health check.

use super::bad;
use crate::image::config::HealthConfig;
use crate::store::{LogConfig, RestartPolicy};
use anyhow::Result;

/// The `--health-*` flags as given.
#[derive(Debug, Clone, Default)]
pub struct HealthFlags {
    pub cmd: Option<String>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub start_period: Option<String>,
    pub start_interval: Option<String>,
    pub retries: Option<i64>,
    pub none: bool,
}

/// Docker's shortest interval, timeout and start period: 1 ms.
const MIN_HEALTH_DURATION: i64 = 1_000_000;

/// The health check the flags ask for: `None` when no flag is given (the
/// image's applies), `Test: ["NONE"]` for `--no-healthcheck`, else the
/// settings given, the rest left to the image (Docker's rules and words).
pub fn parse_health(f: &HealthFlags) -> Result<Option<HealthConfig>> {
    let duration = |flag: &str, v: &Option<String>| -> Result<i64> {
        let Some(v) = v else { return Ok(0) };
        let n = crate::util::timespec::go_duration(v).ok_or_else(|| {
            bad(format!(
                "invalid argument {v:?} for \"--health-{flag}\" flag: time: invalid duration {v:?}"
            ))
        })?;
        if n < 0 {
            return Err(bad(format!("--health-{flag} cannot be negative")));
        }
        let n = n.min(i64::MAX as i128) as i64;
        if n != 0 && n < MIN_HEALTH_DURATION {
            // The daemon's words, with the field's name.
            let field: String = flag
                .split('-')
                .map(|w| w[..1].to_uppercase() + &w[1..])
                .collect();
            return Err(bad(format!(
                "{field} in Healthcheck cannot be less than 1ms"
            )));
        }
        Ok(n)
    };
    let h = HealthConfig {
        test: match f.cmd.as_deref() {
            Some(c) if !c.is_empty() => vec!["CMD-SHELL".into(), c.into()],
            _ => Vec::new(),
        },
        interval: duration("interval", &f.interval)?,
        timeout: duration("timeout", &f.timeout)?,
        start_period: duration("start-period", &f.start_period)?,
        start_interval: duration("start-interval", &f.start_interval)?,
        retries: match f.retries {
            Some(n) if n < 0 => return Err(bad("--health-retries cannot be negative")),
            Some(n) => n,
            None => 0,
        },
    };
    let any = h != HealthConfig::default();
    if f.none {
        if any {
            return Err(bad("--no-healthcheck conflicts with --health-* options"));
        }
        return Ok(Some(HealthConfig {
            test: vec!["NONE".into()],
            ..Default::default()
        }));
    }
    Ok(any.then_some(h))
}

/// `--restart no|always|unless-stopped|on-failure[:N]`, in Docker's words.
pub fn parse_restart(s: &str) -> Result<RestartPolicy> {
    let (name, count) = match s.split_once(':') {
        Some((n, c)) => (n, Some(c)),
        None => (s, None),
    };
    let max_retries = match (name, count) {
        ("" | "no", None) => 0,
        ("always" | "unless-stopped", None) => 0,
        ("always" | "unless-stopped" | "no", Some(_)) => {
            return Err(bad(format!(
                "maximum retry count cannot be used with restart policy '{name}'"
            )))
        }
        ("on-failure", None) => 0,
        ("on-failure", Some(c)) => match c.parse::<i64>() {
            Ok(n) if n >= 0 => n.min(u32::MAX as i64) as u32,
            Ok(_) => {
                return Err(bad(
                    "invalid restart policy: maximum retry count cannot be negative",
                ))
            }
            Err(_) => {
                return Err(bad(format!(
                    "invalid restart policy format: maximum retry count must be an integer: {c:?}"
                )))
            }
        },
        _ => {
            return Err(bad(format!(
                "invalid restart policy format: unknown policy '{name}'"
            )))
        }
    };
    Ok(RestartPolicy {
        name: if name.is_empty() { "no" } else { name }.to_string(),
        max_retries,
    })
}

/// The options each log driver knows.
fn known_log_opts(driver: &str) -> &'static [&'static str] {
    match driver {
        "json-file" => &[
            "max-size",
            "max-file",
            "compress",
            "labels",
            "env",
            "tag",
            "mode",
            "max-buffer-size",
        ],
        "k8s-file" => &["max-size", "path", "tag", "mode", "max-buffer-size"],
        _ => &["mode", "max-buffer-size"],
    }
}

/// `--log-driver` and `--log-opt key=value`.
pub fn parse_log(driver: Option<&str>, opts: &[String]) -> Result<LogConfig> {
    let driver = driver.unwrap_or("json-file");
    if !matches!(driver, "json-file" | "k8s-file" | "none") {
        return Err(bad(format!(
            "logger: no log driver named '{driver}' is registered (skiff has json-file, k8s-file and none)"
        )));
    }
    let mut cfg = LogConfig {
        driver: driver.to_string(),
        ..Default::default()
    };
    for o in opts {
        let Some((k, v)) = o.split_once('=') else {
            return Err(bad(format!("invalid log opt format: {o}")));
        };
        if !known_log_opts(driver).contains(&k) {
            return Err(bad(format!(
                "unknown log opt '{k}' for {driver} log driver"
            )));
        }
        if k == "max-size" {
            super::units::parse_size(v)
                .map_err(|e| bad(format!("invalid log opt max-size={v}: {e:#}")))?;
        }
        if k == "max-file" && !v.parse::<u32>().is_ok_and(|n| n >= 1) {
            return Err(bad(format!(
                "invalid value for max-file: {v}: it must be a number of 1 or more"
            )));
        }
        cfg.options.insert(k.to_string(), v.to_string());
    }
    if cfg.options.contains_key("max-file") && !cfg.options.contains_key("max-size") {
        let n = &cfg.options["max-file"];
        if n != "1" {
            return Err(bad("max-file cannot be set without max-size"));
        }
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies_in_dockers_words() {
        assert!(parse_restart("no").unwrap().is_none());
        assert_eq!(parse_restart("always").unwrap().name, "always");
        let p = parse_restart("on-failure:3").unwrap();
        assert_eq!((p.name.as_str(), p.max_retries), ("on-failure", 3));
        assert_eq!(parse_restart("on-failure").unwrap().max_retries, 0);
        for bad in ["sometimes", "always:2", "on-failure:x", "on-failure:-1"] {
            assert!(parse_restart(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn health_flags_in_dockers_words() {
        assert_eq!(parse_health(&HealthFlags::default()).unwrap(), None);
        let h = parse_health(&HealthFlags {
            cmd: Some("wget -q localhost".into()),
            interval: Some("1.5s".into()),
            retries: Some(2),
            ..Default::default()
        })
        .unwrap()
        .unwrap();
        assert_eq!(h.test, ["CMD-SHELL", "wget -q localhost"]);
        assert_eq!((h.interval, h.timeout, h.retries), (1_500_000_000, 0, 2));
        let none = HealthFlags {
            none: true,
            ..Default::default()
        };
        assert_eq!(parse_health(&none).unwrap().unwrap().test, ["NONE"]);
        let conflict = HealthFlags {
            timeout: Some("3s".into()),
            ..none
        };
        assert!(parse_health(&conflict).is_err());
        for (interval, retries) in [("10", 0), ("-1s", 0), ("500us", 0), ("1s", -1)] {
            let f = HealthFlags {
                interval: Some(interval.into()),
                retries: Some(retries),
                ..Default::default()
            };
            assert!(parse_health(&f).is_err(), "{interval} {retries}");
        }
    }

    #[test]
    fn log_drivers_and_options() {
        let c = parse_log(None, &["max-size=1k".into(), "max-file=3".into()]).unwrap();
        assert_eq!(c.driver, "json-file");
        assert_eq!(c.options["max-file"], "3");
        assert!(parse_log(Some("syslog"), &[]).is_err());
        assert!(parse_log(None, &["nope=1".into()]).is_err());
        assert!(parse_log(None, &["max-size".into()]).is_err());
        assert!(parse_log(None, &["max-file=3".into()]).is_err());
        assert!(parse_log(None, &["max-file=0".into(), "max-size=1m".into()]).is_err());
        assert_eq!(parse_log(Some("none"), &[]).unwrap().driver, "none");
    }
}
