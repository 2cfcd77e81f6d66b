//! The crate's only home for `unsafe`: thin wrappers over system calls that
//! no safe crate offers, each block with a `// SAFETY:` note.
#![allow(unsafe_code)]

use std::os::fd::AsRawFd;

/// Is this file descriptor a terminal?
pub fn isatty<F: AsRawFd>(f: &F) -> bool {
    // SAFETY: isatty only inspects the descriptor number; an invalid one
    // yields 0 with errno set, never undefined behaviour.
    unsafe { libc::isatty(f.as_raw_fd()) == 1 }
}

/// Flush every dirty page of the file system holding `f` (syncfs(2)).
pub fn syncfs<F: AsRawFd>(f: &F) -> std::io::Result<()> {
    // SAFETY: syncfs takes a descriptor and touches no memory of ours.
    let r = unsafe { libc::syncfs(f.as_raw_fd()) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Ask a netlink socket for the kernel's extended error messages
/// (`NETLINK_EXT_ACK`), which say what was wrong beyond the errno.
pub fn netlink_ext_ack<F: std::os::fd::AsFd>(f: &F) -> std::io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt reads exactly size_of::<c_int>() bytes from `on`,
    // a live local; a bad descriptor only yields an error.
    let r = unsafe {
        libc::setsockopt(
            f.as_fd().as_raw_fd(),
            libc::SOL_NETLINK,
            libc::NETLINK_EXT_ACK,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Read a line from the terminal on stdin with echo off (for passwords).
pub fn read_password(prompt: &str) -> std::io::Result<String> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    use std::io::{BufRead, Write};
    let stdin = std::io::stdin();
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let saved = tcgetattr(&stdin).map_err(std::io::Error::from)?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    tcsetattr(&stdin, SetArg::TCSANOW, &quiet).map_err(std::io::Error::from)?;
    let mut line = String::new();
    let res = stdin.lock().read_line(&mut line);
    let _ = tcsetattr(&stdin, SetArg::TCSANOW, &saved);
    eprintln!();
    res?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub mod bpf;
pub mod fork;
pub mod mem;
pub mod mount;
pub mod proc;
pub mod seccomp;
