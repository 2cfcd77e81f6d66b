//! The monitor of a detached container: the skiff binary re-executed as a
//! hidden command, in a session of its own, that stays the container's
//! parent for as long as the container (and its restart policy) lives. It
//! writes the container's output to its log, records its start and exit in
//! the store, applies the restart policy and `--rm`, and then exits. One
//! per container, single-threaded, woken only by the kernel (a poll over
//! the output pipes and a signalfd); no daemon.
//!
//! The command that starts it waits on a pipe (`--ready-fd`): the monitor
//! writes `ok` once the container's command runs, or `err CODE` and the
//! error's text when it could not start it.

use super::attach::{self, Hub, Input};
use super::bundle::Bundle;
use super::logfile::{self, LogWriter, Stream};
use super::probe::{Prober, Roots};
use super::process::{self, read_some, write_all, Spawned};
use super::{Ended, Exit, RunIo, Stdio};
use crate::error::{kind_of, ErrorKind};
use crate::store::containers::now;
use crate::store::{ContainerRecord, Store};
use anyhow::{anyhow, Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

/// Docker's restart back-off: 100 ms, doubled each time, at most a
/// minute, back to the start after a run of 10 s or more.
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
const RESET_AFTER: Duration = Duration::from_secs(10);

/// When the monitor gives back its start-up memory (see `pump`).
const SLIM_AFTER: Duration = Duration::from_secs(1);
/// How often a monitor makes sure its container's record is still there.
const ORPHAN_CHECK: Duration = Duration::from_secs(2);

/// Run container `id` under this process until it is done for good.
/// `ready` is the pipe to the command that started the monitor; clients
/// attach on the socket at `attach_path`. With `wait_attach` (`start -a`),
/// the container starts once the first client is there (the monitor says
/// `bound` on the ready pipe when it listens). Health probes find the
/// store through `roots`. Once the container first runs, the monitor
/// moves into a cgroup of its own (`scope`, left by the caller at the
/// end): out of the container's, and out of the starting session's, whose
/// end must not take the container along.
pub fn serve(
    store: &Store,
    id: &str,
    ready: OwnedFd,
    attach_path: &std::path::Path,
    (wait_attach, roots, maker): (bool, &Roots, bool),
    scope: &mut Option<crate::cgroup::MonitorScope>,
) -> Result<()> {
    let mut ready = Some(std::fs::File::from(ready));
    // The container is this monitor's alone, or, started meanwhile by
    // another command, not to be started again (Docker's `start` of a
    // running container): its socket is that owner's.
    let _owner = match crate::container::state::claim(store, id, maker) {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            if let Some(mut r) = ready.take() {
                if wait_attach {
                    let _ = r.write_all(b"bound\n");
                }
                let _ = r.write_all(b"ok\n");
            }
            return Ok(());
        }
        Err(e) => {
            if let Some(mut r) = ready.take() {
                let code = kind_of(&e).map(|k| k.exit_code()).unwrap_or(125);
                let _ = write!(r, "err {code}\n{e:#}");
            }
            return Err(e);
        }
    };
    let mut hub = match Hub::bind(attach_path) {
        Ok(h) => Some(h),
        // Detached containers run without attach rather than not at all.
        Err(_) if !wait_attach => None,
        Err(e) => return Err(e),
    };
    if wait_attach {
        if let (Some(h), Some(r)) = (hub.as_mut(), ready.as_mut()) {
            let _ = r.write_all(b"bound\n");
            h.wait_first(Duration::from_secs(30));
        }
    }
    let mut backoff = BACKOFF_START;
    loop {
        let started = Instant::now();
        let (exit, oom) = match run_once(store, id, &mut ready, hub.as_mut(), roots, scope) {
            Ok(ended) => (ended.exit, ended.oom_killed),
            Err(e) => {
                let code = kind_of(&e).map(|k| k.exit_code()).unwrap_or(125);
                let _ = store.update_container(id, |c| {
                    c.state.made_whole();
                    c.state.status = if c.state.started_at.is_some() {
                        "exited"
                    } else {
                        "created"
                    }
                    .into();
                    c.state.pid = None;
                    c.state.pid_start = None;
                    c.state.monitor_pid = None;
                    c.state.monitor_start = None;
                    c.state.exit_code = Some(code);
                    c.state.error = format!("{e:#}");
                    c.state.finished_at = Some(now());
                    Ok(())
                });
                if let Some(mut r) = ready.take() {
                    let _ = write!(r, "err {code}\n{e:#}");
                    // The command reports the error; nothing more to do.
                    return remove_if_auto(store, id);
                }
                (Exit::Code(code), false)
            }
        };
        let rec = record_exit(store, id, &exit, oom)?;
        if started.elapsed() >= RESET_AFTER {
            backoff = BACKOFF_START;
        }
        if !should_restart(&rec, &exit) {
            break;
        }
        store.update_container(id, |c| {
            c.state.status = "restarting".into();
            c.state.restart_count += 1;
            Ok(())
        })?;
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(BACKOFF_MAX);
        // A `stop` during the back-off ends it.
        if store.container(id)?.is_none_or(|c| c.state.stopped_by_user) {
            store.update_container(id, |c| {
                c.state.status = "exited".into();
                Ok(())
            })?;
            break;
        }
    }
    remove_if_auto(store, id)
}

