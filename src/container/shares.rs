//! `--pid container:NAME` and `--ipc container:NAME`: another container's
//! namespaces. The other container's process changes when it restarts,
//! so the spec names it only as a placeholder, pointed at that
//! container's process at each start. (Its `/dev/shm` is a mount of its
//! own mount namespace, which no other namespace can bind: the joining
//! container keeps a `/dev/shm` of its own.)

use crate::runtime::opts::share::{Share, Shares};
use crate::store::containers::ContainerRecord;
use crate::store::Store;
use anyhow::Result;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::path::PathBuf;

/// The containers `shares` names, by their full IDs (Docker's
/// `HostConfig` keeps `container:ID`).
pub fn resolve(store: &Store, shares: &Shares) -> Result<Shares> {
    let mut out = shares.clone();
    for s in [&mut out.pid, &mut out.ipc] {
        if let Share::Container(name) = s {
            *name = super::state::find(store, name)?.id;
        }
    }
    Ok(out)
}

/// The record's shares, as `resolve` left them.
pub fn of(rec: &ContainerRecord) -> Result<Shares> {
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    crate::runtime::opts::share::parse(
        some(&rec.pid_mode).as_deref(),
        some(&rec.ipc_mode).as_deref(),
        some(&rec.uts_mode).as_deref(),
    )
}

/// The process of running container `id`, whose `what` namespace
/// (`PID`, `IPC`) is to be joined; Docker's words when it is not running.
fn process_of(store: &Store, id: &str, what: &str) -> Result<u32> {
    let other = super::state::find(store, id)?;
    match (other.state.status.as_str(), other.state.pid) {
        ("running" | "paused", Some(pid)) => Ok(pid),
        _ => crate::bail_kind!(
            InvalidState,
            "cannot join {what} of a non running container: {}",
            other.id
        ),
    }
}

/// Point `spec`'s placeholders at the current processes of the
/// containers `shares` names (which must run).
pub fn point(store: &Store, shares: &Shares, spec: &mut Spec) -> Result<()> {
    let mut paths: Vec<(LinuxNamespaceType, PathBuf)> = Vec::new();
    if let Some(id) = shares.pid.container() {
        let pid = process_of(store, id, "PID")?;
        paths.push((
            LinuxNamespaceType::Pid,
            format!("/proc/{pid}/ns/pid").into(),
        ));
    }
    if let Some(id) = shares.ipc.container() {
        let pid = process_of(store, id, "IPC")?;
        paths.push((
            LinuxNamespaceType::Ipc,
            format!("/proc/{pid}/ns/ipc").into(),
        ));
    }
    if paths.is_empty() {
        return Ok(());
    }
    if let Some(linux) = spec.linux_mut() {
        if let Some(list) = linux.namespaces_mut() {
            for ns in list.iter_mut() {
                if let Some((_, p)) = paths.iter().find(|(t, _)| *t == ns.typ()) {
                    ns.set_path(Some(p.clone()));
                }
            }
        }
    }
    Ok(())
}
