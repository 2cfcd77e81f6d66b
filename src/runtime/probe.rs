//! The monitor's health probes: at the times `runtime::health` sets, one
//! `skiff container-probe ID` at a time (an exec into the container from
//! a sealed copy of skiff, its output on one pipe), killed with its
//! process group when it outlasts the timeout; each result goes into the
//! container's record. Driven by the monitor's poll loop: `deadline` is
//! when it wants to be woken, `fd` what to watch, and `poll` does what is
//! due; no thread, no polling of its own.

use super::health::{self, Schedule};
use super::process::read_some;
use crate::image::config::HealthConfig;
use crate::store::containers::{now, HealthResult};
use crate::store::Store;
use anyhow::{anyhow, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the probe finds the store (the monitor's own `--root` and
/// `--runroot`).
#[derive(Debug, Clone)]
pub struct Roots {
    pub root: PathBuf,
    pub runroot: PathBuf,
}

struct Running {
    child: Child,
    out: Option<OwnedFd>,
    output: Vec<u8>,
    truncated: bool,
    start: String,
    began: Instant,
    deadline: Instant,
    timed_out: bool,
}

pub struct Prober {
    id: String,
    roots: Roots,
    schedule: Schedule,
    /// When the container started.
    started: Instant,
    /// The status last recorded.
    status: String,
    /// When the next probe starts (none running).
    next: Instant,
    running: Option<Running>,
}

impl Prober {
    /// The prober of a container just started with check `cfg`, or `None`
    /// when it has no check to run. The record that says it runs says
    /// `starting` too ([`health::on_start`]).
    pub fn start(id: &str, roots: Roots, cfg: Option<&HealthConfig>) -> Result<Option<Prober>> {
        let Some(cfg) = cfg.filter(|c| c.probe_command().is_some()) else {
            return Ok(None);
        };
        let schedule = Schedule::of(cfg);
        let started = Instant::now();
        Ok(Some(Prober {
            id: id.to_string(),
            roots,
            next: started + schedule.wait(Duration::ZERO, health::STARTING),
            schedule,
            started,
            status: health::STARTING.into(),
            running: None,
        }))
    }

    /// When the monitor must call [`Prober::poll`] at the latest.
    pub fn deadline(&self) -> Instant {
        match &self.running {
            // While its output is open, the pipe wakes the monitor too.
            Some(r) => r.deadline,
            None => self.next,
        }
    }

    /// The running probe's output, to poll for.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.running
            .as_ref()
            .and_then(|r| r.out.as_ref())
            .map(|f| f.as_fd())
    }

    /// Do what is due: read the probe's output, end one that exited or
    /// outlasted its timeout, start the next.
    pub fn poll(&mut self, store: &Store) -> Result<()> {
        let at = Instant::now();
        if let Some(r) = self.running.as_mut() {
            r.read_output();
            if at >= r.deadline {
                if r.timed_out {
                    // The probe outlived its command by a second: all of it.
                    r.kill();
                } else {
                    // The command and what it started, but not the probe,
                    // which reaps its child and exits: the container's
                    // init, which may not reap, inherits no zombie.
                    kill_group_but(r.child.id());
                    r.timed_out = true;
                }
                // Its end comes as SIGCHLD; this only re-checks.
                r.deadline = at + Duration::from_secs(1);
            }
            if let Ok(Some(status)) = r.child.try_wait() {
                let r = self.running.take().expect("a running probe");
                self.finish(store, r, status.code())?;
            }
        }
        if self.running.is_none() && Instant::now() >= self.next {
            match self.spawn() {
                Ok(r) => self.running = Some(r),
                Err(e) => {
                    let t = now();
                    let result = HealthResult {
                        start: t.clone(),
                        end: t,
                        exit_code: -1,
                        output: format!("{e:#}"),
                    };
                    self.take(store, result, Instant::now())?;
                }
            }
        }
        Ok(())
    }

    /// The container is gone: no probe outlives it.
    pub fn stop(&mut self) {
        if let Some(mut r) = self.running.take() {
            r.kill();
            let _ = r.child.wait();
        }
    }

    fn spawn(&self) -> Result<Running> {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| anyhow!("create a pipe: {}", super::io_text(&e.into())))?;
        let w2 = w
            .try_clone()
            .map_err(|e| anyhow!("duplicate a pipe: {}", super::io_text(&e)))?;
        let child = Command::new("/proc/self/exe")
            .arg0("skiff")
            .arg("--root")
            .arg(&self.roots.root)
            .arg("--runroot")
            .arg(&self.roots.runroot)
            .arg("container-probe")
            .arg(&self.id)
            .stdin(Stdio::null())
            .stdout(Stdio::from(w))
            .stderr(Stdio::from(w2))
            .current_dir("/")
            // Its own process group, killed whole at the timeout: the
            // exec'd command stays in it.
            .process_group(0)
            .spawn()
            .map_err(|e| anyhow!("start the health check: {}", super::io_text(&e)))?;
        let began = Instant::now();
        Ok(Running {
            child,
            out: Some(r),
            output: Vec::new(),
            truncated: false,
            start: now(),
            began,
            deadline: began + self.schedule.timeout,
            timed_out: false,
        })
    }

    fn finish(&mut self, store: &Store, mut r: Running, code: Option<i32>) -> Result<()> {
        r.read_output();
        let mut output = health::output_text(&r.output, r.truncated);
        let exit_code = if r.timed_out {
            let limit = health::go_text(self.schedule.timeout);
            output = if output.is_empty() {
                format!("Health check exceeded timeout ({limit})")
            } else {
                format!("Health check exceeded timeout ({limit}): {output}")
            };
            -1
        } else {
            code.unwrap_or(-1)
        };
        let result = HealthResult {
            start: r.start,
            end: now(),
            exit_code,
            output,
        };
        self.take(store, result, r.began)
    }

    /// Record a result (of a probe that began at `began`) and set the
    /// next probe's time.
    fn take(&mut self, store: &Store, result: HealthResult, began: Instant) -> Result<()> {
        let in_start = began.duration_since(self.started) < self.schedule.start_period;
        let mut changed = None;
        let rec = store.update_container(&self.id, |c| {
            // A frozen container's probe tells nothing of its health.
            if c.state.status == "paused" {
                return Ok(c.clone());
            }
            let h = c.state.health.get_or_insert_with(|| health::started(None));
            changed = health::record(h, result, &self.schedule, in_start);
            Ok(c.clone())
        });
        if let Some(h) = rec.as_ref().ok().and_then(|r| r.state.health.as_ref()) {
            self.status = h.status.clone();
        }
        // The next probe is set even when the record could not be written.
        let now = Instant::now();
        self.next = now + self.schedule.wait(now - self.started, &self.status);
        let rec = rec?;
        if let Some(status) = changed {
            store.container_event(&rec, &format!("health_status: {status}"), &[]);
        }
        Ok(())
    }
}

