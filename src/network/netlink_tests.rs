//! Against the real kernel, as root, each test in network namespaces of its
//! own so the host's links are never touched.

use super::*;
use nix::sched::unshare;
use std::fs::File;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsFd;

/// Run `f` on a thread of its own that has moved into a fresh network
/// namespace (allowed for one thread of many), so `Netlink::open()` there
/// sees only that namespace.
fn in_netns(f: impl FnOnce() + Send) {
    std::thread::scope(|s| {
        let t = s.spawn(|| {
            unshare(CloneFlags::CLONE_NEWNET).expect("unshare the network namespace");
            f()
        });
        if let Err(panic) = t.join() {
            std::panic::resume_unwind(panic);
        }
    })
}

/// Another fresh network namespace, kept alive by the descriptor alone:
/// the thread that made it ends right after opening it.
fn new_netns() -> OwnedFd {
    std::thread::spawn(|| {
        unshare(CloneFlags::CLONE_NEWNET).expect("unshare the network namespace");
        OwnedFd::from(File::open("/proc/thread-self/ns/net").expect("open the namespace"))
    })
    .join()
    .unwrap()
}

/// The link's flags and MTU, straight from its `RTM_NEWLINK` message.
fn flags_and_mtu(nl: &mut Netlink, index: u32) -> (u32, u32) {
    let body = nl.link(index).unwrap();
    let mtu = find_attr(&body, IFINFO_LEN, IFLA_MTU).and_then(|d| u32_at(d, 0));
    (u32_at(&body, 8).unwrap(), mtu.unwrap())
}

/// The gateways of the default routes in the main table.
fn default_gateways(nl: &mut Netlink) -> Vec<IpAddr> {
    let msg = Msg::dump(RTM_GETROUTE).rtmsg(libc::AF_UNSPEC as u8, 0, 0, 0, 0);
    nl.call(msg)
        .unwrap()
        .iter()
        .filter(|b| b[1] == 0 && b[4] == RT_TABLE_MAIN)
        .filter_map(|b| ip_from(find_attr(b, RT_LEN, RTA_GATEWAY)?))
        .collect()
}

#[test]
fn bridge_is_made_found_and_set_up() {
    in_netns(|| {
        let mut nl = Netlink::open().unwrap();
        let br = nl.add_bridge("sktest0").unwrap();
        assert_eq!(nl.link_index("sktest0").unwrap(), Some(br));
        assert_eq!(flags_and_mtu(&mut nl, br).0 & IFF_UP, 0);
        nl.set_up(br).unwrap();
        nl.set_mtu(br, 1400).unwrap();
        let (flags, mtu) = flags_and_mtu(&mut nl, br);
        assert_ne!(flags & IFF_UP, 0);
        assert_eq!(mtu, 1400);
        let names: Vec<String> = nl.links().unwrap().into_iter().map(|l| l.1).collect();
        assert!(names.contains(&"sktest0".to_string()), "{names:?}");
        assert!(names.contains(&"lo".to_string()), "{names:?}");
    });
}

#[test]
fn veth_peer_is_made_inside_another_namespace_as_eth0() {
    let peer_ns = new_netns();
    in_netns(|| {
        let mut nl = Netlink::open().unwrap();
        let br = nl.add_bridge("sktest0").unwrap();
        let host = nl
            .add_veth("skvtest1", "eth0", Some(peer_ns.as_fd()), None)
            .unwrap();
        assert_eq!(nl.link_index("skvtest1").unwrap(), Some(host));
        assert_eq!(nl.link_index("eth0").unwrap(), None);

        nl.set_master(host, br).unwrap();
        let links = nl.links().unwrap();
        assert!(
            links.contains(&(host, "skvtest1".to_string(), Some(br))),
            "{links:?}"
        );
        assert!(
            links.contains(&(br, "sktest0".to_string(), None)),
            "{links:?}"
        );

        let mut inside = Netlink::open_in(peer_ns.as_fd()).unwrap();
        let eth0 = inside
            .link_index("eth0")
            .unwrap()
            .expect("eth0 in the peer namespace");
        assert_eq!(inside.link_index("skvtest1").unwrap(), None);
        let mac = [0x02, 0x42, 0x0a, 0x58, 0x00, 0x02];
        inside.set_mac(eth0, mac).unwrap();
        assert_eq!(inside.mac(eth0).unwrap(), Some(mac));
        assert_eq!(nl.mac(host).unwrap().map(|m| m.len()), Some(6));
    });
}

