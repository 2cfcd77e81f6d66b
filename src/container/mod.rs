//! Containers as the user sees them: made from an image and flags,
//! started in the foreground or under a monitor, their state kept true
//! against the processes that really run. Between the commands and the
//! image, runtime and store modules.

pub mod create;

pub use create::{create, Created, PullSettings};
pub mod changes;
mod changes_vfs;
pub mod commit;
pub mod copy;
pub mod fs;
pub mod mounts;
pub mod networks;
pub mod ops;
pub mod rootfs;
pub mod shares;
pub mod start;
pub mod state;
pub mod tarfs;
pub mod update;
pub mod userns;
pub mod volumes_from;
