//! Docker's `inspect` JSON for a container, built from its record and its
//! OCI spec (`config.json`), and the views of the spec `ps` shares
//! (labels, mounts, network mode).

pub use crate::container::mounts::{load_spec, mounts, MountView};
use crate::image::config::ImageConfig;
use crate::runtime::defaults::{cap_name, DEFAULT_CAPS};
use crate::runtime::logfile::log_path;
use crate::runtime::spec::ANNOTATION_INIT;
use crate::store::{ContainerRecord, Store};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// Go's zero time, which Docker prints for times never set.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// An RFC 3339 time the way Go's `RFC3339Nano` prints it (trailing zeros
/// of the fraction dropped), Go's zero time when unset.
pub fn docker_time(t: Option<&str>) -> String {
    let Some(t) = t.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()) else {
        return ZERO_TIME.into();
    };
    let s = t
        .with_timezone(&chrono::Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    match s.split_once('.') {
        Some((secs, frac)) => {
            let digits = frac.trim_end_matches('Z').trim_end_matches('0');
            if digits.is_empty() {
                format!("{secs}Z")
            } else {
                format!("{secs}.{digits}Z")
            }
        }
        None => s,
    }
}

/// The container's labels: the image's and its own, as the spec's
/// annotations carry them (skiff's own annotations left out).
pub fn labels(rec: &ContainerRecord, spec: Option<&Spec>) -> BTreeMap<String, String> {
    match spec.and_then(|s| s.annotations().as_ref()) {
        Some(a) => a
            .iter()
            .filter(|(k, _)| !k.starts_with("org.skiff."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        None => rec.labels.clone(),
    }
}

/// Does the container have a namespace of kind `k` of its own?
fn own_namespace(spec: Option<&Spec>, k: LinuxNamespaceType) -> bool {
    spec.and_then(|s| s.linux().as_ref())
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == k && n.path().is_none()))
}

/// Docker's `HostConfig.NetworkMode`: `host` without a network namespace
/// of its own; otherwise skiff's isolated default, which Docker calls
/// `bridge`.
pub fn network_mode<'a>(rec: &'a ContainerRecord, spec: Option<&Spec>) -> &'a str {
    if !rec.network_mode.is_empty() {
        &rec.network_mode
    } else if let Some(n) = rec.networks.first() {
        n
    } else if own_namespace(spec, LinuxNamespaceType::Network) {
        "bridge"
    } else {
        "host"
    }
}

/// Bytes written to the container's own layer (its overlay upper dir).
pub fn upper_size(store: &Store, id: &str) -> u64 {
    crate::util::fs::tree_size(&store.container_dir(id).join("upper"))
}

/// The image's size, if the image is still in the store.
pub fn image_size(store: &Store, rec: &ContainerRecord) -> u64 {
    store
        .images()
        .ok()
        .and_then(|imgs| imgs.into_iter().find(|i| i.id == rec.image_id))
        .map_or(0, |i| i.size)
}

/// Docker's Entrypoint and Cmd: the container's own, as recorded; for a
/// record from before skiff kept them, the command split at the image's
/// entrypoint when the command starts with it.
fn entrypoint_and_cmd(store: &Store, rec: &ContainerRecord) -> (Value, Value) {
    if let Some(c) = &rec.config {
        let field = |k: &str| c.get(k).cloned().unwrap_or(Value::Null);
        return (field("Entrypoint"), field("Cmd"));
    }
    let image_ep = store
        .read_blob(&rec.image_id)
        .ok()
        .and_then(|b| ImageConfig::parse(&b).ok())
        .and_then(|c| c.config)
        .and_then(|c| c.entrypoint)
        .unwrap_or_default();
    let cmd = &rec.command;
    if !image_ep.is_empty() && cmd.starts_with(&image_ep) {
        let rest = &cmd[image_ep.len()..];
        (
            json!(image_ep),
            if rest.is_empty() {
                Value::Null
            } else {
                json!(rest)
            },
        )
    } else {
        (Value::Null, json!(cmd))
    }
}

