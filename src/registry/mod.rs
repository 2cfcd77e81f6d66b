//! The registry side: references, the Distribution API client, auth, TLS,
//! manifests and platform selection. It knows nothing of the store.

pub mod platform;
