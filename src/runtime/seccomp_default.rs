//! Docker's default seccomp profile, as Rust data: an allowlist (anything
//! else fails with EPERM), calls allowed only with certain arguments, and
//! groups of calls allowed only when the container holds the capability
//! that makes them meaningful.

use crate::runtime::seccomp_profile::{
    ArchMapEntry, Filter, Host, KernelVersion, Profile, SyscallRule,
};
use anyhow::Result;
use oci_spec::runtime::{
    Arch, Capability, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder,
    LinuxSeccompOperator,
};

const EPERM: u32 = 1;
const ENOSYS: u32 = 38;
const AF_VSOCK: u64 = 40;

// The namespace flags of clone(2): without CAP_SYS_ADMIN a container may
// clone threads and processes but not new namespaces.
const CLONE_NEWNS: u64 = 0x0002_0000;
const CLONE_NEWCGROUP: u64 = 0x0200_0000;
const CLONE_NEWUTS: u64 = 0x0400_0000;
const CLONE_NEWIPC: u64 = 0x0800_0000;
const CLONE_NEWUSER: u64 = 0x1000_0000;
const CLONE_NEWPID: u64 = 0x2000_0000;
const CLONE_NEWNET: u64 = 0x4000_0000;
const CLONE_NS_FLAGS: u64 = CLONE_NEWNS
    | CLONE_NEWCGROUP
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWUSER
    | CLONE_NEWPID
    | CLONE_NEWNET;

// personality(2) values a container may set: the default domain, 32-bit
// (PER_LINUX32), the 2.6-uname emulation (UNAME26), both, and the query.
const PER_LINUX: u64 = 0x0000;
const PER_LINUX32: u64 = 0x0008;
const UNAME26: u64 = 0x0002_0000;
const PER_QUERY: u64 = 0xffff_ffff;

/// Reading and writing open files, pipes, and file descriptors.
const FILE_IO: &[&str] = &[
    "_llseek",
    "close",
    "close_range",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "flock",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "ioctl",
    "lseek",
    "name_to_handle_at",
    "open",
    "openat",
    "openat2",
    "pipe",
    "pipe2",
    "pread64",
    "preadv",
    "preadv2",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readv",
    "sendfile",
    "sendfile64",
    "splice",
    "sync",
    "sync_file_range",
    "syncfs",
    "tee",
    "truncate",
    "truncate64",
    "vmsplice",
    "write",
    "writev",
];

/// Paths, directories, metadata, extended attributes, file change events.
const FILE_SYSTEM: &[&str] = &[
    "access",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "faccessat",
    "faccessat2",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchown",
    "fchown32",
    "fchownat",
    "fgetxattr",
    "flistxattr",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "futimesat",
    "getcwd",
    "getdents",
    "getdents64",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listxattr",
    "llistxattr",
    "lremovexattr",
    "lsetxattr",
    "lstat",
    "lstat64",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "newfstatat",
    "readlink",
    "readlinkat",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "rmdir",
    "setxattr",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "umask",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
];

/// Address space management.
const MEMORY: &[&str] = &[
    "brk",
    "madvise",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mremap",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "remap_file_pages",
];

/// Processes and threads: creating (clone is conditional, below), waiting,
/// exiting, limits, priorities, futexes, and self-restriction.
const PROCESSES: &[&str] = &[
    "capget",
    "capset",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "fork",
    "futex",
    "futex_time64",
    "futex_waitv",
    "get_robust_list",
    "get_thread_area",
    "getcpu",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getrlimit",
    "getrusage",
    "getsid",
    "gettid",
    "ioprio_get",
    "ioprio_set",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "pidfd_open",
    "pidfd_send_signal",
    "prctl",
    "prlimit64",
    "process_mrelease",
    "restart_syscall",
    "rseq",
    "seccomp",
    "set_robust_list",
    "set_thread_area",
    "set_tid_address",
    "setpgid",
    "setpriority",
    "setrlimit",
    "setsid",
    "sysinfo",
    "ugetrlimit",
    "uname",
    "vfork",
    "wait4",
    "waitid",
    "waitpid",
];

/// Sending, receiving and handling signals.
const SIGNALS: &[&str] = &[
    "kill",
    "pause",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "tgkill",
    "tkill",
];

