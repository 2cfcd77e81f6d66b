use super::*;
use crate::error::kind_of;
use crate::runtime::defaults::char_device;
use crate::runtime::defaults::{cap_mask, DEFAULT_CAPS};
use crate::runtime::opts::RunFlags;
use crate::runtime::spec::fixture::*;
use oci_spec::runtime::{LinuxSeccompAction, PosixRlimitType};

#[test]
fn plain_run_has_dockers_defaults() {
    let s = Fixture::new(RunFlags::default()).spec();
    let p = proc_of(&s);
    assert_eq!(p.args().as_ref().unwrap(), &vec!["sh".to_string()]);
    assert_eq!(
        p.env().as_ref().unwrap(),
        &vec![
            "PATH=/usr/bin:/bin",
            "HOSTNAME=abcdef012345",
            "LANG=C",
            "HOME=/root"
        ]
    );
    assert_eq!(p.cwd(), Path::new("/"));
    assert_eq!(p.terminal(), Some(false));
    assert_eq!(p.no_new_privileges(), Some(false));
    assert_eq!((p.user().uid(), p.user().gid()), (0, 0));
    assert_eq!(p.user().additional_gids().as_ref().unwrap(), &vec![10]);
    assert!(p.rlimits().as_ref().unwrap().is_empty());

    // Docker's 14 in bounding, effective and permitted; nothing inheritable.
    let c = caps(&s);
    let default_mask = cap_mask(&DEFAULT_CAPS);
    assert_eq!(mask(c.bounding()), default_mask);
    assert_eq!(mask(c.effective()), default_mask);
    assert_eq!(mask(c.permitted()), default_mask);
    assert_eq!(mask(c.inheritable()), 0);
    assert_eq!(mask(c.ambient()), 0);

    assert_eq!(s.hostname().as_deref(), Some("abcdef012345"));
    let root = s.root().as_ref().unwrap();
    assert_eq!(
        root.path(),
        Path::new("/var/lib/skiff/containers/abc/rootfs")
    );
    assert_eq!(root.readonly(), Some(false));

    let l = linux(&s);
    assert_eq!(
        ns_kinds(&s),
        vec![
            LinuxNamespaceType::Pid,
            LinuxNamespaceType::Network,
            LinuxNamespaceType::Ipc,
            LinuxNamespaceType::Uts,
            LinuxNamespaceType::Mount,
            LinuxNamespaceType::Cgroup,
        ]
    );
    assert!(l.uid_mappings().is_none());
    assert_eq!(l.masked_paths().as_ref().unwrap().len(), 11);
    assert!(l
        .masked_paths()
        .as_ref()
        .unwrap()
        .contains(&"/proc/kcore".to_string()));
    assert!(l
        .readonly_paths()
        .as_ref()
        .unwrap()
        .contains(&"/proc/sys".to_string()));
    let seccomp = l.seccomp().as_ref().unwrap();
    assert_eq!(seccomp.default_action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(seccomp.default_errno_ret(), Some(1));
    assert_eq!(l.devices().as_ref().unwrap().len(), 6);
    let rules = l.resources().as_ref().unwrap().devices().as_ref().unwrap();
    assert!(!rules[0].allow());
    assert!(l.sysctl().is_none());
    assert!(l.rootfs_propagation().is_none());

    assert_eq!(
        dests(&s),
        [
            "/proc",
            "/dev",
            "/dev/pts",
            "/sys",
            "/sys/fs/cgroup",
            "/dev/mqueue",
            "/dev/shm",
            "/etc/resolv.conf",
            "/etc/hostname",
            "/etc/hosts",
        ]
    );
    assert_eq!(options(&s, "/etc/hosts"), ["rbind", "rprivate"]);
    assert_eq!(
        mount_of(&s, "/etc/hosts").source().as_deref(),
        Some(Path::new("/var/lib/skiff/containers/abc/hosts"))
    );
    assert!(options(&s, "/sys").contains(&"ro".to_string()));
    assert!(options(&s, "/dev/shm").contains(&"size=67108864".to_string()));
    assert_eq!(s.annotations().as_ref().unwrap()["maintainer"], "img");
}

#[test]
fn args_follow_entrypoint_rules() {
    let mut f = Fixture::new(RunFlags::default());
    f.image.entrypoint = Some(vec!["/entry".into(), "-x".into()]);
    f.image.cmd = Some(vec!["serve".into()]);
    let args = |f: &Fixture| proc_of(&f.spec()).args().clone().unwrap();
    assert_eq!(args(&f), ["/entry", "-x", "serve"]);

    f.opts.command = vec!["echo".into(), "hi".into()];
    assert_eq!(args(&f), ["/entry", "-x", "echo", "hi"]);

    // --entrypoint replaces the image's and drops its Cmd...
    f.opts.command.clear();
    f.opts.entrypoint = Some(vec!["/bin/other".into()]);
    assert_eq!(args(&f), ["/bin/other"]);
    // ...but keeps a command given on the line.
    f.opts.command = vec!["a".into()];
    assert_eq!(args(&f), ["/bin/other", "a"]);
    // --entrypoint "" with a command runs just the command.
    f.opts.entrypoint = Some(vec![]);
    assert_eq!(args(&f), ["a"]);

    // --entrypoint "" and no command: nothing to run.
    f.opts.command.clear();
    let e = f.build().unwrap_err();
    assert_eq!(kind_of(&e), Some(ErrorKind::InvalidArgument));
    assert_eq!(
        format!("{e:#}"),
        "build the runtime spec of container abcdef0123456789: no command specified"
    );
    f.opts.entrypoint = None;
    f.image.entrypoint = None;
    f.image.cmd = None;
    assert!(f.build().is_err());
}

#[test]
fn the_container_config_is_the_images_with_the_flags_applied() {
    let mut f = Fixture::new(RunFlags {
        command: vec!["echo".into(), "hi".into()],
        env: vec!["LANG=en_US.UTF-8".into(), "NEW=1".into()],
        workdir: Some("/srv//app/".into()),
        user: Some("app".into()),
        volume: vec!["/data".into(), "named:/named".into()],
        label: vec!["own=yes".into()],
        stop_signal: Some("int".into()),
        ..Default::default()
    });
    f.image.entrypoint = Some(vec!["/entry".into()]);
    f.image
        .extra
        .insert("OnBuild".into(), serde_json::json!(["RUN true"]));
    let c = container_config(&f.image, &f.opts);
    assert_eq!(c.entrypoint, Some(vec!["/entry".to_string()]));
    assert_eq!(c.cmd, Some(vec!["echo".to_string(), "hi".to_string()]));
    assert_eq!(
        c.env,
        Some(vec![
            "PATH=/usr/bin:/bin".to_string(),
            "LANG=en_US.UTF-8".to_string(),
            "NEW=1".to_string()
        ])
    );
    assert_eq!(c.working_dir.as_deref(), Some("/srv/app"));
    assert_eq!(c.user.as_deref(), Some("app"));
    let volumes: Vec<&String> = c.volumes.as_ref().unwrap().keys().collect();
    assert_eq!(volumes, ["/data"]);
    let labels = c.labels.unwrap();
    assert_eq!(
        (labels["maintainer"].as_str(), labels["own"].as_str()),
        ("img", "yes")
    );
    assert_eq!(c.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(c.extra["OnBuild"], serde_json::json!(["RUN true"]));

    // --entrypoint drops the image's Cmd; no flags leave the image's own.
    f.opts.command.clear();
    f.opts.entrypoint = Some(vec!["/bin/other".into()]);
    let c = container_config(&f.image, &f.opts);
    assert_eq!(
        (c.entrypoint, c.cmd),
        (Some(vec!["/bin/other".into()]), None)
    );
    let f = Fixture::new(RunFlags::default());
    assert_eq!(container_config(&f.image, &f.opts), f.image);
}

#[test]
fn env_merges_like_docker() {
    let mut f = Fixture::new(RunFlags {
        env: vec![
            "LANG=en_US.UTF-8".into(),
            "NEW=1".into(),
            "PATH=/opt/bin".into(),
        ],
        tty: true,
        ..Default::default()
    });
    f.image.env = Some(vec!["LANG=C".into(), "HOME=/srv".into(), "DROP=me".into()]);
    f.opts.env.push(EnvVar::Unset("DROP".into()));
    let s = f.spec();
    assert_eq!(
        proc_of(&s).env().as_ref().unwrap(),
        &vec![
            "PATH=/opt/bin",
            "HOSTNAME=abcdef012345",
            "TERM=xterm",
            "LANG=en_US.UTF-8",
            "HOME=/srv",
            "NEW=1",
        ]
    );
    assert_eq!(proc_of(&s).terminal(), Some(true));

    // No PATH anywhere: Docker's default.
    let mut f = Fixture::new(RunFlags::default());
    f.image.env = None;
    let env = proc_of(&f.spec()).env().clone().unwrap();
    assert_eq!(env[0], format!("PATH={DEFAULT_PATH}"));
    assert!(env.contains(&"HOME=/root".to_string()));
}

#[test]
fn non_root_user_gets_bounding_caps_only() {
    let f = Fixture::new(RunFlags {
        user: Some("app".into()),
        workdir: Some("/srv//app/".into()),
        ..Default::default()
    });
    let s = f.spec();
    let p = proc_of(&s);
    assert_eq!((p.user().uid(), p.user().gid()), (1000, 1000));
    assert!(p.user().additional_gids().is_none());
    assert_eq!(p.cwd(), Path::new("/srv/app"));
    assert!(p
        .env()
        .as_ref()
        .unwrap()
        .contains(&"HOME=/home/app".to_string()));
    let c = caps(&s);
    assert_eq!(mask(c.bounding()), cap_mask(&DEFAULT_CAPS));
    assert_eq!(mask(c.effective()), 0);
    assert_eq!(mask(c.permitted()), 0);

    let mut f = Fixture::new(RunFlags::default());
    f.image.working_dir = Some("/work".into());
    assert_eq!(proc_of(&f.spec()).cwd(), Path::new("/work"));
}

#[test]
fn privileged_lifts_the_confinement() {
    let f = Fixture::new(RunFlags {
        privileged: true,
        cap_drop: vec!["ALL".into()],
        ..Default::default()
    });
    let s = f.spec();
    let c = caps(&s);
    assert_eq!(c.bounding().as_ref().unwrap().len(), 41);
    assert_eq!(c.effective().as_ref().unwrap().len(), 41);
    let l = linux(&s);
    assert!(l.masked_paths().is_none());
    assert!(l.readonly_paths().is_none());
    assert!(l.seccomp().is_none());
    assert!(!options(&s, "/sys").contains(&"ro".to_string()));
    assert!(!options(&s, "/sys/fs/cgroup").contains(&"ro".to_string()));
    let rules = l.resources().as_ref().unwrap().devices().as_ref().unwrap();
    assert_eq!(rules.len(), 1);
    assert!(rules[0].allow());
}

#[test]
fn cap_changes_and_seccomp_follow_the_final_set() {
    let f = Fixture::new(RunFlags {
        cap_add: vec!["SYS_ADMIN".into()],
        cap_drop: vec!["chown".into()],
        ..Default::default()
    });
    let s = f.spec();
    let b = caps(&s).bounding().clone().unwrap();
    assert!(b.contains(&Capability::SysAdmin));
    assert!(!b.contains(&Capability::Chown));
    let sc = linux(&s).seccomp().clone().unwrap();
    let allowed: Vec<String> = sc
        .syscalls()
        .as_ref()
        .unwrap()
        .iter()
        .filter(|r| r.args().is_none())
        .flat_map(|r| r.names().clone())
        .collect();
    assert!(allowed.contains(&"mount".to_string()));
    assert!(allowed.contains(&"unshare".to_string()));
}

#[test]
fn seccomp_choices() {
    let f = Fixture::new(RunFlags {
        security_opt: vec!["seccomp=unconfined".into(), "no-new-privileges".into()],
        ..Default::default()
    });
    let s = f.spec();
    assert!(linux(&s).seccomp().is_none());
    assert_eq!(proc_of(&s).no_new_privileges(), Some(true));

    let mut f = Fixture::new(RunFlags {
        security_opt: vec!["seccomp=/etc/p.json".into()],
        ..Default::default()
    });
    let e = f.build().unwrap_err();
    assert!(format!("{e:#}").contains("seccomp profile /etc/p.json was not loaded"));
    f.profile = Some(
        Profile::parse(
            br#"{"defaultAction":"SCMP_ACT_LOG","architectures":["SCMP_ARCH_X86_64"],
                "syscalls":[{"names":["kill"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#,
        )
        .unwrap(),
    );
    let s = f.spec();
    let sc = linux(&s).seccomp().as_ref().unwrap();
    assert_eq!(sc.default_action(), LinuxSeccompAction::ScmpActLog);
    assert_eq!(sc.syscalls().as_ref().unwrap().len(), 1);

    let f = Fixture::new(RunFlags {
        security_opt: vec!["systempaths=unconfined".into()],
        ..Default::default()
    });
    let s = f.spec();
    assert!(linux(&s).masked_paths().is_none());
    assert!(linux(&s).seccomp().is_some());
}

#[test]
fn read_only_root() {
    let s = Fixture::new(RunFlags {
        read_only: true,
        ..Default::default()
    })
    .spec();
    assert_eq!(s.root().as_ref().unwrap().readonly(), Some(true));
    assert_eq!(options(&s, "/etc/resolv.conf"), ["rbind", "ro", "rprivate"]);
}

#[test]
fn limits_sysctls_devices_and_labels() {
    let mut f = Fixture::new(RunFlags {
        ulimit: vec!["nofile=1024:2048".into()],
        sysctl: vec!["net.ipv4.ping_group_range=0 0".into()],
        shm_size: Some("16m".into()),
        label: vec!["maintainer=me".into(), "tier=web".into()],
        init: true,
        ..Default::default()
    });
    let mut fuse = char_device("/dev/fuse", 10, 229);
    fuse.set_file_mode(Some(0o666));
    f.devices.push(ResolvedDevice {
        device: fuse,
        host_path: "/dev/fuse".into(),
        permissions: "rw".into(),
    });
    let s = f.spec();
    let r = &proc_of(&s).rlimits().as_ref().unwrap()[0];
    assert_eq!(
        (r.typ(), r.soft(), r.hard()),
        (PosixRlimitType::RlimitNofile, 1024, 2048)
    );
    assert_eq!(
        linux(&s).sysctl().as_ref().unwrap()["net.ipv4.ping_group_range"],
        "0 0"
    );
    assert!(options(&s, "/dev/shm").contains(&"size=16777216".to_string()));
    let devs = linux(&s).devices().as_ref().unwrap();
    assert_eq!(devs.len(), 7);
    assert_eq!(devs[6].path(), Path::new("/dev/fuse"));
    let rule = linux(&s)
        .resources()
        .as_ref()
        .unwrap()
        .devices()
        .as_ref()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (rule.major(), rule.minor(), rule.access().as_deref()),
        (Some(10), Some(229), Some("rw"))
    );
    let a = s.annotations().as_ref().unwrap();
    assert_eq!(a["maintainer"], "me");
    assert_eq!(a["tier"], "web");
    assert_eq!(a[ANNOTATION_INIT], "true");
}

#[test]
fn host_network_shares_the_host_namespace() {
    let f = Fixture::new(RunFlags {
        network: vec!["host".into()],
        ..Default::default()
    });
    let s = f.spec();
    assert!(!ns_kinds(&s).contains(&LinuxNamespaceType::Network));
    assert_eq!(
        container_hostname(&f.opts, "abcdef0123456789", "myhost"),
        "myhost"
    );
    let f = Fixture::new(RunFlags::default());
    assert_eq!(
        container_hostname(&f.opts, "abcdef0123456789", "myhost"),
        "abcdef012345"
    );
    let f = Fixture::new(RunFlags {
        hostname: Some("box".into()),
        network: vec!["host".into()],
        ..Default::default()
    });
    assert_eq!(
        container_hostname(&f.opts, "abcdef0123456789", "myhost"),
        "box"
    );
}

#[test]
fn config_json_round_trips_with_runc_field_names() {
    let mut f = Fixture::new(RunFlags {
        ulimit: vec!["nofile=10:20".into()],
        user: Some("1000:1000".into()),
        ..Default::default()
    });
    f.rootless = true;
    let s = f.spec();
    let json = serde_json::to_string_pretty(&s).unwrap();
    let back: Spec = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s);

    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(v["ociVersion"].as_str().unwrap().starts_with("1."));
    assert_eq!(v["root"]["path"], "/var/lib/skiff/containers/abc/rootfs");
    assert_eq!(v["process"]["user"]["uid"], 1000);
    assert_eq!(v["process"]["noNewPrivileges"], false);
    assert_eq!(v["process"]["rlimits"][0]["type"], "RLIMIT_NOFILE");
    assert_eq!(v["process"]["rlimits"][0]["soft"], 10);
    assert!(v["process"]["capabilities"]["bounding"]
        .as_array()
        .unwrap()
        .contains(&"CAP_CHOWN".into()));
    assert_eq!(v["linux"]["namespaces"][0]["type"], "pid");
    assert!(v["linux"]["maskedPaths"].is_array());
    assert!(v["linux"]["readonlyPaths"].is_array());
    assert_eq!(v["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(v["linux"]["seccomp"]["defaultErrnoRet"], 1);
    assert_eq!(
        v["linux"]["seccomp"]["architectures"][0],
        "SCMP_ARCH_X86_64"
    );
    assert!(v["linux"]["seccomp"]["syscalls"][0]["names"].is_array());
    assert_eq!(v["mounts"][0]["type"], "proc");

    let f = Fixture::new(RunFlags::default());
    let v = serde_json::to_value(f.spec()).unwrap();
    let kinds: Vec<&str> = v["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["pid", "network", "ipc", "uts", "mount", "cgroup"]);
    assert_eq!(v["linux"]["devices"][0]["type"], "c");
    assert_eq!(v["linux"]["devices"][0]["fileMode"], 0o666);
    assert_eq!(v["linux"]["resources"]["devices"][0]["allow"], false);
    let clone = v["linux"]["seccomp"]["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["names"] == serde_json::json!(["clone"]))
        .unwrap();
    assert_eq!(clone["args"][0]["op"], "SCMP_CMP_MASKED_EQ");

    // And through a file, as the runtime will read it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    f.spec().save(&path).unwrap();
    assert_eq!(Spec::load(&path).unwrap(), f.spec());
}

#[test]
fn rootless_cgroups_go_under_the_delegated_subtree_or_nowhere() {
    let flags = || RunFlags {
        resources: crate::runtime::opts::resources::ResourceFlags {
            memory: Some("64m".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let f = Fixture::new(flags());
    let s = f.spec();
    let l = s.linux().as_ref().unwrap();
    assert_eq!(
        l.cgroups_path().as_deref(),
        Some(Path::new("/skiff/abcdef0123456789"))
    );
    assert!(l.resources().is_some());

    let mut f = Fixture::new(flags());
    f.rootless = true;
    let s = f.spec();
    let l = s.linux().as_ref().unwrap();
    assert_eq!(l.cgroups_path(), &None);
    assert_eq!(l.resources(), &None);

    f.delegated = Some(PathBuf::from(
        "/user.slice/user-1000.slice/user@1000.service",
    ));
    let s = f.spec();
    let l = s.linux().as_ref().unwrap();
    assert_eq!(
        l.cgroups_path().as_deref(),
        Some(Path::new(
            "/user.slice/user-1000.slice/user@1000.service/skiff/abcdef0123456789"
        ))
    );
    assert_eq!(
        l.resources()
            .as_ref()
            .unwrap()
            .memory()
            .as_ref()
            .unwrap()
            .limit(),
        Some(64 << 20)
    );
}

#[test]
fn cgroupns_host_leaves_the_cgroup_namespace_out() {
    let has = |f: &Fixture| {
        f.spec()
            .linux()
            .as_ref()
            .unwrap()
            .namespaces()
            .as_ref()
            .unwrap()
            .iter()
            .any(|n| n.typ() == LinuxNamespaceType::Cgroup)
    };
    assert!(has(&Fixture::new(RunFlags::default())));
    assert!(has(&Fixture::new(RunFlags {
        cgroupns: Some("private".into()),
        ..Default::default()
    })));
    assert!(!has(&Fixture::new(RunFlags {
        cgroupns: Some("host".into()),
        ..Default::default()
    })));
}

#[test]
fn resource_limits_in_the_specs_terms() {
    use crate::runtime::opts::resources::ResourceFlags;
    let mut f = Fixture::new(RunFlags {
        resources: ResourceFlags {
            memory: Some("64m".into()),
            pids_limit: Some(20),
            cpus: Some("0.5".into()),
            blkio_weight: Some(300),
            blkio_weight_device: vec!["/dev/vda:200".into()],
            device_read_bps: vec!["/dev/vda:1mb".into()],
            device_write_iops: vec!["/dev/loop3:100".into(), "/dev/vda:50".into()],
            ..Default::default()
        },
        ..Default::default()
    });
    // Without the devices' numbers the spec cannot be built.
    assert!(f.build().is_err());
    f.blkio_devices = [
        ("/dev/vda".to_string(), (253, 0)),
        ("/dev/loop3".to_string(), (7, 3)),
    ]
    .into_iter()
    .collect();
    let s = f.spec();
    let res = linux(&s).resources().clone().unwrap();
    let m = res.memory().unwrap();
    assert_eq!((m.limit(), m.swap()), (Some(64 << 20), Some(128 << 20)));
    assert_eq!(res.pids().unwrap().limit(), 20);
    let c = res.cpu().clone().unwrap();
    assert_eq!((c.quota(), c.period()), (Some(50_000), Some(100_000)));
    let v = serde_json::to_value(&res).unwrap();
    let io = &v["blockIO"];
    assert_eq!(io["weight"], 300);
    assert_eq!(
        io["weightDevice"],
        serde_json::json!([{"major": 253, "minor": 0, "weight": 200}])
    );
    assert_eq!(
        io["throttleReadBpsDevice"],
        serde_json::json!([{"major": 253, "minor": 0, "rate": 1048576}])
    );
    assert_eq!(io["throttleWriteIOPSDevice"][0]["minor"], 3);
    assert_eq!(io["throttleWriteIOPSDevice"][1]["rate"], 50);
    assert!(io.get("throttleWriteBpsDevice").is_none());

    // The limits replaced (as `update` does) leave the device lists be.
    let mut res = res;
    let mut r = f.opts.resources.clone();
    r.blkio_weight = 0;
    r.pids_limit = None;
    r.memory = 0;
    r.memory_swap = 0;
    limits(&r, &mut res);
    assert!(res.pids().is_none() && res.memory().is_none());
    let io = res.block_io().clone().unwrap();
    assert_eq!(io.weight(), None);
    assert_eq!(io.throttle_read_bps_device().as_ref().unwrap().len(), 1);
    // Nothing asked, nothing there.
    let s = Fixture::new(RunFlags::default()).spec();
    assert!(linux(&s).resources().as_ref().unwrap().block_io().is_none());
}
