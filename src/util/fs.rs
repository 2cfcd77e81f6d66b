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

/// Write a file that must not exist yet: one of a container's own files,
/// made once in the directory its creator has just made and holds. No
/// temporary and no rename: a creator that dies half-way leaves a
/// half-made container, which is removed whole.
pub fn write_new(path: &Path, data: &[u8]) -> Result<()> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|mut f| f.write_all(data))
        .with_context(|| format!("write {}", path.display()))
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

/// The state letter and start time (clock ticks since boot) of a
/// process, from one read of `/proc/PID/stat`; `None` when it is gone.
fn proc_stat(pid: u32) -> Option<(char, Option<u64>)> {
    use std::io::Read;
    // /proc files report no size: without room up front the read would
    // start at 32 bytes and take six calls.
    let mut stat = String::with_capacity(512);
    fs::File::open(format!("/proc/{pid}/stat"))
        .ok()?
        .read_to_string(&mut stat)
        .ok()?;
    // The state (field 3) first, the start time (field 22) 19 after it.
    let mut fields = stat_fields(&stat)?;
    let state = fields.next()?.chars().next()?;
    Some((state, fields.nth(18).and_then(|t| t.parse().ok())))
}

/// The fields of a `/proc/PID/stat` text after the command name (which
/// may hold spaces and ')'): the state (field 3) first.
pub fn stat_fields(stat: &str) -> Option<std::str::SplitWhitespace<'_>> {
    Some(stat.rsplit_once(')')?.1.split_whitespace())
}

/// The process group of a process (field 5 of its stat), `None` when it
/// is gone.
pub fn process_group(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat_fields(&stat)?.nth(2)?.parse().ok()
}

/// The start time of a process in clock ticks since boot, `None` when it is
/// gone or unreadable.
pub fn proc_start_time(pid: u32) -> Option<u64> {
    proc_stat(pid)?.1
}

/// Is process `pid` alive and the same one that started at `start` (a
/// later process may have its pid)? Without a start time, any live `pid`.
pub fn process_is(pid: u32, start: Option<u64>) -> bool {
    proc_stat(pid).is_some_and(|(state, started)| {
        !matches!(state, 'Z' | 'X') && start.is_none_or(|s| started == Some(s))
    })
}

/// Is a process with this pid alive (zombies count as gone)?
pub fn pid_alive(pid: u32) -> bool {
    proc_stat(pid).is_some_and(|(state, _)| !matches!(state, 'Z' | 'X'))
}

/// Parse the pid out of a name made by [`tmp_sibling`] or any name shaped
/// `<prefix><pid>-...`.
pub fn pid_in_name(name: &str, prefix: &str) -> Option<u32> {
    name.strip_prefix(prefix)?.split('-').next()?.parse().ok()
}

/// Is there a file `name` in a directory of `PATH` (where a command of
/// that name is then run from)?
pub fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
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
        let me = std::process::id();
        assert!(pid_alive(me));
        let start = proc_start_time(me).unwrap();
        assert!(process_is(me, Some(start)) && process_is(me, None));
        assert!(!process_is(me, Some(start + 1)));
        // An exited child not yet reaped is a zombie: gone.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let t0 = std::time::Instant::now();
        while pid_alive(child.id()) && t0.elapsed().as_secs() < 10 {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(!process_is(child.id(), None));
        assert!(proc_start_time(child.id()).is_some(), "still listed");
        child.wait().unwrap();
        let t = tmp_sibling(Path::new("/a/b"));
        let name = t.file_name().unwrap().to_str().unwrap();
        assert_eq!(pid_in_name(name, ".tmp-"), Some(std::process::id()));
    }
}
