//! `linux.seccomp` compiled to BPF with seccompiler.
//!
//! seccompiler builds one filter with a single "match" action, while an OCI
//! profile gives each rule its own action (Docker's: ALLOW for most calls,
//! ERRNO(ENOSYS) for clone3, EPERM by default). The kernel runs every
//! installed filter and keeps the most restrictive answer, so the profile
//! becomes a stack:
//!
//! - a base filter: any call some rule names (under that rule's argument
//!   conditions) is allowed, everything else gets the default action;
//! - one filter per other action: the calls of that action's rules get it,
//!   everything else is allowed.
//!
//! A call a rule matches thus ends with that rule's action, any other call
//! with the default. Calls the target architecture does not have are
//! skipped, as libseccomp skips them. Only the native ABI is allowed in:
//! another one (32-bit x86 on x86_64) is killed by every filter.

use super::syscall_table;
use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use std::collections::BTreeMap;

/// The compiled filters, in the order to install them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters {
    pub programs: Vec<BpfProgram>,
}

/// How a call matches within one action's rules.
#[derive(Debug, Clone)]
enum Match {
    /// Whatever its arguments.
    Always,
    /// When any of these rules (each a conjunction of conditions) holds.
    When(Vec<SeccompRule>),
}

impl Match {
    fn merge(&mut self, other: Match) {
        match (self, other) {
            (Match::Always, _) => {}
            (s @ Match::When(_), Match::Always) => *s = Match::Always,
            (Match::When(a), Match::When(b)) => a.extend(b),
        }
    }
}

type Rules = BTreeMap<i64, Match>;

fn action(a: LinuxSeccompAction, errno: Option<u32>) -> Result<SeccompAction> {
    use LinuxSeccompAction as A;
    Ok(match a {
        A::ScmpActKill | A::ScmpActKillThread => SeccompAction::KillThread,
        A::ScmpActKillProcess => SeccompAction::KillProcess,
        A::ScmpActTrap => SeccompAction::Trap,
        A::ScmpActErrno => SeccompAction::Errno(errno.unwrap_or(libc::EPERM as u32)),
        A::ScmpActTrace => SeccompAction::Trace(errno.unwrap_or(0)),
        A::ScmpActLog => SeccompAction::Log,
        A::ScmpActAllow => SeccompAction::Allow,
        A::ScmpActNotify => bail!("seccomp action SCMP_ACT_NOTIFY is not supported"),
    })
}

fn condition(a: &oci_spec::runtime::LinuxSeccompArg) -> Result<SeccompCondition> {
    use LinuxSeccompOperator as O;
    let (op, value) = match a.op() {
        O::ScmpCmpNe => (SeccompCmpOp::Ne, a.value()),
        O::ScmpCmpLt => (SeccompCmpOp::Lt, a.value()),
        O::ScmpCmpLe => (SeccompCmpOp::Le, a.value()),
        O::ScmpCmpEq => (SeccompCmpOp::Eq, a.value()),
        O::ScmpCmpGe => (SeccompCmpOp::Ge, a.value()),
        O::ScmpCmpGt => (SeccompCmpOp::Gt, a.value()),
        // libseccomp's MASKED_EQ: (arg & value) == valueTwo.
        O::ScmpCmpMaskedEq => (
            SeccompCmpOp::MaskedEq(a.value()),
            a.value_two().unwrap_or(0),
        ),
    };
    let index = u8::try_from(a.index()).map_err(|_| anyhow!("argument index {}", a.index()))?;
    SeccompCondition::new(index, SeccompCmpArgLen::Qword, op, value)
        .map_err(|e| anyhow!("argument {}: {e}", a.index()))
}

