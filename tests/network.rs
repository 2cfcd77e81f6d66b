//! `skiff network create|ls|inspect|rm|prune`, as Docker's: output,
//! filters, formats, errors and exit codes, and a store left consistent
//! when a command is refused. Containers joining networks is tested
//! with `run --network` and `network connect`.

mod common;

use common::{Out, Skiff};

/// A table row's cells: columns are separated by two or more spaces.
fn cells(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect()
}

fn words(out: &Out) -> Vec<String> {
    let mut v: Vec<String> = out.lines().iter().map(|l| l.trim().to_string()).collect();
    v.sort();
    v
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn inspect(env: &Skiff, names: &[&str]) -> Vec<serde_json::Value> {
    let mut a = vec!["network", "inspect"];
    a.extend_from_slice(names);
    let out = env.ok(&a);
    let v: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("network inspect printed no JSON ({e}):\n{out}"));
    v.as_array()
        .unwrap_or_else(|| panic!("network inspect prints an array:\n{out}"))
        .clone()
}

/// `network create ARGS`: the full ID it prints.
fn create(env: &Skiff, args: &[&str]) -> String {
    let mut a = vec!["network", "create"];
    a.extend_from_slice(args);
    let out = env.ok(&a);
    let id = out.stdout.trim().to_string();
    assert!(is_hex(&id, 64), "create prints the full ID:\n{out}");
    id
}

fn subnet_of(env: &Skiff, name: &str) -> (String, String) {
    let out = env.ok(&[
        "network",
        "inspect",
        "--format",
        "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}",
        name,
    ]);
    let (s, g) = out
        .stdout
        .trim()
        .split_once(' ')
        .unwrap_or_else(|| out.fail("a subnet and a gateway"));
    (s.to_string(), g.to_string())
}

/// What `network ls` lists: the names, sorted.
fn listed(env: &Skiff) -> Vec<String> {
    words(&env.ok(&["network", "ls", "--format", "{{.Name}}"]))
}

/// The addresses of a `a.b.c.d/n` as (first octets, prefix).
fn split_cidr(cidr: &str) -> ([u8; 4], u8) {
    let (a, p) = cidr.split_once('/').unwrap();
    let ip: std::net::Ipv4Addr = a.parse().unwrap();
    (ip.octets(), p.parse().unwrap())
}

/// Give container `id` the address `ip` on network `net` the way the
/// store records leases (what `run --network` does through the store),
/// with a container directory so it counts as a live container.
fn lease_on_disk(env: &Skiff, net: &str, id: &str, name: &str, ip: &str) {
    std::fs::create_dir_all(env.root.join("containers").join(id)).unwrap();
    let path = env.root.join("networks").join(format!("{net}.leases"));
    let mut leases: Vec<serde_json::Value> = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    leases.push(serde_json::json!({
        "ip": ip, "container_id": id, "name": name, "aliases": []
    }));
    std::fs::write(&path, serde_json::to_vec(&leases).unwrap()).unwrap();
}

#[test]
fn ls_shows_the_predefined_networks() {
    let env = Skiff::new("network_ls_predefined");
    let out = env.ok(&["network", "ls"]);
    let lines = out.lines();
    assert_eq!(
        cells(lines[0]),
        ["NETWORK ID", "NAME", "DRIVER", "SCOPE"],
        "{out}"
    );
    let rows: Vec<Vec<String>> = lines[1..].iter().map(|l| cells(l)).collect();
    assert_eq!(rows.len(), 3, "{out}");
    for (row, (name, driver)) in
        rows.iter()
            .zip([("bridge", "bridge"), ("host", "host"), ("none", "null")])
    {
        assert!(is_hex(&row[0], 12), "a 12-digit ID: {out}");
        assert_eq!(row[1..], [name, driver, "local"], "{out}");
    }
    // The same IDs every time: the records are made once.
    let again = env.ok(&["network", "list"]);
    assert_eq!(again.stdout, out.stdout, "list is ls, and stable");
    let b = &inspect(&env, &["bridge"])[0];
    assert_eq!(b["Driver"], "bridge");
    let (subnet, gw) = subnet_of(&env, "bridge");
    let (octets, prefix) = split_cidr(&subnet);
    assert_eq!(
        (octets[0], octets[2], octets[3], prefix),
        (10, 0, 0, 16),
        "a /16 of 10/8: {subnet}"
    );
    assert!(octets[1] <= 87, "from 10.87.0.0/16 down: {subnet}");
    assert_eq!(gw, format!("10.{}.0.1", octets[1]));
    let br = b["Options"]["com.docker.network.bridge.name"]
        .as_str()
        .unwrap();
    assert!(br.starts_with("skiff-") && br.len() <= 15, "{br}");
    for n in ["host", "none"] {
        let v = &inspect(&env, &[n])[0];
        assert_eq!(v["IPAM"]["Config"], serde_json::json!([]), "{v:#}");
    }
    env.assert_store_clean();
}

