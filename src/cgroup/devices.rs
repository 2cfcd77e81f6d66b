//! The device rules (`linux.resources.devices`): which device nodes the
//! container may open or create. Later rules override earlier ones; what
//! no rule allows is refused. On v1 the devices controller's
//! `devices.deny`/`devices.allow` files take them; on cgroup2 (pure v2,
//! and the hybrid layout's controller-less group, which the kernel checks
//! as well) an eBPF program of type `CGROUP_DEVICE` attached to the
//! cgroup decides.

use super::fs::write;
use crate::sys::bpf::Insn;
use anyhow::{anyhow, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};
use std::path::Path;

/// The rules `res` carries, if any restrict anything (`--privileged`
/// ends with one allowing every device: nothing to enforce).
pub fn rules(res: &LinuxResources) -> Option<&[LinuxDeviceCgroup]> {
    let allows_all = |r: &LinuxDeviceCgroup| {
        r.allow()
            && kind(r) == Some('a')
            && r.major().is_none_or(|n| n < 0)
            && r.minor().is_none_or(|n| n < 0)
            && access_bits(access(r)) == 7
    };
    res.devices()
        .as_deref()
        .filter(|r| r.last().is_some_and(|l| !allows_all(l)))
}

/// `a`, `b` or `c` (a missing type is every device).
fn kind(r: &LinuxDeviceCgroup) -> Option<char> {
    match r.typ() {
        None | Some(LinuxDeviceType::A) => Some('a'),
        Some(LinuxDeviceType::B) => Some('b'),
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => Some('c'),
        // A FIFO is no device: no rule applies to it.
        Some(LinuxDeviceType::P) => None,
    }
}

fn number(n: Option<i64>) -> String {
    match n {
        Some(n) if n >= 0 => n.to_string(),
        _ => "*".into(),
    }
}

fn access(r: &LinuxDeviceCgroup) -> &str {
    r.access()
        .as_deref()
        .filter(|a| !a.is_empty())
        .unwrap_or("rwm")
}

/// v1: each rule written in order to `devices.allow` or `devices.deny`
/// (`c 1:3 rwm`). A new cgroup starts with its parent's rules; the usual
/// first rule, deny everything, clears them.
pub fn apply_v1(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    for r in rules {
        let Some(k) = kind(r) else { continue };
        let line = if k == 'a' && r.major().is_none() && r.minor().is_none() {
            "a".to_string()
        } else {
            format!(
                "{k} {}:{} {}",
                number(r.major()),
                number(r.minor()),
                access(r)
            )
        };
        let file = if r.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        };
        write(dir, file, &line)?;
    }
    Ok(())
}

/// `BPF_DEVCG_ACC_*` bits of an access string.
fn access_bits(a: &str) -> i32 {
    a.chars()
        .map(|c| match c {
            'm' => 1,
            'r' => 2,
            'w' => 4,
            _ => 0,
        })
        .fold(0, |acc, b| acc | b)
}

// eBPF opcodes (linux/bpf.h, linux/bpf_common.h).
const LDX_MEM_W: u8 = 0x61;
const ALU64_AND_K: u8 = 0x57;
const ALU64_RSH_K: u8 = 0x77;
const ALU64_MOV_K: u8 = 0xb7;
const ALU64_MOV_X: u8 = 0xbf;
const JMP_JEQ_K: u8 = 0x15;
const JMP_JNE_K: u8 = 0x55;
const JMP_EXIT: u8 = 0x95;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

/// The program deciding as `rules` do. The kernel hands it
/// `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`
/// in r1, the access bits in the high half of `access_type` and the
/// device type (1 block, 2 char) in the low. The rules are tried from the
/// last to the first; the first that matches answers (1 allows, 0
/// refuses); none matching refuses. An allowing rule matches when it
/// grants every access asked for, a refusing one when it names any.
pub fn program(rules: &[LinuxDeviceCgroup]) -> Vec<Insn> {
    let mut p = vec![
        // r2 = type, r3 = access, r4 = major, r5 = minor
        insn(LDX_MEM_W, 2, 1, 0, 0),
        insn(ALU64_AND_K, 2, 0, 0, 0xffff),
        insn(LDX_MEM_W, 3, 1, 0, 0),
        insn(ALU64_RSH_K, 3, 0, 0, 16),
        insn(LDX_MEM_W, 4, 1, 4, 0),
        insn(LDX_MEM_W, 5, 1, 8, 0),
    ];
    for r in rules.iter().rev() {
        let Some(k) = kind(r) else { continue };
        // Each test jumps past the block when the rule does not apply;
        // the offsets are set once the block's length is known.
        let mut block: Vec<Insn> = Vec::new();
        let mut skips = Vec::new();
        match k {
            'b' => {
                skips.push(block.len());
                block.push(insn(JMP_JNE_K, 2, 0, 0, 1));
            }
            'c' => {
                skips.push(block.len());
                block.push(insn(JMP_JNE_K, 2, 0, 0, 2));
            }
            _ => {}
        }
        let bits = access_bits(access(r));
        if bits != 7 {
            block.push(insn(ALU64_MOV_X, 0, 3, 0, 0));
            // Allowing: asked for something it does not grant, not it.
            // Refusing: asked for nothing it names, not it.
            let (mask, jump) = if r.allow() {
                (!bits & 7, JMP_JNE_K)
            } else {
                (bits, JMP_JEQ_K)
            };
            block.push(insn(ALU64_AND_K, 0, 0, 0, mask));
            skips.push(block.len());
            block.push(insn(jump, 0, 0, 0, 0));
        }
        for (reg, n) in [(4u8, r.major()), (5u8, r.minor())] {
            if let Some(n) = n.filter(|n| *n >= 0) {
                skips.push(block.len());
                block.push(insn(JMP_JNE_K, reg, 0, 0, n as i32));
            }
        }
        block.push(insn(ALU64_MOV_K, 0, 0, 0, r.allow() as i32));
        block.push(insn(JMP_EXIT, 0, 0, 0, 0));
        let len = block.len();
        let always = skips.is_empty();
        for at in skips {
            block[at].off = (len - at - 1) as i16;
        }
        p.extend(block);
        if always {
            // It answers every question: what follows could never run
            // (and the verifier refuses code that cannot).
            return p;
        }
    }
    p.push(insn(ALU64_MOV_K, 0, 0, 0, 0));
    p.push(insn(JMP_EXIT, 0, 0, 0, 0));
    p
}

