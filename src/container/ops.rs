//! What the life-cycle commands do to a container: signal, stop, wait,
//! remove. Each acts on a record whose status was made true first
//! (`state::find`), and waits on processes through pidfds, not by polling.

use super::state::{self, is_running};
use crate::error::{kind_err, ErrorKind};
use crate::store::{ContainerRecord, Store};
use crate::util::fs::process_is;
use anyhow::{anyhow, Result};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// `stop` waits this long before SIGKILL unless told otherwise (Docker's).
pub const DEFAULT_STOP_TIMEOUT: i64 = 10;

/// How long to wait for a monitor to record an exit it has seen.
const MONITOR_GRACE: Duration = Duration::from_secs(10);

fn not_running(rec: &ContainerRecord) -> anyhow::Error {
    kind_err(
        ErrorKind::InvalidState,
        format!("container {} is not running", rec.id),
    )
}

/// Send `sig` to the container's process.
pub fn signal(rec: &ContainerRecord, sig: i32) -> Result<()> {
    let Some(pid) = rec.state.pid.filter(|_| is_running(rec)) else {
        return Err(anyhow!(
            "cannot kill container: {}: {}",
            rec.name,
            not_running(rec)
        ))
        .map_err(|e| kind_err(ErrorKind::InvalidState, format!("{e:#}")));
    };
    crate::sys::proc::send_signal(pid as i32, sig)
        .map_err(|e| anyhow!("kill container {}: {e}", rec.name))
}

/// `kill`: [`signal`], recorded as an event. SIGKILL returns once the
/// container's end is recorded, as Docker's does: a `rm` right after it
/// finds the container stopped.
pub fn kill(store: &Store, rec: &ContainerRecord, sig: i32) -> Result<()> {
    signal(rec, sig)?;
    thaw_to_deliver(store, rec);
    store.container_event(rec, "kill", &[("signal", &sig.to_string())]);
    if sig == libc::SIGKILL {
        if let Some(pid) = rec.state.pid {
            wait_gone(pid, rec.state.pid_start, Some(MONITOR_GRACE));
        }
        wait_owner(rec, MONITOR_GRACE);
    }
    Ok(())
}

/// A paused container just signalled: thawed, so that it sees the signal
/// now (a frozen process takes it only when thawed; SIGKILL aside on
/// cgroup v2), and running again.
fn thaw_to_deliver(store: &Store, rec: &ContainerRecord) {
    if rec.state.status != "paused" {
        return;
    }
    if let Some(cg) = crate::runtime::cgroups::existing(&store.container_dir(&rec.id)) {
        let _ = cg.set_frozen(false);
    }
    let _ = store.update_container(&rec.id, |c| {
        if c.state.status == "paused" {
            c.state.status = "running".into();
        }
        Ok(())
    });
}

/// `f` done with the running container's processes frozen (`commit
/// --pause`), so that its files hold still; thawed again however `f` ends.
pub fn frozen_during<T>(
    store: &Store,
    rec: &ContainerRecord,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let Some(cg) = crate::runtime::cgroups::existing(&store.container_dir(&rec.id)) else {
        return f();
    };
    cg.set_frozen(true)
        .map_err(|e| anyhow!("pause container {}: {e:#}", rec.id))?;
    let out = f();
    cg.set_frozen(false)
        .map_err(|e| anyhow!("unpause container {}: {e:#}", rec.id))?;
    out
}

/// `pause` (`frozen`) or `unpause`: every process of the running
/// container frozen by the cgroup freezer, or thawed; Docker's words when
/// the container is not in the state for it.
pub fn pause(store: &Store, rec: &ContainerRecord, frozen: bool) -> Result<()> {
    let (from, to, what) = if frozen {
        ("running", "paused", "pause")
    } else {
        ("paused", "running", "unpause")
    };
    let refuse = |c: &ContainerRecord| {
        let why = match (frozen, c.state.status.as_str()) {
            (true, "paused") => "is already paused",
            (true, _) => "is not running",
            (false, _) => "is not paused",
        };
        kind_err(ErrorKind::InvalidState, format!("Container {} {why}", c.id))
    };
    if rec.state.status != from || !is_running(rec) {
        return Err(refuse(rec));
    }
    let cg = crate::runtime::cgroups::existing(&store.container_dir(&rec.id))
        .ok_or_else(|| anyhow!("container {} has no cgroup to freeze", rec.id))?;
    // Under the store's lock: its monitor, recording an exit, waits.
    let rec = store.update_container(&rec.id, |c| {
        if c.state.status != from {
            return Err(refuse(c));
        }
        cg.set_frozen(frozen)
            .map_err(|e| anyhow!("{what} container {}: {e:#}", c.id))?;
        c.state.status = to.into();
        Ok(c.clone())
    })?;
    store.container_event(&rec, what, &[]);
    Ok(())
}