#[test]
fn create_prints_the_id_and_picks_free_subnets() {
    let env = Skiff::new("network_create");
    let id1 = create(&env, &["net1"]);
    let id2 = create(&env, &["--driver", "bridge", "net2"]);
    assert_ne!(id1, id2);
    let (s1, g1) = subnet_of(&env, "net1");
    let (s2, g2) = subnet_of(&env, "net2");
    for (s, g) in [(&s1, &g1), (&s2, &g2)] {
        let (o, prefix) = split_cidr(s);
        assert_eq!((o[0], o[1], o[3], prefix), (10, 89, 0, 24), "{s}");
        assert_eq!(g, &format!("10.89.{}.1", o[2]));
    }
    assert_ne!(s1, s2);
    assert!(
        split_cidr(&s1).0[2] < split_cidr(&s2).0[2],
        "the lowest free first"
    );
    let out = env.ok(&["network", "ls", "-q"]);
    assert_eq!(out.lines().len(), 5, "{out}");
    assert!(out.stdout.contains(&id1[..12]), "{out}");
    let out = env.ok(&["network", "ls", "-q", "--no-trunc"]);
    assert!(
        out.stdout.contains(&id1) && out.stdout.contains(&id2),
        "{out}"
    );
    let out = env.ok(&["network", "ls", "--no-trunc"]);
    let row = out
        .lines()
        .into_iter()
        .find(|l| l.contains("net1"))
        .unwrap_or_else(|| out.fail("no net1 row"));
    assert_eq!(
        cells(row),
        [id1.as_str(), "net1", "bridge", "local"],
        "{out}"
    );
    env.assert_store_clean();
}

#[test]
fn create_takes_subnet_gateway_internal_labels_and_options() {
    let env = Skiff::new("network_create_flags");
    let id = create(
        &env,
        &[
            "--subnet",
            "172.30.5.0/24",
            "--gateway",
            "172.30.5.254",
            "--internal",
            "--label",
            "env=test",
            "--label",
            "tier",
            "-o",
            "com.docker.network.driver.mtu=1400",
            "--opt",
            "com.docker.network.bridge.name=br-flags",
            "-d",
            "bridge",
            "flags",
        ],
    );
    let v = &inspect(&env, &["flags"])[0];
    assert_eq!(v["Id"], id.as_str());
    assert_eq!(v["Internal"], true);
    assert_eq!(v["IPAM"]["Config"][0]["Subnet"], "172.30.5.0/24");
    assert_eq!(v["IPAM"]["Config"][0]["Gateway"], "172.30.5.254");
    assert_eq!(v["Labels"]["env"], "test");
    assert_eq!(v["Labels"]["tier"], "");
    assert_eq!(v["Options"]["com.docker.network.driver.mtu"], "1400");
    assert_eq!(v["Options"]["com.docker.network.bridge.name"], "br-flags");
    // A second network may not take the same host bridge.
    let out = env.fails(&[
        "network",
        "create",
        "-o",
        "com.docker.network.bridge.name=br-flags",
        "other",
    ]);
    out.assert_error_line();
    out.assert_stderr_has("bridge br-flags is already used by network flags");
    env.assert_store_clean();
}

/// `network create ARGS` fails with `msg`, and leaves the store as it was.
fn refused(env: &Skiff, args: &[&str], msg: &str) {
    let before = env.ok(&["network", "ls", "-q", "--no-trunc"]).stdout;
    let mut a = vec!["network", "create"];
    a.extend_from_slice(args);
    let out = env.fails(&a);
    out.assert_error_line();
    out.assert_stderr_has(msg);
    assert!(out.stdout.is_empty(), "no ID printed:\n{out}");
    let after = env.ok(&["network", "ls", "-q", "--no-trunc"]).stdout;
    assert_eq!(before, after, "nothing made by: {}", a.join(" "));
}

