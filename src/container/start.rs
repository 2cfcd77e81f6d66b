//! Starting a container under a monitor of its own (`run -d`, `start`):
//! the skiff binary re-executed as the hidden `container-monitor` command,
//! which this waits on until the container's command runs or fails.

use crate::config::Config;
use anyhow::{anyhow, Context, Result};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;

/// Start container `id` (recorded, not running) in the background.
pub fn detached(cfg: &Config, id: &str) -> Result<()> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| anyhow!("create a pipe: {}", std::io::Error::from(e)))?;
    // The monitor inherits the write end, by number.
    rustix::io::fcntl_setfd(&w, rustix::io::FdFlags::empty())
        .map_err(|e| anyhow!("pass a pipe on: {}", std::io::Error::from(e)))?;
    let mut cmd = std::process::Command::new("/proc/self/exe");
    cmd.arg0("skiff")
        .arg("--root")
        .arg(&cfg.root)
        .arg("--runroot")
        .arg(&cfg.runroot)
        .arg("container-monitor")
        .arg("--ready-fd")
        .arg(w.as_raw_fd().to_string())
        .arg(id)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .current_dir("/");
    let mut child = cmd.spawn().context("start the container's monitor")?;
    drop(w);
    let mut data = Vec::new();
    let mut r = std::fs::File::from(r);
    let _ = r.read_to_end(&mut data);
    let res = crate::runtime::monitor::read_ready(&data);
    if res.is_err() {
        // It exits right after a failure: no zombie left behind.
        let _ = child.wait();
    }
    res
}
