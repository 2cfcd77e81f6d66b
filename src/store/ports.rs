//! A container's published ports as its record keeps them: what `-p`
//! asked for (Docker's `HostConfig.PortBindings`), and what one start
//! got (the host ports actually reserved, `-p 80` and `-P` ones
//! included: Docker's `NetworkSettings.Ports`).

use serde::{Deserialize, Serialize};

/// One `-p` binding: container port `port`/`proto` published on
/// `host_ip` (empty: every host address) and `host_port` (empty: a free
/// one; `8000-8010`: the first free one of that range), as Docker keeps
/// them, strings and all.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PortBinding {
    pub port: u16,
    pub proto: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host_ip: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host_port: String,
}

impl PortBinding {
    /// Docker's key: `80/tcp`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.port, self.proto)
    }
}

/// A port published by the container's running start: reachable at
/// `host_ip:host_port`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct PublishedPort {
    pub port: u16,
    pub proto: String,
    /// `0.0.0.0` for every host address.
    pub host_ip: String,
    pub host_port: u16,
}

impl PublishedPort {
    pub fn key(&self) -> String {
        format!("{}/{}", self.port, self.proto)
    }
}

/// `80/tcp` as (80, "tcp"); a bare `80` is tcp.
pub fn split_key(key: &str) -> Option<(u16, String)> {
    let (p, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    Some((p.parse().ok()?, proto.to_ascii_lowercase()))
}
