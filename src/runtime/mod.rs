pub mod defaults;
pub mod opts;
