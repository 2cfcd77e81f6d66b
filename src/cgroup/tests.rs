//! The file writes against a temporary directory laid out like cgroupfs:
//! this machine's cgroup2 hierarchy offers no controllers, so the v2 code
//! cannot be run against the real thing here.

use super::*;
use oci_spec::runtime::{LinuxCpu, LinuxMemory, LinuxPids};
use std::fs::{create_dir_all, read_to_string, write};

const CONTROL: [&str; 4] = [
    "cgroup.controllers",
    "cgroup.subtree_control",
    "cgroup.procs",
    "cgroup.events",
];
const LIMITS: [&str; 9] = [
    "memory.max",
    "memory.swap.max",
    "memory.low",
    "pids.max",
    "cpu.max",
    "cpu.weight",
    "cpuset.cpus",
    "cpuset.mems",
    "cgroup.kill",
];

/// A v2 root offering the usual controllers, `skiff` made already, and
/// `skiff/ID` with the files the kernel would give it.
fn fake_v2(id: &str) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let leaf = t.path().join("skiff").join(id);
    create_dir_all(&leaf).unwrap();
    for d in [t.path(), &t.path().join("skiff"), &leaf] {
        for f in CONTROL {
            write(d.join(f), "").unwrap();
        }
        write(d.join("cgroup.controllers"), "cpuset cpu io memory pids\n").unwrap();
    }
    for f in LIMITS {
        write(leaf.join(f), "").unwrap();
    }
    t
}

fn resources() -> LinuxResources {
    let mut mem = LinuxMemory::default();
    mem.set_limit(Some(32 << 20))
        .set_swap(Some(96 << 20))
        .set_reservation(Some(16 << 20));
    let mut cpu = LinuxCpu::default();
    cpu.set_shares(Some(512))
        .set_quota(Some(50_000))
        .set_period(Some(100_000))
        .set_cpus(Some("0".into()))
        .set_mems(Some("0".into()));
    let mut pids = LinuxPids::default();
    pids.set_limit(64);
    let mut res = LinuxResources::default();
    res.set_memory(Some(mem))
        .set_cpu(Some(cpu))
        .set_pids(Some(pids));
    res
}

fn v2(base: &Path) -> Hierarchies {
    Hierarchies {
        layout: Layout::Unified,
        base: base.to_path_buf(),
    }
}

#[test]
fn v2_writes_every_limit_and_enables_controllers_on_the_way() {
    let t = fake_v2("c1");
    let cg = Cgroup::create(&v2(t.path()), Path::new("/skiff/c1"), Some(&resources()))
        .unwrap()
        .unwrap();
    let leaf = t.path().join("skiff/c1");
    let got = |f: &str| read_to_string(leaf.join(f)).unwrap();
    assert_eq!(got("memory.max"), (32 << 20).to_string());
    // memory+swap minus memory: the swap alone.
    assert_eq!(got("memory.swap.max"), (64 << 20).to_string());
    assert_eq!(got("memory.low"), (16 << 20).to_string());
    assert_eq!(got("pids.max"), "64");
    assert_eq!(got("cpu.max"), "50000 100000");
    assert_eq!(got("cpu.weight"), shares_to_weight(512).to_string());
    assert_eq!(
        (got("cpuset.cpus"), got("cpuset.mems")),
        ("0".into(), "0".into())
    );
    for d in [t.path(), &t.path().join("skiff")] {
        assert_eq!(
            read_to_string(d.join("cgroup.subtree_control")).unwrap(),
            "+cpuset +cpu +memory +pids"
        );
    }
    assert_eq!(cg.v2_dir(), Some(leaf.as_path()));
    assert!(cg.clone_fd().is_some());
    assert!(!cg.joins_by_pid());
    cg.kill().unwrap();
    assert_eq!(got("cgroup.kill"), "1");
}

