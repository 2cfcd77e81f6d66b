//! Images: pull and push (registry <-> store), layer unpacking, save/load.
