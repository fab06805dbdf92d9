//! The target key: generated inside the HSM, read back, and described for the manifest.
#![forbid(unsafe_code)]

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use der::Decode;
use der::Encode;
use der::asn1::{BitString, ObjectIdentifier, UintRef};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use super::HsmError;
use super::mechanisms;
use super::module::HsmSession;
use super::objects::{DestroyOnDrop, ensure_label_unused};
use crate::byok::curve::{EcCurve, ID_EC_PUBLIC_KEY};
use crate::hsm_types::key::{KeyAttributes, TargetRequest, TargetSpec};

use crate::byok::oids::RSA_ENCRYPTION;

/// The generated key: handles, read-back attributes and its public part.
#[derive(Debug)]
pub struct GeneratedTarget {
    pub spec: TargetSpec,
    /// The private (RSA/EC) or secret (AES) key: what gets wrapped.
    pub key: ObjectHandle,
    pub public: Option<ObjectHandle>,
    pub attributes: KeyAttributes,
    /// SubjectPublicKeyInfo DER (RSA and EC).
    pub public_spki_der: Option<Vec<u8>>,
    /// CKA_CHECK_VALUE of an AES key (first 3 bytes of AES-ECB over a zero block), when the
    /// token provides it: the only non-secret fingerprint of a secret key.
    pub check_value: Option<Vec<u8>>,
}

/// Generates the target key inside the HSM and reads it back.
pub fn generate(
    session: &HsmSession<'_>,
    request: &TargetRequest,
) -> Result<GeneratedTarget, HsmError> {
    request
        .spec
        .validate()
        .map_err(|e| HsmError::Unsupported(e.to_string()))?;
    let s = session.session();
    ensure_label_unused(s, &request.label)?;
    let id = session.random(16)?;
    let label = request.label.as_bytes().to_vec();
    let common_private = [
        Attribute::Token(request.token_object),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        // Azure BYOK needs the key to leave the HSM, wrapped: extractable, never in clear.
        Attribute::Extractable(true),
        Attribute::Label(label.clone()),
        Attribute::Id(id.clone()),
        Attribute::WrapWithTrusted(request.wrap_with_trusted),
    ];
    let (key, public) = match request.spec {
        TargetSpec::Rsa { bits } => {
            let public_template = [
                Attribute::Token(request.token_object),
                Attribute::Label(label.clone()),
                Attribute::Id(id.clone()),
                Attribute::ModulusBits(u64::from(bits).into()),
                Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
                Attribute::Verify(true),
            ];
            let mut private_template = common_private.to_vec();
            private_template.push(Attribute::Sign(true));
            let (public, private) = s
                .generate_key_pair(
                    &Mechanism::RsaPkcsKeyPairGen,
                    &public_template,
                    &private_template,
                )
                .map_err(HsmError::p11("generate the RSA key pair"))?;
            (private, Some(public))
        }
        TargetSpec::Ec { curve } => {
            let public_template = [
                Attribute::Token(request.token_object),
                Attribute::Label(label.clone()),
                Attribute::Id(id.clone()),
                Attribute::EcParams(ec_params_der(curve)?),
                Attribute::Verify(true),
            ];
            let mut private_template = common_private.to_vec();
            private_template.push(Attribute::Sign(true));
            let (public, private) = s
                .generate_key_pair(
                    &Mechanism::EccKeyPairGen,
                    &public_template,
                    &private_template,
                )
                .map_err(|source| {
                    HsmError::Unsupported(format!(
                        "the HSM could not generate an EC key on {curve} ({source}); this HSM may not support that curve: choose another or another HSM"
                    ))
                })?;
            (private, Some(public))
        }
        TargetSpec::Aes { bits } => {
            let mut template = common_private.to_vec();
            template.extend([
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::ValueLen(u64::from(bits / 8).into()),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
            ]);
            let key = s
                .generate_key(&Mechanism::AesKeyGen, &template)
                .map_err(HsmError::p11("generate the AES key"))?;
            (key, None)
        }
    };
    // Until every check below has passed, the new objects are destroyed on any error: a key
    // the ceremony never logged must not stay on the token (fault injection found one that
    // did when reading its attributes back failed).
    let key_guard = DestroyOnDrop::new(s, key);
    let public_guard = public.map(|p| DestroyOnDrop::new(s, p));
    let attributes = read_back(session, key)?;
    if attributes.wrap_with_trusted != request.wrap_with_trusted {
        return Err(HsmError::Malformed {
            what: "new key",
            detail: format!(
                "CKA_WRAP_WITH_TRUSTED reads back {} but {} was asked for",
                attributes.wrap_with_trusted, request.wrap_with_trusted
            ),
        });
    }
    let public_spki_der = match (request.spec, public) {
        (TargetSpec::Rsa { .. }, Some(p)) => Some(rsa_spki(session, p)?),
        (TargetSpec::Ec { curve }, Some(p)) => Some(ec_spki(session, p, curve)?),
        _ => None,
    };
    let check_value = match request.spec {
        TargetSpec::Aes { .. } => check_value(session, key),
        _ => None,
    };
    let key = key_guard.keep();
    let public = public_guard.map(DestroyOnDrop::keep);
    Ok(GeneratedTarget {
        spec: request.spec,
        key,
        public,
        attributes,
        public_spki_der,
        check_value,
    })
}

