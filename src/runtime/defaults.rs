//! Docker's defaults as data: capabilities, masked and read-only paths, the
//! standard mounts and devices, device cgroup rules, rlimits.

use crate::runtime::opts::CapName;
use oci_spec::runtime::{
    Capability, LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType, Mount, PosixRlimit,
};
use std::path::PathBuf;

/// `PATH` when the image sets none (Docker's `DefaultPathEnv`).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `/dev/shm`'s size unless `--shm-size` says otherwise.
pub const DEFAULT_SHM_SIZE: u64 = 64 << 20;

/// Every capability the kernel defines, in kernel order: the index is the
/// capability's number (`CAP_CHOWN` is 0, `CAP_CHECKPOINT_RESTORE` 40).
pub const ALL_CAPS: [(Capability, &str); 41] = [
    (Capability::Chown, "CAP_CHOWN"),
    (Capability::DacOverride, "CAP_DAC_OVERRIDE"),
    (Capability::DacReadSearch, "CAP_DAC_READ_SEARCH"),
    (Capability::Fowner, "CAP_FOWNER"),
    (Capability::Fsetid, "CAP_FSETID"),
    (Capability::Kill, "CAP_KILL"),
    (Capability::Setgid, "CAP_SETGID"),
    (Capability::Setuid, "CAP_SETUID"),
    (Capability::Setpcap, "CAP_SETPCAP"),
    (Capability::LinuxImmutable, "CAP_LINUX_IMMUTABLE"),
    (Capability::NetBindService, "CAP_NET_BIND_SERVICE"),
    (Capability::NetBroadcast, "CAP_NET_BROADCAST"),
    (Capability::NetAdmin, "CAP_NET_ADMIN"),
    (Capability::NetRaw, "CAP_NET_RAW"),
    (Capability::IpcLock, "CAP_IPC_LOCK"),
    (Capability::IpcOwner, "CAP_IPC_OWNER"),
    (Capability::SysModule, "CAP_SYS_MODULE"),
    (Capability::SysRawio, "CAP_SYS_RAWIO"),
    (Capability::SysChroot, "CAP_SYS_CHROOT"),
    (Capability::SysPtrace, "CAP_SYS_PTRACE"),
    (Capability::SysPacct, "CAP_SYS_PACCT"),
    (Capability::SysAdmin, "CAP_SYS_ADMIN"),
    (Capability::SysBoot, "CAP_SYS_BOOT"),
    (Capability::SysNice, "CAP_SYS_NICE"),
    (Capability::SysResource, "CAP_SYS_RESOURCE"),
    (Capability::SysTime, "CAP_SYS_TIME"),
    (Capability::SysTtyConfig, "CAP_SYS_TTY_CONFIG"),
    (Capability::Mknod, "CAP_MKNOD"),
    (Capability::Lease, "CAP_LEASE"),
    (Capability::AuditWrite, "CAP_AUDIT_WRITE"),
    (Capability::AuditControl, "CAP_AUDIT_CONTROL"),
    (Capability::Setfcap, "CAP_SETFCAP"),
    (Capability::MacOverride, "CAP_MAC_OVERRIDE"),
    (Capability::MacAdmin, "CAP_MAC_ADMIN"),
    (Capability::Syslog, "CAP_SYSLOG"),
    (Capability::WakeAlarm, "CAP_WAKE_ALARM"),
    (Capability::BlockSuspend, "CAP_BLOCK_SUSPEND"),
    (Capability::AuditRead, "CAP_AUDIT_READ"),
    (Capability::Perfmon, "CAP_PERFMON"),
    (Capability::Bpf, "CAP_BPF"),
    (Capability::CheckpointRestore, "CAP_CHECKPOINT_RESTORE"),
];

/// Docker's 14 default capabilities, in Docker's order.
pub const DEFAULT_CAPS: [Capability; 14] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// The kernel's name for a capability (`CAP_SYS_ADMIN`).
pub fn cap_name(cap: Capability) -> &'static str {
    ALL_CAPS
        .iter()
        .find(|(c, _)| *c == cap)
        .map_or("CAP_UNKNOWN", |(_, n)| n)
}

/// The kernel's number for a capability.
pub fn cap_number(cap: Capability) -> u8 {
    ALL_CAPS
        .iter()
        .position(|(c, _)| *c == cap)
        .expect("ALL_CAPS lists every Capability") as u8
}

/// The bit mask `/proc/PID/status` shows for a set (`CapEff: 00000000a80425fb`
/// for Docker's defaults).
pub fn cap_mask<'a>(caps: impl IntoIterator<Item = &'a Capability>) -> u64 {
    caps.into_iter().fold(0, |m, c| m | 1u64 << cap_number(*c))
}

