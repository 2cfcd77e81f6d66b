//! Joining a container to its networks at each start, and leaving them
//! when it ends: its network namespace made (`netns`), for each network
//! the bridge made when missing (with its gateway address and its packet
//! filter rules), an address leased from the store, a veth pair whose
//! host end is on the bridge and whose other end is the container's
//! `eth0` (`eth1`, ...), the default route through the first network's
//! gateway. No daemon keeps any of it: whoever starts the container calls
//! `connect`, whoever sees it end calls `disconnect`, and a lost
//! container's next `sync` does it for its dead owner.

use super::netlink::Netlink;
use super::{firewall, names, netns, userspace};
use crate::store::containers::Endpoint;
use crate::store::networks::NetworkRecord;
use crate::store::{mac_of, mac_text, ContainerRecord, Store};
use anyhow::{anyhow, Context, Result};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsFd;
use std::path::Path;

/// Where the user-space network stack of container `id` keeps its pid
/// file and log: outside the container's directory, which `rm -f` may
/// remove while the stack starts, so that whoever sees the container end
/// still finds the stack to stop.
fn stack_dir(store: &Store, id: &str) -> std::path::PathBuf {
    store.root().join("stacks").join(id)
}

/// The host end of container `id`'s veth on its `n`th network: unique
/// while container IDs are, and within the kernel's 15 bytes.
pub(super) fn host_veth(id: &str, n: usize) -> String {
    format!("sk{}{n}", &id[..id.len().min(10)])
}

/// A bridge network's prefix length and gateway, from its record.
fn addressing(net: &NetworkRecord) -> Result<(u8, Ipv4Addr)> {
    match (net.ipv4_subnet(), net.gateway_ip()) {
        (Some(s), Some(g)) => Ok((s.prefix(), g)),
        _ => Err(anyhow!(
            "network {}: no IPv4 subnet and gateway (subnet {:?}, gateway {:?})",
            net.name,
            net.subnet,
            net.gateway
        )),
    }
}

/// Where a rootless store keeps the network namespace its bridges live
/// in (bound there inside the rootless mount namespace).
fn rootless_netns(store: &Store) -> std::path::PathBuf {
    store.root().join("rootless-netns")
}

/// A netlink socket on the side where bridges live: the host's, or for
/// a rootless store a network namespace of its own (made the first time),
/// where the user may make bridges.
fn bridge_side(store: &Store) -> Result<Netlink> {
    if !crate::config::is_rootless() {
        return Netlink::open();
    }
    let at = rootless_netns(store);
    let _g =
        crate::util::lock::lock_exclusive(&store.root().join("locks").join("rootless-netns.lock"))?;
    if let Ok(f) = std::fs::File::open(&at) {
        if let Ok(nl) = Netlink::open_in(f.as_fd()) {
            return Ok(nl);
        }
    }
    netns::create_then(&at, || {
        let mut nl = Netlink::open()?;
        if let Some(lo) = nl.link_index("lo")? {
            nl.set_up(lo)?;
        }
        Ok(nl)
    })
    .context("make the rootless network namespace for bridges")
}

/// The first `ethN` of bridge networks: rootless, `eth0` is the
/// user-space stack's.
fn first_eth() -> usize {
    usize::from(crate::config::is_rootless())
}

/// The bridge of `net`, made with its gateway address and rules when it
/// is not there (the first container on it since boot).
fn ensure_bridge(nl: &mut Netlink, net: &NetworkRecord) -> Result<u32> {
    if let Some(i) = nl.link_index(&net.bridge)? {
        return Ok(i);
    }
    let (prefix, gw) = addressing(net)?;
    let index = match nl.add_bridge(&net.bridge) {
        Ok(i) => i,
        // Another command made it a moment ago.
        Err(e) if super::netlink::is_exists(&e) => {
            return nl
                .link_index(&net.bridge)?
                .ok_or_else(|| anyhow!("bridge {} vanished", net.bridge))
        }
        Err(e) => return Err(e),
    };
    match nl.add_address(index, IpAddr::V4(gw), prefix) {
        Err(e) if !super::netlink::is_exists(&e) => return Err(e),
        _ => {}
    }
    if let Some(mtu) = net.mtu() {
        nl.set_mtu(index, mtu)?;
    }
    nl.set_up(index)?;
    if crate::config::is_rootless() {
        // In the rootless namespace of bridges: nothing is routed there
        // (its forwarding stays off), so networks stay apart, and the
        // way out is each container's own user-space stack.
        return Ok(index);
    }
    firewall::ensure(&firewall::NetRules {
        id: &net.id,
        bridge: &net.bridge,
        subnet: &net.subnet,
        internal: net.internal,
    })?;
    // Forwarding for the NAT (Docker sets it too).
    if !net.internal {
        std::fs::write("/proc/sys/net/ipv4/ip_forward", "1").context("enable IPv4 forwarding")?;
    }
    Ok(index)
}