fn signal_name(n: i32) -> String {
    nix::sys::signal::Signal::try_from(n)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| n.to_string())
}

fn state_json(rec: &ContainerRecord) -> Value {
    let s = &rec.state;
    let status = s.status.as_str();
    let live = matches!(status, "running" | "paused" | "restarting");
    let mut state = json!({
        "Status": status,
        "Running": live,
        "Paused": status == "paused",
        "Restarting": status == "restarting",
        "OOMKilled": s.oom_killed,
        "Dead": status == "dead",
        "Pid": if live { s.pid.unwrap_or(0) } else { 0 },
        "ExitCode": s.exit_code.unwrap_or(0),
        "Error": s.error,
        "StartedAt": docker_time(s.started_at.as_deref()),
        "FinishedAt": docker_time(s.finished_at.as_deref()),
    });
    if let Some(h) = &s.health {
        let log: Vec<Value> = h
            .log
            .iter()
            .map(|r| {
                json!({
                    "Start": docker_time(Some(&r.start)),
                    "End": docker_time(Some(&r.end)),
                    "ExitCode": r.exit_code,
                    "Output": r.output,
                })
            })
            .collect();
        state["Health"] = json!({
            "Status": h.status,
            "FailingStreak": h.failing_streak,
            "Log": log,
        });
    }
    state
}

fn mounts_json(mounts: &[MountView]) -> Value {
    Value::Array(
        mounts
            .iter()
            .map(|m| {
                let mut o = Map::new();
                o.insert("Type".into(), json!(m.kind));
                if let Some(n) = &m.name {
                    o.insert("Name".into(), json!(n));
                }
                o.insert("Source".into(), json!(m.source));
                o.insert("Destination".into(), json!(m.destination));
                if m.kind == "volume" {
                    o.insert("Driver".into(), json!("local"));
                }
                let mode = if m.kind == "volume" {
                    "z"
                } else if m.rw {
                    ""
                } else {
                    "ro"
                };
                o.insert("Mode".into(), json!(mode));
                o.insert("RW".into(), json!(m.rw));
                let prop = m
                    .options
                    .iter()
                    .find(|o| {
                        o.ends_with("private") || o.ends_with("shared") || o.ends_with("slave")
                    })
                    .filter(|_| m.kind == "bind")
                    .cloned()
                    .unwrap_or_default();
                o.insert("Propagation".into(), json!(prop));
                Value::Object(o)
            })
            .collect(),
    )
}

/// Capabilities added to and dropped from Docker's default set.
fn cap_changes(spec: Option<&Spec>) -> (Value, Value) {
    let Some(bounding) = spec
        .and_then(|s| s.process().as_ref())
        .and_then(|p| p.capabilities().as_ref())
        .and_then(|c| c.bounding().as_ref())
    else {
        return (Value::Null, Value::Null);
    };
    let mut add: Vec<&str> = bounding
        .iter()
        .filter(|c| !DEFAULT_CAPS.contains(c))
        .map(|c| cap_name(*c))
        .collect();
    let mut drop: Vec<&str> = DEFAULT_CAPS
        .iter()
        .filter(|c| !bounding.contains(c))
        .map(|c| cap_name(*c))
        .collect();
    add.sort();
    drop.sort();
    let list = |v: Vec<&str>| if v.is_empty() { Value::Null } else { json!(v) };
    (list(add), list(drop))
}

