//! skiff run on a real terminal: a pty pair from `openpty`, skiff started
//! by `setsid -c` so the pty's slave is its controlling terminal (as a
//! shell at a terminal would have it), the master read with a timestamp
//! per chunk so tests can tell streamed output from buffered output.

use super::skiff::{skiff_bin, Skiff, DEADLINE};
use nix::pty::{openpty, Winsize};
use nix::sys::termios::{tcgetattr, Termios};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

type Chunks = Arc<Mutex<Vec<(Instant, Vec<u8>)>>>;

pub struct PtyRun {
    cmd: String,
    child: Option<Child>,
    master: File,
    /// Our own handle on the slave: to read its terminal mode and name,
    /// and so the master does not hang up before we have looked.
    slave: Option<OwnedFd>,
    chunks: Chunks,
    reader: Option<JoinHandle<()>>,
    mode_before: Termios,
    pub started: Instant,
}

/// What a run on a terminal did.
pub struct PtyOut {
    pub cmd: String,
    pub code: i32,
    /// Everything the terminal showed (with the pty's `\r\n` line ends).
    pub output: String,
    pub chunks: Vec<(Instant, Vec<u8>)>,
    /// The slave's mode before skiff started and after it exited.
    pub mode_before: Termios,
    pub mode_after: Termios,
}

impl std::fmt::Display for PtyOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "$ {}\nexit code: {}\n--- terminal ---\n{}\n---",
            self.cmd, self.code, self.output
        )
    }
}

impl PtyOut {
    /// The terminal output with `\r` removed.
    pub fn text(&self) -> String {
        self.output.replace('\r', "")
    }

    /// When `needle` first appeared on the terminal.
    pub fn time_of(&self, needle: &str) -> Option<Instant> {
        let mut seen = Vec::new();
        for (t, c) in &self.chunks {
            seen.extend_from_slice(c);
            if String::from_utf8_lossy(&seen).contains(needle) {
                return Some(*t);
            }
        }
        None
    }
}

impl PtyRun {
    /// `skiff ARGS` on a fresh pty of `rows` x `cols`.
    pub fn spawn(env: &Skiff, args: &[&str], rows: u16, cols: u16) -> PtyRun {
        let ws = Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = openpty(Some(&ws), None).expect("openpty");
        let mode_before = tcgetattr(&pty.slave).expect("tcgetattr on the pty slave");
        let io = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup the pty slave"));
        // `setsid -c` makes the slave (its stdin) the controlling terminal
        // of a new session, as a login shell's would be; `-w` waits for
        // skiff and exits with its status.
        // skiff as `env` runs it (through `setpriv` for the rootless
        // runs' user).
        let wrapper = ["setsid", "-c", "-w"].map(std::ffi::OsStr::new);
        let child = env
            .command_via(&wrapper, args)
            .stdin(io(&pty.slave))
            .stdout(io(&pty.slave))
            .stderr(io(&pty.slave))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn setsid {}: {e}", skiff_bin()));
        let master = File::from(pty.master);
        let chunks: Chunks = Arc::new(Mutex::new(Vec::new()));
        let reader = {
            let mut m = master.try_clone().expect("dup the pty master");
            let chunks = chunks.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                // EIO once every slave handle is closed.
                while let Ok(n) = m.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    chunks
                        .lock()
                        .unwrap()
                        .push((Instant::now(), buf[..n].to_vec()));
                }
            })
        };
        PtyRun {
            cmd: format!("skiff {} (on a pty)", args.join(" ")),
            child: Some(child),
            master,
            slave: Some(pty.slave),
            chunks,
            reader: Some(reader),
            mode_before,
            started: Instant::now(),
        }
    }

    /// The slave's device path (`/dev/pts/N`), for `stty -F`.
    pub fn slave_path(&self) -> String {
        let fd = self.slave.as_ref().unwrap().as_raw_fd();
        std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .expect("readlink the pty slave")
            .display()
            .to_string()
    }

    pub fn mode(&self) -> Termios {
        tcgetattr(self.slave.as_ref().unwrap()).expect("tcgetattr on the pty slave")
    }

    /// Type `data` at the terminal.
    pub fn write(&mut self, data: &[u8]) {
        self.master
            .write_all(data)
            .expect("write to the pty master");
    }

    pub fn output_now(&self) -> String {
        let c = self.chunks.lock().unwrap();
        let bytes: Vec<u8> = c.iter().flat_map(|(_, b)| b.iter().copied()).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Wait until the terminal shows `needle`.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) {
        let start = Instant::now();
        while !self.output_now().contains(needle) {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || start.elapsed() > timeout {
                std::thread::sleep(Duration::from_millis(100));
                if self.output_now().contains(needle) {
                    return;
                }
                panic!(
                    "waited for {needle:?} on the terminal ({}):\n$ {}\n--- terminal ---\n{}",
                    if exited.is_some() {
                        "skiff exited"
                    } else {
                        "timed out"
                    },
                    self.cmd,
                    self.output_now()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Wait for skiff to exit, then collect what the terminal showed and
    /// its mode before and after.
    pub fn finish(mut self) -> PtyOut {
        let mut child = self.child.take().unwrap();
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait for setsid") {
                break s;
            }
            if start.elapsed() > DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "killed after {DEADLINE:?}:\n$ {}\n--- terminal ---\n{}",
                    self.cmd,
                    self.output_now()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        // Output written just before the exit may still be in the pty.
        let mut last = self.output_now().len();
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let now = self.output_now().len();
            if now == last {
                break;
            }
            last = now;
        }
        let mode_after = self.mode();
        drop(self.slave.take());
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        use std::os::unix::process::ExitStatusExt;
        let code = status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        let chunks = std::mem::take(&mut *self.chunks.lock().unwrap());
        let bytes: Vec<u8> = chunks.iter().flat_map(|(_, b)| b.iter().copied()).collect();
        PtyOut {
            cmd: self.cmd.clone(),
            code,
            output: String::from_utf8_lossy(&bytes).into_owned(),
            chunks,
            mode_before: self.mode_before.clone(),
            mode_after,
        }
    }
}

impl Drop for PtyRun {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        drop(self.slave.take());
    }
}
