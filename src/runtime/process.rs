//! The parent side of a foreground run: plan, fork into the namespaces,
//! write the user namespace's maps, hear from the child until its `execve`,
//! then forward signals (and relay the pty) until it exits.

use super::init;
use super::plan::{self, Plan};
use super::pty::{copy_size, RawMode};
use super::signals::Forwarder;
use super::sync::{self, Channel, Msg};
use super::{bundle::Bundle, Exit, RunIo, Stdio};
use crate::error::kind_err;
use crate::ns::{self, PidForChildren};
use crate::sys::fork::{fork_into, Forked};
use anyhow::{anyhow, bail, Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// Run the container of bundle `b` in the foreground and wait for it.
pub fn run(b: &Bundle, id: &str, io: RunIo) -> Result<Exit> {
    wait(spawn(b, id, io)?)
}

/// Serve a process [`spawn`]ed (or [`launch`]ed) in the foreground:
/// forward signals and relay its pty until it exits.
pub fn wait(s: Spawned) -> Result<Exit> {
    wait_with(s, None)
}

/// A poll timeout that ends at `at` (rounded up: woken a little late
/// rather than early; at most a minute); none without a time.
pub(crate) fn timeout_until(at: Option<std::time::Instant>) -> PollTimeout {
    let Some(t) = at else {
        return PollTimeout::NONE;
    };
    let left = t.saturating_duration_since(std::time::Instant::now());
    let ms = left.as_micros().div_ceil(1000).min(60_000) as i32;
    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
}

/// Work a foreground run does beside the container (its health probes):
/// woken by its descriptor, at its deadline and on SIGCHLD.
pub trait Beside {
    /// When to call [`Beside::wake`] at the latest.
    fn deadline(&self) -> Option<std::time::Instant>;
    /// The descriptors to wake on when readable.
    fn fds(&self) -> Vec<BorrowedFd<'_>>;
    /// What the terminal relay copied from the container's pty.
    fn output(&mut self, _data: &[u8]) {}
    /// Do what is due (its failures are its own: the container runs on).
    fn wake(&mut self);
    /// The container has exited.
    fn stop(&mut self);
}

/// Several [`Beside`]s served at once.
pub struct Several<'a>(pub Vec<Box<dyn Beside + 'a>>);

impl Beside for Several<'_> {
    fn deadline(&self) -> Option<std::time::Instant> {
        self.0.iter().filter_map(|b| b.deadline()).min()
    }
    fn fds(&self) -> Vec<BorrowedFd<'_>> {
        self.0.iter().flat_map(|b| b.fds()).collect()
    }
    fn wake(&mut self) {
        self.0.iter_mut().for_each(|b| b.wake());
    }
    fn stop(&mut self) {
        self.0.iter_mut().for_each(|b| b.stop());
    }
    fn output(&mut self, data: &[u8]) {
        self.0.iter_mut().for_each(|b| b.output(data));
    }
}

/// [`wait`], with `beside` served until the container exits.
pub fn wait_with<'a>(s: Spawned, mut beside: Option<Box<dyn Beside + 'a>>) -> Result<Exit> {
    let Spawned {
        mut child,
        signals,
        master,
        stdio,
        cgroup: _,
    } = s;
    let exit = supervise(&mut child, &signals, master, stdio, beside.as_deref_mut());
    if let Some(b) = beside.as_mut() {
        b.stop();
    }
    exit
}

/// A container process past its `execve`, with what its parent needs to
/// serve it: the signals it forwards (SIGCHLD among them, on a signalfd),
/// and with a terminal the pty master.
pub struct Spawned {
    pub child: Child,
    pub signals: Forwarder,
    pub master: Option<OwnedFd>,
    /// With a terminal: the streams the pty is relayed to.
    pub stdio: Option<Stdio>,
    /// The cgroup made for the container, for its owner to finish once it
    /// has ended. Last: dropped after the child is killed and reaped.
    pub cgroup: Option<super::cgroups::ContainerCgroup>,
}

