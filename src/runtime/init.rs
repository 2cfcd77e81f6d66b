//! The container's init: what the child does between the clone and the
//! `execve`, in runc's order. It runs in a forked copy of skiff, so it only
//! follows the [`Plan`] made before the fork; any failure goes back to the
//! parent over the sync channel, and the child exits.
//!
//! The order, and why:
//! 1. wait for the uid/gid maps (new user namespace), join namespaces by
//!    path, user first;
//! 2. mounts, in the new mount namespace: propagation of `/` first (so a
//!    crash leaks nothing to the host), the overlay, the spec's mounts, the
//!    fresh /dev, the pty, sysctls, read-only and masked paths — all
//!    resolved inside the root, before `pivot_root`, while the host's
//!    /proc and /dev/null are still at hand;
//! 3. `pivot_root`, the read-only root, hostname;
//! 4. rlimits, the bounding set, no_new_privs, the user (keep-caps on
//!    across the uid change), cwd (checked to be inside the container,
//!    CVE-2024-21626), the capability sets;
//! 5. every descriptor above 2 close-on-exec, signals reset, seccomp last,
//!    `execve` — through the exec trampoline when there is one (see
//!    `trampoline`, CVE-2019-5736). With `--init`, the process forks
//!    first: the child goes on to the `execve`, the parent stays as the
//!    container's init (see `pid1`).

use super::exec;
use super::masks;
use super::mounts;
use super::paths::{mkdir_all_in_root, open_in_root};
use super::plan::Plan;
use super::sync::{Channel, Msg};
use super::trampoline::SYNC_FD;
use super::{caps, dev, pid1, pty, rlimits, rootfs, seccomp, Stdio};
use crate::error::{kind_of, ErrorKind};
use crate::sys::fork::{fork_into, Forked};
use crate::sys::proc::{cloexec_from, exit_now, reset_signal_dispositions};
use anyhow::{anyhow, bail, Context, Result};
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow};
use nix::unistd::{Gid, Pid, Uid};
use rustix::fs::OFlags;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Run the init in the forked child; never returns.
pub fn run(plan: &Plan, chan: Channel, stdio: Option<&Stdio>, trampoline: Option<BorrowedFd>) -> ! {
    let e = match setup(plan, &chan, stdio, trampoline) {
        // The built-in init, its command started: the channel is the
        // command's until its execve.
        Ok(child) => {
            drop(chan);
            pid1::serve(child, &plan.args)
        }
        Err(e) => e,
    };
    report(&chan, e)
}

/// Send `e` to skiff over the channel and exit with Docker's code for it.
pub(crate) fn report(chan: &Channel, e: anyhow::Error) -> ! {
    let kind = kind_of(&e);
    let _ = chan.send(
        &Msg::Error {
            kind,
            message: format!("{e:#}"),
        },
        None,
    );
    exit_now(match kind {
        Some(ErrorKind::CannotInvoke) => 126,
        Some(ErrorKind::CommandNotFound) => 127,
        _ => 125,
    })
}

fn errno(e: nix::errno::Errno) -> String {
    super::errno_text(e as i32)
}

/// Wait until the parent has moved this process into its v1 cgroups, when
/// it must (v2 cgroups are joined by the clone itself).
pub(crate) fn wait_cgroup(plan: &Plan, chan: &Channel) -> Result<()> {
    if !plan
        .cgroup
        .as_ref()
        .is_some_and(|c| c.cgroup.joins_by_pid())
    {
        return Ok(());
    }
    match chan.recv().context("wait to join the cgroup")? {
        Some((Msg::CgroupJoined, _)) => Ok(()),
        other => bail!("wait to join the cgroup: unexpected {other:?}"),
    }
}

