//! `skiff update`'s flags: the limits to change, checked alone as Docker's
//! daemon checks them, then laid over a container's own with its rules
//! between the old values and the new (Docker's `UpdateContainer`).

use super::bad;
use super::life::parse_restart;
use super::resources::{ResourceFlags, Resources};
use crate::store::RestartPolicy;
use anyhow::Result;

/// The flags as given.
#[derive(Debug, Clone, Default)]
pub struct UpdateFlags {
    /// Only the limits `update` takes are read: the memory, CPU and pids
    /// ones and `blkio_weight`.
    pub resources: ResourceFlags,
    pub restart: Option<String>,
}

/// What to change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    /// The limits given; zero or empty where none was (those stay).
    pub given: Resources,
    /// `--pids-limit` as given: zero or below lifts the limit.
    pub pids_limit: Option<i64>,
    pub restart: Option<RestartPolicy>,
}

impl Update {
    pub fn parse(f: &UpdateFlags) -> Result<Update> {
        let r = &f.resources;
        let flags = ResourceFlags {
            memory: r.memory.clone(),
            memory_swap: r.memory_swap.clone(),
            memory_reservation: r.memory_reservation.clone(),
            pids_limit: r.pids_limit,
            cpus: r.cpus.clone(),
            cpu_shares: r.cpu_shares,
            cpu_period: r.cpu_period,
            cpu_quota: r.cpu_quota,
            cpuset_cpus: r.cpuset_cpus.clone(),
            cpuset_mems: r.cpuset_mems.clone(),
            blkio_weight: r.blkio_weight,
            ..Default::default()
        };
        Ok(Update {
            given: Resources::parse_given(&flags, true)?,
            pids_limit: r.pids_limit,
            restart: f.restart.as_deref().map(parse_restart).transpose()?,
        })
    }

    /// A `--restart` other than `no` on a container that removes itself.
    pub fn check_restart(&self, auto_remove: bool) -> Result<()> {
        if auto_remove && self.restart.as_ref().is_some_and(|p| !p.is_none()) {
            return Err(bad(
                "Restart policy cannot be updated because AutoRemove is enabled for the container",
            ));
        }
        Ok(())
    }

