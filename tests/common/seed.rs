//! The registry storage the test registries share, seeded once per test
//! process by writing the distribution registry's filesystem layout
//! directly:
//!
//! ```text
//! docker/registry/v2/blobs/sha256/<2 hex>/<hex>/data
//! docker/registry/v2/repositories/<repo>/_layers/sha256/<hex>/link
//! docker/registry/v2/repositories/<repo>/_manifests/revisions/sha256/<hex>/link
//! docker/registry/v2/repositories/<repo>/_manifests/tags/<tag>/current/link
//! docker/registry/v2/repositories/<repo>/_manifests/tags/<tag>/index/sha256/<hex>/link
//! ```
//!
//! Writing files rather than pushing is faster, and it is the only way to
//! get a real registry to serve bytes under a digest they do not hash to
//! (the API verifies every upload); the registry does not re-verify what
//! it reads back.

use super::oci::{Blob, Content};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The seeded storage directory (registry `rootdirectory`).
pub fn storage() -> &'static Path {
    static S: OnceLock<PathBuf> = OnceLock::new();
    S.get_or_init(|| {
        let dir = super::work_dir().join("registry-storage");
        let _ = std::fs::remove_dir_all(&dir);
        for (repo, tag, content) in super::fixtures().catalog() {
            put(&dir, &repo, tag, &content);
        }
        dir
    })
}

fn v2(root: &Path) -> PathBuf {
    root.join("docker/registry/v2")
}

fn write(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).expect("create registry storage dirs");
    std::fs::write(path, data).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn put_blob(root: &Path, b: &Blob) {
    let hex = b.hex();
    let p = v2(root).join(format!("blobs/sha256/{}/{hex}/data", &hex[..2]));
    if !p.exists() {
        write(&p, &b.data);
    }
}

/// Store `content` in `root` as `repo:tag`.
pub fn put(root: &Path, repo: &str, tag: &str, content: &Content) {
    let r = v2(root).join("repositories").join(repo);
    for b in &content.blobs {
        put_blob(root, b);
        write(
            &r.join(format!("_layers/sha256/{}/link", b.hex())),
            b.digest.as_bytes(),
        );
    }
    for m in &content.manifests {
        put_blob(root, m);
        write(
            &r.join(format!("_manifests/revisions/sha256/{}/link", m.hex())),
            m.digest.as_bytes(),
        );
    }
    let top = content.top();
    let t = r.join("_manifests/tags").join(tag);
    write(&t.join("current/link"), top.digest.as_bytes());
    write(
        &t.join(format!("index/sha256/{}/link", top.hex())),
        top.digest.as_bytes(),
    );
}