/// Destroys the target (and its public half): used when a ceremony says "destroy after export"
/// and by rehearsals.
pub fn destroy(session: &HsmSession<'_>, target: &GeneratedTarget) -> Result<(), HsmError> {
    let s = session.session();
    if let Some(p) = target.public {
        s.destroy_object(p)
            .map_err(HsmError::p11("destroy the target's public key"))?;
    }
    s.destroy_object(target.key)
        .map_err(HsmError::p11("destroy the target key"))
}

/// Finds the key a ceremony made, by the random CKA_ID recorded in its log (after a crash the
/// handle is gone; the ID is not). The private or secret half is returned.
pub fn find_by_id(session: &HsmSession<'_>, id_hex: &str) -> Result<ObjectHandle, HsmError> {
    let id = hex::decode(id_hex).map_err(|e| HsmError::Malformed {
        what: "key id",
        detail: e.to_string(),
    })?;
    let s = session.session();
    for class in [ObjectClass::PRIVATE_KEY, ObjectClass::SECRET_KEY] {
        let found = s
            .find_objects(&[Attribute::Class(class), Attribute::Id(id.clone())])
            .map_err(HsmError::p11("search for the ceremony's key"))?;
        if let Some(h) = found.first() {
            return Ok(*h);
        }
    }
    Err(HsmError::Unsupported(format!(
        "no key with CKA_ID {id_hex} is on the token"
    )))
}

/// Destroys the ceremony's key: the keys (private, public or secret) that carry both its label
/// and its random CKA_ID, nothing else. An empty id or label is refused: it would match
/// objects the ceremony did not make.
pub fn destroy_by_id(
    session: &HsmSession<'_>,
    label: &str,
    id_hex: &str,
) -> Result<usize, HsmError> {
    let id = hex::decode(id_hex).map_err(|e| HsmError::Malformed {
        what: "key id",
        detail: e.to_string(),
    })?;
    if id.is_empty() || label.is_empty() {
        return Err(HsmError::Malformed {
            what: "key to destroy",
            detail: "an empty label or CKA_ID names no key of this ceremony".into(),
        });
    }
    let s = session.session();
    let mut destroyed = 0;
    for class in [
        ObjectClass::PRIVATE_KEY,
        ObjectClass::PUBLIC_KEY,
        ObjectClass::SECRET_KEY,
    ] {
        let found = s
            .find_objects(&[
                Attribute::Class(class),
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::Id(id.clone()),
            ])
            .map_err(HsmError::p11("search for the ceremony's key"))?;
        for h in &found {
            s.destroy_object(*h)
                .map_err(HsmError::p11("destroy the ceremony's key"))?;
        }
        destroyed += found.len();
    }
    Ok(destroyed)
}

