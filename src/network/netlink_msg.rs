//! The rtnetlink wire format: building requests and reading replies.
//!
//! A message is a 16-byte `nlmsghdr`, a fixed family header (`ifinfomsg`,
//! `ifaddrmsg`, `rtmsg`) and then attributes (`rtattr`: length, type, data,
//! padded to 4 bytes), all in host byte order except addresses, which are
//! in network order. Constants carry the names of the kernel's uapi headers
//! (`linux/netlink.h`, `linux/rtnetlink.h`, `linux/if_link.h`,
//! `linux/if_addr.h`, `linux/veth.h`); the `libc` crate lacks most of them.

use std::net::IpAddr;

pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;

pub const RTM_NEWLINK: u16 = 16;
pub const RTM_DELLINK: u16 = 17;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_GETADDR: u16 = 22;
pub const RTM_NEWROUTE: u16 = 24;
#[cfg(test)]
pub const RTM_GETROUTE: u16 = 26;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;
/// On an error reply: the echoed request is cut to its header.
const NLM_F_CAPPED: u16 = 0x100;
/// On an error reply: extended-ack attributes follow the echoed request.
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLMSGERR_ATTR_MSG: u16 = 1;

pub const IFLA_ADDRESS: u16 = 1;
pub const IFLA_IFNAME: u16 = 3;
pub const IFLA_MTU: u16 = 4;
pub const IFLA_MASTER: u16 = 10;
pub const IFLA_LINKINFO: u16 = 18;
pub const IFLA_NET_NS_FD: u16 = 28;
pub const IFLA_INFO_KIND: u16 = 1;
pub const IFLA_INFO_DATA: u16 = 2;
pub const VETH_INFO_PEER: u16 = 1;

pub const IFA_ADDRESS: u16 = 1;
pub const IFA_LOCAL: u16 = 2;
pub const IFA_F_NODAD: u8 = 0x02;

pub const RTA_GATEWAY: u16 = 5;
pub const RT_TABLE_MAIN: u8 = 254;
pub const RTPROT_BOOT: u8 = 3;
pub const RT_SCOPE_UNIVERSE: u8 = 0;
pub const RTN_UNICAST: u8 = 1;

pub const IFF_UP: u32 = 0x1;

const NLA_F_NESTED: u16 = 0x8000;
const NLA_TYPE_MASK: u16 = 0x3fff;

const HDR_LEN: usize = 16;
/// `sizeof(struct ifinfomsg)`.
pub const IFINFO_LEN: usize = 16;
/// `sizeof(struct ifaddrmsg)`.
pub const IFADDR_LEN: usize = 8;
/// `sizeof(struct rtmsg)`.
#[cfg(test)]
pub const RT_LEN: usize = 12;

fn align(n: usize) -> usize {
    (n + 3) & !3
}

/// A request being built.
pub struct Msg {
    buf: Vec<u8>,
}

impl Msg {
    /// A request the kernel acknowledges (or answers, then acknowledges).
    pub fn new(kind: u16, flags: u16) -> Msg {
        Msg::start(kind, flags | NLM_F_REQUEST | NLM_F_ACK)
    }

    /// A dump request: every object of a kind, ended by `NLMSG_DONE`.
    pub fn dump(kind: u16) -> Msg {
        Msg::start(kind, NLM_F_REQUEST | NLM_F_DUMP)
    }

    fn start(kind: u16, flags: u16) -> Msg {
        let mut buf = vec![0; HDR_LEN];
        buf[4..6].copy_from_slice(&kind.to_ne_bytes());
        buf[6..8].copy_from_slice(&flags.to_ne_bytes());
        Msg { buf }
    }

    fn push(mut self, bytes: &[u8]) -> Msg {
        self.buf.extend_from_slice(bytes);
        self.buf.resize(align(self.buf.len()), 0);
        self
    }

    /// `struct ifinfomsg` for link `index` (0: none), setting the `change`
    /// bits of the link's flags to `flags`.
    pub fn ifinfo(self, index: u32, flags: u32, change: u32) -> Msg {
        let mut h = [0u8; IFINFO_LEN];
        h[4..8].copy_from_slice(&index.to_ne_bytes());
        h[8..12].copy_from_slice(&flags.to_ne_bytes());
        h[12..16].copy_from_slice(&change.to_ne_bytes());
        self.push(&h)
    }

    /// `struct ifaddrmsg`.
    pub fn ifaddr(self, family: u8, prefix: u8, flags: u8, index: u32) -> Msg {
        let mut h = [0u8; IFADDR_LEN];
        h[0] = family;
        h[1] = prefix;
        h[2] = flags;
        h[4..8].copy_from_slice(&index.to_ne_bytes());
        self.push(&h)
    }

    /// `struct rtmsg` for a route to `0/0` (a default route) in `table`.
    pub fn rtmsg(self, family: u8, table: u8, protocol: u8, scope: u8, kind: u8) -> Msg {
        self.push(&[family, 0, 0, 0, table, protocol, scope, kind, 0, 0, 0, 0])
    }

    pub fn attr(self, kind: u16, data: &[u8]) -> Msg {
        let len = (4 + data.len()) as u16;
        let mut h = [0u8; 4];
        h[0..2].copy_from_slice(&len.to_ne_bytes());
        h[2..4].copy_from_slice(&kind.to_ne_bytes());
        let mut m = self;
        m.buf.extend_from_slice(&h);
        m.push(data)
    }

    pub fn attr_u32(self, kind: u16, v: u32) -> Msg {
        self.attr(kind, &v.to_ne_bytes())
    }

