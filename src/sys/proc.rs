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

/// Close every descriptor from `first` up, in a process that keeps
/// nothing open it did not mean to (a forked helper that lives on long
/// after its parent: an inherited pipe would keep the parent's reader
/// waiting for its end).
pub fn close_from(first: i32) {
    // SAFETY: close_range takes plain integers; the caller owns no
    // descriptor at or above `first` it still means to use.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            0 as libc::c_uint,
        )
    };
    if r == 0 {
        return;
    }
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .filter(|fd| *fd >= first)
                .collect()
        })
        .unwrap_or_default();
    for fd in fds {
        // SAFETY: as above; a number already closed fails with EBADF.
        unsafe {
            libc::close(fd);
        }
    }
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

/// Take ownership of descriptor `fd`, handed down by the process that
/// started this one (a pipe end passed by number on the command line), and
/// mark it close-on-exec. Fails when no such descriptor is open, or when
/// it is one of the standard streams.
pub fn take_inherited_fd(fd: i32) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    if fd <= 2 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: F_SETFD on a plain number; it fails with EBADF when the
    // descriptor is not open, and then nothing is taken.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor is open (checked above) and, by the protocol
    // with the parent, nothing else in this process refers to it: it was
    // inherited and is taken exactly once, at start-up.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Send signal number `sig` (real-time ones included) to process `pid`.
pub fn send_signal(pid: i32, sig: i32) -> io::Result<()> {
    if pid <= 0 {
        // 0 and negative numbers name process groups: never meant here.
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    // SAFETY: kill takes plain integers and has no memory effects.
    if unsafe { libc::kill(pid, sig) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Does this process run a single thread (so that a plain fork leaves no
/// lock held by a thread the child lacks)?
pub fn single_threaded() -> bool {
    std::fs::read_dir("/proc/self/task").is_ok_and(|d| d.count() == 1)
}
