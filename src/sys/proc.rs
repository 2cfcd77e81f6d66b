//! Process-wide odds and ends the container's init needs just before
//! `execve`: leaving without running the parent's exit handlers, resetting
//! ignored signals, marking inherited descriptors close-on-exec.

use std::io;

/// End the process now, without atexit handlers or flushing buffers: after
/// a fork those belong to the parent, and running them twice would repeat
/// its buffered output.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit takes no pointers and never returns.
    unsafe { libc::_exit(code) }
}

/// Restore the default disposition of every catchable signal. `execve`
/// resets handled signals itself but keeps ignored ones ignored, and the
/// Rust runtime ignores SIGPIPE: a container must not inherit that.
pub fn reset_signal_dispositions() {
    for sig in 1..libc::SIGRTMIN() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: installing SIG_DFL registers no code of ours; the call
        // fails harmlessly (EINVAL) for numbers that are not signals.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
        }
    }
}

const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;

/// Mark every descriptor from `first` up close-on-exec (CVE-2024-21626: no
/// descriptor of the host may survive into the container). Marking rather
/// than closing keeps the sync socket usable until the `execve` itself.
pub fn cloexec_from(first: i32) -> io::Result<()> {
    // SAFETY: close_range takes plain integers; with CLOSE_RANGE_CLOEXEC it
    // only sets a flag on descriptors, closing none.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        return Ok(());
    }
    // Before Linux 5.11: walk the descriptor table instead.
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd >= first)
        .collect();
    for fd in fds {
        // SAFETY: F_SETFD on a number we do not own at worst fails with
        // EBADF (the directory's own descriptor, closed by now).
        unsafe {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
    Ok(())
}

/// Put a duplicate of `fd` at descriptor number `target`, without
/// close-on-exec (whatever was open there is closed). For the last step
/// before an `execve`: the caller must own nothing else at `target`.
pub fn dup_to(fd: std::os::fd::BorrowedFd, target: i32) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: dup2 takes plain descriptor numbers; the caller guarantees no
    // OwnedFd of ours is at `target`, so nothing is closed behind an owner.
    let r = unsafe { libc::dup2(fd.as_raw_fd(), target) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