#[test]
fn v2_enables_only_what_is_missing_and_writes_nothing_unasked() {
    let t = fake_v2("c2");
    write(t.path().join("cgroup.subtree_control"), "cpu memory pids").unwrap();
    let mut res = LinuxResources::default();
    let mut pids = LinuxPids::default();
    pids.set_limit(-1);
    res.set_pids(Some(pids));
    Cgroup::create(&v2(t.path()), Path::new("skiff/c2"), Some(&res)).unwrap();
    assert_eq!(
        read_to_string(t.path().join("cgroup.subtree_control")).unwrap(),
        "cpu memory pids"
    );
    assert_eq!(
        read_to_string(t.path().join("skiff/cgroup.subtree_control")).unwrap(),
        "+pids"
    );
    let leaf = t.path().join("skiff/c2");
    assert_eq!(read_to_string(leaf.join("pids.max")).unwrap(), "max");
    assert_eq!(read_to_string(leaf.join("memory.max")).unwrap(), "");
}

#[test]
fn v2_unlimited_swap_and_missing_controllers() {
    let t = fake_v2("c3");
    let mut mem = LinuxMemory::default();
    mem.set_limit(Some(8 << 20)).set_swap(Some(-1));
    let mut res = LinuxResources::default();
    res.set_memory(Some(mem));
    Cgroup::create(&v2(t.path()), Path::new("/skiff/c3"), Some(&res)).unwrap();
    let leaf = t.path().join("skiff/c3");
    assert_eq!(read_to_string(leaf.join("memory.swap.max")).unwrap(), "max");

    write(t.path().join("cgroup.controllers"), "cpu pids\n").unwrap();
    let e = Cgroup::create(&v2(t.path()), Path::new("/skiff/c3"), Some(&res)).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("the cgroup controller memory is not available in "),
        "{e}"
    );
}

