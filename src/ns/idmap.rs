//! The uid and gid maps of a new user namespace, written by the parent
//! while the child waits: directly as root, through the setuid helpers
//! `newuidmap`/`newgidmap` (which check /etc/subuid) otherwise.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxIdMapping;
use std::process::Command;

/// The contents of /proc/PID/uid_map (or gid_map) for `maps`.
pub fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// The arguments of `newuidmap PID ...` for `maps`.
pub fn helper_args(pid: i32, maps: &[LinuxIdMapping]) -> Vec<String> {
    let mut v = vec![pid.to_string()];
    for m in maps {
        v.push(m.container_id().to_string());
        v.push(m.host_id().to_string());
        v.push(m.size().to_string());
    }
    v
}

/// Write both maps of process `pid`'s user namespace.
pub fn write(pid: i32, uids: &[LinuxIdMapping], gids: &[LinuxIdMapping]) -> Result<()> {
    if nix::unistd::geteuid().is_root() {
        for (file, maps) in [("uid_map", uids), ("gid_map", gids)] {
            if maps.is_empty() {
                continue;
            }
            let path = format!("/proc/{pid}/{file}");
            std::fs::write(&path, map_text(maps)).with_context(|| format!("write {path}"))?;
        }
        return Ok(());
    }
    for (helper, maps) in [("newuidmap", uids), ("newgidmap", gids)] {
        if maps.is_empty() {
            continue;
        }
        let out = Command::new(helper)
            .args(helper_args(pid, maps))
            .output()
            .with_context(|| format!("run {helper} (package uidmap)"))?;
        if !out.status.success() {
            let msg = String::from_utf8_lossy(&out.stderr);
            bail!("{helper} {pid}: {}", msg.trim());
        }
    }
    Ok(())
}

/// A user namespace with these maps, open (for an idmapped mount, which
/// takes its maps from one): a child forked into a new user namespace
/// waits while its maps are written, the namespace is opened through it,
/// and the child ends; the open descriptor keeps the namespace.
pub fn userns_with(
    uids: &[LinuxIdMapping],
    gids: &[LinuxIdMapping],
) -> Result<std::os::fd::OwnedFd> {
    use crate::sys::fork::{fork_into, Forked};
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| anyhow::anyhow!("create a pipe: {}", std::io::Error::from(e)))?;
    let pid = match fork_into(libc::CLONE_NEWUSER, None)
        .context("fork into a new user namespace for an idmapped mount")?
    {
        Forked::Child => {
            drop(w);
            // Nothing but a wait (for the end of the pipe), then the end.
            let mut b = [0u8; 1];
            let _ = rustix::io::read(&r, &mut b);
            crate::sys::proc::exit_now(0)
        }
        Forked::Parent(pid) => pid,
    };
    drop(r);
    let opened = write(pid.as_raw(), uids, gids).and_then(|()| {
        let p = format!("/proc/{}/ns/user", pid.as_raw());
        Ok(std::fs::File::open(&p)
            .with_context(|| format!("open {p}"))?
            .into())
    });
    drop(w);
    let _ = nix::sys::wait::waitpid(pid, None);
    opened
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxIdMappingBuilder;

    #[test]
    fn formats_maps() {
        let maps = vec![
            LinuxIdMappingBuilder::default()
                .container_id(0u32)
                .host_id(1000u32)
                .size(1u32)
                .build()
                .unwrap(),
            LinuxIdMappingBuilder::default()
                .container_id(1u32)
                .host_id(100000u32)
                .size(65536u32)
                .build()
                .unwrap(),
        ];
        assert_eq!(map_text(&maps), "0 1000 1\n1 100000 65536\n");
        assert_eq!(
            helper_args(42, &maps),
            ["42", "0", "1000", "1", "1", "100000", "65536"]
        );
    }
}
