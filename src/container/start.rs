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
    pid: nix::unistd::Pid,
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
            let _ = nix::sys::wait::waitpid(self.pid, None);
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
    let mut args: Vec<std::ffi::OsString> = vec![
        "skiff".into(),
        "--root".into(),
        cfg.root.clone().into(),
        "--runroot".into(),
        cfg.runroot.clone().into(),
        "container-monitor".into(),
        "--ready-fd".into(),
        w.as_raw_fd().to_string().into(),
    ];
    if wait_attach {
        args.push("--wait-attach".into());
    }
    if let Some(m) = &maker {
        args.push(format!("--maker-fd={}", m.as_raw_fd()).into());
    }
    args.push(id.into());
    // A monitor of the container's last run, exiting, may remove the
    // scope between its making and the fork: made again then.
    let mut forked = None;
    for _ in 0..3 {
        let Some(scope) = crate::cgroup::MonitorScope::prepare(id)
            .filter(|_| crate::sys::proc::single_threaded())
        else {
            break;
        };
        match fork_monitor(&args, &scope) {
            Ok(pid) => {
                forked = Some(pid);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                crate::cgroup::remove_monitor_scope(id);
                return Err(anyhow!("start the container's monitor: {e}"));
            }
        }
    }
    let pid = match forked {
        Some(pid) => pid,
        None => {
            let child = std::process::Command::new("/proc/self/exe")
                .arg0(&args[0])
                .args(&args[1..])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .current_dir("/")
                .spawn()
                .context("start the container's monitor")?;
            nix::unistd::Pid::from_raw(child.id() as i32)
        }
    };
    drop(w);
    drop(maker);
    Ok(Monitor {
        pid,
        ready: std::fs::File::from(r),
        early: Vec::new(),
    })
}

/// Start the monitor (`args`, skiff's own command line) inside its
/// cgroup `scope` from its first instruction (`CLONE_INTO_CGROUP`).
fn fork_monitor(
    args: &[std::ffi::OsString],
    scope: &std::os::fd::OwnedFd,
) -> std::io::Result<nix::unistd::Pid> {
    use std::os::fd::AsFd;
    use std::os::unix::ffi::OsStrExt;
    // Everything the child needs is made before the fork.
    let argv = args
        .iter()
        .map(|a| std::ffi::CString::new(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()?;
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    match crate::sys::fork::fork_into(0, Some(scope.as_fd()))? {
        crate::sys::fork::Forked::Child => {
            for n in 0..3 {
                if crate::sys::proc::dup_to(null.as_fd(), n).is_err() {
                    crate::sys::proc::exit_now(127);
                }
            }
            let _ = nix::unistd::chdir("/");
            let _ = nix::unistd::execv(c"/proc/self/exe", &argv);
            crate::sys::proc::exit_now(127)
        }
        crate::sys::fork::Forked::Parent(pid) => Ok(pid),
    }
}
