//! Known-answer test of a whole wrap path, for the OAEP hash the ceremony will ask for.
//!
//! Before a token wraps the real key, the same path (native CKM_RSA_AES_KEY_WRAP, or the
//! two-step RFC 5649 + RSA-OAEP) wraps throwaway keys of known value for a throwaway RSA key
//! whose private half only this process holds, in software. Each result is unwrapped in
//! software with the requested hash and compared byte for byte with what went in. This catches
//! what a mechanism list cannot show: a token that zero-pads before RFC 5649 (SoftHSM2 2.6.1),
//! a token that wraps with SHA-1 when SHA-256 is asked for (SoftHSM2 2.7.0's native
//! mechanism), and a token whose output is simply wrong.
//!
//! Nothing of it touches the target key or the audit key: the test keys, the RSA public key and
//! the ephemeral AES keys are session objects destroyed on every path, and the plaintexts are
//! fresh random bytes (so a token cannot recognise the test), wiped after use.
#![forbid(unsafe_code)]

use std::sync::OnceLock;

use cryptoki::object::{Attribute, KeyType, ObjectClass};
use rsa::traits::PublicKeyParts;
use zeroize::Zeroizing;

use super::HsmError;
use super::module::HsmSession;
use super::objects::DestroyOnDrop;
use super::wrap::{self, WrapPath};
use crate::byok::verify::{VerifyError, unwrap_ciphertext_with, unwrap_plain_oaep};
use crate::hsm_types::wrap::OaepHash;
use crate::hsm_types::wrap::{WrapKatOutcome, WrapKatReport};

/// The throwaway RSA key's size: the OAEP hash and the padding are what is tested, and 2048 bits
/// keep the software key generation short.
const KAT_RSA_BITS: usize = 2048;

/// The lengths of the test keys: two that are not multiples of 8 (a zero-padding token shows
/// itself on them) and one that is, as an AES-256 key.
const VECTOR_LENGTHS: [usize; 3] = [20, 7, 32];

/// The throwaway RSA key, made once per process (key generation in software takes a moment).
fn kat_rsa_key() -> Result<&'static rsa::PrivateKey, HsmError> {
    static KEY: OnceLock<rsa::PrivateKey> = OnceLock::new();
    if let Some(k) = KEY.get() {
        return Ok(k);
    }
    let key = rsa::PrivateKey::new(&mut getrandom::SysRng, KAT_RSA_BITS).map_err(|e| {
        HsmError::Unsupported(format!(
            "the known-answer test could not make its software RSA key ({e}); do not run a ceremony on this machine"
        ))
    })?;
    Ok(KEY.get_or_init(|| key))
}

/// Runs the known-answer test of `path` for `oaep` on the token.
pub fn run(
    session: &HsmSession<'_>,
    path: WrapPath,
    oaep: OaepHash,
) -> Result<WrapKatReport, HsmError> {
    let private = kat_rsa_key()?;
    let public = private.to_public_key();
    let modulus = public.n_bytes().into_vec();
    let exponent = public.e_bytes().into_vec();
    let report = |outcome| WrapKatReport {
        path: path.name().into(),
        mechanism: path.mechanism_name(),
        oaep_hash: oaep,
        vectors: VECTOR_LENGTHS.len(),
        outcome,
    };
    let s = session.session();
    let rsa_public = match wrap::import_rsa_public(
        session,
        &modulus,
        &exponent,
        b"byok-ceremony known-answer RSA key",
    ) {
        Ok(handle) => handle,
        Err(e) => {
            return Ok(report(WrapKatOutcome::Refused {
                detail: e.to_string(),
            }));
        }
    };
    let mut zero_padded = false;
    for len in VECTOR_LENGTHS {
        let mut value = Zeroizing::new(vec![0u8; len]);
        getrandom::fill(&mut value).map_err(|e| {
            HsmError::Unsupported(format!(
                "the operating system's random generator failed ({e}); do not run a ceremony on this machine"
            ))
        })?;
        let key_type = if len == 32 {
            KeyType::AES
        } else {
            KeyType::GENERIC_SECRET
        };
        let key = DestroyOnDrop::new(
            s,
            s.create_object(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(key_type),
                Attribute::Token(false),
                Attribute::Sensitive(false),
                Attribute::Extractable(true),
                Attribute::Value(value.to_vec()),
                Attribute::Label(b"byok-ceremony known-answer key".to_vec()),
            ])
            .map_err(HsmError::p11("create a known-answer test key"))?,
        );
        let wrapped = match wrap::wrap_object(
            session,
            path,
            oaep,
            rsa_public.handle(),
            public.size(),
            key.handle(),
        ) {
            Ok(w) => w,
            Err(e) => {
                return Ok(report(WrapKatOutcome::Refused {
                    detail: e.to_string(),
                }));
            }
        };
        key.destroy()?;
        // The key under RSA-OAEP alone, or an AES key under it followed by RFC 5649.
        let unwrap: Unwrap = if path == WrapPath::PlainOaep {
            unwrap_plain_oaep
        } else {
            unwrap_ciphertext_with
        };
        let compared = compare(&wrapped, private, oaep, &value, unwrap);
        match compared {
            Compared::Exact => {}
            Compared::ZeroPadded => zero_padded = true,
            Compared::Failed(outcome) => return Ok(report(outcome)),
        }
    }
    rsa_public.destroy()?;
    Ok(report(if zero_padded {
        WrapKatOutcome::ZeroPadded
    } else {
        WrapKatOutcome::Exact
    }))
}

enum Compared {
    Exact,
    ZeroPadded,
    Failed(WrapKatOutcome),
}

/// How the path's output is opened in software.
type Unwrap = fn(&[u8], &rsa::PrivateKey, OaepHash) -> Result<Zeroizing<Vec<u8>>, VerifyError>;

/// Unwraps `wrapped` in software with `oaep` and compares it with `expected`.
fn compare(
    wrapped: &[u8],
    private: &rsa::PrivateKey,
    oaep: OaepHash,
    expected: &[u8],
    unwrap: Unwrap,
) -> Compared {
    let plaintext = match unwrap(wrapped, private, oaep) {
        Ok(p) => p,
        Err(VerifyError::RsaOaep { .. }) => {
            let other = oaep.other();
            return Compared::Failed(if unwrap(wrapped, private, other).is_ok() {
                WrapKatOutcome::WrongOaepHash { used: other }
            } else {
                WrapKatOutcome::Mismatch {
                    detail: "the RSA block opens with neither SHA-1 nor SHA-256 OAEP".into(),
                }
            });
        }
        Err(e) => {
            return Compared::Failed(WrapKatOutcome::Mismatch {
                detail: e.to_string(),
            });
        }
    };
    if plaintext.as_slice() == expected {
        return Compared::Exact;
    }
    match plaintext.strip_prefix(expected) {
        Some(rest) if rest.iter().all(|b| *b == 0) => Compared::ZeroPadded,
        _ => Compared::Failed(WrapKatOutcome::Mismatch {
            detail: format!(
                "a {}-byte test key came back as {} different bytes",
                expected.len(),
                plaintext.len()
            ),
        }),
    }
}
