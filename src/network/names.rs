//! Containers on a user network find each other by name, with no daemon
//! and no DNS server: each member's /etc/hosts (the file in its directory
//! that is bound into it) holds a line for every other member, tagged
//! with the member's ID. A container joining adds its peers to its own
//! file and itself to theirs; one leaving takes itself out of theirs.
//! The network's leases in the store are the list of members. A line's
//! tag names the network too, so a container on several networks keeps
//! the peers of each. (Docker's default `bridge` network resolves no
//! names, and neither does skiff's.)

use crate::store::Store;
use crate::util::lock::lock_exclusive;
use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

/// What every line skiff manages holds.
const MARK: &str = "\t# skiff ";

/// The tag that ends a line skiff manages for member `id` of `net`.
fn tag(id: &str, net: &str) -> String {
    format!("{MARK}{} {net}", &id[..id.len().min(12)])
}

fn line(ip: &str, name: &str, aliases: &[String], id: &str, net: &str) -> String {
    let mut names = vec![name.to_string()];
    names.extend(aliases.iter().cloned());
    // The short ID resolves too, as the hostname of the container.
    names.push(id[..id.len().min(12)].to_string());
    format!("{ip}\t{}{}", names.join(" "), tag(id, net))
}

/// `text` without the lines `drop` picks, plus `add` lines.
fn rewritten(text: &str, drop: impl Fn(&str) -> bool, add: &[String]) -> String {
    let mut out: String = text
        .lines()
        .filter(|l| !drop(l))
        .map(|l| format!("{l}\n"))
        .collect();
    for a in add {
        out.push_str(a);
        out.push('\n');
    }
    out
}

/// Rewrite a member's hosts file in place: it is bound into a running
/// container, which sees the same file, not a replacement.
fn update(path: &Path, f: impl FnOnce(&str) -> String) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else {
        // A member whose directory is gone: nothing to tell it.
        return Ok(());
    };
    let new = f(&text);
    if new == text {
        return Ok(());
    }
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .and_then(|mut w| w.write_all(new.as_bytes()))
        .with_context(|| format!("update {}", path.display()))
}

fn lock(store: &Store, net: &str) -> Result<crate::util::lock::LockGuard> {
    lock_exclusive(&store.root().join("locks").join(format!("hosts-{net}.lock")))
}

/// Does line `l` name a member of network `net`?
fn of_net(l: &str, net: &str) -> bool {
    l.contains(MARK) && l.ends_with(&format!(" {net}"))
}

/// Container `id` (leased on `net` already) joins: its peers in its
/// hosts file, itself in theirs.
pub fn join(store: &Store, net: &str, id: &str) -> Result<()> {
    let _g = lock(store, net)?;
    let members = store.leases(net)?;
    let Some(me) = members.iter().find(|l| l.container_id == id) else {
        return Ok(());
    };
    let mine = line(&me.ip.to_string(), &me.name, &me.aliases, id, net);
    let t = tag(id, net);
    let mut peers = Vec::new();
    for m in members.iter().filter(|m| m.container_id != id) {
        peers.push(line(
            &m.ip.to_string(),
            &m.name,
            &m.aliases,
            &m.container_id,
            net,
        ));
        let theirs = store.container_dir(&m.container_id).join("hosts");
        update(&theirs, |text| {
            rewritten(text, |l| l.ends_with(&t), std::slice::from_ref(&mine))
        })?;
    }
    // The members as they are now.
    let own = store.container_dir(id).join("hosts");
    update(&own, |text| rewritten(text, |l| of_net(l, net), &peers))
}

/// Container `id` leaves `net`: out of its peers' hosts files.
pub fn leave(store: &Store, net: &str, id: &str) {
    let Ok(_g) = lock(store, net) else { return };
    let t = tag(id, net);
    for m in store.leases(net).unwrap_or_default() {
        if m.container_id != id {
            let theirs = store.container_dir(&m.container_id).join("hosts");
            let _ = update(&theirs, |text| rewritten(text, |l| l.ends_with(&t), &[]));
        }
    }
}

/// Container `id`, disconnected from `net` while it runs, forgets the
/// peers it had there.
pub fn forget(store: &Store, net: &str, id: &str) -> Result<()> {
    let own = store.container_dir(id).join("hosts");
    update(&own, |text| rewritten(text, |l| of_net(l, net), &[]))
}

/// Container `id`, starting, forgets the peers of its earlier run.
pub fn reset(store: &Store, id: &str) -> Result<()> {
    let own = store.container_dir(id).join("hosts");
    update(&own, |text| rewritten(text, |l| l.contains(MARK), &[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_tagged_and_replaced() {
        let id = "0123456789abcdef";
        let l = line("10.89.0.2", "web", &["www".into()], id, "front");
        assert_eq!(
            l,
            "10.89.0.2\tweb www 0123456789ab\t# skiff 0123456789ab front"
        );
        let t = tag(id, "front");
        let text = format!(
            "127.0.0.1\tlocalhost\n{l}\n10.89.0.3\tdb\t# skiff ffffffffffff front\n10.89.1.2\tweb\t# skiff 0123456789ab back\n"
        );
        let again = rewritten(
            &text,
            |l| l.ends_with(&t),
            &["10.89.0.9\tweb\t# skiff 0123456789ab front".into()],
        );
        assert_eq!(
            again,
            "127.0.0.1\tlocalhost\n10.89.0.3\tdb\t# skiff ffffffffffff front\n10.89.1.2\tweb\t# skiff 0123456789ab back\n10.89.0.9\tweb\t# skiff 0123456789ab front\n"
        );
        // A network's members, and no other's; `afront` is not `front`.
        assert!(of_net("1.2.3.4\tx\t# skiff 0123456789ab front", "front"));
        assert!(!of_net("1.2.3.4\tx\t# skiff 0123456789ab afront", "front"));
        assert!(!of_net("1.2.3.4\tfront", "front"));
        assert_eq!(
            rewritten(&again, |l| of_net(l, "front"), &[]),
            "127.0.0.1\tlocalhost\n10.89.1.2\tweb\t# skiff 0123456789ab back\n"
        );
    }
}
