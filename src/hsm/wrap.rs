//! Wrapping the target for the KEK inside the HSM.
//!
//! Native: one C_WrapKey with CKM_RSA_AES_KEY_WRAP (AES-256, OAEP with the requested hash for
//! the hash and MGF1, empty label). Two-step, where the token lacks it or its native mechanism
//! fails the known-answer test (the spec allows "an equivalent blob"): a session AES-256 key
//! wraps the target with RFC 5649, the KEK wraps that AES key with RSA-OAEP, and the two are
//! concatenated. The ephemeral AES key and the imported KEK are session objects destroyed on
//! every path.
//!
//! No path is used before its known-answer test (`wrap_kat`) has passed on this token for the
//! hash the wrap asks for: a mechanism's presence in the list proves nothing about its output.
#![forbid(unsafe_code)]

use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::MechanismType;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki_sys::CK_MECHANISM_TYPE;

use super::HsmError;
use super::ffi::RawWrapParams;
use super::kat;
use super::mechanisms::{
    self, CKM_AES_KEY_WRAP_KWP, CKM_AES_KEY_WRAP_PAD, CKM_RSA_AES_KEY_WRAP, CKM_RSA_PKCS_OAEP,
};
use super::module::HsmSession;
use super::objects::DestroyOnDrop;
use super::wrap_kat;
use crate::byok::kek::Kek;
use crate::cloud::Envelope;
use crate::hsm_types::wrap::OaepHash;
use crate::hsm_types::wrap::{KatReport, KwpBehaviour, WrapKatOutcome, WrapKatReport, WrapMethod};

/// What the ceremony asks of the wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrapPolicy {
    /// Accept a token that zero-pads before RFC 5649 (rehearsals; production only when the
    /// ceremony script says so explicitly).
    pub allow_zero_padding: bool,
    /// The OAEP hash the receiver unwraps with (SHA-1 for Azure).
    pub oaep: OaepHash,
}

impl WrapPolicy {
    /// Azure BYOK: OAEP SHA-1.
    pub fn azure(allow_zero_padding: bool) -> WrapPolicy {
        WrapPolicy {
            allow_zero_padding,
            oaep: OaepHash::Sha1,
        }
    }
}

/// The two ways to make the blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrapPath {
    /// One C_WrapKey with CKM_RSA_AES_KEY_WRAP.
    Native,
    /// RFC 5649 with this mechanism under an ephemeral AES-256 key, then RSA-OAEP of that key.
    TwoStep { kwp: CK_MECHANISM_TYPE },
    /// The key itself under RSA-OAEP, in one block (Google Cloud's RSA_OAEP_*_SHA256, AWS's
    /// RSAES_OAEP_*): secret keys only.
    PlainOaep,
}

impl WrapPath {
    pub fn name(self) -> &'static str {
        match self {
            WrapPath::Native => "native",
            WrapPath::TwoStep { .. } => "two_step",
            WrapPath::PlainOaep => "plain_oaep",
        }
    }

    pub fn mechanism_name(self) -> String {
        match self {
            WrapPath::Native => mechanisms::name(CKM_RSA_AES_KEY_WRAP),
            WrapPath::TwoStep { kwp } => format!(
                "{} + {}",
                mechanisms::name(kwp),
                mechanisms::name(CKM_RSA_PKCS_OAEP)
            ),
            WrapPath::PlainOaep => mechanisms::name(CKM_RSA_PKCS_OAEP),
        }
    }
}

/// The wrap plan decided from the token's mechanism list and known-answer tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrapPlan {
    pub path: WrapPath,
    pub oaep: OaepHash,
    /// The RFC 5649 mechanism's own vectors (two-step only).
    pub rfc5649: Option<KatReport>,
    /// The whole path's known-answer test (always run).
    pub kat: WrapKatReport,
}

impl WrapPlan {
    /// True when the output carries the token's zero padding: fine to rehearse with, not for
    /// production unless the script allows it.
    pub fn zero_pads(&self) -> bool {
        self.kat.outcome == WrapKatOutcome::ZeroPadded
    }

    pub fn method(&self) -> WrapMethod {
        match (self.path, &self.rfc5649) {
            (WrapPath::PlainOaep, _) => WrapMethod::PlainOaep {
                kat: self.kat.clone(),
            },
            (WrapPath::TwoStep { kwp }, Some(rfc)) => WrapMethod::TwoStep {
                kwp_mechanism: mechanisms::name(kwp),
                kat: rfc.clone(),
                path_kat: self.kat.clone(),
            },
            _ => WrapMethod::Native {
                kat: self.kat.clone(),
            },
        }
    }
}

