//! byok-ceremony: an air-gapped key ceremony for Azure Key Vault BYOK.
//!
//! `byok` knows the Azure side (KEK, file format, software verification), `hsm` drives any
//! PKCS#11 HSM, `media` writes outputs safely, `rehearse` runs a whole ceremony on a throwaway
//! software token, and `cli` holds the command implementations behind `main.rs`.
pub mod audit;
pub mod byok;
pub mod ceremony;
pub mod cli;
pub mod hsm;
pub mod manifest;
pub mod media;
pub mod quorum;
pub mod rehearse;
pub mod strict_toml;
pub mod tui;
