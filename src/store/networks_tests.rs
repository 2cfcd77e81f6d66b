use super::*;
use crate::error::kind_of;

fn net(s: &str) -> Ipv4Net {
    Ipv4Net::parse(s).unwrap()
}

fn spec(name: &str) -> NetworkSpec {
    NetworkSpec {
        name: name.into(),
        ..Default::default()
    }
}

fn with_subnet(name: &str, subnet: &str) -> NetworkSpec {
    NetworkSpec {
        subnet: Some(subnet.into()),
        ..spec(name)
    }
}

fn store() -> (tempfile::TempDir, Store) {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(d.path()).unwrap();
    (d, s)
}

fn err_of<T: std::fmt::Debug>(r: Result<T>) -> (Option<ErrorKind>, String) {
    let e = r.unwrap_err();
    (kind_of(&e), format!("{e:#}"))
}

fn assert_clean(s: &Store) {
    let mut problems = Vec::new();
    s.check_networks(&mut problems).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn the_default_network_is_made_once_beside_host_and_none() {
    let (_d, s) = store();
    let routes = [net("10.87.0.0/16"), net("192.168.1.0/24")];
    let b = s.default_network_with_routes(&routes).unwrap();
    assert_eq!(b.name, "bridge");
    assert_eq!(b.driver, "bridge");
    assert_eq!(b.subnet, "10.86.0.0/16", "10.87/16 is routed");
    assert_eq!(b.gateway, "10.86.0.1");
    assert_eq!(b.bridge, s.default_bridge());
    assert!(b.bridge.starts_with("skiff-") && b.bridge.len() <= 15);
    assert_eq!(b.id.len(), 64);
    assert!(b.id.bytes().all(|c| c.is_ascii_hexdigit()));
    assert!(b.is_predefined());
    // Asked again, by either path, it is the same record.
    assert_eq!(s.default_network().unwrap(), b);
    assert_eq!(s.default_network_with_routes(&[]).unwrap(), b);
    let all = s.networks().unwrap();
    let names: Vec<&str> = all.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["bridge", "host", "none"]);
    let drivers: Vec<&str> = all.iter().map(|n| n.driver.as_str()).collect();
    assert_eq!(drivers, ["bridge", "host", "null"]);
    assert!(all[1].subnet.is_empty() && all[1].bridge.is_empty());
    assert_eq!(s.find_network("host").unwrap(), all[1]);
    assert_eq!(s.find_network(&b.id[..10]).unwrap(), b);
    assert_eq!(s.find_network(&b.id).unwrap(), b);
    for name in PREDEFINED_NETWORKS {
        let (kind, msg) = err_of(s.remove_network(name));
        assert_eq!(kind, Some(ErrorKind::InvalidState));
        assert_eq!(
            msg,
            format!("{name} is a pre-defined network and cannot be removed")
        );
        let (kind, msg) = err_of(s.create_network_with_routes(&spec(name), &[]));
        assert_eq!(kind, Some(ErrorKind::AlreadyExists));
        assert_eq!(msg, format!("network with name {name} already exists"));
    }
    assert_eq!(s.networks().unwrap().len(), 3);
    assert_clean(&s);
}

#[test]
fn finding_a_predefined_network_makes_them() {
    let (_d, s) = store();
    let none = s.find_network("none").unwrap();
    assert_eq!(none.driver, "null");
    assert!(s.read_network("bridge").unwrap().is_some());
    let (kind, msg) = err_of(s.find_network("nope"));
    assert_eq!(kind, Some(ErrorKind::NotFound));
    assert_eq!(msg, "network nope not found");
    let (kind, _) = err_of(s.find_network(""));
    assert_eq!(kind, Some(ErrorKind::NotFound));
}