/// Clocks, sleeps and timers. `adjtimex` and `clock_adjtime` only read the
/// clock without CAP_SYS_TIME, which the kernel checks itself.
const TIME: &[&str] = &[
    "adjtimex",
    "alarm",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "getitimer",
    "gettimeofday",
    "nanosleep",
    "setitimer",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
];

/// User and group ids (changing them is governed by CAP_SETUID/SETGID).
const CREDENTIALS: &[&str] = &[
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getuid",
    "getuid32",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setuid",
    "setuid32",
];

/// The scheduler (raising priorities is governed by CAP_SYS_NICE).
const SCHEDULING: &[&str] = &[
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
];

/// System V and POSIX IPC, which live in the container's IPC namespace.
const IPC: &[&str] = &[
    "ipc",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
];

/// Sockets (`socket` itself is conditional, below).
const NETWORK: &[&str] = &[
    "accept",
    "accept4",
    "bind",
    "connect",
    "getpeername",
    "getsockname",
    "getsockopt",
    "listen",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "send",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setsockopt",
    "shutdown",
    "socketcall",
    "socketpair",
];

/// Waiting on many descriptors, and asynchronous I/O.
const EVENTS: &[&str] = &[
    "_newselect",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "io_cancel",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "io_setup",
    "io_submit",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "poll",
    "ppoll",
    "ppoll_time64",
    "pselect6",
    "pselect6_time64",
    "select",
];

/// Every call allowed unconditionally.
pub fn allowlist() -> impl Iterator<Item = &'static str> {
    [
        FILE_IO,
        FILE_SYSTEM,
        MEMORY,
        PROCESSES,
        SIGNALS,
        TIME,
        CREDENTIALS,
        SCHEDULING,
        IPC,
        NETWORK,
        EVENTS,
    ]
    .into_iter()
    .flatten()
    .copied()
}