#[test]
fn create_refuses_bad_subnets_gateways_drivers_and_names() {
    let env = Skiff::new("network_create_bad");
    let cases: &[(&[&str], &str)] = &[
        (
            &["--subnet", "10.1.0.1/24", "n"],
            "invalid network config: invalid subnet 10.1.0.1/24: it should be 10.1.0.0/24",
        ),
        (
            &["--subnet", "10.1.0.0", "n"],
            "invalid subnet 10.1.0.0: invalid CIDR block notation",
        ),
        (
            &["--subnet", "300.1.0.0/16", "n"],
            "invalid subnet 300.1.0.0/16: invalid CIDR block notation",
        ),
        (
            &["--subnet", "fd00::/64", "n"],
            "only IPv4 subnets are supported",
        ),
        (
            &["--subnet", "10.1.0.0/24", "--gateway", "10.2.0.1", "n"],
            "invalid gateway 10.2.0.1: parent subnet 10.1.0.0/24 doesn't contain this address",
        ),
        (
            &["--subnet", "10.1.0.0/24", "--gateway", "10.1.0.0", "n"],
            "invalid gateway 10.1.0.0",
        ),
        (
            &["--subnet", "10.1.0.0/24", "--gateway", "gw", "n"],
            "invalid gateway gw: invalid address",
        ),
        (
            &["--gateway", "10.1.0.1", "n"],
            "every ip-range or gateway must have a corresponding subnet",
        ),
        (&["-d", "overlay", "n"], "plugin \"overlay\" not found"),
        (&["--ipam-driver", "dhcp", "n"], "plugin \"dhcp\" not found"),
        (&["--ipv6", "n"], "IPv6 networks are not supported"),
        (
            &["--subnet", "10.1.0.0/24", "--ip-range", "10.1.1.0/25", "n"],
            "no matching subnet for range 10.1.1.0/25",
        ),
        (
            &["--ip-range", "10.1.0.0/25", "n"],
            "every ip-range or gateway must have a corresponding subnet",
        ),
        (
            &[
                "--subnet",
                "10.1.0.0/24",
                "--aux-address",
                "a=10.2.0.1",
                "n",
            ],
            "no matching subnet for aux-address a=10.2.0.1",
        ),
        (
            &["--subnet", "10.1.0.0/24", "--aux-address", "10.1.0.9", "n"],
            "invalid aux-address \"10.1.0.9\": expected NAME=IP",
        ),
        (
            &["--driver", "null", "n"],
            "only one instance of \"null\" network is allowed",
        ),
        (&["bad/name"], "invalid network name"),
        (&["-leading"], "unexpected argument"),
        (
            &[
                "-o",
                "com.docker.network.bridge.name=a-name-over-15-bytes",
                "n",
            ],
            "invalid bridge name",
        ),
    ];
    for (args, msg) in cases {
        refused(&env, args, msg);
    }
    let out = env.run(&["network", "create"]);
    out.assert_code(125);
    let names = listed(&env);
    assert_eq!(names, ["bridge", "host", "none"]);
    env.assert_store_clean();
}

#[test]
fn create_refuses_taken_names_and_overlapping_subnets() {
    let env = Skiff::new("network_create_conflicts");
    create(&env, &["--subnet", "10.33.0.0/16", "wide"]);
    create(&env, &["taken"]);
    for name in ["taken", "bridge", "host", "none"] {
        refused(
            &env,
            &[name],
            &format!("network with name {name} already exists"),
        );
    }
    for subnet in ["10.33.0.0/16", "10.33.4.0/24", "10.0.0.0/8"] {
        refused(
            &env,
            &["--subnet", subnet, "lap"],
            "Pool overlaps with other one on this address space",
        );
    }
    let (taken, _) = subnet_of(&env, "taken");
    refused(
        &env,
        &["--subnet", &taken, "lap"],
        "Pool overlaps with other one on this address space",
    );
    // Beside it is free.
    create(&env, &["--subnet", "10.34.0.0/16", "beside"]);
    assert_eq!(
        listed(&env),
        ["beside", "bridge", "host", "none", "taken", "wide"]
    );
    env.assert_store_clean();
}