/// The container's capabilities, Docker's `TweakCapabilities`:
/// `--privileged` gets every one (and ignores `--cap-drop`); otherwise
/// `--cap-add ALL` means all but the dropped ones, `--cap-drop ALL` only the
/// added ones, and else the defaults minus drops plus adds. Kernel order,
/// no duplicates.
pub fn resolve_capabilities(
    privileged: bool,
    add: &[CapName],
    drop: &[CapName],
) -> Vec<Capability> {
    let all: Vec<Capability> = ALL_CAPS.iter().map(|(c, _)| *c).collect();
    let named = |list: &[CapName], cap: Capability| list.contains(&CapName::Cap(cap));
    if privileged {
        all
    } else if add.contains(&CapName::All) {
        all.iter().copied().filter(|c| !named(drop, *c)).collect()
    } else if drop.contains(&CapName::All) {
        all.iter().copied().filter(|c| named(add, *c)).collect()
    } else {
        all.iter()
            .copied()
            .filter(|c| (DEFAULT_CAPS.contains(c) && !named(drop, *c)) || named(add, *c))
            .collect()
    }
}

/// Paths masked from the container (an empty read-only tmpfs over a
/// directory, `/dev/null` over a file): host information and interfaces a
/// container has no business reading.
pub const MASKED_PATHS: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths bind-mounted read-only over themselves: kernel tunables that are
/// not namespaced, so writing them would change the host.
pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// A mount entry; the options as `mount(8)` spells them.
pub fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Mount {
    let mut m = Mount::default();
    m.set_destination(PathBuf::from(dest))
        .set_typ(Some(typ.to_string()))
        .set_source(Some(PathBuf::from(source)))
        .set_options(Some(options.iter().map(|o| o.to_string()).collect()));
    m
}

/// Docker's standard mounts, in its order: `/proc`, a tmpfs `/dev`,
/// `/dev/pts` (its own instance, so the container cannot reach the host's
/// terminals), read-only `/sys` and `/sys/fs/cgroup` (writable with
/// `--privileged`), `/dev/mqueue`, and `/dev/shm` of `shm_size` bytes.
pub fn default_mounts(shm_size: u64, privileged: bool) -> Vec<Mount> {
    let ro: &[&str] = if privileged { &[] } else { &["ro"] };
    let with = |base: &[&str], extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let shm_size_opt = format!("size={shm_size}");
    let mut sys = mount("/sys", "sysfs", "sysfs", &[]);
    sys.set_options(Some(with(&["nosuid", "noexec", "nodev"], ro)));
    let mut cgroup = mount("/sys/fs/cgroup", "cgroup", "cgroup", &[]);
    cgroup.set_options(Some(with(ro, &["nosuid", "noexec", "nodev"])));
    vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        sys,
        cgroup,
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", &shm_size_opt],
        ),
    ]
}

