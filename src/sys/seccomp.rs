//! Installing a compiled seccomp filter.

use std::io;

/// Install `prog` on the calling thread with seccomp(2). Unlike
/// `seccompiler::apply_filter` it does not set no_new_privs: the OCI spec
/// decides that, and Docker's containers run without it. Without it the
/// kernel demands CAP_SYS_ADMIN, which the caller arranges.
pub fn install_filter(prog: &[seccompiler::sock_filter]) -> io::Result<()> {
    let len = u16::try_from(prog.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "seccomp program too long"))?;
    let fprog = libc::sock_fprog {
        len,
        filter: prog.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: seccompiler's sock_filter has the kernel's layout (u16, u8,
    // u8, u32, repr(C)), the same as libc's; the kernel copies the program
    // during the call and keeps no pointer to our memory.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0 as libc::c_ulong,
            &fprog as *const libc::sock_fprog,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
