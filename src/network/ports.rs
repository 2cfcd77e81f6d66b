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
//!
//! A container on a user network whose host resolves names through a
//! resolver on its loopback (dnsmasq, unbound, a stub without a list of
//! upstream servers) asks it through its gateway instead: DNS to the
//! gateway is DNAT'd to the resolver, and given a loopback source (as
//! Docker's embedded DNS server asks from the host, so resolvers that
//! answer only their host answer it too), under the same guard.

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

/// The guard while the bridge routes loopback (`route_localnet`):
/// nothing from it reaches the host's loopback but DNAT'd traffic and
/// its answers (CVE-2020-8558).
fn guard_nft(bridge: &str, t: &str) -> String {
    format!(
        "add rule ip skiff input iifname \"{bridge}\" ip daddr 127.0.0.0/8 ct status & dnat == 0 drop comment \"{t}\"\n"
    )
}

/// [`guard_nft`] for `iptables`. First in INPUT: an accept of the
/// host's own (a firewall's) must not come before it.
fn guard_iptables(bridge: &str) -> String {
    format!("-I INPUT -i {bridge} -d 127.0.0.0/8 -m conntrack ! --ctstate DNAT -j DROP")
}

/// An `iptables` rule written as one line (no word of it holds a space),
/// as arguments.
fn words(rule: &str) -> Vec<String> {
    rule.split_whitespace().map(String::from).collect()
}

/// [`words`], tagged `t`.
fn tagged(rule: &str, t: &str) -> Vec<String> {
    let mut v = words(rule);
    v.extend(["-m", "comment", "--comment", t].map(String::from));
    v
}

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
    s += &guard_nft(br, &t);
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
    let mut add = |v: &[&str]| rules.push(tagged(&v.join(" "), &t));
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
    add(&[&guard_iptables(r.bridge)]);
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
    apply(r.bridge, || nft_script(r), || iptables_rules(r))
        .context("set up the packet filter for the published ports")
}

/// The rules of the tool in use, then `route_localnet` on `bridge`: it
/// is never on without the guard in. Under [`localnet_lock`], so that a
/// container ending on the same bridge cannot turn it off meanwhile.
fn apply(
    bridge: &str,
    nft: impl FnOnce() -> String,
    iptables: impl FnOnce() -> Vec<Vec<String>>,
) -> Result<()> {
    let _lock = localnet_lock();
    match tool()? {
        Tool::Nft => run(Command::new("nft").args(["-f", "-"]), Some(&nft())).map(drop)?,
        Tool::Iptables => iptables_all(iptables())?,
    }
    let conf = format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet");
    std::fs::write(&conf, "1").with_context(|| format!("write {conf}"))
}

fn iptables_all(rules: Vec<Vec<String>>) -> Result<()> {
    for args in rules {
        run(Command::new("iptables").args(&args), None)?;
    }
    Ok(())
}

/// Held while a bridge's `route_localnet` and guards change (machine-wide:
/// the decision to turn it off reads the guards of every container). A
/// lock that cannot be had (a read-only /run) is gone without.
fn localnet_lock() -> Option<crate::util::lock::LockGuard> {
    crate::util::lock::lock_exclusive(std::path::Path::new("/run/skiff-localnet.lock")).ok()
}

/// Do containers' rules go into iptables (the driver chosen, or the only
/// tool there)?
pub fn uses_iptables() -> bool {
    matches!(tool(), Ok(Tool::Iptables))
}

/// Does the host's iptables INPUT chain drop what it does not accept
/// (ufw's default, and many hand-made firewalls)? Then forwarded DNS
/// needs an accept of its own there.
pub fn input_drops() -> bool {
    super::firewall::on_path("iptables")
        && run(Command::new("iptables").args(["-S", "INPUT"]), None)
            .is_ok_and(|l| drops_by_default(&l))
}

/// An INPUT chain (`iptables -S INPUT`) whose policy drops, or which
/// ends in an unconditional drop or reject.
fn drops_by_default(listing: &str) -> bool {
    let last = listing.lines().rfind(|l| l.starts_with("-A INPUT"));
    listing.lines().any(|l| l.trim() == "-P INPUT DROP")
        || last.is_some_and(|l| {
            matches!(l.trim(), "-A INPUT -j DROP" | "-A INPUT -j REJECT")
                || l.trim().starts_with("-A INPUT -j REJECT --reject-with")
        })
}