#[test]
fn paths_stay_below_the_root() {
    let t = fake_v2("c4");
    for bad in ["/", "../x", "/skiff/../../etc"] {
        assert!(
            Cgroup::create(&v2(t.path()), Path::new(bad), None).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn opens_what_exists_and_removes_it() {
    let t = fake_v2("c5");
    let h = v2(t.path());
    assert!(Cgroup::open(&h, Path::new("/skiff/none"))
        .unwrap()
        .is_none());
    let cg = Cgroup::open(&h, Path::new("/skiff/c5")).unwrap().unwrap();
    // A real cgroup directory's files go with it; a temporary one's not.
    for f in CONTROL.iter().chain(LIMITS.iter()) {
        std::fs::remove_file(t.path().join("skiff/c5").join(f)).unwrap();
    }
    cg.remove().unwrap();
    assert!(!t.path().join("skiff/c5").exists());
    assert!(t.path().join("skiff").exists());
}

#[test]
fn the_delegated_subtree_is_the_topmost_the_user_owns() {
    let d = tempfile::tempdir().unwrap();
    let base = d.path();
    let svc = "user.slice/user-1000.slice/user@1000.service";
    let own = format!("{svc}/app.slice/term.scope");
    for dir in [
        "user.slice/user-1000.slice",
        svc,
        &format!("{svc}/app.slice"),
        &own,
    ] {
        std::fs::create_dir_all(base.join(dir)).unwrap();
        for f in ["cgroup.subtree_control", "cgroup.procs"] {
            std::fs::write(base.join(dir).join(f), "").unwrap();
        }
    }
    // systemd gives the user the service's subtree and its files.
    let chown = |rel: &str, uid: u32| {
        let p = base.join(rel);
        std::os::unix::fs::chown(&p, Some(uid), None).unwrap();
        for f in ["cgroup.subtree_control", "cgroup.procs"] {
            std::os::unix::fs::chown(p.join(f), Some(uid), None).unwrap();
        }
    };
    for rel in [svc.to_string(), format!("{svc}/app.slice"), own.clone()] {
        chown(&rel, 1000);
    }
    let own_path = PathBuf::from(format!("/{own}"));
    assert_eq!(
        delegation_in(base, &own_path, 1000),
        Some(PathBuf::from(format!("/{svc}")))
    );
    // Another user owns none of it; a session outside the subtree
    // cannot use it.
    assert_eq!(delegation_in(base, &own_path, 1001), None);
    let session = "user.slice/user-1000.slice/session-2.scope";
    std::fs::create_dir_all(base.join(session)).unwrap();
    assert_eq!(
        delegation_in(base, &PathBuf::from(format!("/{session}")), 1000),
        None
    );
    // A file the user was not given stops the walk below it.
    std::os::unix::fs::chown(base.join(svc).join("cgroup.procs"), Some(0), None).unwrap();
    assert_eq!(
        delegation_in(base, &own_path, 1000),
        Some(PathBuf::from(format!("/{svc}/app.slice")))
    );
}

fn throttle(major: i64, minor: i64, rate: u64) -> oci_spec::runtime::LinuxThrottleDevice {
    oci_spec::runtime::LinuxThrottleDeviceBuilder::default()
        .major(major)
        .minor(minor)
        .rate(rate)
        .build()
        .unwrap()
}

fn block_io(weight: Option<u16>) -> LinuxResources {
    let mut io = oci_spec::runtime::LinuxBlockIo::default();
    io.set_weight(weight)
        .set_throttle_read_bps_device(Some(vec![throttle(8, 0, 1 << 20)]))
        .set_throttle_write_iops_device(Some(vec![throttle(8, 0, 100)]));
    let mut res = LinuxResources::default();
    res.set_block_io(Some(io));
    res
}

#[test]
fn v2_io_weight_and_limits_with_the_controller_enabled() {
    let t = fake_v2("io1");
    let leaf = t.path().join("skiff/io1");
    for f in ["io.weight", "io.max"] {
        write(leaf.join(f), "").unwrap();
    }
    let mut res = block_io(None);
    Cgroup::create(&v2(t.path()), Path::new("/skiff/io1"), Some(&res)).unwrap();
    let got = |f: &str| read_to_string(leaf.join(f)).unwrap();
    assert_eq!(got("io.max"), "8:0 rbps=1048576 wiops=100");
    assert_eq!(got("io.weight"), "", "no weight asked, none written");
    assert_eq!(
        read_to_string(t.path().join("cgroup.subtree_control")).unwrap(),
        "+io"
    );
    // A weight given later (`update`): Docker's 10-1000 scaled to 1-10000.
    res.block_io_mut().as_mut().unwrap().set_weight(Some(500));
    assert!(Cgroup::update(&v2(t.path()), Path::new("/skiff/io1"), &res).unwrap());
    assert_eq!(got("io.weight"), "default 4950");
}

/// A v1 layout: each controller's root, and `skiff/ID` made in each of
/// `made` with the files the kernel would give it.
fn fake_v1(id: &str, made: &[&str]) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    for name in v1::KNOWN {
        let root = t.path().join(name);
        create_dir_all(&root).unwrap();
        write(root.join("cgroup.procs"), "").unwrap();
    }
    for name in made {
        let leaf = t.path().join(name).join("skiff").join(id);
        create_dir_all(&leaf).unwrap();
        let files: &[&str] = match *name {
            "blkio" => &[
                "blkio.throttle.read_bps_device",
                "blkio.throttle.write_bps_device",
                "blkio.throttle.read_iops_device",
                "blkio.throttle.write_iops_device",
            ],
            "memory" => &[
                "memory.limit_in_bytes",
                "memory.memsw.limit_in_bytes",
                "memory.soft_limit_in_bytes",
            ],
            "pids" => &["pids.max"],
            _ => &[],
        };
        for f in files.iter().chain(["cgroup.procs"].iter()) {
            write(leaf.join(f), "").unwrap();
        }
    }
    t
}

fn legacy(base: &Path) -> Hierarchies {
    Hierarchies {
        layout: Layout::Legacy,
        base: base.to_path_buf(),
    }
}

#[test]
fn v1_blkio_throttles_and_weights() {
    let t = fake_v1("io2", &["blkio", "freezer"]);
    let leaf = t.path().join("blkio/skiff/io2");
    let cg = Cgroup::create(
        &legacy(t.path()),
        Path::new("/skiff/io2"),
        Some(&block_io(None)),
    )
    .unwrap()
    .unwrap();
    let got = |f: &str| read_to_string(leaf.join(f)).unwrap();
    assert_eq!(got("blkio.throttle.read_bps_device"), "8:0 1048576");
    assert_eq!(got("blkio.throttle.write_iops_device"), "8:0 100");
    assert_eq!(got("blkio.throttle.write_bps_device"), "");
    assert!(cg.joins_by_pid());

    // No CFQ or BFQ: no weight file, and a weight cannot be held.
    let e = Cgroup::create(
        &legacy(t.path()),
        Path::new("/skiff/io2"),
        Some(&block_io(Some(300))),
    )
    .unwrap_err();
    assert!(
        format!("{e:#}").contains("the kernel offers no block I/O weight in"),
        "{e:#}"
    );
    // CFQ's file, then BFQ's, which wins when both are there.
    write(leaf.join("blkio.weight"), "").unwrap();
    Cgroup::create(
        &legacy(t.path()),
        Path::new("/skiff/io2"),
        Some(&block_io(Some(300))),
    )
    .unwrap();
    assert_eq!(got("blkio.weight"), "300");
    write(leaf.join("blkio.bfq.weight"), "").unwrap();
    Cgroup::create(
        &legacy(t.path()),
        Path::new("/skiff/io2"),
        Some(&block_io(Some(400))),
    )
    .unwrap();
    assert_eq!(
        (got("blkio.weight"), got("blkio.bfq.weight")),
        ("300".into(), "400".into())
    );

    assert_eq!(io::support(&legacy(t.path())), io::Support::default());
    write(t.path().join("blkio/blkio.throttle.read_bps_device"), "").unwrap();
    let s = io::support(&legacy(t.path()));
    assert!(s.throttle && !s.weight && !s.weight_device, "{s:?}");
}

#[test]
fn v1_update_writes_the_limits_and_adds_what_is_missing() {
    let t = fake_v1("up1", &["memory", "freezer"]);
    let h = legacy(t.path());
    let mem = t.path().join("memory/skiff/up1");
    write(mem.join("memory.limit_in_bytes"), (32u64 << 20).to_string()).unwrap();
    let mut m = LinuxMemory::default();
    m.set_limit(Some(128 << 20)).set_swap(Some(256 << 20));
    let mut res = LinuxResources::default();
    res.set_memory(Some(m));
    assert!(Cgroup::update(&h, Path::new("/skiff/up1"), &res).unwrap());
    let got = |f: &str| read_to_string(mem.join(f)).unwrap();
    assert_eq!(got("memory.limit_in_bytes"), (128u64 << 20).to_string());
    assert_eq!(
        got("memory.memsw.limit_in_bytes"),
        (256u64 << 20).to_string()
    );

    // A pids limit where there was none: the directory is made (here, as
    // a temporary directory, without the kernel's files, so the write
    // fails) and, on that failure, removed again.
    let mut pids = LinuxPids::default();
    pids.set_limit(10);
    res.set_pids(Some(pids));
    let e = Cgroup::update(&h, Path::new("/skiff/up1"), &res).unwrap_err();
    assert!(format!("{e:#}").contains("pids.max"), "{e:#}");
    assert!(!t.path().join("pids/skiff/up1").exists());
    assert!(mem.exists());

    // Nothing there: nothing to update.
    assert!(!Cgroup::update(&h, Path::new("/skiff/none"), &res).unwrap());
}

#[test]
fn v1_moves_every_listed_process() {
    let t = tempfile::tempdir().unwrap();
    let (from, to) = (t.path().join("from"), t.path().join("to"));
    create_dir_all(&from).unwrap();
    create_dir_all(&to).unwrap();
    let me = std::process::id().to_string();
    write(from.join("cgroup.procs"), format!("{me}\n")).unwrap();
    write(to.join("cgroup.procs"), "").unwrap();
    v1::move_all(&from, &to).unwrap();
    assert_eq!(read_to_string(to.join("cgroup.procs")).unwrap(), me);
}

#[test]
fn v1_names_blkio_and_finds_it_again() {
    let res = block_io(None);
    assert_eq!(v1::controllers(&res), ["blkio"]);
    assert_eq!(v2::controllers(&res), ["io"]);
    let t = fake_v1("io3", &["blkio", "pids"]);
    let cg = Cgroup::open(&legacy(t.path()), Path::new("/skiff/io3"))
        .unwrap()
        .unwrap();
    let Cgroup::V1 { dirs, tracker } = &cg else {
        panic!("{cg:?}")
    };
    assert!(tracker.is_none());
    let names: Vec<&str> = dirs.dirs.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["blkio", "pids"]);
}