fn remove_if_auto(store: &Store, id: &str) -> Result<()> {
    let Some(rec) = store.container(id)? else {
        return Ok(());
    };
    if rec.auto_remove {
        store.remove_container_and_volumes(id, &rec.anonymous_volumes)?;
    }
    Ok(())
}

/// Does the policy restart a container that ended so?
fn should_restart(rec: &ContainerRecord, exit: &Exit) -> bool {
    if rec.state.stopped_by_user || rec.auto_remove {
        return false;
    }
    let p = &rec.restart;
    match p.name.as_str() {
        "always" | "unless-stopped" => true,
        "on-failure" => {
            exit.status() != 0 && (p.max_retries == 0 || rec.state.restart_count < p.max_retries)
        }
        _ => false,
    }
}

fn record_exit(store: &Store, id: &str, exit: &Exit, oom: bool) -> Result<ContainerRecord> {
    let rec = store.update_container(id, |c| {
        c.state.status = "exited".into();
        c.state.exit_code = Some(exit.status());
        c.state.oom_killed = oom;
        c.state.finished_at = Some(now());
        c.state.pid = None;
        c.state.pid_start = None;
        c.state.endpoints.clear();
        c.state.ports.clear();
        // Docker's word for a check that no longer runs.
        if let Some(h) = c.state.health.as_mut() {
            h.status = super::health::UNHEALTHY.into();
        }
        Ok(c.clone())
    })?;
    let code = exit.status().to_string();
    store.container_event(&rec, "die", &[("exitCode", &code)]);
    Ok(rec)
}

/// Start the container once and serve it until it exits. `ready` is the
/// starting command's pipe while it still waits: told once the container
/// runs (its start time is then the container's StartedAt).
fn run_once(
    store: &Store,
    id: &str,
    ready: &mut Option<std::fs::File>,
    hub: Option<&mut Hub>,
    roots: &Roots,
    scope: &mut Option<crate::cgroup::MonitorScope>,
) -> Result<Ended> {
    let first = ready.is_some();
    let rec = store.container(id)?.ok_or_else(|| {
        crate::error::kind_err(ErrorKind::NotFound, format!("No such container: {id}"))
    })?;
    let dir = store.container_dir(id);
    let mut bundle = Bundle::load(&dir)?;
    // The containers it shares namespaces with, as they run now.
    crate::container::shares::point(
        store,
        &crate::container::shares::of(&rec)?,
        &mut bundle.spec,
    )?;
    let mut log = match logfile::log_path(&dir, id, &rec.log) {
        Some(p) => Some(LogWriter::open(&p, &rec.log)?),
        None => None,
    };
    // With -i (and no terminal) the container's stdin is a pipe that
    // attached clients write to.
    let mut stdin_w = None;
    let (io, pipes) = if rec.tty {
        (RunIo::Inherit, None)
    } else {
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let stdin = if rec.interactive {
            let (r, w) = pipe()?;
            stdin_w = Some(w);
            Some(r)
        } else {
            None
        };
        (
            RunIo::Stdio(Stdio {
                stdin,
                stdout: out_w,
                stderr: err_w,
            }),
            Some((out_r, err_r)),
        )
    };
    // `published` holds its host ports until it ends.
    let (endpoints, published) = crate::network::publish::connect(store, &rec)?;
    let mut spawned = match process::spawn(&bundle, id, io) {
        Ok(s) => s,
        Err(e) => {
            crate::network::setup::disconnect(store, id);
            return Err(e);
        }
    };
    let cgroup = spawned.cgroup.take();
    let pid = spawned.child.pid().as_raw() as u32;
    let started = store.update_container(id, |c| {
        mark_running(c, pid, first);
        c.state.endpoints = endpoints;
        c.state.ports = published.ports.clone();
        Ok(c.clone())
    })?;
    store.container_event(&started, "start", &[]);
    if let Some(mut r) = ready.take() {
        let _ = r.write_all(b"ok\n");
        drop(r);
        // After `ok`: moving a process between cgroups costs the kernel
        // an RCU grace period (10 ms or more here), which `run -d` need
        // not wait for.
        if scope.is_none() {
            *scope = crate::cgroup::MonitorScope::enter(id);
        }
    }
    let mut prober = Prober::start(id, roots.clone(), rec.healthcheck.as_ref())?;
    let exit = pump(
        &store.container_dir(id).join("container.json"),
        spawned,
        pipes,
        stdin_w,
        log.as_mut(),
        hub,
        prober.as_mut().map(|p| (p, store)),
    );
    if let Some(p) = prober.as_mut() {
        p.stop();
    }
    crate::network::setup::disconnect(store, id);
    let exit = exit?;
    if let Some(l) = log.as_mut() {
        let _ = l.flush();
    }
    Ok(Ended {
        exit,
        oom_killed: cgroup.is_some_and(|c| c.finish()),
    })
}

