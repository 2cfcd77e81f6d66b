//! User-space network stacks: `--network pasta` and `--network
//! slirp4netns` give a container a way out through the host's own
//! sockets, with no bridge; each lives as long as its container.

mod common;

use common::net::{dns_server, free_port, get_local, host_server, with_resolv};

use common::run::Ctx;

/// Processes whose command line holds `needle`.
fn procs_with(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
        })
        .collect()
}

/// Waits up to five seconds for no process to name `needle`.
fn gone(needle: &str) -> bool {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::time::Instant::now() < end {
        if procs_with(needle).is_empty() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    false
}

#[test]
fn pasta_reaches_the_host_through_its_gateway() {
    let c = Ctx::new("net_pasta");
    let port = host_server("hello from the host\n");
    let out = c.sh(
        &["--network", "pasta"],
        &format!(
            "ip -4 -o addr; gw=$(ip route | sed -n 's/^default via \\([0-9.]*\\).*/\\1/p'); \
             wget -qO- http://$gw:{port}/"
        ),
    );
    assert!(out.contains("hello from the host"), "{out}");
    // An interface besides lo, with an address.
    assert!(
        out.lines()
            .any(|l| !l.contains(" lo ") && l.contains("inet ")),
        "{out}"
    );
    // Detached: the stack lives as long as the container.
    let bb = c.bb();
    c.run_ok(&[
        "-d",
        "--name",
        "pst",
        "--network",
        "pasta",
        &bb,
        "sleep",
        "60",
    ]);
    let j = c.inspect("pst");
    assert_eq!(j["HostConfig"]["NetworkMode"], "pasta");
    let id = j["Id"].as_str().unwrap().to_string();
    assert_eq!(procs_with(&format!("{id}/netns")).len(), 1);
    c.env.ok(&["stop", "-t", "0", "pst"]);
    assert!(gone(&format!("{id}/netns")), "pasta of {id} left");
    // And again at the next start.
    c.env.ok(&["start", "pst"]);
    assert_eq!(procs_with(&format!("{id}/netns")).len(), 1);
    c.env.ok(&["rm", "-f", "pst"]);
    assert!(gone(&format!("{id}/netns")), "pasta of {id} left");
}

#[test]
fn slirp4netns_with_and_without_the_hosts_loopback() {
    let c = Ctx::new("net_slirp");
    let port = host_server("hello from the host\n");
    let out = c.sh(
        &["--network", "slirp4netns:allow_host_loopback=true"],
        &format!("ip -4 -o addr; wget -qO- http://10.0.2.2:{port}/"),
    );
    assert!(out.contains("tap0    inet 10.0.2.100/24"), "{out}");
    assert!(out.contains("hello from the host"), "{out}");
    // Podman's default: the host's loopback is out of reach.
    let out = c.sh_out(
        &["--network", "slirp4netns"],
        &format!("wget -qO- http://10.0.2.2:{port}/"),
    );
    assert!(!out.stdout.contains("hello"), "{out}");
    let bb = c.bb();
    c.run_ok(&[
        "-d",
        "--name",
        "slp",
        "--network",
        "slirp4netns",
        &bb,
        "sleep",
        "60",
    ]);
    let id = c.inspect("slp")["Id"].as_str().unwrap().to_string();
    assert_eq!(procs_with(&format!("{id}/netns")).len(), 1);
    c.env.ok(&["rm", "-f", "slp"]);
    assert!(gone(&format!("{id}/netns")), "slirp4netns of {id} left");
    // Options are checked before anything is made.
    let out = c.sh_out(&["--network", "slirp4netns:color=red"], "true");
    out.assert_code(125);
    assert!(
        out.stderr
            .contains("unknown or invalid option \"color=red\""),
        "{out}"
    );
    assert!(c.container_dirs().is_empty());
}

#[test]
fn a_missing_stack_is_named_with_its_package() {
    if common::rootless::skip_rootless("the harness finds setpriv on the PATH this test empties") {
        return;
    }
    let c = Ctx::new("net_no_stack");
    let bb = c.bb();
    let mut cmd = c
        .env
        .command(&["run", "--rm", "--network", "pasta", &bb, "true"]);
    cmd.env("PATH", c.env.dir());
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--network pasta: pasta is not installed (package passt)"),
        "{err}"
    );
}

