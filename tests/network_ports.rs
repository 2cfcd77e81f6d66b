//! Published ports on bridge networks, as a Docker user expects them:
//! `-p`, `-P` and `--expose` reach the container from the host's
//! loopback and its other addresses, from containers on other networks
//! and from the container itself; `port`, `ps` and `inspect` show them
//! as Docker does; a port taken is refused with Docker's words and
//! nothing made; and nothing of the rules is left once the container has
//! ended, however it ended. Host ports are picked free by the tests
//! (bound to port 0), so tests running at once do not collide.

mod common;

use common::net::{free_port, get, nc_get, nft_tagged, web, HostAddr};

use common::run::Ctx;
use std::net::{TcpListener, UdpSocket};
use std::time::Duration;

/// Two consecutive free ports, the first returned.
fn free_pair() -> u16 {
    for _ in 0..100 {
        let p = free_port();
        if p < 65535 && TcpListener::bind(("0.0.0.0", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no two consecutive free ports")
}

/// A network of the test's own, on a subnet of its own: the default
/// networks of stores made at the same moment (other tests') may be given
/// the same subnet before either's bridge is up, and then the host routes
/// a published port's traffic to the other one's container.
fn own_net(c: &Ctx, name: &str, k: u8) -> String {
    let subnet = format!("10.213.{k}.0/24");
    c.env.ok(&["network", "create", "--subnet", &subnet, name]);
    name.to_string()
}

/// Can a TCP socket be bound to `port` on every address (nobody holds
/// it)?
fn port_free(port: u16) -> bool {
    TcpListener::bind(("0.0.0.0", port)).is_ok()
}

fn id_of(c: &Ctx, name: &str) -> String {
    c.inspect(name)["Id"].as_str().unwrap().to_string()
}

#[test]
fn a_published_port_is_reached_from_everywhere_it_should_be() {
    let c = Ctx::new("ports_reach");
    let bb = c.bb();
    let host = HostAddr::get();
    let port = free_port();
    let net = own_net(&c, "reach", 1);
    let id = web(
        &c,
        "web",
        &["--network", &net, "-p", &format!("{port}:80")],
        "hello-web",
    );

    // From the host: its loopback and its other address.
    assert_eq!(get("127.0.0.1", port).as_deref(), Some("hello-web"));
    assert_eq!(get(&host.ip, port).as_deref(), Some("hello-web"));
    // The port is held while the container runs.
    assert!(!port_free(port), "{port} not reserved");

    // From a container on the same network, and on another network
    // (whose isolation must let DNAT'd traffic through), via the host.
    let same = c.run_ok(&[
        "--rm",
        "--network",
        &net,
        &bb,
        "sh",
        "-c",
        &nc_get(&host.ip, port),
    ]);
    assert_eq!(same.stdout.trim(), "hello-web", "{same}");
    own_net(&c, "elsewhere", 2);
    let other = c.run_ok(&[
        "--rm",
        "--network",
        "elsewhere",
        &bb,
        "sh",
        "-c",
        &nc_get(&host.ip, port),
    ]);
    assert_eq!(other.stdout.trim(), "hello-web", "{other}");
    // ...while that network still cannot reach the container directly.
    let ip = c.inspect("web")["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let direct = c.run(&[
        "--rm",
        "--network",
        "elsewhere",
        &bb,
        "sh",
        "-c",
        &nc_get(&ip, 80),
    ]);
    assert!(!direct.stdout.contains("hello-web"), "{direct}");
    // Hairpin: the container reaches itself through the host's address.
    let hairpin = c
        .env
        .ok(&["exec", "web", "sh", "-c", &nc_get(&host.ip, port)]);
    assert_eq!(hairpin.stdout.trim(), "hello-web", "{hairpin}");

    // What Docker shows.
    assert_eq!(
        c.env.ok(&["port", "web"]).stdout,
        format!("80/tcp -> 0.0.0.0:{port}\n")
    );
    assert_eq!(
        c.env.ok(&["port", "web", "80/tcp"]).stdout,
        format!("0.0.0.0:{port}\n")
    );
    c.env
        .run(&["port", "web", "81"])
        .assert_code(125)
        .assert_error_line()
        .assert_stderr_has("Error: No public port '81/tcp' published for web");
    let ps = c.env.ok(&["ps", "--format", "{{.Names}} {{.Ports}}"]);
    assert!(
        ps.stdout.contains(&format!("web 0.0.0.0:{port}->80/tcp")),
        "{ps}"
    );
    let short = &id[..12];
    let by = |f: &str| c.env.ok(&["ps", "-q", "--filter", f]).stdout;
    assert_eq!(by(&format!("publish={port}")).trim(), short);
    assert_eq!(by("expose=80/tcp").trim(), short);
    assert_eq!(by("expose=80/udp").trim(), "");
    assert_eq!(by("publish=80").trim(), "");
    let j = c.inspect("web");
    assert_eq!(
        j["HostConfig"]["PortBindings"],
        serde_json::json!({"80/tcp": [{"HostIp": "", "HostPort": port.to_string()}]})
    );
    assert_eq!(j["HostConfig"]["PublishAllPorts"], false);
    assert_eq!(
        j["Config"]["ExposedPorts"],
        serde_json::json!({"80/tcp": {}})
    );
    assert_eq!(
        j["NetworkSettings"]["Ports"],
        serde_json::json!({"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": port.to_string()}]})
    );

    // Stopped: the rules and the reservation go; Docker's stopped shapes.
    assert!(!nft_tagged(&id).is_empty());
    c.env.ok(&["stop", "-t", "0", "web"]);
    assert!(nft_tagged(&id).is_empty(), "{:?}", nft_tagged(&id));
    assert!(port_free(port));
    assert_eq!(get("127.0.0.1", port), None);
    let j = c.inspect("web");
    assert_eq!(j["NetworkSettings"]["Ports"], serde_json::json!({}));
    assert_eq!(
        j["HostConfig"]["PortBindings"]["80/tcp"][0]["HostPort"],
        port.to_string()
    );
    assert_eq!(c.env.ok(&["port", "web"]).stdout, "");
    let ps = c
        .env
        .ok(&["ps", "-a", "--format", "{{.Names}} [{{.Ports}}]"]);
    assert!(ps.stdout.contains("web []"), "{ps}");
    // Started again: published again, at its new address.
    c.env.ok(&["start", "web"]);
    let mut body = None;
    for _ in 0..100 {
        body = get("127.0.0.1", port);
        if body.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(body.as_deref(), Some("hello-web"));
    c.env.ok(&["rm", "-f", "web"]);
    assert!(nft_tagged(&id).is_empty(), "{:?}", nft_tagged(&id));
    assert!(port_free(port));
    c.env.ok(&["network", "rm", "elsewhere", "reach"]);
}

#[test]
fn publish_all_random_ports_ranges_and_udp() {
    let c = Ctx::new("ports_kinds");
    let bb = c.bb();
    // An image that EXPOSEs a TCP and a UDP port.
    c.run_ok(&["--name", "base", &bb, "true"]);
    c.env.ok(&[
        "commit",
        "--change",
        "EXPOSE 80",
        "--change",
        "EXPOSE 5353/udp",
        "base",
        "exposing:1",
    ]);
    let net = own_net(&c, "kinds", 3);
    let first = free_pair();
    let range = format!("{first}-{}:7000-7001", first + 1);
    // -P publishes what is exposed and not bound (--expose 7100 here:
    // busybox's image exposes nothing); a range is bound port to port;
    // -p 90 gets a free port.
    web(
        &c,
        "all",
        &[
            "--network",
            &net,
            "-P",
            "--expose",
            "7100",
            "-p",
            &range,
            "-p",
            "90",
        ],
        "hello-all",
    );
    let j = c.inspect("all");
    let ports = &j["NetworkSettings"]["Ports"];
    let host_port = |k: &str| -> u16 {
        ports[k][0]["HostPort"]
            .as_str()
            .unwrap_or_else(|| panic!("{k} not published: {ports:#}"))
            .parse()
            .unwrap()
    };
    assert_eq!(host_port("7000/tcp"), first);
    assert_eq!(host_port("7001/tcp"), first + 1);
    let random = host_port("90/tcp");
    assert!(random > 0 && random != 90, "{ports:#}");
    let all = host_port("7100/tcp");
    assert!(all > 0 && all != random, "{ports:#}");
    assert!(j["HostConfig"]["PortBindings"].get("7100/tcp").is_none());
    assert_eq!(ports["90/tcp"][0]["HostIp"], "0.0.0.0");
    assert_eq!(
        j["HostConfig"]["PortBindings"]["90/tcp"],
        serde_json::json!([{"HostIp": "", "HostPort": ""}])
    );
    assert_eq!(j["HostConfig"]["PublishAllPorts"], true);
    let ps = c.env.ok(&["ps", "--format", "{{.Ports}}"]).stdout;
    assert!(
        ps.contains(&format!("0.0.0.0:{first}->7000/tcp"))
            && ps.contains(&format!("0.0.0.0:{}->7001/tcp", first + 1))
            && ps.contains(&format!("0.0.0.0:{random}->90/tcp"))
            && ps.contains(&format!("0.0.0.0:{all}->7100/tcp")),
        "{ps}"
    );
    c.env.ok(&["rm", "-f", "all"]);

    // -P with an image that EXPOSEs: both of its ports, on free ports;
    // TCP served by httpd, UDP by an echo the test runs in the
    // container's network namespace.
    let script =
        "mkdir -p /www && echo hello-exposed >/www/index.html && exec httpd -f -p 80 -h /www";
    let out = c.run_ok(&[
        "-d",
        "--name",
        "exp",
        "-P",
        "exposing:1",
        "sh",
        "-c",
        script,
    ]);
    let id = out.stdout.trim().to_string();
    let j = c.inspect("exp");
    let ports = j["NetworkSettings"]["Ports"].clone();
    let tcp: u16 = ports["80/tcp"][0]["HostPort"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let udp: u16 = ports["5353/udp"][0]["HostPort"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(j["HostConfig"]["PortBindings"], serde_json::json!({}));
    let mut body = None;
    for _ in 0..100 {
        body = get("127.0.0.1", tcp);
        if body.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(body.as_deref(), Some("hello-exposed"));
    let out = c.env.ok(&["port", "exp"]).stdout;
    assert_eq!(
        out,
        format!("80/tcp -> 0.0.0.0:{tcp}\n5353/udp -> 0.0.0.0:{udp}\n")
    );
    let pid = j["State"]["Pid"].as_u64().unwrap();
    let echo = udp_echo_in(pid, 5353);
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut got = None;
    for _ in 0..5 {
        s.send_to(b"ping", ("127.0.0.1", udp)).unwrap();
        let mut buf = [0u8; 64];
        if let Ok((n, _)) = s.recv_from(&mut buf) {
            got = Some(buf[..n].to_vec());
            break;
        }
    }
    assert_eq!(got.as_deref(), Some(&b"echo:ping"[..]));
    drop(echo);
    c.env.ok(&["rm", "-f", "exp", "base"]);
    assert!(nft_tagged(&id).is_empty());
}

/// A UDP echo (`echo:` + what came) on `port` in the network namespace
/// of process `pid`: a thread of the test's own moved into it (a network
/// namespace is per thread). It answers until dropped.
fn udp_echo_in(pid: u64, port: u16) -> std::thread::JoinHandle<()> {
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net")).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let s = UdpSocket::bind(("0.0.0.0", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        tx.send(()).unwrap();
        let mut buf = [0u8; 64];
        if let Ok((n, from)) = s.recv_from(&mut buf) {
            let mut reply = b"echo:".to_vec();
            reply.extend_from_slice(&buf[..n]);
            let _ = s.send_to(&reply, from);
        }
    });
    rx.recv().unwrap();
    h
}

#[test]
fn a_specific_host_address_binds_only_that_one() {
    let c = Ctx::new("ports_ip");
    let host = HostAddr::get();
    let port = free_port();
    web(
        &c,
        "local",
        &["-p", &format!("127.0.0.1:{port}:80")],
        "hello-local",
    );
    assert_eq!(get("127.0.0.1", port).as_deref(), Some("hello-local"));
    assert_eq!(get(&host.ip, port), None);
    assert_eq!(
        c.env.ok(&["port", "local"]).stdout,
        format!("80/tcp -> 127.0.0.1:{port}\n")
    );
    // The other addresses of that port stay free for others.
    let other = TcpListener::bind((host.ip.as_str(), port));
    assert!(other.is_ok(), "{other:?}");
    drop(other);
    c.env.ok(&["rm", "-f", "local"]);
}

#[test]
fn a_port_taken_is_refused_and_nothing_is_made() {
    let c = Ctx::new("ports_conflict");
    let bb = c.bb();
    let port = free_port();
    let net = own_net(&c, "conflict", 5);
    let first = web(
        &c,
        "first",
        &["--network", &net, "-p", &format!("{port}:80")],
        "hello-first",
    );
    let leases = || {
        c.env
            .ok(&["network", "inspect", "-f", "{{json .Containers}}", &net])
            .stdout
    };
    let before = leases();

    // Another container on the same port: Docker's words, 125, the
    // container left created as Docker leaves it, without rules or lease.
    let out = c.run(&[
        "-d",
        "--name",
        "second",
        "-p",
        &format!("{port}:80"),
        &bb,
        "sleep",
        "30",
    ]);
    out.assert_code(125)
        .assert_error_line()
        .assert_stderr_has(&format!(
            "Bind for 0.0.0.0:{port} failed: port is already allocated"
        ));
    let second = id_of(&c, "second");
    assert_eq!(c.inspect("second")["State"]["Status"], "created");
    assert!(nft_tagged(&second).is_empty(), "{:?}", nft_tagged(&second));
    assert_eq!(leases(), before);
    // The same in the foreground, with --rm: nothing left at all.
    let dirs = c.container_dirs().len();
    let out = c.run(&["--rm", "-p", &format!("{port}:80"), &bb, "true"]);
    out.assert_code(125)
        .assert_stderr_has("port is already allocated");
    assert_eq!(c.container_dirs().len(), dirs);
    // The first is untouched.
    assert_eq!(get("127.0.0.1", port).as_deref(), Some("hello-first"));
    assert!(!nft_tagged(&first).is_empty());

    // A port another program holds.
    let held = TcpListener::bind("0.0.0.0:0").unwrap();
    let hp = held.local_addr().unwrap().port();
    let out = c.run(&["--rm", "-p", &format!("{hp}:80"), &bb, "true"]);
    out.assert_code(125)
        .assert_error_line()
        .assert_stderr_has(&format!(
            "Error starting userland proxy: listen tcp4 0.0.0.0:{hp}: bind: address already in use"
        ));
    assert_eq!(c.container_dirs().len(), dirs);
    drop(held);
    c.env.ok(&["rm", "-f", "first", "second"]);
    assert!(nft_tagged(&first).is_empty());
}

#[test]
fn the_rules_go_however_the_container_ends() {
    let c = Ctx::new("ports_gone");
    let bb = c.bb();
    // A foreground run: its rules while it runs, none after.
    let port = free_port();
    let mut fg = c.spawn_run(&[
        "--rm",
        "--name",
        "fg",
        "-p",
        &format!("{port}:80"),
        &bb,
        "sh",
        "-c",
        "echo up; sleep 2",
    ]);
    fg.wait_for("up", Duration::from_secs(30));
    let id = id_of(&c, "fg");
    assert!(!nft_tagged(&id).is_empty());
    assert_eq!(
        c.env.ok(&["port", "fg"]).stdout,
        format!("80/tcp -> 0.0.0.0:{port}\n")
    );
    fg.finish().assert_ok();
    assert!(nft_tagged(&id).is_empty(), "{:?}", nft_tagged(&id));
    assert!(port_free(port));

    // An exit of its own.
    let port = free_port();
    let out = c.run_ok(&[
        "-d",
        "--name",
        "quick",
        "-p",
        &format!("{port}:80"),
        &bb,
        "sleep",
        "1",
    ]);
    let id = out.stdout.trim().to_string();
    c.env.ok(&["wait", "quick"]);
    assert!(nft_tagged(&id).is_empty(), "{:?}", nft_tagged(&id));
    assert!(port_free(port));
    c.env.ok(&["rm", "quick"]);

    // Its monitor killed: the next command takes them out.
    let port = free_port();
    let id = c
        .run_ok(&[
            "-d",
            "--name",
            "lost",
            "-p",
            &format!("{port}:80"),
            &bb,
            "sleep",
            "60",
        ])
        .stdout
        .trim()
        .to_string();
    assert!(!nft_tagged(&id).is_empty());
    for m in common::skiff::monitors_of(&c.env.root) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(m as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while !common::skiff::monitors_of(&c.env.root).is_empty() && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    c.env.ok(&["ps", "-a"]);
    assert!(nft_tagged(&id).is_empty(), "{:?}", nft_tagged(&id));
    assert!(port_free(port));
    c.env.ok(&["rm", "lost"]);

    // rm -f of a running one.
    let port = free_port();
    let id = c
        .run_ok(&[
            "-d",
            "--name",
            "forced",
            "-p",
            &format!("{port}:80"),
            &bb,
            "sleep",
            "60",
        ])
        .stdout
        .trim()
        .to_string();
    c.env.ok(&["rm", "-f", "forced"]);
    assert!(nft_tagged(&id).is_empty(), "{:?}", nft_tagged(&id));
    assert!(port_free(port));
}

#[test]
fn bad_specs_and_other_network_modes() {
    let c = Ctx::new("ports_bad");
    let bb = c.bb();
    for (spec, msg) in [
        ("x", "Invalid containerPort: x"),
        ("8080:x", "Invalid containerPort: x"),
        ("y:80", "Invalid hostPort: y"),
        ("8080:80/ipx", "Invalid proto: ipx"),
        ("1.2.3:8080:80", "Invalid ip address: 1.2.3"),
        (
            "8000-8001:80-82",
            "Invalid ranges specified for container and host Ports",
        ),
        ("[::1]:8080:80", "IPv6"),
    ] {
        let out = c.run(&["--rm", "-p", spec, &bb, "true"]);
        out.assert_code(125)
            .assert_error_line()
            .assert_stderr_has(msg);
    }
    let out = c.run(&["--rm", "--expose", "80:80", &bb, "true"]);
    out.assert_code(125)
        .assert_error_line()
        .assert_stderr_has("invalid port format for --expose: 80:80");
    assert!(c.container_dirs().is_empty());

    // host: Docker's warning, the ports discarded; none: nothing published.
    let port = free_port();
    let out = c.run_ok(&[
        "--rm",
        "--network",
        "host",
        "-p",
        &format!("{port}:80"),
        &bb,
        "true",
    ]);
    assert!(
        out.stderr
            .contains("WARNING: Published ports are discarded when using host network mode"),
        "{out}"
    );
    let id = c
        .run_ok(&[
            "-d",
            "--name",
            "nonet",
            "--network",
            "none",
            "-p",
            &format!("{port}:80"),
            &bb,
            "sleep",
            "30",
        ])
        .stdout
        .trim()
        .to_string();
    assert!(nft_tagged(&id).is_empty());
    assert!(port_free(port));
    assert_eq!(c.env.ok(&["port", "nonet"]).stdout, "");
    let j = c.inspect("nonet");
    assert_eq!(
        j["HostConfig"]["PortBindings"]["80/tcp"][0]["HostPort"],
        port.to_string()
    );
    c.env.ok(&["rm", "-f", "nonet"]);
}

/// A bridge with published ports routes the host's loopback sources
/// (`route_localnet`), which must not open the host's loopback services
/// to its containers: one that routes 127.0.0.0/8 to its gateway (it
/// may, privileged) gets no answer from them.
#[test]
fn the_hosts_loopback_stays_closed_to_containers() {
    let c = Ctx::new("ports_localnet");
    let bb = c.bb();
    let net = own_net(&c, "localnet", 6);
    let port = free_port();
    web(
        &c,
        "pub",
        &["--network", &net, "-p", &format!("{port}:80")],
        "hello-pub",
    );
    let svc = TcpListener::bind("127.0.0.1:0").unwrap();
    let sp = svc.local_addr().unwrap().port();
    svc.set_nonblocking(true).unwrap();
    let gw = c.inspect("pub")["NetworkSettings"]["Gateway"]
        .as_str()
        .unwrap()
        .to_string();
    let script = format!(
        "sysctl -w net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.eth0.route_localnet=1 >/dev/null; \
         ip route del local 127.0.0.0/8 dev lo table local; \
         ip route del local 127.0.0.1 dev lo table local; \
         ip route add 127.0.0.0/8 via {gw} dev eth0; \
         echo x | nc -w 2 127.0.0.1 {sp}; echo nc=$?"
    );
    let out = c.run(&[
        "--rm",
        "--privileged",
        "--network",
        &net,
        &bb,
        "sh",
        "-c",
        &script,
    ]);
    assert!(out.stdout.contains("nc=1"), "{out}");
    assert!(
        out.stderr.contains("timed out"),
        "an answer came back:\n{out}"
    );
    assert!(
        svc.accept().is_err(),
        "a container reached the host's loopback"
    );
    c.env.ok(&["rm", "-f", "pub"]);
}
