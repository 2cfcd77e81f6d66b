//! `skiff port CONTAINER [PRIVATE_PORT[/PROTO]]`: the container's published
//! ports, as Docker prints them; and the views of them `inspect`
//! (`HostConfig.PortBindings`, `NetworkSettings.Ports`) and `ps` (the
//! PORTS column) show.

use crate::config::Config;
use crate::container::state;
use crate::store::ports::split_key;
use crate::store::{ContainerRecord, Store};
use anyhow::Result;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub container: String,
    /// PRIVATE_PORT[/PROTO]
    pub port: Option<String>,
}

pub fn run(args: Args, cfg: &Config) -> Result<i32> {
    let store = Store::open(&cfg.root)?;
    let rec = state::find(&store, &args.container)?;
    let mut live: Vec<_> = if is_live(&rec) {
        rec.state.ports.clone()
    } else {
        Vec::new()
    };
    live.sort();
    let mut out = String::new();
    match &args.port {
        None => {
            for p in &live {
                out += &format!("{} -> {}:{}\n", p.key(), p.host_ip, p.host_port);
            }
        }
        Some(want) => {
            let (port, proto) = want.split_once('/').unwrap_or((want, "tcp"));
            let proto = if proto.is_empty() { "tcp" } else { proto };
            if port.parse::<u16>().is_err() {
                crate::bail_kind!(InvalidArgument, "Error: invalid port ({port})");
            }
            let key = format!("{port}/{proto}");
            for p in live.iter().filter(|p| p.key() == key) {
                out += &format!("{}:{}\n", p.host_ip, p.host_port);
            }
            if out.is_empty() {
                crate::bail_kind!(
                    NotFound,
                    "Error: No public port '{key}' published for {}",
                    args.container
                );
            }
        }
    }
    super::format::print_out(&out)?;
    Ok(0)
}

/// Does the container publish now (running, on a network)?
fn is_live(rec: &ContainerRecord) -> bool {
    // A namespace of its own that skiff set up: a bridge's, or a
    // user-space stack's.
    matches!(rec.state.status.as_str(), "running" | "paused")
        && rec.keeps_netns()
        && rec.joined_container().is_none()
}

/// Docker's `Config.ExposedPorts` keys of the container.
fn exposed(rec: &ContainerRecord) -> Vec<String> {
    rec.config
        .as_ref()
        .and_then(|c| c.get("ExposedPorts"))
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// `HostConfig.PortBindings`: `{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}`.
pub fn bindings_json(rec: &ContainerRecord) -> Value {
    let mut m: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for b in &rec.port_bindings {
        m.entry(b.key())
            .or_default()
            .push(json!({"HostIp": b.host_ip, "HostPort": b.host_port}));
    }
    json!(m)
}

/// `NetworkSettings.Ports`: while it runs, each exposed or published
/// port with its host addresses (`null` for one only exposed); `{}`
/// otherwise, as Docker shows a stopped container's.
pub fn ports_json(rec: &ContainerRecord) -> Value {
    let mut m = Map::new();
    if !is_live(rec) {
        return Value::Object(m);
    }
    for k in exposed(rec) {
        m.insert(k, Value::Null);
    }
    for p in &rec.state.ports {
        let e = m.entry(p.key()).or_insert(Value::Null);
        if e.is_null() {
            *e = json!([]);
        }
        if let Value::Array(a) = e {
            a.push(json!({"HostIp": p.host_ip, "HostPort": p.host_port.to_string()}));
        }
    }
    Value::Object(m)
}

/// One row of Docker's port list (`types.Port`): the host side empty
/// for a port only exposed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct PortRow {
    private: u16,
    ip: String,
    public: u16,
    proto: String,
}

/// The PORTS column: Docker's `DisplayablePorts` (runs of consecutive
/// ports mapped to themselves, or only exposed, collapsed into ranges;
/// the others one by one after them).
pub fn ps_text(rec: &ContainerRecord) -> String {
    displayable(rows(rec))
}

/// The container's ports as `ps --filter publish=|expose=` sees them:
/// (private port, public port or 0, protocol), while it runs.
pub fn port_triples(rec: &ContainerRecord) -> Vec<(u16, u16, String)> {
    rows(rec)
        .into_iter()
        .map(|r| (r.private, r.public, r.proto))
        .collect()
}

/// Docker's `types.Port` list: the published ports, and the exposed
/// ones not published; none while it does not run.
fn rows(rec: &ContainerRecord) -> Vec<PortRow> {
    if !is_live(rec) {
        return Vec::new();
    }
    let mut rows: Vec<PortRow> = rec
        .state
        .ports
        .iter()
        .map(|p| PortRow {
            private: p.port,
            ip: p.host_ip.clone(),
            public: p.host_port,
            proto: p.proto.clone(),
        })
        .collect();
    for k in exposed(rec) {
        if let Some((port, proto)) = split_key(&k) {
            if !rows.iter().any(|r| r.private == port && r.proto == proto) {
                rows.push(PortRow {
                    private: port,
                    ip: String::new(),
                    public: 0,
                    proto,
                });
            }
        }
    }
    rows
}