/// Join container `rec` (about to start) to its networks; the endpoints
/// to record. Nothing for a container without a namespace of its own
/// kept (host, none, rootless); for `--network container:ID`, that
/// container's namespace, bound where the spec looks. On failure, what
/// was made is undone.
pub fn connect(store: &Store, rec: &ContainerRecord) -> Result<BTreeMap<String, Endpoint>> {
    connect_forwarding(store, rec, &[])
}

/// [`connect`], with the host ports a user-space stack forwards into the
/// container (`--network pasta|slirp4netns -p`).
pub fn connect_forwarding(
    store: &Store,
    rec: &ContainerRecord,
    forwards: &[crate::store::ports::PublishedPort],
) -> Result<BTreeMap<String, Endpoint>> {
    if !rec.keeps_netns() {
        return Ok(BTreeMap::new());
    }
    let made = match (
        rec.joined_container(),
        userspace::parse_mode(&rec.network_mode),
    ) {
        (Some(target), _) => join_container(store, rec, target).map(|()| BTreeMap::new()),
        (None, Some((stack, opts))) => {
            let dir = store.container_dir(&rec.id);
            let at = netns::path(&dir);
            netns::create_then(&at, || {
                let mut inner = Netlink::open()?;
                if let Some(lo) = inner.link_index("lo")? {
                    inner.set_up(lo)?;
                }
                Ok(())
            })
            .and_then(|()| {
                let stacks = stack_dir(store, &rec.id);
                crate::util::fs::mkdir_all(&stacks, 0o700)?;
                let gone = || matches!(store.container(&rec.id), Ok(None));
                userspace::start(stack, &opts, &at, &stacks, forwards, &gone)
            })
            .and_then(|()| {
                // Removed while its stack started (`rm -f`): the stack
                // may have missed the namespace's file going.
                match store.container(&rec.id)? {
                    Some(_) => Ok(BTreeMap::new()),
                    None => Err(anyhow!("removed while starting")),
                }
            })
        }
        (None, None) => connect_all(store, rec, forwards),
    };
    if made.is_err() {
        disconnect(store, &rec.id);
        if userspace::parse_mode(&rec.network_mode).is_some() || crate::config::is_rootless() {
            userspace::stop_strays(&netns::path(&store.container_dir(&rec.id)));
        }
        // Removed meanwhile (`rm -f`), its namespace with it: that is
        // what to say.
        if matches!(store.container(&rec.id), Ok(None)) {
            crate::bail_kind!(NotFound, "No such container: {}", rec.id);
        }
    }
    made.with_context(|| format!("connect container {} to its networks", rec.name))
}

/// `--network container:ID`: the running container's namespace, bound
/// at this one's `netns` for its init to join.
fn join_container(store: &Store, rec: &ContainerRecord, target: &str) -> Result<()> {
    let other = crate::container::state::find(store, target)?;
    let pid = match (other.state.status.as_str(), other.state.pid) {
        ("running" | "paused", Some(pid)) => pid,
        _ => crate::bail_kind!(
            InvalidState,
            "cannot join network of a non running container: {}",
            other.id
        ),
    };
    netns::bind(
        &netns::path(&store.container_dir(&rec.id)),
        Path::new(&format!("/proc/{pid}/ns/net")),
    )
}

fn connect_all(
    store: &Store,
    rec: &ContainerRecord,
    forwards: &[crate::store::ports::PublishedPort],
) -> Result<BTreeMap<String, Endpoint>> {
    let at = netns::path(&store.container_dir(&rec.id));
    let mut inner = netns::create_then(&at, Netlink::open)?;
    let ns = std::fs::File::open(&at).with_context(|| format!("open {}", at.display()))?;
    let mut host = bridge_side(store)?;
    if let Some(lo) = inner.link_index("lo")? {
        inner.set_up(lo)?;
    }
    // The peers of an earlier run are not this run's.
    names::reset(store, &rec.id)?;
    let mut out = BTreeMap::new();
    for (n, name) in rec.networks.iter().enumerate() {
        let mut link = Link {
            host: &mut host,
            inner: &mut inner,
            ns: ns.as_fd(),
        };
        let ep = link.attach(store, rec, name, first_eth() + n, n == 0)?;
        out.insert(name.clone(), ep);
    }
    if crate::config::is_rootless() {
        // Its way out, and its published ports: a user-space stack.
        let stacks = stack_dir(store, &rec.id);
        crate::util::fs::mkdir_all(&stacks, 0o700)?;
        let gone = || matches!(store.container(&rec.id), Ok(None));
        userspace::start(userspace::pick()?, &[], &at, &stacks, forwards, &gone)?;
    }
    Ok(out)
}

