pub mod defaults;
pub mod opts;
pub mod seccomp_default;
pub mod seccomp_profile;
pub mod user;
