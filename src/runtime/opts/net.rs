//! `--network`, `--hostname`, `--add-host`, `--dns`, `--dns-search`,
//! `--mac-address`.

use super::bad;
use anyhow::Result;
use std::net::{IpAddr, Ipv4Addr};

/// `--network`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkMode {
    /// `none`: a network namespace with only `lo`.
    None,
    /// `host`: the host's network namespace.
    Host,
    /// A bridge network by name: `bridge` (the default one) or a user
    /// network; whether it exists is the store's to say.
    Bridge(String),
    /// `container:NAME|ID`: another container's network namespace.
    Container(String),
    /// `pasta[:OPTIONS]` or `slirp4netns[:OPTIONS]` as given: a
    /// user-space network stack (`network::userspace`).
    Userspace(String),
}

impl Default for NetworkMode {
    fn default() -> NetworkMode {
        NetworkMode::Bridge("bridge".into())
    }
}

impl NetworkMode {
    pub fn parse(s: &str) -> Result<NetworkMode> {
        match s {
            "none" => Ok(NetworkMode::None),
            "host" => Ok(NetworkMode::Host),
            "bridge" | "default" => Ok(NetworkMode::default()),
            _ if s.starts_with("container:") => match &s["container:".len()..] {
                "" => Err(bad(format!(
                    "invalid container format container:<name|id>: {s}"
                ))),
                c => Ok(NetworkMode::Container(c.to_string())),
            },
            "" => Err(bad("network name must not be empty")),
            _ => match crate::network::userspace::parse_mode(s) {
                Some((stack, opts)) => {
                    crate::network::userspace::check_options(stack, &opts)
                        .map_err(|e| bad(e.to_string()))?;
                    Ok(NetworkMode::Userspace(s.to_string()))
                }
                None => Ok(NetworkMode::Bridge(s.to_string())),
            },
        }
    }

    /// The name Docker shows for the mode (`HostConfig.NetworkMode`).
    pub fn name(&self) -> &str {
        match self {
            NetworkMode::None => "none",
            NetworkMode::Host => "host",
            NetworkMode::Bridge(n) => n,
            NetworkMode::Container(_) => "container",
            NetworkMode::Userspace(m) => m.split(':').next().unwrap_or(m),
        }
    }

    /// Whether the container gets its own network namespace.
    pub fn private_netns(&self) -> bool {
        *self != NetworkMode::Host
    }
}

/// One network a container joins, with what its endpoint there is asked
/// to be.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetAttach {
    /// The network's name (or ID) as given.
    pub name: String,
    pub aliases: Vec<String>,
    pub ip: Option<Ipv4Addr>,
    pub mac: Option<[u8; 6]>,
}

/// One `--network` value: a name or mode, or Docker's long form
/// `name=NET[,alias=A][,ip=ADDR][,mac-address=MAC]`.
pub fn parse_attach(s: &str) -> Result<NetAttach> {
    // `slirp4netns:mtu=1500` is a mode with options, not the long form.
    let long = s.split_once('=').is_some_and(|(k, _)| !k.contains(':'));
    if !long {
        return Ok(NetAttach {
            name: s.to_string(),
            ..Default::default()
        });
    }
    let mut a = NetAttach::default();
    for field in s.split(',') {
        let (k, v) = field
            .split_once('=')
            .ok_or_else(|| bad(format!("invalid field '{field}' must be a key=value pair")))?;
        match k.trim().to_ascii_lowercase().as_str() {
            "name" => a.name = v.to_string(),
            "alias" => a.aliases.push(v.to_string()),
            "ip" => a.ip = Some(parse_ip_flag("ip", v)?),
            "mac-address" => a.mac = Some(parse_mac(v)?),
            "driver-opt" | "gw-priority" => {}
            "ip6" | "link-local-ip" => {
                return Err(bad(format!(
                    "network option {k} is not supported: skiff's networks are IPv4 only"
                )))
            }
            _ => return Err(bad(format!("invalid field key {k}"))),
        }
    }
    if a.name.is_empty() {
        return Err(bad(format!("network name must be set: {s}")));
    }
    Ok(a)
}

/// `--ip ADDR` (an IPv4 address), in Docker's words when it is not one.
pub fn parse_ip_flag(flag: &str, s: &str) -> Result<Ipv4Addr> {
    s.parse().map_err(|_| {
        bad(format!(
            "invalid argument \"{s}\" for \"--{flag}\" flag: invalid string being converted to IP address: {s}"
        ))
    })
}

