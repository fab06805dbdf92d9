//! Quorum: no single person can use the HSM. Its PINs are random, split among custodians
//! with Shamir's scheme (any M of N rebuild a PIN), and rebuilt only at a ceremony.
//!
//! - `share` / `bech32` / `qr`: the typable, checksummed share format and its QR code.
//! - `pin`: new PINs from the OS generator XOR the token's, within the token's length limits.
//! - `split`: Shamir over GF(256) (vsss-rs) with a secret check value against wrong shares.
//! - `commitment` / `record`: salted commitments and the public provisioning record.
//! - `script` / `current_pins`: the strict TOML provisioning script; an adopted token's PINs.
//! - `audit_key`: the ECDSA P-256 ceremony audit key generated inside the token.
//! - `issue` / `outputs` / `share_file`: splitting, checking and handing out shares, one
//!   file per custodian, never overwriting.
//! - `provision` / `resplit`: the two flows behind `byok-ceremony provision`.
//! - `login`: collect shares one by one, check each at once, log in, wipe.
//! - `events`: what each step reports to the audit log (nothing secret).
#![forbid(unsafe_code)]

pub mod audit_key;
pub mod bech32;
pub mod commitment;
pub mod current_pins;
pub mod events;
pub mod issue;
pub mod login;
pub mod outputs;
pub mod pin;
pub mod provision;
pub mod qr;
pub mod record;
pub mod resplit;
pub mod script;
pub mod share;
pub mod share_file;
pub mod split;

pub use login::{LoginError, LoginPolicy, QuorumLogin};
pub use pin::PinSecret;
pub use record::ProvisioningRecord;
pub use share::{PinGroup, Share, ShareText, SplitId};
