//! A small synchronous rtnetlink client: the links, addresses and routes of
//! one network namespace.
//!
//! The kernel ties a `NETLINK_ROUTE` socket to the network namespace it was
//! created in, for its whole life. So a socket for a container's namespace
//! is made on a short-lived thread that `setns()`es there ([`Netlink::open_in`])
//! and then used from anywhere, while the caller's own namespace never
//! changes.

use super::netlink_msg::*;
use anyhow::{anyhow, Context, Result};
use nix::sched::{setns, CloneFlags};
use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
use std::fmt;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

/// Large enough for any single datagram of a dump: the kernel fills dump
/// datagrams up to 32 KiB at most.
const RECV_BUF: usize = 64 * 1024;

/// A `NETLINK_ROUTE` socket bound to one network namespace.
pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

/// An error the kernel answered with.
#[derive(Debug)]
struct KernelError {
    errno: i32,
    /// The kernel's extended-ack message, when it gives one.
    detail: Option<String>,
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let desc = nix::errno::Errno::from_raw(self.errno).desc();
        let mut chars = desc.chars();
        if let Some(first) = chars.next() {
            write!(f, "{}{}", first.to_lowercase(), chars.as_str())?;
        }
        if let Some(d) = &self.detail {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

impl std::error::Error for KernelError {}

fn kernel_errno(e: &anyhow::Error) -> Option<i32> {
    e.chain()
        .find_map(|c| c.downcast_ref::<KernelError>())
        .map(|k| k.errno)
}

/// Did this error come from the kernel's EEXIST (a link name or address
/// that is taken)?
pub fn is_exists(e: &anyhow::Error) -> bool {
    kernel_errno(e) == Some(libc::EEXIST)
}

/// Did this error come from the kernel's ENODEV (no link with that index
/// or name, e.g. a veth that went away with its container's namespace)?
pub fn is_not_found(e: &anyhow::Error) -> bool {
    kernel_errno(e) == Some(libc::ENODEV)
}

impl Netlink {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> Result<Netlink> {
        let fd = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            // NETLINK_ROUTE is protocol 0, which rustix spells `None`.
            None,
        )
        .context("open a netlink route socket")?;
        rustix::net::bind(&fd, &SocketAddrNetlink::new(0, 0))
            .context("bind a netlink route socket")?;
        // Only better messages are lost on a kernel without extended acks.
        let _ = crate::sys::netlink_ext_ack(&fd);
        Ok(Netlink {
            fd,
            seq: 0,
            buf: vec![0; RECV_BUF],
        })
    }

    /// A socket inside the network namespace `netns` (an open
    /// `/proc/PID/ns/net` or bind-mounted netns file): made on a
    /// short-lived thread that `setns()`es into it, so the caller's own
    /// namespace never changes.
    pub fn open_in(netns: BorrowedFd) -> Result<Netlink> {
        std::thread::scope(|s| {
            s.spawn(|| {
                setns(netns, CloneFlags::CLONE_NEWNET).context("enter the network namespace")?;
                Netlink::open()
            })
            .join()
            .unwrap_or_else(|_| {
                Err(anyhow!(
                    "the thread entering the network namespace panicked"
                ))
            })
        })
        .context("open a netlink socket in another network namespace")
    }

    /// Send `msg` and gather the bodies of the data messages answering it,
    /// up to the kernel's acknowledgement (or, for a dump, its end).
    fn call(&mut self, msg: Msg) -> Result<Vec<Vec<u8>>> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let bytes = msg.finish(seq);
        rustix::net::send(&self.fd, &bytes, SendFlags::empty())
            .context("send a netlink request")?;
        let mut out = Vec::new();
        loop {
            // skiff forwards signals to containers, so a handler may run
            // while this waits.
            let (n, full) = match rustix::net::recv(&self.fd, &mut self.buf[..], RecvFlags::TRUNC) {
                Err(rustix::io::Errno::INTR) => continue,
                r => r.context("read a netlink reply")?,
            };
            if full > n {
                return Err(anyhow!("netlink reply of {full} bytes cut to {n}"));
            }
            // Replies to an earlier request abandoned midway (other
            // sequence numbers) are skipped.
            for r in replies(&self.buf[..n]).filter(|r| r.seq == seq) {
                match r.kind {
                    NLMSG_ERROR => {
                        return match error_of(&r) {
                            (0, _) => Ok(out),
                            (errno, detail) => Err(KernelError { errno, detail }.into()),
                        };
                    }
                    NLMSG_DONE => {
                        return match u32_at(r.body, 0).map(|c| c as i32) {
                            Some(c) if c < 0 => Err(KernelError {
                                errno: -c,
                                detail: None,
                            }
                            .into()),
                            _ => Ok(out),
                        };
                    }
                    _ => out.push(r.body.to_vec()),
                }
            }
        }
    }