/// `--mac-address 02:42:ac:11:00:02`: six hex bytes, by `:` or `-`; a
/// unicast address.
pub fn parse_mac(s: &str) -> Result<[u8; 6]> {
    let invalid = || bad(format!("{s} is not a valid mac address"));
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return Err(invalid());
    }
    let mut mac = [0u8; 6];
    for (b, p) in mac.iter_mut().zip(parts) {
        if p.len() != 2 {
            return Err(invalid());
        }
        *b = u8::from_str_radix(p, 16).map_err(|_| invalid())?;
    }
    if mac[0] & 1 != 0 {
        return Err(bad(format!(
            "{s} is not a valid mac address: a multicast address cannot be an interface's"
        )));
    }
    Ok(mac)
}

/// What `--network` (repeatable), `--network-alias`, `--ip` and
/// `--mac-address` ask for together: the mode, and for bridge networks
/// the networks to join, first the one the default route goes through.
/// Docker's rules and words: the legacy flags apply to the first network,
/// never beside that network's own long-form values; only user networks
/// take addresses and aliases; the modes without networks of their own
/// stand alone.
pub fn resolve_networks(
    network: &[String],
    aliases: &[String],
    ip: Option<&str>,
    mac: Option<&str>,
) -> Result<(NetworkMode, Vec<NetAttach>)> {
    let mut attach = network
        .iter()
        .map(|n| parse_attach(n))
        .collect::<Result<Vec<_>>>()?;
    if attach.is_empty() {
        attach.push(NetAttach {
            name: "bridge".into(),
            ..Default::default()
        });
    }
    let modes = attach
        .iter()
        .map(|a| NetworkMode::parse(&a.name))
        .collect::<Result<Vec<_>>>()?;
    let mode = modes[0].clone();
    if modes.len() > 1 {
        if modes.iter().any(|m| !matches!(m, NetworkMode::Bridge(_))) {
            return Err(bad(
                "conflicting options: cannot attach both user-defined and non-user-defined network-modes",
            ));
        }
        for (i, m) in modes.iter().enumerate() {
            if modes[..i].contains(m) {
                return Err(bad(format!(
                    "network \"{}\" is specified multiple times",
                    m.name()
                )));
            }
        }
    }
    let first = &mut attach[0];
    if !aliases.is_empty() {
        if !first.aliases.is_empty() {
            return Err(bad(
                "conflicting options: cannot specify both --network-alias and per-network alias",
            ));
        }
        first.aliases = aliases.to_vec();
    }
    if let Some(ip) = ip {
        if first.ip.is_some() {
            return Err(bad(
                "conflicting options: cannot specify both --ip and per-network IPv4 address",
            ));
        }
        first.ip = Some(parse_ip_flag("ip", ip)?);
    }
    if let Some(mac) = mac {
        if first.mac.is_some() {
            return Err(bad(
                "conflicting options: cannot specify both --mac-address and per-network MAC address",
            ));
        }
        first.mac = Some(parse_mac(mac)?);
    }
    for (a, m) in attach.iter().zip(&modes) {
        let user_net = matches!(m, NetworkMode::Bridge(n) if n != "bridge");
        if a.ip.is_some() && !user_net {
            return Err(bad(
                "user specified IP address is supported on user defined networks only",
            ));
        }
        if !a.aliases.is_empty() && !user_net {
            return Err(bad(
                "network-scoped alias is supported only for containers in user defined networks",
            ));
        }
        if a.mac.is_some() && matches!(m, NetworkMode::Container(_)) {
            return Err(bad("conflicting options: mac-address and the network mode"));
        }
    }
    Ok(match mode {
        NetworkMode::Bridge(_) => (mode, attach),
        _ => (mode, Vec::new()),
    })
}

/// `--hostname`: what the kernel takes (1 to 64 bytes) made of RFC 1123
/// characters, so a typo cannot put spaces or slashes into `/etc/hosts`.
pub fn parse_hostname(s: &str) -> Result<String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && !s.starts_with(['-', '.'])
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if !ok {
        return Err(bad(format!(
            "invalid hostname {s:?}: use letters, digits, '-' and '.', at most 64 characters"
        )));
    }
    Ok(s.to_string())
}

