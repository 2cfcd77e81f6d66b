//! `process.terminal`: the container gets a pty of its own devpts instance
//! as its 0, 1, 2 and controlling terminal; skiff gets the master (over
//! the sync channel) and relays it to its own terminal, in raw mode while
//! the container runs, with the window size copied on SIGWINCH.

use super::mounts::errno;
use super::paths::{ensure_target, fd_path, open_in_root};
use anyhow::{anyhow, Result};
use nix::mount::{mount, MsFlags};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use rustix::fs::OFlags;
use rustix::pty::OpenptFlags;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

fn io_err(what: &str, e: rustix::io::Errno) -> anyhow::Error {
    anyhow!("{what}: {}", super::io_text(&e.into()))
}

/// In the child, before `pivot_root`: open a pty in the container's devpts
/// (the host's when the spec mounts none), bind its slave on /dev/console,
/// make it the controlling terminal and 0, 1, 2. Returns the master, for
/// skiff.
pub fn open_in_container(root: BorrowedFd, size: Option<(u16, u16)>) -> Result<OwnedFd> {
    let (master, slave) = open_pair(root, size)?;
    let console = ensure_target(root, Path::new("/dev/console"), true)
        .map_err(|e| anyhow!("create /dev/console: {}", super::io_text(&e)))?;
    mount(
        Some(fd_path(slave.as_fd()).as_str()),
        fd_path(console.as_fd()).as_str(),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| anyhow!("bind the pty on /dev/console: {}", errno(e)))?;
    take_terminal(&slave)?;
    Ok(master)
}

/// A new pty of the devpts mounted in `root` (the host's when it has
/// none), of `size` or else skiff's own terminal's: (master, slave).
pub fn open_pair(root: BorrowedFd, size: Option<(u16, u16)>) -> Result<(OwnedFd, OwnedFd)> {
    let master = match open_in_root(
        root,
        Path::new("/dev/pts/ptmx"),
        OFlags::RDWR | OFlags::NOCTTY,
    ) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
                .map_err(|e| io_err("open /dev/ptmx", e))?
        }
        Err(e) => return Err(anyhow!("open /dev/pts/ptmx: {}", super::io_text(&e))),
    };
    rustix::pty::unlockpt(&master).map_err(|e| io_err("unlock the pty", e))?;
    // The peer ioctl opens the slave without a path lookup.
    let slave = rustix::pty::ioctl_tiocgptpeer(
        &master,
        OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC,
    )
    .map_err(|e| io_err("open the pty's slave", e))?;
    let ws = match size {
        Some((rows, cols)) => Some(rustix::termios::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        }),
        // Set here, before the command starts, so it never reads 0x0.
        None => rustix::termios::tcgetwinsize(std::io::stdin()).ok(),
    };
    if let Some(ws) = ws {
        let _ = rustix::termios::tcsetwinsize(&master, ws);
    }
    Ok((master, slave))
}

/// Make pty `slave` the controlling terminal of a new session of this
/// process, and its 0, 1 and 2.
pub fn take_terminal(slave: &OwnedFd) -> Result<()> {
    rustix::process::setsid().map_err(|e| io_err("setsid", e))?;
    rustix::process::ioctl_tiocsctty(slave)
        .map_err(|e| io_err("make the pty the controlling terminal", e))?;
    rustix::stdio::dup2_stdin(slave).map_err(|e| io_err("set up stdin", e))?;
    rustix::stdio::dup2_stdout(slave).map_err(|e| io_err("set up stdout", e))?;
    rustix::stdio::dup2_stderr(slave).map_err(|e| io_err("set up stderr", e))?;
    Ok(())
}

/// A terminal in raw mode; dropping it restores the saved settings.
pub struct RawMode {
    fd: OwnedFd,
    saved: Termios,
}

impl RawMode {
    /// Put `fd` in raw mode if it is a terminal.
    pub fn enable(fd: BorrowedFd) -> Result<Option<RawMode>> {
        if !rustix::termios::isatty(fd) {
            return Ok(None);
        }
        let saved = tcgetattr(fd).map_err(|e| anyhow!("read terminal settings: {}", errno(e)))?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(fd, SetArg::TCSANOW, &raw)
            .map_err(|e| anyhow!("set the terminal to raw mode: {}", errno(e)))?;
        let fd = fd
            .try_clone_to_owned()
            .map_err(|e| anyhow!("keep the terminal: {}", super::io_text(&e)))?;
        Ok(Some(RawMode { fd, saved }))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = tcsetattr(&self.fd, SetArg::TCSANOW, &self.saved);
    }
}

/// Copy the window size of terminal `from` to the pty master `to` (the
/// kernel then signals SIGWINCH to the container's foreground job).
pub fn copy_size(from: BorrowedFd, to: BorrowedFd) {
    if let Ok(ws) = rustix::termios::tcgetwinsize(from) {
        let _ = rustix::termios::tcsetwinsize(to, ws);
    }
}

/// Give the terminal `fd` a size (rows, columns).
pub fn set_size(fd: BorrowedFd, rows: u16, cols: u16) {
    let ws = rustix::termios::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let _ = rustix::termios::tcsetwinsize(fd, ws);
}
