//! A container's own mounts as its spec has them: the binds, volumes and
//! tmpfs mounts the user (or the image's `VOLUME`s) asked for, without
//! the standard ones and the files skiff binds in. What `inspect` and
//! `ps` show, and what `--volumes-from` takes over.

use crate::store::{ContainerRecord, Store};
use oci_spec::runtime::Spec;
use std::path::Path;

/// A container's spec, if its `config.json` can be read (a half-made
/// container may not have one yet). Read whole, then parsed: parsing from
/// a reader costs several times more.
pub fn load_spec(store: &Store, id: &str) -> Option<Spec> {
    let bytes = std::fs::read(store.container_dir(id).join("config.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// One user mount (bind, volume or tmpfs) of a container.
#[derive(Debug, Clone, PartialEq)]
pub struct MountView {
    pub kind: &'static str,
    /// The volume's name, for volumes.
    pub name: Option<String>,
    pub source: String,
    pub destination: String,
    pub rw: bool,
    pub options: Vec<String>,
}

/// The spec's user mounts: binds and volumes (binds from the store's
/// `volumes/<name>/_data`), and tmpfs mounts other than `/dev` and
/// `/dev/shm`; the standard mounts and the `/etc` files skiff binds in are
/// left out, as Docker leaves them out.
pub fn mounts(store: &Store, rec: &ContainerRecord, spec: Option<&Spec>) -> Vec<MountView> {
    let Some(list) = spec.and_then(|s| s.mounts().as_ref()) else {
        return Vec::new();
    };
    let own_dir = store.container_dir(&rec.id);
    let volumes = store.root().join("volumes");
    let mut out = Vec::new();
    for m in list {
        let dest = m.destination().display().to_string();
        let opts = m.options().clone().unwrap_or_default();
        let rw = !opts.iter().any(|o| o == "ro");
        let source = m.source().clone().unwrap_or_default();
        match m.typ().as_deref() {
            Some("bind") => {
                // The /etc files, and what a rootless container binds from
                // the host in place of /dev nodes, /sys and cgroups.
                if source.starts_with(&own_dir)
                    || (source == Path::new(&dest)
                        && (dest.starts_with("/dev") || dest.starts_with("/sys")))
                {
                    continue;
                }
                let name = source
                    .strip_prefix(&volumes)
                    .ok()
                    .filter(|rel| rel.ends_with("_data") && rel.components().count() == 2)
                    .and_then(|rel| rel.components().next())
                    .map(|c| c.as_os_str().to_string_lossy().into_owned());
                out.push(MountView {
                    kind: if name.is_some() { "volume" } else { "bind" },
                    name,
                    source: source.display().to_string(),
                    destination: dest,
                    rw,
                    options: opts,
                });
            }
            Some("tmpfs") if dest != "/dev" && dest != "/dev/shm" => out.push(MountView {
                kind: "tmpfs",
                name: None,
                source: String::new(),
                destination: dest,
                rw,
                options: opts,
            }),
            _ => {}
        }
    }
    out
}