/// `--add-host NAME:host-gateway`: the host as the containers on the
/// default bridge reach it.
pub const HOST_GATEWAY: &str = "host-gateway";

/// One `--add-host` entry for `/etc/hosts`; `0.0.0.0` stands for
/// `host-gateway` until the container is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraHost {
    pub name: String,
    pub ip: IpAddr,
}

/// `--add-host name:ip` (or `name=ip`, IPv6 optionally in brackets).
pub fn parse_add_host(s: &str) -> Result<ExtraHost> {
    // `=` first: it cannot appear in an address, while `:` can (IPv6).
    let (name, ip) = s
        .split_once('=')
        .or_else(|| s.split_once(':'))
        .ok_or_else(|| bad(format!("bad format for add-host: {s:?}")))?;
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(bad(format!("bad format for add-host: {s:?}")));
    }
    if ip == HOST_GATEWAY {
        // The default bridge's gateway, filled in when the container is
        // made.
        return Ok(ExtraHost {
            name: name.to_string(),
            ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        });
    }
    let bare = ip
        .strip_prefix('[')
        .and_then(|i| i.strip_suffix(']'))
        .unwrap_or(ip);
    let ip = bare
        .parse()
        .map_err(|_| bad(format!("invalid IP address in add-host: {ip:?}")))?;
    Ok(ExtraHost {
        name: name.to_string(),
        ip,
    })
}

/// `--dns`: an IP address.
pub fn parse_dns(s: &str) -> Result<IpAddr> {
    s.parse()
        .map_err(|_| bad(format!("{s} is not an ip address")))
}

