//! The packet filter rules of one container's published ports, in
//! skiff's table, every one tagged with the container (`skiff:<id12>`)
//! so that its end takes them out again:
//!
//! - DNAT of the published host ports to the container's address, in
//!   `prerouting` (traffic from outside and from containers) and in
//!   `output` (traffic from the host itself), for every local address
//!   (`fib daddr type local`) or only the one `-p IP:...` named;
//! - masquerade of what reaches the container from the host's loopback
//!   (`127.0.0.1:PORT`; the bridge routes such sources only with
//!   `route_localnet`, set while ports are published on it) and from its
//!   own subnet (hairpin: its answers must come back through the host);
//! - an accept of DNAT'd traffic to and from the container at the head
//!   of `forward`, before the isolation rules of other networks that
//!   would drop it;
//! - while `route_localnet` is on, a drop of packets from the bridge to
//!   the host's loopback addresses other than the DNAT'd ones' answers
//!   (else a container could reach services listening on 127.0.0.1;
//!   CVE-2020-8558 is that hole).

use super::firewall::{run, tag, tool, Tool};
use crate::store::ports::PublishedPort;
use anyhow::{Context, Result};
use std::net::Ipv4Addr;
use std::process::Command;

/// What one container's rules need.
#[derive(Debug, Clone)]
pub struct PortRules<'a> {
    /// The container's ID: the rules' tag.
    pub id: &'a str,
    /// Its address on the network its ports are published to.
    pub ip: Ipv4Addr,
    /// That network's subnet and bridge.
    pub subnet: &'a str,
    pub bridge: &'a str,
    pub ports: &'a [PublishedPort],
}

const CHAINS: &str = "add table ip skiff\n\
     add chain ip skiff prerouting { type nat hook prerouting priority -100; policy accept; }\n\
     add chain ip skiff output { type nat hook output priority -100; policy accept; }\n\
     add chain ip skiff postrouting { type nat hook postrouting priority srcnat; policy accept; }\n\
     add chain ip skiff forward { type filter hook forward priority filter; policy accept; }\n\
     add chain ip skiff input { type filter hook input priority filter; policy accept; }\n";

/// The nft script adding a container's rules.
pub fn nft_script(r: &PortRules) -> String {
    let t = tag(r.id);
    let (ip, br) = (r.ip, r.bridge);
    let mut s = String::from(CHAINS);
    s += &format!(
        "insert rule ip skiff forward ip daddr {ip} ct status dnat accept comment \"{t}\"\n"
    );
    s += &format!(
        "insert rule ip skiff forward ip saddr {ip} ct status dnat accept comment \"{t}\"\n"
    );
    s += &format!(
        "add rule ip skiff postrouting ip daddr {ip} ip saddr {{ 127.0.0.0/8, {} }} ct status dnat masquerade comment \"{t}\"\n",
        r.subnet
    );
    s += &format!(
        "add rule ip skiff input iifname \"{br}\" ip daddr 127.0.0.0/8 ct status & dnat == 0 drop comment \"{t}\"\n"
    );
    for p in r.ports {
        let to = if p.host_ip.is_empty() || p.host_ip == "0.0.0.0" {
            "fib daddr type local".to_string()
        } else {
            format!("ip daddr {}", p.host_ip)
        };
        for chain in ["prerouting", "output"] {
            s += &format!(
                "add rule ip skiff {chain} {to} {} dport {} dnat to {ip}:{} comment \"{t}\"\n",
                p.proto, p.host_port, p.port
            );
        }
    }
    s
}

/// The same rules for `iptables`, in order, each tagged.
pub fn iptables_rules(r: &PortRules) -> Vec<Vec<String>> {
    let t = tag(r.id);
    let ip = r.ip.to_string();
    let dnat = ["-m", "conntrack", "--ctstate", "DNAT"];
    let mut rules: Vec<Vec<String>> = Vec::new();
    let mut add = |v: &[&str]| {
        let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
        v.extend(["-m", "comment", "--comment", &t].map(String::from));
        rules.push(v);
    };
    for dir in ["-d", "-s"] {
        add(&[&["-I", "FORWARD", dir, &ip][..], &dnat, &["-j", "ACCEPT"]].concat());
    }
    for src in ["127.0.0.0/8", r.subnet] {
        add(&[
            &["-t", "nat", "-A", "POSTROUTING", "-s", src, "-d", &ip][..],
            &dnat,
            &["-j", "MASQUERADE"],
        ]
        .concat());
    }
    add(&[
        "-A",
        "INPUT",
        "-i",
        r.bridge,
        "-d",
        "127.0.0.0/8",
        "-m",
        "conntrack",
        "!",
        "--ctstate",
        "DNAT",
        "-j",
        "DROP",
    ]);
    for p in r.ports {
        let to: Vec<&str> = if p.host_ip.is_empty() || p.host_ip == "0.0.0.0" {
            vec!["-m", "addrtype", "--dst-type", "LOCAL"]
        } else {
            vec!["-d", &p.host_ip]
        };
        let (hp, dest) = (p.host_port.to_string(), format!("{ip}:{}", p.port));
        for chain in ["PREROUTING", "OUTPUT"] {
            add(&[
                &["-t", "nat", "-A", chain][..],
                &to,
                &[
                    "-p",
                    &p.proto,
                    "--dport",
                    &hp,
                    "-j",
                    "DNAT",
                    "--to-destination",
                    &dest,
                ],
            ]
            .concat());
        }
    }
    rules
}