/// Whether the token can make `spec` at all (P-256K is optional on many HSMs).
pub fn supported(mechs: &[cryptoki_sys::CK_MECHANISM_TYPE], spec: TargetSpec) -> bool {
    let needed = match spec {
        TargetSpec::Rsa { .. } => mechanisms::CKM_RSA_PKCS_KEY_PAIR_GEN,
        TargetSpec::Ec { .. } => mechanisms::CKM_EC_KEY_PAIR_GEN,
        TargetSpec::Aes { .. } => mechanisms::CKM_AES_KEY_GEN,
    };
    mechs.contains(&needed)
}

fn read_back(session: &HsmSession<'_>, key: ObjectHandle) -> Result<KeyAttributes, HsmError> {
    let attrs = session
        .session()
        .get_attributes(
            key,
            &[
                AttributeType::Label,
                AttributeType::Id,
                AttributeType::Token,
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::Local,
                AttributeType::AlwaysSensitive,
                AttributeType::NeverExtractable,
                AttributeType::WrapWithTrusted,
            ],
        )
        .map_err(HsmError::p11("read back the new key's attributes"))?;
    let mut out = KeyAttributes {
        label: String::new(),
        id_hex: String::new(),
        token: false,
        sensitive: false,
        extractable: false,
        local: false,
        always_sensitive: false,
        never_extractable: false,
        wrap_with_trusted: false,
    };
    let mut seen = 0;
    for a in attrs {
        seen += 1;
        match a {
            Attribute::Label(l) => out.label = String::from_utf8_lossy(&l).into_owned(),
            Attribute::Id(id) => out.id_hex = hex::encode(id),
            Attribute::Token(b) => out.token = b,
            Attribute::Sensitive(b) => out.sensitive = b,
            Attribute::Extractable(b) => out.extractable = b,
            Attribute::Local(b) => out.local = b,
            Attribute::AlwaysSensitive(b) => out.always_sensitive = b,
            Attribute::NeverExtractable(b) => out.never_extractable = b,
            Attribute::WrapWithTrusted(b) => out.wrap_with_trusted = b,
            _ => seen -= 1,
        }
    }
    if seen != 9 {
        return Err(HsmError::Malformed {
            what: "attribute read-back",
            detail: format!("expected 9 attributes, got {seen}"),
        });
    }
    // Boulder's habit: check what was made, not what was asked for.
    if !(out.sensitive && out.extractable && out.local && out.always_sensitive) {
        return Err(HsmError::Malformed {
            what: "new key",
            detail: format!(
                "attributes read back are not those of a fresh, sensitive, extractable key generated inside the HSM: {out:?}"
            ),
        });
    }
    Ok(out)
}

fn bytes_attribute(
    session: &HsmSession<'_>,
    object: ObjectHandle,
    ty: AttributeType,
) -> Result<Vec<u8>, HsmError> {
    let attrs = session
        .session()
        .get_attributes(object, &[ty])
        .map_err(HsmError::p11("read the public key"))?;
    attrs
        .into_iter()
        .find_map(|a| match a {
            Attribute::Modulus(v)
            | Attribute::PublicExponent(v)
            | Attribute::EcPoint(v)
            | Attribute::CheckValue(v) => Some(v),
            _ => None,
        })
        .ok_or(HsmError::Malformed {
            what: "public key",
            detail: format!("attribute {ty:?} missing"),
        })
}

fn rsa_spki(session: &HsmSession<'_>, public: ObjectHandle) -> Result<Vec<u8>, HsmError> {
    #[derive(der::Sequence)]
    struct RsaPublicKey<'a> {
        modulus: UintRef<'a>,
        public_exponent: UintRef<'a>,
    }
    let n = bytes_attribute(session, public, AttributeType::Modulus)?;
    let e = bytes_attribute(session, public, AttributeType::PublicExponent)?;
    let malformed = |e: der::Error| HsmError::Malformed {
        what: "RSA public key",
        detail: e.to_string(),
    };
    let pkcs1 = RsaPublicKey {
        modulus: UintRef::new(&n).map_err(malformed)?,
        public_exponent: UintRef::new(&e).map_err(malformed)?,
    }
    .to_der()
    .map_err(malformed)?;
    spki_der(RSA_ENCRYPTION, Some(der::asn1::Null.into()), &pkcs1)
}