impl Running {
    /// What the probe wrote so far, up to the limit; the rest is read and
    /// dropped so the probe never blocks on a full pipe.
    fn read_output(&mut self) {
        let Some(fd) = self.out.as_ref() else { return };
        let mut buf = [0u8; 4096];
        loop {
            let mut p = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
            if !matches!(poll(&mut p, PollTimeout::ZERO), Ok(n) if n > 0) {
                return;
            }
            match read_some(fd.as_fd(), &mut buf) {
                Ok(0) | Err(_) => {
                    self.out = None;
                    return;
                }
                Ok(n) => {
                    let room = health::OUTPUT_MAX.saturating_sub(self.output.len());
                    self.output.extend_from_slice(&buf[..n.min(room)]);
                    if n > room {
                        self.truncated = true;
                    }
                }
            }
        }
    }

    fn kill(&mut self) {
        let pgid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
    }
}

/// SIGKILL to every process in process group `pgid` but its leader.
fn kill_group_but(pgid: u32) {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if pid != pgid && crate::util::fs::process_group(pid) == Some(pgid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// A prober served by a foreground run (`process::wait_with`).
pub struct Beside<'a> {
    pub prober: Prober,
    pub store: &'a Store,
}

impl super::process::Beside for Beside<'_> {
    fn deadline(&self) -> Option<Instant> {
        Some(self.prober.deadline())
    }
    fn fds(&self) -> Vec<BorrowedFd<'_>> {
        self.prober.fd().into_iter().collect()
    }
    fn wake(&mut self) {
        // A record removed meanwhile (`rm -f`): the container goes too.
        let _ = self.prober.poll(self.store);
    }
    fn stop(&mut self) {
        self.prober.stop();
    }
}
