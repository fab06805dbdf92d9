//! Is the key Key Vault returned a usable BYOK KEK? RSA-HSM, key_ops exactly ["import"],
//! enabled, not exportable, versioned kid; and, through byok-ceremony's own loader, an allowed
//! size with exponent 65537. The same check serves `fetch-kek` and `import`.
use azure_security_keyvault_keys::models::{Key, KeyType};
use byok_ceremony::byok::kek::Kek;

/// Why a key is not a usable KEK.
#[derive(Debug, thiserror::Error)]
pub enum KekCheckError {
    #[error(
        "Key Vault returned the KEK without its public key: check it with `az keyvault key show`"
    )]
    NoKey,
    #[error(
        "the KEK is {0}, not RSA-HSM: a BYOK KEK must be HSM-protected; create one with `az keyvault key create --kty RSA-HSM --size 3072 --ops import` in a Premium vault or a Managed HSM"
    )]
    NotRsaHsm(String),
    #[error(
        "the KEK's key_ops are {0:?}, not exactly [\"import\"]: a BYOK KEK must be import-only; create a new one with `az keyvault key create --kty RSA-HSM --ops import`"
    )]
    NotImportOnly(Vec<String>),
    #[error(
        "the KEK is disabled: enable it (`az keyvault key set-attributes --enabled true`) or use another KEK"
    )]
    Disabled,
    #[error(
        "the KEK is exportable; a BYOK KEK must never leave the HSM: create a new, non-exportable KEK"
    )]
    Exportable,
    #[error("the KEK's kid {kid:?} is not a versioned key identifier: {reason}")]
    BadKid { kid: String, reason: String },
    #[error("could not encode the KEK as JSON: {0}; report this as a bug")]
    Encode(String),
    #[error("the KEK is not usable: {0}")]
    Kek(#[from] byok_ceremony::byok::kek::KekError),
}

/// A KEK that passed every check, with its `key show`-style JSON.
#[derive(Debug)]
pub struct CheckedKek {
    pub kek: Kek,
    pub kid: String,
    /// Pretty JSON of the REST key bundle, accepted by `Kek::load` (the station's loader).
    pub json: String,
}

/// The key type as Azure spells it ("RSA-HSM", "EC", ...).
pub fn kty_name(kty: &KeyType) -> String {
    match serde_json::to_value(kty) {
        Ok(serde_json::Value::String(name)) => name,
        _ => format!("{kty:?}"),
    }
}

/// Checks the key bundle returned by Get Key.
pub fn check_kek(key: &Key) -> Result<CheckedKek, KekCheckError> {
    let jwk = key.key.as_ref().ok_or(KekCheckError::NoKey)?;
    match &jwk.kty {
        Some(KeyType::RsaHsm) => {}
        other => {
            return Err(KekCheckError::NotRsaHsm(match other {
                Some(kty) => kty_name(kty),
                None => "of no key type".to_owned(),
            }));
        }
    }
    let ops = jwk.key_ops.clone().unwrap_or_default();
    if ops != ["import"] {
        return Err(KekCheckError::NotImportOnly(ops));
    }
    if let Some(attributes) = &key.attributes {
        if attributes.enabled == Some(false) {
            return Err(KekCheckError::Disabled);
        }
        if attributes.exportable == Some(true) {
            return Err(KekCheckError::Exportable);
        }
    }
    let kid = jwk.kid.clone().unwrap_or_default();
    byok_ceremony::byok::kek::Kid::parse(&kid).map_err(|e| KekCheckError::BadKid {
        kid: kid.clone(),
        reason: e.to_string(),
    })?;
    let mut json =
        serde_json::to_string_pretty(key).map_err(|e| KekCheckError::Encode(e.to_string()))?;
    json.push('\n');
    // The station reads this file: prove here that it accepts it.
    let kek = Kek::from_bytes(json.as_bytes())?;
    Ok(CheckedKek { kek, kid, json })
}