fn ec_spki(
    session: &HsmSession<'_>,
    public: ObjectHandle,
    curve: EcCurve,
) -> Result<Vec<u8>, HsmError> {
    let raw = bytes_attribute(session, public, AttributeType::EcPoint)?;
    let point = uncompressed_point(&raw, curve)?;
    let params = der::Any::encode_from(&curve.oid()).map_err(|e| HsmError::Malformed {
        what: "curve parameters",
        detail: e.to_string(),
    })?;
    spki_der(ID_EC_PUBLIC_KEY, Some(params), point)
}

/// CKA_EC_POINT is a DER OCTET STRING holding the point on most tokens and the bare point on
/// some; the bare uncompressed point has exactly 1 + 2 * field-size bytes, which tells them
/// apart.
fn uncompressed_point(raw: &[u8], curve: EcCurve) -> Result<&[u8], HsmError> {
    let bare = 1 + 2 * curve.field_bytes();
    let point = if raw.len() == bare {
        raw
    } else {
        <&der::asn1::OctetStringRef>::from_der(raw)
            .map_err(|e| HsmError::Malformed {
                what: "EC point",
                detail: e.to_string(),
            })?
            .as_bytes()
    };
    if point.len() != bare || point.first() != Some(&0x04) {
        return Err(HsmError::Malformed {
            what: "EC point",
            detail: format!(
                "expected an uncompressed {curve} point of {bare} bytes, got {} bytes",
                point.len()
            ),
        });
    }
    Ok(point)
}

fn spki_der(
    oid: ObjectIdentifier,
    parameters: Option<der::Any>,
    key: &[u8],
) -> Result<Vec<u8>, HsmError> {
    let malformed = |e: der::Error| HsmError::Malformed {
        what: "public key",
        detail: e.to_string(),
    };
    SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned { oid, parameters },
        subject_public_key: BitString::from_bytes(key).map_err(malformed)?,
    }
    .to_der()
    .map_err(malformed)
}

/// CKA_EC_PARAMS for a named curve: the DER of its OID.
fn ec_params_der(curve: EcCurve) -> Result<Vec<u8>, HsmError> {
    curve.oid().to_der().map_err(|e| HsmError::Malformed {
        what: "curve parameters",
        detail: e.to_string(),
    })
}

/// The AES key's check value: CKA_CHECK_VALUE where the token keeps one, else computed the
/// way PKCS#11 defines it (first 3 bytes of AES-ECB over a zero block) inside the HSM, since
/// some tokens (kryoptic) ignore the attribute.
fn check_value(session: &HsmSession<'_>, key: ObjectHandle) -> Option<Vec<u8>> {
    if let Ok(v) = bytes_attribute(session, key, AttributeType::CheckValue) {
        if v.len() == 3 {
            return Some(v);
        }
    }
    let block = session
        .session()
        .encrypt(&Mechanism::AesEcb, key, &[0u8; 16])
        .ok()?;
    block.get(..3).map(<[u8]>::to_vec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_point_accepts_bare_and_der_wrapped_forms() {
        let mut bare = vec![0x04];
        bare.extend([7u8; 64]);
        assert_eq!(
            uncompressed_point(&bare, EcCurve::P256).expect("bare"),
            &bare[..]
        );
        let mut wrapped = vec![0x04, 65];
        wrapped.extend(&bare);
        assert_eq!(
            uncompressed_point(&wrapped, EcCurve::P256).expect("wrapped"),
            &bare[..]
        );
        assert!(uncompressed_point(&bare[..10], EcCurve::P256).is_err());
    }
}
