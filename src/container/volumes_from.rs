//! `--volumes-from CONTAINER[:ro|:rw]`: another container's volumes and
//! binds, mounted at the same places (running or not), read-only or
//! read-write as asked, else as they are there. A place the new
//! container mounts something else at keeps its own; the first container
//! named wins a place two of them share. Its tmpfs mounts are its own.

use crate::runtime::opts::mounts::{MountKind, MountOrigin, MountRequest};
use crate::store::Store;
use anyhow::Result;

/// The mounts taken over from the containers `from` names, besides `own`.
pub fn requests(
    store: &Store,
    from: &[(String, Option<bool>)],
    own: &[MountRequest],
) -> Result<Vec<MountRequest>> {
    let mut out: Vec<MountRequest> = Vec::new();
    for (name, readonly) in from {
        let rec = super::state::find(store, name)?;
        let spec = super::mounts::load_spec(store, &rec.id);
        for m in super::mounts::mounts(store, &rec, spec.as_ref()) {
            let kind = match m.kind {
                "volume" => MountKind::Volume,
                "bind" => MountKind::Bind,
                _ => continue,
            };
            if own
                .iter()
                .chain(out.iter())
                .any(|r| r.target == m.destination)
            {
                continue;
            }
            let mut r = MountRequest::new(kind, m.destination.clone(), MountOrigin::VolumesFrom);
            r.source = Some(match kind {
                MountKind::Volume => m.name.clone().unwrap_or_default(),
                _ => m.source.clone(),
            });
            r.readonly = readonly.unwrap_or(!m.rw);
            // The volume is there already, with its content.
            r.nocopy = true;
            out.push(r);
        }
    }
    Ok(out)
}
