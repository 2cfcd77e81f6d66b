//! Namespaces: which ones a spec asks to create (flags for the one
//! `clone`), which to join by path (`setns`), and the uid/gid maps of a new
//! user namespace.

pub mod idmap;
pub mod rootless;

use anyhow::{bail, Context, Result};
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};
use std::os::fd::OwnedFd;
use std::path::PathBuf;

/// A namespace to join, already opened.
#[derive(Debug)]
pub struct Join {
    pub flag: CloneFlags,
    pub path: PathBuf,
    pub fd: OwnedFd,
}

/// What to do with namespaces.
#[derive(Debug)]
pub struct NsPlan {
    /// The `CLONE_NEW*` flags of the namespaces to create.
    pub create: CloneFlags,
    /// The namespaces to join, the user namespace first (joining it gives
    /// the capabilities that joining the others needs). A pid namespace is
    /// not among them: see `pid`.
    pub join: Vec<Join>,
    /// A pid namespace to join: the parent enters it for its children
    /// before the clone, since `setns` never moves the caller itself.
    pub pid: Option<Join>,
}

fn flag(t: LinuxNamespaceType) -> Result<CloneFlags> {
    use LinuxNamespaceType as T;
    Ok(match t {
        T::Mount => CloneFlags::CLONE_NEWNS,
        T::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        T::Uts => CloneFlags::CLONE_NEWUTS,
        T::Ipc => CloneFlags::CLONE_NEWIPC,
        T::User => CloneFlags::CLONE_NEWUSER,
        T::Pid => CloneFlags::CLONE_NEWPID,
        T::Network => CloneFlags::CLONE_NEWNET,
        T::Time => bail!("time namespaces are not supported"),
    })
}

/// Split a spec's namespaces into flags to create and paths to join.
pub fn split(list: &[LinuxNamespace]) -> Result<(CloneFlags, Vec<(CloneFlags, PathBuf)>)> {
    let mut create = CloneFlags::empty();
    let mut join: Vec<(CloneFlags, PathBuf)> = Vec::new();
    let mut seen = CloneFlags::empty();
    for ns in list {
        let f = flag(ns.typ())?;
        if seen.contains(f) {
            bail!("namespace {} is listed twice", ns.typ());
        }
        seen |= f;
        match ns.path() {
            Some(p) => join.push((f, p.clone())),
            None => create |= f,
        }
    }
    // User first: its capabilities are what the other joins need.
    join.sort_by_key(|(f, _)| *f != CloneFlags::CLONE_NEWUSER);
    Ok((create, join))
}

/// Plan a spec's namespaces, opening the ones to join.
pub fn plan(list: &[LinuxNamespace]) -> Result<NsPlan> {
    let (create, paths) = split(list)?;
    let mut join = Vec::with_capacity(paths.len());
    let mut pid = None;
    for (flag, path) in paths {
        let fd: OwnedFd = std::fs::File::open(&path)
            .with_context(|| format!("open namespace {}", path.display()))?
            .into();
        let j = Join { flag, path, fd };
        if flag == CloneFlags::CLONE_NEWPID {
            pid = Some(j);
        } else {
            join.push(j);
        }
    }
    Ok(NsPlan { create, join, pid })
}

/// Enter the namespace `j` names.
pub fn enter(j: &Join) -> Result<()> {
    nix::sched::setns(&j.fd, j.flag).with_context(|| format!("join namespace {}", j.path.display()))
}

/// Enter every namespace of `joins` (the user namespace first in the
/// list). A process with capabilities in an ancestor of a container's
/// user namespace (root, or skiff in its rootless namespace) may join all
/// of them from outside; but from inside the container's user namespace,
/// one that namespace does not own (the network namespace skiff's rootless
/// namespace made for a keep-id container) is out of reach. So the
/// others are joined first, the user namespace then, and whatever was
/// refused before (an unprivileged caller that needs the user
/// namespace's capabilities) once more after it.
pub fn enter_all<'a>(joins: impl IntoIterator<Item = &'a Join>) -> Result<()> {
    let (user, others): (Vec<&Join>, Vec<&Join>) = joins
        .into_iter()
        .partition(|j| j.flag == CloneFlags::CLONE_NEWUSER);
    if user.is_empty() {
        return others.into_iter().try_for_each(enter);
    }
    let mut later = Vec::new();
    for j in others {
        match nix::sched::setns(&j.fd, j.flag) {
            Ok(()) => {}
            Err(nix::errno::Errno::EPERM) => later.push(j),
            Err(e) => {
                return Err(e).with_context(|| format!("join namespace {}", j.path.display()))
            }
        }
    }
    user.into_iter().try_for_each(enter)?;
    later.into_iter().try_for_each(enter)
}

/// While alive, children of this process are born in another pid
/// namespace; dropping it restores our own.
pub struct PidForChildren {
    own: OwnedFd,
}

impl PidForChildren {
    pub fn enter(j: &Join) -> Result<PidForChildren> {
        let own: OwnedFd = std::fs::File::open("/proc/self/ns/pid")
            .context("open /proc/self/ns/pid")?
            .into();
        enter(j)?;
        Ok(PidForChildren { own })
    }
}

impl Drop for PidForChildren {
    fn drop(&mut self) {
        let _ = nix::sched::setns(&self.own, CloneFlags::CLONE_NEWPID);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxNamespaceBuilder;

    fn ns(t: LinuxNamespaceType, path: Option<&str>) -> LinuxNamespace {
        let mut b = LinuxNamespaceBuilder::default().typ(t);
        if let Some(p) = path {
            b = b.path(p);
        }
        b.build().unwrap()
    }

    #[test]
    fn splits_create_and_join() {
        use LinuxNamespaceType as T;
        let (create, join) = split(&[
            ns(T::Pid, None),
            ns(T::Network, Some("/run/netns/x")),
            ns(T::Mount, None),
            ns(T::User, Some("/proc/1/ns/user")),
        ])
        .unwrap();
        assert_eq!(create, CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS);
        assert_eq!(join[0].0, CloneFlags::CLONE_NEWUSER);
        assert_eq!(
            join[1],
            (CloneFlags::CLONE_NEWNET, PathBuf::from("/run/netns/x"))
        );
    }

    #[test]
    fn refuses_duplicates_and_time() {
        use LinuxNamespaceType as T;
        let e = split(&[ns(T::Uts, None), ns(T::Uts, Some("/x"))]).unwrap_err();
        assert_eq!(e.to_string(), "namespace uts is listed twice");
        assert!(split(&[ns(T::Time, None)]).is_err());
    }
}
