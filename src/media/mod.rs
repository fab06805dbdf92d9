//! Writing ceremony outputs to disk and removable media.
#![forbid(unsafe_code)]

pub mod atomic;
pub mod discover;
pub mod input;
