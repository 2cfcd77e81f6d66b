//! Network records: `networks/<name>.json`, one per network, each
//! network's address leases beside it in `networks/<name>.leases` (see
//! `leases.rs`). Every change happens under `locks/networks.lock`, a leaf
//! lock: nothing else is taken while it is held. Readers need no lock, as
//! every write is a rename.
//!
//! The predefined networks are Docker's: `bridge` (the default, on the
//! host bridge `skiff0`), `host` and `none`. Their records are made
//! together, the first time any of them is asked for.

use super::subnet::{default_pool, pick_subnet, user_pool, Ipv4Net};
use super::Store;
use crate::error::{kind_err, ErrorKind};
use crate::util::fs::{atomic_write, fsync_dir, mkdir_all};
use crate::util::lock::{lock_exclusive, LockGuard};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// The network containers join when not told otherwise.
pub const DEFAULT_NETWORK: &str = "bridge";
/// The host interface of the default network.
pub const DEFAULT_BRIDGE: &str = "skiff0";
/// The system's store, whose default network has `DEFAULT_BRIDGE`.
const SYSTEM_ROOT: &str = "/var/lib/skiff";
/// Networks that always exist and are never removed (Docker's three).
pub const PREDEFINED_NETWORKS: [&str; 3] = ["bridge", "host", "none"];
/// Docker's option naming the host bridge of a network.
pub const BRIDGE_NAME_OPTION: &str = "com.docker.network.bridge.name";
/// The options that set a network's MTU: Docker's and Podman's names.
pub const MTU_OPTIONS: [&str; 2] = ["com.docker.network.driver.mtu", "mtu"];

/// An MTU option's value: a number from 68 (IPv4's least) to 65535.
fn parse_mtu(v: &str) -> Result<u32> {
    match v.trim().parse::<u32>() {
        Ok(m) if (68..=65535).contains(&m) => Ok(m),
        _ => Err(kind_err(
            ErrorKind::InvalidArgument,
            format!("invalid mtu {v:?}: a number from 68 to 65535"),
        )),
    }
}

/// A network as the store keeps it. Field names are Docker's where
/// `network inspect` shows them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct NetworkRecord {
    /// 64 hex digits.
    pub id: String,
    pub name: String,
    /// `bridge`; `host` and `null` for the predefined `host` and `none`.
    pub driver: String,
    /// RFC 3339, UTC.
    pub created: String,
    /// `10.89.1.0/24`; empty for `host` and `none`.
    #[serde(default)]
    pub subnet: String,
    /// `10.89.1.1`; empty for `host` and `none`.
    #[serde(default)]
    pub gateway: String,
    /// The host interface: `skiff0` for `bridge`, `skf-` and the first 8
    /// hex digits of the id for user networks (interface names hold 15
    /// bytes), or what `-o com.docker.network.bridge.name` said.
    #[serde(default)]
    pub bridge: String,
    /// `--internal`: no route out of the network.
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// `--ip-range`: where addresses are given from (inside the subnet);
    /// empty for the whole subnet.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ip_range: String,
    /// `--aux-address NAME=IP`: addresses never given to a container.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aux_addresses: BTreeMap<String, String>,
    /// `--attachable` (shown, as every bridge network can be joined).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub attachable: bool,
    /// `--ipam-opt`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ipam_options: BTreeMap<String, String>,
}

impl NetworkRecord {
    /// `bridge`, `host` or `none`.
    pub fn is_predefined(&self) -> bool {
        PREDEFINED_NETWORKS.contains(&self.name.as_str())
    }

    /// The subnet, None for a network without addresses.
    pub fn ipv4_subnet(&self) -> Option<Ipv4Net> {
        Ipv4Net::parse(&self.subnet)
    }

    /// The addresses containers get automatically: the `--ip-range`, or
    /// the whole subnet; never its network or broadcast address, the
    /// gateway or an `--aux-address`.
    pub fn pool(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        let subnet = self.ipv4_subnet();
        let range = Ipv4Net::parse(&self.ip_range).or(subnet);
        let mut reserved: Vec<Ipv4Addr> = Vec::new();
        if let Some(s) = subnet {
            reserved.extend([s.network(), s.broadcast()]);
        }
        reserved.extend(self.gateway_ip());
        reserved.extend(self.aux_ips());
        // An empty range (1..=0) for a network without addresses.
        let (lo, hi) = range.map_or((1, 0), |r| {
            (u32::from(r.network()), u32::from(r.broadcast()))
        });
        (lo..=hi)
            .map(Ipv4Addr::from)
            .filter(move |ip| !reserved.contains(ip))
    }