#[test]
fn a_rootless_container_gets_a_way_out_by_default() {
    if !common::rootless::enabled() {
        // The root run's default is the bridge (tests/network_run.rs).
        return;
    }
    let c = Ctx::new("net_rootless_default");
    let port = host_server("hello from the host\n");
    let bb = c.bb();
    c.run_ok(&["-d", "--name", "dflt", &bb, "sleep", "60"]);
    assert_eq!(c.inspect("dflt")["HostConfig"]["NetworkMode"], "pasta");
    let out = c.env.ok(&[
        "exec",
        "dflt",
        "sh",
        "-c",
        &format!(
            "gw=$(ip route | sed -n 's/^default via \\([0-9.]*\\).*/\\1/p'); wget -qO- http://$gw:{port}/"
        ),
    ]);
    assert!(out.stdout.contains("hello from the host"), "{out}");
    c.env.ok(&["rm", "-f", "dflt"]);
    // The default network is the stack, which user networks come with.
    c.env.ok(&["network", "create", "mynet"]);
    let out = c.sh_out(&["--network", "bridge", "--network", "mynet"], "true");
    out.assert_code(125);
    assert!(out.stderr.contains("leave out --network bridge"), "{out}");
    c.env.ok(&["network", "rm", "mynet"]);
}

/// `GET /` at 127.0.0.1:`port`, tried for up to three seconds (the
/// server binds a moment after its start): the answer, or empty.
#[test]
fn ports_published_through_a_user_space_stack() {
    let c = Ctx::new("net_stack_ports");
    let bb = c.bb();
    let script = "mkdir -p /www && echo served >/www/index.html && exec httpd -f -p 80 -h /www";
    for stack in ["pasta", "slirp4netns"] {
        let port = free_port();
        let spec = format!("{port}:80");
        // Twice on the same port, the first's connections still in
        // TIME_WAIT when the second starts.
        for round in 0..2 {
            let name = format!("web{round}");
            c.run_ok(&[
                "-d",
                "--name",
                &name,
                "--network",
                stack,
                "-p",
                &spec,
                "-p",
                "127.0.0.1::80",
                &bb,
                "sh",
                "-c",
                script,
            ]);
            let got = get_local(port);
            assert!(got.contains("served"), "{stack} round {round}: {got}");
            let listed = c.env.ok(&["port", &name]).stdout;
            assert!(
                listed.contains(&format!("80/tcp -> 0.0.0.0:{port}\n")),
                "{listed}"
            );
            let random = c.env.ok(&["port", &name, "80/tcp"]).stdout;
            let local = random
                .lines()
                .find_map(|l| l.strip_prefix("127.0.0.1:"))
                .and_then(|p| p.trim().parse::<u16>().ok())
                .unwrap_or_else(|| panic!("no 127.0.0.1 port:\n{random}"));
            assert!(get_local(local).contains("served"), "{stack}");
            let ps = c.env.ok(&[
                "ps",
                "--format",
                "{{.Ports}}",
                "-f",
                &format!("name={name}"),
            ]);
            assert!(
                ps.stdout.contains(&format!("0.0.0.0:{port}->80/tcp")),
                "{ps}"
            );
            c.env.ok(&["rm", "-f", &name]);
        }
        // A port one holds is refused to the next, nothing made.
        c.run_ok(&[
            "-d",
            "--name",
            "holder",
            "--network",
            stack,
            "-p",
            &spec,
            &bb,
            "sh",
            "-c",
            script,
        ]);
        assert!(get_local(port).contains("served"));
        let out = c.run(&["--rm", "--network", stack, "-p", &spec, &bb, "true"]);
        out.assert_code(125);
        assert!(out.stderr.contains(&format!("0.0.0.0:{port}")), "{out}");
        c.env.ok(&["rm", "-f", "holder"]);
    }
}

