//! IPAM: the addresses containers hold on a network, in
//! `networks/<name>.leases` (a suffix no record file has, whatever the
//! network's name), changed under the networks lock.
//!
//! Leases are written without flushing: they describe running
//! containers only, and the power cut that could lose a write also ends
//! every container holding a lease. An empty file (what such a cut may
//! leave) reads as no leases.

use super::networks::NetworkRecord;
use super::subnet::Ipv4Net;
use super::Store;
use crate::error::{kind_err, ErrorKind};
use crate::util::fs::atomic_write_volatile;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::fs;
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// Docker's MAC for a container's address: 02:42 then the IPv4's bytes.
pub fn mac_of(ip: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = ip.octets();
    [0x02, 0x42, a, b, c, d]
}

/// `02:42:0a:59:00:02`
pub fn mac_text(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// One container's address on one network, with the names other
/// containers find it by.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Lease {
    pub ip: Ipv4Addr,
    pub container_id: String,
    /// The container's name.
    pub name: String,
    /// `--network-alias`es.
    #[serde(default)]
    pub aliases: Vec<String>,
}

impl Lease {
    /// The MAC address that goes with the address, as Docker derived it:
    /// `02:42` and the four bytes of the IPv4 address.
    pub fn mac_address(&self) -> String {
        mac_text(mac_of(self.ip))
    }

    /// Docker's `EndpointID`: 64 hex digits, the same every time for this
    /// container on the network `network_id`.
    pub fn endpoint_id(&self, network_id: &str) -> String {
        endpoint_id(network_id, &self.container_id)
    }
}

/// Docker's `EndpointID` of container `container_id` on network
/// `network_id`: 64 hex digits, the same every time.
pub fn endpoint_id(network_id: &str, container_id: &str) -> String {
    let seed = format!("{network_id}/{container_id}");
    crate::digest::Digest::of(seed.as_bytes()).hex().to_string()
}

impl Store {
    fn leases_path(&self, network: &str) -> PathBuf {
        self.networks_dir().join(format!("{network}.leases"))
    }

