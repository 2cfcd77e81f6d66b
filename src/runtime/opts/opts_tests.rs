use super::*;
use crate::error::kind_of;
use oci_spec::runtime::Capability;

fn lookup(k: &str) -> Option<String> {
    (k == "HOST_VAR").then(|| "from-host".to_string())
}

fn read(p: &Path) -> Result<String> {
    match p.to_str() {
        Some("/env/a.env") => Ok("# defaults\nA=file\nB=file\nHOST_VAR\n".into()),
        Some("/labels") => Ok("team=infra\nempty\n".into()),
        _ => Err(anyhow::anyhow!("no such file or directory")),
    }
}

fn parse(flags: RunFlags) -> Result<RunOpts> {
    let ctx = FlagContext {
        lookup_env: &lookup,
        read_file: &read,
        cwd: Path::new("/work"),
    };
    RunOpts::from_flags(&flags, &ctx)
}

fn flags() -> RunFlags {
    RunFlags {
        image: "busybox".into(),
        ..Default::default()
    }
}

fn err(f: RunFlags) -> String {
    let e = parse(f).unwrap_err();
    assert_eq!(kind_of(&e), Some(ErrorKind::InvalidArgument), "{e:#}");
    format!("{e:#}")
}

#[test]
fn defaults_when_no_flags() {
    let o = parse(flags()).unwrap();
    assert_eq!(o.image, "busybox");
    assert_eq!(o.network, NetworkMode::Bridge("bridge".into()));
    assert_eq!(o.pull, PullPolicy::Missing);
    assert_eq!(o.security.seccomp, SeccompChoice::Default);
    assert!(!o.security.no_new_privileges);
    assert!(o.entrypoint.is_none());
    assert!(o.mounts.is_empty());
    assert_eq!(o.shm_size, None);
}

#[test]
fn env_files_come_before_env_flags() {
    let o = parse(RunFlags {
        env_file: vec!["/env/a.env".into()],
        env: vec!["B=flag".into(), "HOST_VAR".into(), "GONE".into()],
        ..flags()
    })
    .unwrap();
    assert_eq!(
        o.env,
        vec![
            EnvVar::Set("A".into(), "file".into()),
            EnvVar::Set("B".into(), "file".into()),
            EnvVar::Set("HOST_VAR".into(), "from-host".into()),
            EnvVar::Set("B".into(), "flag".into()),
            EnvVar::Set("HOST_VAR".into(), "from-host".into()),
            EnvVar::Unset("GONE".into()),
        ]
    );
    let e = parse(RunFlags {
        env_file: vec!["/nope".into()],
        ..flags()
    })
    .unwrap_err();
    assert_eq!(
        format!("{e:#}"),
        "read env file /nope: no such file or directory"
    );
}

#[test]
fn flag_errors_name_the_flag_like_docker() {
    assert_eq!(
        err(RunFlags {
            env: vec!["=x".into()],
            ..flags()
        }),
        "invalid argument \"=x\" for \"--env\" flag: invalid environment variable: =x"
    );
    assert_eq!(
        err(RunFlags {
            mount: vec!["type=bind".into()],
            ..flags()
        }),
        "invalid argument \"type=bind\" for \"--mount\" flag: target is required"
    );
    assert_eq!(
        err(RunFlags {
            shm_size: Some("lots".into()),
            ..flags()
        }),
        "invalid argument \"lots\" for \"--shm-size\" flag: invalid size: 'lots'"
    );
    assert_eq!(
        err(RunFlags {
            workdir: Some("rel".into()),
            ..flags()
        }),
        "the working directory 'rel' is invalid, it needs to be an absolute path"
    );
    assert_eq!(
        err(RunFlags {
            pull: Some("often".into()),
            ..flags()
        }),
        "invalid pull option: 'often': must be one of \"always\", \"missing\" or \"never\""
    );
    assert_eq!(
        err(RunFlags {
            cap_add: vec!["WIZARD".into()],
            ..flags()
        }),
        "unknown capability: \"CAP_WIZARD\""
    );
    assert!(err(RunFlags {
        platform: Some("linux".into()),
        ..flags()
    })
    .contains("invalid platform"));
    assert!(err(RunFlags {
        stop_signal: Some("SIGNOPE".into()),
        ..flags()
    })
    .contains("invalid signal"));
    assert!(err(RunFlags {
        name: Some("-x".into()),
        ..flags()
    })
    .contains("invalid container name"));
    assert!(err(RunFlags {
        user: Some("a b".into()),
        ..flags()
    })
    .contains("invalid user"));
    assert_eq!(
        err(RunFlags {
            image: String::new(),
            ..flags()
        }),
        "\"skiff run\" requires at least 1 argument"
    );
}

#[test]
fn entrypoint_forms() {
    let o = parse(RunFlags {
        entrypoint: Some("".into()),
        ..flags()
    })
    .unwrap();
    assert_eq!(o.entrypoint, Some(vec![]));
    let o = parse(RunFlags {
        entrypoint: Some("/bin/my tool".into()),
        ..flags()
    })
    .unwrap();
    assert_eq!(o.entrypoint, Some(vec!["/bin/my tool".to_string()]));
}