/// Calls gated by a capability: a container holding it may make them (the
/// kernel still checks the capability; without it the filter keeps the
/// attack surface away).
const CAP_GATED: &[(&str, &[&str])] = &[
    ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
    (
        "CAP_SYS_ADMIN",
        &[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
    ),
    ("CAP_SYS_BOOT", &["reboot"]),
    ("CAP_SYS_CHROOT", &["chroot"]),
    (
        "CAP_SYS_MODULE",
        &["delete_module", "finit_module", "init_module"],
    ),
    ("CAP_SYS_PACCT", &["acct"]),
    (
        "CAP_SYS_PTRACE",
        &[
            "kcmp",
            "pidfd_getfd",
            "process_madvise",
            "process_vm_readv",
            "process_vm_writev",
            "ptrace",
        ],
    ),
    ("CAP_SYS_RAWIO", &["ioperm", "iopl"]),
    (
        "CAP_SYS_TIME",
        &["clock_settime", "clock_settime64", "settimeofday", "stime"],
    ),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
    (
        "CAP_SYS_NICE",
        &[
            "get_mempolicy",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
    ),
    ("CAP_SYSLOG", &["syslog"]),
    ("CAP_BPF", &["bpf"]),
    ("CAP_PERFMON", &["perf_event_open"]),
];

/// Calls that exist only on some architectures (Go's names).
const ARCH_SPECIFIC: &[(&[&str], &[&str])] = &[
    (&["ppc64le"], &["swapcontext", "sync_file_range2"]),
    (
        &["arm", "arm64"],
        &[
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "breakpoint",
            "cacheflush",
            "set_tls",
            "sync_file_range2",
        ],
    ),
    (&["amd64", "x32"], &["arch_prctl"]),
    (&["amd64", "x32", "x86"], &["modify_ldt"]),
    (
        &["s390", "s390x"],
        &[
            "s390_pci_mmio_read",
            "s390_pci_mmio_write",
            "s390_runtime_instr",
        ],
    ),
    (&["riscv64"], &["riscv_flush_icache"]),
];

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn rule(names: &[&str], action: LinuxSeccompAction) -> SyscallRule {
    SyscallRule {
        name: None,
        names: strings(names),
        action,
        errno_ret: None,
        args: Vec::new(),
        comment: None,
        includes: Filter::default(),
        excludes: Filter::default(),
    }
}

fn allow(names: &[&str]) -> SyscallRule {
    rule(names, LinuxSeccompAction::ScmpActAllow)
}

fn arg(index: usize, op: LinuxSeccompOperator, value: u64) -> LinuxSeccompArg {
    LinuxSeccompArgBuilder::default()
        .index(index)
        .op(op)
        .value(value)
        .build()
        .expect("a seccomp argument builds from any values")
}

/// Docker's default profile.
pub fn default_profile() -> Profile {
    use LinuxSeccompOperator::{ScmpCmpEq, ScmpCmpMaskedEq, ScmpCmpNe};
    let mut rules = vec![allow(&allowlist().collect::<Vec<_>>())];

    // Since 4.8 the kernel re-checks seccomp after a ptrace stop, so
    // tracing can no longer be used to slip past the filter.
    let mut trace = allow(&["process_vm_readv", "process_vm_writev", "ptrace"]);
    trace.includes.min_kernel = Some(KernelVersion(4, 8));
    rules.push(trace);

    // Any socket but AF_VSOCK, which reaches the hypervisor's host side.
    let mut socket = allow(&["socket"]);
    socket.args = vec![arg(0, ScmpCmpNe, AF_VSOCK)];
    rules.push(socket);

    for value in [
        PER_LINUX,
        PER_LINUX32,
        UNAME26,
        UNAME26 | PER_LINUX32,
        PER_QUERY,
    ] {
        let mut p = allow(&["personality"]);
        p.args = vec![arg(0, ScmpCmpEq, value)];
        rules.push(p);
    }

    for (arches, names) in ARCH_SPECIFIC {
        let mut r = allow(names);
        r.includes.arches = strings(arches);
        rules.push(r);
    }

    for (cap, names) in CAP_GATED {
        let mut r = allow(names);
        r.includes.caps = vec![cap.to_string()];
        rules.push(r);
    }

    // clone without CAP_SYS_ADMIN: allowed when no namespace flag is set,
    // `(flags & CLONE_NS_FLAGS) == 0` (the flags are argument 1 on s390).
    let mut clone = allow(&["clone"]);
    clone.args = vec![arg(0, ScmpCmpMaskedEq, CLONE_NS_FLAGS)];
    clone.excludes.caps = vec!["CAP_SYS_ADMIN".into()];
    clone.excludes.arches = strings(&["s390", "s390x"]);
    rules.push(clone);
    let mut clone_s390 = allow(&["clone"]);
    clone_s390.args = vec![arg(1, ScmpCmpMaskedEq, CLONE_NS_FLAGS)];
    clone_s390.includes.arches = strings(&["s390", "s390x"]);
    clone_s390.excludes.caps = vec!["CAP_SYS_ADMIN".into()];
    rules.push(clone_s390);

    // clone3 passes its flags in memory, out of the filter's reach: refuse
    // it with ENOSYS so the C library falls back to clone, which the rule
    // above can check.
    let mut clone3 = rule(&["clone3"], LinuxSeccompAction::ScmpActErrno);
    clone3.errno_ret = Some(ENOSYS);
    clone3.excludes.caps = vec!["CAP_SYS_ADMIN".into()];
    rules.push(clone3);

    Profile {
        default_action: LinuxSeccompAction::ScmpActErrno,
        default_errno_ret: Some(EPERM),
        architectures: Vec::new(),
        arch_map: vec![
            ArchMapEntry {
                architecture: Arch::ScmpArchX86_64,
                sub_architectures: vec![Arch::ScmpArchX86, Arch::ScmpArchX32],
            },
            ArchMapEntry {
                architecture: Arch::ScmpArchAarch64,
                sub_architectures: vec![Arch::ScmpArchArm],
            },
            ArchMapEntry {
                architecture: Arch::ScmpArchS390x,
                sub_architectures: vec![Arch::ScmpArchS390],
            },
            ArchMapEntry {
                architecture: Arch::ScmpArchRiscv64,
                sub_architectures: Vec::new(),
            },
        ],
        flags: Vec::new(),
        syscalls: rules,
    }
}

/// The default filter for a container holding `caps`, on `host`.
pub fn default_seccomp(caps: &[Capability], host: &Host) -> Result<LinuxSeccomp> {
    default_profile().resolve(caps, host)
}

#[cfg(test)]
#[path = "seccomp_default_tests.rs"]
mod tests;