    /// The `--aux-address` addresses.
    pub fn aux_ips(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.aux_addresses.values().filter_map(|a| a.parse().ok())
    }

    pub fn gateway_ip(&self) -> Option<Ipv4Addr> {
        self.gateway.parse().ok()
    }

    /// The MTU its bridge and veths are given (`-o mtu=`); `None`: the
    /// kernel's default.
    pub fn mtu(&self) -> Option<u32> {
        MTU_OPTIONS
            .iter()
            .find_map(|k| self.options.get(*k))
            .and_then(|v| parse_mtu(v).ok())
    }
}

/// What `network create` asks for.
#[derive(Debug, Clone, Default)]
pub struct NetworkSpec {
    pub name: String,
    /// `bridge` (empty means the same).
    pub driver: String,
    /// `--subnet`: an IPv4 CIDR with the host bits zero.
    pub subnet: Option<String>,
    /// `--gateway`: inside the subnet (which must then be given).
    pub gateway: Option<String>,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    /// `--ip-range`: a CIDR inside the subnet (which must then be given).
    pub ip_range: Option<String>,
    /// `--aux-address NAME=IP`, inside the subnet.
    pub aux_addresses: BTreeMap<String, String>,
    pub attachable: bool,
    /// `--ipam-driver`: `default` (empty means the same).
    pub ipam_driver: String,
    pub ipam_options: BTreeMap<String, String>,
}

/// Network names: Docker's rule for object names, and short enough to
/// make a file name of.
pub fn valid_network_name(name: &str) -> bool {
    let mut c = name.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphanumeric())
        && name.len() <= 200
        && c.all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '-'))
}

/// A host interface name the kernel takes: 1 to 15 bytes, no `/`, no
/// white space, not `.` or `..`.
fn valid_interface_name(name: &str) -> bool {
    (1..=15).contains(&name.len())
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn invalid_config(msg: String) -> anyhow::Error {
    kind_err(
        ErrorKind::InvalidArgument,
        format!("invalid network config: {msg}"),
    )
}

/// `--subnet`, checked with Docker's words.
fn validate_subnet(s: &str) -> Result<Ipv4Net> {
    if Ipv4Net::parse_cidr(s).is_none() && s.contains(':') && s.contains('/') {
        return Err(invalid_config(format!(
            "invalid subnet {s}: only IPv4 subnets are supported"
        )));
    }
    let net = cidr_block("subnet", s)?;
    let prefix = net.prefix();
    // A /31 or /32 has no address besides its network's and broadcast
    // one, so no room for the gateway and a container.
    if prefix > 30 {
        return Err(invalid_config(format!(
            "invalid subnet {s}: too small for a gateway and a container (at most /30)"
        )));
    }
    Ok(net)
}

/// `--gateway`, checked against its subnet with Docker's words.
fn validate_gateway(g: &str, subnet: &Ipv4Net) -> Result<Ipv4Addr> {
    let ip: Ipv4Addr = g
        .parse()
        .map_err(|_| invalid_config(format!("invalid gateway {g}: invalid address")))?;
    if !subnet.contains(ip) {
        return Err(invalid_config(format!(
            "invalid gateway {g}: parent subnet {subnet} doesn't contain this address"
        )));
    }
    if ip == subnet.network() || ip == subnet.broadcast() {
        return Err(invalid_config(format!(
            "invalid gateway {g}: the network or broadcast address of {subnet}"
        )));
    }
    Ok(ip)
}

fn needs_subnet() -> anyhow::Error {
    kind_err(
        ErrorKind::InvalidArgument,
        "every ip-range or gateway must have a corresponding subnet",
    )
}

/// A CIDR block with its host bits zero (`what`: the flag, for the
/// error's words).
fn cidr_block(what: &str, s: &str) -> Result<Ipv4Net> {
    let Some((addr, prefix)) = Ipv4Net::parse_cidr(s) else {
        return Err(invalid_config(format!(
            "invalid {what} {s}: invalid CIDR block notation"
        )));
    };
    let net = Ipv4Net::new(addr, prefix).expect("a parsed prefix is at most 32");
    if net.network() != addr {
        return Err(invalid_config(format!(
            "invalid {what} {s}: it should be {net}"
        )));
    }
    Ok(net)
}

/// `--ip-range`: a CIDR block wholly inside `subnet`.
fn validate_range(r: &str, subnet: &Ipv4Net) -> Result<Ipv4Net> {
    let net = cidr_block("ip-range", r)?;
    if !(subnet.contains(net.network()) && subnet.contains(net.broadcast())) {
        return Err(kind_err(
            ErrorKind::InvalidArgument,
            format!("no matching subnet for range {r}"),
        ));
    }
    Ok(net)
}

/// 32 random bytes as 64 hex digits.
fn random_id() -> String {
    let mut buf = [0u8; 32];
    let read = fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf));
    if read.is_err() {
        // No /dev (a broken chroot): time and pid, hashed, still differ
        // between any two calls that could race.
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let seed = format!("{}-{}-{n}", t.as_nanos(), std::process::id());
        return crate::digest::Digest::of(seed.as_bytes()).hex().to_string();
    }
    hex::encode(buf)
}

