//! The exec trampoline: the container's command is started through a tiny
//! program in a sealed memfd instead of straight from skiff's init.
//!
//! Why (CVE-2019-5736): until its `execve`, the init is a fork of skiff,
//! so its `/proc/self/exe` is skiff's binary. A command that is
//! `/proc/self/exe`, or a script whose interpreter is, would make that
//! binary the container's own process, where other processes of the
//! container could open it and later write it. Exec'ing the command from
//! the trampoline means that at that moment `/proc/self/exe` is the
//! trampoline: a few hundred bytes in a sealed memfd, harmless to run and
//! impossible to write. Before that moment the init is the only process of
//! its new pid namespace, so no process of the container can reach it.
//! (Where that does not hold — a shared pid namespace, another
//! architecture, memfds that may not be executed — skiff re-executes
//! itself from a sealed copy instead: see `seal`.)
//!
//! The trampoline runs `execve(argv[0], argv + 1, envp)`. The init leaves
//! the sync socket at descriptor 3, open across this first exec; the
//! trampoline marks it close-on-exec, so the socket closes exactly when the
//! command starts, and on failure writes `[TAG, errno]` to it and exits.
//! It costs one exec of a static 300-byte program, against a re-exec of
//! skiff's multi-megabyte binary (2 ms here).

use anyhow::{anyhow, bail, Result};
use rustix::fs::{MemfdFlags, SealFlags};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;

/// The descriptor the trampoline reports on.
pub const SYNC_FD: i32 = 3;

/// The message tag of the trampoline's report (see `sync`).
pub const TAG_EXEC_ERRNO: u8 = 4;

/// The trampoline's machine code for x86_64:
///
/// ```text
///  mov edi,3; mov esi,2 (F_SETFD); mov edx,1 (FD_CLOEXEC); mov eax,72; syscall  ; fcntl
///  test eax,eax; jnz fail
///  mov rdi,[rsp+8]; lea rsi,[rsp+16]; mov rax,[rsp]; lea rdx,[rsp+rax*8+16]
///  mov eax,59; syscall                                                         ; execve
/// fail:
///  neg eax; mov byte [rsp-2],4; mov [rsp-1],al
///  mov edi,3; lea rsi,[rsp-2]; mov edx,2; mov eax,1; syscall                   ; write
///  mov edi,127; mov eax,231; syscall                                           ; exit_group
/// ```
#[cfg(target_arch = "x86_64")]
const CODE: Option<(u16, &[u8])> = Some((
    0x3e, // EM_X86_64
    &[
        0xbf,
        0x03,
        0x00,
        0x00,
        0x00,
        0xbe,
        0x02,
        0x00,
        0x00,
        0x00,
        0xba,
        0x01,
        0x00,
        0x00,
        0x00,
        0xb8,
        0x48,
        0x00,
        0x00,
        0x00,
        0x0f,
        0x05,
        0x85,
        0xc0,
        0x75,
        0x1a,
        0x48,
        0x8b,
        0x7c,
        0x24,
        0x08,
        0x48,
        0x8d,
        0x74,
        0x24,
        0x10,
        0x48,
        0x8b,
        0x04,
        0x24,
        0x48,
        0x8d,
        0x54,
        0xc4,
        0x10,
        0xb8,
        0x3b,
        0x00,
        0x00,
        0x00,
        0x0f,
        0x05,
        0xf7,
        0xd8,
        0xc6,
        0x44,
        0x24,
        0xfe,
        TAG_EXEC_ERRNO,
        0x88,
        0x44,
        0x24,
        0xff,
        0xbf,
        0x03,
        0x00,
        0x00,
        0x00,
        0x48,
        0x8d,
        0x74,
        0x24,
        0xfe,
        0xba,
        0x02,
        0x00,
        0x00,
        0x00,
        0xb8,
        0x01,
        0x00,
        0x00,
        0x00,
        0x0f,
        0x05,
        0xbf,
        0x7f,
        0x00,
        0x00,
        0x00,
        0xb8,
        0xe7,
        0x00,
        0x00,
        0x00,
        0x0f,
        0x05,
    ],
));

#[cfg(not(target_arch = "x86_64"))]
const CODE: Option<(u16, &[u8])> = None;

const BASE: u64 = 0x40_0000;
const EHDR: usize = 64;
const PHDR: usize = 56;