    /// A NUL-terminated string attribute.
    pub fn attr_str(self, kind: u16, s: &str) -> Msg {
        let mut data = Vec::with_capacity(s.len() + 1);
        data.extend_from_slice(s.as_bytes());
        data.push(0);
        self.attr(kind, &data)
    }

    /// An attribute whose data is the attributes (or headers) `inner` adds.
    pub fn nested(mut self, kind: u16, inner: impl FnOnce(Msg) -> Msg) -> Msg {
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        let mut m = inner(self);
        let len = (m.buf.len() - at) as u16;
        m.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
        m.buf[at + 2..at + 4].copy_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        m
    }

    /// The finished bytes, with their length and sequence number.
    pub fn finish(mut self, seq: u32) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.buf
    }
}

/// One message of a reply.
pub struct Reply<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub body: &'a [u8],
}

/// The messages in one datagram from the kernel. A malformed length ends
/// the walk rather than reading past it.
pub fn replies(mut buf: &[u8]) -> impl Iterator<Item = Reply<'_>> {
    std::iter::from_fn(move || {
        let len = u32_at(buf, 0)? as usize;
        if len < HDR_LEN || len > buf.len() {
            return None;
        }
        let r = Reply {
            kind: u16_at(buf, 4)?,
            flags: u16_at(buf, 6)?,
            seq: u32_at(buf, 8)?,
            body: &buf[HDR_LEN..len],
        };
        buf = buf.get(align(len)..).unwrap_or(&[]);
        Some(r)
    })
}

/// The attributes in `buf`, as (type without the nested/byte-order bits,
/// data).
pub fn attrs(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = u16_at(buf, 0)? as usize;
        if len < 4 || len > buf.len() {
            return None;
        }
        let a = (u16_at(buf, 2)? & NLA_TYPE_MASK, &buf[4..len]);
        buf = buf.get(align(len)..).unwrap_or(&[]);
        Some(a)
    })
}

/// The data of the first attribute of type `kind` after a `skip`-byte
/// family header.
pub fn find_attr(body: &[u8], skip: usize, kind: u16) -> Option<&[u8]> {
    attrs(body.get(skip..)?)
        .find(|(k, _)| *k == kind)
        .map(|(_, d)| d)
}

/// The errno (0 for an acknowledgement) and the kernel's extended message,
/// if any, of an `NLMSG_ERROR` reply.
pub fn error_of(r: &Reply) -> (i32, Option<String>) {
    let code = u32_at(r.body, 0).map_or(-libc::EIO, |c| c as i32);
    let mut detail = None;
    if r.flags & NLM_F_ACK_TLVS != 0 {
        let echoed = if r.flags & NLM_F_CAPPED != 0 {
            HDR_LEN
        } else {
            u32_at(r.body, 4).map_or(HDR_LEN, |l| l as usize)
        };
        if let Some(tlvs) = r.body.get(4 + align(echoed)..) {
            detail = attrs(tlvs)
                .find(|(k, _)| *k == NLMSGERR_ATTR_MSG)
                .map(|(_, d)| c_str(d));
        }
    }
    (-code, detail)
}

/// A NUL-terminated string attribute's text.
pub fn c_str(d: &[u8]) -> String {
    let end = d.iter().position(|&b| b == 0).unwrap_or(d.len());
    String::from_utf8_lossy(&d[..end]).into_owned()
}

pub fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

pub fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// An address's family (`AF_INET`, `AF_INET6`) and bytes in network order.
pub fn ip_bytes(ip: IpAddr) -> (u8, Vec<u8>) {
    match ip {
        IpAddr::V4(a) => (libc::AF_INET as u8, a.octets().to_vec()),
        IpAddr::V6(a) => (libc::AF_INET6 as u8, a.octets().to_vec()),
    }
}

/// The address in an attribute's data, by its length.
pub fn ip_from(d: &[u8]) -> Option<IpAddr> {
    if let Ok(a) = <[u8; 4]>::try_from(d) {
        Some(IpAddr::from(a))
    } else {
        <[u8; 16]>::try_from(d).ok().map(IpAddr::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_attributes_are_padded_and_measured() {
        let b = Msg::new(RTM_NEWLINK, NLM_F_CREATE)
            .ifinfo(7, 0, 0)
            .nested(IFLA_LINKINFO, |m| m.attr_str(IFLA_INFO_KIND, "veth"))
            .finish(42);
        assert_eq!(b.len(), HDR_LEN + IFINFO_LEN + 4 + 4 + 8);
        assert_eq!(u32_at(&b, 0), Some(b.len() as u32));
        assert_eq!(u32_at(&b, 8), Some(42));
        assert_eq!(u32_at(&b, HDR_LEN + 4), Some(7));
        let r = replies(&b).next().unwrap();
        let info = find_attr(r.body, IFINFO_LEN, IFLA_LINKINFO).unwrap();
        assert_eq!(find_attr(info, 0, IFLA_INFO_KIND), Some(&b"veth\0"[..]));
    }

    #[test]
    fn error_replies_give_errno_and_message() {
        let inner = Msg::new(RTM_NEWLINK, 0).finish(1);
        let mut body = (-libc::EEXIST).to_ne_bytes().to_vec();
        body.extend_from_slice(&inner);
        let body = Msg::start(NLMSG_ERROR, NLM_F_ACK_TLVS)
            .push(&body)
            .attr_str(NLMSGERR_ATTR_MSG, "taken")
            .finish(1);
        let r = replies(&body).next().unwrap();
        assert_eq!(error_of(&r), (libc::EEXIST, Some("taken".to_string())));
    }
}