fn displayable(mut rows: Vec<PortRow>) -> String {
    rows.sort();
    let form = |key: &(String, String), first: u16, last: u16| {
        let mut g = first.to_string();
        if first != last {
            g = format!("{g}-{last}");
        }
        if key.0.is_empty() {
            format!("{g}/{}", key.1)
        } else {
            format!("{}:{g}->{g}/{}", key.0, key.1)
        }
    };
    // Groups by (ip, proto), in the order first seen.
    let mut keys: Vec<(String, String)> = Vec::new();
    let mut groups: BTreeMap<(String, String), (u16, u16)> = BTreeMap::new();
    let mut result = Vec::new();
    let mut mapped = Vec::new();
    for r in rows {
        if !r.ip.is_empty() && r.public != r.private {
            mapped.push(format!("{}:{}->{}/{}", r.ip, r.public, r.private, r.proto));
            continue;
        }
        let key = (r.ip, r.proto);
        match groups.get_mut(&key) {
            None => {
                groups.insert(key.clone(), (r.private, r.private));
                keys.push(key);
            }
            Some(g) if r.private == g.1.wrapping_add(1) => g.1 = r.private,
            Some(g) => {
                result.push(form(&key, g.0, g.1));
                *g = (r.private, r.private);
            }
        }
    }
    for k in &keys {
        let (a, b) = groups[k];
        result.push(form(k, a, b));
    }
    result.extend(mapped);
    result.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(private: u16, ip: &str, public: u16, proto: &str) -> PortRow {
        PortRow {
            private,
            ip: ip.into(),
            public,
            proto: proto.into(),
        }
    }

    fn rec(status: &str) -> ContainerRecord {
        serde_json::from_value(json!({
            "id": "a", "name": "web", "image": "i",
            "image_id": format!("sha256:{}", "0".repeat(64)),
            "layers": [], "created": "", "command": [],
            "config": {"ExposedPorts": {"80/tcp": {}, "90/tcp": {}}},
            "networks": ["bridge"],
            "port_bindings": [{"port": 80, "proto": "tcp", "host_port": "8080"}],
            "state": {"status": status, "ports": [
                {"port": 80, "proto": "tcp", "host_ip": "0.0.0.0", "host_port": 8080}
            ]},
        }))
        .unwrap()
    }

    #[test]
    fn inspect_shapes_like_dockers() {
        let r = rec("running");
        assert_eq!(
            bindings_json(&r),
            json!({"80/tcp": [{"HostIp": "", "HostPort": "8080"}]})
        );
        assert_eq!(
            ports_json(&r),
            json!({"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "90/tcp": null})
        );
        assert_eq!(ps_text(&r), "90/tcp, 0.0.0.0:8080->80/tcp");
        // Stopped: the bindings stay, nothing is published.
        let r = rec("exited");
        assert_eq!(ports_json(&r), json!({}));
        assert_eq!(ps_text(&r), "");
        assert_eq!(bindings_json(&r)["80/tcp"][0]["HostPort"], "8080");
    }

    #[test]
    fn ports_column_like_dockers() {
        assert_eq!(
            displayable(vec![row(80, "0.0.0.0", 8080, "tcp")]),
            "0.0.0.0:8080->80/tcp"
        );
        assert_eq!(
            displayable(vec![
                row(80, "", 0, "tcp"),
                row(81, "", 0, "tcp"),
                row(53, "", 0, "udp")
            ]),
            "53/udp, 80-81/tcp"
        );
        // Mapped to themselves: a range.
        assert_eq!(
            displayable(vec![
                row(9001, "0.0.0.0", 9001, "tcp"),
                row(9000, "0.0.0.0", 9000, "tcp"),
                row(9002, "0.0.0.0", 9002, "tcp"),
            ]),
            "0.0.0.0:9000-9002->9000-9002/tcp"
        );
        // Other mappings one by one, after the groups.
        assert_eq!(
            displayable(vec![
                row(80, "0.0.0.0", 8000, "tcp"),
                row(81, "0.0.0.0", 8001, "tcp"),
                row(90, "", 0, "tcp"),
            ]),
            "90/tcp, 0.0.0.0:8000->80/tcp, 0.0.0.0:8001->81/tcp"
        );
        // A gap ends a run.
        assert_eq!(
            displayable(vec![row(80, "", 0, "tcp"), row(82, "", 0, "tcp")]),
            "80/tcp, 82/tcp"
        );
    }
}
