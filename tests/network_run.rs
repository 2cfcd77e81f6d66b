//! Containers on networks: the default `bridge` and user networks give
//! each container an address, a gateway and a route; containers on one
//! network reach each other, containers on different networks do not;
//! `none` and `host` are what Docker's are; nothing is left of a
//! container's networking once it has ended.

mod common;

use common::net::{
    dns_server_seen, gateway_of, host_links, host_server_on, ip_of, nft_tagged, sleeper,
    veths_gone, with_resolv, with_resolvers,
};
use common::run::Ctx;

#[test]
fn the_default_bridge_gives_an_address_a_route_and_neighbours() {
    let c = Ctx::new("net_bridge");
    let bb = c.bb();
    sleeper(&c, "one", &[]);
    let one = ip_of(&c, "one");
    let j = c.inspect("one");
    let ns = &j["NetworkSettings"];
    let gw = ns["Gateway"].as_str().unwrap().to_string();
    assert_eq!(j["HostConfig"]["NetworkMode"], "bridge");
    assert_eq!(ns["Networks"]["bridge"]["IPAddress"], one.as_str());
    let mac = ns["MacAddress"].as_str().unwrap();
    assert!(mac.starts_with("02:42:"), "{mac}");

    // Inside: eth0 with that address, the default route via the gateway,
    // its own name resolving to it.
    let out = c
        .env
        .ok(&[
            "exec",
            "one",
            "sh",
            "-c",
            "ip -4 addr show eth0; ip route; cat /etc/hosts",
        ])
        .stdout;
    assert!(out.contains(&format!("inet {one}/")), "{out}");
    assert!(out.contains(&format!("default via {gw} dev eth0")), "{out}");
    let short = &j["Id"].as_str().unwrap()[..12];
    assert!(out.contains(&format!("{one}\t{short}")), "{out}");

    // A second container reaches the first, and the gateway (the host).
    let out = c.run(&[
        "--rm",
        &bb,
        "sh",
        "-c",
        &format!("ping -c 1 -W 2 {one} && ping -c 1 -W 2 {gw}"),
    ]);
    out.assert_ok();
    assert!(out.stdout.contains("1 packets received"), "{out}");

    // The network shows its member.
    let net = c.env.ok(&["network", "inspect", "bridge"]).stdout;
    assert!(net.contains(&one), "{net}");

    // Stopped: the address goes back, the host end of its veth goes.
    let id = j["Id"].as_str().unwrap().to_string();
    c.env.ok(&["stop", "-t", "0", "one"]);
    assert_eq!(c.inspect("one")["NetworkSettings"]["IPAddress"], "");
    assert!(veths_gone(&id), "veths of {id} left");
    let net = c.env.ok(&["network", "inspect", "bridge"]).stdout;
    assert!(!net.contains(&one), "{net}");
    // And started again, it is on the network again.
    c.env.ok(&["start", "one"]);
    ip_of(&c, "one");
    c.env.ok(&["rm", "-f", "one"]);
    assert!(veths_gone(&id), "veths of {id} left");
    assert!(!c.env.root.join("containers").join(&id).exists());
}

