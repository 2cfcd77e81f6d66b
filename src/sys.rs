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
