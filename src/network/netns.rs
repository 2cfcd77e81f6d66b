//! A container's network namespace, made before the container and kept
//! by a bind mount on the file `netns` in its directory (as `ip netns
//! add` keeps one):
//! skiff configures it from outside (links, addresses, routes), the
//! container's init joins it by that path, and it is gone once unmounted
//! and its last process has left.

use anyhow::{anyhow, Context, Result};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::path::{Path, PathBuf};

/// Where the namespace of the container in `dir` is kept.
pub fn path(dir: &Path) -> PathBuf {
    dir.join("netns")
}

/// Make a new network namespace and keep it at `at` (replacing one a
/// killed owner left there). Made on a thread of its own, so the caller's
/// namespace never changes.
pub fn create(at: &Path) -> Result<()> {
    create_then(at, || Ok(()))
}

/// [`create`], then `f` run inside the new namespace on the same thread
/// (a netlink socket opened there stays bound to it): one thread instead
/// of two.
pub fn create_then<T: Send>(at: &Path, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    if let Some(dir) = at.parent() {
        crate::util::fs::mkdir_all(dir, 0o711)?;
    }
    remove(at)?;
    std::fs::File::create(at).with_context(|| format!("create {}", at.display()))?;
    let made = std::thread::scope(|s| {
        s.spawn(|| -> Result<T> {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| anyhow!("create a network namespace: {}", e.desc()))?;
            mount(
                Some("/proc/thread-self/ns/net"),
                at,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|e| {
                anyhow!(
                    "keep the network namespace at {}: {}",
                    at.display(),
                    e.desc()
                )
            })?;
            f()
        })
        .join()
        .map_err(|_| anyhow!("create a network namespace: the thread panicked"))?
    });
    if made.is_err() {
        let _ = remove(at);
    }
    made
}

/// Keep the namespace `source` names (`/proc/PID/ns/net`) at `at` too
/// (`--network container:ID`), replacing what a killed owner left there.
pub fn bind(at: &Path, source: &Path) -> Result<()> {
    remove(at)?;
    std::fs::File::create(at).with_context(|| format!("create {}", at.display()))?;
    let bound = mount(
        Some(source),
        at,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| {
        anyhow!(
            "bind {} at {}: {}",
            source.display(),
            at.display(),
            e.desc()
        )
    });
    if bound.is_err() {
        let _ = remove(at);
    }
    bound
}

/// Let go of the namespace kept at `at` (it goes with its last process);
/// nothing there is no error.
pub fn remove(at: &Path) -> Result<()> {
    match umount2(at, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(anyhow!("unmount {}: {}", at.display(), e.desc())),
    }
    match std::fs::remove_file(at) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("remove {}", at.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns_of(p: &Path) -> std::path::PathBuf {
        // The namespace a file names: its inode, as /proc shows it.
        use std::os::unix::fs::MetadataExt;
        PathBuf::from(std::fs::metadata(p).unwrap().ino().to_string())
    }

    #[test]
    fn a_kept_namespace_is_new_and_goes_when_removed() {
        let d = tempfile::tempdir().unwrap();
        let at = path(d.path());
        create(&at).unwrap();
        assert_ne!(ns_of(&at), ns_of(Path::new("/proc/self/ns/net")));
        // Made again over a leftover: a fresh one.
        let first = ns_of(&at);
        create(&at).unwrap();
        assert_ne!(ns_of(&at), first);
        remove(&at).unwrap();
        assert!(!at.exists());
        remove(&at).unwrap();
    }
}