#[test]
fn user_networks_take_the_first_free_24() {
    let (_d, s) = store();
    let routes = [net("10.89.0.0/24"), net("10.89.2.0/23")];
    let a = s.create_network_with_routes(&spec("a"), &routes).unwrap();
    assert_eq!(a.subnet, "10.89.1.0/24");
    assert_eq!(a.gateway, "10.89.1.1");
    assert_eq!(a.bridge, format!("skf-{}", &a.id[..8]));
    assert_eq!(a.driver, "bridge");
    assert!(!a.internal);
    let b = s.create_network_with_routes(&spec("b"), &routes).unwrap();
    assert_eq!(
        b.subnet, "10.89.4.0/24",
        "10.89.2/23 is routed, 10.89.1/24 taken"
    );
    assert_ne!(a.id, b.id);
    assert_ne!(a.bridge, b.bridge);
    // A subnet the user names may overlap a route, not another network.
    let c = s
        .create_network_with_routes(&with_subnet("c", "10.89.0.0/24"), &routes)
        .unwrap();
    assert_eq!(c.subnet, "10.89.0.0/24");
    for (name, subnet) in [
        ("d", "10.89.1.0/24"),
        ("e", "10.89.0.0/16"),
        ("f", "10.89.4.128/25"),
    ] {
        let (kind, msg) = err_of(s.create_network_with_routes(&with_subnet(name, subnet), &[]));
        assert_eq!(kind, Some(ErrorKind::InvalidArgument), "{subnet}");
        assert_eq!(msg, "Pool overlaps with other one on this address space");
    }
    let (kind, msg) = err_of(s.create_network_with_routes(&spec("a"), &[]));
    assert_eq!(kind, Some(ErrorKind::AlreadyExists));
    assert_eq!(msg, "network with name a already exists");
    // The default network stays clear of the user networks and back.
    let dflt = s
        .default_network_with_routes(&[net("10.87.0.0/16"), net("10.86.0.0/16")])
        .unwrap();
    assert_eq!(dflt.subnet, "10.85.0.0/16");
    let big = s
        .create_network_with_routes(&with_subnet("big", "172.20.0.0/16"), &[])
        .unwrap();
    assert_eq!(big.gateway, "172.20.0.1");
    let (_, msg) = err_of(s.create_network_with_routes(&with_subnet("g", "10.85.7.0/24"), &[]));
    assert!(msg.contains("Pool overlaps"), "{msg}");
    let names: Vec<String> = s.networks().unwrap().into_iter().map(|n| n.name).collect();
    assert_eq!(names, ["a", "b", "big", "bridge", "c", "host", "none"]);
    assert_clean(&s);
}

#[test]
fn a_full_user_pool_is_a_clear_error() {
    let (_d, s) = store();
    let (kind, msg) = err_of(s.create_network_with_routes(&spec("x"), &[net("10.89.0.0/16")]));
    assert_eq!(kind, Some(ErrorKind::InvalidState));
    assert!(msg.contains("non-overlapping IPv4 address pool"), "{msg}");
    let (_, msg) = err_of(s.default_network_with_routes(&[net("10.0.0.0/8")]));
    assert!(msg.contains("default network"), "{msg}");
}