#[test]
fn creates_at_once_get_distinct_subnets_and_one_wins_a_name() {
    let env = Skiff::new("network_create_parallel");
    let children: Vec<_> = (0..6)
        .map(|i| env.spawn(&["network", "create", &format!("par{i}")]))
        .collect();
    for c in children {
        common::skiff::wait_out(c, "skiff network create").assert_ok();
    }
    let mut subnets: Vec<String> = (0..6)
        .map(|i| subnet_of(&env, &format!("par{i}")).0)
        .collect();
    subnets.sort();
    subnets.dedup();
    assert_eq!(subnets.len(), 6, "{subnets:?}");

    let children: Vec<_> = (0..6)
        .map(|_| env.spawn(&["network", "create", "same"]))
        .collect();
    let outs: Vec<Out> = children
        .into_iter()
        .map(|c| common::skiff::wait_out(c, "skiff network create same"))
        .collect();
    assert_eq!(outs.iter().filter(|o| o.code == 0).count(), 1, "one wins");
    for o in outs.iter().filter(|o| o.code != 0) {
        o.assert_code(125);
        o.assert_stderr_has("network with name same already exists");
    }
    env.assert_store_clean();
}

/// Three user networks: `net-alpha` (env=prod), `net-beta` (env=dev,
/// tier), `other-gamma` (none).
fn three(name: &str) -> Skiff {
    let env = Skiff::new(name);
    create(&env, &["--label", "env=prod", "net-alpha"]);
    create(&env, &["--label", "env=dev", "--label", "tier", "net-beta"]);
    create(&env, &["other-gamma"]);
    env
}

#[test]
fn ls_filters() {
    let env = three("network_ls_filters");
    let q = |args: &[&str]| {
        let mut a = vec!["network", "ls", "--format", "{{.Name}}"];
        a.extend_from_slice(args);
        words(&env.ok(&a))
    };
    assert_eq!(q(&["--filter", "name=net-"]), ["net-alpha", "net-beta"]);
    assert_eq!(q(&["-f", "name=gamma"]), ["other-gamma"]);
    assert_eq!(q(&["--filter", "label=env"]), ["net-alpha", "net-beta"]);
    assert_eq!(q(&["--filter", "label=env=prod"]), ["net-alpha"]);
    assert_eq!(q(&["--filter", "label=tier"]), ["net-beta"]);
    assert_eq!(
        q(&["--filter", "type=custom"]),
        ["net-alpha", "net-beta", "other-gamma"]
    );
    assert_eq!(q(&["--filter", "type=builtin"]), ["bridge", "host", "none"]);
    assert_eq!(q(&["--filter", "driver=null"]), ["none"]);
    assert_eq!(q(&["--filter", "driver=bridge"]).len(), 4);
    assert_eq!(q(&["--filter", "scope=local"]).len(), 6);
    // Values of one key are alternatives; different keys must all match.
    assert_eq!(
        q(&["--filter", "name=alpha", "--filter", "name=gamma"]),
        ["net-alpha", "other-gamma"]
    );
    assert_eq!(
        q(&["--filter", "name=net-", "--filter", "label=env=dev"]),
        ["net-beta"]
    );
    let alpha = inspect(&env, &["net-alpha"])[0]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        q(&["--filter", &format!("id={}", &alpha[..10])]),
        ["net-alpha"]
    );
    assert!(q(&["--filter", "name=nothing-like-this"]).is_empty());
    let out = env.ok(&["network", "ls", "--filter", "label=nope"]);
    assert_eq!(out.lines().len(), 1, "the header stays:\n{out}");

    let out = env.fails(&["network", "ls", "--filter", "colour=red"]);
    out.assert_error_line();
    out.assert_stderr_has("invalid filter 'colour'");
    let out = env.fails(&["network", "ls", "--filter", "type=odd"]);
    out.assert_stderr_has("invalid filter 'type=odd'");
}

#[test]
fn ls_formats() {
    let env = three("network_ls_format");
    let out = env.ok(&[
        "network",
        "ls",
        "--filter",
        "name=net-alpha",
        "--format",
        "table {{.Name}}\t{{.Labels}}\t{{.Internal}}\t{{.IPv6}}\t{{.Scope}}",
    ]);
    assert_eq!(
        cells(out.lines()[0]),
        ["NAME", "LABELS", "INTERNAL", "IPV6", "SCOPE"],
        "{out}"
    );
    assert_eq!(
        cells(out.lines()[1]),
        ["net-alpha", "env=prod", "false", "false", "local"],
        "{out}"
    );
    let out = env.ok(&["network", "ls", "--format", "{{.Name}}:{{.Driver}}"]);
    assert!(out.stdout.contains("none:null\n"), "{out}");
    let out = env.ok(&["network", "ls", "--format", "json"]);
    let rows: Vec<serde_json::Value> = out
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}:\n{out}")))
        .collect();
    assert_eq!(rows.len(), 6, "{out}");
    let beta = rows
        .iter()
        .find(|r| r["Name"] == "net-beta")
        .unwrap_or_else(|| out.fail("no net-beta row"));
    assert!(is_hex(beta["ID"].as_str().unwrap(), 12), "{out}");
    assert_eq!(beta["Driver"], "bridge");
    assert_eq!(beta["Scope"], "local");
    assert!(
        beta["CreatedAt"].as_str().unwrap().ends_with(" +0000 UTC"),
        "{out}"
    );
    let out = env.fails(&["network", "ls", "--format", "{{.Name"]);
    out.assert_error_line();
}

