//! Attaching to a detached container: its monitor listens on a unix
//! socket in the runroot, sends every client the container's output as it
//! comes, and takes input (and terminal sizes) back. Both directions are
//! frames: a kind byte, a big-endian u32 length, the payload.

use anyhow::{anyhow, Context, Result};
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const STDIN: u8 = 0;
/// Payload: rows and columns, u16 each, big-endian.
pub const RESIZE: u8 = 3;

/// Where the monitor of container `id` listens (short: a socket path
/// holds at most 107 bytes).
pub fn socket_path(runroot: &Path, id: &str) -> PathBuf {
    runroot
        .join("attach")
        .join(format!("{}.sock", &id[..id.len().min(16)]))
}

pub fn frame(kind: u8, data: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(5 + data.len());
    f.push(kind);
    f.extend_from_slice(&(data.len() as u32).to_be_bytes());
    f.extend_from_slice(data);
    f
}

/// Split complete frames off the front of `buf`.
pub fn take_frames(buf: &mut Vec<u8>) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while buf.len() - at >= 5 {
        let len = u32::from_be_bytes(buf[at + 1..at + 5].try_into().expect("4 bytes")) as usize;
        if buf.len() - at - 5 < len {
            break;
        }
        out.push((buf[at], buf[at + 5..at + 5 + len].to_vec()));
        at += 5 + len;
    }
    buf.drain(..at);
    out
}

/// The monitor's side: a listening socket and its clients.
pub struct Hub {
    path: PathBuf,
    listener: UnixListener,
    clients: Vec<(UnixStream, Vec<u8>)>,
}

/// What a client sent.
pub enum Input {
    Stdin(Vec<u8>),
    Resize(u16, u16),
}

impl Hub {
    pub fn bind(path: &Path) -> Result<Hub> {
        if let Some(dir) = path.parent() {
            crate::util::fs::mkdir_all(dir, 0o700)?;
        }
        // A socket a killed monitor left behind.
        let _ = std::fs::remove_file(path);
        let listener =
            UnixListener::bind(path).with_context(|| format!("listen on {}", path.display()))?;
        listener.set_nonblocking(true)?;
        Ok(Hub {
            path: path.to_path_buf(),
            listener,
            clients: Vec::new(),
        })
    }

    /// Wait (at most `timeout`) for the first client: `start -a` attaches
    /// before the container's first output.
    pub fn wait_first(&mut self, timeout: Duration) {
        let mut fds = [nix::poll::PollFd::new(
            self.listener.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let t = nix::poll::PollTimeout::try_from(timeout.as_millis() as i32)
            .unwrap_or(nix::poll::PollTimeout::MAX);
        if matches!(nix::poll::poll(&mut fds, t), Ok(n) if n > 0) {
            self.accept();
        }
    }

    /// The descriptors to poll: the listener first, then each client.
    pub fn fds(&self) -> Vec<BorrowedFd<'_>> {
        let mut v = vec![self.listener.as_fd()];
        v.extend(self.clients.iter().map(|(c, _)| c.as_fd()));
        v
    }

    pub fn accept(&mut self) {
        while let Ok((c, _)) = self.listener.accept() {
            // Output is written with a deadline: a client that stops
            // reading is dropped rather than stalling the container.
            let _ = c.set_nonblocking(false);
            let _ = c.set_write_timeout(Some(Duration::from_secs(2)));
            self.clients.push((c, Vec::new()));
        }
    }

    /// Read what client `i` (its index in [`Hub::fds`] minus one) sent;
    /// `None` once it has closed (then [`Hub::remove`] it).
    pub fn read_client(&mut self, i: usize) -> Option<Vec<Input>> {
        let mut chunk = [0u8; 8192];
        let (c, buf) = &mut self.clients[i];
        let _ = c.set_nonblocking(true);
        let n = c.read(&mut chunk);
        let _ = c.set_nonblocking(false);
        match n {
            Ok(0) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Some(Vec::new()),
            Err(_) => return None,
        }
        let inputs = take_frames(buf)
            .into_iter()
            .filter_map(|(k, d)| match k {
                STDIN => Some(Input::Stdin(d)),
                RESIZE if d.len() == 4 => Some(Input::Resize(
                    u16::from_be_bytes([d[0], d[1]]),
                    u16::from_be_bytes([d[2], d[3]]),
                )),
                _ => None,
            })
            .collect();
        Some(inputs)
    }

    pub fn remove(&mut self, i: usize) {
        self.clients.remove(i);
    }

    /// Send output to every client.
    pub fn broadcast(&mut self, kind: u8, data: &[u8]) {
        let f = frame(kind, data);
        self.clients.retain_mut(|(c, _)| c.write_all(&f).is_ok());
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// How an attach ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The container's output ended (it exited).
    Closed,
    /// The user typed the detach keys.
    Detached,
}

/// Docker's `--detach-keys` (`ctrl-p,ctrl-q`, `ctrl-a`..`ctrl-z`,
/// `ctrl-@`, `ctrl-[`, ..., or single characters) as bytes.
pub fn parse_detach_keys(s: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for k in s.split(',') {
        let b = match k.strip_prefix("ctrl-") {
            Some(c) if c.len() == 1 => {
                let ch = c.as_bytes()[0].to_ascii_lowercase();
                match ch {
                    b'a'..=b'z' => ch - b'a' + 1,
                    b'@' => 0,
                    b'[' => 27,
                    b'\\' => 28,
                    b']' => 29,
                    b'^' => 30,
                    b'_' => 31,
                    _ => return Err(anyhow!("invalid detach keys {s:?}")),
                }
            }
            None if k.len() == 1 => k.as_bytes()[0],
            _ => return Err(anyhow!("invalid detach keys {s:?}")),
        };
        out.push(b);
    }
    Ok(out)
}

/// Connect to a container's monitor.
pub fn connect(path: &Path) -> Result<UnixStream> {
    UnixStream::connect(path).with_context(|| format!("attach to {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_at_their_boundaries() {
        let mut buf = frame(STDOUT, b"hello");
        buf.extend(frame(RESIZE, &[0, 24, 0, 80]));
        buf.extend_from_slice(&frame(STDERR, b"cut")[..6]);
        let got = take_frames(&mut buf);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], (STDOUT, b"hello".to_vec()));
        assert_eq!(buf.len(), 6, "the cut frame waits for its rest");
    }

    #[test]
    fn detach_keys_in_dockers_notation() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), [16, 17]);
        assert_eq!(parse_detach_keys("ctrl-a,x").unwrap(), [1, b'x']);
        assert!(parse_detach_keys("ctrl-pp").is_err());
    }
}