#[test]
fn subnets_gateways_names_and_drivers_are_checked_before_anything_is_written() {
    let (_d, s) = store();
    let cases: Vec<(NetworkSpec, &str)> = vec![
        (
            with_subnet("n", "10.1.0.1/24"),
            "invalid network config: invalid subnet 10.1.0.1/24: it should be 10.1.0.0/24",
        ),
        (
            with_subnet("n", "10.1.0.0"),
            "invalid network config: invalid subnet 10.1.0.0: invalid CIDR block notation",
        ),
        (
            with_subnet("n", "bogus"),
            "invalid network config: invalid subnet bogus: invalid CIDR block notation",
        ),
        (
            with_subnet("n", "10.1.0.0/40"),
            "invalid network config: invalid subnet 10.1.0.0/40: invalid CIDR block notation",
        ),
        (
            with_subnet("n", "fd00::/64"),
            "invalid network config: invalid subnet fd00::/64: only IPv4 subnets are supported",
        ),
        (
            with_subnet("n", "10.1.0.0/31"),
            "invalid network config: invalid subnet 10.1.0.0/31: too small for a gateway and a container (at most /30)",
        ),
        (
            NetworkSpec {
                gateway: Some("10.2.0.1".into()),
                ..with_subnet("n", "10.1.0.0/24")
            },
            "invalid network config: invalid gateway 10.2.0.1: parent subnet 10.1.0.0/24 doesn't contain this address",
        ),
        (
            NetworkSpec {
                gateway: Some("10.1.0.255".into()),
                ..with_subnet("n", "10.1.0.0/24")
            },
            "invalid network config: invalid gateway 10.1.0.255: the network or broadcast address of 10.1.0.0/24",
        ),
        (
            NetworkSpec {
                gateway: Some("nope".into()),
                ..with_subnet("n", "10.1.0.0/24")
            },
            "invalid network config: invalid gateway nope: invalid address",
        ),
        (
            NetworkSpec {
                gateway: Some("10.1.0.1".into()),
                ..spec("n")
            },
            "every ip-range or gateway must have a corresponding subnet",
        ),
        (
            NetworkSpec {
                driver: "overlay".into(),
                ..spec("n")
            },
            "plugin \"overlay\" not found",
        ),
        (
            NetworkSpec {
                driver: "host".into(),
                ..spec("n")
            },
            "only one instance of \"host\" network is allowed",
        ),
        (
            NetworkSpec {
                options: [(BRIDGE_NAME_OPTION.to_string(), "much-too-long-name".to_string())].into(),
                ..spec("n")
            },
            "invalid bridge name \"much-too-long-name\": 1 to 15 characters of [a-zA-Z0-9_.-]",
        ),
        (
            NetworkSpec {
                options: [(BRIDGE_NAME_OPTION.to_string(), "skiff0".to_string())].into(),
                ..spec("n")
            },
            "bridge skiff0 is already used by network bridge",
        ),
    ];
    for (sp, want) in cases {
        let (kind, msg) = err_of(s.create_network_with_routes(&sp, &[]));
        assert_eq!(msg, want);
        assert!(
            matches!(
                kind,
                Some(ErrorKind::InvalidArgument | ErrorKind::NotFound | ErrorKind::AlreadyExists)
            ),
            "{want}: {kind:?}"
        );
    }
    for bad in ["", "-x", "a/b", "../up", "sp ace", &"x".repeat(201)] {
        let (kind, msg) = err_of(s.create_network_with_routes(&spec(bad), &[]));
        assert_eq!(kind, Some(ErrorKind::InvalidArgument), "{bad}");
        assert!(msg.starts_with("invalid network name"), "{msg}");
    }
    assert!(s.network_names().unwrap().is_empty(), "nothing written");
    // A gateway of the user's choosing, and a bridge name.
    let n = s
        .create_network_with_routes(
            &NetworkSpec {
                gateway: Some("10.1.0.254".into()),
                internal: true,
                labels: [("env".to_string(), "test".to_string())].into(),
                options: [(BRIDGE_NAME_OPTION.to_string(), "br-mine".to_string())].into(),
                ..with_subnet("mine", "10.1.0.0/24")
            },
            &[],
        )
        .unwrap();
    assert_eq!(
        (n.gateway.as_str(), n.bridge.as_str()),
        ("10.1.0.254", "br-mine")
    );
    assert!(n.internal);
    assert_eq!(n.labels["env"], "test");
    assert_eq!(s.find_network("mine").unwrap(), n);
    let (_, msg) = err_of(s.create_network_with_routes(
        &NetworkSpec {
            options: [(BRIDGE_NAME_OPTION.to_string(), "br-mine".to_string())].into(),
            ..spec("other")
        },
        &[],
    ));
    assert_eq!(msg, "bridge br-mine is already used by network mine");
}