/// The two ends an endpoint is made from: the host's netlink and the
/// container's.
struct Link<'a> {
    host: &'a mut Netlink,
    inner: &'a mut Netlink,
    ns: std::os::fd::BorrowedFd<'a>,
}

impl Link<'_> {
    /// Container `rec` joins network `name` as `eth{n}`; `primary`: its
    /// default route goes through this network's gateway and its own name
    /// in /etc/hosts is this address.
    fn attach(
        &mut self,
        store: &Store,
        rec: &ContainerRecord,
        name: &str,
        n: usize,
        primary: bool,
    ) -> Result<Endpoint> {
        let net = if name == crate::store::DEFAULT_NETWORK {
            store.default_network()?
        } else {
            store.find_network(name)?
        };
        let bridge = ensure_bridge(self.host, &net)?;
        let (prefix, gateway) = addressing(&net)?;
        let want = rec.endpoint_config_of(name);
        let ip = store.lease(
            &net.name,
            &rec.id,
            &rec.name,
            &want.aliases,
            want.ip.as_deref().and_then(|a| a.parse().ok()),
        )?;
        let ifname = format!("eth{n}");
        let veth = host_veth(&rec.id, n);
        if let Some(old) = self.host.link_index(&veth)? {
            // Left by an owner that was killed.
            self.host.del_link(old)?;
        }
        let index = self
            .host
            .add_veth(&veth, &ifname, Some(self.ns), net.mtu())?;
        self.host.set_master(index, bridge)?;
        self.host.set_up(index)?;
        let eth = self
            .inner
            .link_index(&ifname)?
            .ok_or_else(|| anyhow!("{ifname} is missing in the container's namespace"))?;
        let mac = match want.mac.as_deref() {
            Some(m) => crate::runtime::opts::net::parse_mac(m)?,
            None => mac_of(ip),
        };
        self.inner.set_mac(eth, mac)?;
        self.inner.add_address(eth, IpAddr::V4(ip), prefix)?;
        self.inner.set_up(eth)?;
        // Rootless, the way out is the user-space stack's.
        if primary && !net.internal && !crate::config::is_rootless() {
            self.inner.add_default_route(IpAddr::V4(gateway))?;
        }
        if primary {
            let dir = store.container_dir(&rec.id);
            let hostname = std::fs::read_to_string(dir.join("hostname")).unwrap_or_default();
            let hostname = hostname.trim();
            if !hostname.is_empty() {
                own_hosts_line(&dir.join("hosts"), hostname, ip)?;
            }
        }
        if net.name != crate::store::DEFAULT_NETWORK {
            names::join(store, &net.name, &rec.id)?;
        }
        Ok(Endpoint {
            network_id: net.id.clone(),
            ip: ip.to_string(),
            prefix_len: prefix,
            gateway: net.gateway.clone(),
            mac: mac_text(mac),
            ifname,
        })
    }
}

/// `network connect` of running container `rec` to network `name`: a new
/// interface in its namespace, the lowest `ethN` free; the default route
/// through it when the container had no network.
pub fn attach_running(store: &Store, rec: &ContainerRecord, name: &str) -> Result<Endpoint> {
    let at = netns::path(&store.container_dir(&rec.id));
    let ns = std::fs::File::open(&at).with_context(|| format!("open {}", at.display()))?;
    let mut inner = Netlink::open_in(ns.as_fd())?;
    let mut host = bridge_side(store)?;
    let used: Vec<&str> = rec
        .state
        .endpoints
        .values()
        .map(|e| e.ifname.as_str())
        .collect();
    let n = (first_eth()..)
        .find(|n| !used.contains(&format!("eth{n}").as_str()))
        .unwrap_or(0);
    let mut link = Link {
        host: &mut host,
        inner: &mut inner,
        ns: ns.as_fd(),
    };
    let made = link.attach(store, rec, name, n, rec.state.endpoints.is_empty());
    if made.is_err() {
        let _ = store.release(name, &rec.id);
        if let Ok(Some(i)) = host.link_index(&host_veth(&rec.id, n)) {
            let _ = host.del_link(i);
        }
    }
    made
}