    /// The leases of the network named `network` as on disk.
    pub(super) fn read_leases(&self, network: &str) -> Result<Vec<Lease>> {
        let p = self.leases_path(network);
        match fs::read(&p) {
            Ok(b) if b.is_empty() => Ok(Vec::new()),
            Ok(b) => serde_json::from_slice(&b).with_context(|| format!("parse {}", p.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e).with_context(|| format!("read {}", p.display())),
        }
    }

    /// Replace a network's leases (the networks lock held); none left
    /// removes the file.
    pub(super) fn write_leases_locked(&self, network: &str, leases: &[Lease]) -> Result<()> {
        if leases.is_empty() {
            return self.remove_leases_file(network);
        }
        let mut sorted = leases.to_vec();
        sorted.sort_by_key(|l| l.ip);
        atomic_write_volatile(
            &self.leases_path(network),
            &serde_json::to_vec_pretty(&sorted)?,
        )
        .with_context(|| format!("write the leases of network {network}"))
    }

    pub(super) fn remove_leases_file(&self, network: &str) -> Result<()> {
        match fs::remove_file(self.leases_path(network)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("remove the leases of network {network}"))
            }
            _ => Ok(()),
        }
    }

    /// The record of network `found` read again under the networks lock
    /// (which the caller holds), so it is not one removed meanwhile, and
    /// its subnet.
    fn leasable_locked(&self, found: &NetworkRecord) -> Result<(NetworkRecord, Ipv4Net)> {
        let rec = self
            .read_network(&found.name)?
            .filter(|r| r.id == found.id)
            .ok_or_else(|| {
                kind_err(
                    ErrorKind::NotFound,
                    format!("network {} not found", found.name),
                )
            })?;
        let subnet = rec.ipv4_subnet().ok_or_else(|| {
            kind_err(
                ErrorKind::InvalidArgument,
                format!(
                    "network {} has no IPv4 addresses to give (driver {})",
                    rec.name, rec.driver
                ),
            )
        })?;
        Ok((rec, subnet))
    }

    /// An address on network `net` for container `container_id`: `want`
    /// when it is free, else the lowest free one (never the network's,
    /// the gateway's or the broadcast address). A container that holds
    /// one already gets it again (or moves to `want`), its name and
    /// aliases updated.
    pub fn lease(
        &self,
        net: &str,
        container_id: &str,
        name: &str,
        aliases: &[String],
        want: Option<Ipv4Addr>,
    ) -> Result<Ipv4Addr> {
        // Resolved before the lock: making the predefined networks' records
        // takes it.
        let found = self.find_network(net)?;
        let _lock = self.lock_networks()?;
        let (rec, subnet) = self.leasable_locked(&found)?;
        let gateway = rec.gateway_ip();
        let mut leases = self.read_leases(&rec.name)?;
        let held = leases.iter().position(|l| l.container_id == container_id);
        let ip = match (want, held) {
            (None, Some(i)) => leases[i].ip,
            (Some(w), Some(i)) if leases[i].ip == w => w,
            (Some(w), _) => {
                if !subnet.contains(w) {
                    return Err(kind_err(
                        ErrorKind::InvalidArgument,
                        format!(
                            "invalid address {w}: it does not belong to any of this network's subnets"
                        ),
                    ));
                }
                if w == subnet.network() || w == subnet.broadcast() {
                    return Err(kind_err(
                        ErrorKind::InvalidArgument,
                        format!(
                            "invalid address {w}: the network or broadcast address of {subnet}"
                        ),
                    ));
                }
                let taken = Some(w) == gateway
                    || rec.aux_ips().any(|a| a == w)
                    || leases
                        .iter()
                        .any(|l| l.ip == w && l.container_id != container_id);
                if taken {
                    return Err(kind_err(ErrorKind::AlreadyExists, "Address already in use"));
                }
                w
            }
            (None, None) => {
                let used: std::collections::HashSet<Ipv4Addr> =
                    leases.iter().map(|l| l.ip).collect();
                rec.pool()
                    .find(|ip| !used.contains(ip))
                    .ok_or_else(|| {
                        kind_err(
                            ErrorKind::InvalidState,
                            format!(
                                "no available IPv4 addresses on this network's address pools: {} ({subnet})",
                                rec.name
                            ),
                        )
                    })?
            }
        };
        let lease = Lease {
            ip,
            container_id: container_id.to_string(),
            name: name.to_string(),
            aliases: aliases.to_vec(),
        };
        if held.map(|i| &leases[i]) != Some(&lease) {
            leases.retain(|l| l.container_id != container_id);
            leases.push(lease);
            self.write_leases_locked(&rec.name, &leases)?;
        }
        Ok(ip)
    }

    /// Give back container `container_id`'s address on network `net`;
    /// what it held, if anything.
    pub fn release(&self, net: &str, container_id: &str) -> Result<Option<Ipv4Addr>> {
        let found = self.find_network(net)?;
        let _lock = self.lock_networks()?;
        let mut leases = self.read_leases(&found.name)?;
        let Some(i) = leases.iter().position(|l| l.container_id == container_id) else {
            return Ok(None);
        };
        let gone = leases.remove(i);
        self.write_leases_locked(&found.name, &leases)?;
        Ok(Some(gone.ip))
    }

    /// Every lease on network `net`, lowest address first (for name
    /// discovery and `network inspect`).
    pub fn leases(&self, net: &str) -> Result<Vec<Lease>> {
        let found = self.find_network(net)?;
        let mut leases = self.read_leases(&found.name)?;
        leases.sort_by_key(|l| l.ip);
        Ok(leases)
    }

    /// Every network container `container_id` holds an address on, by
    /// network name, with its lease.
    pub fn container_leases(&self, container_id: &str) -> Result<Vec<(String, Lease)>> {
        let mut out = Vec::new();
        for net in self.network_names()? {
            for l in self.read_leases(&net)? {
                if l.container_id == container_id {
                    out.push((net.clone(), l));
                }
            }
        }
        Ok(out)
    }

    /// Give back every address container `container_id` holds, on every
    /// network (the teardown of a container lost without its own); what
    /// was given back, by network name.
    pub fn release_all(&self, container_id: &str) -> Result<Vec<(String, Lease)>> {
        let _lock = self.lock_networks()?;
        let mut out = Vec::new();
        for file in super::scratch::list_names(&self.networks_dir())? {
            let Some(net) = file
                .strip_suffix(".leases")
                .filter(|_| !file.starts_with('.'))
            else {
                continue;
            };
            let mut leases = self.read_leases(net)?;
            let before = leases.len();
            let (gone, kept): (Vec<Lease>, Vec<Lease>) = leases
                .drain(..)
                .partition(|l| l.container_id == container_id);
            if kept.len() != before {
                self.write_leases_locked(net, &kept)?;
                out.extend(gone.into_iter().map(|l| (net.to_string(), l)));
            }
        }
        Ok(out)
    }

    /// The lease problems of network `rec`, for `system check`.
    pub(super) fn check_leases(
        &self,
        rec: &NetworkRecord,
        subnet: &Ipv4Net,
        problems: &mut Vec<String>,
    ) -> Result<()> {
        let leases = match self.read_leases(&rec.name) {
            Ok(l) => l,
            Err(e) => {
                problems.push(format!("{e:#}"));
                return Ok(());
            }
        };
        let mut ips = std::collections::HashSet::new();
        let mut ids = std::collections::HashSet::new();
        for l in &leases {
            let usable = subnet.contains(l.ip)
                && l.ip != subnet.network()
                && l.ip != subnet.broadcast()
                && Some(l.ip) != rec.gateway_ip();
            if !usable {
                problems.push(format!(
                    "network {}: lease {} of container {} is not an address of {}",
                    rec.name, l.ip, l.container_id, rec.subnet
                ));
            }
            if !ips.insert(l.ip) {
                problems.push(format!("network {}: {} leased twice", rec.name, l.ip));
            }
            if !ids.insert(l.container_id.as_str()) {
                problems.push(format!(
                    "network {}: container {} holds two leases",
                    rec.name, l.container_id
                ));
            }
        }
        Ok(())
    }
}