#[test]
fn ids_prefixes_find_one_network_or_are_ambiguous() {
    let (_d, s) = store();
    // Seventeen ids: two share a first hex digit.
    let nets: Vec<NetworkRecord> = (0..17)
        .map(|i| {
            s.create_network_with_routes(&spec(&format!("n{i}")), &[])
                .unwrap()
        })
        .collect();
    let digit = (0..16)
        .map(|d| format!("{d:x}"))
        .find(|d| nets.iter().filter(|n| n.id.starts_with(d.as_str())).count() > 1)
        .unwrap();
    let (kind, msg) = err_of(s.find_network(&digit));
    assert_eq!(kind, Some(ErrorKind::InvalidArgument));
    assert!(msg.contains("ambiguous"), "{msg}");
    for n in &nets {
        assert_eq!(&s.find_network(&n.id[..12]).unwrap(), n);
    }
    let removed = s.remove_network(&nets[3].id[..12]).unwrap();
    assert_eq!(removed.name, "n3");
    let (kind, msg) = err_of(s.remove_network("n3"));
    assert_eq!(kind, Some(ErrorKind::NotFound));
    assert_eq!(msg, "network n3 not found");
    assert!(!s.networks_dir().join("n3.json").exists());
    assert_clean(&s);
}

fn small(s: &Store) -> NetworkRecord {
    // 10.9.0.0/29: .1 the gateway, .2 to .6 for containers, .7 broadcast.
    s.create_network_with_routes(&with_subnet("small", "10.9.0.0/29"), &[])
        .unwrap()
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

#[test]
fn leases_take_the_lowest_free_address_or_the_one_wanted() {
    let (_d, s) = store();
    small(&s);
    let alias = vec!["db".to_string()];
    assert_eq!(
        s.lease("small", "aaaa", "a", &[], None).unwrap(),
        ip("10.9.0.2")
    );
    assert_eq!(
        s.lease("small", "bbbb", "b", &alias, None).unwrap(),
        ip("10.9.0.3")
    );
    // The same container again: the same address.
    assert_eq!(
        s.lease("small", "aaaa", "a", &[], None).unwrap(),
        ip("10.9.0.2")
    );
    assert_eq!(
        s.lease("small", "cccc", "c", &[], Some(ip("10.9.0.5")))
            .unwrap(),
        ip("10.9.0.5")
    );
    for (want, msg) in [
        ("10.9.0.5", "Address already in use"),
        ("10.9.0.1", "Address already in use"),
        (
            "10.9.1.2",
            "invalid address 10.9.1.2: it does not belong to any of this network's subnets",
        ),
        (
            "10.9.0.7",
            "invalid address 10.9.0.7: the network or broadcast address of 10.9.0.0/29",
        ),
        (
            "10.9.0.0",
            "invalid address 10.9.0.0: the network or broadcast address of 10.9.0.0/29",
        ),
    ] {
        let (_, got) = err_of(s.lease("small", "dddd", "d", &[], Some(ip(want))));
        assert_eq!(got, msg, "{want}");
    }
    let (kind, _) = err_of(s.lease("small", "dddd", "d", &[], Some(ip("10.9.0.3"))));
    assert_eq!(kind, Some(ErrorKind::AlreadyExists));
    // A failed ask leaves nothing behind.
    assert_eq!(s.leases("small").unwrap().len(), 3);
    assert_eq!(s.release("small", "bbbb").unwrap(), Some(ip("10.9.0.3")));
    assert_eq!(s.release("small", "bbbb").unwrap(), None);
    assert_eq!(
        s.lease("small", "dddd", "d", &alias, None).unwrap(),
        ip("10.9.0.3")
    );
    assert_eq!(
        s.lease("small", "eeee", "e", &[], None).unwrap(),
        ip("10.9.0.4")
    );
    assert_eq!(
        s.lease("small", "ffff", "f", &[], None).unwrap(),
        ip("10.9.0.6")
    );
    let (kind, msg) = err_of(s.lease("small", "gggg", "g", &[], None));
    assert_eq!(kind, Some(ErrorKind::InvalidState));
    assert_eq!(
        msg,
        "no available IPv4 addresses on this network's address pools: small (10.9.0.0/29)"
    );
    // A holder moves to the address it wants, and its names follow it.
    s.release("small", "eeee").unwrap();
    assert_eq!(
        s.lease("small", "aaaa", "a2", &alias, Some(ip("10.9.0.4")))
            .unwrap(),
        ip("10.9.0.4")
    );
    let leases = s.leases("small").unwrap();
    let shown: Vec<(String, &str, &str)> = leases
        .iter()
        .map(|l| (l.ip.to_string(), l.container_id.as_str(), l.name.as_str()))
        .collect();
    assert_eq!(
        shown,
        [
            ("10.9.0.3".to_string(), "dddd", "d"),
            ("10.9.0.4".to_string(), "aaaa", "a2"),
            ("10.9.0.5".to_string(), "cccc", "c"),
            ("10.9.0.6".to_string(), "ffff", "f"),
        ]
    );
    assert_eq!(leases[1].aliases, alias);
    assert_eq!(leases[1].mac_address(), "02:42:0a:09:00:04");
    assert_eq!(leases[1].endpoint_id("x").len(), 64);
    assert_eq!(leases[1].endpoint_id("x"), leases[1].endpoint_id("x"));
    assert_clean(&s);
}

#[test]
fn leases_on_the_default_network_and_not_on_host() {
    let (_d, s) = store();
    let b = s.default_network_with_routes(&[]).unwrap();
    assert_eq!(b.subnet, "10.87.0.0/16");
    assert_eq!(
        s.lease("bridge", "aaaa", "a", &[], None).unwrap(),
        ip("10.87.0.2")
    );
    assert_eq!(
        s.lease(&b.id[..12], "bbbb", "b", &[], None).unwrap(),
        ip("10.87.0.3")
    );
    for net in ["host", "none"] {
        let (kind, msg) = err_of(s.lease(net, "aaaa", "a", &[], None));
        assert_eq!(kind, Some(ErrorKind::InvalidArgument));
        assert!(msg.contains("no IPv4 addresses"), "{msg}");
    }
    let (kind, msg) = err_of(s.lease("nope", "aaaa", "a", &[], None));
    assert_eq!(kind, Some(ErrorKind::NotFound));
    assert_eq!(msg, "network nope not found");
}

#[test]
fn release_all_frees_a_container_everywhere() {
    let (_d, s) = store();
    s.default_network_with_routes(&[]).unwrap();
    small(&s);
    s.create_network_with_routes(&spec("other"), &[]).unwrap();
    s.lease("bridge", "aaaa", "a", &[], None).unwrap();
    s.lease("small", "aaaa", "a", &[], None).unwrap();
    s.lease("small", "bbbb", "b", &[], None).unwrap();
    s.lease("other", "bbbb", "b", &[], None).unwrap();
    let mut held: Vec<String> = s
        .container_leases("aaaa")
        .unwrap()
        .into_iter()
        .map(|(n, l)| format!("{n} {}", l.ip))
        .collect();
    held.sort();
    assert_eq!(held, ["bridge 10.87.0.2", "small 10.9.0.2"]);
    let mut gone: Vec<String> = s
        .release_all("aaaa")
        .unwrap()
        .into_iter()
        .map(|(n, l)| format!("{n} {}", l.ip))
        .collect();
    gone.sort();
    assert_eq!(gone, held);
    assert!(s.container_leases("aaaa").unwrap().is_empty());
    assert!(s.release_all("aaaa").unwrap().is_empty());
    assert!(s.leases("bridge").unwrap().is_empty());
    assert!(
        !s.networks_dir().join("bridge.leases").exists(),
        "no empty files"
    );
    assert_eq!(s.leases("small").unwrap().len(), 1);
    assert_eq!(s.leases("other").unwrap().len(), 1);
    assert_clean(&s);
}

#[test]
fn a_network_with_endpoints_is_not_removed() {
    let (_d, s) = store();
    let n = small(&s);
    // One container that exists, one whose directory is gone (lost).
    fs::create_dir_all(s.container_dir("live")).unwrap();
    s.lease("small", "live", "l", &[], None).unwrap();
    s.lease("small", "lost", "x", &[], None).unwrap();
    let (kind, msg) = err_of(s.remove_network("small"));
    assert_eq!(kind, Some(ErrorKind::InvalidState));
    assert_eq!(
        msg,
        format!(
            "error while removing network: network small id {} has active endpoints",
            n.id
        )
    );
    let left: Vec<String> = s
        .leases("small")
        .unwrap()
        .into_iter()
        .map(|l| l.container_id)
        .collect();
    assert_eq!(left, ["live"], "the lost container's lease is dropped");
    s.release("small", "live").unwrap();
    assert_eq!(s.remove_network("small").unwrap().id, n.id);
    assert!(s.leases("small").is_err());
    assert!(!s.network_names().unwrap().contains(&"small".to_string()));
    assert_clean(&s);
}

#[test]
fn a_new_network_does_not_inherit_stale_leases() {
    let (_d, s) = store();
    small(&s);
    s.lease("small", "aaaa", "a", &[], None).unwrap();
    // What a crash between removing the record and its leases leaves.
    fs::remove_file(s.networks_dir().join("small.json")).unwrap();
    let mut problems = Vec::new();
    s.check_networks(&mut problems).unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("leases without a network"));
    small(&s);
    assert!(s.leases("small").unwrap().is_empty());
    // An empty leases file (a power cut) reads as none.
    fs::write(s.networks_dir().join("small.leases"), b"").unwrap();
    assert!(s.leases("small").unwrap().is_empty());
    assert_eq!(
        s.lease("small", "bbbb", "b", &[], None).unwrap(),
        ip("10.9.0.2")
    );
    assert_clean(&s);
}

