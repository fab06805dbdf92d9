//! Google Cloud KMS: create or read an HSM import job and fetch its wrapping key, and import
//! the ceremony's wrapped key as a new key version (google-cloud-kms-v1).
pub mod client;
pub mod fetch_kek;
pub mod import;
pub mod job;
pub mod methods;
