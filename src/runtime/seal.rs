//! CVE-2019-5736: a container must never be able to overwrite the skiff
//! binary through `/proc/self/exe`.
//!
//! The usual defence is the exec trampoline (see `trampoline`); this
//! module is the other one, for when the trampoline cannot be used (a
//! container sharing a pid namespace, where its processes could reach the
//! init before its exec; an architecture without a trampoline; memfds that
//! may not be executed).
//!
//! The container's init is a fork of skiff, so until its `execve` its
//! `/proc/self/exe` is skiff's binary; an image whose command is
//! `/proc/self/exe`, or a script with `#!/proc/self/exe`, makes that very
//! binary the container's process, which other processes of the container
//! can then open and, once it stops running, write. So skiff runs
//! containers only from a sealed copy of itself: before anything else, the
//! command re-executes itself from one, and the fork inherits it.
//!
//! The copy costs no copying: a read-only overlayfs whose lower layer is
//! the binary's directory, created with the new mount API and never
//! attached anywhere (so nothing appears in any mount table and nothing
//! needs unmounting); a file on it cannot be opened for writing, and the
//! overlay gives no way back to the real inode. Where overlayfs is not
//! allowed (a user without CAP_SYS_ADMIN), a sealed memfd copy is the
//! fallback, and for such a user a binary they cannot write anyway (owned
//! by root) needs no copy at all.

use anyhow::{anyhow, bail, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use rustix::fs::{Mode, OFlags, SealFlags};
use std::ffi::{CString, OsString};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;
const ST_RDONLY: u64 = 1;
/// Set on the re-executed process, so that a copy that somehow fails the
/// check does not re-execute forever.
const MARKER: &str = "_SKIFF_SEALED_EXE";

fn seals() -> SealFlags {
    SealFlags::SEAL | SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE
}

/// Is the running binary a sealed copy?
pub fn is_sealed() -> bool {
    let Ok(fd) = rustix::fs::open(
        "/proc/self/exe",
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return false;
    };
    if let Ok(st) = rustix::fs::fstatfs(&fd) {
        #[allow(clippy::unnecessary_cast)] // the field is narrower on 32-bit targets
        if st.f_type as i64 == OVERLAYFS_SUPER_MAGIC && (st.f_flags as u64) & ST_RDONLY != 0 {
            return true;
        }
    }
    let Ok(fd) = rustix::fs::open(
        "/proc/self/exe",
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return false;
    };
    rustix::fs::fcntl_get_seals(&fd).is_ok_and(|s| s.contains(seals()))
}

/// Could a container write the running binary? Root's containers could
/// (without a user namespace they are root too); another user's, and
/// those of the rootless namespace, only when the binary is theirs to
/// write.
fn writable_by_containers() -> bool {
    (rustix::process::geteuid().is_root() && !crate::util::ids::in_userns())
        || nix::unistd::access("/proc/self/exe", nix::unistd::AccessFlags::W_OK).is_ok()
}

/// Does `spec` give the container a new pid namespace of its own?
fn new_pid_namespace(spec: &Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| {
            ns.iter()
                .any(|n| n.typ() == LinuxNamespaceType::Pid && n.path().is_none())
        })
}

/// Is the running binary out of the containers' reach (sealed, or not
/// writable by them)?
pub fn protected() -> bool {
    is_sealed() || !writable_by_containers()
}

/// Make sure a container of `spec` cannot reach skiff's binary. With a new
/// pid namespace the exec trampoline suffices (see `trampoline`), unless
/// the built-in init (which stays skiff) is asked for; else
/// this re-executes skiff from a sealed copy ([`ensure`]). Call it before
/// taking locks: an `execve` undoes everything done before it.
pub fn prepare(spec: &Spec) -> Result<()> {
    if new_pid_namespace(spec) && super::trampoline::get().is_ok() && !super::plan::wants_init(spec)
    {
        if std::env::var_os(MARKER).is_some() {
            std::env::remove_var(MARKER);
        }
        return Ok(());
    }
    ensure()
}

/// Make sure skiff runs from a sealed copy, re-executing itself from one
/// if needed (same arguments, same environment). Call it first thing in a
/// command that runs containers: an `execve` drops locks and undoes
/// everything done before it.
pub fn ensure() -> Result<()> {
    let again = std::env::var_os(MARKER).is_some();
    if again {
        // Not for the container's environment nor any helper's.
        std::env::remove_var(MARKER);
    }
    if is_sealed() || !writable_by_containers() {
        return Ok(());
    }
    if again {
        bail!("re-executed from a sealed copy of skiff, yet /proc/self/exe is not sealed");
    }
    let fd = match overlay_copy() {
        Ok(fd) => fd,
        Err(overlay) => memfd_copy().map_err(|memfd| {
            anyhow!("make a sealed copy of skiff (CVE-2019-5736): {overlay:#}; {memfd:#}")
        })?,
    };
    reexec(fd)
}