#[test]
fn user_networks_are_apart_from_each_other() {
    let c = Ctx::new("net_user");
    let bb = c.bb();
    let id = c
        .env
        .ok(&["network", "create", "front"])
        .stdout
        .trim()
        .to_string();
    c.env.ok(&["network", "create", "back"]);
    sleeper(&c, "web", &["--network", "front"]);
    sleeper(&c, "db", &["--network", "back"]);
    let web = ip_of(&c, "web");
    let db = ip_of(&c, "db");
    let subnet = c
        .env
        .ok(&[
            "network",
            "inspect",
            "-f",
            "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
            "front",
        ])
        .stdout;
    let prefix = subnet.trim().rsplit_once('.').unwrap().0.to_string();
    assert!(web.starts_with(&prefix), "{web} not in {subnet}");
    assert_eq!(c.inspect("web")["HostConfig"]["NetworkMode"], "front");
    assert!(!host_links(&format!("skf-{}", &id[..8])).is_empty());

    // Same network: reachable. Another network: not.
    let ping = |ip: &str, wait: &str| {
        c.run(&[
            "--rm",
            "--network",
            "front",
            &bb,
            "sh",
            "-c",
            &format!("ping -c 1 -W {wait} {ip}"),
        ])
    };
    ping(&web, "2").assert_ok();
    let other = ping(&db, "1");
    assert_ne!(other.code, 0, "front reached back:\n{other}");

    // By name on the same network (the short ID too), not across.
    sleeper(&c, "peer", &["--network", "front"]);
    let by_name = c.run(&[
        "--rm",
        "--network",
        "front",
        &bb,
        "sh",
        "-c",
        "ping -c 1 -W 2 web && ping -c 1 -W 2 peer",
    ]);
    by_name.assert_ok();
    let across = c.run(&[
        "--rm",
        "--network",
        "back",
        &bb,
        "sh",
        "-c",
        "ping -c 1 -W 1 web",
    ]);
    assert_ne!(across.code, 0, "back resolved web:\n{across}");
    // A member that goes is taken out of the others' files, and back
    // in when it starts again.
    let hosts = |who: &str| c.env.ok(&["exec", who, "cat", "/etc/hosts"]).stdout;
    assert!(
        hosts("peer").contains(&format!("{web}\tweb ")),
        "{}",
        hosts("peer")
    );
    assert!(hosts("web").contains("\tpeer "), "{}", hosts("web"));
    c.env.ok(&["stop", "-t", "0", "web"]);
    assert!(!hosts("peer").contains("\tweb "), "{}", hosts("peer"));
    c.env.ok(&["start", "web"]);
    let web = ip_of(&c, "web");
    assert!(
        hosts("peer").contains(&format!("{web}\tweb ")),
        "{}",
        hosts("peer")
    );
    c.env.ok(&["rm", "-f", "peer"]);

    // A network with members is kept; without, removed.
    let rm = c.env.fails(&["network", "rm", "front"]);
    assert!(rm.stderr.contains("active endpoints"), "{rm}");
    c.env.ok(&["rm", "-f", "web", "db"]);
    c.env.ok(&["network", "rm", "front", "back"]);
}

/// A `wget` of `url` from a new container on `net`, retried while the
/// server is still coming up; what it got.
fn fetch(c: &Ctx, net: &str, url: &str) -> String {
    let bb = c.bb();
    let script =
        format!("for i in $(seq 50); do wget -q -O - {url} && exit 0; sleep 0.1; done; exit 1");
    c.run_ok(&["--rm", "--network", net, &bb, "sh", "-c", &script])
        .stdout
}

#[test]
fn a_web_server_is_found_by_name_wherever_it_restarts() {
    let c = Ctx::new("net_web");
    let bb = c.bb();
    c.env.ok(&["network", "create", "shop"]);
    let serve =
        "mkdir -p /www && echo served-by-web >/www/index.html && exec httpd -f -p 80 -h /www";
    c.run_ok(&[
        "-d",
        "--name",
        "web",
        "--network",
        "shop",
        &bb,
        "sh",
        "-c",
        serve,
    ]);
    sleeper(&c, "client", &["--network", "shop"]);
    let first = ip_of(&c, "web");
    assert_eq!(fetch(&c, "shop", "http://web/").trim(), "served-by-web");

    // Stopped, its address goes to another container; started again, it
    // has a new one, and its name leads there, for new containers and
    // for the ones that were running all along.
    c.env.ok(&["stop", "-t", "0", "web"]);
    sleeper(&c, "squatter", &["--network", "shop"]);
    assert_eq!(ip_of(&c, "squatter"), first);
    c.env.ok(&["start", "web"]);
    let second = ip_of(&c, "web");
    assert_ne!(second, first);
    assert_eq!(fetch(&c, "shop", "http://web/").trim(), "served-by-web");
    let got = c.env.ok(&[
        "exec",
        "client",
        "sh",
        "-c",
        "for i in $(seq 50); do wget -q -O - http://web/ && exit 0; sleep 0.1; done; exit 1",
    ]);
    assert_eq!(got.stdout.trim(), "served-by-web");
    let hosts = c.env.ok(&["exec", "client", "cat", "/etc/hosts"]).stdout;
    assert!(hosts.contains(&format!("{second}\tweb ")), "{hosts}");
    assert!(!hosts.contains(&format!("{first}\tweb ")), "{hosts}");
    c.env.ok(&["rm", "-f", "web", "client", "squatter"]);
    c.env.ok(&["network", "rm", "shop"]);
}