/// Start the container of bundle `b`: plan, fork into its namespaces, and
/// drive its init to the `execve` of the command.
pub fn spawn(b: &Bundle, id: &str, io: RunIo) -> Result<Spawned> {
    let mut plan = plan::build(b, id)?;
    // Made last before the fork; the plan removes it again if the start
    // fails.
    plan.cgroup = super::cgroups::create(&b.spec)?;
    if let Some(dir) = plan.cgroup.as_ref().and_then(|c| c.cgroup.v2_dir()) {
        for m in &mut plan.mounts {
            if m.kind == super::mounts::Kind::Cgroup {
                m.source = Some(dir.to_path_buf());
            }
        }
    }
    plan.premounted = super::premount::prepare(b, &plan)?;
    if plan.premounted.rootfs.is_some() {
        plan.overlay = None;
    }
    // CVE-2019-5736: the command is exec'd through the trampoline when the
    // init is alone in a new pid namespace; otherwise skiff itself must be
    // running from a sealed copy (seal::prepare).
    let trampoline = if plan.ns.create.contains(CloneFlags::CLONE_NEWPID) {
        super::trampoline::get().ok()
    } else {
        None
    };
    // The built-in init stays skiff for the container's whole life, so it
    // must always come from a sealed copy.
    if (trampoline.is_none() || plan.init) && !super::seal::protected() {
        bail!("refusing to start a container while skiff runs from a writable binary (call runtime::seal::prepare first)");
    }
    let mut s = launch(&plan, io, |chan, stdio| {
        init::run(&plan, chan, stdio, trampoline)
    })?;
    s.cgroup = plan.cgroup.take();
    Ok(s)
}

/// Fork the process `plan` describes into the namespaces it creates (born
/// in the pid namespace `plan.ns.pid` names, if any), run `child` there
/// with its end of the sync channel, and drive it to its `execve`.
pub fn launch(
    plan: &Plan,
    io: RunIo,
    child: impl FnOnce(Channel, Option<&Stdio>) -> std::convert::Infallible,
) -> Result<Spawned> {
    let stdio = match io {
        RunIo::Inherit => None,
        RunIo::Stdio(s) => Some(s),
    };
    single_threaded()?;
    let signals = Forwarder::new()?;
    let (chan, child_end) = sync::pair().context("create the sync socket")?;
    // Buffered output would otherwise be written twice, once by each side.
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    let entered = plan
        .ns
        .pid
        .as_ref()
        .map(PidForChildren::enter)
        .transpose()?;
    let cgroup = plan.cgroup.as_ref().and_then(|c| c.cgroup.clone_fd());
    let early: Vec<&ns::Join> = plan.joins_before_userns().collect();
    let forked = if early.is_empty() {
        fork_into(plan.clone_flags().bits(), cgroup)
            .map_err(|e| anyhow!("clone the container's process: {}", super::io_text(&e)))
    } else {
        fork_after_joining(&early, plan.clone_flags().bits(), cgroup)
    };
    drop(entered);
    let pid = match forked? {
        Forked::Child => {
            drop(chan);
            // `Infallible`: the child ends in its execve or exits.
            #[allow(unreachable_code)]
            return match child(child_end, stdio.as_ref()) {};
        }
        Forked::Parent(pid) => pid,
    };
    drop(child_end);
    let mut child = Child { pid, reaped: false };
    let master = start(plan, &chan, &mut child)?;
    let stdio = if plan.terminal { stdio } else { None };
    Ok(Spawned {
        child,
        signals,
        master,
        stdio,
        cgroup: None,
    })
}