#[test]
fn addresses_are_added_and_listed() {
    in_netns(|| {
        let mut nl = Netlink::open().unwrap();
        let br = nl.add_bridge("sktest0").unwrap();
        let v4 = IpAddr::V4(Ipv4Addr::new(10, 88, 0, 1));
        let v6 = IpAddr::V6("fd00:88::1".parse::<Ipv6Addr>().unwrap());
        nl.add_address(br, v4, 16).unwrap();
        nl.add_address(br, v6, 64).unwrap();
        let got = nl.addresses(br).unwrap();
        assert!(got.contains(&(v4, 16)), "{got:?}");
        assert!(got.contains(&(v6, 64)), "{got:?}");
        let lo = nl.link_index("lo").unwrap().unwrap();
        assert!(!nl.addresses(lo).unwrap().contains(&(v4, 16)));

        let e = nl.add_address(br, v4, 16).unwrap_err();
        assert!(is_exists(&e), "{e:#}");
        // Kernels with extended acks add their own words in parentheses.
        let msg = format!("{e:#}");
        assert!(
            msg.starts_with(&format!(
                "add address 10.88.0.1/16 to link {br}: file exists"
            )),
            "{msg}"
        );
    });
}

#[test]
fn default_route_is_added_inside_the_peer_namespace() {
    let peer_ns = new_netns();
    in_netns(|| {
        let mut nl = Netlink::open().unwrap();
        let br = nl.add_bridge("sktest0").unwrap();
        nl.add_address(br, IpAddr::V4(Ipv4Addr::new(10, 88, 0, 1)), 16)
            .unwrap();
        nl.set_up(br).unwrap();
        let host = nl
            .add_veth("skvtest1", "eth0", Some(peer_ns.as_fd()), None)
            .unwrap();
        nl.set_master(host, br).unwrap();
        nl.set_up(host).unwrap();

        let mut inside = Netlink::open_in(peer_ns.as_fd()).unwrap();
        let eth0 = inside.link_index("eth0").unwrap().unwrap();
        inside
            .add_address(eth0, IpAddr::V4(Ipv4Addr::new(10, 88, 0, 2)), 16)
            .unwrap();
        let v6 = "fd00:88::2".parse::<Ipv6Addr>().unwrap();
        inside.add_address(eth0, IpAddr::V6(v6), 64).unwrap();
        inside.set_up(eth0).unwrap();
        let gw4 = IpAddr::V4(Ipv4Addr::new(10, 88, 0, 1));
        let gw6 = IpAddr::V6("fd00:88::1".parse().unwrap());
        inside.add_default_route(gw4).unwrap();
        inside.add_default_route(gw6).unwrap();

        let routes = default_gateways(&mut inside);
        assert!(routes.contains(&gw4), "{routes:?}");
        assert!(routes.contains(&gw6), "{routes:?}");
        assert!(!default_gateways(&mut nl).contains(&gw4));
        let e = inside.add_default_route(gw4).unwrap_err();
        assert!(is_exists(&e), "{e:#}");
    });
}

#[test]
fn del_link_removes_both_veth_ends() {
    let peer_ns = new_netns();
    in_netns(|| {
        let mut nl = Netlink::open().unwrap();
        let host = nl
            .add_veth("skvtest1", "eth0", Some(peer_ns.as_fd()), None)
            .unwrap();
        let mut inside = Netlink::open_in(peer_ns.as_fd()).unwrap();
        assert!(inside.link_index("eth0").unwrap().is_some());
        nl.del_link(host).unwrap();
        assert_eq!(nl.link_index("skvtest1").unwrap(), None);
        assert_eq!(inside.link_index("eth0").unwrap(), None);

        // Both ends in one namespace: deleting the peer takes the other.
        let a = nl
            .add_veth("skvtest2", "skvtest3", None, Some(1400))
            .unwrap();
        let b = nl.link_index("skvtest3").unwrap().unwrap();
        assert_ne!(a, b);
        nl.del_link(b).unwrap();
        assert_eq!(nl.link_index("skvtest2").unwrap(), None);
    });
}

#[test]
fn missing_links_and_taken_names_are_errors() {
    let peer_ns = new_netns();
    in_netns(|| {
        let mut nl = Netlink::open().unwrap();
        assert_eq!(nl.link_index("nosuchlink").unwrap(), None);
        let e = nl.set_up(9999).unwrap_err();
        assert!(!is_exists(&e) && is_not_found(&e), "{e:#}");
        assert_eq!(format!("{e:#}"), "set link 9999 up: no such device");
        assert!(nl.del_link(9999).is_err());
        assert!(nl.mac(9999).is_err());

        nl.add_bridge("sktest0").unwrap();
        let e = nl.add_bridge("sktest0").unwrap_err();
        assert!(is_exists(&e), "{e:#}");
        assert_eq!(format!("{e:#}"), "add bridge sktest0: file exists");

        // The peer's name is taken inside its namespace, not here.
        let mut inside = Netlink::open_in(peer_ns.as_fd()).unwrap();
        inside.add_bridge("eth0").unwrap();
        let e = nl
            .add_veth("skvtest1", "eth0", Some(peer_ns.as_fd()), None)
            .unwrap_err();
        assert!(is_exists(&e), "{e:#}");
        assert!(
            format!("{e:#}").starts_with("add veth skvtest1 (peer eth0): file exists"),
            "{e:#}"
        );
        assert_eq!(nl.link_index("skvtest1").unwrap(), None);
    });
}