#[test]
fn a_container_reaches_a_server_on_the_host_through_its_gateway() {
    let c = Ctx::new("net_out");
    let port = host_server_on("0.0.0.0", "hello from the host\n");
    for net in ["bridge", "outnet"] {
        if net != "bridge" {
            c.env.ok(&["network", "create", net]);
        }
        let gw = gateway_of(&c, net);
        assert!(!gw.is_empty(), "{net} has no gateway");
        let got = fetch(&c, net, &format!("http://{gw}:{port}/"));
        assert_eq!(got, "hello from the host\n", "{net}");
    }
    c.env.ok(&["network", "rm", "outnet"]);
}

#[test]
fn none_host_and_unknown_networks() {
    let c = Ctx::new("net_modes");
    let bb = c.bb();
    let none = c.run_ok(&["--rm", "--network", "none", &bb, "ls", "/sys/class/net"]);
    assert_eq!(none.stdout.trim(), "lo");
    // The host's own links (other tests' veths come and go meanwhile).
    let before = host_links("");
    let host = c.run_ok(&["--rm", "--network", "host", &bb, "ls", "/sys/class/net"]);
    let seen: Vec<&str> = host.stdout.split_whitespace().collect();
    let after = host_links("");
    let stable: Vec<&String> = before
        .iter()
        .filter(|l| after.contains(l) && !l.starts_with("sk"))
        .collect();
    assert!(stable.len() > 1, "{stable:?}");
    for l in stable {
        assert!(seen.contains(&l.as_str()), "{l} missing: {seen:?}");
    }
    let bad = c.run(&["--rm", "--network", "nosuch", &bb, "true"]);
    bad.assert_code(125);
    assert!(bad.stderr.contains("network nosuch not found"), "{bad}");
    assert!(c.container_dirs().is_empty());
}

