//! The built-in OCI runtime: it executes a bundle (`config.json` plus a
//! root file system) in the foreground, with skiff itself as the
//! container's parent. No runc, crun or shim: one clone into the
//! namespaces, the container's init set up in the child (mounts, `/dev`,
//! masked paths, `pivot_root`, user, capabilities, seccomp), then `execve`.
//!
//! The parent side is [`process`], the child side [`init`]; the two talk
//! over [`sync`]. Everything that can be decided before the fork is
//! decided in [`plan`], so the child only makes system calls.

pub mod attach;
pub mod bundle;
pub mod caps;
pub mod cgroupfs;
pub mod cgroups;
pub mod create;
pub mod defaults;
pub mod dev;
pub mod exec;
pub mod exec_in;
pub mod fuse;
pub mod health;
pub mod init;
pub mod logfile;
pub mod logread;
pub mod masks;
pub mod monitor;
pub mod mounts;
pub mod opts;
pub mod paths;
pub mod pid1;
pub mod plan;
pub mod premount;
pub mod probe;
pub mod process;
pub mod pty;
pub mod rlimits;
pub mod rootfs;
pub mod seal;
pub mod seccomp;
pub mod seccomp_default;
pub mod seccomp_profile;
pub mod signals;
pub mod spec;
pub mod spec_mounts;
pub mod stats;
pub mod storage;
pub mod sync;
pub mod syscall_table;
pub mod tee;
pub mod trampoline;
pub mod user;

use anyhow::Result;
use std::os::fd::OwnedFd;
use std::path::Path;

/// The container's standard streams when skiff should not hand over its
/// own: each descriptor becomes the container's 0, 1 or 2 (stdin `None`
/// means `/dev/null`). With `process.terminal` they are the far ends of the
/// relay instead, and the container gets a pty.
#[derive(Debug)]
pub struct Stdio {
    pub stdin: Option<OwnedFd>,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// Where the container's standard streams go.
#[derive(Debug, Default)]
pub enum RunIo {
    /// The container's 0, 1 and 2 are skiff's own: nothing is copied or
    /// buffered, stdout and stderr stay apart.
    #[default]
    Inherit,
    /// These descriptors instead.
    Stdio(Stdio),
}

/// How the container's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
}

impl Exit {
    /// The shell's convention, which Docker follows: the code, or 128+N.
    pub fn status(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128 + s,
        }
    }
}

/// Create, start and wait for a container from a bundle, in the foreground:
/// skiff stays the parent, forwards INT, TERM, HUP, QUIT, USR1, USR2,
/// WINCH, ... to the container's init, and relays nothing itself when
/// stdio is inherited.
///
/// When the exec trampoline cannot protect skiff's binary (CVE-2019-5736),
/// it first re-executes skiff from a sealed copy ([`seal::prepare`]), so
/// callers that take locks or keep state should call [`seal::prepare`]
/// themselves first.
pub fn run_bundle(bundle: &Path, id: &str, io: RunIo) -> Result<Exit> {
    let b = bundle::Bundle::load(bundle)?;
    seal::prepare(&b.spec)?;
    process::run(&b, id, io)
}

/// How a container ended, with what its cgroup saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    pub exit: Exit,
    /// The OOM killer ended a process of the container.
    pub oom_killed: bool,
}

/// [`run_bundle`] for a spec already in memory (the one just written to
/// `dir/config.json`), sparing the read back. `started` is told the
/// container process's pid once its command runs, and may give work to do
/// beside it while it runs.
pub fn run_spec<'a>(
    dir: &Path,
    spec: oci_spec::runtime::Spec,
    id: &str,
    io: RunIo,
    started: impl FnOnce(u32) -> Result<Option<Box<dyn process::Beside + 'a>>>,
) -> Result<Ended> {
    let b = bundle::Bundle::new(dir, spec)?;
    seal::prepare(&b.spec)?;
    let mut s = process::spawn(&b, id, io)?;
    let cgroup = s.cgroup.take();
    let beside = match started(s.child.pid().as_raw() as u32) {
        Ok(b) => b,
        Err(e) => {
            // The child killed and reaped before its cgroup goes.
            drop(s);
            return Err(e);
        }
    };
    let exit = process::wait_with(s, beside)?;
    Ok(Ended {
        exit,
        oom_killed: cgroup.is_some_and(|c| c.finish()),
    })
}

/// The text of an errno as the rest of skiff words errors: lowercase,
/// without the "(os error N)" suffix.
pub(crate) fn errno_text(errno: i32) -> String {
    let desc = nix::errno::Errno::from_raw(errno).desc();
    let mut chars = desc.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => format!("errno {errno}"),
    }
}

/// [`errno_text`] of an I/O error (its own text when it has no errno).
pub(crate) fn io_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => errno_text(n),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_texts_are_lowercase() {
        assert_eq!(errno_text(libc::ENOENT), "no such file or directory");
        assert_eq!(errno_text(libc::EACCES), "permission denied");
        let e = std::io::Error::from_raw_os_error(libc::EPERM);
        assert_eq!(io_text(&e), "operation not permitted");
    }

    #[test]
    fn exit_status_follows_the_shell() {
        assert_eq!(Exit::Code(3).status(), 3);
        assert_eq!(Exit::Signal(9).status(), 137);
    }
}