/// Fork the container's process into namespaces `early` names and new
/// ones `flags` asks for, a new user namespace among them. A namespace
/// that the new user namespace will not own (the network namespace skiff
/// set up for a `--userns=keep-id` container, owned by skiff's rootless
/// namespace) can only be joined from outside it, where skiff's
/// capabilities hold: an intermediate process joins them, then forks the
/// container's process as skiff's own child (`CLONE_PARENT`) and ends, so
/// that skiff's namespaces never change (runc's nsexec stages do the
/// same; skiff's rootless process could not get back into the host's
/// network namespace).
fn fork_after_joining(
    early: &[&ns::Join],
    flags: libc::c_int,
    cgroup: Option<BorrowedFd>,
) -> Result<Forked> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| anyhow!("create a pipe: {}", super::io_text(&e.into())))?;
    let mid = match fork_into(0, None)
        .map_err(|e| anyhow!("fork to join the namespaces: {}", super::io_text(&e)))?
    {
        Forked::Child => {
            drop(r);
            // The report, one write: b'p' and the pid, or b'e' (b'c'),
            // the errno and the index of the namespace not joined.
            fn tell(w: &OwnedFd, what: u8, word: i32, i: usize) {
                let mut msg = [what, 0, 0, 0, 0, 0, 0, 0, 0];
                msg[1..5].copy_from_slice(&word.to_ne_bytes());
                msg[5..9].copy_from_slice(&(i as u32).to_ne_bytes());
                let _ = rustix::io::write(w, &msg);
            }
            for (i, j) in early.iter().enumerate() {
                if let Err(e) = nix::sched::setns(&j.fd, j.flag) {
                    tell(&w, b'e', e as i32, i);
                    crate::sys::proc::exit_now(1);
                }
            }
            match crate::sys::fork::fork_sibling_into(flags, cgroup) {
                Ok(Forked::Child) => {
                    drop(w);
                    return Ok(Forked::Child);
                }
                Ok(Forked::Parent(pid)) => {
                    tell(&w, b'p', pid.as_raw(), 0);
                    crate::sys::proc::exit_now(0)
                }
                Err(e) => {
                    tell(&w, b'c', e.raw_os_error().unwrap_or(0), 0);
                    crate::sys::proc::exit_now(1)
                }
            }
        }
        Forked::Parent(pid) => pid,
    };
    drop(w);
    let mut msg = [0u8; 9];
    let mut got = 0;
    while got < msg.len() {
        match rustix::io::read(&r, &mut msg[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => break,
        }
    }
    let _ = waitpid(mid, None);
    let word = |b: &[u8]| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
    match msg[0] {
        b'p' if got == 9 => Ok(Forked::Parent(Pid::from_raw(word(&msg[1..5])))),
        b'e' if got == 9 => {
            let j = early.get(word(&msg[5..9]) as usize);
            Err(anyhow!(
                "join namespace {}: {}",
                j.map(|j| j.path.display().to_string()).unwrap_or_default(),
                super::errno_text(word(&msg[1..5]))
            ))
        }
        b'c' if got == 9 => Err(anyhow!(
            "clone the container's process: {}",
            super::errno_text(word(&msg[1..5]))
        )),
        _ => Err(anyhow!(
            "clone the container's process: the intermediate process ended without a word"
        )),
    }
}