#[test]
fn a_lost_container_gives_its_address_back() {
    let c = Ctx::new("net_lost");
    sleeper(&c, "gone", &[]);
    let ip = ip_of(&c, "gone");
    let id = c.inspect("gone")["Id"].as_str().unwrap().to_string();
    for m in common::skiff::monitors_of(&c.env.root) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(m as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !common::skiff::monitors_of(&c.env.root).is_empty() && std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    c.env.ok(&["ps", "-a"]);
    let net = c.env.ok(&["network", "inspect", "bridge"]).stdout;
    assert!(!net.contains(&ip), "{net}");
    assert!(veths_gone(&id), "veths of {id} left");
    c.env.ok(&["rm", "gone"]);
}

#[test]
fn ip_and_aliases_on_a_user_network() {
    let c = Ctx::new("net_ip_alias");
    let bb = c.bb();
    c.env
        .ok(&["network", "create", "--subnet", "10.89.77.0/24", "fixed"]);
    sleeper(
        &c,
        "api",
        &[
            "--network",
            "fixed",
            "--ip",
            "10.89.77.50",
            "--network-alias",
            "backend",
        ],
    );
    assert_eq!(ip_of(&c, "api"), "10.89.77.50");
    let j = c.inspect("api");
    let n = &j["NetworkSettings"]["Networks"]["fixed"];
    assert_eq!(n["IPAMConfig"]["IPv4Address"], "10.89.77.50", "{n:#}");
    assert_eq!(n["Aliases"][0], "backend", "{n:#}");
    // Found by its alias too.
    c.run_ok(&[
        "--rm",
        "--network",
        "fixed",
        &bb,
        "sh",
        "-c",
        "ping -c 1 -W 2 backend",
    ]);
    // Taken: refused, and nothing is left of the refused container.
    let taken = c.run(&[
        "--rm",
        "--network",
        "fixed",
        "--ip",
        "10.89.77.50",
        &bb,
        "true",
    ]);
    taken.assert_code(125);
    assert!(taken.stderr.contains("already in use"), "{taken}");
    // Docker's rules and words for the default network and bad input.
    for (args, msg) in [
        (
            vec!["--ip", "10.87.0.9"],
            "user specified IP address is supported on user defined networks only",
        ),
        (
            vec!["--network-alias", "x"],
            "network-scoped alias is supported only for containers in user defined networks",
        ),
        (
            vec!["--network", "fixed", "--ip", "nonsense"],
            "invalid string being converted to IP address: nonsense",
        ),
        (vec!["--network", "fixed", "--ip", "10.1.2.3"], "10.1.2.3"),
    ] {
        let mut a = vec!["--rm"];
        a.extend(args.iter().copied());
        a.extend([bb.as_str(), "true"]);
        let out = c.run(&a);
        out.assert_code(125);
        assert!(out.stderr.contains(msg), "{args:?}: {out}");
    }
    c.env.ok(&["rm", "-f", "api"]);
    assert_eq!(c.container_dirs().len(), 0);
}

#[test]
fn an_ip_range_and_aux_addresses_decide_the_addresses_given() {
    let c = Ctx::new("net_ip_range");
    let bb = c.bb();
    c.env.ok(&[
        "network",
        "create",
        "--subnet",
        "10.216.4.0/24",
        "--ip-range",
        "10.216.4.128/26",
        "--aux-address",
        "router=10.216.4.128",
        "--attachable",
        "--ipam-opt",
        "k=v",
        "ranged",
    ]);
    let j: serde_json::Value =
        serde_json::from_str(&c.env.ok(&["network", "inspect", "ranged"]).stdout).unwrap();
    let ipam = &j[0]["IPAM"];
    assert_eq!(ipam["Config"][0]["IPRange"], "10.216.4.128/26", "{j:#}");
    assert_eq!(
        ipam["Config"][0]["AuxiliaryAddresses"]["router"], "10.216.4.128",
        "{j:#}"
    );
    assert_eq!(ipam["Options"]["k"], "v", "{j:#}");
    assert_eq!(j[0]["Attachable"], true, "{j:#}");
    // The first of the range is an aux address: the next one is given,
    // and the gateway stays the subnet's first.
    sleeper(&c, "first", &["--network", "ranged"]);
    assert_eq!(ip_of(&c, "first"), "10.216.4.129");
    let out = c.run_ok(&[
        "--rm",
        "--network",
        "ranged",
        &bb,
        "sh",
        "-c",
        "ip -4 addr show eth0; ip route",
    ]);
    assert!(out.stdout.contains("inet 10.216.4.130/24"), "{out}");
    assert!(out.stdout.contains("default via 10.216.4.1"), "{out}");
    // A fixed address may lie outside the range, never on an aux one.
    c.run_ok(&[
        "--rm",
        "--network",
        "ranged",
        "--ip",
        "10.216.4.9",
        &bb,
        "true",
    ]);
    let out = c.run(&[
        "--rm",
        "--network",
        "ranged",
        "--ip",
        "10.216.4.128",
        &bb,
        "true",
    ]);
    out.assert_code(125);
    assert!(out.stderr.contains("Address already in use"), "{out}");
    c.env.ok(&["rm", "-f", "first"]);
    c.env.ok(&["network", "rm", "ranged"]);
    assert_eq!(c.container_dirs().len(), 0);
}

#[test]
fn a_networks_mtu_is_its_bridges_and_its_containers() {
    let c = Ctx::new("net_mtu");
    let bb = c.bb();
    for (opt, mtu) in [
        ("com.docker.network.driver.mtu=1400", "1400"),
        ("mtu=1280", "1280"),
    ] {
        let name = format!("mtu{mtu}");
        let id = c
            .env
            .ok(&["network", "create", "-o", opt, &name])
            .stdout
            .trim()
            .to_string();
        let out = c.run_ok(&[
            "--rm",
            "--network",
            &name,
            &bb,
            "cat",
            "/sys/class/net/eth0/mtu",
        ]);
        assert_eq!(out.stdout.trim(), mtu, "{opt}");
        let bridge = format!("/sys/class/net/skf-{}/mtu", &id[..8]);
        assert_eq!(
            std::fs::read_to_string(&bridge).unwrap().trim(),
            mtu,
            "{opt}"
        );
        c.env.ok(&["network", "rm", &name]);
    }
    // The default: the kernel's.
    let out = c.run_ok(&["--rm", &bb, "cat", "/sys/class/net/eth0/mtu"]);
    assert_eq!(out.stdout.trim(), "1500");
    for bad in ["mtu=abc", "mtu=20", "com.docker.network.driver.mtu=70000"] {
        let out = c.env.fails(&["network", "create", "-o", bad, "badmtu"]);
        out.assert_code(125).assert_error_line();
        out.assert_stderr_has("invalid mtu");
    }
    assert!(!c.env.ok(&["network", "ls"]).stdout.contains("badmtu"));
}

#[test]
fn systemd_resolveds_stub_gives_way_to_its_upstream_servers() {
    let c = Ctx::new("net_resolved");
    let bb = c.bb();
    let stub = c.env.path("stub-resolv.conf");
    std::fs::write(
        &stub,
        "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n",
    )
    .unwrap();
    let upstream = c.env.path("upstream-resolv.conf");
    std::fs::write(&upstream, "nameserver 10.1.1.53\nsearch lan\n").unwrap();
    let cat = ["run", "--rm", bb.as_str(), "cat", "/etc/resolv.conf"];
    let out = with_resolvers(&c.env, &stub, Some(&upstream), &cat);
    out.assert_ok();
    assert!(out.stdout.contains("nameserver 10.1.1.53\n"), "{out}");
    assert!(
        !out.stdout.contains("127.0.0.53") && !out.stdout.contains("8.8.8.8"),
        "{out}"
    );
    assert!(out.stdout.contains("search lan"), "{out}");
    // Without systemd-resolved's list: Docker's public fallback.
    let out = with_resolvers(&c.env, &stub, None, &cat);
    assert!(out.stdout.contains("nameserver 8.8.8.8\n"), "{out}");
    // The host's network: the host's own file, stub and all.
    let host = [
        "run",
        "--rm",
        "--network",
        "host",
        bb.as_str(),
        "cat",
        "/etc/resolv.conf",
    ];
    let out = with_resolvers(&c.env, &stub, Some(&upstream), &host);
    assert!(out.stdout.contains("nameserver 127.0.0.53\n"), "{out}");
}

#[test]
fn a_user_network_asks_the_hosts_loopback_resolver_through_its_gateway() {
    let c = Ctx::new("net_loop_dns");
    let bb = c.bb();
    // A resolver on the host's loopback, as dnsmasq or unbound would be.
    let ip = "127.0.0.96";
    let seen = dns_server_seen(ip, [10, 9, 8, 7]).expect("port 53 of 127.0.0.96 is taken");
    let resolv = c.env.path("host-resolv.conf");
    std::fs::write(&resolv, format!("nameserver {ip}\nsearch example.test\n")).unwrap();
    c.env.ok(&["network", "create", "lodns"]);
    let gw = gateway_of(&c, "lodns");
    let bridge = c
        .env
        .ok(&["network", "inspect", "-f", "{{.Id}}", "lodns"])
        .stdout;
    let bridge = format!("skf-{}", &bridge.trim()[..8]);
    let out = with_resolv(
        &c.env,
        &resolv,
        &[
            "run",
            "--name",
            "asker",
            "--network",
            "lodns",
            &bb,
            "sh",
            "-c",
            "cat /etc/resolv.conf; nslookup www.example.test",
        ],
    );
    out.assert_ok();
    // The gateway in the loopback resolver's place, the answer its.
    assert!(out.stdout.contains(&format!("nameserver {gw}\n")), "{out}");
    assert!(!out.stdout.contains("8.8.8.8"), "{out}");
    assert!(out.stdout.contains("search example.test"), "{out}");
    assert!(out.stdout.contains("10.9.8.7"), "{out}");
    // Asked from the host's loopback, as a resolver that answers only its
    // host needs.
    let sources = seen.lock().unwrap().clone();
    assert!(!sources.is_empty(), "{out}");
    assert!(sources.iter().all(|s| s.is_loopback()), "{sources:?}");
    // Ended: its rules are gone, and the bridge routes no loopback.
    let id = c.inspect("asker")["Id"].as_str().unwrap().to_string();
    assert!(nft_tagged(&id).is_empty(), "{:?}", nft_tagged(&id));
    let localnet = format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet");
    assert_eq!(std::fs::read_to_string(&localnet).unwrap().trim(), "0");
    // The host moves to another loopback resolver: started again, the
    // container asks the new one.
    let moved = "127.0.0.94";
    assert!(
        dns_server_seen(moved, [10, 9, 8, 5]).is_some(),
        "port 53 of {moved} is taken"
    );
    let resolv2 = c.env.path("host-resolv-2.conf");
    std::fs::write(&resolv2, format!("nameserver {moved}\n")).unwrap();
    let out = with_resolv(&c.env, &resolv2, &["start", "-a", "asker"]);
    out.assert_ok();
    assert!(out.stdout.contains("10.9.8.5"), "{out}");
    // Only the resolver's way is open: a container that routes the
    // host's loopback to its gateway (it may, privileged) still reaches
    // no other service there, while its DNS is answered.
    let svc = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let sp = svc.local_addr().unwrap().port();
    svc.set_nonblocking(true).unwrap();
    let script = format!(
        "nslookup www.example.test; \
         sysctl -w net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.eth0.route_localnet=1 >/dev/null; \
         ip route del local 127.0.0.0/8 dev lo table local; \
         ip route del local 127.0.0.1 dev lo table local; \
         ip route add 127.0.0.0/8 via {gw} dev eth0; \
         echo x | nc -w 2 127.0.0.1 {sp}; echo nc=$?"
    );
    let out = with_resolv(
        &c.env,
        &resolv,
        &[
            "run",
            "--rm",
            "--privileged",
            "--network",
            "lodns",
            &bb,
            "sh",
            "-c",
            &script,
        ],
    );
    assert!(out.stdout.contains("10.9.8.7"), "{out}");
    assert!(out.stdout.contains("nc=1"), "{out}");
    assert!(
        svc.accept().is_err(),
        "a container reached the host's loopback"
    );
    // The default bridge keeps Docker's public fallback; --dns wins.
    let cat = ["run", "--rm", bb.as_str(), "cat", "/etc/resolv.conf"];
    let out = with_resolv(&c.env, &resolv, &cat);
    assert!(out.stdout.contains("nameserver 8.8.8.8"), "{out}");
    let out = with_resolv(
        &c.env,
        &resolv,
        &[
            "run",
            "--rm",
            "--network",
            "lodns",
            "--dns",
            "10.3.3.3",
            &bb,
            "cat",
            "/etc/resolv.conf",
        ],
    );
    assert!(out.stdout.contains("nameserver 10.3.3.3\n"), "{out}");
    assert!(!out.stdout.contains(&gw), "{out}");
    c.env.ok(&["rm", "asker"]);
}
