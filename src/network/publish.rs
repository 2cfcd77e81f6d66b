//! Publishing a container's ports at each start, daemonlessly: whoever
//! owns the running container (its monitor, or the foreground `skiff
//! run`) holds a bound socket on every published host address and port
//! for as long as the container runs. The socket never listens (the
//! packets are DNAT'd before they could reach it): it reserves the port
//! against every other program and every other container, makes a
//! conflict show before anything is made, and lets the kernel pick the
//! free port `-p 80` and `-P` ask for. Then the container joins its
//! networks and its rules (`ports`) go in, DNAT'ing to its new address.
//!
//! A file `published/<id>` in the store names the bridge of a container
//! whose rules are in: its end (`setup::disconnect`, also run for a lost
//! container by the next command) takes the rules out when the file is
//! there, and costs a container without ports one `stat`.

use super::ports::{self, PortRules};
use super::setup;
use crate::store::containers::Endpoint;
use crate::store::ports::{split_key, PortBinding, PublishedPort};
use crate::store::{ContainerRecord, Store};
use anyhow::{anyhow, Context, Result};
use rustix::io::Errno;
use rustix::net::{
    bind, getsockname, ipproto, socket_with, AddressFamily, SocketFlags, SocketType,
};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::OwnedFd;
use std::path::PathBuf;

/// The ports of one start, held until the container ends (dropping this
/// lets them go).
#[derive(Debug, Default)]
pub struct Published {
    pub ports: Vec<PublishedPort>,
    _held: Vec<OwnedFd>,
}

/// What container `rec` publishes: its `-p` bindings, and with `-P`
/// every exposed port without one, on a free host port.
pub fn wanted(rec: &ContainerRecord) -> Vec<PortBinding> {
    let mut out = rec.port_bindings.clone();
    if rec.publish_all {
        let exposed = rec
            .config
            .as_ref()
            .and_then(|c| c.get("ExposedPorts"))
            .and_then(|e| e.as_object());
        for key in exposed.into_iter().flat_map(|e| e.keys()) {
            if let Some((port, proto)) = split_key(key) {
                if !out.iter().any(|b| b.port == port && b.proto == proto) {
                    out.push(PortBinding {
                        port,
                        proto,
                        ..Default::default()
                    });
                }
            }
        }
    }
    out
}

/// Join container `rec` to its networks (`setup::connect`) with its
/// ports published: reserved first, so that a port taken leaves nothing
/// made; its rules in once its address is known. Without ports (or
/// without networks: host, none, rootless), exactly `setup::connect`.
pub fn connect(
    store: &Store,
    rec: &ContainerRecord,
) -> Result<(BTreeMap<String, Endpoint>, Published)> {
    let wanted = wanted(rec);
    let stack = super::userspace::parse_mode(&rec.network_mode).is_some()
        || (crate::config::is_rootless() && !rec.networks.is_empty());
    if !wanted.is_empty() && stack {
        // A user-space stack binds the host's ports itself: they are
        // picked (and checked free) here, and let go just before.
        let picked = reserve(store, rec, &wanted, true)?;
        let ports = picked.ports.clone();
        drop(picked);
        let endpoints = setup::connect_forwarding(store, rec, &ports)?;
        return Ok((
            endpoints,
            Published {
                ports,
                _held: Vec::new(),
            },
        ));
    }
    if wanted.is_empty() || rec.networks.is_empty() {
        let endpoints = setup::connect(store, rec)?;
        forward_dns(store, rec, &endpoints);
        return Ok((endpoints, Published::default()));
    }
    let on = || {
        format!(
            "driver failed programming external connectivity on endpoint {}",
            rec.name
        )
    };
    let held = reserve(store, rec, &wanted, false).with_context(on)?;
    let endpoints = setup::connect(store, rec)?;
    if let Err(e) = publish(store, rec, &endpoints, &held.ports) {
        // Its rules, lease and namespace go with it.
        setup::disconnect(store, &rec.id);
        return Err(e.context(on()));
    }
    forward_dns(store, rec, &endpoints);
    Ok((endpoints, held))
}