/// A static ELF64 executable: one read+execute segment holding `code`
/// (entered at its start) and a non-executable stack.
pub fn elf(machine: u16, code: &[u8]) -> Vec<u8> {
    let headers = EHDR + 2 * PHDR;
    let size = (headers + code.len()) as u64;
    let mut v = Vec::with_capacity(headers + code.len());
    // e_ident: magic, 64-bit, little-endian, version 1, System V ABI.
    v.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    v.extend_from_slice(&2u16.to_le_bytes()); // e_type: ET_EXEC
    v.extend_from_slice(&machine.to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes()); // e_version
    v.extend_from_slice(&(BASE + headers as u64).to_le_bytes()); // e_entry
    v.extend_from_slice(&(EHDR as u64).to_le_bytes()); // e_phoff
    v.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    v.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    v.extend_from_slice(&(EHDR as u16).to_le_bytes());
    v.extend_from_slice(&(PHDR as u16).to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes()); // e_phnum
    v.extend_from_slice(&[0; 6]); // no section headers
                                  // PT_LOAD, R+X, the whole file at BASE.
    v.extend_from_slice(&1u32.to_le_bytes());
    v.extend_from_slice(&5u32.to_le_bytes());
    v.extend_from_slice(&0u64.to_le_bytes());
    v.extend_from_slice(&BASE.to_le_bytes());
    v.extend_from_slice(&BASE.to_le_bytes());
    v.extend_from_slice(&size.to_le_bytes());
    v.extend_from_slice(&size.to_le_bytes());
    v.extend_from_slice(&0x1000u64.to_le_bytes());
    // PT_GNU_STACK, R+W.
    v.extend_from_slice(&0x6474_e551u32.to_le_bytes());
    v.extend_from_slice(&6u32.to_le_bytes());
    v.extend_from_slice(&[0; 40]);
    v.extend_from_slice(&16u64.to_le_bytes());
    v.extend_from_slice(code);
    v
}

fn create() -> Result<OwnedFd> {
    let Some((machine, code)) = CODE else {
        bail!("no exec trampoline for {}", std::env::consts::ARCH);
    };
    let err = |what: &str, e: rustix::io::Errno| anyhow!("{what}: {}", super::io_text(&e.into()));
    let flags = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
    // MFD_EXEC (Linux 6.3) keeps the memfd executable where
    // vm.memfd_noexec makes memfds non-executable by default; older
    // kernels reject the flag and make them executable anyway.
    let fd = match rustix::fs::memfd_create("skiff-exec", flags | MemfdFlags::EXEC) {
        Err(rustix::io::Errno::INVAL) => rustix::fs::memfd_create("skiff-exec", flags),
        r => r,
    }
    .map_err(|e| err("create the exec trampoline", e))?;
    let bytes = elf(machine, code);
    let mut off = 0;
    while off < bytes.len() {
        off += rustix::io::write(&fd, &bytes[off..])
            .map_err(|e| err("write the exec trampoline", e))?;
    }
    rustix::fs::fcntl_add_seals(
        &fd,
        SealFlags::SEAL | SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE,
    )
    .map_err(|e| err("seal the exec trampoline", e))?;
    Ok(fd)
}

/// The trampoline of this process, made on first use.
pub fn get() -> Result<BorrowedFd<'static>> {
    static T: OnceLock<Result<OwnedFd, String>> = OnceLock::new();
    match T.get_or_init(|| create().map_err(|e| format!("{e:#}"))) {
        Ok(fd) => Ok(fd.as_fd()),
        Err(e) => Err(anyhow!("{e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_static_elf() {
        let code = [0x90u8, 0xc3];
        let e = elf(0x3e, &code);
        assert_eq!(&e[..4], b"\x7fELF");
        assert_eq!(e.len(), EHDR + 2 * PHDR + code.len());
        let u64_at = |o: usize| u64::from_le_bytes(e[o..o + 8].try_into().unwrap());
        let u16_at = |o: usize| u16::from_le_bytes(e[o..o + 2].try_into().unwrap());
        assert_eq!(u16_at(18), 0x3e);
        assert_eq!(
            u64_at(24),
            BASE + (EHDR + 2 * PHDR) as u64,
            "entry at the code"
        );
        assert_eq!(u16_at(56), 2, "two program headers");
        assert_eq!(u64_at(EHDR + 32), e.len() as u64, "filesz");
        assert_eq!(&e[e.len() - 2..], &code);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn trampoline_is_sealed() {
        let fd = get().unwrap();
        let seals = rustix::fs::fcntl_get_seals(fd).unwrap();
        assert!(seals.contains(SealFlags::WRITE | SealFlags::SEAL));
        assert!(rustix::io::write(fd, b"x").is_err());
    }
}
