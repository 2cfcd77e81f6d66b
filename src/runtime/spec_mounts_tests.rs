use crate::runtime::opts::RunFlags;
use crate::runtime::spec::fixture::*;
use oci_spec::runtime::LinuxNamespaceType;
use std::path::Path;

#[test]
fn user_mounts_come_after_defaults_parents_first() {
    let mut f = Fixture::new(RunFlags {
        volume: vec![
            "/host/cache:/data/cache:ro".into(),
            "vol:/data".into(),
            "/host/shared:/mnt:rshared".into(),
        ],
        mount: vec!["type=bind,src=/h/x,dst=/x,bind-nonrecursive".into()],
        tmpfs: vec!["/dev/shm:size=1g".into(), "/run:exec".into()],
        ..Default::default()
    });
    let s = f.spec();
    assert_eq!(
        dests(&s),
        [
            "/proc",
            "/dev",
            "/dev/pts",
            "/sys",
            "/sys/fs/cgroup",
            "/dev/mqueue", // /dev/shm replaced
            "/data",
            "/mnt",
            "/x",
            "/run", // depth 1, in flag order
            "/data/cache",
            "/dev/shm",
            "/etc/resolv.conf",
            "/etc/hostname",
            "/etc/hosts",
        ]
    );
    let data = mount_of(&s, "/data");
    assert_eq!(data.typ().as_deref(), Some("bind"));
    assert_eq!(
        data.source().as_deref(),
        Some(Path::new("/var/lib/skiff/volumes/vol/_data"))
    );
    assert_eq!(options(&s, "/data"), ["rbind", "rprivate"]);
    assert_eq!(options(&s, "/data/cache"), ["rbind", "ro", "rprivate"]);
    assert_eq!(options(&s, "/x"), ["bind", "rprivate"]);
    assert_eq!(options(&s, "/mnt"), ["rbind", "rshared"]);
    assert_eq!(mount_of(&s, "/dev/shm").typ().as_deref(), Some("tmpfs"));
    assert!(options(&s, "/dev/shm").contains(&"size=1g".to_string()));
    assert!(options(&s, "/run").contains(&"exec".to_string()));
    assert_eq!(linux(&s).rootfs_propagation().as_deref(), Some("rshared"));

    // A user mount over /etc/hosts replaces skiff's.
    let f2 = Fixture::new(RunFlags {
        volume: vec!["/my/hosts:/etc/hosts:ro".into()],
        ..Default::default()
    });
    let s = f2.spec();
    assert_eq!(dests(&s).iter().filter(|d| *d == "/etc/hosts").count(), 1);
    assert_eq!(
        mount_of(&s, "/etc/hosts").source().as_deref(),
        Some(Path::new("/my/hosts"))
    );

    // A volume the caller did not resolve is a bug worth a clear error.
    f.mounts[1].host_path = None;
    assert!(
        format!("{:#}", f.build().unwrap_err()).contains("volume mount on /data has no host path")
    );
}

#[test]
fn rootless_shape() {
    let mut f = Fixture::new(RunFlags::default());
    f.rootless = true;
    let s = f.spec();
    let kinds = ns_kinds(&s);
    // skiff's own rootless user namespace is shared, not made again.
    assert!(!kinds.contains(&LinuxNamespaceType::User));
    assert!(kinds.contains(&LinuxNamespaceType::Network));
    let l = linux(&s);
    assert!(l.uid_mappings().is_none());
    assert!(l.gid_mappings().is_none());
    assert!(l.devices().is_none());
    assert!(l.resources().is_none());
    assert!(!options(&s, "/dev/pts").contains(&"gid=5".to_string()));
    assert_eq!(mount_of(&s, "/sys").typ().as_deref(), Some("sysfs"));
    assert_eq!(
        mount_of(&s, "/sys/fs/cgroup").typ().as_deref(),
        Some("bind")
    );
    let null = mount_of(&s, "/dev/null");
    assert_eq!(null.typ().as_deref(), Some("bind"));
    assert_eq!(null.source().as_deref(), Some(Path::new("/dev/null")));
    for d in [
        "/dev/zero",
        "/dev/full",
        "/dev/random",
        "/dev/urandom",
        "/dev/tty",
    ] {
        mount_of(&s, d);
    }
    // Device binds come after /dev is mounted.
    let ds = dests(&s);
    let pos = |d: &str| ds.iter().position(|x| x == d).unwrap();
    assert!(pos("/dev") < pos("/dev/null"));

    // Without a network namespace of its own sysfs cannot be mounted.
    let mut f = Fixture::new(RunFlags {
        network: vec!["host".into()],
        ..Default::default()
    });
    f.rootless = true;
    let s = f.spec();
    assert!(!ns_kinds(&s).contains(&LinuxNamespaceType::Network));
    let sys = mount_of(&s, "/sys");
    assert_eq!(sys.typ().as_deref(), Some("bind"));
    assert_eq!(sys.source().as_deref(), Some(Path::new("/sys")));
    assert!(options(&s, "/sys").contains(&"ro".to_string()));
    assert!(!dests(&s).contains(&"/sys/fs/cgroup".to_string()));
}
