//! Names for work in progress (`ingest/` files, `tmp/` dirs) and the
//! cleanup of what dead writers left behind.
//!
//! A name is `<pid>-<start time>-<n>[-<tag>]`: the pid says who is writing,
//! the start time (field 22 of `/proc/<pid>/stat`) tells that writer apart
//! from a later process that got the same pid, so a `kill -9` mid-pull is
//! cleaned up by the next command even after pid reuse, and a live writer's
//! files are never touched.

use anyhow::{Context, Result};
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::util::fs::{pid_alive, pid_in_name};

static COUNTER: AtomicU64 = AtomicU64::new(0);

pub(crate) use crate::util::fs::proc_start_time;

fn own_start_time() -> u64 {
    static START: OnceLock<u64> = OnceLock::new();
    *START.get_or_init(|| proc_start_time(std::process::id()).unwrap_or(0))
}

/// A fresh name for a temp file or dir owned by this process.
pub(crate) fn scratch_name(tag: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let base = format!("{}-{}-{}", std::process::id(), own_start_time(), n);
    if tag.is_empty() {
        base
    } else {
        format!("{base}-{tag}")
    }
}

/// Is the writer that made this scratch name still running? Names that do
/// not parse count as alive: they are not ours to delete.
pub(crate) fn scratch_owner_alive(name: &str) -> bool {
    let mut parts = name.split('-');
    let Some(pid) = parts.next().and_then(|p| p.parse::<u32>().ok()) else {
        return true;
    };
    if !pid_alive(pid) {
        return false;
    }
    match (
        parts.next().and_then(|s| s.parse::<u64>().ok()),
        proc_start_time(pid),
    ) {
        (Some(recorded), Some(actual)) => recorded == actual,
        _ => true,
    }
}

/// Is this a `util::fs::tmp_sibling` name (`.tmp-<pid>-...`) of a dead process?
pub(crate) fn is_dead_tmp_sibling(name: &str) -> bool {
    pid_in_name(name, ".tmp-").is_some_and(|pid| !pid_alive(pid))
}

/// Remove every entry of `dir` whose scratch name belongs to a dead writer.
/// Returns how many were removed.
pub(crate) fn clean_dead_scratch(dir: &Path) -> Result<usize> {
    let mut removed = 0;
    for name in list_names(dir)? {
        if !scratch_owner_alive(&name) {
            remove_tree(&dir.join(&name))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Remove `.tmp-<pid>-*` files of dead processes from `dir` (the leftovers
/// of an `atomic_write` killed between create and rename).
pub(crate) fn clean_dead_tmp_siblings(dir: &Path) -> Result<usize> {
    let mut removed = 0;
    for name in list_names(dir)? {
        if is_dead_tmp_sibling(&name) {
            remove_tree(&dir.join(&name))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The entry names of a directory; an absent directory has none.
pub(crate) fn list_names(dir: &Path) -> Result<Vec<String>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("read directory {}", dir.display())),
    };
    let mut names = Vec::new();
    for ent in rd {
        let ent = ent.with_context(|| format!("read directory {}", dir.display()))?;
        names.push(ent.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// Remove a file or a whole tree, never following symlinks. An unpacked
/// layer may hold directories without write permission (mode 0555 is common
/// in images); root ignores that, a rootless user does not, so on failure
/// the tree is made writable and the removal retried.
pub fn remove_tree(path: &Path) -> Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("stat {}", path.display())),
    };
    if !meta.is_dir() {
        return fs::remove_file(path).with_context(|| format!("remove {}", path.display()));
    }
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(first) => {
            make_dirs_writable(path);
            fs::remove_dir_all(path)
                .with_context(|| format!("remove {} (first try: {first})", path.display()))
        }
    }
}

fn make_dirs_writable(dir: &Path) {
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    let Ok(rd) = fs::read_dir(dir) else { return };
    let subdirs: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .map(|e| e.path())
        .collect();
    for sub in subdirs {
        make_dirs_writable(&sub);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_names_are_alive_and_dead_pids_are_not() {
        let n = scratch_name("x");
        assert!(n.ends_with("-x"));
        assert!(scratch_owner_alive(&n));
        assert!(!scratch_owner_alive("999999-1-0"));
        // Our pid with a start time that is not ours: a reused pid.
        let reused = format!("{}-1-0", std::process::id());
        assert!(!scratch_owner_alive(&reused));
        assert!(scratch_owner_alive("not-a-scratch-name"));
        assert!(is_dead_tmp_sibling(".tmp-999999-0-index.json"));
        assert!(!is_dead_tmp_sibling(&format!(
            ".tmp-{}-0-index.json",
            std::process::id()
        )));
    }

    #[test]
    fn remove_tree_handles_read_only_dirs() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("t");
        fs::create_dir_all(t.join("a/b")).unwrap();
        fs::write(t.join("a/b/f"), b"x").unwrap();
        fs::set_permissions(t.join("a"), fs::Permissions::from_mode(0o555)).unwrap();
        remove_tree(&t).unwrap();
        assert!(!t.exists());
        remove_tree(&t).unwrap();
    }
}