/// Everything up to the `execve`, which only returns on failure; with the
/// built-in init, returns in the init (pid 1) with its child's pid.
fn setup(
    plan: &Plan,
    chan: &Channel,
    stdio: Option<&Stdio>,
    trampoline: Option<BorrowedFd>,
) -> Result<Pid> {
    // Nothing in the container may ptrace or read us while we are still
    // skiff; execve makes the process dumpable again. With a new user
    // namespace only once its maps are written: a process that is not
    // dumpable has its /proc files owned by root, and an unprivileged
    // parent could not open its uid_map (nothing else is in the new
    // namespaces until then).
    let not_dumpable = || {
        let _ =
            rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    };
    // While still dumpable: then /proc/self is its own, also rootless.
    if let Some(adj) = plan.oom_score_adj {
        set_oom_score_adj(adj)?;
    }
    if !plan.new_userns() {
        not_dumpable();
    }
    // Device nodes get exactly the modes the spec gives.
    rustix::process::umask(rustix::fs::Mode::empty());

    wait_cgroup(plan, chan)?;
    if plan.new_userns() {
        match chan.recv().context("wait for the uid/gid maps")? {
            Some((Msg::MapsWritten, _)) => {}
            other => bail!("wait for the uid/gid maps: unexpected {other:?}"),
        }
        not_dumpable();
        // Root of the new namespace from here on (mapped now).
        nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
            .map_err(|e| anyhow!("become root in the user namespace: {}", errno(e)))?;
        nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
            .map_err(|e| anyhow!("become root in the user namespace: {}", errno(e)))?;
    }
    if plan.late_cgroupns() {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| anyhow!("create the cgroup namespace: {}", errno(e)))?;
    }
    for j in plan.joins_in_child() {
        crate::ns::enter(j)?;
    }
    if let Some(io) = stdio.filter(|_| !plan.terminal) {
        redirect_stdio(io)?;
    }

    rootfs::set_root_propagation(plan.propagation)?;
    let root = if plan.premounted.rootfs.is_some() {
        // skiff moves it into place (see `premount`), in the namespace
        // this hands it (a process that is not dumpable has its /proc
        // files closed to skiff rootless).
        let ns = std::fs::File::open("/proc/self/ns/mnt").context("open /proc/self/ns/mnt")?;
        chan.send(&Msg::MountRootfs, Some(ns.as_fd()))
            .map_err(|e| anyhow!("ask skiff for the root file system: {}", super::io_text(&e)))?;
        match chan.recv().context("wait for the root file system")? {
            Some((Msg::RootfsMounted, Some(fd))) => fd,
            other => bail!("wait for the root file system: unexpected {other:?}"),
        }
    } else {
        rootfs::prepare(&plan.rootfs, plan.overlay.as_ref())?
    };
    let root = root.as_fd();
    if let Some(m) = &plan.dev_mount {
        mounts::perform(root, m, None)?;
    }
    for (i, m) in plan.mounts.iter().enumerate() {
        mounts::perform(root, m, plan.premounted.bind(i))?;
    }
    dev::create_all(root, &plan.devices, plan.in_userns)?;
    dev::links(root)?;
    if plan.terminal {
        let master = pty::open_in_container(root, plan.console_size)?;
        chan.send(&Msg::Pty, Some(master.as_fd()))
            .map_err(|e| anyhow!("send the pty to skiff: {}", super::io_text(&e)))?;
    }
    for (k, v) in &plan.sysctls {
        write_sysctl(root, k, v)?;
    }
    for p in &plan.readonly {
        masks::readonly(root, p)?;
    }
    if !plan.masked.is_empty() {
        let null = masks::open_null()?;
        for p in &plan.masked {
            masks::mask(root, p, null.as_fd())?;
        }
    }
    // Docker makes a missing working directory; so do we, as root and
    // before the root may turn read-only.
    if let Err(e) = mkdir_all_in_root(root, &plan.cwd, 0o755) {
        if e.raw_os_error() != Some(libc::ENOTDIR) {
            bail!(
                "create working directory {}: {}",
                plan.cwd.display(),
                super::io_text(&e)
            );
        }
    }

    rootfs::pivot(root, &plan.rootfs)?;
    if plan.root_readonly {
        rootfs::remount_root_readonly()?;
    }
    if let Some(h) = &plan.hostname {
        rustix::system::sethostname(h.as_bytes())
            .map_err(|e| anyhow!("set hostname {h}: {}", super::io_text(&e.into())))?;
    }
    if let Some(d) = &plan.domainname {
        rustix::system::setdomainname(d.as_bytes())
            .map_err(|e| anyhow!("set domain name {d}: {}", super::io_text(&e.into())))?;
    }
    if plan
        .ns
        .create
        .contains(nix::sched::CloneFlags::CLONE_NEWNET)
    {
        // A network namespace of its own that no one set up from outside
        // (`--network none`): its loopback up, as Docker's is.
        loopback_up().context("bring up the container's loopback")?;
    }
    finish(plan, chan, trampoline)
}

