//! AWS KMS: fetch the wrapping public key and import token for a key created with Origin
//! EXTERNAL, and import the ceremony's key material into it (aws-sdk-kms, aws-config).
pub mod client;
pub mod combos;
pub mod fetch_kek;
pub mod import;
pub mod key;
pub mod parameters;
