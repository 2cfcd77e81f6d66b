//! A container on several networks: `run --network` more than once (and
//! Docker's long form), `network connect` and `disconnect` while it runs
//! and while it is stopped, `--network container:NAME`, `--mac-address`,
//! `--add-host NAME:host-gateway`; a host whose FORWARD policy is DROP;
//! and nothing left after many runs.

mod common;

use common::net::{gateway_of, ip_of, sleeper, veths_gone};
use common::run::Ctx;
use common::{Out, Skiff};
use std::process::Command;

/// The container's address on network `net`, as inspect shows it.
fn ip_on(c: &Ctx, name: &str, net: &str) -> String {
    c.inspect(name)["NetworkSettings"]["Networks"][net]["IPAddress"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// `ping -c 1 TARGET` from inside container `from`.
fn pings(c: &Ctx, from: &str, target: &str) -> bool {
    // The image links no `ping`; its shell runs every applet.
    let script = format!("ping -c 1 -W 2 {target}");
    c.env.run(&["exec", from, "sh", "-c", &script]).code == 0
}

#[test]
fn a_container_on_several_networks() {
    let c = Ctx::new("net_several");
    c.env.ok(&["network", "create", "front"]);
    c.env.ok(&["network", "create", "back"]);
    sleeper(&c, "web", &["--network", "front"]);
    sleeper(&c, "db", &["--network", "back"]);
    sleeper(
        &c,
        "app",
        &[
            "--network",
            "front",
            "--network",
            "name=back,alias=store",
            "--mac-address",
            "02:aa:bb:cc:dd:ee",
        ],
    );
    let j = c.inspect("app");
    let nets = j["NetworkSettings"]["Networks"].as_object().unwrap();
    assert_eq!(nets.len(), 2, "{nets:#?}");
    assert_eq!(j["HostConfig"]["NetworkMode"], "front");
    assert_eq!(nets["front"]["MacAddress"], "02:aa:bb:cc:dd:ee");
    let front = c.env.ok(&["network", "inspect", "front"]).stdout;
    assert!(
        front.contains("\"MacAddress\": \"02:aa:bb:cc:dd:ee\""),
        "{front}"
    );
    assert_eq!(nets["back"]["Aliases"][0], "store");
    assert_eq!(nets["back"]["EndpointID"].as_str().unwrap().len(), 64);
    let addrs = c.env.ok(&["exec", "app", "ip", "-4", "-o", "addr"]).stdout;
    assert!(addrs.contains(&format!("eth0    inet {}/", ip_on(&c, "app", "front"))));
    assert!(addrs.contains(&format!("eth1    inet {}/", ip_on(&c, "app", "back"))));
    let link = c
        .env
        .ok(&["exec", "app", "ip", "link", "show", "eth0"])
        .stdout;
    assert!(link.contains("02:aa:bb:cc:dd:ee"), "{link}");
    // The default route through the first network.
    let routes = c.env.ok(&["exec", "app", "ip", "route"]).stdout;
    assert!(
        routes.contains(&format!("default via {} dev eth0", gateway_of(&c, "front"))),
        "{routes}"
    );
    // Its peers on each network by name, and it by its alias on one.
    assert!(pings(&c, "app", "web"));
    assert!(pings(&c, "app", "db"));
    assert!(pings(&c, "db", "store"));
    assert!(!pings(&c, "web", "db"));

    // Docker's refusals, before anything is made.
    for (args, msg) in [
        (
            vec!["--network", "front", "--network", "host"],
            "conflicting options: cannot attach both user-defined and non-user-defined network-modes",
        ),
        (
            vec!["--network", "front", "--network", "front"],
            "network \"front\" is specified multiple times",
        ),
        (
            vec!["--network", "front", "--network", "nope"],
            "network nope not found",
        ),
        (
            vec!["--mac-address", "02:aa:bb"],
            "02:aa:bb is not a valid mac address",
        ),
        (
            vec!["--network", "name=front,ip=10.0.0.1", "--ip", "10.0.0.2"],
            "conflicting options: cannot specify both --ip and per-network IPv4 address",
        ),
    ] {
        let bb = c.bb();
        let mut a = vec!["--rm"];
        a.extend(args);
        a.extend([bb.as_str(), "true"]);
        let out = c.run(&a);
        out.assert_code(125);
        assert!(out.stderr.contains(msg), "{out}");
    }
    c.env.ok(&["rm", "-f", "web", "db", "app"]);
    c.env.ok(&["network", "rm", "front", "back"]);
}

#[test]
fn connect_and_disconnect_a_running_container() {
    let c = Ctx::new("net_connect");
    c.env.ok(&["network", "create", "front"]);
    c.env.ok(&["network", "create", "back"]);
    sleeper(&c, "web", &["--network", "front"]);
    sleeper(&c, "db", &["--network", "back"]);
    assert!(!pings(&c, "db", "web"));

    c.env
        .ok(&["network", "connect", "--alias", "cache", "front", "db"]);
    let j = c.inspect("db");
    assert_eq!(
        j["NetworkSettings"]["Networks"]["front"]["Aliases"][0],
        "cache"
    );
    let ip = ip_on(&c, "db", "front");
    assert!(!ip.is_empty(), "{:#}", j["NetworkSettings"]);
    let addrs = c.env.ok(&["exec", "db", "ip", "-4", "-o", "addr"]).stdout;
    assert!(addrs.contains(&format!("eth1    inet {ip}/")), "{addrs}");
    // Both ways, by name and alias, at once: no restart.
    assert!(pings(&c, "db", "web"));
    assert!(pings(&c, "web", "cache"));
    assert!(pings(&c, "web", "db"));
    let net = c.env.ok(&["network", "inspect", "front"]).stdout;
    assert!(net.contains(&ip), "{net}");

    let again = c.env.fails(&["network", "connect", "front", "db"]);
    assert!(
        again
            .stderr
            .contains("endpoint with name db already exists in network front"),
        "{again}"
    );

    c.env.ok(&["network", "disconnect", "front", "db"]);
    let addrs = c.env.ok(&["exec", "db", "ip", "-4", "-o", "addr"]).stdout;
    assert!(!addrs.contains("eth1"), "{addrs}");
    assert!(!pings(&c, "web", "db"));
    assert!(!pings(&c, "db", "web"));
    let hosts = c.env.ok(&["exec", "web", "cat", "/etc/hosts"]).stdout;
    assert!(!hosts.contains("\tdb "), "{hosts}");
    let net = c.env.ok(&["network", "inspect", "front"]).stdout;
    assert!(!net.contains(&ip), "{net}");
    assert!(c.inspect("db")["NetworkSettings"]["Networks"]["front"].is_null());
    let id = c.inspect("db")["Id"].as_str().unwrap().to_string();
    let not = c.env.fails(&["network", "disconnect", "front", "db"]);
    assert!(
        not.stderr
            .contains(&format!("container {id} is not connected to network front")),
        "{not}"
    );

    // Leaving the network of its default route: the next one's gateway
    // takes over.
    c.env.ok(&["network", "connect", "front", "db"]);
    c.env.ok(&["network", "disconnect", "back", "db"]);
    let routes = c.env.ok(&["exec", "db", "ip", "route"]).stdout;
    assert!(
        routes.contains(&format!("default via {}", gateway_of(&c, "front"))),
        "{routes}"
    );

    // Docker's refusals.
    sleeper(&c, "hosted", &["--network", "host"]);
    sleeper(&c, "alone", &["--network", "none"]);
    for (args, msg) in [
        (
            vec!["connect", "front", "hosted"],
            "container cannot be disconnected from host network or connected to host network",
        ),
        (
            vec!["connect", "front", "alone"],
            "container cannot be connected to multiple networks with one of the networks in private (none) mode",
        ),
        (
            vec!["connect", "--ip", "10.87.0.50", "bridge", "db"],
            "user specified IP address is supported on user defined networks only",
        ),
        (vec!["connect", "nope", "db"], "network nope not found"),
        (vec!["connect", "front", "nobody"], "No such container: nobody"),
        (
            vec!["connect", "--ip", "bad", "front", "web"],
            "invalid argument \"bad\" for \"--ip\" flag",
        ),
    ] {
        let mut a = vec!["network"];
        a.extend(args);
        let out = c.env.fails(&a);
        assert!(out.stderr.contains(msg), "{out}");
    }
    c.env.ok(&["rm", "-f", "web", "db", "hosted", "alone"]);
    assert!(veths_gone(&id), "veths of {id} left");
    c.env.ok(&["network", "rm", "front", "back"]);
}

#[test]
fn a_stopped_container_joins_and_leaves_at_its_next_start() {
    let c = Ctx::new("net_connect_stopped");
    c.env
        .ok(&["network", "create", "--subnet", "10.89.213.0/24", "mid"]);
    sleeper(&c, "web", &["--network", "mid"]);
    let bb = c.bb();
    c.env.ok(&["create", "--name", "later", &bb, "sleep", "60"]);
    c.env.ok(&[
        "network",
        "connect",
        "--ip",
        "10.89.213.50",
        "--alias",
        "api",
        "mid",
        "later",
    ]);
    let j = c.inspect("later");
    assert_eq!(
        j["NetworkSettings"]["Networks"]["mid"]["IPAMConfig"]["IPv4Address"],
        "10.89.213.50"
    );
    c.env.ok(&["start", "later"]);
    assert_eq!(ip_on(&c, "later", "mid"), "10.89.213.50");
    assert!(!ip_on(&c, "later", "bridge").is_empty());
    assert!(pings(&c, "web", "api"));
    c.env.ok(&["stop", "-t", "0", "later"]);
    c.env.ok(&["network", "disconnect", "bridge", "later"]);
    c.env.ok(&["start", "later"]);
    let nets = c.inspect("later")["NetworkSettings"]["Networks"].clone();
    assert!(nets["bridge"].is_null(), "{nets:#}");
    // The one network left carries the default route now.
    let routes = c.env.ok(&["exec", "later", "ip", "route"]).stdout;
    assert!(
        routes.contains("default via 10.89.213.1 dev eth0"),
        "{routes}"
    );
    // Out of every network: loopback only, in a namespace of its own.
    c.env.ok(&["stop", "-t", "0", "later"]);
    c.env.ok(&["network", "disconnect", "mid", "later"]);
    c.env.ok(&["start", "later"]);
    let links = c.env.ok(&["exec", "later", "ip", "-o", "link"]).stdout;
    assert_eq!(links.lines().count(), 1, "{links}");
    assert_eq!(c.inspect("later")["HostConfig"]["NetworkMode"], "bridge");
    // A container that is gone: -f takes what it held.
    sleeper(&c, "brief", &["--network", "mid"]);
    c.env.ok(&["network", "disconnect", "-f", "mid", "brief"]);
    c.env.ok(&["rm", "-f", "web", "later", "brief"]);
    c.env.ok(&["network", "rm", "mid"]);
}

#[test]
fn joining_another_containers_network() {
    let c = Ctx::new("net_container");
    sleeper(&c, "target", &[]);
    let ip = ip_of(&c, "target");
    let tid = c.inspect("target")["Id"].as_str().unwrap().to_string();
    let out = c.sh(
        &["--network", "container:target"],
        "ip -4 -o addr; hostname; cat /etc/hosts",
    );
    assert!(out.contains(&format!("eth0    inet {ip}/")), "{out}");
    assert!(out.contains(&format!("\n{}\n", &tid[..12])), "{out}");
    // The two talk over loopback.
    c.env.ok(&[
        "exec",
        "-d",
        "target",
        "sh",
        "-c",
        "echo hello | nc -l -p 7000",
    ]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let got = c.sh(&["--network", "container:target"], "nc 127.0.0.1 7000");
    assert_eq!(got.trim(), "hello");
    let bb = c.bb();
    c.env.ok(&[
        "create",
        "--name",
        "joiner",
        "--network",
        "container:target",
        &bb,
        "sleep",
        "60",
    ]);
    assert_eq!(
        c.inspect("joiner")["HostConfig"]["NetworkMode"],
        format!("container:{tid}")
    );
    let refused = c.env.fails(&["network", "connect", "bridge", "joiner"]);
    assert!(
        refused.stderr.contains(
            "container sharing network namespace with another container or host cannot be connected to any other network"
        ),
        "{refused}"
    );
    for (flags, msg) in [
        (
            vec!["-h", "x"],
            "conflicting options: hostname and the network mode",
        ),
        (
            vec!["--dns", "10.0.0.1"],
            "conflicting options: dns and the network mode",
        ),
        (
            vec!["--add-host", "a:10.0.0.1"],
            "conflicting options: custom host-to-IP mapping and the network mode",
        ),
        (
            vec!["--mac-address", "02:00:00:00:00:01"],
            "conflicting options: mac-address and the network mode",
        ),
    ] {
        let mut f = vec!["--network", "container:target"];
        f.extend(flags);
        let out = c.sh_out(&f, "true");
        out.assert_code(125);
        assert!(out.stderr.contains(msg), "{out}");
    }
    let out = c.sh_out(&["--network", "container:nobody"], "true");
    out.assert_code(125);
    assert!(out.stderr.contains("No such container: nobody"), "{out}");
    // Not running: nothing to join.
    c.env.ok(&["stop", "-t", "0", "target"]);
    let out = c.env.fails(&["start", "joiner"]);
    assert!(
        out.stderr.contains(&format!(
            "cannot join network of a non running container: {tid}"
        )),
        "{out}"
    );
    c.env.ok(&["rm", "-f", "target", "joiner"]);
}

#[test]
fn host_gateway_names_the_default_bridges_gateway() {
    let c = Ctx::new("net_host_gateway");
    let gw = gateway_of(&c, "bridge");
    assert!(!gw.is_empty());
    let hosts = c.sh(
        &["--add-host", "host.docker.internal:host-gateway"],
        "cat /etc/hosts",
    );
    assert!(
        hosts.contains(&format!("{gw}\thost.docker.internal\n")),
        "{hosts}"
    );
    // And the host answers there.
    let out = c.sh(&[], &format!("ping -c 1 -W 2 {gw}"));
    assert!(out.contains("1 packets received"), "{out}");
}

/// `skiff ARGS` of `env` inside network namespace `ns` (`ip netns exec`).
fn in_netns(env: &Skiff, ns: &str, args: &[&str]) -> Out {
    let base = env.command(args);
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns])
        .arg(base.get_program())
        .args(base.get_args())
        .current_dir(env.dir());
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    let child = c
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    common::skiff::wait_out(child, &format!("skiff {}", args.join(" ")))
}

fn sh(script: &str) {
    let st = Command::new("sh").args(["-c", script]).status().unwrap();
    assert!(st.success(), "{script}");
}

/// Two namespaces of the test's own, `near` (the "host", its FORWARD
/// policy DROP as Docker leaves it) and `far` (the world beyond, with a
/// web server), joined by a veth pair. Removed when dropped.
struct Beyond {
    near: String,
    far: String,
}

impl Beyond {
    fn new() -> Beyond {
        let n = std::process::id();
        let b = Beyond {
            near: format!("skt-near-{n}"),
            far: format!("skt-far-{n}"),
        };
        let (near, far) = (&b.near, &b.far);
        sh(&format!(
            "ip netns add {near} && ip netns add {far} && \
             ip link add sktn{n} netns {near} type veth peer name sktf{n} netns {far} && \
             ip -n {near} addr add 192.0.2.1/24 dev sktn{n} && ip -n {near} link set sktn{n} up && \
             ip -n {near} link set lo up && \
             ip -n {far} addr add 192.0.2.2/24 dev sktf{n} && ip -n {far} link set sktf{n} up && \
             ip netns exec {near} iptables -P FORWARD DROP"
        ));
        b
    }
}

impl Drop for Beyond {
    fn drop(&mut self) {
        let _ = Command::new("sh")
            .args([
                "-c",
                &format!(
                    "ip netns pids {far} | xargs -r kill -9; ip netns del {near}; ip netns del {far}",
                    near = self.near,
                    far = self.far
                ),
            ])
            .status();
    }
}

#[test]
fn a_drop_forward_policy_lets_skiffs_networks_through() {
    let c = Ctx::new("net_forward_drop");
    let www = c.env.path("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "far away\n").unwrap();
    let b = Beyond::new();
    sh(&format!(
        "ip netns exec {} busybox httpd -p 8080 -h {}",
        b.far,
        www.display()
    ));
    let bb = c.bb();
    let out = in_netns(
        &c.env,
        &b.near,
        &["run", "--rm", &bb, "wget", "-qO-", "http://192.0.2.2:8080/"],
    );
    out.assert_ok();
    assert_eq!(out.stdout, "far away\n");
    // The accepts are skiff's, tagged, and go with the network.
    let rules = Command::new("ip")
        .args(["netns", "exec", &b.near, "iptables", "-S", "FORWARD"])
        .output()
        .unwrap();
    let rules = String::from_utf8_lossy(&rules.stdout).to_string();
    assert!(rules.contains("-P FORWARD DROP"), "{rules}");
    assert!(rules.contains("skiff:"), "{rules}");
    in_netns(&c.env, &b.near, &["network", "create", "side"]).assert_ok();
    let out = in_netns(
        &c.env,
        &b.near,
        &[
            "run",
            "--rm",
            "--network",
            "side",
            &bb,
            "wget",
            "-qO-",
            "http://192.0.2.2:8080/",
        ],
    );
    out.assert_ok();
    in_netns(&c.env, &b.near, &["network", "rm", "side"]).assert_ok();
    let after = Command::new("ip")
        .args(["netns", "exec", &b.near, "iptables", "-S", "FORWARD"])
        .output()
        .unwrap();
    let after = String::from_utf8_lossy(&after.stdout).to_string();
    assert_eq!(
        after.matches("skiff:").count(),
        rules.matches("skiff:").count(),
        "{after}"
    );
}

#[test]
fn many_runs_leave_no_interface_lease_or_rule() {
    let c = Ctx::new("net_soak");
    let rounds = if std::env::var_os("SKIFF_SOAK").is_some() {
        100
    } else {
        10
    };
    c.env.ok(&["network", "create", "soak"]);
    let id = c
        .env
        .ok(&["network", "inspect", "-f", "{{.Id}}", "soak"])
        .stdout
        .trim()
        .to_string();
    let bridge = format!("skf-{}", &id[..8]);
    let bb = c.bb();
    let mut ids = Vec::new();
    for i in 0..rounds {
        c.run_ok(&["--rm", "--network", "soak", &bb, "true"]);
        let name = format!("soak{i}");
        let out = c.run_ok(&[
            "-d",
            "--name",
            &name,
            "--network",
            "soak",
            // A published port: its rules must go too.
            "-p",
            "80",
            &bb,
            "sleep",
            "60",
        ]);
        ids.push(out.stdout.trim().to_string());
        if i % 2 == 0 {
            c.env.ok(&["rm", "-f", &name]);
        } else {
            // Killed with its monitor: the next command tidies up.
            let pid = c.inspect(&name)["State"]["Pid"].as_i64().unwrap();
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            for m in common::skiff::monitors_of(&c.env.root) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(m as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            c.env.ok(&["rm", "-f", &name]);
        }
    }
    let net = c.env.ok(&["network", "inspect", "soak"]).stdout;
    let v: serde_json::Value = serde_json::from_str(&net).unwrap();
    assert!(v[0]["Containers"].as_object().unwrap().is_empty(), "{net}");
    for id in &ids {
        assert!(veths_gone(id), "veths of {id} left");
    }
    let ports = std::fs::read_dir(format!("/sys/class/net/{bridge}/brif"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(ports, 0, "ports left on {bridge}");
    // The network's rules and none of any container's.
    let rules = Command::new("nft")
        .args(["list", "table", "ip", "skiff"])
        .output()
        .unwrap();
    let rules = String::from_utf8_lossy(&rules.stdout).to_string();
    for id in &ids {
        assert!(!rules.contains(&id[..12]), "rules of {id} left:\n{rules}");
    }
    c.env.assert_store_clean();
    c.env.ok(&["network", "rm", "soak"]);
    assert!(!rules_after_rm(&id[..12]), "rules of network soak left");
}

fn rules_after_rm(tag: &str) -> bool {
    let rules = Command::new("nft")
        .args(["list", "table", "ip", "skiff"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&rules.stdout).contains(tag)
}

#[test]
fn leaving_the_network_of_its_published_ports_unpublishes_them() {
    let c = Ctx::new("net_leave_ports");
    c.env
        .ok(&["network", "create", "--subnet", "10.214.9.0/24", "pubnet"]);
    let port = common::net::free_port().to_string();
    let spec = format!("{port}:80");
    sleeper(
        &c,
        "pub",
        &["--network", "pubnet", "--network", "bridge", "-p", &spec],
    );
    assert!(c.env.ok(&["port", "pub"]).stdout.contains(&port));
    let id = c.inspect("pub")["Id"].as_str().unwrap().to_string();
    let out = c.env.ok(&["network", "disconnect", "pubnet", "pub"]);
    assert!(
        out.stderr
            .contains("they are not published until it starts again"),
        "{out}"
    );
    assert_eq!(c.env.ok(&["port", "pub"]).stdout, "");
    // No rule of its left pointing at the address it gave back.
    let rules = Command::new("nft")
        .args(["list", "table", "ip", "skiff"])
        .output()
        .unwrap();
    let rules = String::from_utf8_lossy(&rules.stdout).to_string();
    assert!(!rules.contains(&id[..12]), "{rules}");
    c.env.ok(&["rm", "-f", "pub"]);
    c.env.ok(&["network", "rm", "pubnet"]);
}