/// Compile a spec's seccomp section. An empty result means there is
/// nothing to install (everything allowed).
pub fn compile(s: &LinuxSeccomp) -> Result<Filters> {
    let default = action(s.default_action(), s.default_errno_ret()).context("seccomp")?;
    if s.listener_path().is_some() {
        bail!("seccomp: a notify listener is not supported");
    }
    let mut groups: Vec<(SeccompAction, Rules)> = Vec::new();
    for sc in s.syscalls().iter().flatten() {
        let act = action(sc.action(), sc.errno_ret())
            .with_context(|| format!("seccomp rule for {}", sc.names().join(",")))?;
        if act == default {
            continue;
        }
        let conds = sc
            .args()
            .iter()
            .flatten()
            .map(condition)
            .collect::<Result<Vec<_>>>()
            .with_context(|| format!("seccomp rule for {}", sc.names().join(",")))?;
        let m = if conds.is_empty() {
            Match::Always
        } else {
            Match::When(vec![
                SeccompRule::new(conds).map_err(|e| anyhow!("seccomp: {e}"))?
            ])
        };
        let idx = match groups.iter().position(|(a, _)| *a == act) {
            Some(i) => i,
            None => {
                groups.push((act, Rules::new()));
                groups.len() - 1
            }
        };
        for name in sc.names() {
            let Some(nr) = syscall_table::number(name) else {
                continue;
            };
            match groups[idx].1.get_mut(&nr) {
                Some(existing) => existing.merge(m.clone()),
                None => {
                    groups[idx].1.insert(nr, m.clone());
                }
            }
        }
    }
    let arch: TargetArch = std::env::consts::ARCH
        .try_into()
        .map_err(|e| anyhow!("seccomp: {e}"))?;
    let mut programs = Vec::new();
    if default != SeccompAction::Allow {
        let mut all = Rules::new();
        for (_, rules) in &groups {
            for (nr, m) in rules {
                match all.get_mut(nr) {
                    Some(existing) => existing.merge(m.clone()),
                    None => {
                        all.insert(*nr, m.clone());
                    }
                }
            }
        }
        programs.push(build(all, default.clone(), SeccompAction::Allow, arch)?);
    }
    for (act, rules) in groups {
        if act != SeccompAction::Allow && !rules.is_empty() {
            programs.push(build(rules, SeccompAction::Allow, act, arch)?);
        }
    }
    Ok(Filters { programs })
}

fn build(
    rules: Rules,
    mismatch: SeccompAction,
    matched: SeccompAction,
    arch: TargetArch,
) -> Result<BpfProgram> {
    let map: BTreeMap<i64, Vec<SeccompRule>> = rules
        .into_iter()
        .map(|(nr, m)| match m {
            Match::Always => (nr, Vec::new()),
            Match::When(r) => (nr, r),
        })
        .collect();
    let filter =
        SeccompFilter::new(map, mismatch, matched, arch).map_err(|e| anyhow!("seccomp: {e}"))?;
    BpfProgram::try_from(filter).map_err(|e| anyhow!("seccomp: {e}"))
}