    /// The container's limits `now` with the update laid over them.
    pub fn apply(&self, now: &Resources) -> Result<Resources> {
        let g = &self.given;
        // `--cpus` sets the CFS period and quota: once one way is used,
        // the other cannot be updated.
        for (asked, set, msg) in [
            (
                g.nano_cpus,
                now.cpu_period,
                "Nano CPUs cannot be updated as CPU Period has already been set",
            ),
            (
                g.nano_cpus,
                now.cpu_quota,
                "Nano CPUs cannot be updated as CPU Quota has already been set",
            ),
            (
                g.cpu_period,
                now.nano_cpus,
                "CPU Period cannot be updated as NanoCPUs has already been set",
            ),
            (
                g.cpu_quota,
                now.nano_cpus,
                "CPU Quota cannot be updated as NanoCPUs has already been set",
            ),
        ] {
            if asked > 0 && set > 0 {
                return Err(bad(format!("Conflicting options: {msg}")));
            }
        }
        if g.memory != 0 && now.memory_swap > 0 && g.memory > now.memory_swap && g.memory_swap == 0
        {
            return Err(bad(
                "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time",
            ));
        }
        let mut r = now.clone();
        let pick = |new: i64, old: &mut i64| {
            if new != 0 {
                *old = new;
            }
        };
        pick(g.memory, &mut r.memory);
        pick(g.memory_swap, &mut r.memory_swap);
        pick(g.memory_reservation, &mut r.memory_reservation);
        pick(g.nano_cpus, &mut r.nano_cpus);
        pick(g.cpu_shares, &mut r.cpu_shares);
        pick(g.cpu_period, &mut r.cpu_period);
        pick(g.cpu_quota, &mut r.cpu_quota);
        for (new, old) in [
            (&g.cpuset_cpus, &mut r.cpuset_cpus),
            (&g.cpuset_mems, &mut r.cpuset_mems),
        ] {
            if !new.is_empty() {
                old.clone_from(new);
            }
        }
        if g.blkio_weight != 0 {
            r.blkio_weight = g.blkio_weight;
        }
        if let Some(n) = self.pids_limit {
            r.pids_limit = (n > 0).then_some(n);
        }
        // What the two make together must hold as a new container's
        // limits would (memory+swap without memory is refused too: the
        // kernel would refuse it at the next start).
        r.validate(false)?;
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(f: ResourceFlags) -> Update {
        Update::parse(&UpdateFlags {
            resources: f,
            restart: None,
        })
        .unwrap()
    }

    fn running() -> Resources {
        Resources::parse(&ResourceFlags {
            memory: Some("32m".into()),
            pids_limit: Some(50),
            cpu_quota: Some(50_000),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn only_what_is_given_changes() {
        let now = running();
        let r = update(ResourceFlags {
            memory: Some("48m".into()),
            cpu_shares: Some(512),
            cpuset_cpus: Some("0".into()),
            blkio_weight: Some(300),
            ..Default::default()
        })
        .apply(&now)
        .unwrap();
        assert_eq!(r.memory, 48 << 20);
        // The swap stays where it was (twice the old memory).
        assert_eq!(r.memory_swap, 64 << 20);
        assert_eq!(
            (r.cpu_shares, r.cpu_quota, r.cpuset_cpus.as_str()),
            (512, 50_000, "0")
        );
        assert_eq!((r.pids_limit, r.blkio_weight), (Some(50), 300));
        let r = update(ResourceFlags {
            pids_limit: Some(-1),
            ..Default::default()
        })
        .apply(&now)
        .unwrap();
        assert_eq!(r.pids_limit, None);
        assert_eq!(r.memory, 32 << 20);
    }

    #[test]
    fn memory_above_the_swap_needs_the_swap_too() {
        let now = running();
        let raise = ResourceFlags {
            memory: Some("128m".into()),
            ..Default::default()
        };
        let e = update(raise.clone()).apply(&now).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"
        );
        let r = update(ResourceFlags {
            memory_swap: Some("256m".into()),
            ..raise.clone()
        })
        .apply(&now)
        .unwrap();
        assert_eq!((r.memory, r.memory_swap), (128 << 20, 256 << 20));
        let r = update(ResourceFlags {
            memory_swap: Some("-1".into()),
            ..raise
        })
        .apply(&now)
        .unwrap();
        assert_eq!(r.memory_swap, -1);
        // Without a limit before, none to be under.
        let r = update(ResourceFlags {
            memory: Some("1g".into()),
            ..Default::default()
        })
        .apply(&Resources::default())
        .unwrap();
        assert_eq!((r.memory, r.memory_swap), (1 << 30, 0));
    }

    #[test]
    fn the_rules_between_old_and_new() {
        let now = running();
        let e = update(ResourceFlags {
            cpus: Some("1".into()),
            ..Default::default()
        })
        .apply(&now)
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set"
        );
        let with_cpus = Resources {
            nano_cpus: 500_000_000,
            ..Default::default()
        };
        let e = update(ResourceFlags {
            cpu_period: Some(50_000),
            ..Default::default()
        })
        .apply(&with_cpus)
        .unwrap_err();
        assert!(
            e.to_string().contains("CPU Period cannot be updated"),
            "{e}"
        );
        let e = update(ResourceFlags {
            memory_reservation: Some("64m".into()),
            ..Default::default()
        })
        .apply(&now)
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Minimum memory limit can not be less than memory reservation"),
            "{e}"
        );
        let e = update(ResourceFlags {
            memory_swap: Some("1g".into()),
            ..Default::default()
        })
        .apply(&Resources::default())
        .unwrap_err();
        assert!(e
            .to_string()
            .starts_with("You should always set the Memory limit"));
    }

    #[test]
    fn values_are_checked_alone_first() {
        let parse = |f: ResourceFlags, restart: Option<&str>| {
            Update::parse(&UpdateFlags {
                resources: f,
                restart: restart.map(Into::into),
            })
            .map(drop)
            .map_err(|e| format!("{e:#}"))
        };
        assert_eq!(
            parse(
                ResourceFlags {
                    blkio_weight: Some(5),
                    ..Default::default()
                },
                None
            ),
            Err("Range of blkio weight is from 10 to 1000".into())
        );
        assert_eq!(
            parse(
                ResourceFlags {
                    memory: Some("4m".into()),
                    ..Default::default()
                },
                None
            ),
            Err("Minimum memory limit allowed is 6MB".into())
        );
        // Swap alone is fine here: the container may have a memory limit.
        assert!(parse(
            ResourceFlags {
                memory_swap: Some("1g".into()),
                ..Default::default()
            },
            None
        )
        .is_ok());
        assert!(parse(ResourceFlags::default(), Some("sometimes")).is_err());
        let u = Update::parse(&UpdateFlags {
            resources: ResourceFlags::default(),
            restart: Some("always".into()),
        })
        .unwrap();
        assert_eq!(
            u.check_restart(true).unwrap_err().to_string(),
            "Restart policy cannot be updated because AutoRemove is enabled for the container"
        );
        u.check_restart(false).unwrap();
        let no = Update::parse(&UpdateFlags {
            resources: ResourceFlags::default(),
            restart: Some("no".into()),
        })
        .unwrap();
        no.check_restart(true).unwrap();
    }
}
