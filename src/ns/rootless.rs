//! Rootless mode. An unprivileged user's skiff runs inside a user
//! namespace where it is root: uid and gid 0 are the user's own ids, and
//! 1 and up the subordinate ranges `/etc/subuid` and `/etc/subgid` grant
//! (written by the setuid helpers `newuidmap`/`newgidmap`). Image files
//! owned by root are then the user's on disk, files of other ids the
//! subordinate ones, and skiff can chown, mount overlays and make the
//! container's namespaces as it does as root.
//!
//! The namespaces (the user one and a mount one it owns) are kept by a
//! "pause" process made by the first command and joined by every later
//! one, so that all of them see the same ids and the same mounts, and
//! none needs a daemon: the pause process does nothing but exist. Its pid
//! and start time are in `RUNROOT/pause.pid`; a pause process that is gone
//! is made again.
//!
//! Without ranges or without the helpers the namespace maps the user's
//! own ids alone, with a warning: files of other ids in images cannot be
//! represented then (they become the user's).

use super::idmap;
use crate::sys::fork::{fork_into, Forked};
use crate::util::fs::{atomic_write, mkdir_all, proc_start_time, process_is};
use anyhow::{anyhow, bail, Context, Result};
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxIdMapping, LinuxIdMappingBuilder};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

const PAUSE_PID: &str = "pause.pid";
const PAUSE_LOCK: &str = "pause.lock";

/// One mapping line: `inside` and up are `outside` and up, `count` ids.
pub fn mapping(inside: u32, outside: u32, count: u32) -> LinuxIdMapping {
    LinuxIdMappingBuilder::default()
        .container_id(inside)
        .host_id(outside)
        .size(count)
        .build()
        .expect("every field is set")
}

/// The subordinate ranges (first id, count) a subuid or subgid file's
/// `text` grants the user named `name` with id `id` (lines name either).
pub fn ranges(text: &str, name: Option<&str>, id: u32) -> Vec<(u32, u32)> {
    let id = id.to_string();
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                return None;
            }
            let mut f = l.split(':');
            let who = f.next()?;
            let start: u32 = f.next()?.trim().parse().ok()?;
            let count: u32 = f.next()?.trim().parse().ok()?;
            ((Some(who) == name || who == id) && count > 0).then_some((start, count))
        })
        .collect()
}

/// The maps of the rootless namespace: `own` as 0, the ranges from 1 up.
pub fn maps(own: u32, ranges: &[(u32, u32)]) -> Vec<LinuxIdMapping> {
    let mut out = vec![mapping(0, own, 1)];
    let mut next = 1u32;
    for &(start, count) in ranges {
        out.push(mapping(next, start, count));
        next = next.saturating_add(count);
    }
    out
}

/// The full maps of this user, or why there are none.
fn full_maps(
    uid: u32,
    gid: u32,
) -> std::result::Result<(Vec<LinuxIdMapping>, Vec<LinuxIdMapping>), String> {
    let name = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name);
    let read = |f: &str| std::fs::read_to_string(f).unwrap_or_default();
    let subuid = ranges(&read("/etc/subuid"), name.as_deref(), uid);
    let subgid = ranges(&read("/etc/subgid"), name.as_deref(), uid);
    let who = name.unwrap_or_else(|| uid.to_string());
    if subuid.is_empty() || subgid.is_empty() {
        return Err(format!(
            "no subordinate ids for {who} in /etc/subuid and /etc/subgid"
        ));
    }
    if !crate::util::fs::on_path("newuidmap") || !crate::util::fs::on_path("newgidmap") {
        return Err("newuidmap and newgidmap (package uidmap) are not installed".into());
    }
    Ok((maps(uid, &subuid), maps(gid, &subgid)))
}

