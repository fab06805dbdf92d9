//! Trusted-only wrapping: the KEK as a trusted wrapping key on the token.
//!
//! A target made with CKA_WRAP_WITH_TRUSTED can be wrapped only by a key whose CKA_TRUSTED is
//! true, and only the security officer can set that. So the SO imports the KEK's public key
//! once, at provisioning (`[trusted_kek]` in the provisioning script), as a token object; the
//! ceremony then wraps with that object and nothing else: even a user-logged-in session with
//! the quorum's PIN cannot wrap the key for any other public key. Only the native
//! CKM_RSA_AES_KEY_WRAP can do this (the two-step path's ephemeral AES key cannot be trusted).
#![forbid(unsafe_code)]

use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};

use super::HsmError;
use super::module::HsmSession;
use crate::byok::kek::{Kek, strip_leading_zeros as strip};

/// The label of the trusted KEK object: "byok-ceremony trusted KEK " and the first 16 hex
/// digits of its fingerprint (so two KEKs on one token never share a label).
pub fn label_for(kek: &Kek) -> String {
    let hex = kek.fingerprint().hex();
    format!("byok-ceremony trusted KEK {}", &hex[..16])
}

/// Imports `kek` as a trusted wrapping key (token object, CKA_TRUSTED). The session must be
/// logged in as the security officer. Refuses a second copy of the same KEK.
pub fn import(session: &HsmSession<'_>, kek: &Kek) -> Result<ObjectHandle, HsmError> {
    if find(session, kek)?.is_some() {
        return Err(HsmError::Unsupported(format!(
            "the token already holds this KEK as a trusted wrapping key (\"{}\"); nothing to import",
            label_for(kek)
        )));
    }
    let fingerprint = kek.fingerprint();
    session
        .session()
        .create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Modifiable(false),
            Attribute::Trusted(true),
            Attribute::Wrap(true),
            Attribute::Encrypt(false),
            Attribute::Verify(false),
            Attribute::Modulus(kek.modulus_be()),
            Attribute::PublicExponent(kek.exponent_be()),
            Attribute::Label(label_for(kek).into_bytes()),
            Attribute::Id(fingerprint.as_bytes()[..16].to_vec()),
        ])
        .map_err(HsmError::p11(
            "import the KEK as a trusted wrapping key (only the security officer may)",
        ))
}

/// The trusted wrapping key on the token whose modulus and exponent are `kek`'s, if any.
pub fn find(session: &HsmSession<'_>, kek: &Kek) -> Result<Option<ObjectHandle>, HsmError> {
    let s = session.session();
    let found = s
        .find_objects(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Trusted(true),
            Attribute::Modulus(kek.modulus_be()),
        ])
        .map_err(HsmError::p11("search for the trusted KEK"))?;
    for handle in found {
        // Belt and braces: the token's search is trusted to filter, the values are checked.
        let attrs = s
            .get_attributes(
                handle,
                &[
                    AttributeType::Trusted,
                    AttributeType::Wrap,
                    AttributeType::Modulus,
                    AttributeType::PublicExponent,
                ],
            )
            .map_err(HsmError::p11("read the trusted KEK's attributes"))?;
        let (mut trusted, mut wrap, mut modulus, mut exponent) = (false, false, false, false);
        for a in attrs {
            match a {
                Attribute::Trusted(t) => trusted = t,
                Attribute::Wrap(w) => wrap = w,
                Attribute::Modulus(m) => modulus = strip(&m) == strip(&kek.modulus_be()),
                Attribute::PublicExponent(e) => {
                    exponent = strip(&e) == strip(&kek.exponent_be());
                }
                _ => {}
            }
        }
        if trusted && wrap && modulus && exponent {
            return Ok(Some(handle));
        }
    }
    Ok(None)
}