#[test]
fn inspect_shows_dockers_fields() {
    let env = Skiff::new("network_inspect");
    let id = create(
        &env,
        &["--subnet", "10.44.0.0/24", "--label", "k=v", "insp"],
    );
    let vs = inspect(&env, &["insp", "bridge"]);
    assert_eq!(vs.len(), 2);
    let v = &vs[0];
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "Name",
            "Id",
            "Created",
            "Scope",
            "Driver",
            "EnableIPv6",
            "IPAM",
            "Internal",
            "Attachable",
            "Ingress",
            "ConfigFrom",
            "ConfigOnly",
            "Containers",
            "Options",
            "Labels"
        ],
        "Docker's fields in Docker's order: {v:#}"
    );
    assert_eq!(v["Name"], "insp");
    assert_eq!(v["Id"], id.as_str());
    assert_eq!(v["Scope"], "local");
    assert_eq!(v["Driver"], "bridge");
    assert_eq!(v["EnableIPv6"], false);
    assert_eq!(v["Internal"], false);
    assert_eq!(v["IPAM"]["Driver"], "default");
    assert_eq!(v["IPAM"]["Options"], serde_json::json!({}));
    assert_eq!(
        v["IPAM"]["Config"],
        serde_json::json!([{"Subnet": "10.44.0.0/24", "Gateway": "10.44.0.1"}])
    );
    assert_eq!(v["ConfigFrom"]["Network"], "");
    assert_eq!(v["Containers"], serde_json::json!({}));
    assert_eq!(v["Labels"]["k"], "v");
    let created = v["Created"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok(),
        "Created is RFC 3339: {created}"
    );
    assert_eq!(vs[1]["Name"], "bridge");

    // By full ID and by a unique prefix.
    assert_eq!(inspect(&env, &[&id])[0]["Name"], "insp");
    assert_eq!(inspect(&env, &[&id[..12]])[0]["Name"], "insp");
    let out = env.ok(&[
        "network",
        "inspect",
        "-f",
        "{{.Name}} {{.Driver}}",
        "insp",
        "none",
    ]);
    assert_eq!(out.stdout, "insp bridge\nnone null\n", "{out}");
    let out = env.ok(&["network", "inspect", "--format", "{{json .Labels}}", "insp"]);
    assert_eq!(out.stdout, "{\"k\":\"v\"}\n", "{out}");
}

#[test]
fn unknown_networks_are_not_found() {
    let env = Skiff::new("network_unknown");
    create(&env, &["known"]);
    let out = env.fails(&["network", "inspect", "nope"]);
    out.assert_error_line();
    out.assert_stderr_has("network nope not found");
    // The ones found are still shown.
    let out = env.fails(&["network", "inspect", "known", "nope"]);
    out.assert_stderr_has("network nope not found");
    let v: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("the known one is printed ({e}):\n{out}"));
    assert_eq!(v[0]["Name"], "known", "{out}");
    let out = env.fails(&["network", "rm", "nope"]);
    out.assert_error_line();
    out.assert_stderr_has("network nope not found");
    let out = env.ok(&["network", "rm", "-f", "nope"]);
    assert!(out.stdout.is_empty(), "{out}");
    env.assert_store_clean();
}

