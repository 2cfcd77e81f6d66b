//! The built-in OCI runtime: spec building, create/start/kill/delete, the
//! child process, init, exec, the monitor.

pub mod create;
