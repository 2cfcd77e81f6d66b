//! `--network`, `--hostname`, `--add-host`, `--dns`, `--dns-search`.

use super::bad;
use anyhow::Result;
use std::net::IpAddr;

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
            _ if s.starts_with("container:") => Err(bad(format!(
                "network mode {s:?} is not supported yet: use none, host or a network's name"
            ))),
            "" => Err(bad("network name must not be empty")),
            _ => Ok(NetworkMode::Bridge(s.to_string())),
        }
    }

    /// The name Docker shows for the mode (`HostConfig.NetworkMode`).
    pub fn name(&self) -> &str {
        match self {
            NetworkMode::None => "none",
            NetworkMode::Host => "host",
            NetworkMode::Bridge(n) => n,
        }
    }

    /// Whether the container gets its own network namespace.
    pub fn private_netns(&self) -> bool {
        *self != NetworkMode::Host
    }
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

/// One `--add-host` entry for `/etc/hosts`.
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
    if ip == "host-gateway" {
        return Err(bad(format!(
            "--add-host {s}: host-gateway is not supported yet (skiff has no bridge network, \
             so there is no gateway to name); give the address instead"
        )));
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
        assert!(NetworkMode::parse("container:abc").is_err());
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
            .unwrap_err()
            .to_string()
            .contains("host-gateway is not supported yet"));
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
