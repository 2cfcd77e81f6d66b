//! The packet filter chosen: `firewall-driver` in the configuration (or
//! `SKIFF_FIREWALL_DRIVER`) set to `iptables` puts every rule nft would
//! hold into iptables' own tables instead (as on a host without nft), and
//! networks behave the same: outbound NAT, published ports from the
//! host's loopback and other addresses, networks apart, and nothing left
//! once the container and the network are gone.

mod common;

use common::net::{
    dns_server_seen, free_port, gateway_of, get, host_server_on, ip_of, nc_get, nft_tagged, web,
    with_resolv, HostAddr,
};
use common::run::Ctx;

/// Lines of `iptables -S` in `table` tagged for `id`.
fn iptables_tagged(table: &str, id: &str) -> Vec<String> {
    let out = common::run_tool("iptables", &["-t", table, "-S"]);
    let tag = format!("skiff:{}", &id[..12]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&tag))
        .map(String::from)
        .collect()
}

fn network_id(c: &Ctx, name: &str) -> String {
    c.env
        .ok(&["network", "inspect", "-f", "{{.Id}}", name])
        .stdout
        .trim()
        .to_string()
}

#[test]
fn iptables_does_what_nft_does() {
    let c = Ctx::new("fw_iptables");
    std::fs::write(&c.env.config, "{\"firewall-driver\": \"iptables\"}\n").unwrap();
    let bb = c.bb();
    let host = HostAddr::get();
    let port = free_port();
    c.env
        .ok(&["network", "create", "--subnet", "10.214.1.0/24", "ipt-a"]);
    c.env
        .ok(&["network", "create", "--subnet", "10.214.2.0/24", "ipt-b"]);
    let (a, b) = (network_id(&c, "ipt-a"), network_id(&c, "ipt-b"));
    let publish = format!("{port}:80");
    let site = web(
        &c,
        "site",
        &["--network", "ipt-a", "-p", &publish],
        "via-iptables",
    );

    // The rules are iptables', none are nft's.
    let nat = iptables_tagged("nat", &a);
    assert!(nat.iter().any(|l| l.contains("-j MASQUERADE")), "{nat:#?}");
    let dnat = iptables_tagged("nat", &site);
    assert!(
        dnat.iter()
            .any(|l| l.contains(&format!("--dport {port}")) && l.contains("-j DNAT")),
        "{dnat:#?}"
    );
    assert!(!iptables_tagged("filter", &a).is_empty());
    assert!(nft_tagged(&a).is_empty() && nft_tagged(&site).is_empty());

    // The published port from the host's loopback, its other address and
    // another network's container (through the host).
    assert_eq!(get("127.0.0.1", port).as_deref(), Some("via-iptables"));
    assert_eq!(get(&host.ip, port).as_deref(), Some("via-iptables"));
    let on = |net: &str, script: &str| c.run(&["--rm", "--network", net, &bb, "sh", "-c", script]);
    let through_host = on("ipt-b", &nc_get(&host.ip, port));
    assert_eq!(through_host.stdout.trim(), "via-iptables", "{through_host}");

    // Same network: the site's own address; the other network: not.
    let ip = ip_of(&c, "site");
    let near = on("ipt-a", &nc_get(&ip, 80));
    assert_eq!(near.stdout.trim(), "via-iptables", "{near}");
    let far = on("ipt-b", &format!("ping -c 1 -W 1 {ip}"));
    assert_ne!(far.code, 0, "ipt-b reached ipt-a:\n{far}");

    // Out through the gateway to a server on the host.
    let server = host_server_on("0.0.0.0", "hello from the host\n");
    let gw = gateway_of(&c, "ipt-b");
    let out = c.run(&[
        "--rm",
        "--network",
        "ipt-b",
        &bb,
        "wget",
        "-q",
        "-O",
        "-",
        &format!("http://{gw}:{server}/"),
    ]);
    assert_eq!(out.stdout, "hello from the host\n", "{out}");

    // Gone with the container, then with the networks.
    c.env.ok(&["rm", "-f", "site"]);
    assert!(iptables_tagged("nat", &site).is_empty());
    assert!(iptables_tagged("filter", &site).is_empty());
    assert!(get("127.0.0.1", port).is_none());
    c.env.ok(&["network", "rm", "ipt-a", "ipt-b"]);
    for id in [&a, &b] {
        assert!(iptables_tagged("nat", id).is_empty(), "{id}");
        assert!(iptables_tagged("filter", id).is_empty(), "{id}");
    }
}