fn host_config(rec: &ContainerRecord, spec: Option<&Spec>, mounts: &[MountView]) -> Value {
    let linux = spec.and_then(|s| s.linux().as_ref());
    let binds: Vec<String> = mounts
        .iter()
        .filter(|m| m.kind == "bind" || (m.kind == "volume" && !is_anonymous(rec, m)))
        .map(|m| {
            let src = m.name.as_deref().unwrap_or(&m.source);
            let ro = if m.rw { "" } else { ":ro" };
            format!("{src}:{}{ro}", m.destination)
        })
        .collect();
    let tmpfs: BTreeMap<&str, String> = mounts
        .iter()
        .filter(|m| m.kind == "tmpfs")
        .map(|m| (m.destination.as_str(), m.options.join(",")))
        .collect();
    let (cap_add, cap_drop) = cap_changes(spec);
    let privileged = linux.is_some_and(|l| {
        l.masked_paths().as_ref().is_none_or(|p| p.is_empty())
            && l.readonly_paths().as_ref().is_none_or(|p| p.is_empty())
    });
    let res = spec
        .map(crate::runtime::spec::resources_of)
        .unwrap_or_default();
    let shm = spec
        .and_then(|s| s.mounts().as_ref())
        .and_then(|ms| ms.iter().find(|m| m.destination() == Path::new("/dev/shm")))
        .and_then(|m| m.options().as_ref())
        .and_then(|o| o.iter().find_map(|o| o.strip_prefix("size=")))
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0);
    let restart = if rec.restart.name.is_empty() {
        "no"
    } else {
        rec.restart.name.as_str()
    };
    json!({
        "Binds": if binds.is_empty() { Value::Null } else { json!(binds) },
        "LogConfig": {"Type": rec.log.driver, "Config": rec.log.options},
        "NetworkMode": network_mode(rec, spec),
        "PidMode": rec.pid_mode,
        "IpcMode": if rec.ipc_mode.is_empty() { "private" } else { rec.ipc_mode.as_str() },
        "UTSMode": rec.uts_mode,
        "PortBindings": crate::cmd::port::bindings_json(rec),
        "PublishAllPorts": rec.publish_all,
        "RestartPolicy": {"Name": restart, "MaximumRetryCount": rec.restart.max_retries},
        "AutoRemove": rec.auto_remove,
        "CapAdd": cap_add,
        "CapDrop": cap_drop,
        "Privileged": privileged,
        "CgroupnsMode": if own_namespace(spec, LinuxNamespaceType::Cgroup) {
            "private"
        } else {
            "host"
        },
        "ReadonlyRootfs": spec
            .and_then(|s| s.root().as_ref())
            .and_then(|r| r.readonly())
            .unwrap_or(false),
        "Init": spec
            .and_then(|s| s.annotations().as_ref())
            .is_some_and(|a| a.get(ANNOTATION_INIT).is_some_and(|v| v == "true")),
        "ShmSize": shm,
        "Tmpfs": if tmpfs.is_empty() { Value::Null } else { json!(tmpfs) },
        "CgroupParent": res.cgroup_parent,
        "BlkioWeight": res.blkio_weight,
        "BlkioWeightDevice": res.blkio_weight_device,
        "BlkioDeviceReadBps": res.blkio_device_read_bps,
        "BlkioDeviceWriteBps": res.blkio_device_write_bps,
        "BlkioDeviceReadIOps": res.blkio_device_read_iops,
        "BlkioDeviceWriteIOps": res.blkio_device_write_iops,
        "Memory": res.memory,
        "MemoryReservation": res.memory_reservation,
        "MemorySwap": res.memory_swap,
        "OomKillDisable": res.oom_kill_disable,
        "OomScoreAdj": spec
            .and_then(|s| s.process().as_ref())
            .and_then(|p| p.oom_score_adj())
            .unwrap_or(0),
        "NanoCpus": res.nano_cpus,
        "CpuShares": res.cpu_shares,
        "CpuPeriod": res.cpu_period,
        "CpuQuota": res.cpu_quota,
        "CpusetCpus": res.cpuset_cpus,
        "CpusetMems": res.cpuset_mems,
        "PidsLimit": res.pids_limit,
    })
}

fn is_anonymous(rec: &ContainerRecord, m: &MountView) -> bool {
    m.name
        .as_ref()
        .is_some_and(|n| rec.anonymous_volumes.contains(n))
}