fn marker(store: &Store, id: &str) -> PathBuf {
    store.root().join("published").join(id)
}

/// The rules for the ports `held` on the container's first network
/// (none on an `--internal` one, which nothing outside may reach).
fn publish(
    store: &Store,
    rec: &ContainerRecord,
    endpoints: &BTreeMap<String, Endpoint>,
    held: &[PublishedPort],
) -> Result<()> {
    let first = rec.networks.first().map(String::as_str).unwrap_or_default();
    let net = if first == "bridge" {
        store.default_network()?
    } else {
        store.find_network(first)?
    };
    if net.internal {
        return Ok(());
    }
    let ip: Ipv4Addr = endpoints
        .get(&net.name)
        .and_then(|e| e.ip.parse().ok())
        .ok_or_else(|| anyhow!("container {} has no address on {}", rec.name, net.name))?;
    // Named before the rules go in: a crash in between leaves a file
    // whose removal finds nothing to take out, never rules unnamed.
    write_marker(store, &rec.id, &net.bridge, false)?;
    // Its own published ports through the host's address (hairpin): a
    // bridge that filters through the IP hooks (br_netfilter) sends the
    // DNAT'd packet back out the port it came in by, which bridge ports
    // refuse unless told.
    let hairpin = format!(
        "/sys/class/net/{}/brport/hairpin_mode",
        setup::host_veth(&rec.id, 0)
    );
    std::fs::write(&hairpin, "1").with_context(|| format!("write {hairpin}"))?;
    ports::install(&PortRules {
        id: &rec.id,
        ip,
        subnet: &net.subnet,
        bridge: &net.bridge,
        ports: held,
    })
}

/// A container whose resolv.conf names its first network's gateway for
/// the host's loopback resolver (`ContainerRecord::dns_forward`): the
/// rules taking its DNS there. A failure is a warning: the container
/// runs, without names from outside.
fn forward_dns(store: &Store, rec: &ContainerRecord, endpoints: &BTreeMap<String, Endpoint>) {
    if let Err(e) = try_forward_dns(store, rec, endpoints) {
        eprintln!("skiff: warning: container {}: {e:#}", rec.name);
    }
}

fn try_forward_dns(
    store: &Store,
    rec: &ContainerRecord,
    endpoints: &BTreeMap<String, Endpoint>,
) -> Result<()> {
    let Some(f) = &rec.dns_forward else {
        return Ok(());
    };
    let Some(first) = rec.networks.first() else {
        return Ok(());
    };
    let net = store.find_network(first)?;
    // Its first network is another now (the one it was made with was
    // left): no gateway of it to forward.
    if net.gateway != f.gateway || net.internal {
        return Ok(());
    }
    let parse = |s: &str| -> Result<Ipv4Addr> {
        s.parse()
            .map_err(|_| anyhow!("bad address {s:?} to forward DNS with"))
    };
    let ip = endpoints
        .get(&net.name)
        .map(|e| parse(&e.ip))
        .transpose()?
        .ok_or_else(|| anyhow!("no address on {}", net.name))?;
    // The host's resolver as it is now (a restart after the host changed
    // it forwards to the new one); the one it was made with when the host
    // has none on loopback any more.
    let now =
        crate::runtime::create::loopback_resolver(&crate::runtime::create::host_resolv(false));
    let rules = ports::DnsRules {
        id: &rec.id,
        ip,
        gateway: parse(&f.gateway)?,
        bridge: &net.bridge,
        to: parse(now.as_deref().unwrap_or(&f.to))?,
        accept_input: ports::input_drops(),
    };
    // Named before the rules go in, as published ports are (the same
    // file when it has both).
    write_marker(store, &rec.id, &net.bridge, rules.accept_input)?;
    ports::install_dns(&rules)
}

