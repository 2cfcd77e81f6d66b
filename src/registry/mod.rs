//! The registry side: references, the Distribution API client, auth, TLS,
//! manifests and platform selection. It knows nothing of the store.
//!
//! Errors the client returns, by kind (see `errors.rs` for the wording):
//! `Unauthorized` for 401/403 ("unauthorized: authentication required",
//! "denied: requested access to the resource is denied", or the
//! registry's own message), `NotFound` for 404s ("manifest unknown:
//! <repo>:<ref>", "blob unknown: <repo>@<digest>", "name unknown:
//! <repo>"), `Corrupt` for content that fails verification; transport
//! failures read "ping <host>: <cause>" or "<METHOD> <url>: <cause>".

mod auth;
pub mod authfile;
mod blob;
mod challenge;
mod client;
mod errors;
pub mod manifest;
pub mod platform;
pub mod reference;
#[cfg(test)]
mod testutil;
pub mod tls;
mod transport;
mod upload;
mod url;

pub use auth::{Credentials, IDENTITY_TOKEN_USER};
pub use blob::{into_anyhow as blob_error_into_anyhow, BlobReader};
pub use client::{Client, ClientOptions, ManifestResponse, MANIFEST_MAX};
pub use manifest::{Compression, Descriptor, ImageIndex, ImageManifest, Manifest};
pub use reference::Reference;