/// `network disconnect` of running container `rec` from network `name`:
/// its interface there deleted (the host's end goes with it), its address
/// given back, its name gone from its peers' files and theirs from its.
pub fn detach_running(store: &Store, rec: &ContainerRecord, name: &str) -> Result<()> {
    if let Some(ep) = rec.state.endpoints.get(name) {
        let at = netns::path(&store.container_dir(&rec.id));
        let ns = std::fs::File::open(&at).with_context(|| format!("open {}", at.display()))?;
        let mut inner = Netlink::open_in(ns.as_fd())?;
        if let Some(i) = inner.link_index(&ep.ifname)? {
            inner.del_link(i)?;
        }
        // The default route went with it: through the next network that
        // has a way out, as Docker moves its gateway.
        if rec.networks.first().map(String::as_str) == Some(name) {
            let next = rec.networks[1..]
                .iter()
                .filter_map(|n| Some((store.find_network(n).ok()?, rec.state.endpoints.get(n)?)))
                .find(|(net, _)| !net.internal);
            if let Some(gw) = next.and_then(|(net, _)| net.gateway_ip()) {
                inner.add_default_route(IpAddr::V4(gw))?;
            }
        }
    }
    store.release(name, &rec.id)?;
    if name != crate::store::DEFAULT_NETWORK {
        names::leave(store, name, &rec.id);
        names::forget(store, name, &rec.id)?;
    }
    Ok(())
}

/// The container's own line of its /etc/hosts names its address.
fn own_hosts_line(path: &Path, hostname: &str, ip: Ipv4Addr) -> Result<()> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let suffix = format!("\t{hostname}");
    let mut done = false;
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            if !done && l.ends_with(&suffix) {
                done = true;
                format!("{ip}{suffix}")
            } else {
                l.to_string()
            }
        })
        .collect();
    let mut new = lines.join("\n");
    new.push('\n');
    if !done {
        new.push_str(&format!("{ip}{suffix}\n"));
    }
    // Made anew at every start: no need to survive a crash.
    crate::util::fs::atomic_write_volatile(path, new.as_bytes())
}

/// Container `id` has ended (or was found lost): its addresses go back
/// and its network namespace is let go. The kernel frees the namespace
/// once its last process is gone, and its veth pairs with it, in the
/// background: deleting them here would make every exit wait for the
/// kernel's network synchronization (tens of milliseconds). Best effort:
/// what is already gone is no error.
pub fn disconnect(store: &Store, id: &str) {
    super::publish::unpublish(store, id);
    let stacks = stack_dir(store, id);
    userspace::stop(&stacks);
    let _ = std::fs::remove_dir_all(&stacks);
    let _ = netns::remove(&netns::path(&store.container_dir(id)));
    // Its peers' files lose its lines by its ID: after the release too.
    for (net, _) in store.release_all(id).unwrap_or_default() {
        if net != crate::store::DEFAULT_NETWORK {
            names::leave(store, &net, id);
        }
    }
}

/// A removed network's bridge and packet filter rules (a network keeps
/// its bridge for as long as it exists, as Docker's keep theirs). Best
/// effort: what is not there is no error.
pub fn remove_bridge(store: &Store, net: &NetworkRecord) {
    if net.bridge.is_empty() {
        return;
    }
    if crate::config::is_rootless() && !rootless_netns(store).exists() {
        return;
    }
    if let Ok(mut nl) = bridge_side(store) {
        if let Ok(Some(i)) = nl.link_index(&net.bridge) {
            let _ = nl.del_link(i);
        }
    }
    if !crate::config::is_rootless() {
        let _ = firewall::remove(&net.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let id = "0123456789abcdef";
        assert_eq!(host_veth(id, 0), "sk01234567890");
        assert!(host_veth(id, 7).len() <= 15);
        assert_eq!(
            mac_text(mac_of("10.87.0.2".parse().unwrap())),
            "02:42:0a:57:00:02"
        );
    }

    #[test]
    fn the_own_line_names_the_address() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("hosts");
        std::fs::write(&p, "127.0.0.1\tlocalhost\n127.0.1.1\tabc\n10.0.0.9\tdb\n").unwrap();
        own_hosts_line(&p, "abc", "10.87.0.5".parse().unwrap()).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "127.0.0.1\tlocalhost\n10.87.0.5\tabc\n10.0.0.9\tdb\n"
        );
        // Started again with another address.
        own_hosts_line(&p, "abc", "10.87.0.6".parse().unwrap()).unwrap();
        assert!(std::fs::read_to_string(&p)
            .unwrap()
            .contains("10.87.0.6\tabc\n"));
    }
}
