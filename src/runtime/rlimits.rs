//! Resource limits (`process.rlimits`). A limit is never raised above the
//! current hard limit unless the kernel allows it: without
//! CAP_SYS_RESOURCE (this CI machine, rootless users) runc and crun fail
//! the whole container there; skiff lowers the limit to what it may set
//! and goes on.

use anyhow::{bail, Result};
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use oci_spec::runtime::{PosixRlimit, PosixRlimitType};

/// One limit to set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub resource: Resource,
    pub name: &'static str,
    pub soft: u64,
    pub hard: u64,
}

fn resource(t: PosixRlimitType) -> Result<(Resource, &'static str)> {
    use PosixRlimitType as T;
    Ok(match t {
        T::RlimitCpu => (Resource::RLIMIT_CPU, "RLIMIT_CPU"),
        T::RlimitFsize => (Resource::RLIMIT_FSIZE, "RLIMIT_FSIZE"),
        T::RlimitData => (Resource::RLIMIT_DATA, "RLIMIT_DATA"),
        T::RlimitStack => (Resource::RLIMIT_STACK, "RLIMIT_STACK"),
        T::RlimitCore => (Resource::RLIMIT_CORE, "RLIMIT_CORE"),
        T::RlimitRss => (Resource::RLIMIT_RSS, "RLIMIT_RSS"),
        T::RlimitNproc => (Resource::RLIMIT_NPROC, "RLIMIT_NPROC"),
        T::RlimitNofile => (Resource::RLIMIT_NOFILE, "RLIMIT_NOFILE"),
        T::RlimitMemlock => (Resource::RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"),
        T::RlimitAs => (Resource::RLIMIT_AS, "RLIMIT_AS"),
        T::RlimitLocks => (Resource::RLIMIT_LOCKS, "RLIMIT_LOCKS"),
        T::RlimitSigpending => (Resource::RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"),
        T::RlimitMsgqueue => (Resource::RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"),
        T::RlimitNice => (Resource::RLIMIT_NICE, "RLIMIT_NICE"),
        T::RlimitRtprio => (Resource::RLIMIT_RTPRIO, "RLIMIT_RTPRIO"),
        T::RlimitRttime => (Resource::RLIMIT_RTTIME, "RLIMIT_RTTIME"),
    })
}

/// The limits of a spec, checked.
pub fn from_spec(limits: &[PosixRlimit]) -> Result<Vec<Limit>> {
    let mut out: Vec<Limit> = Vec::with_capacity(limits.len());
    for l in limits {
        let (resource, name) = resource(l.typ())?;
        if l.soft() > l.hard() {
            bail!(
                "rlimit {name}: soft limit {} is above the hard limit {}",
                l.soft(),
                l.hard()
            );
        }
        if out.iter().any(|o| o.resource == resource) {
            bail!("rlimit {name} is given twice");
        }
        out.push(Limit {
            resource,
            name,
            soft: l.soft(),
            hard: l.hard(),
        });
    }
    Ok(out)
}

/// The (soft, hard) pair to set when the hard limit cannot be raised past
/// `current_hard`.
pub fn clamp(soft: u64, hard: u64, current_hard: u64) -> (u64, u64) {
    let hard = hard.min(current_hard);
    (soft.min(hard), hard)
}

/// Set `l` on the calling process: as asked when that does not raise the
/// hard limit or the kernel lets us raise it, else clamped.
pub fn apply(l: &Limit) -> Result<()> {
    let what = |e: nix::errno::Errno| {
        anyhow::anyhow!(
            "set {} to {}:{}: {}",
            l.name,
            l.soft,
            l.hard,
            super::errno_text(e as i32)
        )
    };
    let (_, current_hard) = getrlimit(l.resource).map_err(what)?;
    if l.hard <= current_hard {
        return setrlimit(l.resource, l.soft, l.hard).map_err(what);
    }
    match setrlimit(l.resource, l.soft, l.hard) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EPERM) => {
            let (soft, hard) = clamp(l.soft, l.hard, current_hard);
            setrlimit(l.resource, soft, hard).map_err(what)
        }
        Err(e) => Err(what(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::PosixRlimitBuilder;

    fn rl(t: PosixRlimitType, soft: u64, hard: u64) -> PosixRlimit {
        PosixRlimitBuilder::default()
            .typ(t)
            .soft(soft)
            .hard(hard)
            .build()
            .unwrap()
    }

    #[test]
    fn clamps_to_the_current_hard_limit() {
        assert_eq!(clamp(100, 200, 1000), (100, 200));
        assert_eq!(clamp(1 << 20, 1 << 20, 20000), (20000, 20000));
        assert_eq!(clamp(10, 1 << 20, 20000), (10, 20000));
    }

    #[test]
    fn maps_and_checks_spec_limits() {
        let v = from_spec(&[rl(PosixRlimitType::RlimitNofile, 10, 20)]).unwrap();
        assert_eq!(v[0].resource, Resource::RLIMIT_NOFILE);
        assert_eq!((v[0].soft, v[0].hard), (10, 20));
        let e = from_spec(&[rl(PosixRlimitType::RlimitNofile, 30, 20)]).unwrap_err();
        assert!(e.to_string().contains("above the hard limit"), "{e}");
        let e = from_spec(&[
            rl(PosixRlimitType::RlimitCore, 0, 0),
            rl(PosixRlimitType::RlimitCore, 1, 1),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("twice"), "{e}");
    }
}
