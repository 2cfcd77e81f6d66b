//! Named volumes: `volumes/<name>/_data` holds the data, `volume.json`
//! the record. Creation is idempotent, as Docker's is.

use super::Store;
use crate::error::{kind_err, ErrorKind};
use crate::util::fs::{atomic_write, mkdir_all};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

/// A volume as `volume inspect` shows it (Docker's field names).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeRecord {
    pub name: String,
    pub driver: String,
    pub mountpoint: String,
    pub created_at: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    pub scope: String,
    /// Made for an image `VOLUME` or `-v /path`, removed with `--rm`.
    #[serde(default)]
    pub anonymous: bool,
}

/// Docker's rule for volume names.
pub fn valid_volume_name(name: &str) -> bool {
    let mut c = name.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphanumeric())
        && name.len() >= 2
        && c.all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '-'))
}

impl Store {
    fn volumes_dir(&self) -> PathBuf {
        self.root().join("volumes")
    }

    fn volumes_lock(&self) -> Result<crate::util::lock::LockGuard> {
        crate::util::lock::lock_exclusive(&self.root().join("locks").join("volumes.lock"))
    }

    /// Where a volume's data lives.
    pub fn volume_data(&self, name: &str) -> PathBuf {
        self.volumes_dir().join(name).join("_data")
    }

    /// The volume, or None.
    pub fn volume(&self, name: &str) -> Result<Option<VolumeRecord>> {
        let p = self.volumes_dir().join(name).join("volume.json");
        match fs::read(&p) {
            Ok(b) => Ok(Some(
                serde_json::from_slice(&b).with_context(|| format!("parse {}", p.display()))?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("read {}", p.display())),
        }
    }

    /// Create a volume, or return the one of that name (idempotent, as
    /// Docker's `volume create` is). The bool says whether it was created.
    pub fn create_volume(
        &self,
        name: &str,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
        anonymous: bool,
    ) -> Result<(VolumeRecord, bool)> {
        if !valid_volume_name(name) {
            return Err(kind_err(
                ErrorKind::InvalidArgument,
                format!(
                    "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed"
                ),
            ));
        }
        let _lock = self.volumes_lock()?;
        if let Some(v) = self.volume(name)? {
            return Ok((v, false));
        }
        let dir = self.volumes_dir().join(name);
        mkdir_all(&dir.join("_data"), 0o755)?;
        let rec = VolumeRecord {
            name: name.to_string(),
            driver: "local".into(),
            mountpoint: dir.join("_data").display().to_string(),
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            labels,
            options,
            scope: "local".into(),
            anonymous,
        };
        // The record is written last: a volume without one is a leftover
        // that the next create simply completes.
        atomic_write(&dir.join("volume.json"), &serde_json::to_vec_pretty(&rec)?)?;
        Ok((rec, true))
    }

    /// Every volume, by name.
    pub fn volumes(&self) -> Result<Vec<VolumeRecord>> {
        let mut out = Vec::new();
        let rd = match fs::read_dir(self.volumes_dir()) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e).context("read the volumes directory"),
        };
        for e in rd {
            let name = e?.file_name().to_string_lossy().into_owned();
            if let Some(v) = self.volume(&name)? {
                out.push(v);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Remove a volume and its data; NotFound when there is none.
    pub fn remove_volume(&self, name: &str) -> Result<VolumeRecord> {
        let _lock = self.volumes_lock()?;
        let Some(rec) = self.volume(name)? else {
            return Err(kind_err(
                ErrorKind::NotFound,
                format!("get {name}: no such volume"),
            ));
        };
        let dir = self.volumes_dir().join(name);
        // Drop the record first: a crash mid-removal leaves no volume
        // that claims data it no longer has.
        fs::remove_file(dir.join("volume.json"))
            .with_context(|| format!("remove volume {name}"))?;
        super::remove_tree(&dir).with_context(|| format!("remove volume {name}"))?;
        Ok(rec)
    }

    /// Bytes under a volume's data directory.
    pub fn volume_size(&self, name: &str) -> u64 {
        crate::util::fs::tree_size(&self.volume_data(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_is_idempotent_and_remove_cleans() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path()).unwrap();
        let (a, made) = s
            .create_volume("data", Default::default(), Default::default(), false)
            .unwrap();
        assert!(made);
        let (b, made) = s
            .create_volume("data", Default::default(), Default::default(), false)
            .unwrap();
        assert!(!made);
        assert_eq!(a, b);
        assert!(s.volume_data("data").is_dir());
        assert_eq!(s.volumes().unwrap().len(), 1);
        s.remove_volume("data").unwrap();
        assert!(s.volumes().unwrap().is_empty());
        assert!(s.remove_volume("data").is_err());
        assert!(s
            .create_volume("../x", Default::default(), Default::default(), false)
            .is_err());
        assert!(!valid_volume_name("a"));
        assert!(valid_volume_name("my_vol.1-a"));
    }
}
