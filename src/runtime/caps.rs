//! Capabilities (`process.capabilities`): the bounding set is cut first,
//! while the process still holds CAP_SETPCAP; the other sets are set after
//! the user change, which the kernel survives only with keep-caps on (as
//! runc does it).

use anyhow::{anyhow, Context, Result};
pub use caps::CapsHashSet;
use caps::{CapSet, Capability};
use oci_spec::runtime::{Capabilities, LinuxCapabilities};
use std::str::FromStr;

/// The five sets to give the container's process. A set the spec leaves
/// out is empty, as runc reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapPlan {
    pub bounding: CapsHashSet,
    pub effective: CapsHashSet,
    pub inheritable: CapsHashSet,
    pub permitted: CapsHashSet,
    pub ambient: CapsHashSet,
}

fn convert(set: &Option<Capabilities>) -> Result<CapsHashSet> {
    let mut out = CapsHashSet::new();
    for c in set.iter().flatten() {
        let name = format!("CAP_{c}");
        let cap = Capability::from_str(&name).map_err(|_| anyhow!("unknown capability {name}"))?;
        out.insert(cap);
    }
    Ok(out)
}

/// The plan for a spec's capabilities; `None` leaves them as they are.
/// Capabilities outside `available` (skiff's own bounding set) are left
/// out: no process can gain them, and asking would fail the container (a
/// "privileged" container on a host that withholds CAP_SYS_RESOURCE, as
/// this CI machine does, gets everything else).
pub fn plan(c: Option<&LinuxCapabilities>, available: &CapsHashSet) -> Result<Option<CapPlan>> {
    let Some(c) = c else { return Ok(None) };
    let set = |s: &Option<Capabilities>, what: &str| -> Result<CapsHashSet> {
        let v = convert(s).with_context(|| format!("{what} capabilities"))?;
        Ok(v.intersection(available).copied().collect())
    };
    Ok(Some(CapPlan {
        bounding: set(c.bounding(), "bounding")?,
        effective: set(c.effective(), "effective")?,
        inheritable: set(c.inheritable(), "inheritable")?,
        permitted: set(c.permitted(), "permitted")?,
        ambient: set(c.ambient(), "ambient")?,
    }))
}

/// The capabilities this process could give a child: its bounding set.
pub fn available() -> CapsHashSet {
    caps::read(None, CapSet::Bounding).unwrap_or_else(|_| caps::all())
}

/// The kernel's bit mask of a set (`CapEff:` in /proc/PID/status).
pub fn mask(set: &CapsHashSet) -> u64 {
    set.iter().fold(0, |m, c| m | c.bitmask())
}

fn err(what: &str, e: caps::errors::CapsError) -> anyhow::Error {
    anyhow!("{what}: {e}")
}

/// Drop from the bounding set every capability the plan leaves out. Only
/// capabilities this kernel knows are dropped (the others cannot be held).
pub fn drop_bounding(p: &CapPlan) -> Result<()> {
    for cap in caps::runtime::thread_all_supported() {
        if !p.bounding.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap)
                .map_err(|e| err(&format!("drop {cap} from the bounding set"), e))?;
        }
    }
    Ok(())
}

/// Set the effective, inheritable, permitted and ambient sets. The order
/// matters: effective first (it must stay within permitted), permitted
/// last (it may shrink only once nothing above it needs it).
pub fn apply(p: &CapPlan) -> Result<()> {
    caps::set(None, CapSet::Effective, &p.effective)
        .map_err(|e| err("set effective capabilities", e))?;
    caps::set(None, CapSet::Inheritable, &p.inheritable)
        .map_err(|e| err("set inheritable capabilities", e))?;
    caps::set(None, CapSet::Permitted, &p.permitted)
        .map_err(|e| err("set permitted capabilities", e))?;
    // The kernel holds an ambient capability only when it is both
    // permitted and inheritable; others are skipped, as runc skips them
    // (`runc spec` itself asks for ambient capabilities it cannot hold).
    for cap in &p.ambient {
        if p.permitted.contains(cap) && p.inheritable.contains(cap) {
            caps::raise(None, CapSet::Ambient, *cap)
                .map_err(|e| err(&format!("raise ambient {cap}"), e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{Capability as C, LinuxCapabilitiesBuilder};

    #[test]
    fn converts_spec_names() {
        let set: Capabilities = [C::Chown, C::NetBindService, C::Kill].into_iter().collect();
        let lc = LinuxCapabilitiesBuilder::default()
            .bounding(set.clone())
            .effective(set)
            .ambient(Capabilities::new())
            .build()
            .unwrap();
        let p = plan(Some(&lc), &caps::all()).unwrap().unwrap();
        assert!(p.bounding.contains(&Capability::CAP_NET_BIND_SERVICE));
        assert_eq!(mask(&p.effective), (1 << 0) | (1 << 10) | (1 << 5));
        assert!(p.ambient.is_empty());
        assert!(plan(None, &caps::all()).unwrap().is_none());
        // What the host withholds is left out.
        let some: CapsHashSet = [Capability::CAP_CHOWN].into_iter().collect();
        let p = plan(Some(&lc), &some).unwrap().unwrap();
        assert_eq!(mask(&p.effective), 1);
    }

    #[test]
    fn dockers_default_mask() {
        let names = [
            C::Chown,
            C::DacOverride,
            C::Fsetid,
            C::Fowner,
            C::Mknod,
            C::NetRaw,
            C::Setgid,
            C::Setuid,
            C::Setfcap,
            C::Setpcap,
            C::NetBindService,
            C::SysChroot,
            C::Kill,
            C::AuditWrite,
        ];
        let set: Capabilities = names.into_iter().collect();
        let lc = LinuxCapabilitiesBuilder::default()
            .effective(set)
            .build()
            .unwrap();
        let p = plan(Some(&lc), &caps::all()).unwrap().unwrap();
        assert_eq!(mask(&p.effective), 0xa80425fb);
    }
}
