//! Images: pull and push (registry <-> store), layer unpacking, save/load.

pub mod unpack;
mod unpack_tree;
pub mod whiteout;
