//! The flags about a container's life rather than its process: restart
//! policy, logging, stop timeout.

use super::bad;
use crate::store::{LogConfig, RestartPolicy};
use anyhow::Result;

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