/// The record of a container whose process `pid` has just started under
/// this process (its monitor, or a foreground `run`): `first` for a start
/// the user asked for, not one of the restart policy's.
pub fn mark_running(c: &mut ContainerRecord, pid: u32, first: bool) {
    let me = std::process::id();
    c.state.made_whole();
    super::health::on_start(c);
    c.state.status = "running".into();
    c.state.pid = Some(pid);
    c.state.pid_start = crate::util::fs::proc_start_time(pid);
    c.state.monitor_pid = Some(me);
    c.state.monitor_start = crate::util::fs::proc_start_time(me);
    c.state.exit_code = None;
    c.state.error.clear();
    c.state.oom_killed = false;
    if first || c.state.started_at.is_none() {
        c.state.started_at = Some(now());
    }
    if first {
        // A start the user asked for: an earlier `stop` no longer holds,
        // and the policy counts its restarts afresh.
        c.state.stopped_by_user = false;
        c.state.restart_count = 0;
    }
    c.state.finished_at = None;
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| anyhow!("create a pipe: {}", super::io_text(&e.into())))
}

/// Copy the container's output to the log and to attached clients until
/// the container exits; pass their input on; forward signals sent to the
/// monitor; run the health probes when they are due.
fn pump(
    record: &std::path::Path,
    spawned: Spawned,
    pipes: Option<(OwnedFd, OwnedFd)>,
    stdin_w: Option<OwnedFd>,
    mut log: Option<&mut LogWriter>,
    mut hub: Option<&mut Hub>,
    mut probe: Option<(&mut Prober, &Store)>,
) -> Result<Exit> {
    let Spawned {
        mut child,
        signals,
        master,
        ..
    } = spawned;
    // Sources: (fd, stream); closed ones are dropped from the list.
    let mut sources: Vec<(OwnedFd, Stream)> = Vec::new();
    if let Some((o, e)) = pipes {
        sources.push((o, Stream::Stdout));
        sources.push((e, Stream::Stderr));
    }
    // Where clients' input goes: the pty, or the stdin pipe.
    let mut input = stdin_w;
    let mut tty_fd = None;
    if let Some(m) = master {
        input = m.try_clone().ok();
        tty_fd = m.try_clone().ok();
        sources.push((m, Stream::Stdout));
    }
    let mut buf = vec![0u8; 32 * 1024];
    // Once, a second after the start (when the command that started the
    // monitor has gone and shares no page with it any more): from then on
    // the monitor only copies output and waits, so what it touched of
    // skiff's code and heap to get here goes back to the kernel.
    let mut slim_at = Some(Instant::now() + SLIM_AFTER);
    // A container whose record is gone (removed by a command that took
    // it for half-made or lost while it started) must not run on, unseen
    // by every command: looked for every few seconds, it is then ended.
    let mut orphan_at = Instant::now() + ORPHAN_CHECK;
    loop {
        let mut fds = vec![PollFd::new(signals.fd(), PollFlags::POLLIN)];
        for (fd, _) in &sources {
            fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
        }
        if let Some(fd) = probe.as_ref().and_then(|(p, _)| p.fd()) {
            fds.push(PollFd::new(fd, PollFlags::POLLIN));
        }
        let hub_at = fds.len();
        if let Some(h) = hub.as_deref() {
            for fd in h.fds() {
                fds.push(PollFd::new(fd, PollFlags::POLLIN));
            }
        }
        let wake_at = [
            slim_at,
            Some(orphan_at),
            probe.as_ref().map(|(p, _)| p.deadline()),
        ]
        .into_iter()
        .flatten()
        .min();
        let woke = poll(&mut fds, process::timeout_until(wake_at));
        if slim_at.is_some_and(|t| Instant::now() >= t) {
            slim_at = None;
            crate::sys::mem::slim();
        }
        if Instant::now() >= orphan_at {
            orphan_at = Instant::now() + ORPHAN_CHECK;
            if !record.exists() {
                // Its end comes as SIGCHLD, below.
                let _ = nix::sys::signal::kill(child.pid(), nix::sys::signal::Signal::SIGKILL);
            }
        }
        match woke {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(anyhow!("poll: {}", super::errno_text(e as i32))),
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| {
                f.revents().is_some_and(|r| {
                    r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
                })
            })
            .collect();
        drop(fds);
        let mut closed = Vec::new();
        for (i, (fd, stream)) in sources.iter().enumerate() {
            if !ready[i + 1] {
                continue;
            }
            match read_some(fd.as_fd(), &mut buf) {
                Ok(0) | Err(_) => closed.push(i),
                Ok(n) => {
                    if let Some(l) = log.as_deref_mut() {
                        l.write(*stream, &buf[..n])?;
                    }
                    if let Some(h) = hub.as_deref_mut() {
                        let kind = match stream {
                            Stream::Stdout => attach::STDOUT,
                            Stream::Stderr => attach::STDERR,
                        };
                        h.broadcast(kind, &buf[..n]);
                    }
                }
            }
        }
        for i in closed.into_iter().rev() {
            sources.remove(i);
        }
        if let Some(h) = hub.as_deref_mut() {
            serve_clients(h, &ready[hub_at..], &mut input, tty_fd.as_ref());
        }
        if let Some((p, store)) = probe.as_mut() {
            // Its output, its end (SIGCHLD below comes too) or its time. A
            // failure to record a result (the record removed meanwhile by
            // `rm -f`, which ends the container too) stops nothing.
            let _ = p.poll(store);
        }
        if !ready[0] {
            continue;
        }
        while let Some(s) = signals.next()? {
            if s.signal == libc::SIGCHLD {
                if let Some((p, store)) = probe.as_mut() {
                    let _ = p.poll(store);
                }
                if let Some(exit) = child.try_wait()? {
                    drain(&sources, &mut buf, log)?;
                    return Ok(exit);
                }
                continue;
            }
            if let Ok(sig) = nix::sys::signal::Signal::try_from(s.signal) {
                let _ = nix::sys::signal::kill(child.pid(), sig);
            }
        }
    }
}