/// What the known-answer tests found on a token, for one OAEP hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrapSurvey {
    pub oaep: OaepHash,
    /// The first path whose output was byte-exact.
    pub exact: Option<WrapPlan>,
    /// The first path that zero-pads (usable for rehearsals, or where a script allows it).
    pub zero_padding: Option<WrapPlan>,
    /// The paths that failed their tests, in the order tried.
    pub failed: Vec<WrapKatReport>,
}

impl WrapSurvey {
    /// The path to use: byte-exact if there is one, else a zero-padding one.
    pub fn best(&self) -> Option<&WrapPlan> {
        self.exact.as_ref().or(self.zero_padding.as_ref())
    }
}

/// Proves the token's wrap paths for `oaep`, in order of preference: native
/// CKM_RSA_AES_KEY_WRAP first; then the two-step path with 0x210B, then 0x210A (each only after
/// its RFC 5649 vectors). Stops at the first byte-exact path.
pub fn survey(session: &HsmSession<'_>, oaep: OaepHash) -> Result<WrapSurvey, HsmError> {
    survey_for(session, oaep, Envelope::RsaAesKeyWrap)
}

/// `survey` for a cloud's envelope: the material under RSA-OAEP alone has one path,
/// CKM_RSA_PKCS_OAEP on the target, proven like the others.
pub fn survey_for(
    session: &HsmSession<'_>,
    oaep: OaepHash,
    envelope: Envelope,
) -> Result<WrapSurvey, HsmError> {
    let mechs = session.hsm().mechanisms(session.slot())?;
    let mut found = WrapSurvey {
        oaep,
        exact: None,
        zero_padding: None,
        failed: Vec::new(),
    };
    let mut candidates: Vec<WrapPath> = Vec::new();
    if envelope == Envelope::RsaOaep {
        if mechs.contains(&CKM_RSA_PKCS_OAEP) {
            candidates.push(WrapPath::PlainOaep);
        }
    } else if mechs.contains(&CKM_RSA_AES_KEY_WRAP) {
        candidates.push(WrapPath::Native);
    }
    if envelope == Envelope::RsaAesKeyWrap && mechs.contains(&CKM_RSA_PKCS_OAEP) {
        for kwp in [CKM_AES_KEY_WRAP_KWP, CKM_AES_KEY_WRAP_PAD] {
            if mechs.contains(&kwp) {
                candidates.push(WrapPath::TwoStep { kwp });
            }
        }
    }
    for path in candidates {
        let rfc5649 = match path {
            WrapPath::Native | WrapPath::PlainOaep => None,
            WrapPath::TwoStep { kwp } => {
                let rfc = kat::run(session, kwp)?;
                if rfc.behaviour == KwpBehaviour::Unrecognised {
                    continue;
                }
                Some(rfc)
            }
        };
        let kat = wrap_kat::run(session, path, oaep)?;
        let plan = WrapPlan {
            path,
            oaep,
            rfc5649,
            kat: kat.clone(),
        };
        match kat.outcome {
            WrapKatOutcome::Exact => {
                found.exact = Some(plan);
                break;
            }
            WrapKatOutcome::ZeroPadded if found.zero_padding.is_none() => {
                found.zero_padding = Some(plan);
            }
            _ => found.failed.push(kat),
        }
    }
    Ok(found)
}

/// The path this token will wrap with under `policy`: byte-exact first; a zero-padding path
/// only where the policy allows it. When none passes, the error lists what each path did.
pub fn plan(session: &HsmSession<'_>, policy: WrapPolicy) -> Result<WrapPlan, HsmError> {
    plan_for(session, policy, Envelope::RsaAesKeyWrap)
}

/// `plan` for a cloud's envelope.
pub fn plan_for(
    session: &HsmSession<'_>,
    policy: WrapPolicy,
    envelope: Envelope,
) -> Result<WrapPlan, HsmError> {
    let found = survey_for(session, policy.oaep, envelope)?;
    if let Some(plan) = found.exact {
        return Ok(plan);
    }
    match found.zero_padding {
        Some(plan) if policy.allow_zero_padding => Ok(plan),
        Some(_) => Err(HsmError::ZeroPaddingRefused),
        None if found.failed.is_empty() => Err(HsmError::NoWrapMechanism),
        None => Err(HsmError::NoWrapPath {
            oaep: policy.oaep,
            tried: found.failed.iter().map(WrapKatReport::summary).collect(),
        }),
    }
}