/// Wait until process `pid` (started at `start`) is gone, at most
/// `timeout` (forever with `None`). True when it is gone.
pub fn wait_gone(pid: u32, start: Option<u64>, timeout: Option<Duration>) -> bool {
    let Some(p) = rustix::process::Pid::from_raw(pid as i32) else {
        return true;
    };
    let fd = match rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(_) => return true,
    };
    // The pidfd may name a newer process that got the pid.
    if !process_is(pid, start) {
        return true;
    }
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let left = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(l) => Some(l),
                None => return !process_is(pid, start),
            },
            None => None,
        };
        let mut fds = [nix::poll::PollFd::new(
            fd.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let t = match left {
            Some(l) => nix::poll::PollTimeout::try_from(l.as_millis().min(i32::MAX as u128) as i32)
                .unwrap_or(nix::poll::PollTimeout::MAX),
            None => nix::poll::PollTimeout::NONE,
        };
        match nix::poll::poll(&mut fds, t) {
            Ok(n) if n > 0 => return true,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return !process_is(pid, start),
        }
        // A zombie (its parent has not reaped it yet) counts as gone.
        if !process_is(pid, start) {
            return true;
        }
    }
}

/// Wait for the owner (monitor) of `rec` to finish, so that its record
/// holds the exit.
fn wait_owner(rec: &ContainerRecord, timeout: Duration) {
    if let Some(m) = rec.state.monitor_pid {
        wait_gone(m, rec.state.monitor_start, Some(timeout));
    }
}

