//! `update`: a container's limits and restart policy changed, whatever
//! its state. The limits go into its cgroup when it has one (it runs), and
//! into its bundle's `config.json`, both the spec's `linux.resources`,
//! which the next start reads, and the flags' record in its annotation
//! (`inspect`'s HostConfig); the restart policy into its record, which
//! its monitor reads at each exit. All under the containers lock, the
//! cgroup first: what it refuses is not stored.

use crate::error::{kind_err, kind_of, ErrorKind};
use crate::runtime::opts::resources::{HostCpus, Resources};
use crate::runtime::opts::update::Update;
use crate::runtime::spec::{limits, resources_of, ANNOTATION_RESOURCES};
use crate::store::{ContainerRecord, Store};
use anyhow::{Context, Result};
use oci_spec::runtime::{LinuxPids, Spec};

/// Docker's words around a refusal of the daemon's.
fn cannot(id: &str, e: anyhow::Error) -> anyhow::Error {
    let kind = kind_of(&e).unwrap_or(ErrorKind::InvalidArgument);
    kind_err(kind, format!("Cannot update container {id}: {e:#}"))
}

/// Apply `u` to container `rec`.
pub fn update(store: &Store, rec: &ContainerRecord, u: &Update) -> Result<()> {
    let path = store.container_dir(&rec.id).join("config.json");
    let updated = store.update_container(&rec.id, |c| {
        u.check_restart(c.auto_remove)
            .map_err(|e| cannot(&c.id, e))?;
        let data = std::fs::read(&path).with_context(|| format!("read {}", path.display()))?;
        let mut spec: Spec =
            serde_json::from_slice(&data).with_context(|| format!("parse {}", path.display()))?;
        let now = resources_of(&spec);
        let new = u.apply(&now).map_err(|e| cannot(&c.id, e))?;
        // The host's CPUs bound only what this update sets, as Docker's.
        if u.given.nano_cpus != 0
            || !u.given.cpuset_cpus.is_empty()
            || !u.given.cpuset_mems.is_empty()
        {
            new.check_host(&HostCpus::read())?;
        }
        if new != now {
            set_limits(&mut spec, &new)?;
            apply_live(&spec, u, &new)?;
            crate::util::fs::atomic_write(&path, &serde_json::to_vec(&spec)?)?;
        }
        if let Some(p) = &u.restart {
            c.restart = p.clone();
        }
        Ok(c.clone())
    })?;
    store.container_event(&updated, "update", &[]);
    Ok(())
}

/// The spec with the limits `r`: its resources (when it has any: a
/// rootless container's are left out) and the flags' record.
fn set_limits(spec: &mut Spec, r: &Resources) -> Result<()> {
    if let Some(linux) = spec.linux_mut() {
        if let Some(res) = linux.resources_mut() {
            limits(r, res);
        }
    }
    let mut ann = spec.annotations().clone().unwrap_or_default();
    ann.insert(ANNOTATION_RESOURCES.into(), serde_json::to_string(r)?);
    spec.set_annotations(Some(ann));
    Ok(())
}

/// Write the limits of `spec` into the container's cgroup, if it has
/// one. A limit lifted is written as such (`pids.max` back to "max"):
/// the spec leaves it out, which to a cgroup that has one means "as is".
fn apply_live(spec: &Spec, u: &Update, new: &Resources) -> Result<()> {
    let Some(mut res) = spec.linux().as_ref().and_then(|l| l.resources().clone()) else {
        return Ok(());
    };
    if u.pids_limit.is_some() && new.pids_limit.is_none() {
        let mut p = LinuxPids::default();
        p.set_limit(-1);
        res.set_pids(Some(p));
    }
    crate::runtime::cgroups::update(spec, &res)?;
    Ok(())
}
