//! Small helpers every module may use: crash-safe file writes, file locks,
//! human-readable sizes and durations.

pub mod fs;
pub mod glob;
pub mod human;
pub mod ids;
pub mod idshift;
pub mod labels;
pub mod lock;
pub mod timespec;
