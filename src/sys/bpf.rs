//! Loading an eBPF program of type `BPF_PROG_TYPE_CGROUP_DEVICE` and
//! attaching it to a cgroup2 directory (the device rules of a container
//! on cgroup v2; see `cgroup::devices`).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Programs of the parents and of this cgroup all run (each may refuse).
const BPF_F_ALLOW_MULTI: u32 = 2;

/// One eBPF instruction, as the kernel lays it out.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    /// Destination register in the low four bits, source in the high.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

/// The leading fields of `union bpf_attr` for `BPF_PROG_LOAD`.
#[repr(C)]
#[derive(Default)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
}

/// The leading fields of `union bpf_attr` for `BPF_PROG_ATTACH`.
#[repr(C)]
#[derive(Default)]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a repr(C) prefix of `union bpf_attr` whose size is
    // passed along (the kernel reads no further and zero-fills the rest);
    // pointers inside it point at memory that outlives the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Load `prog` as a cgroup device program; on a verifier refusal the
/// error carries the verifier's last line.
pub fn load_device_program(prog: &[Insn]) -> io::Result<OwnedFd> {
    let license = c"Apache";
    let mut log = vec![0u8; 4096];
    let mut attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..Default::default()
    };
    let fd = match bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => fd,
        Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EINVAL)) => {
            // Loaded again with the verifier's log, to say why.
            attr.log_level = 1;
            attr.log_size = log.len() as u32;
            attr.log_buf = log.as_mut_ptr() as u64;
            let _ = bpf(BPF_PROG_LOAD, &mut attr);
            let text = String::from_utf8_lossy(&log);
            let first = text
                .trim_end_matches('\0')
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            return Err(io::Error::new(
                e.kind(),
                format!("the kernel's verifier refused it: {first}"),
            ));
        }
        Err(e) => return Err(e),
    };
    // SAFETY: a successful BPF_PROG_LOAD returns a new descriptor that
    // nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Attach the device program `prog` to the cgroup2 directory `cgroup`
/// (open for reading: an O_PATH descriptor is refused). It stays attached
/// for as long as the cgroup exists.
pub fn attach_device_program(cgroup: BorrowedFd, prog: BorrowedFd) -> io::Result<()> {
    let mut attr = ProgAttach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map(drop)
}