#[test]
fn check_reports_what_does_not_add_up() {
    let (_d, s) = store();
    small(&s);
    s.lease("small", "aaaa", "a", &[], None).unwrap();
    let dir = s.networks_dir();
    let bad = r#"[{"ip":"10.9.0.2","container_id":"aaaa","name":"a"},
                  {"ip":"10.9.0.2","container_id":"bbbb","name":"b"},
                  {"ip":"10.9.9.9","container_id":"cccc","name":"c"},
                  {"ip":"10.9.0.1","container_id":"cccc","name":"c"}]"#;
    fs::write(dir.join("small.leases"), bad).unwrap();
    fs::write(dir.join(".tmp-999999-1-small.json"), b"{").unwrap();
    fs::write(dir.join("junk"), b"").unwrap();
    let mut rec: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("small.json")).unwrap()).unwrap();
    rec["name"] = "copy".into();
    rec["subnet"] = "10.9.0.0/24".into();
    fs::write(dir.join("copy.json"), rec.to_string()).unwrap();
    let mut problems = Vec::new();
    s.check_networks(&mut problems).unwrap();
    let text = problems.join("\n");
    for want in [
        "10.9.0.2 leased twice",
        "lease 10.9.9.9 of container cccc is not an address",
        "lease 10.9.0.1 of container cccc is not an address",
        "container cccc holds two leases",
        "stray temp file",
        "stray file",
        "subnets 10.9.0.0/24 and 10.9.0.0/29 overlap",
    ] {
        assert!(text.contains(want), "{want}:\n{text}");
    }
    // The next open sweeps the dead writer's temp file.
    Store::open(s.root()).unwrap();
    assert!(!dir.join(".tmp-999999-1-small.json").exists());
}