/// The marker's lines besides the bridge: the tool the rules went into
/// (whoever takes them out may have another configured), and whether
/// iptables' INPUT got accepts beside nft.
const IN_IPTABLES: &str = "rules=iptables";
const IN_NFT: &str = "rules=nft";
const INPUT_ACCEPTS: &str = "input-accepts";

/// Name container `id`'s rules before they go in: a crash in between
/// leaves a file whose removal finds nothing to take out, never rules
/// unnamed.
fn write_marker(store: &Store, id: &str, bridge: &str, input_accepts: bool) -> Result<()> {
    let m = marker(store, id);
    crate::util::fs::mkdir_all(m.parent().unwrap_or(&m), 0o700)?;
    let mut text = format!(
        "{bridge}\n{}\n",
        if ports::uses_iptables() {
            IN_IPTABLES
        } else {
            IN_NFT
        }
    );
    if input_accepts {
        text.push_str(INPUT_ACCEPTS);
        text.push('\n');
    }
    crate::util::fs::atomic_write_volatile(&m, text.as_bytes())
}

/// The hook of `setup::disconnect`: container `id`'s rules out, if it
/// had any. Best effort.
pub fn unpublish(store: &Store, id: &str) {
    let m = marker(store, id);
    let Ok(text) = std::fs::read_to_string(&m) else {
        return;
    };
    let mut lines = text.lines().map(str::trim);
    let bridge = lines.next().unwrap_or_default();
    let flags: Vec<&str> = lines.collect();
    // A marker written before the tool was named: the one configured.
    let iptables =
        flags.contains(&IN_IPTABLES) || (!flags.contains(&IN_NFT) && ports::uses_iptables());
    if ports::remove(id, bridge, iptables, flags.contains(&INPUT_ACCEPTS)).is_ok() {
        let _ = std::fs::remove_file(&m);
    }
}

/// A socket bound to each wanted host address and port.
/// `probe`: the ports are only picked and checked free, for a stack that
/// binds them itself, as it does with SO_REUSEADDR: a connection of the
/// last container's still in TIME_WAIT does not hold them then, while a
/// listener does.
fn reserve(
    store: &Store,
    rec: &ContainerRecord,
    wanted: &[PortBinding],
    probe: bool,
) -> Result<Published> {
    let mut out = Published::default();
    for b in wanted {
        let ip: Ipv4Addr = if b.host_ip.is_empty() {
            Ipv4Addr::UNSPECIFIED
        } else {
            b.host_ip
                .parse()
                .map_err(|_| anyhow!("Invalid ip address: {}", b.host_ip))?
        };
        let (first, last) = match b.host_port.split_once('-') {
            Some((a, z)) => (a.parse().unwrap_or(0), z.parse().unwrap_or(0)),
            None => {
                let p = b.host_port.parse().unwrap_or(0);
                (p, p)
            }
        };
        let mut last_err = Errno::ADDRINUSE;
        let mut got = None;
        for port in first..=last.max(first) {
            match hold(ip, port, &b.proto, probe) {
                Ok(h) => {
                    got = Some(h);
                    break;
                }
                Err(e) => last_err = e,
            }
        }
        let Some((fd, port)) = got else {
            let shown = if b.host_port.is_empty() {
                "0"
            } else {
                &b.host_port
            };
            return Err(refusal(store, rec, ip, shown, &b.proto, last_err));
        };
        out.ports.push(PublishedPort {
            port: b.port,
            proto: b.proto.clone(),
            host_ip: ip.to_string(),
            host_port: port,
        });
        out._held.extend(fd);
    }
    Ok(out)
}