    /// The `RTM_NEWLINK` message describing link `index`.
    fn link(&mut self, index: u32) -> Result<Vec<u8>> {
        let msg = Msg::new(RTM_GETLINK, 0).ifinfo(index, 0, 0);
        self.call(msg)?
            .into_iter()
            .next()
            .ok_or_else(|| anyhow!("no reply"))
    }

    /// The index of the link called `name`, if there is one.
    pub fn link_index(&mut self, name: &str) -> Result<Option<u32>> {
        let msg = Msg::new(RTM_GETLINK, 0)
            .ifinfo(0, 0, 0)
            .attr_str(IFLA_IFNAME, name);
        match self.call(msg) {
            Ok(r) => Ok(r.first().and_then(|b| u32_at(b, 4))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e.context(format!("find link {name}"))),
        }
    }

    /// The index of a link just made, found by its name.
    fn made(&mut self, name: &str) -> Result<u32> {
        self.link_index(name)?
            .ok_or_else(|| anyhow!("link {name} is missing right after it was made"))
    }

    /// Make a bridge; returns its index.
    pub fn add_bridge(&mut self, name: &str) -> Result<u32> {
        let msg = Msg::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL)
            .ifinfo(0, 0, 0)
            .attr_str(IFLA_IFNAME, name)
            .nested(IFLA_LINKINFO, |m| m.attr_str(IFLA_INFO_KIND, "bridge"));
        self.call(msg)
            .with_context(|| format!("add bridge {name}"))?;
        self.made(name)
    }

    /// A veth pair `name` <-> `peer`; with `peer_netns`, the peer is made
    /// directly inside that namespace, so no name clash with the host's
    /// links is possible for it (a container's `eth0`). Returns the index
    /// of `name`.
    pub fn add_veth(
        &mut self,
        name: &str,
        peer: &str,
        peer_netns: Option<BorrowedFd>,
        mtu: Option<u32>,
    ) -> Result<u32> {
        let with_mtu = |m: Msg| match mtu {
            Some(v) => m.attr_u32(IFLA_MTU, v),
            None => m,
        };
        let peer_info = |m: Msg| {
            let m = with_mtu(m.ifinfo(0, 0, 0).attr_str(IFLA_IFNAME, peer));
            match peer_netns {
                Some(fd) => m.attr_u32(IFLA_NET_NS_FD, fd.as_raw_fd() as u32),
                None => m,
            }
        };
        let msg = with_mtu(
            Msg::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL)
                .ifinfo(0, 0, 0)
                .attr_str(IFLA_IFNAME, name),
        )
        .nested(IFLA_LINKINFO, |m| {
            m.attr_str(IFLA_INFO_KIND, "veth")
                .nested(IFLA_INFO_DATA, |m| m.nested(VETH_INFO_PEER, peer_info))
        });
        self.call(msg)
            .with_context(|| format!("add veth {name} (peer {peer})"))?;
        self.made(name)
    }

    /// Attach link `index` to the bridge `master`.
    pub fn set_master(&mut self, index: u32, master: u32) -> Result<()> {
        let msg = Msg::new(RTM_NEWLINK, 0)
            .ifinfo(index, 0, 0)
            .attr_u32(IFLA_MASTER, master);
        self.call(msg)
            .with_context(|| format!("attach link {index} to bridge {master}"))?;
        Ok(())
    }

    pub fn set_up(&mut self, index: u32) -> Result<()> {
        let msg = Msg::new(RTM_NEWLINK, 0).ifinfo(index, IFF_UP, IFF_UP);
        self.call(msg)
            .with_context(|| format!("set link {index} up"))?;
        Ok(())
    }

    pub fn set_mtu(&mut self, index: u32, mtu: u32) -> Result<()> {
        let msg = Msg::new(RTM_NEWLINK, 0)
            .ifinfo(index, 0, 0)
            .attr_u32(IFLA_MTU, mtu);
        self.call(msg)
            .with_context(|| format!("set mtu {mtu} on link {index}"))?;
        Ok(())
    }

    pub fn set_mac(&mut self, index: u32, mac: [u8; 6]) -> Result<()> {
        let msg = Msg::new(RTM_NEWLINK, 0)
            .ifinfo(index, 0, 0)
            .attr(IFLA_ADDRESS, &mac);
        self.call(msg)
            .with_context(|| format!("set mac address {} on link {index}", fmt_mac(&mac)))?;
        Ok(())
    }

    /// The link's Ethernet address; `None` for a link without one (e.g. a
    /// tun device). A missing link is an error.
    pub fn mac(&mut self, index: u32) -> Result<Option<[u8; 6]>> {
        let body = self
            .link(index)
            .with_context(|| format!("read the mac address of link {index}"))?;
        Ok(find_attr(&body, IFINFO_LEN, IFLA_ADDRESS).and_then(|d| d.try_into().ok()))
    }

    /// Add `addr/prefix` to link `index`. IPv6 addresses skip duplicate
    /// address detection, so they are usable at once rather than after the
    /// second or so a tentative address waits.
    pub fn add_address(&mut self, index: u32, addr: IpAddr, prefix: u8) -> Result<()> {
        let (family, bytes) = ip_bytes(addr);
        let flags = if addr.is_ipv6() { IFA_F_NODAD } else { 0 };
        let msg = Msg::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL)
            .ifaddr(family, prefix, flags, index)
            .attr(IFA_LOCAL, &bytes)
            .attr(IFA_ADDRESS, &bytes);
        self.call(msg)
            .with_context(|| format!("add address {addr}/{prefix} to link {index}"))?;
        Ok(())
    }

    /// Every address of link `index` (IPv4 and IPv6) with its prefix length.
    pub fn addresses(&mut self, index: u32) -> Result<Vec<(IpAddr, u8)>> {
        let msg = Msg::dump(RTM_GETADDR).ifaddr(libc::AF_UNSPEC as u8, 0, 0, 0);
        let all = self
            .call(msg)
            .with_context(|| format!("list the addresses of link {index}"))?;
        Ok(all
            .iter()
            .filter(|b| u32_at(b, 4) == Some(index))
            .filter_map(|b| {
                // IFA_LOCAL is the address itself; IFA_ADDRESS is the peer's
                // on a point-to-point link, and the only one IPv6 sends.
                let d = find_attr(b, IFADDR_LEN, IFA_LOCAL)
                    .or_else(|| find_attr(b, IFADDR_LEN, IFA_ADDRESS))?;
                Some((ip_from(d)?, b[1]))
            })
            .collect())
    }

    /// A default route via `gateway` in the main table; the kernel picks
    /// the link whose subnet holds the gateway.
    pub fn add_default_route(&mut self, gateway: IpAddr) -> Result<()> {
        let (family, bytes) = ip_bytes(gateway);
        let msg = Msg::new(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL)
            .rtmsg(
                family,
                RT_TABLE_MAIN,
                RTPROT_BOOT,
                RT_SCOPE_UNIVERSE,
                RTN_UNICAST,
            )
            .attr(RTA_GATEWAY, &bytes);
        self.call(msg)
            .with_context(|| format!("add default route via {gateway}"))?;
        Ok(())
    }

    /// Delete link `index`; for a veth, both ends go.
    pub fn del_link(&mut self, index: u32) -> Result<()> {
        let msg = Msg::new(RTM_DELLINK, 0).ifinfo(index, 0, 0);
        self.call(msg)
            .with_context(|| format!("delete link {index}"))?;
        Ok(())
    }

    /// Every link: (index, name, master index).
    pub fn links(&mut self) -> Result<Vec<(u32, String, Option<u32>)>> {
        let msg = Msg::dump(RTM_GETLINK).ifinfo(0, 0, 0);
        let all = self.call(msg).context("list links")?;
        Ok(all
            .iter()
            .filter_map(|b| {
                let index = u32_at(b, 4)?;
                let name = c_str(find_attr(b, IFINFO_LEN, IFLA_IFNAME)?);
                let master = find_attr(b, IFINFO_LEN, IFLA_MASTER)
                    .and_then(|d| u32_at(d, 0))
                    .filter(|&m| m != 0);
                Some((index, name, master))
            })
            .collect())
    }
}

fn fmt_mac(mac: &[u8; 6]) -> String {
    let parts: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
    parts.join(":")
}

#[cfg(test)]
#[path = "netlink_tests.rs"]
mod tests;