/// Forking is only safe with one thread: the child gets only the calling
/// one, and a lock another held (the allocator's) would stay held there.
/// A thread just joined may still be listed while the kernel finishes its
/// exit (a thread that made a namespace of its own takes it down then,
/// which can wait for RCU grace periods); once it gave up the process's
/// memory it holds no lock of ours, so it does not count.
fn single_threaded() -> Result<()> {
    let live = || -> Result<usize> {
        let mut n = 0;
        for e in std::fs::read_dir("/proc/self/task").context("read /proc/self/task")? {
            let status = std::fs::read_to_string(e?.path().join("status")).unwrap_or_default();
            if status.lines().any(|l| l.starts_with("VmRSS:")) {
                n += 1;
            }
        }
        Ok(n)
    };
    let mut n = live()?;
    for _ in 0..200 {
        if n <= 1 {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
        n = live()?;
    }
    bail!("cannot start a container from a process with {n} threads");
}

/// Drive the child to its `execve`: maps first, then messages until the
/// channel closes (the exec happened). Returns the pty master, if any.
fn start(plan: &Plan, chan: &Channel, child: &mut Child) -> Result<Option<OwnedFd>> {
    if let Some(cg) = plan.cgroup.as_ref().filter(|c| c.cgroup.joins_by_pid()) {
        cg.cgroup.add_pid(child.pid.as_raw())?;
        chan.send(&Msg::CgroupJoined, None).map_err(|e| {
            anyhow!(
                "tell the container it is in its cgroup: {}",
                super::io_text(&e)
            )
        })?;
    }
    if plan.new_userns() {
        ns::idmap::write(child.pid.as_raw(), &plan.uid_maps, &plan.gid_maps)?;
        chan.send(&Msg::MapsWritten, None).map_err(|e| {
            anyhow!(
                "tell the container the maps are written: {}",
                super::io_text(&e)
            )
        })?;
    }
    let mut master = None;
    let mut command = plan.arg0.clone();
    loop {
        let msg = chan
            .recv()
            .map_err(|e| anyhow!("read from the container's init: {}", super::io_text(&e)))?;
        match msg {
            None => return Ok(master),
            Some((Msg::Pty, fd)) => master = fd,
            Some((Msg::MountRootfs, ns)) => {
                let (Some(rootfs), Some(ns)) = (plan.premounted.rootfs.as_ref(), ns) else {
                    bail!("the container's init asked for a root file system skiff did not make");
                };
                let fd = super::premount::attach(ns, rootfs.as_fd(), &plan.rootfs)?;
                chan.send(&Msg::RootfsMounted, Some(fd.as_fd()))
                    .map_err(|e| {
                        anyhow!(
                            "hand the root file system to the container: {}",
                            super::io_text(&e)
                        )
                    })?;
            }
            Some((Msg::Ready { command: c }, _)) => command = c,
            Some((Msg::ExecFailed { errno }, _)) => {
                child.wait_exit();
                return Err(super::exec::exec_failure(Path::new(&command), errno, false));
            }
            Some((Msg::Error { kind, message }, _)) => {
                child.wait_exit();
                return Err(match kind {
                    Some(k) => kind_err(k, message),
                    None => anyhow!(message),
                });
            }
            Some((m, _)) => bail!("unexpected message from the container's init: {m:?}"),
        }
    }
}

/// The container's process; killed and reaped on drop unless it already
/// was (every failure path leaves nothing running).
pub struct Child {
    pid: Pid,
    reaped: bool,
}

impl Child {
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Its exit, once it has exited (reaped then).
    pub fn try_wait(&mut self) -> Result<Option<Exit>> {
        match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => {
                self.reaped = true;
                Ok(Some(Exit::Code(code)))
            }
            Ok(WaitStatus::Signaled(_, sig, _)) => {
                self.reaped = true;
                Ok(Some(Exit::Signal(sig as i32)))
            }
            Ok(_) => Ok(None),
            Err(nix::errno::Errno::EINTR) => Ok(None),
            Err(e) => {
                self.reaped = true;
                Err(anyhow!(
                    "wait for the container: {}",
                    super::errno_text(e as i32)
                ))
            }
        }
    }

    /// Wait for a child that is exiting on its own.
    fn wait_exit(&mut self) {
        let _ = waitpid(self.pid, None);
        self.reaped = true;
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = kill(self.pid, Signal::SIGKILL);
            let _ = waitpid(self.pid, None);
        }
    }
}

/// The relay's two ends on skiff's side.
struct Relay {
    master: OwnedFd,
    input: Option<OwnedFd>,
    output: OwnedFd,
    /// The terminal the window size comes from.
    tty: Option<OwnedFd>,
}

impl Relay {
    fn new(master: OwnedFd, stdio: Option<Stdio>) -> Result<Relay> {
        let dup = |fd: BorrowedFd| -> Result<OwnedFd> {
            fd.try_clone_to_owned()
                .map_err(|e| anyhow!("duplicate a standard stream: {}", super::io_text(&e)))
        };
        let (input, output) = match stdio {
            Some(s) => (s.stdin, s.stdout),
            None => (
                Some(dup(std::io::stdin().as_fd())?),
                dup(std::io::stdout().as_fd())?,
            ),
        };
        let tty = [input.as_ref(), Some(&output)]
            .into_iter()
            .flatten()
            .find(|f| rustix::termios::isatty(f))
            .map(|f| dup(f.as_fd()))
            .transpose()?;
        Ok(Relay {
            master,
            input,
            output,
            tty,
        })
    }
}

pub(crate) fn read_some(fd: BorrowedFd, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match rustix::io::read(fd, &mut *buf) {
            Err(rustix::io::Errno::INTR) => continue,
            // The pty master reads EIO once no slave is open.
            Err(rustix::io::Errno::IO) => return Ok(0),
            r => return r.map_err(Into::into),
        }
    }
}

