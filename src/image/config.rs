//! The image configuration (the JSON blob an image ID names), with the
//! fields skiff reads; everything else is kept as it came.

use crate::digest::Digest;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The part of the image config that describes how to run it (Docker's
/// `Config` object; field names are Docker's PascalCase).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A health check (Docker's `HealthConfig`, the image's `HEALTHCHECK` and
/// the `--health-*` flags): `Test` is `["CMD", arg...]`,
/// `["CMD-SHELL", command]`, `["NONE"]` (checks turned off) or empty
/// (inherit the image's); durations are nanoseconds, 0 meaning the default.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct HealthConfig {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub interval: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeout: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_period: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

impl HealthConfig {
    /// The user's settings over the image's, field by field (Docker's
    /// merge: what the flags leave unset comes from the image).
    pub fn merged(
        user: Option<&HealthConfig>,
        image: Option<&HealthConfig>,
    ) -> Option<HealthConfig> {
        let (Some(u), Some(i)) = (user, image) else {
            return user.or(image).cloned();
        };
        let pick = |a: i64, b: i64| if a == 0 { b } else { a };
        Some(HealthConfig {
            test: if u.test.is_empty() {
                i.test.clone()
            } else {
                u.test.clone()
            },
            interval: pick(u.interval, i.interval),
            timeout: pick(u.timeout, i.timeout),
            start_period: pick(u.start_period, i.start_period),
            start_interval: pick(u.start_interval, i.start_interval),
            retries: pick(u.retries, i.retries),
        })
    }

    /// The command a probe runs, or `None` when there is no check to run
    /// (`NONE`, nothing, or a kind Docker does not know).
    pub fn probe_command(&self) -> Option<Vec<String>> {
        match self.test.split_first() {
            Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => Some(rest.to_vec()),
            Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => {
                let mut cmd = vec!["/bin/sh".to_string(), "-c".to_string()];
                cmd.push(rest.join(" "));
                Some(cmd)
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RootFs {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ImageConfig {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<RunConfig>,
    #[serde(default)]
    pub rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ImageConfig {
    pub fn parse(bytes: &[u8]) -> Result<ImageConfig> {
        serde_json::from_slice(bytes).context("malformed image config")
    }

    pub fn labels(&self) -> BTreeMap<String, String> {
        self.config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_unknown_fields() {
        let src = br#"{"architecture":"amd64","os":"linux","docker_version":"24",
            "config":{"Cmd":["sh"],"Labels":{"a":"b"},"OnBuild":null},
            "rootfs":{"type":"layers","diff_ids":["sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]}}"#;
        let c = ImageConfig::parse(src).unwrap();
        assert_eq!(c.labels()["a"], "b");
        assert_eq!(c.rootfs.diff_ids.len(), 1);
        let back = serde_json::to_value(&c).unwrap();
        assert_eq!(back["docker_version"], "24");
        assert!(back["config"].as_object().unwrap().contains_key("OnBuild"));
    }

    #[test]
    fn healthcheck_in_dockers_shape_and_merged_field_by_field() {
        let src = br#"{"config":{"Healthcheck":{"Test":["CMD-SHELL","true"],
            "Interval":30000000000,"Retries":5}}}"#;
        let c = ImageConfig::parse(src).unwrap();
        let image = c.config.unwrap().healthcheck.unwrap();
        assert_eq!(image.probe_command().unwrap(), ["/bin/sh", "-c", "true"]);
        let user = HealthConfig {
            interval: 1_000_000_000,
            ..Default::default()
        };
        let m = HealthConfig::merged(Some(&user), Some(&image)).unwrap();
        assert_eq!(m.test, ["CMD-SHELL", "true"]);
        assert_eq!((m.interval, m.retries), (1_000_000_000, 5));
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["Interval"], 1_000_000_000i64);
        assert!(json.get("Timeout").is_none());
        let none = HealthConfig {
            test: vec!["NONE".into()],
            ..Default::default()
        };
        assert!(HealthConfig::merged(Some(&none), Some(&image))
            .unwrap()
            .probe_command()
            .is_none());
        let exec = HealthConfig {
            test: vec!["CMD".into(), "cat".into(), "/ok".into()],
            ..Default::default()
        };
        assert_eq!(exec.probe_command().unwrap(), ["cat", "/ok"]);
    }
}
