//! (parser: being written)
