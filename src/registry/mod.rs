//! The registry side: references, the Distribution API client, auth, TLS,
//! manifests and platform selection. It knows nothing of the store.

pub mod manifest;
pub mod platform;
pub mod reference;

pub use manifest::{Descriptor, ImageIndex, ImageManifest, Manifest};
pub use reference::Reference;
