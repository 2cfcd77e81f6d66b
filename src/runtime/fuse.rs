//! `fuse-overlayfs`, the storage driver for kernels whose overlayfs may
//! not be mounted in a user namespace (before 5.11): overlayfs in user
//! space, through `/dev/fuse`.
//!
//! Its daemon is started in a private mount namespace (`premount`), and
//! the mount it makes there is cloned out and detached at once: the clone
//! handed to the container (or held by `cp`) is its only reference. When
//! that goes, the kernel ends the FUSE connection and the daemon exits on
//! its own, whoever ended the container and however (the container's end,
//! `kill -9` of its monitor): no mount is ever left on the host, and no
//! `fusermount -u` is needed. [`reap`] is the backstop for a daemon that
//! lingers anyway.

use super::bundle::Overlay;
use anyhow::{anyhow, bail, Context, Result};
use std::os::fd::OwnedFd;
use std::path::Path;

pub const PROGRAM: &str = "fuse-overlayfs";

/// Can `fuse-overlayfs` work here: is it installed, and may this process
/// open `/dev/fuse`?
pub fn usable() -> std::result::Result<(), String> {
    if !crate::util::fs::on_path(PROGRAM) {
        return Err(format!("{PROGRAM} is not installed (package {PROGRAM})"));
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .map(drop)
        .map_err(|e| format!("open /dev/fuse: {}", super::io_text(&e)))
}

/// fuse-overlayfs splits its lower dirs at `:` and its options at `,`,
/// with no escape (1.10).
fn plain(p: &Path) -> Result<String> {
    let s = p.to_string_lossy();
    if s.contains([':', ',']) {
        bail!("{PROGRAM} cannot take a path with ':' or ',': {s}");
    }
    Ok(s.into_owned())
}

/// The `-o` options for `o`.
pub fn options(o: &Overlay) -> Result<String> {
    let lower = o
        .lower
        .iter()
        .map(|p| plain(p))
        .collect::<Result<Vec<_>>>()?
        .join(":");
    let (Some(u), Some(w)) = (&o.upper, &o.work) else {
        bail!("{PROGRAM} needs an upper and a work directory");
    };
    // allow_other: the container's processes run as other ids (and in
    // another user namespace) than the daemon's.
    Ok(format!(
        "lowerdir={lower},upperdir={},workdir={},allow_other",
        plain(u)?,
        plain(w)?
    ))
}

/// Mount `o` with `fuse-overlayfs` at `target`, as a detached mount (see
/// the module's note); `read_only` mounts it so.
pub fn mount_detached(o: &Overlay, target: &Path, read_only: bool) -> Result<OwnedFd> {
    if let Err(why) = usable() {
        bail!("the fuse-overlayfs storage driver: {why}");
    }
    let mut opts = options(o)?;
    if read_only {
        opts.push_str(",ro");
    }
    super::premount::in_private_mount_ns(|| {
        // Spawned from this thread, the daemon is born in its namespace.
        let out = std::process::Command::new(PROGRAM)
            .arg("-o")
            .arg(&opts)
            .arg(target)
            .stdin(std::process::Stdio::null())
            .output()
            .with_context(|| format!("run {PROGRAM}"))?;
        if !out.status.success() {
            let text = String::from_utf8_lossy(&out.stderr);
            let why = text
                .lines()
                .filter(|l| !l.contains("unknown argument ignored"))
                .collect::<Vec<_>>()
                .join("; ");
            bail!("{PROGRAM} on {}: {}", target.display(), why.trim());
        }
        let clone = rustix::mount::open_tree(
            rustix::fs::CWD,
            target,
            rustix::mount::OpenTreeFlags::OPEN_TREE_CLONE
                | rustix::mount::OpenTreeFlags::OPEN_TREE_CLOEXEC,
        )
        .map_err(|e| anyhow!("clone the mount on {}: {}", target.display(), e));
        // The daemon stays in this namespace: were the mount left in it,
        // the daemon would keep its own mount alive for ever.
        let _ = nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH);
        clone
    })
}

/// End the `fuse-overlayfs` daemons whose command line names `dir` (a
/// container's directory), should any outlive their mount.
pub fn reap(dir: &Path) {
    let needle = dir.as_os_str().as_encoded_bytes();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let mut args = cmd.split(|b| *b == 0);
        let is_fuse = args.next().is_some_and(|a| a.ends_with(PROGRAM.as_bytes()));
        if is_fuse && cmd.windows(needle.len()).any(|w| w == needle) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn options_name_the_layers_top_first() {
        let o = Overlay {
            lower: vec![PathBuf::from("/l/b"), PathBuf::from("/l/a")],
            upper: Some(PathBuf::from("/c/upper")),
            work: Some(PathBuf::from("/c/work")),
            volatile: false,
            driver: crate::store::driver::Driver::FuseOverlayfs,
            idmap: false,
            shifted: false,
            userxattr: false,
        };
        assert_eq!(
            options(&o).unwrap(),
            "lowerdir=/l/b:/l/a,upperdir=/c/upper,workdir=/c/work,allow_other"
        );
        let bad = Overlay {
            lower: vec![PathBuf::from("/l:x")],
            ..o
        };
        assert!(options(&bad).is_err());
    }
}
