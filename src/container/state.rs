//! The truth of a container's status. A record says `running` (or
//! `restarting`) only while the process that owns the container (its
//! monitor, or the foreground `skiff run`) lives with the recorded start
//! time. When that owner was killed (`kill -9`, a reboot), the container
//! died with it (its init has the owner's death signal): the first command
//! that looks records it as exited with Docker's 255, and removes it when
//! it was `--rm`.

use crate::store::containers::now;
use crate::store::{ContainerRecord, Store};
use crate::util::fs::process_is;
use crate::util::lock::LockGuard;
use anyhow::Result;
use std::time::{Duration, Instant};

/// Exit code recorded for a container whose owner vanished (Docker shows
/// 255 for containers it finds dead after a daemon crash).
pub const LOST_EXIT_CODE: i32 = 255;

/// Is the process that owns the container (its monitor, or a foreground
/// `skiff run`) alive?
pub fn owner_alive(rec: &ContainerRecord) -> bool {
    rec.state
        .monitor_pid
        .is_some_and(|p| process_is(p, rec.state.monitor_start))
}

/// Is the recorded owner of a live-looking record gone?
fn stale(rec: &ContainerRecord) -> bool {
    matches!(
        rec.state.status.as_str(),
        "running" | "restarting" | "paused"
    ) && !owner_alive(rec)
}

/// `rec` with its status made true (and the store with it); `None` when
/// it is gone, or half-made by a command that was killed (then removed).
pub fn sync(store: &Store, rec: ContainerRecord) -> Result<Option<ContainerRecord>> {
    if store.half_made(&rec) {
        if store.remove_container_if(&rec.id, |r| store.half_made(r))? {
            // What its killed maker may have set up of its networking: a
            // user-space stack (which would keep the namespace alive),
            // leases, published ports.
            crate::network::setup::disconnect(store, &rec.id);
            return Ok(None);
        }
        // Made whole meanwhile: as it is now.
        return match store.container(&rec.id)? {
            Some(now) => sync(store, now),
            None => Ok(None),
        };
    }
    if !stale(&rec) {
        return Ok(Some(rec));
    }
    let id = rec.id.clone();
    let fixed = store.update_container(&id, |c| {
        if !stale(c) {
            return Ok(c.clone());
        }
        // The owner's death signal killed it; make sure of it.
        if let Some(pid) = c.state.pid.filter(|p| process_is(*p, c.state.pid_start)) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        c.state.status = "exited".into();
        c.state.exit_code = Some(LOST_EXIT_CODE);
        c.state.error = "the container's monitor was killed".into();
        c.state.finished_at = Some(now());
        c.state.pid = None;
        c.state.pid_start = None;
        c.state.monitor_pid = None;
        c.state.monitor_start = None;
        // The owner that would have removed its cgroup and left its
        // networks is gone.
        let _ = crate::runtime::cgroups::remove(&store.container_dir(&c.id));
        crate::network::setup::disconnect(store, &c.id);
        c.state.endpoints.clear();
        c.state.ports.clear();
        crate::cgroup::remove_monitor_scope(&c.id);
        // A fuse-overlayfs daemon ends with its mount, which ended with
        // the container; one that lingers is ended here.
        crate::runtime::fuse::reap(&store.container_dir(&c.id));
        Ok(c.clone())
    });
    let fixed = match fixed {
        Ok(f) => f,
        // Removed meanwhile by another command.
        Err(e) if crate::error::kind_of(&e) == Some(crate::error::ErrorKind::NotFound) => {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    if fixed.auto_remove && fixed.state.status == "exited" {
        store.remove_container_and_volumes(&fixed.id, &fixed.anonymous_volumes)?;
        return Ok(None);
    }
    Ok(Some(fixed))
}

/// How long a start waits for another command starting the same
/// container.
const CLAIM_WAIT: Duration = Duration::from_secs(60);

/// Take container `id` to start it: the owner's lock, held for as long
/// as this process keeps the container, or `None` when another command
/// started it meanwhile (it runs). A container another command is still
/// making (`run -d` killed after handing it to its monitor) or starting
/// is waited for, so two starts never race; `maker` says this process is
/// the maker's own (its monitor, or the foreground `run`).
pub fn claim(store: &Store, id: &str, maker: bool) -> Result<Option<LockGuard>> {
    let until = Instant::now() + CLAIM_WAIT;
    loop {
        let rec = current(store, id)?;
        if !matches!(rec.state.status.as_str(), "created" | "exited" | "dead") {
            return Ok(None);
        }
        if maker || !store.being_made(&rec) {
            if let Some(lock) = store.try_own(id)? {
                // Started and ended by the one before: as it is now.
                let rec = current(store, id)?;
                if matches!(rec.state.status.as_str(), "created" | "exited" | "dead") {
                    return Ok(Some(lock));
                }
                return Ok(None);
            }
        }
        if Instant::now() > until {
            crate::bail_kind!(
                InvalidState,
                "container {id} is being started by another command"
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Container `id` as it is now, its status true.
fn current(store: &Store, id: &str) -> Result<ContainerRecord> {
    let found = match store.container(id)? {
        Some(rec) => sync(store, rec)?,
        None => None,
    };
    found.ok_or_else(|| {
        crate::error::kind_err(
            crate::error::ErrorKind::NotFound,
            format!("No such container: {id}"),
        )
    })
}

/// Every container, its status true, newest first.
pub fn list(store: &Store) -> Result<Vec<ContainerRecord>> {
    let mut out = Vec::new();
    for rec in store.containers()? {
        if let Some(r) = sync(store, rec)? {
            out.push(r);
        }
    }
    Ok(out)
}

/// The container a user names (ID, unique ID prefix, or name), its status
/// true.
pub fn find(store: &Store, name: &str) -> Result<ContainerRecord> {
    let rec = store.find_container(name)?;
    sync(store, rec)?.ok_or_else(|| {
        crate::error::kind_err(
            crate::error::ErrorKind::NotFound,
            format!("No such container: {name}"),
        )
    })
}

/// Is the container's process running now (paused counts: its processes
/// are there, frozen)?
pub fn is_running(rec: &ContainerRecord) -> bool {
    matches!(rec.state.status.as_str(), "running" | "paused")
        && rec
            .state
            .pid
            .is_some_and(|p| process_is(p, rec.state.pid_start))
}
