//! Forking into new namespaces: `clone3` (or `clone`) with fork semantics,
//! so the child runs on a copy of the parent's stack and memory, already
//! inside the namespaces the flags ask for.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Which side of [`fork_into`] we are on.
#[derive(Debug)]
pub enum Forked {
    Child,
    Parent(nix::unistd::Pid),
}

/// `struct clone_args` of <linux/sched.h>, as far as Linux 5.7.
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Fork with `flags` (`CLONE_NEW*`): one system call makes the child and
/// its namespaces. With `cgroup`, the child starts inside that cgroup
/// (`CLONE_INTO_CGROUP`), so it never runs a moment outside it.
///
/// The caller must be single-threaded: the child gets only the calling
/// thread, and a lock another thread held (the allocator's) would stay held
/// forever in the child. The child must end in `execve` or
/// [`super::proc::exit_now`], never by returning into the parent's logic.
pub fn fork_into(flags: libc::c_int, cgroup: Option<BorrowedFd>) -> io::Result<Forked> {
    clone_fork(flags, cgroup, false)
}

/// [`fork_into`], the child made a child of this process's parent
/// (`CLONE_PARENT`), not of this process: an intermediate process that
/// joined namespaces first can end at once, and the parent waits for the
/// child as its own. [`Forked::Parent`] still carries the child's pid.
pub fn fork_sibling_into(flags: libc::c_int, cgroup: Option<BorrowedFd>) -> io::Result<Forked> {
    clone_fork(flags, cgroup, true)
}

fn clone_fork(flags: libc::c_int, cgroup: Option<BorrowedFd>, sibling: bool) -> io::Result<Forked> {
    let mut args = CloneArgs {
        flags: flags as u32 as u64,
        // A sibling's exit signal is the caller's own (the kernel refuses
        // one given with CLONE_PARENT).
        exit_signal: if sibling { 0 } else { libc::SIGCHLD as u64 },
        ..Default::default()
    };
    if sibling {
        args.flags |= libc::CLONE_PARENT as u64;
    }
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd.as_raw_fd() as u64;
    }
    // SAFETY: clone3 without a stack has fork semantics: the child resumes
    // here on a private copy of this thread's stack and of every mapping.
    // `args` outlives the call, and its size is passed with it. The
    // single-thread requirement above is the caller's, as for fork(2).
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    let r = if r < 0
        && cgroup.is_none()
        && io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS)
    {
        // Kernels before 5.3, or a seccomp profile that hides clone3
        // (Docker's returns ENOSYS for it): the classic call does the same.
        // SAFETY: as above; a zero stack pointer gives fork semantics, and
        // the remaining pointer arguments are null, so nothing is written.
        unsafe {
            libc::syscall(
                libc::SYS_clone,
                (flags | libc::SIGCHLD | if sibling { libc::CLONE_PARENT } else { 0 })
                    as libc::c_ulong,
                0usize,
                0usize,
                0usize,
                0usize,
            )
        }
    } else {
        r
    };
    match r {
        r if r < 0 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(nix::unistd::Pid::from_raw(pid as i32))),
    }
}