#[test]
fn the_firewall_driver_is_checked_and_the_environment_wins() {
    let c = Ctx::new("fw_choice");
    std::fs::write(&c.env.config, "{\"firewall-driver\": \"pf\"}\n").unwrap();
    let out = c.env.fails(&["ps"]);
    out.assert_code(125).assert_error_line();
    out.assert_stderr_has("unknown firewall driver \"pf\": use \"nftables\" or \"iptables\"");

    // The environment over the file: nft's rules, none of iptables'.
    std::fs::write(&c.env.config, "{\"firewall-driver\": \"iptables\"}\n").unwrap();
    let bb = c.bb();
    let mut cmd = c
        .env
        .command(&["network", "create", "--subnet", "10.214.3.0/24", "envnet"]);
    cmd.env("SKIFF_FIREWALL_DRIVER", "nftables");
    assert!(cmd.status().unwrap().success());
    let id = network_id(&c, "envnet");
    let out = c.run_with_env(
        &["--rm", "--network", "envnet", &bb, "true"],
        &[("SKIFF_FIREWALL_DRIVER", "nftables")],
    );
    out.assert_ok();
    assert!(!nft_tagged(&id).is_empty());
    assert!(iptables_tagged("nat", &id).is_empty());
    // A container's rules come out of the tool they went into, whichever
    // the one taking them out has: published under iptables (the file's),
    // taken out here, in this process, where nft is the default.
    let port = free_port();
    c.run_ok(&[
        "-d",
        "--name",
        "pub",
        "--network",
        "envnet",
        "-p",
        &format!("{port}:80"),
        &bb,
        "sleep",
        "60",
    ]);
    let pub_id = c.inspect("pub")["Id"].as_str().unwrap().to_string();
    assert!(!iptables_tagged("nat", &pub_id).is_empty());
    let store = skiff::store::Store::open(&c.env.root).unwrap();
    skiff::network::publish::unpublish(&store, &pub_id);
    assert!(
        iptables_tagged("nat", &pub_id).is_empty(),
        "{:?}",
        iptables_tagged("nat", &pub_id)
    );
    assert!(iptables_tagged("filter", &pub_id).is_empty());
    c.env.ok(&["rm", "-f", "pub"]);
    // Removed with the other driver chosen: gone from both all the same.
    c.env.ok(&["network", "rm", "envnet"]);
    assert!(nft_tagged(&id).is_empty());
}

#[test]
fn iptables_forwards_dns_to_the_hosts_loopback_resolver() {
    let c = Ctx::new("fw_ipt_dns");
    std::fs::write(&c.env.config, "{\"firewall-driver\": \"iptables\"}\n").unwrap();
    let bb = c.bb();
    let ip = "127.0.0.95";
    let seen = dns_server_seen(ip, [10, 9, 8, 6]).expect("port 53 of 127.0.0.95 is taken");
    let resolv = c.env.path("host-resolv.conf");
    std::fs::write(&resolv, format!("nameserver {ip}\n")).unwrap();
    c.env
        .ok(&["network", "create", "--subnet", "10.214.5.0/24", "ipt-dns"]);
    // Another container forwarding on the same bridge, running all along.
    with_resolv(
        &c.env,
        &resolv,
        &[
            "run",
            "-d",
            "--name",
            "stay",
            "--network",
            "ipt-dns",
            &bb,
            "sleep",
            "60",
        ],
    )
    .assert_ok();
    let out = with_resolv(
        &c.env,
        &resolv,
        &[
            "run",
            "--name",
            "asker",
            "--network",
            "ipt-dns",
            &bb,
            "sh",
            "-c",
            "cat /etc/resolv.conf; nslookup www.example.test",
        ],
    );
    out.assert_ok();
    assert!(out.stdout.contains("nameserver 10.214.5.1\n"), "{out}");
    assert!(out.stdout.contains("10.9.8.6"), "{out}");
    let sources = seen.lock().unwrap().clone();
    assert!(
        !sources.is_empty() && sources.iter().all(|s| s.is_loopback()),
        "{sources:?}"
    );
    let id = c.inspect("asker")["Id"].as_str().unwrap().to_string();
    // Its end leaves the bridge routing loopback for the other, whose
    // DNS still answers; the other's end turns it off.
    let net = network_id(&c, "ipt-dns");
    let localnet = format!("/proc/sys/net/ipv4/conf/skf-{}/route_localnet", &net[..8]);
    assert_eq!(std::fs::read_to_string(&localnet).unwrap().trim(), "1");
    let out = c
        .env
        .ok(&["exec", "stay", "sh", "-c", "nslookup again.example.test"]);
    assert!(out.stdout.contains("10.9.8.6"), "{out}");
    c.env.ok(&["rm", "-f", "stay"]);
    assert_eq!(std::fs::read_to_string(&localnet).unwrap().trim(), "0");
    assert!(iptables_tagged("nat", &id).is_empty());
    assert!(iptables_tagged("filter", &id).is_empty());
    assert!(nft_tagged(&id).is_empty());
    c.env.ok(&["rm", "asker"]);
    c.env.ok(&["network", "rm", "ipt-dns"]);
}