/// The process's own setup, in the container's root: rlimits, bounding
/// set, no_new_privs, user, cwd, capabilities, seccomp, `execve` (which
/// only returns on failure). Shared by a container's init and by a
/// process `exec`'d into a running container; with the built-in init,
/// returns in the init with its child's pid.
pub(crate) fn finish(plan: &Plan, chan: &Channel, trampoline: Option<BorrowedFd>) -> Result<Pid> {
    if let Some(adj) = plan.oom_score_adj {
        set_oom_score_adj(adj)?;
    }
    for l in &plan.rlimits {
        rlimits::apply(l)?;
    }
    if plan.seccomp_early {
        seccomp::install(&plan.seccomp)?;
    }
    if let Some(c) = &plan.caps {
        caps::drop_bounding(c)?;
    }
    if plan.no_new_privs {
        rustix::thread::set_no_new_privs(true)
            .map_err(|e| anyhow!("set no_new_privs: {}", super::io_text(&e.into())))?;
    }
    change_user(plan)?;
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(plan.umask));
    enter_cwd(&plan.cwd).map_err(|e| anyhow::Error::new(CwdError(format!("{e:#}"))))?;
    if let Some(c) = &plan.caps {
        caps::apply(c)?;
    }
    let path = exec::resolve(&plan.arg0, plan.path_env.as_deref())?;
    if std::fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
        return Err(exec::exec_failure(&path, libc::EACCES, true));
    }
    let cpath = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| anyhow!("exec {}: NUL byte in path", path.display()))?;

    // The parent death signal is cleared by any credential change, so it
    // is set after the user change.
    if let Some(sig) = plan.parent_death_signal {
        let sig = rustix::process::Signal::from_named_raw(sig as i32);
        let _ = rustix::process::set_parent_process_death_signal(sig);
    }
    chan.send(
        &Msg::Ready {
            command: path.display().to_string(),
        },
        None,
    )
    .map_err(|e| anyhow!("tell skiff the container is ready: {}", super::io_text(&e)))?;
    cloexec_from(3).map_err(|e| anyhow!("close inherited descriptors: {}", super::io_text(&e)))?;
    reset_signal_dispositions();
    let mut seccomp_done = plan.seccomp_early;
    if plan.init {
        // The init is confined as its command is; the filter is inherited.
        if !seccomp_done {
            seccomp::install(&plan.seccomp)?;
            seccomp_done = true;
        }
        pid1::block_signals().map_err(|e| anyhow!("block signals in the init: {}", errno(e)))?;
        match fork_into(0, None)
            .map_err(|e| anyhow!("start the command from the init: {}", super::io_text(&e)))?
        {
            Forked::Parent(child) => return Ok(child),
            Forked::Child => pid1::detach_child(plan.terminal)
                .map_err(|e| anyhow!("give the command its process group: {}", errno(e)))?,
        }
    }
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    let errno = match trampoline {
        Some(t) => exec_via_trampoline(plan, chan, t, &cpath, seccomp_done)?,
        None => {
            if !seccomp_done {
                seccomp::install(&plan.seccomp)?;
            }
            match nix::unistd::execve(&cpath, &plan.args, &plan.env) {
                Ok(never) => match never {},
                Err(e) => e as i32,
            }
        }
    };
    Err(exec::exec_failure(&path, errno, false))
}

/// The last step through the exec trampoline: the sync socket at its
/// agreed number, open across the trampoline's own exec; seccomp; go.
/// Returns the errno of a failed `execveat`.
fn exec_via_trampoline(
    plan: &Plan,
    chan: &Channel,
    t: BorrowedFd,
    cpath: &CString,
    seccomp_done: bool,
) -> Result<i32> {
    let moved;
    let t = if t.as_raw_fd() == SYNC_FD {
        moved = rustix::io::fcntl_dupfd_cloexec(t, SYNC_FD + 1)
            .map_err(|e| anyhow!("move the exec trampoline: {}", super::io_text(&e.into())))?;
        moved.as_fd()
    } else {
        t
    };
    let passed = if chan.as_fd().as_raw_fd() == SYNC_FD {
        rustix::io::fcntl_setfd(chan.as_fd(), rustix::io::FdFlags::empty()).map_err(Into::into)
    } else {
        crate::sys::proc::dup_to(chan.as_fd(), SYNC_FD)
    };
    passed.map_err(|e| anyhow!("pass the sync socket on: {}", super::io_text(&e)))?;
    if !seccomp_done {
        seccomp::install(&plan.seccomp)?;
    }
    let mut argv = Vec::with_capacity(plan.args.len() + 1);
    argv.push(cpath.clone());
    argv.extend(plan.args.iter().cloned());
    match nix::unistd::execveat(t, c"", &argv, &plan.env, nix::fcntl::AtFlags::AT_EMPTY_PATH) {
        Ok(never) => match never {},
        Err(e) => Ok(e as i32),
    }
}