impl Store {
    pub(super) fn networks_dir(&self) -> PathBuf {
        self.root().join("networks")
    }

    fn network_path(&self, name: &str) -> PathBuf {
        self.networks_dir().join(format!("{name}.json"))
    }

    /// Taken by every change to network records and leases.
    pub(super) fn lock_networks(&self) -> Result<LockGuard> {
        lock_exclusive(&self.locks_dir().join("networks.lock"))
    }

    /// The record of the network named `name`, if there is one.
    pub(super) fn read_network(&self, name: &str) -> Result<Option<NetworkRecord>> {
        if !valid_network_name(name) {
            return Ok(None);
        }
        let p = self.network_path(name);
        match fs::read(&p) {
            Ok(b) => Ok(Some(
                serde_json::from_slice(&b).with_context(|| format!("parse {}", p.display()))?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("read {}", p.display())),
        }
    }

    /// The names of the records in `networks/` (temp files left out).
    pub(super) fn network_names(&self) -> Result<Vec<String>> {
        Ok(super::scratch::list_names(&self.networks_dir())?
            .into_iter()
            .filter(|n| !n.starts_with('.'))
            .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
            .collect())
    }

    /// Every record on disk, by name.
    fn stored_networks(&self) -> Result<Vec<NetworkRecord>> {
        let mut out = Vec::new();
        for name in self.network_names()? {
            if let Some(r) = self.read_network(&name)? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// The default network (`bridge`), its record made if this is the
    /// first time it is asked for (with `host` and `none`): the first /16
    /// of `10.87.0.0/16`, `10.86.0.0/16`, ... that no host route and no
    /// other network overlaps.
    pub fn default_network(&self) -> Result<NetworkRecord> {
        if let Some(r) = self.read_network(DEFAULT_NETWORK)? {
            return Ok(r);
        }
        let _machine = super::claims::lock()?;
        let rec = self.default_network_with_routes(&super::claims::taken(self.root())?)?;
        if let Some(s) = rec.ipv4_subnet() {
            super::claims::claim(self.root(), &rec.name, &s)?;
        }
        Ok(rec)
    }

    /// The default network's bridge: `skiff0` for the system's store;
    /// another store (`--root`) gets one of its own, named after its path,
    /// so two stores never share a bridge with two subnets.
    pub fn default_bridge(&self) -> String {
        if self.root() == std::path::Path::new(SYSTEM_ROOT) {
            return DEFAULT_BRIDGE.into();
        }
        let h = crate::digest::Digest::of(self.root().as_os_str().as_encoded_bytes());
        format!("skiff-{}", &h.hex()[..8])
    }

    /// [`Store::default_network`] with the host's routes given.
    pub fn default_network_with_routes(&self, routes: &[Ipv4Net]) -> Result<NetworkRecord> {
        let _lock = self.lock_networks()?;
        let mut stored = self.stored_networks()?;
        for (name, driver) in [("host", "host"), ("none", "null")] {
            if !stored.iter().any(|n| n.name == name) {
                let rec = NetworkRecord {
                    id: self.fresh_id(&stored),
                    name: name.into(),
                    driver: driver.into(),
                    created: super::containers::now(),
                    ..Default::default()
                };
                self.write_network_locked(&rec)?;
                stored.push(rec);
            }
        }
        // Written last: its record says all three are there.
        if let Some(r) = stored.iter().find(|n| n.name == DEFAULT_NETWORK) {
            return Ok(r.clone());
        }
        let taken: Vec<Ipv4Net> = stored.iter().filter_map(|n| n.ipv4_subnet()).collect();
        let subnet = pick_subnet(default_pool(), routes, &taken).ok_or_else(|| {
            kind_err(
                ErrorKind::InvalidState,
                "create the default network: no /16 of 10.0.0.0/8 from 10.87.0.0/16 down is free of the host's routes and other networks",
            )
        })?;
        let options = BTreeMap::from([
            (
                "com.docker.network.bridge.default_bridge".to_string(),
                "true".to_string(),
            ),
            (BRIDGE_NAME_OPTION.to_string(), self.default_bridge()),
        ]);
        let rec = NetworkRecord {
            id: self.fresh_id(&stored),
            name: DEFAULT_NETWORK.into(),
            driver: "bridge".into(),
            created: super::containers::now(),
            subnet: subnet.to_string(),
            gateway: subnet.first_host().to_string(),
            bridge: self.default_bridge(),
            options,
            ..Default::default()
        };
        self.write_network_locked(&rec)?;
        Ok(rec)
    }

    /// An id no stored network has, whose `skf-` bridge name is free too.
    fn fresh_id(&self, stored: &[NetworkRecord]) -> String {
        loop {
            let id = random_id();
            let clash = stored.iter().any(|n| {
                n.id.get(..8) == Some(&id[..8]) || n.bridge == format!("skf-{}", &id[..8])
            });
            if !clash {
                return id;
            }
        }
    }

    /// Replace a record on disk (the networks lock held). A stale leases
    /// file of an earlier network of the name (a crash between removing
    /// the two) goes first, so the new network starts with none.
    fn write_network_locked(&self, rec: &NetworkRecord) -> Result<()> {
        mkdir_all(&self.networks_dir(), 0o700)?;
        self.remove_leases_file(&rec.name)?;
        atomic_write(
            &self.network_path(&rec.name),
            &serde_json::to_vec_pretty(rec)?,
        )
        .with_context(|| format!("write the record of network {}", rec.name))
    }

    /// Every network, by name: the predefined ones (made if need be) and
    /// the user's.
    pub fn networks(&self) -> Result<Vec<NetworkRecord>> {
        self.default_network()?;
        let mut all = self.stored_networks()?;
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    /// The network a user string names: its name, its full id, or a
    /// unique prefix of its id (Docker's order: id, name, prefix).
    pub fn find_network(&self, s: &str) -> Result<NetworkRecord> {
        if PREDEFINED_NETWORKS.contains(&s) {
            self.default_network()?;
        }
        let stored = self.stored_networks()?;
        if let Some(r) = stored.iter().find(|n| n.id == s) {
            return Ok(r.clone());
        }
        if let Some(r) = stored.iter().find(|n| n.name == s) {
            return Ok(r.clone());
        }
        let hits: Vec<&NetworkRecord> = stored
            .iter()
            .filter(|n| !s.is_empty() && n.id.starts_with(s))
            .collect();
        match hits.len() {
            1 => Ok(hits[0].clone()),
            0 => Err(kind_err(
                ErrorKind::NotFound,
                format!("network {s} not found"),
            )),
            n => Err(kind_err(
                ErrorKind::InvalidArgument,
                format!("network {s} is ambiguous ({n} matches found based on ID prefix)"),
            )),
        }
    }

    /// Make a user network (`network create`), on the host's routes.
    pub fn create_network(&self, spec: &NetworkSpec) -> Result<NetworkRecord> {
        let _machine = super::claims::lock()?;
        let routes = if spec.subnet.is_none() {
            super::claims::taken(self.root())?
        } else {
            Vec::new()
        };
        let rec = self.create_network_with_routes(spec, &routes)?;
        if let Some(s) = rec.ipv4_subnet() {
            super::claims::claim(self.root(), &rec.name, &s)?;
        }
        Ok(rec)
    }

    /// [`Store::create_network`] with the host's routes given. A subnet
    /// the user names is refused only when it overlaps another network,
    /// as Docker does; one chosen for them also avoids the host's routes.
    pub fn create_network_with_routes(
        &self,
        spec: &NetworkSpec,
        routes: &[Ipv4Net],
    ) -> Result<NetworkRecord> {
        let name = spec.name.as_str();
        if PREDEFINED_NETWORKS.contains(&name) {
            return Err(kind_err(
                ErrorKind::AlreadyExists,
                format!("network with name {name} already exists"),
            ));
        }
        if !valid_network_name(name) {
            return Err(kind_err(
                ErrorKind::InvalidArgument,
                format!("invalid network name {name:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at most 200 characters"),
            ));
        }
        match spec.driver.as_str() {
            "" | "bridge" => {}
            d @ ("host" | "null") => {
                return Err(kind_err(
                    ErrorKind::InvalidArgument,
                    format!("only one instance of \"{d}\" network is allowed"),
                ))
            }
            d => {
                return Err(kind_err(
                    ErrorKind::NotFound,
                    format!("plugin \"{d}\" not found"),
                ))
            }
        }
        if !matches!(spec.ipam_driver.as_str(), "" | "default") {
            return Err(kind_err(
                ErrorKind::NotFound,
                format!("plugin \"{}\" not found", spec.ipam_driver),
            ));
        }
        let subnet = spec.subnet.as_deref().map(validate_subnet).transpose()?;
        let gateway = match (&spec.gateway, &subnet) {
            (Some(g), Some(s)) => Some(validate_gateway(g, s)?),
            (Some(_), None) => return Err(needs_subnet()),
            _ => None,
        };
        let ip_range = match (&spec.ip_range, &subnet) {
            (Some(r), Some(s)) => Some(validate_range(r, s)?),
            (Some(_), None) => return Err(needs_subnet()),
            _ => None,
        };
        for (name, a) in &spec.aux_addresses {
            let ip: Option<Ipv4Addr> = a.parse().ok();
            match (ip, &subnet) {
                (Some(ip), Some(s)) if s.contains(ip) => {}
                (_, None) => return Err(needs_subnet()),
                _ => {
                    return Err(kind_err(
                        ErrorKind::InvalidArgument,
                        format!("no matching subnet for aux-address {name}={a}"),
                    ))
                }
            }
        }
        for k in MTU_OPTIONS {
            if let Some(v) = spec.options.get(k) {
                parse_mtu(v)?;
            }
        }
        let bridge_option = spec.options.get(BRIDGE_NAME_OPTION);
        if let Some(b) = bridge_option {
            if !valid_interface_name(b) {
                return Err(kind_err(
                    ErrorKind::InvalidArgument,
                    format!("invalid bridge name {b:?}: 1 to 15 characters of [a-zA-Z0-9_.-]"),
                ));
            }
        }

        let _lock = self.lock_networks()?;
        if self.read_network(name)?.is_some() {
            return Err(kind_err(
                ErrorKind::AlreadyExists,
                format!("network with name {name} already exists"),
            ));
        }
        let stored = self.stored_networks()?;
        let taken: Vec<Ipv4Net> = stored.iter().filter_map(|n| n.ipv4_subnet()).collect();
        let subnet = match subnet {
            Some(s) => {
                if taken.iter().any(|t| t.overlaps(&s)) {
                    return Err(kind_err(
                        ErrorKind::InvalidArgument,
                        "Pool overlaps with other one on this address space",
                    ));
                }
                s
            }
            None => pick_subnet(user_pool(), routes, &taken).ok_or_else(|| {
                kind_err(
                    ErrorKind::InvalidState,
                    "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network",
                )
            })?,
        };
        if let Some(b) = bridge_option {
            // The default network's bridge is taken even before its record.
            let owner = if *b == self.default_bridge() || b == DEFAULT_BRIDGE {
                Some(DEFAULT_NETWORK)
            } else {
                stored
                    .iter()
                    .find(|n| &n.bridge == b)
                    .map(|n| n.name.as_str())
            };
            if let Some(owner) = owner {
                return Err(kind_err(
                    ErrorKind::AlreadyExists,
                    format!("bridge {b} is already used by network {owner}"),
                ));
            }
        }
        let id = self.fresh_id(&stored);
        let rec = NetworkRecord {
            bridge: bridge_option
                .cloned()
                .unwrap_or_else(|| format!("skf-{}", &id[..8])),
            id,
            name: name.to_string(),
            driver: "bridge".into(),
            created: super::containers::now(),
            subnet: subnet.to_string(),
            gateway: gateway.unwrap_or_else(|| subnet.first_host()).to_string(),
            internal: spec.internal,
            labels: spec.labels.clone(),
            options: spec.options.clone(),
            ip_range: ip_range.map(|r| r.to_string()).unwrap_or_default(),
            aux_addresses: spec.aux_addresses.clone(),
            attachable: spec.attachable,
            ipam_options: spec.ipam_options.clone(),
        };
        self.write_network_locked(&rec)?;
        Ok(rec)
    }

    /// Remove a user network (by name, id or unique id prefix). Refused
    /// for the predefined networks and while containers hold addresses
    /// on it; a lease whose container's directory is gone (a container
    /// lost without cleanup) is dropped rather than counted.
    pub fn remove_network(&self, s: &str) -> Result<NetworkRecord> {
        let found = self.find_network(s)?;
        if found.is_predefined() {
            return Err(kind_err(
                ErrorKind::InvalidState,
                format!(
                    "{} is a pre-defined network and cannot be removed",
                    found.name
                ),
            ));
        }
        let _lock = self.lock_networks()?;
        let rec = self
            .read_network(&found.name)?
            .filter(|r| r.id == found.id)
            .ok_or_else(|| kind_err(ErrorKind::NotFound, format!("network {s} not found")))?;
        let leases = self.read_leases(&rec.name)?;
        let live: Vec<_> = leases
            .iter()
            .filter(|l| self.container_dir(&l.container_id).exists())
            .cloned()
            .collect();
        if !live.is_empty() {
            if live.len() != leases.len() {
                self.write_leases_locked(&rec.name, &live)?;
            }
            return Err(kind_err(
                ErrorKind::InvalidState,
                format!(
                    "error while removing network: network {} id {} has active endpoints",
                    rec.name, rec.id
                ),
            ));
        }
        // The record goes first: a crash before the leases file goes
        // leaves a stray that the next network of the name clears.
        let path = self.network_path(&rec.name);
        fs::remove_file(&path).with_context(|| format!("remove network {}", rec.name))?;
        self.remove_leases_file(&rec.name)?;
        fsync_dir(&self.networks_dir())?;
        if let Some(sub) = rec.ipv4_subnet() {
            super::claims::release(self.root(), &rec.name, &sub);
        }
        Ok(rec)
    }

    /// Problems with the network records and leases, for `system check`.
    pub(super) fn check_networks(&self, problems: &mut Vec<String>) -> Result<()> {
        let _lock = self.lock_networks()?;
        let dir = self.networks_dir();
        let stored = self.stored_networks_checked(problems)?;
        for name in super::scratch::list_names(&dir)? {
            let path = dir.join(&name);
            if name.starts_with('.') {
                problems.push(format!("stray temp file {}", path.display()));
            } else if let Some(net) = name.strip_suffix(".leases") {
                if !stored.iter().any(|n| n.name == net) {
                    problems.push(format!("leases without a network: {}", path.display()));
                }
            } else if !name.ends_with(".json") {
                problems.push(format!("stray file {}", path.display()));
            }
        }
        for (i, a) in stored.iter().enumerate() {
            let Some(sa) = a.ipv4_subnet() else {
                if a.driver == "bridge" {
                    problems.push(format!("network {}: bad subnet {:?}", a.name, a.subnet));
                }
                continue;
            };
            for b in &stored[i + 1..] {
                if b.ipv4_subnet().is_some_and(|sb| sb.overlaps(&sa)) {
                    problems.push(format!(
                        "networks {} and {}: subnets {} and {} overlap",
                        a.name, b.name, a.subnet, b.subnet
                    ));
                }
            }
            self.check_leases(a, &sa, problems)?;
        }
        Ok(())
    }

    /// Every record that parses, each one that does not reported.
    fn stored_networks_checked(&self, problems: &mut Vec<String>) -> Result<Vec<NetworkRecord>> {
        let mut out = Vec::new();
        for name in self.network_names()? {
            match self.read_network(&name) {
                Ok(Some(r)) if r.name == name => out.push(r),
                Ok(Some(r)) => problems.push(format!(
                    "network record {name}.json names network {}",
                    r.name
                )),
                Ok(None) => problems.push(format!("bad network file name {name}.json")),
                Err(e) => problems.push(format!("{e:#}")),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
#[path = "networks_tests.rs"]
mod tests;
