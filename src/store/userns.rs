//! The id ranges of `--userns=auto` containers: each gets a range of uids
//! and one of gids that no other `auto` container of the store holds,
//! recorded in `ROOT/userns-auto.json` (under `locks/userns.lock`) for as
//! long as the container exists. A range whose container is gone is free
//! again at the next allocation.

use super::Store;
use crate::util::fs::atomic_write;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One container's ranges: `size` ids from `uid` and from `gid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoRange {
    pub uid: u32,
    pub gid: u32,
    pub size: u32,
}

/// The lowest start of `size` ids inside one of `pool`'s ranges (start,
/// count) that overlaps none of `taken` (start, count).
pub fn free_range(pool: &[(u32, u32)], taken: &[(u32, u32)], size: u32) -> Option<u32> {
    let end = |s: u32, n: u32| s as u64 + n as u64;
    let mut taken: Vec<(u32, u32)> = taken.to_vec();
    taken.sort();
    for &(start, count) in pool {
        let mut at = start as u64;
        let limit = end(start, count);
        for &(ts, tn) in &taken {
            if end(ts, tn) <= at {
                continue;
            }
            if at + size as u64 <= ts as u64 {
                break;
            }
            at = at.max(end(ts, tn));
        }
        if at + size as u64 <= limit {
            return Some(at as u32);
        }
    }
    None
}

impl Store {
    fn auto_file(&self) -> std::path::PathBuf {
        self.root().join("userns-auto.json")
    }

    fn read_auto(&self) -> Result<BTreeMap<String, AutoRange>> {
        let p = self.auto_file();
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).with_context(|| format!("parse {}", p.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(e).with_context(|| format!("read {}", p.display())),
        }
    }

    /// Give container `id` (whose record exists) `size` uids from
    /// `uid_pool` and `size` gids from `gid_pool` that no other container
    /// holds; the same ones again if it has them already.
    pub fn allocate_auto_userns(
        &self,
        id: &str,
        size: u32,
        uid_pool: &[(u32, u32)],
        gid_pool: &[(u32, u32)],
    ) -> Result<AutoRange> {
        let _g = crate::util::lock::lock_exclusive(&self.root().join("locks/userns.lock"))?;
        let mut all = self.read_auto()?;
        // Containers removed since: their ranges are free.
        all.retain(|cid, _| cid == id || self.container_dir(cid).join("container.json").exists());
        if let Some(r) = all.get(id).filter(|r| r.size == size) {
            return Ok(*r);
        }
        all.remove(id);
        let taken_u: Vec<(u32, u32)> = all.values().map(|r| (r.uid, r.size)).collect();
        let taken_g: Vec<(u32, u32)> = all.values().map(|r| (r.gid, r.size)).collect();
        let none = |what: &str| {
            crate::error::kind_err(
                crate::error::ErrorKind::InvalidArgument,
                format!(
                    "--userns=auto: no free range of {size} {what} left (other auto containers hold the rest)"
                ),
            )
        };
        let uid = free_range(uid_pool, &taken_u, size).ok_or_else(|| none("uids"))?;
        let gid = free_range(gid_pool, &taken_g, size).ok_or_else(|| none("gids"))?;
        let r = AutoRange { uid, gid, size };
        all.insert(id.to_string(), r);
        atomic_write(&self.auto_file(), &serde_json::to_vec(&all)?)?;
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ranges_never_overlap() {
        let pool = [(1000, 100), (5000, 1000)];
        assert_eq!(free_range(&pool, &[], 50), Some(1000));
        assert_eq!(free_range(&pool, &[(1000, 50)], 50), Some(1050));
        assert_eq!(free_range(&pool, &[(1000, 50)], 60), Some(5000));
        assert_eq!(free_range(&pool, &[(1020, 10)], 20), Some(1000));
        assert_eq!(free_range(&pool, &[(1010, 10)], 20), Some(1020));
        assert_eq!(free_range(&pool, &[(5000, 1000), (1000, 100)], 1), None);
        assert_eq!(
            free_range(&[(u32::MAX - 9, 10)], &[], 10),
            Some(u32::MAX - 9)
        );
    }

    #[test]
    fn auto_ranges_are_kept_and_freed_with_their_containers() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        for id in ["a", "b"] {
            std::fs::create_dir_all(s.container_dir(id)).unwrap();
            std::fs::write(s.container_dir(id).join("container.json"), "{}").unwrap();
        }
        let pool = [(100000, 10000)];
        let a = s.allocate_auto_userns("a", 1024, &pool, &pool).unwrap();
        let b = s.allocate_auto_userns("b", 1024, &pool, &pool).unwrap();
        assert_eq!((a.uid, b.uid), (100000, 101024));
        assert_eq!(s.allocate_auto_userns("a", 1024, &pool, &pool).unwrap(), a);
        std::fs::remove_dir_all(s.container_dir("a")).unwrap();
        std::fs::create_dir_all(s.container_dir("c")).unwrap();
        std::fs::write(s.container_dir("c").join("container.json"), "{}").unwrap();
        let c = s.allocate_auto_userns("c", 1024, &pool, &pool).unwrap();
        assert_eq!(c.uid, 100000, "a's range is free again");
    }
}
