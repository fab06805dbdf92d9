//! Wrapping the target for the Azure KEK inside the HSM.
//!
//! Native: one C_WrapKey with CKM_RSA_AES_KEY_WRAP (AES-256, OAEP SHA-1/MGF1-SHA-1, empty
//! label). Two-step, where the token lacks it (the spec allows "an equivalent blob"): a session
//! AES-256 key wraps the target with RFC 5649, the KEK wraps that AES key with RSA-OAEP, and
//! the two are concatenated. The ephemeral AES key and the imported KEK are session objects
//! destroyed on every path.
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::MechanismType;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki_sys::CK_MECHANISM_TYPE;
use serde::{Deserialize, Serialize};

use super::HsmError;
use super::ffi::RawWrapParams;
use super::kat::{self, KatReport, KwpBehaviour};
use super::mechanisms::{
    self, CKM_AES_KEY_WRAP_KWP, CKM_AES_KEY_WRAP_PAD, CKM_RSA_AES_KEY_WRAP, CKM_RSA_PKCS_OAEP,
};
use super::module::HsmSession;
use super::objects::DestroyOnDrop;
use crate::byok::kek::Kek;

/// What the ceremony allows when the token's RFC 5649 is not byte-exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrapPolicy {
    /// Accept a token that zero-pads before RFC 5649 (rehearsals; production only when the
    /// ceremony script says so explicitly).
    pub allow_zero_padding: bool,
}

/// How the ciphertext was made, for the manifest and the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum WrapMethod {
    /// One call with CKM_RSA_AES_KEY_WRAP.
    Native,
    /// RFC 5649 with an ephemeral AES-256 key, then RSA-OAEP of that key.
    TwoStep {
        kwp_mechanism: String,
        kat: KatReport,
    },
}

/// The wrap plan decided from the token's mechanism list and known-answer tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WrapPlan {
    Native,
    TwoStep {
        kwp: CK_MECHANISM_TYPE,
        kat: KatReport,
    },
}

impl WrapPlan {
    /// True when the output carries the token's zero padding: fine to rehearse with, not for
    /// production unless the script allows it.
    pub fn zero_pads(&self) -> bool {
        matches!(self, WrapPlan::TwoStep { kat, .. } if kat.behaviour == KwpBehaviour::ZeroPadsThenRfc5649)
    }

    pub fn method(&self) -> WrapMethod {
        match self {
            WrapPlan::Native => WrapMethod::Native,
            WrapPlan::TwoStep { kwp, kat } => WrapMethod::TwoStep {
                kwp_mechanism: mechanisms::name(*kwp),
                kat: kat.clone(),
            },
        }
    }
}

/// Picks how this token will wrap: native if listed; otherwise 0x210B, then 0x210A, each
/// only after its known-answer test. A byte-exact mechanism always beats a zero-padding one.
pub fn plan(session: &HsmSession<'_>, policy: WrapPolicy) -> Result<WrapPlan, HsmError> {
    let mechs = session.hsm().mechanisms(session.slot())?;
    if mechs.contains(&CKM_RSA_AES_KEY_WRAP) {
        return Ok(WrapPlan::Native);
    }
    if !mechs.contains(&CKM_RSA_PKCS_OAEP) {
        return Err(HsmError::MechanismMissing("CKM_RSA_PKCS_OAEP"));
    }
    let mut zero_padding = None;
    for kwp in [CKM_AES_KEY_WRAP_KWP, CKM_AES_KEY_WRAP_PAD] {
        if !mechs.contains(&kwp) {
            continue;
        }
        let report = kat::run(session, kwp)?;
        match report.behaviour {
            KwpBehaviour::Rfc5649 => return Ok(WrapPlan::TwoStep { kwp, kat: report }),
            KwpBehaviour::ZeroPadsThenRfc5649 if zero_padding.is_none() => {
                zero_padding = Some(WrapPlan::TwoStep { kwp, kat: report });
            }
            _ => {}
        }
    }
    match zero_padding {
        Some(plan) if policy.allow_zero_padding => Ok(plan),
        Some(_) => Err(HsmError::ZeroPaddingRefused),
        None => Err(HsmError::NoWrapMechanism),
    }
}

/// Wraps `target` for `kek` following `plan`; returns the BYOK ciphertext.
pub fn wrap(
    session: &HsmSession<'_>,
    plan: &WrapPlan,
    kek: &Kek,
    target: ObjectHandle,
) -> Result<Vec<u8>, HsmError> {
    let s = session.session();
    let kek_object = DestroyOnDrop::new(
        s,
        s.create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(false),
            Attribute::Wrap(true),
            Attribute::Encrypt(true),
            Attribute::Modulus(kek.modulus_be()),
            Attribute::PublicExponent(kek.exponent_be()),
            Attribute::Label(b"byok-ceremony KEK (session copy)".to_vec()),
        ])
        .map_err(HsmError::p11("import the KEK public key"))?,
    );
    let ciphertext = match plan {
        WrapPlan::Native => session
            .hsm()
            .raw()
            .wrap_key(
                s.handle(),
                CKM_RSA_AES_KEY_WRAP,
                RawWrapParams::RsaAesKeyWrapSha1 { aes_key_bits: 256 },
                kek_object.handle().handle(),
                target.handle(),
            )
            .map_err(HsmError::raw("wrap the key with CKM_RSA_AES_KEY_WRAP"))?,
        WrapPlan::TwoStep { kwp, .. } => two_step(
            session,
            *kwp,
            kek_object.handle(),
            kek.modulus_len(),
            target,
        )?,
    };
    kek_object.destroy()?;
    let expected_min = kek.modulus_len() + 16;
    if ciphertext.len() < expected_min {
        return Err(HsmError::Malformed {
            what: "wrapped key",
            detail: format!(
                "{} bytes is shorter than the KEK modulus plus one RFC 5649 block ({expected_min})",
                ciphertext.len()
            ),
        });
    }
    Ok(ciphertext)
}

fn two_step(
    session: &HsmSession<'_>,
    kwp: CK_MECHANISM_TYPE,
    kek: ObjectHandle,
    modulus_len: usize,
    target: ObjectHandle,
) -> Result<Vec<u8>, HsmError> {
    let s = session.session();
    let aes = DestroyOnDrop::new(
        s,
        s.generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::ValueLen(32.into()),
                Attribute::Token(false),
                Attribute::Sensitive(true),
                Attribute::Extractable(true),
                Attribute::Wrap(true),
                Attribute::Label(b"byok-ceremony ephemeral AES-256".to_vec()),
            ],
        )
        .map_err(HsmError::p11("generate the ephemeral AES-256 key"))?,
    );
    let wrapped_target = session
        .hsm()
        .raw()
        .wrap_key(
            s.handle(),
            kwp,
            RawWrapParams::None,
            aes.handle().handle(),
            target.handle(),
        )
        .map_err(HsmError::raw("wrap the key with RFC 5649"))?;
    let oaep = PkcsOaepParams::new(
        MechanismType::SHA1,
        PkcsMgfType::MGF1_SHA1,
        PkcsOaepSource::empty(),
    );
    let wrapped_aes = s
        .wrap_key(&Mechanism::RsaPkcsOaep(oaep), kek, aes.handle())
        .map_err(HsmError::p11("wrap the ephemeral AES key with RSA-OAEP"))?;
    aes.destroy()?;
    if wrapped_aes.len() != modulus_len {
        return Err(HsmError::WrappedKeyLength {
            got: wrapped_aes.len(),
            expected: modulus_len,
        });
    }
    let mut out = wrapped_aes;
    out.extend_from_slice(&wrapped_target);
    Ok(out)
}