#[test]
fn mounts_in_flag_order_and_duplicates_refused() {
    let o = parse(RunFlags {
        volume: vec!["./src:/src".into(), "cache:/cache".into()],
        mount: vec!["type=tmpfs,dst=/scratch".into()],
        tmpfs: vec!["/run".into()],
        ..flags()
    })
    .unwrap();
    let targets: Vec<&str> = o.mounts.iter().map(|m| m.target.as_str()).collect();
    assert_eq!(targets, ["/src", "/cache", "/scratch", "/run"]);
    assert_eq!(o.mounts[0].source.as_deref(), Some("/work/src"));
    assert_eq!(
        err(RunFlags {
            volume: vec!["/a:/data".into()],
            tmpfs: vec!["/data/".into()],
            ..flags()
        }),
        "duplicate mount point: /data"
    );
}

#[test]
fn security_and_limits() {
    let o = parse(RunFlags {
        cap_add: vec!["sys_admin".into(), "ALL".into()],
        cap_drop: vec!["CAP_NET_RAW".into()],
        security_opt: vec!["no-new-privileges".into(), "label=disable".into()],
        ulimit: vec!["nofile=100:200".into()],
        sysctl: vec![
            "net.ipv4.ip_forward=1".into(),
            "net.ipv4.ip_forward=0".into(),
        ],
        device: vec!["/dev/fuse".into()],
        shm_size: Some("128m".into()),
        ..flags()
    })
    .unwrap();
    assert_eq!(
        o.cap_add,
        vec![CapName::Cap(Capability::SysAdmin), CapName::All]
    );
    assert_eq!(o.cap_drop, vec![CapName::Cap(Capability::NetRaw)]);
    assert!(o.security.no_new_privileges);
    assert_eq!(o.notes().len(), 1);
    assert_eq!(o.ulimits[0].soft, 100);
    assert_eq!(o.sysctls["net.ipv4.ip_forward"], "0");
    assert_eq!(o.devices[0].container, "/dev/fuse");
    assert_eq!(o.shm_size, Some(128 << 20));
}

#[test]
fn net_sysctls_refused_on_the_host_network() {
    assert_eq!(
        err(RunFlags {
            network: vec!["host".into()],
            sysctl: vec!["net.core.somaxconn=1024".into()],
            ..flags()
        }),
        "sysctl \"net.core.somaxconn\" not allowed in host network namespace"
    );
    let o = parse(RunFlags {
        network: vec!["host".into()],
        sysctl: vec!["kernel.shmmax=1".into()],
        ..flags()
    })
    .unwrap();
    assert_eq!(o.network, NetworkMode::Host);
}

#[test]
fn labels_files_then_flags() {
    let o = parse(RunFlags {
        label_file: vec!["/labels".into()],
        label: vec!["team=web".into(), "solo".into()],
        ..flags()
    })
    .unwrap();
    assert_eq!(o.labels["team"], "web");
    assert_eq!(o.labels["empty"], "");
    assert_eq!(o.labels["solo"], "");
}

#[test]
fn network_and_dns() {
    let o = parse(RunFlags {
        network: vec!["none".into()],
        hostname: Some("box".into()),
        add_host: vec!["db:10.1.1.1".into()],
        dns: vec!["1.1.1.1".into()],
        dns_search: vec!["corp.example".into()],
        dns_option: vec!["ndots:2".into()],
        stop_signal: Some("SIGUSR1".into()),
        pull: Some("never".into()),
        platform: Some("linux/arm64".into()),
        user: Some("app:staff".into()),
        group_add: vec!["audio".into(), "44".into()],
        ..flags()
    })
    .unwrap();
    assert_eq!(o.network, NetworkMode::None);
    assert_eq!(o.hostname.as_deref(), Some("box"));
    assert_eq!(o.extra_hosts[0].name, "db");
    assert_eq!(o.dns[0].to_string(), "1.1.1.1");
    assert_eq!(o.dns_search, vec!["corp.example"]);
    assert_eq!(o.dns_options, vec!["ndots:2"]);
    assert_eq!(o.stop_signal, Some(10));
    assert_eq!(o.pull, PullPolicy::Never);
    assert_eq!(o.platform.as_ref().unwrap().architecture, "arm64");
    assert_eq!(o.user.as_deref(), Some("app:staff"));
    assert_eq!(o.group_add, vec!["audio", "44"]);
}

#[test]
fn published_ports_are_exposed_and_warned_about_on_the_host_network() {
    let o = parse(RunFlags {
        publish: vec!["8080:80".into(), "53/udp".into()],
        expose: vec!["90".into(), "80".into()],
        publish_all: true,
        ..flags()
    })
    .unwrap();
    assert_eq!(o.ports.len(), 2);
    assert!(o.publish_all);
    assert_eq!(o.expose, ["90/tcp", "80/tcp", "53/udp"]);
    assert!(!o.notes().iter().any(|n| n == HOST_PORTS_NOTE));
    let o = parse(RunFlags {
        publish: vec!["8080:80".into()],
        network: vec!["host".into()],
        ..flags()
    })
    .unwrap();
    assert!(o.notes().iter().any(|n| n == HOST_PORTS_NOTE));
    assert_eq!(
        err(RunFlags {
            publish: vec!["8080:80/ipx".into()],
            ..flags()
        }),
        "Invalid proto: ipx"
    );
    assert_eq!(
        err(RunFlags {
            publish: vec!["80".into()],
            network: vec!["container:web".into()],
            ..flags()
        }),
        "conflicting options: port publishing and the container type network mode"
    );
}
