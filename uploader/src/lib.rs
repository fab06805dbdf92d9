//! byok-upload: the online half of byok-ceremony. It fetches the wrapping key (KEK) for the
//! station and imports the ceremony's wrapped key, proving afterwards that the cloud holds the
//! key the ceremony made: Azure Key Vault and Managed HSM (the top-level modules), Google Cloud
//! KMS ([`gcp`]) and AWS KMS ([`aws`]). This is the only crate of the workspace that
//! links network code; the air-gapped station (`byok-ceremony`) never depends on it.
#![forbid(unsafe_code)]

pub mod attempts;
pub mod aws;
pub mod ceremony_output;
pub mod client_certificate;
pub mod clock;
pub mod credential;
pub mod expect;
pub mod fetch_kek;
pub mod gcp;
pub mod import;
pub mod kek_check;
pub mod preflight;
pub mod public_key;
pub mod read_aloud;
pub mod retry;
pub mod service;
pub mod vault_url;
pub mod write_set;
