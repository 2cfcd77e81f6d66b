//! Starting a container under a monitor of its own (`run -d`, `start`):
//! the skiff binary re-executed as the hidden `container-monitor` command,
//! which this waits on until the container's command runs or fails.

use crate::config::Config;
use crate::store::containers::Maker;
use anyhow::{anyhow, Context, Result};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;

/// Start container `id` (recorded, not running) in the background;
/// `maker`, the lock of the command that made it (`run -d`), goes to the
/// monitor until the container runs.
pub fn detached(cfg: &Config, id: &str, maker: Option<&Maker>) -> Result<()> {
    let mut monitor = spawn_monitor(cfg, id, false, maker)?;
    monitor.finish()
}

/// Start container `id` with a client attached before it runs (`start
/// -a`): returns the connection once the container runs.
pub fn attached(cfg: &Config, id: &str) -> Result<std::os::unix::net::UnixStream> {
    let mut monitor = spawn_monitor(cfg, id, true, None)?;
    // "bound\n" first: the monitor listens and waits for us.
    let mut line = [0u8; 6];
    let got = monitor.ready.read_exact(&mut line);
    if got.is_err() || &line != b"bound\n" {
        monitor.early.extend_from_slice(&line);
        return monitor
            .finish()
            .and_then(|_| Err(anyhow!("the monitor did not wait for the attach")));
    }
    let conn =
        crate::runtime::attach::connect(&crate::runtime::attach::socket_path(&cfg.runroot, id))?;
    monitor.finish()?;
    Ok(conn)
}

/// A monitor just spawned, and its ready pipe.
struct Monitor {
    child: std::process::Child,
    ready: std::fs::File,
    early: Vec<u8>,
}

impl Monitor {
    /// Read the monitor's report to the end: Ok once the container runs.
    fn finish(&mut self) -> Result<()> {
        let mut data = std::mem::take(&mut self.early);
        let _ = self.ready.read_to_end(&mut data);
        let res = crate::runtime::monitor::read_ready(&data);
        if res.is_err() {
            // It exits right after a failure: no zombie left behind.
            let _ = self.child.wait();
        }
        res
    }
}

fn spawn_monitor(
    cfg: &Config,
    id: &str,
    wait_attach: bool,
    maker: Option<&Maker>,
) -> Result<Monitor> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| anyhow!("create a pipe: {}", std::io::Error::from(e)))?;
    // The monitor inherits the write end, by number.
    rustix::io::fcntl_setfd(&w, rustix::io::FdFlags::empty())
        .map_err(|e| anyhow!("pass a pipe on: {}", std::io::Error::from(e)))?;
    let maker = maker.map(Maker::inheritable).transpose()?;
    let mut cmd = std::process::Command::new("/proc/self/exe");
    cmd.arg0("skiff")
        .arg("--root")
        .arg(&cfg.root)
        .arg("--runroot")
        .arg(&cfg.runroot)
        .arg("container-monitor")
        .arg("--ready-fd")
        .arg(w.as_raw_fd().to_string())
        .args(wait_attach.then_some("--wait-attach"))
        .args(
            maker
                .as_ref()
                .map(|m| format!("--maker-fd={}", m.as_raw_fd())),
        )
        .arg(id)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .current_dir("/");
    let child = cmd.spawn().context("start the container's monitor")?;
    drop(w);
    drop(maker);
    Ok(Monitor {
        child,
        ready: std::fs::File::from(r),
        early: Vec::new(),
    })
}
