//! The built-in OCI runtime: spec building, create/start/kill/delete, the
//! child process, init, exec, the monitor.

pub mod create;
pub mod defaults;
pub mod opts;
pub mod seccomp_default;
pub mod seccomp_profile;
pub mod spec;
pub mod spec_mounts;
pub mod user;