/// What forwarding one container's DNS to the host's loopback resolver
/// needs.
#[derive(Debug, Clone)]
pub struct DnsRules<'a> {
    /// The container's ID: the rules' tag.
    pub id: &'a str,
    /// Its address, its network's gateway and bridge.
    pub ip: Ipv4Addr,
    pub gateway: Ipv4Addr,
    pub bridge: &'a str,
    /// The resolver on the host's loopback.
    pub to: Ipv4Addr,
    /// The host's iptables INPUT drops by default ([`input_drops`]): an
    /// accept of the forwarded queries goes there, whatever the tool.
    pub accept_input: bool,
}

/// The nft script forwarding a container's DNS.
pub fn dns_nft_script(r: &DnsRules) -> String {
    let t = tag(r.id);
    let (ip, gw, br, to) = (r.ip, r.gateway, r.bridge, r.to);
    let mut s = String::from(CHAINS);
    s += "add chain ip skiff natinput { type nat hook input priority 100; policy accept; }\n";
    for proto in ["udp", "tcp"] {
        s += &format!(
            "add rule ip skiff prerouting iifname \"{br}\" ip saddr {ip} ip daddr {gw} {proto} dport 53 dnat to {to}:53 comment \"{t}\"\n"
        );
        s += &format!(
            "add rule ip skiff natinput ip saddr {ip} ip daddr {to} {proto} dport 53 ct status dnat snat to 127.0.0.1 comment \"{t}\"\n"
        );
    }
    s += &guard_nft(br, &t);
    s
}

/// The same rules for `iptables`, each tagged.
pub fn dns_iptables_rules(r: &DnsRules) -> Vec<Vec<String>> {
    let t = tag(r.id);
    let (ip, gw, br, to) = (r.ip, r.gateway, r.bridge, r.to);
    let mut rules = Vec::new();
    for proto in ["udp", "tcp"] {
        rules.push(tagged(&format!(
            "-t nat -A PREROUTING -i {br} -s {ip} -d {gw} -p {proto} --dport 53 -j DNAT --to-destination {to}:53"
        ), &t));
        rules.push(tagged(&format!(
            "-t nat -A INPUT -s {ip} -d {to} -p {proto} --dport 53 -m conntrack --ctstate DNAT -j SNAT --to-source 127.0.0.1"
        ), &t));
    }
    rules.push(tagged(&guard_iptables(br), &t));
    rules
}

/// The accepts of forwarded DNS in an INPUT chain that drops by default.
pub fn dns_input_accepts(r: &DnsRules) -> Vec<Vec<String>> {
    let (t, br, to) = (tag(r.id), r.bridge, r.to);
    ["udp", "tcp"]
        .iter()
        .map(|proto| {
            words(&format!(
                "-I INPUT -i {br} -d {to} -p {proto} --dport 53 -m conntrack --ctstate DNAT -m comment --comment {t} -j ACCEPT"
            ))
        })
        .collect()
}

/// Forward a container's DNS to the host's loopback resolver (its rules
/// go with the rest of its own, by [`remove`]).
pub fn install_dns(r: &DnsRules) -> Result<()> {
    apply(r.bridge, || dns_nft_script(r), || dns_iptables_rules(r))
        .and_then(|()| {
            if r.accept_input {
                iptables_all(dns_input_accepts(r))?;
            }
            Ok(())
        })
        .context("forward the container's DNS to the host's resolver")
}

/// Take container `id`'s rules out of the tool they went into (with
/// `input_accepts`, also those it put in iptables' INPUT beside nft).
/// `bridge` loses `route_localnet` again when no other container's guard
/// is on it.
pub fn remove(id: &str, bridge: &str, in_iptables: bool, input_accepts: bool) -> Result<()> {
    let t = tag(id);
    let _lock = localnet_lock();
    let guarded = match if in_iptables {
        Tool::Iptables
    } else {
        Tool::Nft
    } {
        Tool::Iptables => {
            super::firewall::remove(id)?;
            run(Command::new("iptables").args(["-S", "INPUT"]), None)
                .is_ok_and(|l| l.lines().any(|l| is_iptables_guard(l, bridge)))
        }
        Tool::Nft => {
            // No table (flushed by a firewall reload): no guard anywhere.
            let listing = super::firewall::delete_tagged(&t)?;
            if input_accepts {
                super::firewall::remove_iptables(&t, &["filter"])?;
            }
            listing.is_some_and(|l| guarded_by_others(&l, bridge, &t))
        }
    };
    if !bridge.is_empty() && !guarded {
        let conf = format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet");
        // The bridge may be gone with its network: nothing to reset.
        let _ = std::fs::write(conf, "0");
    }
    Ok(())
}