/// Mark the container as stopped on purpose: its restart policy leaves it
/// be (Docker's "manually stopped").
fn mark_stopped(store: &Store, id: &str) -> Result<Option<ContainerRecord>> {
    match store.update_container(id, |c| {
        c.state.stopped_by_user = true;
        Ok(c.clone())
    }) {
        Ok(r) => Ok(Some(r)),
        Err(e) if crate::error::kind_of(&e) == Some(ErrorKind::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `stop`: the stop signal, `timeout` seconds (negative: forever), then
/// SIGKILL; returns once the container's exit is recorded.
pub fn stop(
    store: &Store,
    rec: &ContainerRecord,
    timeout: Option<i64>,
    sig: Option<i32>,
) -> Result<()> {
    let Some(rec) = mark_stopped(store, &rec.id)? else {
        return Ok(());
    };
    if !matches!(
        rec.state.status.as_str(),
        "running" | "restarting" | "paused"
    ) {
        return Ok(());
    }
    if let Some(pid) = rec.state.pid.filter(|_| is_running(&rec)) {
        let sig = sig.or(rec.stop_signal).unwrap_or(libc::SIGTERM);
        let _ = signal(&rec, sig);
        thaw_to_deliver(store, &rec);
        let secs = timeout.or(rec.stop_timeout).unwrap_or(DEFAULT_STOP_TIMEOUT);
        let wait = (secs >= 0).then(|| Duration::from_secs(secs as u64));
        if !wait_gone(pid, rec.state.pid_start, wait) {
            let _ = signal(&rec, libc::SIGKILL);
            // And whatever else runs in its cgroup (an exec'd process).
            let _ = crate::runtime::cgroups::kill_all(&store.container_dir(&rec.id));
            wait_gone(pid, rec.state.pid_start, Some(MONITOR_GRACE));
        }
    }
    wait_owner(&rec, MONITOR_GRACE);
    store.container_event(&rec, "stop", &[]);
    Ok(())
}

/// `wait`: block until the container is not running, then its exit code.
pub fn wait(store: &Store, name: &str) -> Result<i32> {
    loop {
        let rec = state::find(store, name)?;
        match rec.state.status.as_str() {
            "running" | "paused" => {
                if let Some(pid) = rec.state.pid {
                    wait_gone(pid, rec.state.pid_start, None);
                }
                // Its monitor records the exit right after.
                let deadline = Instant::now() + MONITOR_GRACE;
                loop {
                    let now = match store.container(&rec.id)? {
                        Some(r) => super::state::sync(store, r)?,
                        None => None,
                    };
                    match now {
                        Some(r) if r.state.status == "running" && r.state.pid == rec.state.pid => {}
                        Some(r) if r.state.status == "running" => break,
                        Some(r) => return Ok(r.state.exit_code.unwrap_or(0)),
                        // Removed (--rm): the exit code went with it.
                        None => return Ok(rec.state.exit_code.unwrap_or(0)),
                    }
                    if Instant::now() > deadline {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            "restarting" => std::thread::sleep(Duration::from_millis(50)),
            _ => return Ok(rec.state.exit_code.unwrap_or(0)),
        }
    }
}

fn live(rec: &ContainerRecord) -> bool {
    matches!(
        rec.state.status.as_str(),
        "running" | "restarting" | "paused"
    )
}

/// Kill a live container on purpose and wait until its monitor is done.
fn kill_and_wait(store: &Store, id: &str) -> Result<()> {
    if let Some(rec) = mark_stopped(store, id)? {
        if let Some(pid) = rec.state.pid.filter(|_| is_running(&rec)) {
            let _ = signal(&rec, libc::SIGKILL);
            let _ = crate::runtime::cgroups::kill_all(&store.container_dir(id));
            thaw_to_deliver(store, &rec);
            wait_gone(pid, rec.state.pid_start, Some(MONITOR_GRACE));
        }
        wait_owner(&rec, MONITOR_GRACE);
    }
    Ok(())
}

/// `rm`: refuse a running container unless `force` (then kill it first);
/// with `volumes`, its anonymous volumes go too. The last check is made
/// under the store's lock, so a monitor that starts the container at the
/// same moment either finds it gone (and kills what it started) or is
/// seen and killed here.
pub fn remove(store: &Store, rec: &ContainerRecord, force: bool, volumes: bool) -> Result<()> {
    let refuse = |rec: &ContainerRecord| {
        kind_err(
            ErrorKind::InvalidState,
            format!(
                "cannot remove container \"/{}\": container is {}: stop the container before removing or force remove",
                rec.name, rec.state.status
            ),
        )
    };
    if live(rec) && !force {
        return Err(refuse(rec));
    }
    // Its owner removes the cgroup when the container ends; one left
    // behind goes with the container (found now: its path is in
    // config.json, which goes too).
    let cgroup = crate::runtime::cgroups::existing(&store.container_dir(&rec.id));
    for _ in 0..10 {
        if force {
            let now = match store.container(&rec.id)? {
                Some(r) => state::sync(store, r)?,
                None => None,
            };
            if now.as_ref().is_some_and(live) {
                kill_and_wait(store, &rec.id)?;
                // An owner that died meanwhile left its teardown (its
                // networks, its cgroup) to whoever sees it: this command.
                if let Some(r) = store.container(&rec.id)? {
                    state::sync(store, r)?;
                }
            }
        }
        let mut seen = None;
        let removed = store.remove_container_if(&rec.id, |r| {
            seen = Some(r.clone());
            !live(r) || !state::owner_alive(r)
        })?;
        if removed {
            if let Some(cg) = &cgroup {
                let _ = cg.remove();
            }
            store.container_event(seen.as_ref().unwrap_or(rec), "destroy", &[]);
            if volumes {
                let anon = seen.map(|r| r.anonymous_volumes).unwrap_or_default();
                for v in anon.iter().chain(&rec.anonymous_volumes) {
                    let _ = store.remove_volume(v);
                }
            }
            return Ok(());
        }
        if !force {
            return Err(refuse(seen.as_ref().unwrap_or(rec)));
        }
    }
    Err(anyhow!(
        "container {} keeps running: could not remove it",
        rec.id
    ))
}