fn config_json(
    store: &Store,
    rec: &ContainerRecord,
    spec: Option<&Spec>,
    labels: &BTreeMap<String, String>,
) -> Value {
    let process = spec.and_then(|s| s.process().as_ref());
    let user = process
        .map(|p| (p.user().uid(), p.user().gid()))
        .filter(|(u, g)| *u != 0 || *g != 0)
        .map(|(u, g)| format!("{u}:{g}"))
        .unwrap_or_default();
    let cwd = process
        .map(|p| p.cwd().display().to_string())
        .filter(|c| c != "/")
        .unwrap_or_default();
    let (entrypoint, cmd) = entrypoint_and_cmd(store, rec);
    let mut c = json!({
        "Hostname": spec.and_then(|s| s.hostname().clone()).unwrap_or_default(),
        "Domainname": spec.and_then(|s| s.domainname().clone()).unwrap_or_default(),
        "User": user,
        "Tty": rec.tty,
        "OpenStdin": rec.interactive,
        "Env": process.and_then(|p| p.env().clone()),
        "Cmd": cmd,
        "Image": rec.image,
        "WorkingDir": cwd,
        "Entrypoint": entrypoint,
        "Labels": labels,
    });
    if let Some(h) = &rec.healthcheck {
        // Docker's place for it: right after Cmd.
        if let Value::Object(m) = c.take() {
            let mut out = Map::new();
            for (k, v) in m {
                let after_cmd = k == "Cmd";
                out.insert(k, v);
                if after_cmd {
                    out.insert("Healthcheck".into(), json!(h));
                }
            }
            c = Value::Object(out);
        }
    }
    // Docker leaves it out when there are none.
    if let Some(e) = rec.config.as_ref().and_then(|c| c.get("ExposedPorts")) {
        c["ExposedPorts"] = e.clone();
    }
    if let Some(sig) = rec.stop_signal {
        c["StopSignal"] = json!(signal_name(sig));
    }
    if let Some(t) = rec.stop_timeout {
        c["StopTimeout"] = json!(t);
    }
    c
}

