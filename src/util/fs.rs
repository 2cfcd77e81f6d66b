//! Writes that a crash cannot leave half-done: temp file, fsync, rename,
//! fsync the directory.

use anyhow::{Context, Result};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name for a temporary sibling of `path`, unique to this process and call.
/// It starts with `.tmp-` and carries the pid, so a cleanup pass can tell
/// leftovers of dead processes from files still being written.
pub fn tmp_sibling(path: &Path) -> PathBuf {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".tmp-{}-{}-{}", std::process::id(), n, name))
}

/// Replace `path` with `data` atomically and durably.
pub fn atomic_write(path: &Path, data: &[u8]) -> Result<()> {
    atomic_write_mode(path, data, 0o644)
}

/// [`atomic_write`] with a file mode (0600 for credentials).
pub fn atomic_write_mode(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let tmp = tmp_sibling(path);
    let res = (|| -> Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .with_context(|| format!("create {}", tmp.display()))?;
        f.write_all(data)
            .with_context(|| format!("write {}", tmp.display()))?;
        f.sync_all()
            .with_context(|| format!("fsync {}", tmp.display()))?;
        fs::rename(&tmp, path)
            .with_context(|| format!("rename {} to {}", tmp.display(), path.display()))?;
        Ok(())
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res?;
    if let Some(dir) = path.parent() {
        fsync_dir(dir)?;
    }
    Ok(())
}

/// Replace `path` with `data` atomically but without fsync: for files that
/// are regenerated whenever they are needed (a container's hosts file,
/// its config.json), where a power cut may lose them but a killed process
/// never leaves them half-written. Skipping the flushes keeps `run` fast.
pub fn atomic_write_volatile(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = tmp_sibling(path);
    let res = fs::write(&tmp, data)
        .with_context(|| format!("write {}", tmp.display()))
        .and_then(|_| {
            fs::rename(&tmp, path)
                .with_context(|| format!("rename {} to {}", tmp.display(), path.display()))
        });
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

/// fsync a directory so renames into it survive a crash.
pub fn fsync_dir(dir: &Path) -> Result<()> {
    let d = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(d)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("fsync directory {}", d.display()))
}

/// Bytes in the regular files under `dir` (symlinks not followed; 0 when
/// unreadable).
pub fn tree_size(dir: &Path) -> u64 {
    let Ok(rd) = fs::read_dir(dir) else { return 0 };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => tree_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

/// Create a directory and its parents with a mode.
pub fn mkdir_all(dir: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
        .with_context(|| format!("create directory {}", dir.display()))
}

/// The start time of a process in clock ticks since boot, `None` when it is
/// gone or unreadable.
pub fn proc_start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces and ')'):
    // index 0 is field 3 (state), so field 22 (starttime) is index 19.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Is process `pid` alive and the same one that started at `start` (a
/// later process may have its pid)? Without a start time, any live `pid`.
pub fn process_is(pid: u32, start: Option<u64>) -> bool {
    pid_alive(pid) && start.is_none_or(|s| proc_start_time(pid) == Some(s))
}

/// Is a process with this pid alive (zombies count as gone)?
pub fn pid_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            // The state follows the last ')' (the command name may hold one).
            let state = s.rsplit_once(')').map(|(_, r)| r.trim_start());
            !matches!(
                state.and_then(|r| r.chars().next()),
                Some('Z') | Some('X') | None
            )
        }
        Err(_) => false,
    }
}

/// Parse the pid out of a name made by [`tmp_sibling`] or any name shaped
/// `<prefix><pid>-...`.
pub fn pid_in_name(name: &str, prefix: &str) -> Option<u32> {
    name.strip_prefix(prefix)?.split('-').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.json");
        atomic_write(&p, b"one").unwrap();
        atomic_write(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn pids() {
        assert!(pid_alive(std::process::id()));
        let t = tmp_sibling(Path::new("/a/b"));
        let name = t.file_name().unwrap().to_str().unwrap();
        assert_eq!(pid_in_name(name, ".tmp-"), Some(std::process::id()));
    }
}
