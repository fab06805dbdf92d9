//! A Google Cloud or AWS output checked in software, with the wrapping key's private half (a
//! rehearsal's simulated KEK, or a test KEK): unwrapped with the algorithm's hash and envelope,
//! then compared with the key the HSM holds. Byte-exact: a PKCS#8 followed by anything, or an
//! AES key of another length, fails.
use zeroize::Zeroizing;

use super::{Algorithm, Envelope};
use crate::byok::verify::{
    RecoveredKey, classify_plaintext, compare_public, unwrap_ciphertext_with, unwrap_plain_oaep,
};

/// What the output must hold: the HSM's public key (RSA, EC) or AES check value.
#[derive(Debug, Clone, Copy)]
pub enum Expected<'a> {
    PublicSpkiDer(&'a [u8]),
    /// CKA_CHECK_VALUE in hex (3 bytes), when the token reports one.
    CheckValue(Option<&'a str>),
}

/// Unwraps `wrapped` as `alg` says: the key material, exactly as the cloud will see it.
pub fn unwrap(
    wrapped: &[u8],
    alg: Algorithm,
    private: &rsa::PrivateKey,
) -> Result<Zeroizing<Vec<u8>>, String> {
    let material = match alg.envelope {
        Envelope::RsaAesKeyWrap => unwrap_ciphertext_with(wrapped, private, alg.oaep),
        Envelope::RsaOaep => unwrap_plain_oaep(wrapped, private, alg.oaep),
    };
    material.map_err(|e| {
        format!(
            "{} does not unwrap with {}: {e}",
            alg.cloud.title(),
            alg.name
        )
    })
}

/// Unwraps and compares; on success, the recovered key.
pub fn check(
    wrapped: &[u8],
    alg: Algorithm,
    private: &rsa::PrivateKey,
    expected: Expected<'_>,
) -> Result<RecoveredKey, String> {
    let material = unwrap(wrapped, alg, private)?;
    let key = classify_plaintext(&material).map_err(|e| e.to_string())?;
    if key.trailing_zero_bytes > 0 {
        return Err(format!(
            "{} zero bytes follow the PKCS#8 key: {} expects the key alone (the token zero-pads before RFC 5649)",
            key.trailing_zero_bytes,
            alg.cloud.title()
        ));
    }
    match expected {
        Expected::PublicSpkiDer(der) => compare_public(&key, der)?,
        Expected::CheckValue(hsm) => {
            let Some(sw) = key.oct_check_value else {
                return Err("an AES key was expected, and the output holds a key pair".into());
            };
            if material.len() != 32 {
                return Err(format!(
                    "{} imports AES-256 keys, and the output holds {} bytes",
                    alg.cloud.title(),
                    material.len()
                ));
            }
            if let Some(hsm) = hsm {
                if hex::encode(sw) != hsm {
                    return Err(format!(
                        "the unwrapped AES key's check value {} differs from the HSM's {hsm}",
                        hex::encode(sw)
                    ));
                }
            }
        }
    }
    Ok(key)
}
