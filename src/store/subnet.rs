//! IPv4 subnets for the network records: CIDR parsing, overlap, the
//! host's routes (`/proc/net/route`), and choosing a free subnet from a
//! pool. Pure but for [`host_routes`], so the pools are tested with routes
//! passed in as data.

use anyhow::{Context, Result};
use std::fmt;
use std::net::Ipv4Addr;

/// An IPv4 network: its address (host bits zero) and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Net {
    network: u32,
    prefix: u8,
}

impl Ipv4Net {
    /// The network holding `addr` with a `prefix`-bit mask (host bits
    /// dropped); None when the prefix is over 32.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Option<Ipv4Net> {
        (prefix <= 32).then(|| Ipv4Net {
            network: u32::from(addr) & mask(prefix),
            prefix,
        })
    }

    /// `a.b.c.d/n` as written, host bits and all; None unless it is an
    /// IPv4 CIDR.
    pub fn parse_cidr(s: &str) -> Option<(Ipv4Addr, u8)> {
        let (addr, len) = s.split_once('/')?;
        if len.is_empty() || len.len() > 2 || !len.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let prefix: u8 = len.parse().ok()?;
        let addr: Ipv4Addr = addr.parse().ok()?;
        (prefix <= 32).then_some((addr, prefix))
    }

    /// A CIDR whose host bits are zero; None for anything else.
    pub fn parse(s: &str) -> Option<Ipv4Net> {
        let (addr, prefix) = Ipv4Net::parse_cidr(s)?;
        let net = Ipv4Net::new(addr, prefix)?;
        (net.network() == addr).then_some(net)
    }

    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network)
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The netmask as an address (`255.255.255.0` for a /24).
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(mask(self.prefix))
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network | !mask(self.prefix))
    }

    /// The first address after the network's own (the default gateway).
    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network.wrapping_add(1))
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == self.network
    }

    /// Do the two share any address? (Networks either nest or are apart.)
    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        self.contains(other.network()) || other.contains(self.network())
    }

    /// The addresses a container may get: all but the network's and the
    /// broadcast address, lowest first.
    pub fn hosts(&self) -> impl Iterator<Item = Ipv4Addr> {
        let first = self.network.saturating_add(1);
        let last = (self.network | !mask(self.prefix)).saturating_sub(1);
        (first..=last).map(Ipv4Addr::from)
    }

    /// The `n`-th subnet of `prefix` bits inside this one (`10.89.0.0/16`
    /// split into /24s: n = 1 is `10.89.1.0/24`); None past the end.
    pub fn subnet(&self, prefix: u8, n: u32) -> Option<Ipv4Net> {
        if prefix < self.prefix || prefix > 32 {
            return None;
        }
        let count_bits = u32::from(prefix - self.prefix);
        if count_bits < 32 && n >= 1u32 << count_bits {
            return None;
        }
        let step = 1u64 << (32 - u32::from(prefix));
        let addr = u64::from(self.network) + step * u64::from(n);
        Ipv4Net::new(Ipv4Addr::from(u32::try_from(addr).ok()?), prefix)
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network(), self.prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p.min(32))),
    }
}

/// The destinations of the routes in `/proc/net/route`'s text, default
/// routes left out (every subnet would overlap them). The kernel prints
/// each address as the hex of its in-memory (network order) bytes read
/// as a native integer, hence `to_ne_bytes`.
pub fn parse_routes(text: &str) -> Vec<Ipv4Net> {
    const RTF_UP: u32 = 0x1;
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let hex = |s: &str| u32::from_str_radix(s, 16).ok();
        let (Some(dest), Some(flags), Some(m)) = (hex(f[1]), hex(f[3]), hex(f[7])) else {
            continue;
        };
        if flags & RTF_UP == 0 {
            continue;
        }
        let prefix = u32::from_be_bytes(m.to_ne_bytes()).count_ones() as u8;
        if prefix == 0 {
            continue;
        }
        if let Some(net) = Ipv4Net::new(Ipv4Addr::from(dest.to_ne_bytes()), prefix) {
            out.push(net);
        }
    }
    out
}

/// The host's IPv4 routes (connected subnets included: the kernel adds
/// one for every address it is given), without the default routes.
pub fn host_routes() -> Result<Vec<Ipv4Net>> {
    let text = std::fs::read_to_string("/proc/net/route").context("read /proc/net/route")?;
    Ok(parse_routes(&text))
}

/// The first of `candidates` that overlaps neither a host route nor a
/// subnet already `taken`.
pub fn pick_subnet(
    candidates: impl IntoIterator<Item = Ipv4Net>,
    routes: &[Ipv4Net],
    taken: &[Ipv4Net],
) -> Option<Ipv4Net> {
    candidates
        .into_iter()
        .find(|c| !routes.iter().chain(taken).any(|r| r.overlaps(c)))
}

/// The default network's pool: `10.87.0.0/16`, then `10.86.0.0/16`, and
/// on down to `10.0.0.0/16` (away from the user networks' `10.89/16` and
/// from Podman's `10.88/16`).
pub fn default_pool() -> impl Iterator<Item = Ipv4Net> {
    (0..=87u8)
        .rev()
        .filter_map(|b| Ipv4Net::new(Ipv4Addr::new(10, b, 0, 0), 16))
}