/// Add a container's rules, and let its bridge route the host's
/// loopback sources.
pub fn install(r: &PortRules) -> Result<()> {
    let conf = format!("/proc/sys/net/ipv4/conf/{}/route_localnet", r.bridge);
    std::fs::write(&conf, "1").with_context(|| format!("write {conf}"))?;
    match tool()? {
        Tool::Nft => run(Command::new("nft").args(["-f", "-"]), Some(&nft_script(r))).map(drop),
        Tool::Iptables => {
            for args in iptables_rules(r) {
                let mut c = Command::new("iptables");
                c.args(&args);
                run(&mut c, None)?;
            }
            Ok(())
        }
    }
    .context("set up the packet filter for the published ports")
}

/// Take container `id`'s rules out. `bridge` loses `route_localnet`
/// again when no other container publishes ports on it (with `nft`;
/// `iptables` leaves it on, its drop rule gone with the container).
pub fn remove(id: &str, bridge: &str) -> Result<()> {
    let t = tag(id);
    if tool()? == Tool::Iptables {
        return super::firewall::remove(id);
    }
    let Some(listing) = super::firewall::delete_tagged(&t)? else {
        return Ok(());
    };
    if !bridge.is_empty() && !guarded_by_others(&listing, bridge, &t) {
        let conf = format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet");
        // The bridge may be gone with its network: nothing to reset.
        let _ = std::fs::write(conf, "0");
    }
    Ok(())
}

/// Does a container other than the one tagged `own` still guard
/// `bridge`'s loopback (and so still publish ports on it)?
fn guarded_by_others(listing: &str, bridge: &str, own: &str) -> bool {
    let guard = format!("iifname \"{bridge}\" ip daddr 127.0.0.0/8");
    listing
        .lines()
        .any(|l| l.contains(&guard) && !l.contains(&format!("\"{own}\"")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ports() -> Vec<PublishedPort> {
        vec![
            PublishedPort {
                port: 80,
                proto: "tcp".into(),
                host_ip: "0.0.0.0".into(),
                host_port: 8080,
            },
            PublishedPort {
                port: 53,
                proto: "udp".into(),
                host_ip: "127.0.0.1".into(),
                host_port: 5353,
            },
        ]
    }

    fn rules(p: &[PublishedPort]) -> PortRules<'_> {
        PortRules {
            id: "0123456789abcdef0123",
            ip: "10.89.3.7".parse().unwrap(),
            subnet: "10.89.3.0/24",
            bridge: "skf-01234567",
            ports: p,
        }
    }

    #[test]
    fn nft_rules_for_a_container() {
        let p = ports();
        let s = nft_script(&rules(&p));
        let t = "comment \"skiff:0123456789ab\"";
        for want in [
            format!("add rule ip skiff prerouting fib daddr type local tcp dport 8080 dnat to 10.89.3.7:80 {t}"),
            format!("add rule ip skiff output fib daddr type local tcp dport 8080 dnat to 10.89.3.7:80 {t}"),
            format!("add rule ip skiff prerouting ip daddr 127.0.0.1 udp dport 5353 dnat to 10.89.3.7:53 {t}"),
            format!("add rule ip skiff output ip daddr 127.0.0.1 udp dport 5353 dnat to 10.89.3.7:53 {t}"),
            format!("insert rule ip skiff forward ip daddr 10.89.3.7 ct status dnat accept {t}"),
            format!("ip daddr 10.89.3.7 ip saddr {{ 127.0.0.0/8, 10.89.3.0/24 }} ct status dnat masquerade {t}"),
            format!("add rule ip skiff input iifname \"skf-01234567\" ip daddr 127.0.0.0/8 ct status & dnat == 0 drop {t}"),
        ] {
            assert!(s.contains(&want), "{want}\nnot in\n{s}");
        }
        // Every rule is tagged.
        assert!(s
            .lines()
            .filter(|l| l.contains(" rule "))
            .all(|l| l.ends_with(t)));
    }

    #[test]
    fn iptables_rules_for_a_container() {
        let p = ports();
        let r = iptables_rules(&rules(&p));
        let text: Vec<String> = r.iter().map(|v| v.join(" ")).collect();
        assert!(text
            .iter()
            .all(|l| l.ends_with("--comment skiff:0123456789ab")));
        assert!(text.contains(&"-t nat -A PREROUTING -m addrtype --dst-type LOCAL -p tcp --dport 8080 -j DNAT --to-destination 10.89.3.7:80 -m comment --comment skiff:0123456789ab".to_string()), "{text:#?}");
        assert!(text.iter().any(|l| l.starts_with(
            "-t nat -A OUTPUT -d 127.0.0.1 -p udp --dport 5353 -j DNAT --to-destination 10.89.3.7:53"
        )));
        assert!(text.iter().any(
            |l| l.starts_with("-I FORWARD -d 10.89.3.7 -m conntrack --ctstate DNAT -j ACCEPT")
        ));
    }

    #[test]
    fn the_bridge_stays_open_while_others_publish() {
        let listing = "\t\tiifname \"skf-1\" ip daddr 127.0.0.0/8 ct status & dnat == 0 drop comment \"skiff:aaaaaaaaaaaa\" # handle 5\n";
        assert!(!guarded_by_others(listing, "skf-1", "skiff:aaaaaaaaaaaa"));
        assert!(guarded_by_others(listing, "skf-1", "skiff:bbbbbbbbbbbb"));
        assert!(!guarded_by_others(listing, "skf-2", "skiff:bbbbbbbbbbbb"));
    }
}