/// v2: the rules' program, loaded and attached to the cgroup `dir`.
pub fn apply_v2(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    let prog = crate::sys::bpf::load_device_program(&program(rules))
        .map_err(|e| anyhow!("load the device rules of cgroup {}: {e}", dir.display()))?;
    let cg = std::fs::File::open(dir).map_err(|e| anyhow!("open cgroup {}: {e}", dir.display()))?;
    use std::os::fd::AsFd;
    crate::sys::bpf::attach_device_program(cg.as_fd(), prog.as_fd())
        .map_err(|e| anyhow!("attach the device rules to cgroup {}: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::defaults::{default_device_rules, device_rule};
    use LinuxDeviceType::{A, B, C};

    /// What the program answers, run by a tiny interpreter of the
    /// instructions it uses.
    fn run(p: &[Insn], typ: u32, acc: u32, major: u32, minor: u32) -> u64 {
        let ctx = [(acc << 16) | typ, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_MEM_W => {
                    assert_eq!(src, 1);
                    r[dst] = ctx[i.off as usize / 4] as u64;
                }
                ALU64_AND_K => r[dst] &= i.imm as i64 as u64,
                ALU64_RSH_K => r[dst] >>= i.imm,
                ALU64_MOV_K => r[dst] = i.imm as i64 as u64,
                ALU64_MOV_X => r[dst] = r[src],
                JMP_JEQ_K if r[dst] == i.imm as i64 as u64 => pc += i.off as usize,
                JMP_JNE_K if r[dst] != i.imm as i64 as u64 => pc += i.off as usize,
                JMP_JEQ_K | JMP_JNE_K => {}
                JMP_EXIT => return r[0],
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    const READ: u32 = 2;
    const MKNOD: u32 = 1;
    const RW: u32 = 6;

    #[test]
    fn the_default_rules_allow_the_standard_devices_only() {
        let p = program(&default_device_rules(false));
        // /dev/null, /dev/zero, /dev/urandom, a pts, /dev/ptmx.
        for (maj, min) in [(1, 3), (1, 5), (1, 9), (136, 4), (5, 2)] {
            assert_eq!(run(&p, 2, RW, maj, min), 1, "c {maj}:{min}");
        }
        // A disk, /dev/mem, a loop device: refused, but made with mknod.
        assert_eq!(run(&p, 1, READ, 254, 0), 0);
        assert_eq!(run(&p, 2, READ, 1, 1), 0);
        assert_eq!(run(&p, 1, RW, 7, 0), 0);
        assert_eq!(run(&p, 1, MKNOD, 7, 0), 1);
        assert_eq!(run(&p, 2, MKNOD, 10, 200), 1);
        // Privileged: everything.
        let p = program(&default_device_rules(true));
        assert_eq!(run(&p, 1, RW, 254, 0), 1);
    }

    #[test]
    fn later_rules_win_and_partial_access_counts() {
        let rules = [
            device_rule(false, A, None, None, "rwm"),
            device_rule(true, B, Some(7), None, "r"),
            device_rule(false, B, Some(7), Some(1), "w"),
        ];
        let p = program(&rules);
        assert_eq!(run(&p, 1, READ, 7, 0), 1);
        // Asks for more than the rule grants.
        assert_eq!(run(&p, 1, RW, 7, 0), 0);
        // The refusing rule names write: read-write is refused, read not.
        assert_eq!(run(&p, 1, RW, 7, 1), 0);
        assert_eq!(run(&p, 1, READ, 7, 1), 1);
        assert_eq!(run(&p, 2, READ, 7, 0), 0);
        // No rules: nothing.
        assert_eq!(run(&program(&[]), 2, READ, 1, 3), 0);
        let _ = C;
    }

    #[test]
    fn v1_writes_each_rule_in_order() {
        let d = tempfile::tempdir().unwrap();
        for f in ["devices.allow", "devices.deny"] {
            std::fs::write(d.path().join(f), "").unwrap();
        }
        // Each write replaces the file's content here: the last line of
        // each kind is what stays.
        apply_v1(
            d.path(),
            &[
                device_rule(false, A, None, None, "rwm"),
                device_rule(true, C, Some(136), None, "rwm"),
            ],
        )
        .unwrap();
        let read = |f: &str| std::fs::read_to_string(d.path().join(f)).unwrap();
        assert_eq!(read("devices.deny"), "a");
        assert_eq!(read("devices.allow"), "c 136:* rwm");
    }

    #[test]
    fn the_kernel_takes_the_default_program() {
        // Loading needs CAP_BPF or CAP_SYS_ADMIN: the tests run as root.
        for privileged in [false, true] {
            crate::sys::bpf::load_device_program(&program(&default_device_rules(privileged)))
                .unwrap();
        }
    }
}
