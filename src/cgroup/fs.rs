//! Reading and writing cgroup files, with the file and the value in every
//! error: `write 33554432 to /sys/fs/cgroup/memory/skiff/3f2a/memory.limit_in_bytes:
//! device or resource busy`.

use anyhow::{anyhow, Result};
use std::io::{ErrorKind, Write};
use std::path::Path;

fn text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => {
            let desc = nix::errno::Errno::from_raw(n).desc();
            let mut c = desc.chars();
            match c.next() {
                Some(f) => f.to_lowercase().chain(c).collect(),
                None => format!("errno {n}"),
            }
        }
        None => e.to_string(),
    }
}

/// Write `value` to `dir/file` in one `write`, as cgroupfs wants it.
pub fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    let path = dir.join(file);
    let r = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .and_then(|mut f| f.write_all(value.as_bytes()));
    r.map_err(|e| anyhow!("write {value} to {}: {}", path.display(), text(&e)))
}

/// The contents of `dir/file`, trimmed.
pub fn read(dir: &Path, file: &str) -> Result<String> {
    let path = dir.join(file);
    std::fs::read_to_string(&path)
        .map(|s| s.trim().to_string())
        .map_err(|e| anyhow!("read {}: {}", path.display(), text(&e)))
}

/// The number after `key` in a flat-keyed file (`memory.events`,
/// `memory.oom_control`): `oom_kill 1`.
pub fn keyed(contents: &str, key: &str) -> Option<u64> {
    contents.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// Make `dir` (its parent must exist); true when it was made now.
pub fn mkdir(dir: &Path) -> Result<bool> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(anyhow!("create cgroup {}: {}", dir.display(), text(&e))),
    }
}

/// Remove the cgroup `dir`; Ok when it is not there. A cgroup whose last
/// process has just been killed may be busy for a moment (the kernel
/// unlinks exiting tasks asynchronously): retried for up to a second.
pub fn rmdir(dir: &Path) -> Result<()> {
    let mut wait = std::time::Duration::from_micros(200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                if std::time::Instant::now() >= deadline {
                    return Err(anyhow!("remove cgroup {}: {}", dir.display(), text(&e)));
                }
                std::thread::sleep(wait);
                wait = (wait * 2).min(std::time::Duration::from_millis(50));
            }
            Err(e) => return Err(anyhow!("remove cgroup {}: {}", dir.display(), text(&e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_keyed_files() {
        let events = "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(keyed(events, "oom_kill"), Some(1));
        assert_eq!(keyed(events, "oom"), Some(1));
        assert_eq!(keyed("oom_kill_disable 0\nunder_oom 0\n", "oom_kill"), None);
    }

    #[test]
    fn writes_name_the_file_and_the_value() {
        let d = tempfile::tempdir().unwrap();
        let e = write(d.path(), "memory.max", "64").unwrap_err().to_string();
        assert!(e.starts_with("write 64 to "), "{e}");
        assert!(e.ends_with("memory.max: no such file or directory"), "{e}");
        std::fs::write(d.path().join("pids.max"), "max\n").unwrap();
        write(d.path(), "pids.max", "9").unwrap();
        assert_eq!(read(d.path(), "pids.max").unwrap(), "9");
    }
}