pub(crate) fn redirect_stdio(io: &Stdio) -> Result<()> {
    let null;
    let stdin = match &io.stdin {
        Some(fd) => fd.as_fd(),
        None => {
            null = rustix::fs::open(
                "/dev/null",
                OFlags::RDWR | OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(|e| anyhow!("open /dev/null: {}", super::io_text(&e.into())))?;
            null.as_fd()
        }
    };
    rustix::stdio::dup2_stdin(stdin)
        .map_err(|e| anyhow!("set up stdin: {}", super::io_text(&e.into())))?;
    rustix::stdio::dup2_stdout(io.stdout.as_fd())
        .map_err(|e| anyhow!("set up stdout: {}", super::io_text(&e.into())))?;
    rustix::stdio::dup2_stderr(io.stderr.as_fd())
        .map_err(|e| anyhow!("set up stderr: {}", super::io_text(&e.into())))?;
    Ok(())
}

/// Write a sysctl through the container's /proc (its namespaces decide
/// which kernel object the file is).
fn loopback_up() -> Result<()> {
    let mut nl = crate::network::netlink::Netlink::open()?;
    if let Some(lo) = nl.link_index("lo")? {
        nl.set_up(lo)?;
    }
    Ok(())
}

fn write_sysctl(root: std::os::fd::BorrowedFd, key: &str, value: &str) -> Result<()> {
    let rel = Path::new("/proc/sys").join(key.replace('.', "/"));
    let fd: OwnedFd = open_in_root(root, &rel, OFlags::WRONLY | OFlags::TRUNC)
        .map_err(|e| anyhow!("set sysctl {key}={value}: {}", super::io_text(&e)))?;
    rustix::io::write(&fd, value.as_bytes())
        .map_err(|e| anyhow!("set sysctl {key}={value}: {}", super::io_text(&e.into())))?;
    Ok(())
}

/// Lowering the OOM score needs CAP_SYS_RESOURCE; like rlimits, keep the
/// current value when the kernel refuses.
fn set_oom_score_adj(adj: i32) -> Result<()> {
    match std::fs::write("/proc/self/oom_score_adj", adj.to_string()) {
        Ok(()) => Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EPERM)) => Ok(()),
        Err(e) => Err(anyhow!("set oom_score_adj {adj}: {}", super::io_text(&e))),
    }
}

/// Become the spec's user. Keep-caps holds the permitted set across the
/// uid change; the sets are then cut to the plan's.
fn change_user(plan: &Plan) -> Result<()> {
    let who = format!("{}:{}", plan.uid, plan.gid);
    let keep = plan.uid != 0 && plan.caps.is_some();
    if keep {
        rustix::thread::set_keep_capabilities(true)
            .map_err(|e| anyhow!("set keep-caps: {}", super::io_text(&e.into())))?;
    }
    // setgroups is refused in a user namespace whose setgroups file says
    // deny (unprivileged maps); there the groups cannot change anyway.
    let groups: Vec<Gid> = plan.groups.iter().map(|g| Gid::from_raw(*g)).collect();
    if let Err(e) = nix::unistd::setgroups(&groups) {
        if !(plan.in_userns && e == nix::errno::Errno::EPERM) {
            bail!("set groups of {who}: {}", errno(e));
        }
    }
    let g = Gid::from_raw(plan.gid);
    nix::unistd::setresgid(g, g, g).map_err(|e| anyhow!("set group {}: {}", plan.gid, errno(e)))?;
    let u = Uid::from_raw(plan.uid);
    nix::unistd::setresuid(u, u, u).map_err(|e| anyhow!("set user {}: {}", plan.uid, errno(e)))?;
    if keep {
        rustix::thread::set_keep_capabilities(false)
            .map_err(|e| anyhow!("clear keep-caps: {}", super::io_text(&e.into())))?;
    }
    Ok(())
}

/// The working directory could not be entered. `exec` reports it as a
/// command that cannot be invoked (Docker's `exec -w /missing` exits 126);
/// for a container's init it stays skiff's own failure (125), as Docker's
/// daemon prepares a `run`'s working directory itself.
#[derive(Debug)]
pub(crate) struct CwdError(String);

impl std::fmt::Display for CwdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CwdError {}

/// Enter the working directory, resolved inside the root without magic
/// links, and check the kernel sees it inside the root: a cwd outside it
/// would survive the exec (CVE-2024-21626).
fn enter_cwd(cwd: &Path) -> Result<()> {
    let c = cwd.display();
    let root = rustix::fs::open(
        "/",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| anyhow!("open /: {}", super::io_text(&e.into())))?;
    let fd = open_in_root(root.as_fd(), cwd, OFlags::PATH | OFlags::DIRECTORY)
        .map_err(|e| anyhow!("chdir to {c}: {}", super::io_text(&e)))?;
    rustix::process::fchdir(&fd)
        .map_err(|e| anyhow!("chdir to {c}: {}", super::io_text(&e.into())))?;
    let now = rustix::process::getcwd(Vec::new())
        .map_err(|e| anyhow!("check working directory {c}: {}", super::io_text(&e.into())))?;
    if !now.as_bytes().starts_with(b"/") {
        bail!("working directory {c} is outside the container");
    }
    Ok(())
}