/// Is this `iptables -S` line a guard of `bridge`? (iptables prints the
/// rule's parts in an order of its own: `-d` before `-i`.)
fn is_iptables_guard(line: &str, bridge: &str) -> bool {
    let w: Vec<&str> = line.split_whitespace().collect();
    let has = |flag: &str, value: &str| w.windows(2).any(|p| p[0] == flag && p[1] == value);
    has("-i", bridge) && has("-d", "127.0.0.0/8") && has("-j", "DROP")
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
    fn guards_and_default_drops_are_seen_as_iptables_prints_them() {
        let g = "-A INPUT -d 127.0.0.0/8 -i skf-0123 -m conntrack ! --ctstate DNAT -m comment --comment \"skiff:0123456789ab\" -j DROP";
        assert!(is_iptables_guard(g, "skf-0123"));
        assert!(!is_iptables_guard(g, "skf-01"));
        assert!(!is_iptables_guard(
            "-A INPUT -i skf-0123 -j ACCEPT",
            "skf-0123"
        ));
        assert!(drops_by_default(
            "-P INPUT DROP\n-A INPUT -i lo -j ACCEPT\n"
        ));
        assert!(drops_by_default(
            "-P INPUT ACCEPT\n-A INPUT -i lo -j ACCEPT\n-A INPUT -j REJECT --reject-with icmp-host-prohibited\n"
        ));
        assert!(!drops_by_default(
            "-P INPUT ACCEPT\n-A INPUT -s 10.0.0.0/8 -j DROP\n"
        ));
    }

    #[test]
    fn dns_goes_from_the_gateway_to_the_loopback_resolver_and_nowhere_else() {
        let r = DnsRules {
            id: "0123456789abcdef",
            ip: "10.89.3.7".parse().unwrap(),
            gateway: "10.89.3.1".parse().unwrap(),
            bridge: "skf-0123",
            to: "127.0.0.53".parse().unwrap(),
            accept_input: true,
        };
        let s = dns_nft_script(&r);
        let t = "comment \"skiff:0123456789ab\"";
        for proto in ["udp", "tcp"] {
            assert!(s.contains(&format!("add rule ip skiff prerouting iifname \"skf-0123\" ip saddr 10.89.3.7 ip daddr 10.89.3.1 {proto} dport 53 dnat to 127.0.0.53:53 {t}")), "{s}");
            assert!(s.contains(&format!("add rule ip skiff natinput ip saddr 10.89.3.7 ip daddr 127.0.0.53 {proto} dport 53 ct status dnat snat to 127.0.0.1 {t}")), "{s}");
        }
        assert!(s.contains(&format!("add rule ip skiff input iifname \"skf-0123\" ip daddr 127.0.0.0/8 ct status & dnat == 0 drop {t}")), "{s}");
        let ipt = dns_iptables_rules(&r);
        assert_eq!(ipt.len(), 5);
        assert!(ipt
            .iter()
            .all(|v| v.ends_with(&["--comment".to_string(), "skiff:0123456789ab".to_string()])));
        assert!(ipt[0].join(" ").contains("-t nat -A PREROUTING -i skf-0123 -s 10.89.3.7 -d 10.89.3.1 -p udp --dport 53 -j DNAT --to-destination 127.0.0.53:53"), "{ipt:?}");
        assert!(ipt[1].join(" ").contains("-t nat -A INPUT -s 10.89.3.7 -d 127.0.0.53 -p udp --dport 53 -m conntrack --ctstate DNAT -j SNAT --to-source 127.0.0.1"), "{ipt:?}");
        assert!(
            ipt[4].join(" ").starts_with(
                "-I INPUT -i skf-0123 -d 127.0.0.0/8 -m conntrack ! --ctstate DNAT -j DROP"
            ),
            "{ipt:?}"
        );
        let acc = dns_input_accepts(&r);
        assert_eq!(acc.len(), 2);
        assert_eq!(
            acc[1].join(" "),
            "-I INPUT -i skf-0123 -d 127.0.0.53 -p tcp --dport 53 -m conntrack --ctstate DNAT -m comment --comment skiff:0123456789ab -j ACCEPT"
        );
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