/// The binary's own path (a binary replaced on disk reads "... (deleted)").
fn exe_path() -> Result<PathBuf> {
    let p = std::fs::read_link("/proc/self/exe")
        .map_err(|e| anyhow!("read /proc/self/exe: {}", super::io_text(&e)))?;
    if p.as_os_str().as_bytes().ends_with(b" (deleted)") {
        bail!("{} was replaced while running", p.display());
    }
    Ok(p)
}

/// Overlayfs splits lower dirs at ':' and options at ','.
fn escape(p: &Path) -> String {
    let mut out = String::new();
    for c in p.to_string_lossy().chars() {
        if matches!(c, '\\' | ':' | ',') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A read-only overlay needs two lower layers; the second may be any
/// directory that neither holds nor is held by the binary's.
fn second_layer(dir: &Path) -> Option<&'static Path> {
    ["/dev", "/run", "/tmp", "/sys"]
        .into_iter()
        .map(Path::new)
        .find(|c| !dir.starts_with(c) && !c.starts_with(dir) && c.is_dir())
}

fn overlay_copy() -> Result<OwnedFd> {
    use rustix::mount::{
        fsconfig_create, fsconfig_set_string, fsmount, fsopen, FsMountFlags, FsOpenFlags,
        MountAttrFlags,
    };
    let exe = exe_path()?;
    let (Some(dir), Some(name)) = (exe.parent(), exe.file_name()) else {
        bail!("{}: no directory", exe.display());
    };
    let other = second_layer(dir)
        .ok_or_else(|| anyhow!("no second overlay layer for {}", dir.display()))?;
    let err = |what: &str, e: rustix::io::Errno| anyhow!("{what}: {}", super::io_text(&e.into()));
    let fs =
        fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC).map_err(|e| err("fsopen overlay", e))?;
    let lower = format!("{}:{}", escape(dir), escape(other));
    fsconfig_set_string(&fs, "lowerdir", lower.as_str())
        .map_err(|e| err(&format!("overlay lowerdir={lower}"), e))?;
    // Only to keep the kernel log quiet when layers sit on different file
    // systems; refusal is harmless.
    let _ = fsconfig_set_string(&fs, "xino", "off");
    fsconfig_create(&fs).map_err(|e| err("create the overlay", e))?;
    let mnt = fsmount(
        &fs,
        FsMountFlags::FSMOUNT_CLOEXEC,
        MountAttrFlags::MOUNT_ATTR_RDONLY
            | MountAttrFlags::MOUNT_ATTR_NODEV
            | MountAttrFlags::MOUNT_ATTR_NOSUID,
    )
    .map_err(|e| err("fsmount the overlay", e))?;
    rustix::fs::openat(
        &mnt,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| {
        err(
            &format!("open {} on the overlay", name.to_string_lossy()),
            e,
        )
    })
}

fn memfd_copy() -> Result<OwnedFd> {
    use rustix::fs::MemfdFlags;
    let err = |what: &str, e: std::io::Error| anyhow!("{what}: {}", super::io_text(&e));
    let fd = rustix::fs::memfd_create("skiff", MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)
        .map_err(|e| err("memfd_create", e.into()))?;
    let mut src =
        std::fs::File::open("/proc/self/exe").map_err(|e| err("open /proc/self/exe", e))?;
    let mut dst = std::fs::File::from(fd);
    std::io::copy(&mut src, &mut dst).map_err(|e| err("copy skiff into a memfd", e))?;
    rustix::fs::fcntl_add_seals(&dst, seals()).map_err(|e| err("seal the memfd", e.into()))?;
    Ok(dst.into())
}

fn reexec(fd: OwnedFd) -> Result<()> {
    let cstr =
        |s: OsString| CString::new(s.into_vec()).map_err(|_| anyhow!("NUL byte in an argument"));
    let args = std::env::args_os().map(cstr).collect::<Result<Vec<_>>>()?;
    let mut env = Vec::new();
    for (k, v) in std::env::vars_os() {
        let mut kv = k.into_vec();
        kv.push(b'=');
        kv.extend(v.into_vec());
        env.push(CString::new(kv).map_err(|_| anyhow!("NUL byte in the environment"))?);
    }
    env.push(CString::new(format!("{MARKER}=1")).expect("no NUL"));
    let e = match nix::unistd::execveat(
        fd.as_fd(),
        c"",
        &args,
        &env,
        nix::fcntl::AtFlags::AT_EMPTY_PATH,
    ) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    bail!(
        "re-execute skiff from its sealed copy: {}",
        super::errno_text(e as i32)
    )
}