/// Install the filters on the calling thread, in order.
pub fn install(f: &Filters) -> Result<()> {
    for p in &f.programs {
        crate::sys::seccomp::install_filter(p)
            .map_err(|e| anyhow!("load seccomp filter: {}", super::io_text(&e)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{
        LinuxSeccompArgBuilder, LinuxSeccompBuilder, LinuxSyscall, LinuxSyscallBuilder,
    };
    use seccompiler::sock_filter;

    const RET_ACTION_FULL: u32 = 0xffff_0000;

    /// A classic-BPF interpreter for the instructions seccompiler emits.
    fn run(prog: &[sock_filter], nr: i64, args: [u64; 6]) -> u32 {
        let arch: u32 = match std::env::consts::ARCH {
            "x86_64" => 0xc000_003e,
            "aarch64" => 0xc000_00b7,
            other => panic!("no audit arch for {other}"),
        };
        let word = |off: u32| -> u32 {
            match off {
                0 => nr as u32,
                4 => arch,
                o if o >= 16 => {
                    let i = ((o - 16) / 8) as usize;
                    if (o - 16) % 8 == 0 {
                        args[i] as u32
                    } else {
                        (args[i] >> 32) as u32
                    }
                }
                o => panic!("load at {o}"),
            }
        };
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let i = &prog[pc];
            pc += 1;
            match i.code {
                0x20 => acc = word(i.k),    // ld w abs
                0x54 => acc &= i.k,         // alu and k
                0x06 => return i.k,         // ret k
                0x05 => pc += i.k as usize, // ja
                0x15 | 0x25 | 0x35 | 0x45 => {
                    let t = match i.code {
                        0x15 => acc == i.k,
                        0x25 => acc > i.k,
                        0x35 => acc >= i.k,
                        _ => acc & i.k != 0,
                    };
                    pc += if t { i.jt } else { i.jf } as usize;
                }
                c => panic!("unexpected BPF code {c:#x}"),
            }
        }
    }

    /// The kernel's verdict over a stack of filters: the most restrictive.
    fn verdict(f: &Filters, name: &str, args: [u64; 6]) -> u32 {
        let nr = syscall_table::number(name).unwrap();
        let mut ret = libc::SECCOMP_RET_ALLOW;
        for p in f.programs.iter().rev() {
            let r = run(p, nr, args);
            if ((r & RET_ACTION_FULL) as i32) < ((ret & RET_ACTION_FULL) as i32) {
                ret = r;
            }
        }
        ret
    }

    fn rule(names: &[&str], action: LinuxSeccompAction) -> LinuxSyscall {
        LinuxSyscallBuilder::default()
            .names(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .action(action)
            .build()
            .unwrap()
    }

    const ERRNO: u32 = libc::SECCOMP_RET_ERRNO;
    const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;

    #[test]
    fn allowlist_with_conditions_and_a_second_errno() {
        let clone_ok = LinuxSyscallBuilder::default()
            .names(vec!["clone".to_string()])
            .action(LinuxSeccompAction::ScmpActAllow)
            .args(vec![LinuxSeccompArgBuilder::default()
                .index(0usize)
                .value(0x7e02_0000u64)
                .value_two(0u64)
                .op(LinuxSeccompOperator::ScmpCmpMaskedEq)
                .build()
                .unwrap()])
            .build()
            .unwrap();
        let personality = LinuxSyscallBuilder::default()
            .names(vec!["personality".to_string()])
            .action(LinuxSeccompAction::ScmpActAllow)
            .args(vec![LinuxSeccompArgBuilder::default()
                .index(0usize)
                .value(0xffff_ffffu64)
                .op(LinuxSeccompOperator::ScmpCmpEq)
                .build()
                .unwrap()])
            .build()
            .unwrap();
        let clone3 = LinuxSyscallBuilder::default()
            .names(vec!["clone3".to_string()])
            .action(LinuxSeccompAction::ScmpActErrno)
            .errno_ret(libc::ENOSYS as u32)
            .build()
            .unwrap();
        let s = LinuxSeccompBuilder::default()
            .default_action(LinuxSeccompAction::ScmpActErrno)
            .syscalls(vec![
                rule(
                    &["read", "write", "getpid", "no_such_call"],
                    LinuxSeccompAction::ScmpActAllow,
                ),
                clone_ok,
                personality,
                clone3,
            ])
            .build()
            .unwrap();
        let f = compile(&s).unwrap();
        assert_eq!(f.programs.len(), 2);
        let none = [0u64; 6];
        assert_eq!(verdict(&f, "getpid", none), ALLOW);
        assert_eq!(verdict(&f, "mount", none), ERRNO | libc::EPERM as u32);
        assert_eq!(verdict(&f, "clone3", none), ERRNO | libc::ENOSYS as u32);
        let sigchld = [libc::SIGCHLD as u64, 0, 0, 0, 0, 0];
        assert_eq!(verdict(&f, "clone", sigchld), ALLOW);
        let newuser = [(libc::CLONE_NEWUSER | libc::SIGCHLD) as u64, 0, 0, 0, 0, 0];
        assert_eq!(verdict(&f, "clone", newuser), ERRNO | libc::EPERM as u32);
        assert_eq!(
            verdict(&f, "personality", [0xffff_ffff, 0, 0, 0, 0, 0]),
            ALLOW
        );
        assert_eq!(
            verdict(&f, "personality", [8, 0, 0, 0, 0, 0]),
            ERRNO | libc::EPERM as u32
        );
    }

    #[test]
    fn denylist_over_allow_by_default() {
        let deny = LinuxSyscallBuilder::default()
            .names(vec!["mount".to_string(), "unshare".to_string()])
            .action(LinuxSeccompAction::ScmpActErrno)
            .errno_ret(libc::EPERM as u32)
            .build()
            .unwrap();
        let s = LinuxSeccompBuilder::default()
            .default_action(LinuxSeccompAction::ScmpActAllow)
            .syscalls(vec![
                deny,
                rule(&["getpid"], LinuxSeccompAction::ScmpActAllow),
            ])
            .build()
            .unwrap();
        let f = compile(&s).unwrap();
        assert_eq!(f.programs.len(), 1);
        assert_eq!(verdict(&f, "unshare", [0; 6]), ERRNO | libc::EPERM as u32);
        assert_eq!(verdict(&f, "getpid", [0; 6]), ALLOW);
        assert_eq!(verdict(&f, "read", [0; 6]), ALLOW);
    }

    #[test]
    fn allow_everything_installs_nothing_and_notify_is_refused() {
        let s = LinuxSeccompBuilder::default()
            .default_action(LinuxSeccompAction::ScmpActAllow)
            .build()
            .unwrap();
        assert!(compile(&s).unwrap().programs.is_empty());
        let s = LinuxSeccompBuilder::default()
            .default_action(LinuxSeccompAction::ScmpActErrno)
            .syscalls(vec![rule(&["read"], LinuxSeccompAction::ScmpActNotify)])
            .build()
            .unwrap();
        assert!(format!("{:#}", compile(&s).unwrap_err()).contains("SCMP_ACT_NOTIFY"));
    }
}
