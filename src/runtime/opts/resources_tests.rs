use super::*;

fn parse(f: ResourceFlags) -> Result<Resources> {
    Resources::parse(&f)
}

fn msg(f: ResourceFlags) -> String {
    format!("{:#}", parse(f).unwrap_err())
}

#[test]
fn memory_in_dockers_units_and_defaults() {
    let r = parse(ResourceFlags {
        memory: Some("32m".into()),
        memory_reservation: Some("16m".into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(r.memory, 32 << 20);
    // Swap as large as the memory, Docker's default.
    assert_eq!(r.memory_swap, 64 << 20);
    assert_eq!(r.memory_reservation, 16 << 20);
    let r = parse(ResourceFlags {
        memory: Some("1g".into()),
        memory_swap: Some("-1".into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!((r.memory, r.memory_swap), (1 << 30, -1));
}

#[test]
fn memory_rules_in_dockers_words() {
    let m = |memory: &str, swap: Option<&str>, res: Option<&str>| {
        msg(ResourceFlags {
            memory: (!memory.is_empty()).then(|| memory.into()),
            memory_swap: swap.map(Into::into),
            memory_reservation: res.map(Into::into),
            ..Default::default()
        })
    };
    assert_eq!(m("4m", None, None), "Minimum memory limit allowed is 6MB");
    assert_eq!(
        m("xyz", None, None),
        "invalid argument \"xyz\" for \"--memory\" flag: invalid size: 'xyz'"
    );
    assert_eq!(
        m("64m", Some("32m"), None),
        "Minimum memoryswap limit should be larger than memory limit, see usage"
    );
    assert_eq!(
        m("", Some("32m"), None),
        "You should always set the Memory limit when using Memoryswap limit, see usage"
    );
    assert_eq!(
        m("64m", None, Some("128m")),
        "Minimum memory limit can not be less than memory reservation limit, see usage"
    );
    assert!(m("-1", None, None).contains("invalid size"));
}

#[test]
fn cpus_are_exact_decimals() {
    assert_eq!(parse_cpus("1.5").unwrap(), 1_500_000_000);
    assert_eq!(parse_cpus("0.01").unwrap(), 10_000_000);
    assert_eq!(parse_cpus(".5").unwrap(), 500_000_000);
    assert_eq!(parse_cpus("2").unwrap(), 2_000_000_000);
    assert!(format!("{:#}", parse_cpus("x").unwrap_err())
        .ends_with("failed to parse x as a rational number"));
    assert!(parse_cpus("-1").is_err());
    assert!(parse_cpus("0.0000000001").is_err());
}

#[test]
fn cpu_rules_in_dockers_words() {
    let m = msg(ResourceFlags {
        cpus: Some("1".into()),
        cpu_period: Some(50_000),
        ..Default::default()
    });
    assert_eq!(
        m,
        "Conflicting options: Nano CPUs and CPU Period cannot both be set"
    );
    let m = msg(ResourceFlags {
        cpu_period: Some(500),
        ..Default::default()
    });
    assert!(
        m.starts_with("CPU cfs period can not be less than 1ms"),
        "{m}"
    );
    let m = msg(ResourceFlags {
        cpu_quota: Some(10),
        ..Default::default()
    });
    assert_eq!(m, "CPU cfs quota can not be less than 1ms (i.e. 1000)");
    let m = msg(ResourceFlags {
        cpuset_cpus: Some("1-0".into()),
        ..Default::default()
    });
    assert_eq!(m, "Invalid value 1-0 for cpuset cpus");
    let r = parse(ResourceFlags {
        cpus: Some("0.5".into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(r.cfs(), (50_000, 100_000));
}

#[test]
fn host_checks() {
    let host = HostCpus {
        count: 2,
        cpus: "0-1".into(),
        mems: "0".into(),
    };
    let r = |f: ResourceFlags| parse(f).unwrap().check_host(&host);
    assert!(r(ResourceFlags {
        cpus: Some("2".into()),
        cpuset_cpus: Some("0,1".into()),
        ..Default::default()
    })
    .is_ok());
    let e = r(ResourceFlags {
        cpus: Some("3".into()),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"
    );
    let e = r(ResourceFlags {
        cpuset_cpus: Some("0-3".into()),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Requested CPUs are not available - requested 0-3, available: 0-1"
    );
    let e = r(ResourceFlags {
        cpuset_mems: Some("1".into()),
        ..Default::default()
    })
    .unwrap_err();
    assert!(e
        .to_string()
        .starts_with("Requested memory nodes are not available"));
}

#[test]
fn pids_and_cgroup_parent() {
    let r = parse(ResourceFlags {
        pids_limit: Some(-1),
        cgroup_parent: Some("/ci/jobs/".into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(r.pids_limit, None);
    assert_eq!(r.cgroup_path("abc"), "/ci/jobs/abc");
    assert_eq!(Resources::default().cgroup_path("abc"), "/skiff/abc");
    assert!(parse(ResourceFlags {
        cgroup_parent: Some("../x".into()),
        ..Default::default()
    })
    .is_err());
}

#[test]
fn block_io_flags_and_what_the_host_cannot_hold() {
    let mut r = parse(ResourceFlags {
        blkio_weight: Some(300),
        blkio_weight_device: vec!["/dev/vda:200".into()],
        device_read_bps: vec!["/dev/vda:1mb".into()],
        device_write_iops: vec!["/dev/loop3:100".into(), "/dev/vda:5".into()],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(r.blkio_weight, 300);
    assert_eq!(r.blkio_device_read_bps[0].rate, 1 << 20);
    assert_eq!(r.blkio_paths(), ["/dev/loop3", "/dev/vda"]);
    assert!(r.limits_any());
    // Docker's HostConfig names, IOps spelt its way.
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["BlkioDeviceWriteIOps"][0]["Path"], "/dev/loop3");
    assert_eq!(v["BlkioWeightDevice"][0]["Weight"], 200);
    // A copy stored before these fields existed still reads.
    let old: Resources = serde_json::from_str(r#"{"Memory": 33554432}"#).unwrap();
    assert_eq!((old.memory, old.blkio_weight), (32 << 20, 0));

    assert!(r.clone().discard_unsupported(BlkioSupport::ALL).is_empty());
    let notes = r.discard_unsupported(BlkioSupport {
        weight: false,
        weight_device: false,
        throttle: true,
    });
    assert_eq!(
        notes,
        [
            "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.",
            "Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.",
        ]
    );
    assert_eq!(r.blkio_weight, 0);
    assert!(r.blkio_weight_device.is_empty());
    assert_eq!(r.blkio_device_write_iops.len(), 2);
    let notes = r.discard_unsupported(BlkioSupport {
        throttle: false,
        ..BlkioSupport::ALL
    });
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes[0].ends_with("Block I/O BPS read limit discarded."));
    assert!(r.blkio_paths().is_empty());
    assert_eq!(
        msg(ResourceFlags {
            blkio_weight: Some(1001),
            ..Default::default()
        }),
        "Range of blkio weight is from 10 to 1000"
    );
}
