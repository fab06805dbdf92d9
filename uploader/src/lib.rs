//! byok-upload: the online half of byok-ceremony. It fetches the Key Vault KEK for the station
//! and imports the ceremony's `.byok` file into Key Vault or Managed HSM, proving afterwards
//! that Azure holds the key the ceremony made. This is the only crate of the workspace that
//! links network code; the air-gapped station (`byok-ceremony`) never depends on it.
#![forbid(unsafe_code)]

pub mod client_certificate;
pub mod credential;
pub mod expect;
pub mod fetch_kek;
pub mod import;
pub mod kek_check;
pub mod preflight;
pub mod public_key;
pub mod retry;
pub mod service;
pub mod vault_url;
