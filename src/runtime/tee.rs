//! A foreground container's output, logged as a detached one's is (as
//! Docker and Podman log every container, attached or not): its stdout
//! and stderr are pipes that the waiting `skiff run` copies both to its
//! own standard streams and to the container's log, so `logs` shows a
//! foreground container's output afterwards. With a terminal, the relay
//! hands what it copies from the pty over ([`Tee::tty_output`]).

use super::logfile::{LogWriter, Stream};
use super::Stdio;
use anyhow::{anyhow, Result};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// Copies the container's pipes to skiff's streams and the log.
pub struct Tee {
    /// (read end, stream, where it is copied to); closed ones are gone.
    sources: Vec<(OwnedFd, Stream, OwnedFd)>,
    log: LogWriter,
    buf: Vec<u8>,
}

fn dup(fd: BorrowedFd) -> Result<OwnedFd> {
    fd.try_clone_to_owned()
        .map_err(|e| anyhow!("duplicate a standard stream: {}", super::io_text(&e)))
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    use rustix::pipe::PipeFlags;
    let (r, w) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC)
        .map_err(|e| anyhow!("create a pipe: {}", super::io_text(&e.into())))?;
    // Read only when there is something: the wait's loop never blocks here.
    rustix::fs::fcntl_setfl(&r, rustix::fs::OFlags::NONBLOCK)
        .map_err(|e| anyhow!("set a pipe non-blocking: {}", super::io_text(&e.into())))?;
    Ok((r, w))
}

impl Tee {
    /// The container's standard streams (`stdin` as given, stdout and
    /// stderr new pipes), and the tee reading those pipes into `log` and
    /// skiff's own stdout and stderr.
    pub fn new(stdin: Option<OwnedFd>, log: LogWriter) -> Result<(Stdio, Tee)> {
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let tee = Tee {
            sources: vec![
                (out_r, Stream::Stdout, dup(std::io::stdout().as_fd())?),
                (err_r, Stream::Stderr, dup(std::io::stderr().as_fd())?),
            ],
            log,
            buf: vec![0u8; 32 * 1024],
        };
        let stdio = Stdio {
            stdin,
            stdout: out_w,
            stderr: err_w,
        };
        Ok((stdio, tee))
    }

    /// A log only, for the output a terminal relay copies itself.
    pub fn for_tty(log: LogWriter) -> Tee {
        Tee {
            sources: Vec::new(),
            log,
            buf: Vec::new(),
        }
    }

    /// The pipes still open, to wait on.
    pub fn fds(&self) -> Vec<BorrowedFd<'_>> {
        self.sources.iter().map(|(r, _, _)| r.as_fd()).collect()
    }

    /// Copy what each pipe holds now; `all`: until every pipe is empty
    /// (the container has ended).
    pub fn copy(&mut self, all: bool) {
        let mut i = 0;
        while i < self.sources.len() {
            let (r, stream, _) = &self.sources[i];
            let stream = *stream;
            match rustix::io::read(r, &mut self.buf) {
                Ok(0) => {
                    self.sources.remove(i);
                    continue;
                }
                Ok(n) => {
                    // A log that cannot be written (a full disk) must not
                    // stop the container's output: it is skipped.
                    let _ = self.log.write(stream, &self.buf[..n]);
                    if super::process::write_all(self.sources[i].2.as_fd(), &self.buf[..n]).is_err()
                    {
                        // Its reader has gone (`run ... | head -1`): the
                        // container's next write fails as it would have
                        // on skiff's own stream.
                        self.sources.remove(i);
                        continue;
                    }
                    if all {
                        continue;
                    }
                }
                Err(rustix::io::Errno::INTR) => continue,
                // Empty for now (AGAIN), or broken: next time.
                Err(_) => {}
            }
            i += 1;
        }
    }

    /// What a terminal relay copied from the pty.
    pub fn tty_output(&mut self, data: &[u8]) {
        let _ = self.log.write(Stream::Stdout, data);
    }

    /// The container has ended: the rest of its output, and the log's
    /// unfinished lines.
    pub fn finish(&mut self) {
        self.copy(true);
        let _ = self.log.flush();
    }
}

impl super::process::Beside for Tee {
    fn deadline(&self) -> Option<std::time::Instant> {
        None
    }
    fn fds(&self) -> Vec<BorrowedFd<'_>> {
        Tee::fds(self)
    }
    fn wake(&mut self) {
        self.copy(false);
    }
    fn stop(&mut self) {
        self.finish();
    }
    fn output(&mut self, data: &[u8]) {
        self.tty_output(data);
    }
}