/// The device nodes every container gets: (path, major, minor).
pub const DEFAULT_DEVICES: [(&str, i64, i64); 6] = [
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// A character device entry, mode 0666, owned by root.
pub fn char_device(path: &str, major: i64, minor: i64) -> LinuxDevice {
    let mut d = LinuxDevice::default();
    d.set_path(PathBuf::from(path))
        .set_typ(LinuxDeviceType::C)
        .set_major(major)
        .set_minor(minor)
        .set_file_mode(Some(0o666))
        .set_uid(Some(0))
        .set_gid(Some(0));
    d
}

/// [`DEFAULT_DEVICES`] as spec entries.
pub fn default_devices() -> Vec<LinuxDevice> {
    DEFAULT_DEVICES
        .iter()
        .map(|(p, maj, min)| char_device(p, *maj, *min))
        .collect()
}

/// One device cgroup rule; `None` for major or minor means any (`*`).
pub fn device_rule(
    allow: bool,
    typ: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(allow)
        .set_typ(Some(typ))
        .set_major(major)
        .set_minor(minor)
        .set_access(Some(access.to_string()));
    r
}

/// The device cgroup rules: deny everything, then allow creating any node
/// (`m`; opening it stays refused), the standard devices, the console,
/// `/dev/ptmx` and the pts terminals. `--privileged` allows every device.
pub fn default_device_rules(privileged: bool) -> Vec<LinuxDeviceCgroup> {
    use LinuxDeviceType::{A, B, C};
    if privileged {
        return vec![device_rule(true, A, None, None, "rwm")];
    }
    let mut rules = vec![
        device_rule(false, A, None, None, "rwm"),
        device_rule(true, C, None, None, "m"),
        device_rule(true, B, None, None, "m"),
    ];
    rules.extend(
        DEFAULT_DEVICES
            .iter()
            .map(|(_, maj, min)| device_rule(true, C, Some(*maj), Some(*min), "rwm")),
    );
    rules.push(device_rule(true, C, Some(5), Some(1), "rwm")); // /dev/console
    rules.push(device_rule(true, C, Some(5), Some(2), "rwm")); // /dev/ptmx
    rules.push(device_rule(true, C, Some(136), None, "rwm")); // /dev/pts/*
    rules
}

/// Docker sets no rlimits of its own: the container inherits skiff's,
/// changed only by `--ulimit`.
pub fn default_rlimits() -> Vec<PosixRlimit> {
    Vec::new()
}

/// A requested rlimit that fits under the current hard limit: without
/// CAP_SYS_RESOURCE (this machine's case, and every rootless one) raising a
/// hard limit fails with EPERM, which is why runc and crun cannot start a
/// container with `--ulimit nofile=1048576` here. Returns (soft, hard).
pub fn clamp_rlimit(soft: u64, hard: u64, current_hard: u64) -> (u64, u64) {
    let hard = hard.min(current_hard);
    (soft.min(hard), hard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_table_matches_the_kernel() {
        assert_eq!(cap_number(Capability::Chown), 0);
        assert_eq!(cap_number(Capability::SysAdmin), 21);
        assert_eq!(cap_number(Capability::Mknod), 27);
        assert_eq!(cap_number(Capability::AuditWrite), 29);
        assert_eq!(cap_number(Capability::Setfcap), 31);
        assert_eq!(cap_number(Capability::CheckpointRestore), 40);
        assert_eq!(cap_name(Capability::NetBindService), "CAP_NET_BIND_SERVICE");
        // The names agree with oci-spec's own serialisation.
        for (cap, name) in ALL_CAPS {
            assert_eq!(serde_json::to_string(&cap).unwrap(), format!("\"{name}\""));
        }
        // Docker's default set as `docker run busybox grep CapEff /proc/self/status`
        // prints it.
        assert_eq!(cap_mask(&DEFAULT_CAPS), 0x00000000a80425fb);
    }

    #[test]
    fn capability_tweaks_follow_docker() {
        let c = |x| CapName::Cap(x);
        let defaults = resolve_capabilities(false, &[], &[]);
        assert_eq!(defaults.len(), 14);
        assert_eq!(cap_mask(&defaults), cap_mask(&DEFAULT_CAPS));

        let r = resolve_capabilities(false, &[c(Capability::SysAdmin)], &[c(Capability::NetRaw)]);
        assert!(r.contains(&Capability::SysAdmin));
        assert!(!r.contains(&Capability::NetRaw));
        assert_eq!(r.len(), 14);

        let r = resolve_capabilities(false, &[c(Capability::Chown)], &[CapName::All]);
        assert_eq!(r, vec![Capability::Chown]);

        let r = resolve_capabilities(false, &[CapName::All], &[c(Capability::SysAdmin)]);
        assert_eq!(r.len(), 40);
        assert!(!r.contains(&Capability::SysAdmin));

        let r = resolve_capabilities(true, &[], &[c(Capability::SysAdmin)]);
        assert_eq!(r.len(), 41);

        // Adding one already there does not duplicate it.
        let r = resolve_capabilities(false, &[c(Capability::Kill)], &[]);
        assert_eq!(r.len(), 14);
    }

    #[test]
    fn standard_mounts() {
        let m = default_mounts(DEFAULT_SHM_SIZE, false);
        let dests: Vec<_> = m
            .iter()
            .map(|m| m.destination().to_str().unwrap())
            .collect();
        assert_eq!(
            dests,
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/sys",
                "/sys/fs/cgroup",
                "/dev/mqueue",
                "/dev/shm"
            ]
        );
        let opts = |i: usize| m[i].options().clone().unwrap();
        assert!(opts(3).contains(&"ro".to_string()));
        assert!(opts(4).contains(&"ro".to_string()));
        assert!(opts(2).contains(&"newinstance".to_string()));
        assert!(opts(2).contains(&"ptmxmode=0666".to_string()));
        assert!(opts(6).contains(&"size=67108864".to_string()));
        let p = default_mounts(1 << 20, true);
        assert!(!p[3].options().as_ref().unwrap().contains(&"ro".to_string()));
        assert!(p[6]
            .options()
            .as_ref()
            .unwrap()
            .contains(&"size=1048576".to_string()));
    }

    #[test]
    fn devices_and_rules() {
        let d = default_devices();
        assert_eq!(d.len(), 6);
        assert_eq!(d[0].path(), &PathBuf::from("/dev/null"));
        assert_eq!((d[0].major(), d[0].minor()), (1, 3));
        assert_eq!(d[0].file_mode(), Some(0o666));
        let rules = default_device_rules(false);
        assert!(!rules[0].allow());
        assert_eq!(rules[0].access().as_deref(), Some("rwm"));
        assert!(rules
            .iter()
            .any(|r| r.major() == Some(136) && r.minor().is_none()));
        let p = default_device_rules(true);
        assert_eq!(p.len(), 1);
        assert!(p[0].allow());
    }

    #[test]
    fn rlimits_never_exceed_the_hard_limit() {
        assert!(default_rlimits().is_empty());
        assert_eq!(clamp_rlimit(1024, 4096, 1 << 20), (1024, 4096));
        assert_eq!(clamp_rlimit(1 << 20, 1 << 20, 524288), (524288, 524288));
        assert_eq!(clamp_rlimit(100, u64::MAX, 4096), (100, 4096));
        assert_eq!(
            clamp_rlimit(u64::MAX, u64::MAX, u64::MAX),
            (u64::MAX, u64::MAX)
        );
    }
}
