//! The Azure BYOK side of things: the KEK, the `.byok` file format and its software verification.
#![forbid(unsafe_code)]

pub mod curve;
pub mod fingerprint;
pub mod format;
pub mod kek;
pub mod oids;
pub mod simulated_kek;
mod strict_json;
pub mod verify;
