use super::*;
use crate::runtime::defaults::{resolve_capabilities, DEFAULT_CAPS};
use oci_spec::runtime::LinuxSyscall;

fn amd64() -> Host {
    Host {
        arch: "amd64".into(),
        kernel: KernelVersion(6, 1),
    }
}

fn rules_for<'a>(s: &'a LinuxSeccomp, name: &str) -> Vec<&'a LinuxSyscall> {
    s.syscalls()
        .as_ref()
        .unwrap()
        .iter()
        .filter(|r| r.names().iter().any(|n| n == name))
        .collect()
}

fn allowed_unconditionally(s: &LinuxSeccomp, name: &str) -> bool {
    rules_for(s, name)
        .iter()
        .any(|r| r.action() == LinuxSeccompAction::ScmpActAllow && r.args().is_none())
}

#[test]
fn allowlist_is_dockers() {
    let all: Vec<&str> = allowlist().collect();
    assert_eq!(all.len(), 349);
    let mut dedup = all.clone();
    dedup.sort_unstable();
    dedup.dedup();
    assert_eq!(dedup.len(), all.len(), "a call is listed twice");
    for name in [
        "read",
        "execve",
        "futex",
        "epoll_pwait2",
        "io_uring_setup",
        "landlock_restrict_self",
    ] {
        assert!(all.contains(&name), "{name}");
    }
    for name in [
        "mount",
        "unshare",
        "setns",
        "keyctl",
        "add_key",
        "request_key",
        "ptrace",
        "bpf",
        "reboot",
        "kexec_load",
        "init_module",
        "swapon",
        "pivot_root",
        "userfaultfd",
        "open_by_handle_at",
        "clone",
        "clone3",
        "socket",
        "personality",
        "chroot",
    ] {
        assert!(
            !all.contains(&name),
            "{name} must not be allowed unconditionally"
        );
    }
}

#[test]
fn default_caps_on_amd64() {
    let s = default_seccomp(&DEFAULT_CAPS, &amd64()).unwrap();
    assert_eq!(s.default_action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(s.default_errno_ret(), Some(1));
    assert_eq!(
        s.architectures().as_ref().unwrap(),
        &vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
    );
    assert!(allowed_unconditionally(&s, "read"));
    // SYS_CHROOT is a default capability, so chroot is allowed.
    assert!(allowed_unconditionally(&s, "chroot"));
    assert!(allowed_unconditionally(&s, "arch_prctl"));
    assert!(allowed_unconditionally(&s, "modify_ldt"));
    assert!(
        allowed_unconditionally(&s, "ptrace"),
        "kernel >= 4.8 allows ptrace"
    );
    for blocked in [
        "mount",
        "umount2",
        "unshare",
        "setns",
        "reboot",
        "init_module",
        "bpf",
        "syslog",
        "cacheflush",
        "keyctl",
    ] {
        assert!(rules_for(&s, blocked).is_empty(), "{blocked}");
    }

    // clone only without namespace flags.
    let clone = rules_for(&s, "clone");
    assert_eq!(clone.len(), 1);
    let a = clone[0].args().as_ref().unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].index(), 0);
    assert_eq!(a[0].op(), LinuxSeccompOperator::ScmpCmpMaskedEq);
    assert_eq!(a[0].value(), 2114060288);
    assert_eq!(a[0].value_two(), None);

    let clone3 = rules_for(&s, "clone3");
    assert_eq!(clone3.len(), 1);
    assert_eq!(clone3[0].action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(clone3[0].errno_ret(), Some(38));

    let socket = rules_for(&s, "socket");
    assert_eq!(socket.len(), 1);
    let a = &socket[0].args().as_ref().unwrap()[0];
    assert_eq!(
        (a.index(), a.value(), a.op()),
        (0, 40, LinuxSeccompOperator::ScmpCmpNe)
    );

    let personality: Vec<u64> = rules_for(&s, "personality")
        .iter()
        .map(|r| r.args().as_ref().unwrap()[0].value())
        .collect();
    assert_eq!(personality, vec![0, 8, 0x20000, 0x20008, 0xffff_ffff]);
}

#[test]
fn capabilities_open_their_groups() {
    let caps = resolve_capabilities(
        false,
        &[
            crate::runtime::opts::CapName::Cap(Capability::SysAdmin),
            crate::runtime::opts::CapName::Cap(Capability::SysPtrace),
            crate::runtime::opts::CapName::Cap(Capability::SysModule),
        ],
        &[crate::runtime::opts::CapName::Cap(Capability::SysChroot)],
    );
    let s = default_seccomp(&caps, &amd64()).unwrap();
    for name in [
        "mount",
        "unshare",
        "setns",
        "clone",
        "clone3",
        "kcmp",
        "init_module",
        "bpf",
    ] {
        assert!(allowed_unconditionally(&s, name), "{name}");
    }
    assert!(
        rules_for(&s, "chroot").is_empty(),
        "chroot needs CAP_SYS_CHROOT"
    );
    assert!(rules_for(&s, "clone3")
        .iter()
        .all(|r| r.action() == LinuxSeccompAction::ScmpActAllow));
    assert!(rules_for(&s, "clone").iter().all(|r| r.args().is_none()));
}

#[test]
fn other_architectures_and_old_kernels() {
    let arm = Host {
        arch: "arm64".into(),
        kernel: KernelVersion(4, 4),
    };
    let s = default_seccomp(&DEFAULT_CAPS, &arm).unwrap();
    assert_eq!(
        s.architectures().as_ref().unwrap(),
        &vec![Arch::ScmpArchAarch64, Arch::ScmpArchArm]
    );
    assert!(allowed_unconditionally(&s, "cacheflush"));
    assert!(rules_for(&s, "arch_prctl").is_empty());
    assert!(
        rules_for(&s, "ptrace").is_empty(),
        "ptrace needs 4.8 or CAP_SYS_PTRACE"
    );

    let s390 = Host {
        arch: "s390x".into(),
        kernel: KernelVersion(6, 1),
    };
    let s = default_seccomp(&DEFAULT_CAPS, &s390).unwrap();
    let clone = rules_for(&s, "clone");
    assert_eq!(clone.len(), 1);
    assert_eq!(clone[0].args().as_ref().unwrap()[0].index(), 1);
}

#[test]
fn default_profile_round_trips_through_dockers_json() {
    let p = default_profile();
    let json = serde_json::to_vec(&p).unwrap();
    let back = Profile::parse(&json).unwrap();
    assert_eq!(back, p);
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(v["defaultErrnoRet"], 1);
    assert_eq!(v["archMap"][0]["architecture"], "SCMP_ARCH_X86_64");
    assert_eq!(v["syscalls"][1]["includes"]["minKernel"], "4.8");
}
