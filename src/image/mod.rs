//! Images: pull and push (registry <-> store), layer unpacking, image
//! configs, save/load and import.

pub mod change;
pub mod commit;
pub mod config;
pub mod import;
pub mod layer;
pub mod load;
pub mod lookup;
pub mod progress;
pub mod pull;
pub mod push;
pub mod remote;
pub mod save;
pub mod unpack;
mod unpack_tree;
pub mod whiteout;