#[test]
fn rm_removes_several_and_never_a_predefined_network() {
    let env = Skiff::new("network_rm");
    create(&env, &["r1"]);
    let id2 = create(&env, &["r2"]);
    create(&env, &["r3"]);
    let out = env.ok(&["network", "rm", "r1", &id2[..12]]);
    assert_eq!(out.stdout, format!("r1\n{}\n", &id2[..12]), "{out}");
    assert_eq!(listed(&env), ["bridge", "host", "none", "r3"]);
    for name in ["bridge", "host", "none"] {
        let out = env.fails(&["network", "rm", name]);
        out.assert_error_line();
        out.assert_stderr_has(&format!(
            "{name} is a pre-defined network and cannot be removed"
        ));
    }
    // One missing among several: the rest are removed, the error said.
    create(&env, &["r4"]);
    let out = env.fails(&["network", "rm", "r3", "gone", "r4"]);
    out.assert_error_line();
    out.assert_stderr_has("network gone not found");
    assert_eq!(out.stdout, "r3\nr4\n", "{out}");
    assert_eq!(listed(&env), ["bridge", "host", "none"]);
    // A removed name is free again, on the lowest free subnet.
    create(&env, &["r1"]);
    let _ = env.ok(&["network", "inspect", "r1"]);
    let problems = std::fs::read_dir(env.root.join("networks"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".json"))
        .collect::<Vec<_>>();
    assert!(problems.is_empty(), "only records left: {problems:?}");
    env.assert_store_clean();
}

#[test]
fn networks_with_endpoints_are_kept() {
    let env = Skiff::new("network_endpoints");
    let id = create(&env, &["--subnet", "10.45.0.0/24", "busy"]);
    create(&env, &["idle"]);
    let cid = "c".repeat(64);
    lease_on_disk(&env, "busy", &cid, "web", "10.45.0.2");
    let v = &inspect(&env, &["busy"])[0];
    let c = &v["Containers"][&cid];
    assert_eq!(c["Name"], "web", "{v:#}");
    assert_eq!(c["IPv4Address"], "10.45.0.2/24");
    assert_eq!(c["MacAddress"], "02:42:0a:2d:00:02");
    assert_eq!(c["IPv6Address"], "");
    assert!(is_hex(c["EndpointID"].as_str().unwrap(), 64), "{v:#}");

    let out = env.fails(&["network", "rm", "busy"]);
    out.assert_error_line();
    out.assert_stderr_has(&format!(
        "error while removing network: network busy id {id} has active endpoints"
    ));
    let out = env.ok(&["network", "prune", "-f"]);
    assert_eq!(out.stdout, "Deleted Networks:\nidle\n\n", "{out}");
    assert!(listed(&env).contains(&"busy".to_string()));
    env.assert_store_clean();

    // A lease whose container is gone (lost without cleanup) holds
    // nothing up.
    std::fs::remove_dir_all(env.root.join("containers").join(&cid)).unwrap();
    let out = env.ok(&["network", "rm", "busy"]);
    assert_eq!(out.stdout, "busy\n", "{out}");
    assert!(!env.root.join("networks/busy.leases").exists());
    env.assert_store_clean();
}

#[test]
fn prune_removes_unused_custom_networks() {
    let env = three("network_prune");
    let out = env.ok(&["network", "prune", "-f", "--filter", "label=env=prod"]);
    assert_eq!(out.stdout, "Deleted Networks:\nnet-alpha\n\n", "{out}");
    let out = env.ok(&["network", "prune", "-f", "--filter", "label!=tier"]);
    assert_eq!(out.stdout, "Deleted Networks:\nother-gamma\n\n", "{out}");
    // None older than an hour.
    let out = env.ok(&["network", "prune", "-f", "--filter", "until=1h"]);
    assert!(out.stdout.is_empty(), "{out}");
    let out = env.fails(&["network", "prune", "-f", "--filter", "dangling=true"]);
    out.assert_stderr_has("invalid filter 'dangling'");
    let out = env.fails(&["network", "prune", "-f", "--filter", "until=whenever"]);
    out.assert_error_line();
    // Asked, and told no.
    let out = env.run_stdin(&["network", "prune"], Some(b"n\n"));
    out.assert_ok();
    out.assert_stdout_has(
        "WARNING! This will remove all custom networks not used by at least one container.",
    );
    assert!(listed(&env).contains(&"net-beta".to_string()));
    let out = env.run_stdin(&["network", "prune"], Some(b"y\n"));
    out.assert_ok();
    out.assert_stdout_has("Deleted Networks:\nnet-beta\n");
    assert_eq!(listed(&env), ["bridge", "host", "none"]);
    let out = env.ok(&["network", "prune", "-f"]);
    assert!(out.stdout.is_empty(), "nothing to prune:\n{out}");
    env.assert_store_clean();
}