/// `--dns-search`: a domain name, or `.` (meaning "no search domains").
pub fn parse_dns_search(s: &str) -> Result<String> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let domain = s.strip_suffix('.').unwrap_or(s);
    if s == "." || (s.len() <= 255 && domain.split('.').all(label_ok)) {
        Ok(s.to_string())
    } else {
        Err(bad(format!("{s} is not a valid domain")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_modes() {
        assert_eq!(NetworkMode::parse("none").unwrap(), NetworkMode::None);
        assert_eq!(NetworkMode::parse("host").unwrap(), NetworkMode::Host);
        let bridge = NetworkMode::Bridge("bridge".into());
        assert_eq!(NetworkMode::parse("bridge").unwrap(), bridge);
        assert_eq!(NetworkMode::parse("default").unwrap(), bridge);
        assert_eq!(bridge.name(), "bridge");
        assert!(!NetworkMode::Host.private_netns());
        assert!(NetworkMode::None.private_netns());
        // A user network by name: the store says whether it exists.
        assert_eq!(
            NetworkMode::parse("mynet").unwrap(),
            NetworkMode::Bridge("mynet".into())
        );
        assert!(NetworkMode::parse("").is_err());
        assert_eq!(
            NetworkMode::parse("container:abc").unwrap(),
            NetworkMode::Container("abc".into())
        );
        assert!(NetworkMode::parse("container:").is_err());
        assert!(NetworkMode::Container("x".into()).private_netns());
    }

    #[test]
    fn hostnames() {
        assert_eq!(parse_hostname("web-1.example").unwrap(), "web-1.example");
        for bad in ["", "a b", "a/b", "-x", &"x".repeat(65)] {
            assert!(parse_hostname(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn add_hosts() {
        let h = parse_add_host("db:10.0.0.2").unwrap();
        assert_eq!(h.name, "db");
        assert_eq!(h.ip.to_string(), "10.0.0.2");
        let h = parse_add_host("v6:::1").unwrap();
        assert_eq!(h.ip.to_string(), "::1");
        let h = parse_add_host("v6=[fe80::1]").unwrap();
        assert_eq!(h.ip.to_string(), "fe80::1");
        assert_eq!(
            parse_add_host("nohost").unwrap_err().to_string(),
            "bad format for add-host: \"nohost\""
        );
        assert_eq!(
            parse_add_host("x:1.2.3").unwrap_err().to_string(),
            "invalid IP address in add-host: \"1.2.3\""
        );
        assert!(parse_add_host("gw:host-gateway")
            .unwrap()
            .ip
            .is_unspecified());
    }

    fn resolve(
        net: &[&str],
        alias: &[&str],
        ip: Option<&str>,
        mac: Option<&str>,
    ) -> Result<(NetworkMode, Vec<NetAttach>)> {
        let net: Vec<String> = net.iter().map(|s| s.to_string()).collect();
        let alias: Vec<String> = alias.iter().map(|s| s.to_string()).collect();
        resolve_networks(&net, &alias, ip, mac)
    }

    fn err(r: Result<(NetworkMode, Vec<NetAttach>)>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn networks_and_their_endpoints() {
        let (m, a) = resolve(&[], &[], None, None).unwrap();
        assert_eq!(m, NetworkMode::Bridge("bridge".into()));
        assert_eq!(a.len(), 1);
        let (m, a) = resolve(
            &["a", "b"],
            &["x"],
            Some("10.89.0.9"),
            Some("02:00:00:00:00:01"),
        )
        .unwrap();
        assert_eq!(m, NetworkMode::Bridge("a".into()));
        assert_eq!(a[0].aliases, ["x"]);
        assert_eq!(a[0].ip, Some("10.89.0.9".parse().unwrap()));
        assert_eq!(a[0].mac, Some([2, 0, 0, 0, 0, 1]));
        assert_eq!(
            a[1],
            NetAttach {
                name: "b".into(),
                ..Default::default()
            }
        );
        let (_, a) = resolve(
            &[
                "name=a,alias=p,alias=q,ip=10.89.0.3,mac-address=02-aa-bb-cc-dd-ee",
                "bridge",
            ],
            &[],
            None,
            None,
        )
        .unwrap();
        assert_eq!(a[0].aliases, ["p", "q"]);
        assert_eq!(a[0].mac, Some([2, 0xaa, 0xbb, 0xcc, 0xdd, 0xee]));
        assert_eq!(a[1].name, "bridge");
        let (m, a) = resolve(&["none"], &[], None, None).unwrap();
        assert_eq!((m, a.len()), (NetworkMode::None, 0));
        let (m, _) = resolve(&["container:web"], &[], None, None).unwrap();
        assert_eq!(m, NetworkMode::Container("web".into()));
        // Docker's refusals.
        assert_eq!(err(resolve(&["a", "host"], &[], None, None)), "conflicting options: cannot attach both user-defined and non-user-defined network-modes");
        assert_eq!(
            err(resolve(&["a", "a"], &[], None, None)),
            "network \"a\" is specified multiple times"
        );
        assert_eq!(
            err(resolve(
                &["name=a,ip=10.0.0.1"],
                &[],
                Some("10.0.0.2"),
                None
            )),
            "conflicting options: cannot specify both --ip and per-network IPv4 address"
        );
        assert_eq!(
            err(resolve(&["name=a,alias=x"], &["y"], None, None)),
            "conflicting options: cannot specify both --network-alias and per-network alias"
        );
        assert_eq!(
            err(resolve(&["bridge"], &[], Some("10.0.0.2"), None)),
            "user specified IP address is supported on user defined networks only"
        );
        assert_eq!(
            err(resolve(&["a", "name=bridge,alias=x"], &[], None, None)),
            "network-scoped alias is supported only for containers in user defined networks"
        );
        assert_eq!(
            err(resolve(
                &["container:w"],
                &[],
                None,
                Some("02:00:00:00:00:01")
            )),
            "conflicting options: mac-address and the network mode"
        );
        assert_eq!(
            err(resolve(&["name=a,color=red"], &[], None, None)),
            "invalid field key color"
        );
        assert_eq!(err(resolve(&["a"], &[], Some("nope"), None)), "invalid argument \"nope\" for \"--ip\" flag: invalid string being converted to IP address: nope");
        for m in [
            "zz:00:00:00:00:00",
            "02:00:00:00:00",
            "020000000001",
            "01:00:5e:00:00:01",
        ] {
            assert!(parse_mac(m).is_err(), "{m}");
        }
    }

    #[test]
    fn dns() {
        assert_eq!(parse_dns("8.8.8.8").unwrap().to_string(), "8.8.8.8");
        assert_eq!(
            parse_dns("dns.google").unwrap_err().to_string(),
            "dns.google is not an ip address"
        );
        assert_eq!(parse_dns_search("example.com").unwrap(), "example.com");
        assert_eq!(parse_dns_search(".").unwrap(), ".");
        assert!(parse_dns_search("-bad.com").is_err());
        assert!(parse_dns_search("a..b").is_err());
    }
}