/// User networks as root has them (bridges) and as an unprivileged user
/// has them (bridges in the user's own network namespace, a user-space
/// stack for the way out and for published ports): the same test.
#[test]
fn user_networks_find_by_name_stay_apart_and_publish() {
    let c = Ctx::new("net_user_nets");
    c.env
        .ok(&["network", "create", "--subnet", "10.214.1.0/24", "un1"]);
    c.env
        .ok(&["network", "create", "--subnet", "10.214.2.0/24", "un2"]);
    let bb = c.bb();
    let port = free_port();
    let spec = format!("{port}:80");
    let script = "mkdir -p /www && echo served >/www/index.html && exec httpd -f -p 80 -h /www";
    c.run_ok(&[
        "-d",
        "--name",
        "web",
        "--network",
        "un1",
        "-p",
        &spec,
        &bb,
        "sh",
        "-c",
        script,
    ]);
    c.run_ok(&[
        "-d",
        "--name",
        "client",
        "--network",
        "un1",
        &bb,
        "sleep",
        "60",
    ]);
    c.run_ok(&[
        "-d",
        "--name",
        "other",
        "--network",
        "un2",
        &bb,
        "sleep",
        "60",
    ]);
    assert!(get_local(port).contains("served"));
    // By name on the network.
    let got = c.env.ok(&["exec", "client", "wget", "-qO-", "http://web/"]);
    assert_eq!(got.stdout, "served\n");
    // Not from another network, by name or address.
    let web_ip = c.inspect("web")["NetworkSettings"]["Networks"]["un1"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let out = c
        .env
        .run(&["exec", "other", "sh", "-c", "ping -c 1 -W 1 web"]);
    assert_ne!(out.code, 0, "{out}");
    let out = c.env.run(&[
        "exec",
        "other",
        "sh",
        "-c",
        &format!("ping -c 1 -W 1 {web_ip}"),
    ]);
    assert_ne!(out.code, 0, "{out}");
    // Joined while running: it is reached there, by name.
    c.env.ok(&["network", "connect", "un2", "client"]);
    c.env
        .ok(&["exec", "client", "sh", "-c", "ping -c 1 -W 2 other"]);
    c.env
        .ok(&["exec", "other", "sh", "-c", "ping -c 1 -W 2 client"]);
    c.env.ok(&["network", "disconnect", "un2", "client"]);
    let out = c
        .env
        .run(&["exec", "other", "sh", "-c", "ping -c 1 -W 1 client"]);
    assert_ne!(out.code, 0, "{out}");
    c.env.ok(&["rm", "-f", "web", "client", "other"]);
    c.env.ok(&["network", "rm", "un1", "un2"]);
}

#[test]
fn a_loopback_resolver_of_the_hosts_is_reached_through_the_stack() {
    let c = Ctx::new("net_stack_dns");
    let bb = c.bb();
    if c.env.user.is_some() {
        // The next command makes a new pause process, in the mount
        // namespace that shows skiff the other /etc/resolv.conf, and the
        // commands after it join that one.
        common::rootless::stop_pause(&c.env.runroot);
        let end = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while common::rootless::pause_pid(&c.env.runroot)
            .is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists())
            && std::time::Instant::now() < end
        {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    // As systemd-resolved's stub is: on a loopback address.
    let ip = "127.0.0.97";
    assert!(dns_server(ip, [10, 1, 2, 3]), "port 53 of {ip} is taken");
    let resolv = c.env.path("host-resolv.conf");
    std::fs::write(&resolv, format!("nameserver {ip}\nsearch example.test\n")).unwrap();
    let script = "cat /etc/resolv.conf; nslookup foo.example.test";
    // Rootless, the default network is the stack (pasta here).
    let default = if c.env.user.is_some() {
        vec![("bridge", "169.254.1.1")]
    } else {
        vec![]
    };
    for (mode, fwd) in default.into_iter().chain([
        ("pasta", "169.254.1.1"),
        ("slirp4netns", "10.0.2.3"),
        ("slirp4netns:cidr=10.7.0.0/24", "10.7.0.3"),
    ]) {
        let out = with_resolv(
            &c.env,
            &resolv,
            &["run", "--rm", "--network", mode, &bb, "sh", "-c", script],
        );
        out.assert_ok();
        assert!(
            out.stdout.contains(&format!("nameserver {fwd}\n")),
            "{mode}: {out}"
        );
        assert!(!out.stdout.contains(ip), "{mode}: {out}");
        assert!(out.stdout.contains("search example.test"), "{mode}: {out}");
        assert!(out.stdout.contains("Address: 10.1.2.3"), "{mode}: {out}");
    }
    // --dns wins over the stack's forwarder.
    let out = with_resolv(
        &c.env,
        &resolv,
        &[
            "run",
            "--rm",
            "--network",
            "pasta",
            "--dns",
            "10.9.9.9",
            &bb,
            "cat",
            "/etc/resolv.conf",
        ],
    );
    out.assert_ok();
    assert!(out.stdout.contains("nameserver 10.9.9.9\n"), "{out}");
    assert!(!out.stdout.contains("169.254.1.1"), "{out}");
    if c.env.user.is_some() {
        return;
    }
    // A bridge has no forwarder: Docker's public fallback.
    let out = with_resolv(
        &c.env,
        &resolv,
        &["run", "--rm", &bb, "cat", "/etc/resolv.conf"],
    );
    out.assert_ok();
    assert!(out.stdout.contains("nameserver 8.8.8.8\n"), "{out}");
}