#[test]
fn leases_taken_at_once_are_distinct() {
    let (_d, s) = store();
    s.create_network_with_routes(&with_subnet("busy", "10.50.0.0/24"), &[])
        .unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let s = Store::open(s.root()).unwrap();
            std::thread::spawn(move || {
                (0..6)
                    .map(|i| {
                        let id = format!("c{t}-{i}");
                        s.lease("busy", &id, &id, &[], None).unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all: Vec<Ipv4Addr> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort();
    let want: Vec<Ipv4Addr> = (2..50).map(|d| Ipv4Addr::new(10, 50, 0, d)).collect();
    assert_eq!(all, want, "48 distinct addresses, the lowest ones");
    assert_eq!(s.leases("busy").unwrap().len(), 48);
    assert_clean(&s);
}

#[test]
fn networks_made_at_once_get_distinct_subnets() {
    let (_d, s) = store();
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let s = Store::open(s.root()).unwrap();
            std::thread::spawn(move || {
                s.create_network_with_routes(&spec(&format!("p{t}")), &[])
                    .unwrap()
                    .subnet
            })
        })
        .collect();
    let mut subnets: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    subnets.sort();
    subnets.dedup();
    assert_eq!(subnets.len(), 6, "{subnets:?}");
    assert_clean(&s);
}

#[test]
fn an_ip_range_and_aux_addresses_narrow_what_is_given() {
    let (_d, s) = store();
    let aux = BTreeMap::from([("router".to_string(), "10.9.0.8".to_string())]);
    s.create_network_with_routes(
        &NetworkSpec {
            ip_range: Some("10.9.0.8/30".into()),
            aux_addresses: aux,
            ..with_subnet("ranged", "10.9.0.0/28")
        },
        &[],
    )
    .unwrap();
    // 10.9.0.8 is the range's first, but an aux address; .11 ends it.
    let got: Vec<Ipv4Addr> = ["a", "b", "c"]
        .iter()
        .map(|c| s.lease("ranged", c, c, &[], None).unwrap())
        .collect();
    assert_eq!(got, [ip("10.9.0.9"), ip("10.9.0.10"), ip("10.9.0.11")]);
    let (kind, msg) = err_of(s.lease("ranged", "d", "d", &[], None));
    assert_eq!(kind, Some(ErrorKind::InvalidState), "{msg}");
    // A fixed address may lie outside the range, but not on an aux one.
    assert_eq!(
        s.lease("ranged", "e", "e", &[], Some(ip("10.9.0.3")))
            .unwrap(),
        ip("10.9.0.3")
    );
    let (_, msg) = err_of(s.lease("ranged", "f", "f", &[], Some(ip("10.9.0.8"))));
    assert!(msg.contains("Address already in use"), "{msg}");
    assert_clean(&s);
}

#[test]
fn ip_range_aux_address_and_ipam_driver_are_checked() {
    let (_d, s) = store();
    let mk = |sp: NetworkSpec| err_of(s.create_network_with_routes(&sp, &[]));
    let aux = |a: &str| BTreeMap::from([("x".to_string(), a.to_string())]);
    for (sp, want) in [
        (
            NetworkSpec {
                ip_range: Some("10.9.1.0/24".into()),
                ..with_subnet("n1", "10.9.0.0/24")
            },
            "no matching subnet for range 10.9.1.0/24",
        ),
        (
            NetworkSpec {
                ip_range: Some("10.9.0.0/23".into()),
                ..with_subnet("n2", "10.9.0.0/24")
            },
            "no matching subnet for range 10.9.0.0/23",
        ),
        (
            NetworkSpec {
                ip_range: Some("10.9.0.5/30".into()),
                ..with_subnet("n3", "10.9.0.0/24")
            },
            "invalid ip-range 10.9.0.5/30: it should be 10.9.0.4/30",
        ),
        (
            NetworkSpec {
                ip_range: Some("10.9.0.0/25".into()),
                ..spec("n4")
            },
            "must have a corresponding subnet",
        ),
        (
            NetworkSpec {
                aux_addresses: aux("10.8.0.1"),
                ..with_subnet("n5", "10.9.0.0/24")
            },
            "no matching subnet for aux-address x=10.8.0.1",
        ),
        (
            NetworkSpec {
                aux_addresses: aux("nonsense"),
                ..with_subnet("n6", "10.9.0.0/24")
            },
            "no matching subnet for aux-address x=nonsense",
        ),
        (
            NetworkSpec {
                ipam_driver: "dhcp".into(),
                ..spec("n7")
            },
            "plugin \"dhcp\" not found",
        ),
    ] {
        let (_, msg) = mk(sp);
        assert!(msg.contains(want), "{msg} lacks {want}");
    }
    assert!(s.stored_networks().unwrap().is_empty());
}
