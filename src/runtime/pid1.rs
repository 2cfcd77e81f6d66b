//! `--init`: the built-in minimal init. The container's first process
//! stays skiff (a fork of a sealed copy, see `seal`) and starts the
//! command as its only child; from then on it does two things and nothing
//! else: pass every signal it gets on to that child, and reap every
//! process that ends up as its child (orphans of the container are
//! re-parented to pid 1). When the command ends, so does the init, with the
//! command's exit code, or 128+N when a signal N killed it; the kernel
//! then ends whatever the command left running.
//!
//! No polling: all signals are blocked and taken one at a time with
//! `sigwait`, SIGCHLD included.

use nix::sys::signal::{kill, sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::unix::fs::FileExt;

/// What the kernel raises for a fault of the process itself; blocking
/// those would make a fault of the init spin instead of killing it.
const SYNCHRONOUS: [Signal; 6] = [
    Signal::SIGSEGV,
    Signal::SIGBUS,
    Signal::SIGILL,
    Signal::SIGFPE,
    Signal::SIGTRAP,
    Signal::SIGSYS,
];

/// The signals the init takes with `sigwait`: everything but the faults.
pub fn waited() -> SigSet {
    let mut set = SigSet::all();
    for s in SYNCHRONOUS {
        set.remove(s);
    }
    set
}

/// Block [`waited`] signals; done before the fork, so that none sent in
/// between is lost (the child unblocks them before its `execve`).
pub fn block_signals() -> nix::Result<()> {
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&waited()), None)
}

/// The child's side, before its `execve`: its own process group, made the
/// terminal's foreground group when there is a terminal, so that the keys
/// that raise signals (^C, ^Z, ^\) reach the command and not the init.
/// Signals are still blocked here, so `tcsetpgrp` from what is still a
/// background group raises no SIGTTOU.
pub fn detach_child(terminal: bool) -> nix::Result<()> {
    nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0))?;
    if terminal {
        let pgrp = nix::unistd::getpgrp();
        nix::unistd::tcsetpgrp(std::io::stdin(), pgrp)?;
    }
    Ok(())
}

/// The init's side, after the fork: serve `child` until it ends, then exit
/// with its status. `args` is the command, shown as the init's own command
/// line (`skiff-init -- CMD...`) instead of skiff's, which holds host paths
/// and flags that are none of the container's business.
pub fn serve(child: Pid, args: &[std::ffi::CString]) -> ! {
    let _ = rustix::thread::set_name(c"skiff-init");
    hide_command_line(args);
    // Outside a pid namespace of its own, orphans go to the nearest
    // subreaper: be it.
    let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
    let set = waited();
    loop {
        match set.wait() {
            Ok(Signal::SIGCHLD) => {
                if let Some(code) = reap(child) {
                    crate::sys::proc::exit_now(code);
                }
            }
            Ok(sig) => {
                // The child may be gone already, its SIGCHLD still to come.
                let _ = kill(child, sig);
            }
            Err(_) => {}
        }
    }
}

/// Reap every child that has ended; the command's exit code once it is
/// among them.
fn reap(child: Pid) -> Option<i32> {
    let mut result = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == child => result = Some(code),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == child => {
                result = Some(128 + sig as i32)
            }
            Ok(WaitStatus::StillAlive) | Err(_) => return result,
            Ok(_) => {}
        }
    }
}

/// Overwrite the command line the kernel shows for this process (the
/// `argv` area of its stack) with `skiff-init -- ARGS`, cut to fit and
/// padded with NULs. Best effort: without /proc the old one stays.
fn hide_command_line(args: &[std::ffi::CString]) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    let Some((start, end)) = argv_area(&stat) else {
        return;
    };
    let Some(len) = end.checked_sub(start).filter(|l| *l > 0) else {
        return;
    };
    let Ok(mem) = std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/self/mem")
    else {
        return;
    };
    let _ = mem.write_at(&init_command_line(args, len as usize), start);
}

/// `skiff-init\0--\0ARG\0...`, cut to `len` bytes with a NUL last, and
/// padded with NULs to exactly `len`.
fn init_command_line(args: &[std::ffi::CString], len: usize) -> Vec<u8> {
    let mut line = b"skiff-init\0--\0".to_vec();
    for a in args {
        line.extend_from_slice(a.as_bytes_with_nul());
    }
    line.truncate(len.saturating_sub(1));
    line.resize(len, 0);
    line
}

/// `arg_start` and `arg_end` of `/proc/self/stat` (fields 48 and 49).
fn argv_area(stat: &str) -> Option<(u64, u64)> {
    // The command name (field 2) may hold spaces and parentheses: count
    // fields from the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3.
    let start = fields.get(48 - 3)?.parse().ok()?;
    let end = fields.get(49 - 3)?.parse().ok()?;
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;

    #[test]
    fn the_command_line_is_cut_and_padded_to_the_area() {
        let args = [CString::new("sh").unwrap(), CString::new("-c").unwrap()];
        assert_eq!(
            init_command_line(&args, 24),
            b"skiff-init\0--\0sh\0-c\0\0\0\0\0".to_vec()
        );
        let cut = init_command_line(&args, 8);
        assert_eq!(cut, b"skiff-i\0".to_vec());
    }

    #[test]
    fn argv_area_counts_fields_after_the_name() {
        let mut stat = String::from("42 (a) b) c) S");
        for n in 4..=52 {
            stat.push_str(&format!(" {n}"));
        }
        assert_eq!(argv_area(&stat), Some((48, 49)));
        assert_eq!(argv_area("1 (x) S 0"), None);
    }

    #[test]
    fn faults_are_not_waited_for() {
        let set = waited();
        assert!(set.contains(Signal::SIGTERM));
        assert!(set.contains(Signal::SIGCHLD));
        assert!(!set.contains(Signal::SIGSEGV));
    }
}