pub(crate) fn write_all(fd: BorrowedFd, mut buf: &[u8]) -> std::io::Result<()> {
    while !buf.is_empty() {
        match rustix::io::write(fd, buf) {
            Ok(n) => buf = &buf[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Forward signals and relay the pty until the container exits.
fn supervise(
    child: &mut Child,
    signals: &Forwarder,
    master: Option<OwnedFd>,
    stdio: Option<Stdio>,
    mut beside: Option<&mut (dyn Beside + '_)>,
) -> Result<Exit> {
    let mut relay = master.map(|m| Relay::new(m, stdio)).transpose()?;
    let _raw = match relay.as_ref().and_then(|r| r.input.as_ref()) {
        Some(i) => RawMode::enable(i.as_fd())?,
        None => None,
    };
    let mut buf = vec![0u8; 32 * 1024];
    let mut master_open = relay.is_some();
    loop {
        let mut fds = vec![PollFd::new(signals.fd(), PollFlags::POLLIN)];
        let (mut i_master, mut i_input) = (None, None);
        if let Some(r) = &relay {
            if master_open {
                i_master = Some(fds.len());
                fds.push(PollFd::new(r.master.as_fd(), PollFlags::POLLIN));
            }
            if let Some(i) = &r.input {
                i_input = Some(fds.len());
                fds.push(PollFd::new(i.as_fd(), PollFlags::POLLIN));
            }
        }
        if let Some(b) = beside.as_deref() {
            for fd in b.fds() {
                fds.push(PollFd::new(fd, PollFlags::POLLIN));
            }
        }
        match poll(
            &mut fds,
            timeout_until(beside.as_deref().and_then(|b| b.deadline())),
        ) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => bail!("poll: {}", super::errno_text(e as i32)),
        }
        let ready = |i: Option<usize>| -> bool {
            i.and_then(|i| fds[i].revents()).is_some_and(|r| {
                r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
            })
        };
        let (sig_ready, master_ready, input_ready) =
            (ready(Some(0)), ready(i_master), ready(i_input));
        drop(fds);
        if master_ready {
            let r = relay.as_ref().expect("relay");
            let n = read_some(r.master.as_fd(), &mut buf)
                .map_err(|e| anyhow!("read the container's terminal: {}", super::io_text(&e)))?;
            if n == 0 {
                master_open = false;
            } else {
                write_all(r.output.as_fd(), &buf[..n])
                    .map_err(|e| anyhow!("write the container's output: {}", super::io_text(&e)))?;
                if let Some(b) = beside.as_deref_mut() {
                    b.output(&buf[..n]);
                }
            }
        }
        if input_ready {
            let r = relay.as_mut().expect("relay");
            let n = read_some(r.input.as_ref().expect("input").as_fd(), &mut buf).unwrap_or(0);
            if n == 0 {
                r.input = None;
            } else {
                let _ = write_all(r.master.as_fd(), &buf[..n]);
            }
        }
        if let Some(b) = beside.as_deref_mut() {
            b.wake();
        }
        if !sig_ready {
            continue;
        }
        while let Some(s) = signals.next()? {
            if s.signal == libc::SIGCHLD {
                if let Some(b) = beside.as_deref_mut() {
                    b.wake();
                }
                if let Some(exit) = child.try_wait()? {
                    if let Some(r) = &relay {
                        drain(r, &mut buf, beside.as_deref_mut());
                    }
                    return Ok(exit);
                }
                continue;
            }
            if let Some(r) = &relay {
                if s.signal == libc::SIGWINCH {
                    if let Some(t) = &r.tty {
                        copy_size(t.as_fd(), r.master.as_fd());
                    }
                    continue;
                }
            } else if s.from_kernel {
                // The terminal already signalled the container: it is in
                // skiff's foreground process group.
                continue;
            }
            if let Ok(sig) = Signal::try_from(s.signal) {
                let _ = kill(child.pid, sig);
            }
        }
    }
}

/// After the exit: copy what the container wrote before it ended.
fn drain(r: &Relay, buf: &mut [u8], mut beside: Option<&mut (dyn Beside + '_)>) {
    loop {
        let mut fds = [PollFd::new(r.master.as_fd(), PollFlags::POLLIN)];
        if !matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0) {
            return;
        }
        match read_some(r.master.as_fd(), buf) {
            Ok(n) if n > 0 => {
                if let Some(b) = beside.as_deref_mut() {
                    b.output(&buf[..n]);
                }
                if write_all(r.output.as_fd(), &buf[..n]).is_err() {
                    return;
                }
            }
            _ => return,
        }
    }
}