/// Move this process into the user's rootless namespaces (made first if
/// need be). Does nothing for root, or inside them already. Call it
/// first thing: the process must be single-threaded.
pub fn enter(runroot: &Path) -> Result<()> {
    if nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    mkdir_all(runroot, 0o700)?;
    // `/tmp/skiff-UID` may have been made by someone else first.
    let md = std::fs::symlink_metadata(runroot)
        .with_context(|| format!("stat {}", runroot.display()))?;
    let me = nix::unistd::geteuid().as_raw();
    if !md.is_dir() || std::os::unix::fs::MetadataExt::uid(&md) != me {
        bail!(
            "{} is not a directory of uid {me}: refusing to keep the rootless state there",
            runroot.display()
        );
    }
    let _lock = crate::util::lock::lock_exclusive(&runroot.join(PAUSE_LOCK))?;
    let pidfile = runroot.join(PAUSE_PID);
    let old = read_pidfile(&pidfile);
    if let Some(k) = &old {
        if join(k.pid, k.start)? {
            return Ok(());
        }
        // The pause process was killed, but the namespaces may live on in
        // containers and their monitors: joined through one of them, they
        // get a pause process again, so that what runs stays reachable.
        if let Some(pid) = k.ns.and_then(member_of) {
            if join(pid, proc_start_time(pid))? {
                let pid = fork_pause()?;
                return write_pidfile(&pidfile, pid);
            }
        }
    }
    let pid = make_pause()?;
    write_pidfile(&pidfile, pid)?;
    if !join(pid, proc_start_time(pid))? {
        bail!("the rootless pause process {pid} ended as soon as it started");
    }
    Ok(())
}

/// What `RUNROOT/pause.pid` says: the pause process (pid, start time) and
/// the inodes of its user and mount namespaces.
struct Keeper {
    pid: u32,
    start: Option<u64>,
    ns: Option<(u64, u64)>,
}

/// The inode of process `pid`'s namespace `ns` (what identifies it).
fn ns_inode(pid: u32, ns: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}/ns/{ns}"))
        .ok()
        .map(|m| m.ino())
}

fn write_pidfile(p: &Path, pid: u32) -> Result<()> {
    let start = proc_start_time(pid).unwrap_or(0);
    let user = ns_inode(pid, "user").unwrap_or(0);
    let mnt = ns_inode(pid, "mnt").unwrap_or(0);
    atomic_write(p, format!("{pid} {start} {user} {mnt}\n").as_bytes())
}

/// The pause process's pid from `RUNROOT/pause.pid`, if it runs.
pub fn pause_pid(runroot: &Path) -> Option<u32> {
    read_pidfile(&runroot.join(PAUSE_PID))
        .filter(|k| process_is(k.pid, k.start))
        .map(|k| k.pid)
}

fn read_pidfile(p: &Path) -> Option<Keeper> {
    let text = std::fs::read_to_string(p).ok()?;
    let mut f = text.split_whitespace().map(|w| w.parse::<u64>().ok());
    let pid = f.next()?? as u32;
    let start = f.next().flatten().filter(|s| *s != 0);
    let ns = match (f.next().flatten(), f.next().flatten()) {
        (Some(u), Some(m)) if u != 0 && m != 0 => Some((u, m)),
        _ => None,
    };
    Some(Keeper { pid, start, ns })
}

/// A process (not this one) in the user and mount namespaces `ns`.
fn member_of(ns: (u64, u64)) -> Option<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| *p != me)
        .find(|p| ns_inode(*p, "user") == Some(ns.0) && ns_inode(*p, "mnt") == Some(ns.1))
}

/// Join the user and mount namespaces of process `pid`, if it is still
/// the one that started at `start`; `false` when it is gone.
fn join(pid: u32, start: Option<u64>) -> Result<bool> {
    let dir = PathBuf::from(format!("/proc/{pid}"));
    let open = |ns: &str| -> Option<OwnedFd> {
        std::fs::File::open(dir.join("ns").join(ns))
            .ok()
            .map(Into::into)
    };
    let (Some(user), Some(mnt)) = (open("user"), open("mnt")) else {
        return Ok(false);
    };
    // Opened first, checked after: the descriptors are that process's.
    if !process_is(pid, start) {
        return Ok(false);
    }
    if !crate::sys::proc::single_threaded() {
        bail!("cannot enter the rootless user namespace from a process with several threads");
    }
    // Joining a mount namespace moves the working directory to its root:
    // the same path is entered again after.
    let cwd = std::env::current_dir().ok();
    nix::sched::setns(user.as_fd(), CloneFlags::CLONE_NEWUSER)
        .with_context(|| format!("join the rootless user namespace of process {pid}"))?;
    nix::sched::setns(mnt.as_fd(), CloneFlags::CLONE_NEWNS)
        .with_context(|| format!("join the rootless mount namespace of process {pid}"))?;
    if let Some(c) = cwd {
        let _ = std::env::set_current_dir(c);
    }
    Ok(true)
}

