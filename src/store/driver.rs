//! The storage driver: how a container's root file system is made from
//! its image's layers. Chosen once per store, by a probe the first time a
//! container is made, and remembered in `ROOT/storage.json`; a flag, the
//! environment or the configuration file may force another (Podman's
//! `--storage-driver`/`STORAGE_DRIVER`, Docker's `storage-driver`). Each
//! container records the driver it was made with (in its bundle), so a
//! store may hold containers of several.

use super::Store;
use crate::util::fs::atomic_write;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// Podman's names for its drivers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Driver {
    /// The kernel's overlayfs (in a user namespace: Linux 5.11 and later).
    #[default]
    #[serde(rename = "overlay")]
    Overlay,
    /// overlayfs in user space (`fuse-overlayfs`, through `/dev/fuse`).
    #[serde(rename = "fuse-overlayfs")]
    FuseOverlayfs,
    /// No union at all: the container's root is a whole copy of its
    /// image's layers. Works anywhere; slow to make, and as big as the
    /// image for every container.
    #[serde(rename = "vfs")]
    Vfs,
}

impl Driver {
    pub const ALL: [Driver; 3] = [Driver::Overlay, Driver::FuseOverlayfs, Driver::Vfs];

    pub fn name(self) -> &'static str {
        match self {
            Driver::Overlay => "overlay",
            Driver::FuseOverlayfs => "fuse-overlayfs",
            Driver::Vfs => "vfs",
        }
    }

    /// A driver by its name (Docker's `overlay2` is the kernel's overlay).
    pub fn parse(s: &str) -> Result<Driver> {
        match s {
            "overlay" | "overlay2" => Ok(Driver::Overlay),
            "fuse-overlayfs" => Ok(Driver::FuseOverlayfs),
            "vfs" => Ok(Driver::Vfs),
            other => crate::bail_kind!(
                InvalidArgument,
                "unknown storage driver {other:?} (overlay, fuse-overlayfs or vfs)"
            ),
        }
    }

    pub fn is_default(&self) -> bool {
        *self == Driver::Overlay
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct StorageFile {
    driver: Driver,
}

impl Store {
    fn storage_file(&self) -> std::path::PathBuf {
        self.root().join("storage.json")
    }

    /// The driver the store's probe chose, if it has run.
    pub fn remembered_driver(&self) -> Result<Option<Driver>> {
        let p = self.storage_file();
        match std::fs::read(&p) {
            Ok(b) => Ok(Some(
                serde_json::from_slice::<StorageFile>(&b)
                    .with_context(|| format!("parse {}", p.display()))?
                    .driver,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("read {}", p.display())),
        }
    }

    /// The store's driver: the remembered one, or `probe`'s answer, then
    /// remembered (under a lock, so two first commands agree).
    pub fn driver_or_probe(&self, probe: impl FnOnce() -> Result<Driver>) -> Result<Driver> {
        if let Some(d) = self.remembered_driver()? {
            return Ok(d);
        }
        let _g = crate::util::lock::lock_exclusive(&self.root().join("locks/storage.lock"))?;
        if let Some(d) = self.remembered_driver()? {
            return Ok(d);
        }
        let d = probe()?;
        atomic_write(
            &self.storage_file(),
            &serde_json::to_vec(&StorageFile { driver: d })?,
        )?;
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for d in Driver::ALL {
            assert_eq!(Driver::parse(d.name()).unwrap(), d);
            assert_eq!(
                serde_json::to_string(&d).unwrap(),
                format!("\"{}\"", d.name())
            );
        }
        assert_eq!(Driver::parse("overlay2").unwrap(), Driver::Overlay);
        assert!(Driver::parse("zfs").is_err());
    }

    #[test]
    fn the_probe_runs_once() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        assert_eq!(s.remembered_driver().unwrap(), None);
        assert_eq!(s.driver_or_probe(|| Ok(Driver::Vfs)).unwrap(), Driver::Vfs);
        let again = s.driver_or_probe(|| panic!("probed twice")).unwrap();
        assert_eq!(again, Driver::Vfs);
    }
}
