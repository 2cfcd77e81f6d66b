//! Signals sent to skiff while the container runs go to the container's
//! init, as `docker run`'s default --sig-proxy does. They are blocked and
//! read from a signalfd, with SIGCHLD, so one poll loop without threads or
//! handlers serves signals, the pty relay and the child's exit.

use anyhow::{anyhow, Result};
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

/// The signals forwarded to the container. Not the ones that stop skiff
/// itself (TSTP, TTIN, TTOU: skiff stops, the container runs on, as with
/// Docker), nor the synchronous faults.
pub const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
    Signal::SIGTERM,
    Signal::SIGWINCH,
    Signal::SIGVTALRM,
    Signal::SIGPROF,
    Signal::SIGIO,
    Signal::SIGPWR,
];

/// `si_code` of signals the kernel itself generates: a terminal's ^C goes
/// to its whole foreground process group, which includes a container
/// sharing skiff's, so forwarding it again would deliver it twice.
const SI_KERNEL: i32 = 0x80;

/// One signal read from the signalfd.
#[derive(Debug, Clone, Copy)]
pub struct Received {
    pub signal: i32,
    pub from_kernel: bool,
}

/// The blocked signals and their signalfd; dropping it drains what is
/// pending and restores the previous mask.
pub struct Forwarder {
    fd: SignalFd,
    old: SigSet,
}

impl Forwarder {
    pub fn new() -> Result<Forwarder> {
        let mut set = SigSet::empty();
        for s in FORWARDED {
            set.add(*s);
        }
        set.add(Signal::SIGCHLD);
        let mut old = SigSet::empty();
        sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old))
            .map_err(|e| anyhow!("block signals: {}", super::errno_text(e as i32)))?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .map_err(|e| {
                let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
                anyhow!("create a signalfd: {}", super::errno_text(e as i32))
            })?;
        Ok(Forwarder { fd, old })
    }

    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&self.fd)
    }

    /// The next pending signal, if any.
    pub fn next(&self) -> Result<Option<Received>> {
        match self.fd.read_signal() {
            Ok(Some(info)) => Ok(Some(Received {
                signal: info.ssi_signo as i32,
                from_kernel: info.ssi_code == SI_KERNEL,
            })),
            Ok(None) => Ok(None),
            Err(nix::errno::Errno::EINTR) => Ok(None),
            Err(e) => Err(anyhow!(
                "read the signalfd: {}",
                super::errno_text(e as i32)
            )),
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        // Signals meant for a container that is gone are dropped, not
        // delivered to skiff when the mask lifts.
        while let Ok(Some(_)) = self.fd.read_signal() {}
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.old), None);
    }
}