/// The pause process's life: a session of its own, no descriptor of its
/// parent's (an inherited pipe would keep a reader of the parent's output
/// waiting), and nothing to do.
fn pause(null: OwnedFd) -> ! {
    let _ = nix::unistd::setsid();
    for n in 0..3 {
        let _ = crate::sys::proc::dup_to(null.as_fd(), n);
    }
    crate::sys::proc::close_from(3);
    let _ = nix::unistd::chdir("/");
    let _ = rustix::thread::set_name(c"skiff-pause");
    loop {
        nix::unistd::pause();
    }
}

fn open_null() -> Result<OwnedFd> {
    Ok(std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .context("open /dev/null")?
        .into())
}

/// A new pause process for the namespaces this process is in.
fn fork_pause() -> Result<u32> {
    let null = open_null()?;
    match fork_into(0, None).map_err(|e| anyhow!("start a rootless pause process: {e}"))? {
        Forked::Child => pause(null),
        Forked::Parent(pid) => Ok(pid.as_raw() as u32),
    }
}

/// Make the pause process: forked into a new user and mount namespace,
/// mapped from here, then left to wait for nothing in a session of its
/// own, holding no descriptor of ours.
fn make_pause() -> Result<u32> {
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    let full = full_maps(uid, gid);
    let null = open_null()?;
    let (go_r, go_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| anyhow!("create a pipe: {}", std::io::Error::from(e)))?;
    if !crate::sys::proc::single_threaded() {
        bail!("cannot make the rootless user namespace from a process with several threads");
    }
    let flags = CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS;
    let pid = match fork_into(flags.bits(), None)
        .map_err(|e| anyhow!("make the rootless user namespace: {e}"))?
    {
        Forked::Child => {
            drop(go_w);
            let mut b = [0u8; 1];
            if !matches!(rustix::io::read(&go_r, &mut b), Ok(1)) {
                crate::sys::proc::exit_now(1);
            }
            pause(null)
        }
        Forked::Parent(pid) => pid,
    };
    drop(go_r);
    let raw = pid.as_raw();
    let mapped = match full {
        Ok((uids, gids)) => idmap::write(raw, &uids, &gids).or_else(|e| {
            warn_single(&format!("{e:#}"));
            single_map(raw, uid, gid)
        }),
        Err(why) => {
            warn_single(&why);
            single_map(raw, uid, gid)
        }
    };
    let go = mapped.and_then(|()| {
        rustix::io::write(&go_w, b"g").map(drop).map_err(|e| {
            anyhow!(
                "start the rootless pause process: {}",
                std::io::Error::from(e)
            )
        })
    });
    if let Err(e) = go {
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(pid, None);
        return Err(e);
    }
    Ok(raw as u32)
}

fn warn_single(why: &str) {
    eprintln!(
        "skiff: warning: {why}: the user namespace maps your own ids alone, and files owned by other ids in images cannot be represented"
    );
}

/// The one mapping an unprivileged process may write itself: its own ids
/// (and setgroups denied first, as the kernel asks of it).
fn single_map(pid: i32, uid: u32, gid: u32) -> Result<()> {
    for (file, text) in [
        ("setgroups", "deny".to_string()),
        ("uid_map", format!("0 {uid} 1\n")),
        ("gid_map", format!("0 {gid} 1\n")),
    ] {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, text).with_context(|| format!("write {path}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ranges_by_name_or_id() {
        let text =
            "# comment\nskt:100000:65536\n1001:300000:10\nother:200000:65536\nskt:500000:0\n";
        assert_eq!(
            ranges(text, Some("skt"), 1001),
            [(100000, 65536), (300000, 10)]
        );
        assert!(ranges(text, Some("nobody"), 7).is_empty());
    }

    #[test]
    fn maps_own_id_to_root_and_ranges_above() {
        let m = maps(1001, &[(100000, 65536), (300000, 10)]);
        let lines: Vec<(u32, u32, u32)> = m
            .iter()
            .map(|m| (m.container_id(), m.host_id(), m.size()))
            .collect();
        assert_eq!(
            lines,
            [(0, 1001, 1), (1, 100000, 65536), (65537, 300000, 10)]
        );
    }
}
