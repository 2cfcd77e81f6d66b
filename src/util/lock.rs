//! Advisory file locks (flock). A lock is released when its guard drops or
//! when the process dies, so a `kill -9` never leaves a lock held.

use anyhow::{Context, Result};
use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// A held lock; dropping it releases the lock.
pub struct LockGuard {
    _lock: Flock<File>,
    path: PathBuf,
}

impl LockGuard {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn open(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .with_context(|| format!("open lock file {}", path.display()))
}

/// Take an exclusive lock on `path` (created if missing), waiting for it.
pub fn lock_exclusive(path: &Path) -> Result<LockGuard> {
    take(path, FlockArg::LockExclusive)
}

/// Take a shared lock on `path`, waiting for it.
pub fn lock_shared(path: &Path) -> Result<LockGuard> {
    take(path, FlockArg::LockShared)
}

/// Try to take an exclusive lock without waiting; `None` when another holds it.
pub fn try_lock_exclusive(path: &Path) -> Result<Option<LockGuard>> {
    let f = open(path)?;
    match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
        Ok(l) => Ok(Some(LockGuard {
            _lock: l,
            path: path.to_path_buf(),
        })),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(e).with_context(|| format!("lock {}", path.display())),
    }
}

fn take(path: &Path, arg: FlockArg) -> Result<LockGuard> {
    let f = open(path)?;
    loop {
        match Flock::lock(f.try_clone()?, arg) {
            Ok(l) => {
                return Ok(LockGuard {
                    _lock: l,
                    path: path.to_path_buf(),
                })
            }
            Err((_, nix::errno::Errno::EINTR)) => continue,
            Err((_, e)) => return Err(e).with_context(|| format!("lock {}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_excludes() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("l.lock");
        let g = lock_exclusive(&p).unwrap();
        assert!(try_lock_exclusive(&p).unwrap().is_none());
        drop(g);
        assert!(try_lock_exclusive(&p).unwrap().is_some());
    }
}