/// Docker's JSON for one container; `size` adds `SizeRw` and `SizeRootFs`.
pub fn container_json(store: &Store, rec: &ContainerRecord, size: bool) -> Value {
    let spec = load_spec(store, &rec.id);
    let spec = spec.as_ref();
    let dir = store.container_dir(&rec.id);
    let labels = labels(rec, spec);
    let mounts = mounts(store, rec, spec);
    // The storage driver's view: from the bundle's annotation, read as
    // `cp` reads it.
    let overlay = crate::container::fs::overlay_of(store, rec).ok();
    let driver = overlay.as_ref().map(|o| o.driver).unwrap_or_default();
    let lower: Vec<String> = match &overlay {
        Some(o) => o.lower.iter().map(|l| l.display().to_string()).collect(),
        None => rec
            .layers
            .iter()
            .rev()
            .map(|l| store.layer_dir(l).display().to_string())
            .collect(),
    };
    let path_of = |f: &str| dir.join(f).display().to_string();
    let mut out = Map::new();
    out.insert("Id".into(), json!(rec.id));
    out.insert("Created".into(), json!(docker_time(Some(&rec.created))));
    out.insert("Path".into(), json!(rec.command.first()));
    out.insert("Args".into(), json!(rec.command.get(1..).unwrap_or(&[])));
    out.insert("State".into(), state_json(rec));
    out.insert("Image".into(), json!(rec.image_id.to_string()));
    out.insert("ResolvConfPath".into(), json!(path_of("resolv.conf")));
    out.insert("HostnamePath".into(), json!(path_of("hostname")));
    out.insert("HostsPath".into(), json!(path_of("hosts")));
    out.insert(
        "LogPath".into(),
        json!(log_path(&dir, &rec.id, &rec.log)
            .map(|p| p.display().to_string())
            .unwrap_or_default()),
    );
    out.insert("Name".into(), json!(format!("/{}", rec.name)));
    out.insert("RestartCount".into(), json!(rec.state.restart_count));
    out.insert("Driver".into(), json!(driver.name()));
    out.insert("Platform".into(), json!("linux"));
    out.insert("MountLabel".into(), json!(""));
    out.insert("ProcessLabel".into(), json!(""));
    out.insert("AppArmorProfile".into(), json!(""));
    out.insert("ExecIDs".into(), Value::Null);
    out.insert("HostConfig".into(), host_config(rec, spec, &mounts));
    out.insert(
        "GraphDriver".into(),
        if driver == crate::store::driver::Driver::Vfs {
            json!({"Name": driver.name(), "Data": {"Dir": path_of("rootfs")}})
        } else {
            json!({"Name": driver.name(), "Data": {
                "LowerDir": lower.join(":"),
                "MergedDir": path_of("rootfs"),
                "UpperDir": path_of("upper"),
                "WorkDir": path_of("work"),
            }})
        },
    );
    if size {
        let rw = upper_size(store, &rec.id);
        out.insert("SizeRw".into(), json!(rw));
        out.insert("SizeRootFs".into(), json!(rw + image_size(store, rec)));
    }
    out.insert("Mounts".into(), mounts_json(&mounts));
    out.insert("Config".into(), config_json(store, rec, spec, &labels));
    let sandbox = match (rec.state.status.as_str(), rec.state.pid) {
        ("running" | "paused", Some(pid)) if network_mode(rec, spec) != "host" => {
            format!("/proc/{pid}/ns/net")
        }
        _ => String::new(),
    };
    // Docker's top-level fields are the first network's (the default
    // `bridge` one, when the container is on it).
    let first = rec
        .networks
        .first()
        .and_then(|n| rec.state.endpoints.get(n));
    let networks: serde_json::Map<String, Value> = rec
        .networks
        .iter()
        .map(|n| {
            let e = rec.state.endpoints.get(n);
            let want = rec.endpoint_config_of(n);
            let endpoint_id = e
                .map(|e| crate::store::endpoint_id(&e.network_id, &rec.id))
                .unwrap_or_default();
            (
                n.clone(),
                json!({
                    "IPAMConfig": want.ip.as_ref().map(|ip| json!({"IPv4Address": ip})),
                    "Links": null,
                    "Aliases": (!want.aliases.is_empty()).then_some(&want.aliases),
                    "MacAddress": e.map_or(want.mac.as_deref().unwrap_or(""), |e| e.mac.as_str()),
                    "NetworkID": e.map_or("", |e| e.network_id.as_str()),
                    "EndpointID": endpoint_id,
                    "Gateway": e.map_or("", |e| e.gateway.as_str()),
                    "IPAddress": e.map_or("", |e| e.ip.as_str()),
                    "IPPrefixLen": e.map_or(0, |e| e.prefix_len),
                    "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                }),
            )
        })
        .collect();
    out.insert(
        "NetworkSettings".into(),
        json!({
            "Bridge": "", "SandboxID": "", "SandboxKey": sandbox,
            "Ports": crate::cmd::port::ports_json(rec),
            "Gateway": first.map_or("", |e| e.gateway.as_str()),
            "IPAddress": first.map_or("", |e| e.ip.as_str()),
            "IPPrefixLen": first.map_or(0, |e| e.prefix_len),
            "MacAddress": first.map_or("", |e| e.mac.as_str()),
            "Networks": networks,
        }),
    );
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_like_go() {
        assert_eq!(docker_time(None), ZERO_TIME);
        assert_eq!(docker_time(Some("garbage")), ZERO_TIME);
        assert_eq!(
            docker_time(Some("2026-01-02T03:04:05.120000000Z")),
            "2026-01-02T03:04:05.12Z"
        );
        assert_eq!(
            docker_time(Some("2026-01-02T03:04:05.000000000Z")),
            "2026-01-02T03:04:05Z"
        );
        assert_eq!(
            docker_time(Some("2026-01-02T04:04:05.5+01:00")),
            "2026-01-02T03:04:05.5Z"
        );
    }
}
