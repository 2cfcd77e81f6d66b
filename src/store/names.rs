//! Name hints: `container-names/<name>`, a symlink whose target is the id
//! of the container holding that name, so that finding a container by name
//! reads one record instead of every one (`inspect`, `exec`, `logs` and the
//! rest name containers far more often than they are made).
//!
//! A hint is never trusted: the record it leads to must carry the name, or
//! the lookup scans every record as it would without hints. So a hint may
//! be missing (a store made before hints, a crash between writing a record
//! and its hint) or stale (a crash before removing it) without harm, and
//! failing to write one fails nothing.

use super::containers::valid_container_name;
use super::Store;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::PathBuf;

impl Store {
    fn names_dir(&self) -> PathBuf {
        self.root().join("container-names")
    }

    /// The id the hint for `name` leads to, if there is one.
    pub(super) fn name_hint(&self, name: &str) -> Option<String> {
        if !valid_container_name(name) {
            return None;
        }
        let target = fs::read_link(self.names_dir().join(name)).ok()?;
        // Only an id leads anywhere: never a path out of `containers/`.
        target
            .to_str()
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(str::to_string)
    }

    /// Point the hint for `name` at container `id`, replacing whatever it
    /// said. A new link renamed over the old one, so a reader sees the old
    /// hint or the new one, never none.
    pub(super) fn set_name_hint(&self, name: &str, id: &str) {
        if !valid_container_name(name) {
            return;
        }
        let dir = self.names_dir();
        // Valid names never start with a dot, so the temp name is nobody's.
        let tmp = dir.join(format!(".{name}.{}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        let linked = match symlink(id, &tmp) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                crate::util::fs::mkdir_all(&dir, 0o700).is_ok() && symlink(id, &tmp).is_ok()
            }
            r => r.is_ok(),
        };
        if linked && fs::rename(&tmp, dir.join(name)).is_err() {
            let _ = fs::remove_file(&tmp);
        }
    }

    /// Remove the hint for `name` if it leads to container `id` (another
    /// container may hold the name by now).
    pub(super) fn drop_name_hint(&self, name: &str, id: &str) {
        if self.name_hint(name).as_deref() == Some(id) {
            let _ = fs::remove_file(self.names_dir().join(name));
        }
    }
}
