//! Writing ceremony outputs to disk and removable media.
pub mod atomic;
pub mod discover;
pub mod input;
