//! The on-disk store: blobs, layers, images, under locks with atomic writes.

use anyhow::Result;
use std::path::{Path, PathBuf};

pub struct Store {
    pub root: PathBuf,
}

impl Store {
    /// Open the store at `root` only if it exists.
    pub fn open_existing(root: &Path) -> Result<Option<Store>> {
        Ok(root.join("oci-layout").exists().then(|| Store {
            root: root.to_path_buf(),
        }))
    }

    pub fn images(&self) -> Result<Vec<()>> {
        Ok(Vec::new())
    }
}