/// A socket of `proto` bound to `ip:port` (0: a free port), and the port.
/// `None` for a protocol this kernel has no sockets for (SCTP without its
/// module): published unreserved then.
fn hold(
    ip: Ipv4Addr,
    port: u16,
    proto: &str,
    reuse: bool,
) -> Result<(Option<OwnedFd>, u16), Errno> {
    let (ty, p) = match proto {
        "udp" => (SocketType::DGRAM, ipproto::UDP),
        "sctp" => (SocketType::STREAM, ipproto::SCTP),
        _ => (SocketType::STREAM, ipproto::TCP),
    };
    // Close-on-exec: the container must not inherit it.
    let fd = match socket_with(AddressFamily::INET, ty, SocketFlags::CLOEXEC, Some(p)) {
        Ok(fd) => fd,
        Err(Errno::PROTONOSUPPORT | Errno::SOCKTNOSUPPORT) if port != 0 => return Ok((None, port)),
        Err(e) => return Err(e),
    };
    if reuse {
        rustix::net::sockopt::set_socket_reuseaddr(&fd, true)?;
    }
    bind(&fd, &SocketAddrV4::new(ip, port))?;
    let port = SocketAddrV4::try_from(getsockname(&fd)?)
        .map_err(|_| Errno::AFNOSUPPORT)?
        .port();
    Ok((Some(fd), port))
}

/// Docker's words for a port that cannot be had: taken by another
/// container (of this store), or by some other program.
fn refusal(
    store: &Store,
    rec: &ContainerRecord,
    ip: Ipv4Addr,
    port: &str,
    proto: &str,
    err: Errno,
) -> anyhow::Error {
    let by_container = err == Errno::ADDRINUSE
        && store.containers().unwrap_or_default().iter().any(|c| {
            c.id != rec.id
                && c.state.ports.iter().any(|p| {
                    p.proto == proto
                        && port.split('-').any(|x| x == p.host_port.to_string())
                        && (p.host_ip == ip.to_string()
                            || p.host_ip == "0.0.0.0"
                            || ip.is_unspecified())
                })
        });
    if by_container {
        anyhow!("Bind for {ip}:{port} failed: port is already allocated")
    } else {
        let what = match err {
            Errno::ADDRINUSE => "address already in use".to_string(),
            Errno::ADDRNOTAVAIL => "cannot assign requested address".to_string(),
            e => {
                let text = std::io::Error::from(e).to_string();
                match text.split_once(" (os error") {
                    Some((t, _)) => t.to_lowercase(),
                    None => text,
                }
            }
        };
        let net = format!("{proto}4");
        anyhow!("Error starting userland proxy: listen {net} {ip}:{port}: bind: {what}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_port_is_refused_to_the_next() {
        let lo = Ipv4Addr::LOCALHOST;
        let (fd, port) = hold(lo, 0, "tcp", false).unwrap();
        assert!(fd.is_some() && port != 0);
        assert_eq!(hold(lo, port, "tcp", false).unwrap_err(), Errno::ADDRINUSE);
        // Every address covers the one.
        assert_eq!(
            hold(Ipv4Addr::UNSPECIFIED, port, "tcp", false).unwrap_err(),
            Errno::ADDRINUSE
        );
        // Another protocol is another port.
        let (u, _) = hold(lo, port, "udp", false).unwrap();
        drop((fd, u));
    }

    #[test]
    fn publish_all_adds_the_exposed_ports() {
        let rec: ContainerRecord = serde_json::from_value(serde_json::json!({
            "id": "a", "name": "a", "image": "i", "image_id": format!("sha256:{}", "0".repeat(64)),
            "layers": [], "created": "", "command": [],
            "config": {"ExposedPorts": {"80/tcp": {}, "53/udp": {}}},
            "port_bindings": [{"port": 80, "proto": "tcp", "host_port": "8080"}],
            "publish_all": true,
            "state": {"status": "created"},
        }))
        .unwrap();
        let w = wanted(&rec);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].host_port, "8080");
        assert_eq!(
            (w[1].port, w[1].proto.as_str(), w[1].host_port.as_str()),
            (53, "udp", "")
        );
    }
}
