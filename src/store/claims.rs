//! Subnets claimed machine-wide. Each store picks its networks' subnets
//! from the host's routes, but a network's bridge (and so its route)
//! appears only with its first container: two stores picking at the same
//! moment, or one picking while another's network has no container yet,
//! would get the same subnet, and the host would then route one's
//! traffic to the other's bridge. So every store that makes bridges
//! (root's) claims the subnets it picks in `/run/skiff-networks`, one file
//! per subnet naming the store and network, under a machine-wide lock;
//! a claim whose network no longer has that subnet (its store or record
//! gone) is stale and ignored.

use super::subnet::{host_routes, Ipv4Net};
use super::Store;
use crate::util::lock::{lock_exclusive, LockGuard};
use anyhow::Result;
use std::path::{Path, PathBuf};

const DIR: &str = "/run/skiff-networks";

/// Claims are kept only where bridges can be made (root): a rootless
/// store has none to collide.
fn enabled() -> bool {
    !crate::config::is_rootless() && Path::new("/run").is_dir()
}

fn file_of(subnet: &Ipv4Net) -> PathBuf {
    Path::new(DIR).join(subnet.to_string().replace('/', "_"))
}

/// The machine-wide lock, held from picking a subnet to claiming it.
pub fn lock() -> Result<Option<LockGuard>> {
    if !enabled() {
        return Ok(None);
    }
    crate::util::fs::mkdir_all(Path::new(DIR), 0o700)?;
    lock_exclusive(&Path::new(DIR).join(".lock")).map(Some)
}

/// Is the claim in `text` (`STORE\nNETWORK\n`) still that network's?
fn live(text: &str, subnet: &Ipv4Net, me: &Path) -> bool {
    let mut lines = text.lines();
    let (Some(root), Some(net)) = (lines.next(), lines.next()) else {
        return false;
    };
    if Path::new(root) == me {
        // This store's own networks are known to it already.
        return false;
    }
    let Ok(Some(store)) = Store::open_existing(Path::new(root)) else {
        return false;
    };
    store
        .read_network(net)
        .ok()
        .flatten()
        .and_then(|r| r.ipv4_subnet())
        .is_some_and(|s| s == *subnet)
}

/// What a new network of store `me` must not overlap: the host's routes
/// and the subnets other stores' networks hold.
pub fn taken(me: &Path) -> Result<Vec<Ipv4Net>> {
    let mut out = host_routes()?;
    if !enabled() {
        return Ok(out);
    }
    let Ok(dir) = std::fs::read_dir(DIR) else {
        return Ok(out);
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().replace('_', "/");
        let Some(subnet) = Ipv4Net::parse(&name) else {
            continue;
        };
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        if live(&text, &subnet, me) {
            out.push(subnet);
        }
    }
    Ok(out)
}

/// Claim `subnet` for network `net` of store `me` (the lock held).
pub fn claim(me: &Path, net: &str, subnet: &Ipv4Net) -> Result<()> {
    if !enabled() {
        return Ok(());
    }
    crate::util::fs::atomic_write_volatile(
        &file_of(subnet),
        format!("{}\n{net}\n", me.display()).as_bytes(),
    )
}

/// Let go of network `net`'s claim on `subnet` (the network is removed),
/// if the claim is still its. Best effort: a claim left is stale anyway.
pub fn release(me: &Path, net: &str, subnet: &Ipv4Net) {
    if !enabled() {
        return;
    }
    let f = file_of(subnet);
    if std::fs::read_to_string(&f).is_ok_and(|t| t == format!("{}\n{net}\n", me.display())) {
        let _ = std::fs::remove_file(f);
    }
}