/// New clients, and what the connected ones sent: input to the
/// container, terminal sizes to its pty.
fn serve_clients(h: &mut Hub, ready: &[bool], input: &mut Option<OwnedFd>, tty: Option<&OwnedFd>) {
    let mut gone = Vec::new();
    for (i, r) in ready.iter().enumerate().skip(1) {
        if !*r {
            continue;
        }
        let Some(msgs) = h.read_client(i - 1) else {
            gone.push(i - 1);
            continue;
        };
        for m in msgs {
            match m {
                Input::Stdin(d) => {
                    if let Some(fd) = input.as_ref() {
                        if write_all(fd.as_fd(), &d).is_err() {
                            *input = None;
                        }
                    }
                }
                Input::Resize(rows, cols) => {
                    if let Some(t) = tty {
                        super::pty::set_size(t.as_fd(), rows, cols);
                    }
                }
            }
        }
    }
    for i in gone.into_iter().rev() {
        h.remove(i);
    }
    if ready.first() == Some(&true) {
        h.accept();
    }
}

/// After the exit: what is still in the pipes, without waiting for
/// processes the container left behind that may hold them open.
fn drain(
    sources: &[(OwnedFd, Stream)],
    buf: &mut [u8],
    mut log: Option<&mut LogWriter>,
) -> Result<()> {
    for (fd, stream) in sources {
        loop {
            let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
            if !matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0) {
                break;
            }
            match read_some(fd.as_fd(), buf) {
                Ok(n) if n > 0 => {
                    if let Some(l) = log.as_deref_mut() {
                        l.write(*stream, &buf[..n])?;
                    }
                }
                _ => break,
            }
        }
    }
    Ok(())
}

/// The text `serve` writes to the ready pipe, read back by the starting
/// command: `Ok` once running, else the error with its kind's exit code.
pub fn read_ready(data: &[u8]) -> Result<()> {
    let text = String::from_utf8_lossy(data);
    let text = text.strip_prefix("bound\n").unwrap_or(&text);
    if text.starts_with("ok") {
        return Ok(());
    }
    if let Some(rest) = text.strip_prefix("err ") {
        let (code, msg) = rest.split_once('\n').unwrap_or((rest, ""));
        let kind = match code.trim() {
            "126" => Some(ErrorKind::CannotInvoke),
            "127" => Some(ErrorKind::CommandNotFound),
            _ => None,
        };
        return Err(match kind {
            Some(k) => crate::error::kind_err(k, msg.to_string()),
            None => anyhow!("{msg}"),
        });
    }
    Err(anyhow!("the container's monitor exited before starting it")).context("start the container")
}