/// The user networks' pool: the /24s of `10.89.0.0/16`, lowest first.
pub fn user_pool() -> impl Iterator<Item = Ipv4Net> {
    let base = Ipv4Net::new(Ipv4Addr::new(10, 89, 0, 0), 16).expect("a valid /16");
    (0..256).filter_map(move |n| base.subnet(24, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        Ipv4Net::parse(s).unwrap_or_else(|| panic!("{s} is a network"))
    }

    #[test]
    fn cidrs_parse_strictly() {
        assert_eq!(net("10.89.1.0/24").to_string(), "10.89.1.0/24");
        assert_eq!(net("0.0.0.0/0").prefix(), 0);
        assert_eq!(
            Ipv4Net::parse_cidr("10.0.0.1/24"),
            Some((Ipv4Addr::new(10, 0, 0, 1), 24))
        );
        assert_eq!(Ipv4Net::parse("10.0.0.1/24"), None, "host bits set");
        for bad in [
            "10.0.0.0",
            "10.0.0.0/",
            "10.0.0.0/33",
            "10.0.0/8",
            "10.0.0.0/+8",
            "x/8",
            "fd00::/64",
            "10.0.0.0/8/8",
            "10.0.0.0/008",
        ] {
            assert_eq!(Ipv4Net::parse_cidr(bad), None, "{bad}");
        }
    }

    #[test]
    fn addresses_of_a_network() {
        let n = net("10.89.3.0/24");
        assert_eq!(n.network(), Ipv4Addr::new(10, 89, 3, 0));
        assert_eq!(n.broadcast(), Ipv4Addr::new(10, 89, 3, 255));
        assert_eq!(n.first_host(), Ipv4Addr::new(10, 89, 3, 1));
        assert_eq!(n.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert!(n.contains(Ipv4Addr::new(10, 89, 3, 200)));
        assert!(!n.contains(Ipv4Addr::new(10, 89, 4, 0)));
        let hosts: Vec<_> = net("192.168.7.0/30").hosts().collect();
        assert_eq!(
            hosts,
            [Ipv4Addr::new(192, 168, 7, 1), Ipv4Addr::new(192, 168, 7, 2)]
        );
        assert!(net("10.0.0.0/8").overlaps(&net("10.89.0.0/24")));
        assert!(net("10.89.0.0/24").overlaps(&net("10.0.0.0/8")));
        assert!(!net("10.89.0.0/24").overlaps(&net("10.89.1.0/24")));
        let base = net("10.89.0.0/16");
        assert_eq!(base.subnet(24, 1), Some(net("10.89.1.0/24")));
        assert_eq!(base.subnet(24, 255), Some(net("10.89.255.0/24")));
        assert_eq!(base.subnet(24, 256), None);
        assert_eq!(net("0.0.0.0/0").subnet(1, 1), Some(net("128.0.0.0/1")));
    }

    const ROUTES: &str = "\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
cni0\t0000580A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
vpn0\t0000570A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
down\t0000560A\t00000000\t0000\t0\t0\t0\t0000FFFF\t0\t0\t0
tun0\t0001590A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
";

    #[test]
    fn routes_parse_without_the_default_route() {
        let r = parse_routes(ROUTES);
        let shown: Vec<String> = r.iter().map(|n| n.to_string()).collect();
        assert_eq!(
            shown,
            [
                "10.88.0.0/16",
                "192.0.2.0/24",
                "10.87.0.0/16",
                "10.89.1.0/24"
            ]
        );
        assert!(parse_routes("").is_empty());
        assert!(parse_routes("header\ngarbage line\n").is_empty());
    }

    #[test]
    fn pools_skip_routes_and_taken_subnets() {
        let routes = parse_routes(ROUTES);
        // 10.87/16 is routed (vpn0); 10.86/16's route is down.
        assert_eq!(
            pick_subnet(default_pool(), &routes, &[]),
            Some(net("10.86.0.0/16"))
        );
        assert_eq!(
            pick_subnet(default_pool(), &routes, &[net("10.86.5.0/24")]),
            Some(net("10.85.0.0/16"))
        );
        // 10.89.1.0/24 is routed (tun0).
        assert_eq!(
            pick_subnet(user_pool(), &routes, &[]),
            Some(net("10.89.0.0/24"))
        );
        assert_eq!(
            pick_subnet(user_pool(), &routes, &[net("10.89.0.0/24")]),
            Some(net("10.89.2.0/24"))
        );
        assert_eq!(
            pick_subnet(
                user_pool(),
                &routes,
                &[net("10.89.0.0/23"), net("10.89.2.0/24")]
            ),
            Some(net("10.89.3.0/24"))
        );
        assert_eq!(pick_subnet(user_pool(), &[net("10.0.0.0/8")], &[]), None);
        assert_eq!(user_pool().count(), 256);
        assert_eq!(default_pool().count(), 88);
        assert_eq!(default_pool().last(), Some(net("10.0.0.0/16")));
    }
}
