//! The HSM layer: everything that talks PKCS#11.
//!
//! `module` loads a PKCS#11 library and picks a token, `target` makes the key to export,
//! `kat` proves what a token's RFC 5649 mechanism really does, `wrap` produces the BYOK
//! ciphertext inside the HSM, and `throwaway` creates disposable software tokens for
//! rehearsals and tests. `ffi` is the only module allowed `unsafe`. What this layer finds
//! and records (token identity, key attributes, wrap method, test results) is plain data in
//! `hsm_types`, which the pure core and the auditor's tools use without this layer.
//!
//! Every submodule but `ffi` forbids `unsafe` itself; this file cannot (ffi is its child), so
//! it holds no `unsafe` code, which tests/architecture.rs checks.
pub mod ffi;
pub mod kat;
pub mod mechanisms;
pub mod module;
pub mod oaep;
pub mod objects;
pub mod signer;
pub mod target;
pub mod throwaway;
pub mod trusted_kek;
pub mod wrap;
pub mod wrap_kat;

pub use module::{Hsm, HsmSession};

/// Errors from the HSM layer. Each message says what failed and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum HsmError {
    #[error(
        "could not load the PKCS#11 module {path}: {source}; check the path and that the HSM's client software is installed"
    )]
    Load {
        path: String,
        source: cryptoki::error::Error,
    },
    #[error("the HSM refused to {action}: {source}")]
    Pkcs11 {
        action: &'static str,
        source: cryptoki::error::Error,
    },
    #[error("the HSM refused to {action}: {source}")]
    Raw {
        action: &'static str,
        source: ffi::FfiError,
    },
    #[error(
        "no token matches {selector}; check the label or serial with `pkcs11-tool --module MODULE -L`"
    )]
    NoToken { selector: String },
    #[error("{count} tokens match {selector}; select one by serial or by a PKCS#11 URI")]
    AmbiguousToken { selector: String, count: usize },
    #[error(
        "an object labelled \"{0}\" already exists on the token; choose another label (a ceremony never reuses a key label)"
    )]
    LabelExists(String),
    #[error("the token does not offer {0}; this key type cannot be made on this HSM")]
    MechanismMissing(&'static str),
    #[error("the HSM returned a malformed {what}: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error(
        "the token cannot wrap for BYOK: it has neither CKM_RSA_AES_KEY_WRAP nor an RFC 5649 mechanism (0x210B, or 0x210A that passes the known-answer test); use an HSM that does"
    )]
    NoWrapMechanism,
    #[error(
        "no wrap path of this token passed its known-answer test for OAEP {oaep}: {}; the output would be wrong, so nothing is wrapped: use a token whose wrap passes for {oaep} (for SHA-256, kryoptic's two-step wrap does)",
        tried.join("; ")
    )]
    NoWrapPath {
        oaep: crate::hsm_types::wrap::OaepHash,
        tried: Vec<String>,
    },
    #[error(
        "the token's RFC 5649 wrap zero-pads the key before wrapping (known-answer test), so the .byok would carry trailing zero bytes Azure may reject; this is allowed only for rehearsals, or when the ceremony script sets allow_zero_padding"
    )]
    ZeroPaddingRefused,
    #[error(
        "the wrapped AES key is {got} bytes but the KEK modulus is {expected} bytes; the HSM's RSA-OAEP output is wrong"
    )]
    WrappedKeyLength { got: usize, expected: usize },
    #[error(
        "could not prepare the throwaway token in {path}: {source}; check that the directory is writable"
    )]
    TokenDir {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Unsupported(String),
}

impl HsmError {
    pub(crate) fn p11(action: &'static str) -> impl FnOnce(cryptoki::error::Error) -> HsmError {
        move |source| HsmError::Pkcs11 { action, source }
    }
    pub(crate) fn raw(action: &'static str) -> impl FnOnce(ffi::FfiError) -> HsmError {
        move |source| HsmError::Raw { action, source }
    }
}