/// What the attaching side asks for.
pub struct ClientOpts<'a> {
    /// The container has a terminal: raw mode here, sizes sent along.
    pub tty: bool,
    /// Send our stdin.
    pub stdin: bool,
    pub detach_keys: Vec<u8>,
    /// Signals we receive, passed on (`--sig-proxy`, without a terminal).
    pub forward: Option<&'a dyn Fn(i32)>,
}

/// Watches typed input for the detach sequence; holds back a partial
/// match until it is known not to be one.
struct DetachKeys {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachKeys {
    /// Split `data` into what to send, and whether the sequence was typed.
    fn feed(&mut self, data: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        for &b in data {
            if self.keys.is_empty() {
                out.push(b);
                continue;
            }
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return (out, true);
                }
            } else {
                out.extend_from_slice(&self.keys[..self.matched]);
                self.matched = 0;
                if b == self.keys[0] {
                    self.matched = 1;
                } else {
                    out.push(b);
                }
            }
        }
        (out, false)
    }
}

/// Relay between this terminal (or these streams) and the container
/// until its output ends or the user detaches.
pub fn client(mut conn: UnixStream, o: &ClientOpts) -> Result<Ended> {
    use super::signals::Forwarder;
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let stdin = std::io::stdin();
    let _raw = if o.tty && o.stdin {
        super::pty::RawMode::enable(stdin.as_fd())?
    } else {
        None
    };
    let signals = Forwarder::new()?;
    let send_size = |conn: &mut UnixStream| {
        let fd = std::io::stdout();
        if let Ok(ws) = rustix::termios::tcgetwinsize(fd.as_fd()) {
            let mut p = ws.ws_row.to_be_bytes().to_vec();
            p.extend_from_slice(&ws.ws_col.to_be_bytes());
            let _ = conn.write_all(&frame(RESIZE, &p));
        }
    };
    if o.tty {
        send_size(&mut conn);
    }
    let mut keys = DetachKeys {
        keys: if o.tty {
            o.detach_keys.clone()
        } else {
            Vec::new()
        },
        matched: 0,
    };
    let mut stdin_open = o.stdin;
    let mut inbuf = Vec::new();
    let mut chunk = vec![0u8; 32 * 1024];
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    loop {
        let mut fds = vec![
            PollFd::new(conn.as_fd(), PollFlags::POLLIN),
            PollFd::new(signals.fd(), PollFlags::POLLIN),
        ];
        if stdin_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(anyhow!("poll: {e}")),
        }
        let ready = |f: &PollFd| {
            f.revents().is_some_and(|r| {
                r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
            })
        };
        let (c_ready, s_ready) = (ready(&fds[0]), ready(&fds[1]));
        let i_ready = fds.get(2).is_some_and(ready);
        drop(fds);
        if c_ready {
            let n = conn.read(&mut chunk).unwrap_or(0);
            if n == 0 {
                return Ok(Ended::Closed);
            }
            inbuf.extend_from_slice(&chunk[..n]);
            for (kind, data) in take_frames(&mut inbuf) {
                let w: &mut dyn Write = if kind == STDERR { &mut err } else { &mut out };
                let _ = w.write_all(&data);
                let _ = w.flush();
            }
        }
        if i_ready {
            let n = rustix::io::read(stdin.as_fd(), &mut chunk).unwrap_or(0);
            if n == 0 {
                stdin_open = false;
            } else {
                let (data, detach) = keys.feed(&chunk[..n]);
                if !data.is_empty() && conn.write_all(&frame(STDIN, &data)).is_err() {
                    stdin_open = false;
                }
                if detach {
                    return Ok(Ended::Detached);
                }
            }
        }
        if s_ready {
            while let Some(s) = signals.next()? {
                if s.signal == libc::SIGWINCH {
                    if o.tty {
                        send_size(&mut conn);
                    }
                } else if let Some(f) = o.forward {
                    if s.signal != libc::SIGCHLD {
                        f(s.signal);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod detach_tests {
    use super::*;

    #[test]
    fn the_detach_sequence_is_held_back_and_found() {
        let mut k = DetachKeys {
            keys: vec![16, 17],
            matched: 0,
        };
        assert_eq!(k.feed(b"ab"), (b"ab".to_vec(), false));
        assert_eq!(k.feed(&[16]), (vec![], false));
        assert_eq!(k.feed(b"x"), (vec![16, b'x'], false));
        assert_eq!(k.feed(&[b'y', 16, 17, b'z']), (vec![b'y'], true));
    }
}
