//! `network connect` and `network disconnect`: a container's networks
//! changed in its record, and, while it runs, in its namespace at once
//! (`network::setup`). A stopped container joins or leaves at its next
//! start. Docker's rules and words.

use super::state;
use crate::error::{kind_of, ErrorKind};
use crate::store::containers::EndpointConfig;
use crate::store::{ContainerRecord, Store, DEFAULT_NETWORK};
use crate::util::lock::{lock_exclusive, LockGuard};
use anyhow::Result;
use std::net::Ipv4Addr;

/// What `network connect` asks for.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub aliases: Vec<String>,
    pub ip: Option<Ipv4Addr>,
}

/// One change of a container's networks at a time.
fn lock(store: &Store, id: &str) -> Result<LockGuard> {
    lock_exclusive(
        &store
            .root()
            .join("locks")
            .join(format!("netconf-{id}.lock")),
    )
}

/// The modes that have no networks to change.
fn refuse_mode(rec: &ContainerRecord) -> Result<()> {
    match rec.network_mode.as_str() {
        "host" => crate::bail_kind!(
            InvalidArgument,
            "container cannot be disconnected from host network or connected to host network"
        ),
        "none" => crate::bail_kind!(
            InvalidArgument,
            "container cannot be connected to multiple networks with one of the networks in private (none) mode"
        ),
        m if m.starts_with("container:") => crate::bail_kind!(
            InvalidArgument,
            "container sharing network namespace with another container or host cannot be connected to any other network"
        ),
        // Records made before the mode was kept: one without a kept
        // namespace is host or none.
        "" if !rec.keeps_netns() => crate::bail_kind!(
            InvalidArgument,
            "container {} has no networks of its own to change",
            rec.name
        ),
        _ => Ok(()),
    }
}

/// The network's name as records keep it (`bridge` for the default).
fn network_name(store: &Store, net: &str) -> Result<String> {
    match net {
        "host" | "none" => crate::bail_kind!(
            InvalidArgument,
            "container cannot be disconnected from host network or connected to host network"
        ),
        "bridge" | "default" => Ok(DEFAULT_NETWORK.to_string()),
        _ => {
            let rec = store.find_network(net)?;
            if rec.driver != "bridge" {
                crate::bail_kind!(
                    InvalidArgument,
                    "container cannot be disconnected from host network or connected to host network"
                );
            }
            Ok(rec.name)
        }
    }
}

/// `network connect [--alias A] [--ip IP] NET CONTAINER`.
pub fn connect(store: &Store, net: &str, container: &str, opts: ConnectOptions) -> Result<()> {
    let name = network_name(store, net)?;
    if crate::config::is_rootless() && name == DEFAULT_NETWORK {
        crate::bail_kind!(
            InvalidArgument,
            "the default network rootless is a user-space stack (pasta or slirp4netns): connect to a user network"
        );
    }
    let found = state::find(store, container)?;
    let _g = lock(store, &found.id)?;
    let rec = state::find(store, &found.id)?;
    refuse_mode(&rec)?;
    if rec.networks.contains(&name) {
        crate::bail_kind!(
            AlreadyExists,
            "endpoint with name {} already exists in network {name}",
            rec.name
        );
    }
    if name == DEFAULT_NETWORK {
        if opts.ip.is_some() {
            crate::bail_kind!(
                InvalidArgument,
                "user specified IP address is supported on user defined networks only"
            );
        }
        if !opts.aliases.is_empty() {
            crate::bail_kind!(
                InvalidArgument,
                "network-scoped alias is supported only for containers in user defined networks"
            );
        }
    }
    let want = EndpointConfig {
        aliases: opts.aliases,
        ip: opts.ip.map(|i| i.to_string()),
        mac: None,
    };
    let joined = store.update_container(&rec.id, |c| {
        c.settle_endpoint_config();
        c.networks.push(name.clone());
        c.endpoint_config.insert(name.clone(), want.clone());
        c.netns_file = true;
        Ok(c.clone())
    })?;
    if !state::is_running(&joined) {
        return Ok(());
    }
    match crate::network::setup::attach_running(store, &joined, &name) {
        Ok(ep) => store.update_container(&rec.id, |c| {
            c.state.endpoints.insert(name.clone(), ep);
            Ok(())
        }),
        Err(e) => {
            // As it was: the record too.
            let _ = store.update_container(&rec.id, |c| {
                c.networks.retain(|n| *n != name);
                c.endpoint_config.remove(&name);
                Ok(())
            });
            Err(e.context(format!("connect container {} to network {name}", rec.name)))
        }
    }
}

/// `network disconnect [-f] NET CONTAINER`. With `force`, a container
/// that is gone loses whatever addresses it still holds on the network.
pub fn disconnect(store: &Store, net: &str, container: &str, force: bool) -> Result<()> {
    let name = network_name(store, net)?;
    let found = match state::find(store, container) {
        Ok(r) => r,
        Err(e) if force && kind_of(&e) == Some(ErrorKind::NotFound) => {
            for l in store.leases(&name)? {
                if l.name == container || l.container_id.starts_with(container) {
                    store.release(&name, &l.container_id)?;
                    if name != DEFAULT_NETWORK {
                        crate::network::names::leave(store, &name, &l.container_id);
                    }
                }
            }
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let _g = lock(store, &found.id)?;
    let rec = state::find(store, &found.id)?;
    if rec.network_mode == "host" || rec.joined_container().is_some() {
        refuse_mode(&rec)?;
    }
    if !rec.networks.contains(&name) {
        crate::bail_kind!(
            InvalidArgument,
            "container {} is not connected to network {net}",
            rec.id
        );
    }
    // Its published ports go to its address on its first network: that
    // address is given back now, and may be leased to another container.
    let unpublished = state::is_running(&rec)
        && rec.networks.first() == Some(&name)
        && !rec.state.ports.is_empty()
        && !crate::config::is_rootless();
    // Its DNS forwarded through this network's gateway: those rules name
    // the address given back too.
    let forwarded = state::is_running(&rec)
        && rec.networks.first() == Some(&name)
        && rec.dns_forward.as_ref().is_some_and(|f| {
            store
                .find_network(&name)
                .is_ok_and(|n| n.gateway == f.gateway)
        });
    // Its rules out before its address is given back: they name it.
    if forwarded || unpublished {
        crate::network::publish::unpublish(store, &rec.id);
    }
    if state::is_running(&rec) {
        crate::network::setup::detach_running(store, &rec, &name)?;
    } else {
        store.release(&name, &rec.id)?;
    }
    if unpublished {
        eprintln!(
            "skiff: warning: container {} left the network its published ports go to: they are not published until it starts again",
            rec.name
        );
    }
    store.update_container(&rec.id, |c| {
        if unpublished {
            c.state.ports.clear();
        }
        c.settle_endpoint_config();
        c.networks.retain(|n| *n != name);
        c.endpoint_config.remove(&name);
        c.state.endpoints.remove(&name);
        // Still its own namespace, with only `lo` left.
        c.netns_file = true;
        Ok(())
    })
}