/// Imports an RSA public key as a session object that may wrap.
pub(crate) fn import_rsa_public<'s>(
    session: &'s HsmSession<'_>,
    modulus_be: &[u8],
    exponent_be: &[u8],
    label: &[u8],
) -> Result<DestroyOnDrop<'s>, HsmError> {
    let s = session.session();
    let handle = s
        .create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(false),
            Attribute::Wrap(true),
            Attribute::Encrypt(true),
            Attribute::Modulus(modulus_be.to_vec()),
            Attribute::PublicExponent(exponent_be.to_vec()),
            Attribute::Label(label.to_vec()),
        ])
        .map_err(HsmError::p11("import the KEK public key"))?;
    Ok(DestroyOnDrop::new(s, handle))
}

/// Wraps `target` for `kek` following `plan`; returns the BYOK ciphertext.
pub fn wrap(
    session: &HsmSession<'_>,
    plan: &WrapPlan,
    kek: &Kek,
    target: ObjectHandle,
) -> Result<Vec<u8>, HsmError> {
    let kek_object = import_rsa_public(
        session,
        &kek.modulus_be(),
        &kek.exponent_be(),
        b"byok-ceremony KEK (session copy)",
    )?;
    let ciphertext = wrap_object(
        session,
        plan.path,
        plan.oaep,
        kek_object.handle(),
        kek.modulus_len(),
        target,
    )?;
    kek_object.destroy()?;
    Ok(ciphertext)
}

/// Wraps `target` with the trusted KEK object `trusted_kek` (a token object the security officer
/// marked CKA_TRUSTED; see `trusted_kek`). Only the native path can: the two-step path's
/// ephemeral AES key cannot be trusted, so a target made with CKA_WRAP_WITH_TRUSTED refuses it.
pub fn wrap_with_trusted(
    session: &HsmSession<'_>,
    plan: &WrapPlan,
    kek: &Kek,
    trusted_kek: ObjectHandle,
    target: ObjectHandle,
) -> Result<Vec<u8>, HsmError> {
    if plan.path != WrapPath::Native {
        return Err(HsmError::Unsupported(
            "trusted-only wrapping needs the native CKM_RSA_AES_KEY_WRAP, and this token's native wrap did not pass its known-answer test; use an HSM whose native wrap does, or make the key without wrap_with_trusted".into(),
        ));
    }
    wrap_object(
        session,
        plan.path,
        plan.oaep,
        trusted_kek,
        kek.modulus_len(),
        target,
    )
}

/// The one wrap both the ceremony and the known-answer test run: `target` wrapped by the RSA
/// public key object `rsa_public` (of `modulus_len` bytes) along `path`.
pub(crate) fn wrap_object(
    session: &HsmSession<'_>,
    path: WrapPath,
    oaep: OaepHash,
    rsa_public: ObjectHandle,
    modulus_len: usize,
    target: ObjectHandle,
) -> Result<Vec<u8>, HsmError> {
    let ciphertext = match path {
        WrapPath::Native => session
            .hsm()
            .raw()
            .wrap_key(
                session.session().handle(),
                CKM_RSA_AES_KEY_WRAP,
                RawWrapParams::RsaAesKeyWrap {
                    aes_key_bits: 256,
                    oaep,
                },
                rsa_public.handle(),
                target.handle(),
            )
            .map_err(HsmError::raw("wrap the key with CKM_RSA_AES_KEY_WRAP"))?,
        WrapPath::TwoStep { kwp } => two_step(session, kwp, oaep, rsa_public, modulus_len, target)?,
        WrapPath::PlainOaep => {
            let wrapped = session
                .session()
                .wrap_key(
                    &Mechanism::RsaPkcsOaep(oaep_params(oaep)),
                    rsa_public,
                    target,
                )
                .map_err(HsmError::p11("wrap the key with RSA-OAEP"))?;
            if wrapped.len() != modulus_len {
                return Err(HsmError::WrappedKeyLength {
                    got: wrapped.len(),
                    expected: modulus_len,
                });
            }
            return Ok(wrapped);
        }
    };
    let expected_min = modulus_len + 16;
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
    oaep: OaepHash,
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
    let wrapped_aes = s
        .wrap_key(
            &Mechanism::RsaPkcsOaep(oaep_params(oaep)),
            kek,
            aes.handle(),
        )
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

/// RSA-OAEP with `oaep` for the hash and MGF1, empty label: the only form the clouds take.
fn oaep_params(oaep: OaepHash) -> PkcsOaepParams<'static> {
    match oaep {
        OaepHash::Sha1 => PkcsOaepParams::new(
            MechanismType::SHA1,
            PkcsMgfType::MGF1_SHA1,
            PkcsOaepSource::empty(),
        ),
        OaepHash::Sha256 => PkcsOaepParams::new(
            MechanismType::SHA256,
            PkcsMgfType::MGF1_SHA256,
            PkcsOaepSource::empty(),
        ),
    }
}
