//! Software verification of a `.byok` file (`byok-ceremony verify-byok`), and the software
//! unwrap used in rehearsals with a simulated KEK.
//!
//! Without the KEK's private key only the structure is checked: format, kid, ciphertext length.
//! With it (rehearsals only; a real KEK never leaves Azure) the file is unwrapped exactly as Azure
//! would: split at the modulus length, RSA-OAEP (SHA-1, MGF1-SHA-1, empty label) gives a 32-byte
//! AES key, RFC 5649 unwraps the rest, and the plaintext must be a PKCS#8 RSA/EC key or a raw
//! AES key. The unwrapped secret stays in zeroizing memory and never reaches the report.

use std::fmt;

use aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes_kw::KwpAes256;
use der::Decode;
use der::asn1::ObjectIdentifier;
use pkcs8::{DecodePublicKey, EncodePublicKey, PrivateKeyInfoRef};
use rsa::traits::PublicKeyParts;
use rsa::{PrivateKey as RsaPrivateKey, PublicKey as RsaPublicKey};
use sha1::Sha1;
use sha2::Sha256;
use spki::SubjectPublicKeyInfoRef;
use zeroize::Zeroizing;

use crate::byok::curve::{EcCurve, ID_EC_PUBLIC_KEY};
use crate::byok::fingerprint::Fingerprint;
use crate::byok::format;
use crate::byok::kek::{ALLOWED_KEK_BITS, Kek, Kid};
use crate::hsm_types::wrap::OaepHash;

use super::oids::RSA_ENCRYPTION;

/// Shortest RFC 5649 output: one 8-byte block of padded key data plus the 8-byte integrity block.
const KWP_MIN_LEN: usize = 16;

/// What went wrong while unwrapping or classifying a ciphertext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error(
        "ciphertext is {len} bytes, shorter than the {min} bytes a {bits}-bit KEK needs ({modulus_len} bytes of RSA-OAEP plus at least 16 of RFC 5649): the file is truncated or was made for a smaller KEK; export it again"
    )]
    CiphertextTooShort {
        len: usize,
        min: usize,
        bits: usize,
        modulus_len: usize,
    },
    #[error(
        "the RFC 5649 part of the ciphertext is {kwp_len} bytes, not a multiple of 8: the file is truncated or padded, or was made for a KEK of another size; export it again"
    )]
    KwpLengthNotMultipleOf8 { kwp_len: usize },
    #[error(
        "RSA-OAEP (SHA-1, MGF1-SHA-1, empty label) decryption of the first {rsa_len} bytes failed: the file was wrapped for another KEK or with other OAEP parameters, or those bytes are damaged; export it again for this KEK"
    )]
    RsaOaep { rsa_len: usize },
    #[error(
        "the RSA-OAEP part holds a {0}-byte key, not a 32-byte AES-256 key: the exporter used another AES key size; export again with AES-256"
    )]
    WrongAesKeyLength(usize),
    #[error(
        "RFC 5649 unwrap failed its integrity check: the AES-KWP part is damaged, or was wrapped with another mechanism (e.g. RFC 3394 with PKCS#7 padding, which some tokens call CKM_AES_KEY_WRAP_PAD); export it again"
    )]
    KwpIntegrity,
    #[error(
        "the unwrapped {len} bytes are neither a PKCS#8 private key nor a 16/24/32-byte AES key: the exporter wrapped something else; export the key again"
    )]
    NotAKey { len: usize },
    #[error(
        "the unwrapped PKCS#8 is followed by {count} bytes that are not all zero: the plaintext is corrupt; export the key again"
    )]
    TrailingGarbage { count: usize },
    #[error(
        "the unwrapped PKCS#8 holds a key of algorithm {0}; Azure imports only RSA and EC keys this way: export an RSA or EC key"
    )]
    UnsupportedAlgorithm(String),
    #[error(
        "the unwrapped EC key is on curve {0}; Azure supports P-256, P-384, P-521 and P-256K: generate the key on one of those"
    )]
    UnsupportedCurve(String),
    #[error(
        "the unwrapped PKCS#8 holds an invalid RSA key ({0}): the HSM exported a damaged key; export it again"
    )]
    BadRsaKey(String),
    #[error(
        "the unwrapped PKCS#8 holds an invalid {curve} key ({reason}): the HSM exported a damaged key; export it again"
    )]
    BadEcKey { curve: EcCurve, reason: String },
}

/// What to check a file against.
#[derive(Clone, Copy)]
pub struct VerifyInputs<'a> {
    /// The KEK the file must be wrapped for.
    pub kek: &'a Kek,
    /// The kid the header must carry; must equal the KEK's kid when that is known.
    pub kid: Option<&'a str>,
    /// The KEK's private key: only a simulated (rehearsal) KEK has one.
    pub kek_private: Option<&'a RsaPrivateKey>,
    /// The SPKI DER the recovered key's public key must equal (the ceremony's recorded key).
    pub expected_public_spki_der: Option<&'a [u8]>,
    /// Report trailing zero bytes after the PKCS#8 (SoftHSM2 2.6.1) as a warning, not a problem.
    pub allow_zero_padding: bool,
}

impl<'a> VerifyInputs<'a> {
    /// Structure-only checks against `kek`; set the other fields as needed.
    pub fn new(kek: &'a Kek) -> VerifyInputs<'a> {
        VerifyInputs {
            kek,
            kid: None,
            kek_private: None,
            expected_public_spki_der: None,
            allow_zero_padding: false,
        }
    }
}

impl fmt::Debug for VerifyInputs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyInputs")
            .field("kek", &self.kek)
            .field("kid", &self.kid)
            .field("kek_private", &self.kek_private.map(|_| "(present)"))
            .field(
                "expected_public_spki_der",
                &self.expected_public_spki_der.map(Fingerprint::of),
            )
            .field("allow_zero_padding", &self.allow_zero_padding)
            .finish()
    }
}

/// The kind and size of a recovered target key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveredKeyKind {
    Rsa { bits: usize },
    Ec { curve: EcCurve },
    Oct { bits: usize },
}

/// Public facts about the key found inside a file. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredKey {
    pub kind: RecoveredKeyKind,
    /// SPKI DER of the public key (RSA and EC).
    pub public_spki_der: Option<Vec<u8>>,
    /// First 3 bytes of AES-ECB(key, zero block): PKCS#11 CKA_CHECK_VALUE (AES keys).
    pub oct_check_value: Option<[u8; 3]>,
    /// Zero bytes found after the PKCS#8 (a token that zero-pads before RFC 5649).
    pub trailing_zero_bytes: usize,
}

impl fmt::Display for RecoveredKeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecoveredKeyKind::Rsa { bits } => write!(f, "RSA-{bits}"),
            RecoveredKeyKind::Ec { curve } => write!(f, "EC {curve}"),
            RecoveredKeyKind::Oct { bits } => write!(f, "AES-{bits}"),
        }
    }
}

impl RecoveredKey {
    /// One line for people: kind and size, then the public key's SHA-256 or the AES check value.
    pub fn describe(&self) -> String {
        let mut text = format!("{} key", self.kind);
        if let Some(spki) = &self.public_spki_der {
            text.push_str(&format!(", public key SHA-256 {}", Fingerprint::of(spki)));
        }
        if let Some(check_value) = self.oct_check_value {
            text.push_str(&format!(", check value {}", hex::encode(check_value)));
        }
        if self.trailing_zero_bytes > 0 {
            text.push_str(&format!(
                ", followed by {} zero bytes of padding",
                self.trailing_zero_bytes
            ));
        }
        text
    }
}

/// The outcome of [`verify_byok`]: one line per problem and per warning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
    pub recovered: Option<RecoveredKey>,
}

impl VerifyReport {
    /// True when the file passed every check that could be made.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks a `.byok` file and reports every problem found. Later checks still run where they
/// make sense (e.g. a wrong `alg` does not stop the unwrap). The KEK's own warnings
/// ([`Kek::warnings`]) are not repeated here: the caller shows them once.
pub fn verify_byok(bytes: &[u8], inputs: &VerifyInputs<'_>) -> VerifyReport {
    let mut report = VerifyReport::default();
    let inspection = format::inspect(bytes);
    report
        .problems
        .extend(inspection.problems.iter().map(ToString::to_string));
    report.warnings.extend(inspection.warnings);
    let expected_kid = expected_kid(inputs, &mut report.problems);
    if let (Some(expected), Some(found)) = (expected_kid, &inspection.header_kid) {
        if found != expected {
            report.problems.push(format!(
                "header.kid is {found} but the KEK's kid is {expected}: the file was made for another KEK or KEK version; export it again for this KEK"
            ));
        }
    }
    let Some(file) = inspection.file else {
        return report;
    };
    if let Err(err) = check_length(file.ciphertext.len(), inputs.kek) {
        report.problems.push(err.to_string());
        return report;
    }
    match inputs.kek_private {
        Some(private) => unwrap_and_check(&file.ciphertext, private, inputs, &mut report),
        None => report.warnings.push(
            "no KEK private key was given, so the key inside was not unwrapped: only the file's structure, kid and length were checked".to_owned(),
        ),
    }
    report
}

/// The kid the header must carry: --kid if given (and consistent with the KEK), else the KEK's.
fn expected_kid<'a>(inputs: &VerifyInputs<'a>, problems: &mut Vec<String>) -> Option<&'a str> {
    let known = inputs.kek.kid().map(Kid::url);
    let Some(given) = inputs.kid else {
        if known.is_none() {
            problems.push(
                "the KEK's kid is unknown, so header.kid cannot be checked: pass --kid or the `az keyvault key show` JSON of the KEK".to_owned(),
            );
        }
        return known;
    };
    if let Err(err) = Kid::parse(given) {
        problems.push(err.to_string());
    }
    if let Some(known) = known.filter(|known| *known != given) {
        problems.push(format!(
            "--kid {given} differs from the KEK's kid {known}: pass the kid of the KEK you are checking against"
        ));
    }
    Some(given)
}

/// A ciphertext is modulus_len bytes of RSA-OAEP plus at least 16 bytes (a multiple of 8) of KWP.
fn check_length(len: usize, kek: &Kek) -> Result<(), VerifyError> {
    let modulus_len = kek.modulus_len();
    let min = modulus_len + KWP_MIN_LEN;
    if len < min {
        return Err(VerifyError::CiphertextTooShort {
            len,
            min,
            bits: kek.bits(),
            modulus_len,
        });
    }
    let kwp_len = len - modulus_len;
    if kwp_len % 8 != 0 {
        return Err(VerifyError::KwpLengthNotMultipleOf8 { kwp_len });
    }
    Ok(())
}

fn unwrap_and_check(
    ciphertext: &[u8],
    private: &RsaPrivateKey,
    inputs: &VerifyInputs<'_>,
    report: &mut VerifyReport,
) {
    if private.to_public_key() != *inputs.kek.public_key() {
        report.problems.push(format!(
            "the KEK private key given is not the private half of the KEK (SHA-256 {}): pass the matching private key",
            inputs.kek.fingerprint()
        ));
        return;
    }
    let recovered =
        unwrap_ciphertext(ciphertext, private).and_then(|plaintext| classify_plaintext(&plaintext));
    match recovered {
        Ok(key) => {
            check_recovered(&key, inputs, report);
            report.recovered = Some(key);
        }
        Err(err) => report.problems.push(err.to_string()),
    }
}

fn check_recovered(key: &RecoveredKey, inputs: &VerifyInputs<'_>, report: &mut VerifyReport) {
    if key.trailing_zero_bytes > 0 {
        let line = format!(
            "{} trailing zero bytes after the PKCS#8 (a token that zero-pads before RFC 5649, e.g. SoftHSM2 2.6.1): rehearsal-grade only",
            key.trailing_zero_bytes
        );
        if inputs.allow_zero_padding {
            report.warnings.push(line);
        } else {
            report.problems.push(line);
        }
    }
    check_kind(key.kind, inputs.kek, report);
    if let Some(expected) = inputs.expected_public_spki_der {
        if let Err(problem) = compare_public(key, expected) {
            report.problems.push(problem);
        }
    }
}

fn check_kind(kind: RecoveredKeyKind, kek: &Kek, report: &mut VerifyReport) {
    match kind {
        RecoveredKeyKind::Rsa { bits } if !ALLOWED_KEK_BITS.contains(&bits) => {
            report.problems.push(format!(
                "the file holds an RSA-{bits} key; Azure imports RSA keys of 2048, 3072 or 4096 bits: generate a key of one of those sizes"
            ));
        }
        RecoveredKeyKind::Oct { .. } => match kek.kid() {
            Some(kid) if kid.host_is_known() && !kid.is_managed_hsm() => {
                report.problems.push(
                    "the file holds an AES (oct-HSM) key, but the KEK is in a Key Vault, which accepts AES keys only in a Managed HSM: use a Managed HSM KEK".to_owned(),
                );
            }
            Some(kid) if kid.is_managed_hsm() => {}
            _ => report.warnings.push(
                "the file holds an AES (oct-HSM) key: only a Managed HSM imports those".to_owned(),
            ),
        },
        _ => {}
    }
}

/// Compares the recovered public key with the expected one, both in canonical DER.
pub(crate) fn compare_public(key: &RecoveredKey, expected_der: &[u8]) -> Result<(), String> {
    let Some(actual) = &key.public_spki_der else {
        return Err(
            "a public key to compare with was given, but the file holds an AES key, which has none: pass the AES check value instead".to_owned(),
        );
    };
    let expected = canonical_spki(expected_der).ok_or_else(|| {
        "the expected public key is not a valid RSA or EC (P-256, P-384, P-521, P-256K) SubjectPublicKeyInfo: pass the public key PEM the ceremony recorded".to_owned()
    })?;
    if *actual == expected {
        Ok(())
    } else {
        Err(format!(
            "the key in the file (public key SHA-256 {}) is not the expected key (SHA-256 {}): this file does not hold the key you expect",
            Fingerprint::of(actual),
            Fingerprint::of(&expected)
        ))
    }
}

/// Re-encodes an SPKI so that e.g. a compressed EC point compares equal to the uncompressed one.
fn canonical_spki(der: &[u8]) -> Option<Vec<u8>> {
    let spki = SubjectPublicKeyInfoRef::from_der(der).ok()?;
    let document = if spki.algorithm.oid == RSA_ENCRYPTION {
        RsaPublicKey::from_public_key_der(der)
            .ok()?
            .to_public_key_der()
    } else if spki.algorithm.oid == ID_EC_PUBLIC_KEY {
        let curve_oid = spki
            .algorithm
            .parameters?
            .decode_as::<ObjectIdentifier>()
            .ok()?;
        match EcCurve::from_oid(&curve_oid)? {
            EcCurve::P256 => p256::PublicKey::from_public_key_der(der)
                .ok()?
                .to_public_key_der(),
            EcCurve::P384 => p384::PublicKey::from_public_key_der(der)
                .ok()?
                .to_public_key_der(),
            EcCurve::P521 => p521::PublicKey::from_public_key_der(der)
                .ok()?
                .to_public_key_der(),
            EcCurve::P256K => k256::PublicKey::from_public_key_der(der)
                .ok()?
                .to_public_key_der(),
        }
    } else {
        return None;
    };
    document.ok().map(|doc| doc.into_vec())
}

/// Unwraps a ciphertext with the KEK's private key: RSA-OAEP-SHA-1 of the first modulus-length
/// bytes gives the AES-256 key, RFC 5649 of the rest gives the plaintext (which may still carry
/// a token's zero padding).
pub fn unwrap_ciphertext(
    ciphertext: &[u8],
    kek_private: &RsaPrivateKey,
) -> Result<Zeroizing<Vec<u8>>, VerifyError> {
    unwrap_ciphertext_with(ciphertext, kek_private, OaepHash::Sha1)
}

/// `unwrap_ciphertext` with RSA-OAEP of `oaep` (hash and MGF1), as Google Cloud and AWS allow.
pub fn unwrap_ciphertext_with(
    ciphertext: &[u8],
    kek_private: &RsaPrivateKey,
    oaep: OaepHash,
) -> Result<Zeroizing<Vec<u8>>, VerifyError> {
    let modulus_len = kek_private.size();
    let min = modulus_len + KWP_MIN_LEN;
    let (rsa_part, kwp_part) = match ciphertext.split_at_checked(modulus_len) {
        Some(parts) if ciphertext.len() >= min => parts,
        _ => {
            return Err(VerifyError::CiphertextTooShort {
                len: ciphertext.len(),
                min,
                bits: modulus_len * 8,
                modulus_len,
            });
        }
    };
    if kwp_part.len() % 8 != 0 {
        return Err(VerifyError::KwpLengthNotMultipleOf8 {
            kwp_len: kwp_part.len(),
        });
    }
    let aes_key = oaep_decrypt(kek_private, oaep, rsa_part)?;
    kwp_unwrap(&aes_key, kwp_part)
}

/// The key material under RSA-OAEP alone (Google Cloud's RSA_OAEP_*_SHA256, AWS's
/// RSAES_OAEP_*): exactly one RSA block.
pub fn unwrap_plain_oaep(
    ciphertext: &[u8],
    kek_private: &RsaPrivateKey,
    oaep: OaepHash,
) -> Result<Zeroizing<Vec<u8>>, VerifyError> {
    let modulus_len = kek_private.size();
    if ciphertext.len() != modulus_len {
        return Err(VerifyError::RsaOaep {
            rsa_len: modulus_len,
        });
    }
    oaep_decrypt(kek_private, oaep, ciphertext)
}

/// One RSA-OAEP block (MGF1 with the same hash, empty label), opened with the KEK's private key.
fn oaep_decrypt(
    kek_private: &RsaPrivateKey,
    oaep: OaepHash,
    block: &[u8],
) -> Result<Zeroizing<Vec<u8>>, VerifyError> {
    let decrypted = match oaep {
        OaepHash::Sha1 => kek_private.oaep_decrypt::<Sha1>(block),
        OaepHash::Sha256 => kek_private.oaep_decrypt::<Sha256>(block),
    };
    decrypted
        .map(Zeroizing::new)
        .map_err(|_| VerifyError::RsaOaep {
            rsa_len: kek_private.size(),
        })
}

/// RFC 5649 unwrap under an AES-256 key.
fn kwp_unwrap(aes_key: &[u8], wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, VerifyError> {
    let kwp = KwpAes256::new_from_slice(aes_key)
        .map_err(|_| VerifyError::WrongAesKeyLength(aes_key.len()))?;
    let mut buffer = Zeroizing::new(vec![0u8; wrapped.len().saturating_sub(8)]);
    let plaintext_len = kwp
        .unwrap_key(wrapped, &mut buffer)
        .map_err(|_| VerifyError::KwpIntegrity)?
        .len();
    buffer.truncate(plaintext_len);
    Ok(buffer)
}

/// Says what an unwrapped plaintext is: a raw AES key (16/24/32 bytes) or a PKCS#8 RSA or EC
/// private key, possibly followed by zero padding. Only public facts are returned.
pub fn classify_plaintext(plaintext: &[u8]) -> Result<RecoveredKey, VerifyError> {
    // No PKCS#8 RSA or EC key is this short, and an AES key may start with any byte.
    if matches!(plaintext.len(), 16 | 24 | 32) {
        return Ok(RecoveredKey {
            kind: RecoveredKeyKind::Oct {
                bits: plaintext.len() * 8,
            },
            public_spki_der: None,
            oct_check_value: Some(aes_check_value(plaintext)?),
            trailing_zero_bytes: 0,
        });
    }
    let (info, rest) =
        PrivateKeyInfoRef::from_der_partial(plaintext).map_err(|_| VerifyError::NotAKey {
            len: plaintext.len(),
        })?;
    if rest.iter().any(|&b| b != 0) {
        return Err(VerifyError::TrailingGarbage { count: rest.len() });
    }
    let (kind, spki) = if info.algorithm.oid == RSA_ENCRYPTION {
        rsa_public(info)?
    } else if info.algorithm.oid == ID_EC_PUBLIC_KEY {
        ec_public(info)?
    } else {
        return Err(VerifyError::UnsupportedAlgorithm(
            info.algorithm.oid.to_string(),
        ));
    };
    Ok(RecoveredKey {
        kind,
        public_spki_der: Some(spki),
        oct_check_value: None,
        trailing_zero_bytes: rest.len(),
    })
}

fn rsa_public(info: PrivateKeyInfoRef<'_>) -> Result<(RecoveredKeyKind, Vec<u8>), VerifyError> {
    let bad = |err: &dyn fmt::Display| VerifyError::BadRsaKey(err.to_string());
    let key = RsaPrivateKey::try_from(info).map_err(|e| bad(&e))?;
    key.validate().map_err(|e| bad(&e))?;
    let public = key.to_public_key();
    let bits = crate::byok::kek::bit_length(&public.n_bytes());
    let der = public.to_public_key_der().map_err(|e| bad(&e))?;
    Ok((RecoveredKeyKind::Rsa { bits }, der.into_vec()))
}

fn ec_public(info: PrivateKeyInfoRef<'_>) -> Result<(RecoveredKeyKind, Vec<u8>), VerifyError> {
    let curve_oid = info
        .algorithm
        .parameters
        .and_then(|params| params.decode_as::<ObjectIdentifier>().ok())
        .ok_or_else(|| VerifyError::UnsupportedCurve("(no named curve)".to_owned()))?;
    let curve = EcCurve::from_oid(&curve_oid)
        .ok_or_else(|| VerifyError::UnsupportedCurve(curve_oid.to_string()))?;
    let public = match curve {
        EcCurve::P256 => {
            p256::SecretKey::try_from(info).map(|k| k.public_key().to_public_key_der())
        }
        EcCurve::P384 => {
            p384::SecretKey::try_from(info).map(|k| k.public_key().to_public_key_der())
        }
        EcCurve::P521 => {
            p521::SecretKey::try_from(info).map(|k| k.public_key().to_public_key_der())
        }
        EcCurve::P256K => {
            k256::SecretKey::try_from(info).map(|k| k.public_key().to_public_key_der())
        }
    };
    let bad = |reason: String| VerifyError::BadEcKey { curve, reason };
    let der = public
        .map_err(|e| bad(e.to_string()))?
        .map_err(|e| bad(e.to_string()))?;
    Ok((RecoveredKeyKind::Ec { curve }, der.into_vec()))
}

/// PKCS#11 CKA_CHECK_VALUE of an AES key: the first 3 bytes of AES-ECB(key, 16 zero bytes).
pub fn aes_check_value(key: &[u8]) -> Result<[u8; 3], VerifyError> {
    let mut block = aes::Block::default();
    match key.len() {
        16 => aes::Aes128::new_from_slice(key).map(|c| c.encrypt_block(&mut block)),
        24 => aes::Aes192::new_from_slice(key).map(|c| c.encrypt_block(&mut block)),
        32 => aes::Aes256::new_from_slice(key).map(|c| c.encrypt_block(&mut block)),
        len => return Err(VerifyError::NotAKey { len }),
    }
    .map_err(|_| VerifyError::NotAKey { len: key.len() })?;
    Ok([block[0], block[1], block[2]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes_kw::KwpAes192;

    fn unhex(text: &str) -> Vec<u8> {
        hex::decode(text).expect("hex")
    }

    const RFC5649_KEK: &str = "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8";

    #[test]
    fn rfc5649_known_answers() {
        let kwp = KwpAes192::new_from_slice(&unhex(RFC5649_KEK)).expect("192-bit key");
        let cases = [
            (
                "c37b7e6492584340bed12207808941155068f738",
                "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a",
            ),
            ("466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"),
        ];
        for (plain, wrapped) in cases {
            let mut out = vec![0u8; plain.len() / 2 + 16];
            let got = kwp.wrap_key(&unhex(plain), &mut out).expect("wrap");
            assert_eq!(hex::encode(got), wrapped);
            let mut back = vec![0u8; wrapped.len() / 2 - 8];
            let unwrapped = kwp.unwrap_key(&unhex(wrapped), &mut back).expect("unwrap");
            assert_eq!(hex::encode(unwrapped), plain);
        }
    }

    #[test]
    fn zero_padded_known_answer_unwraps_with_the_zeros() {
        // What a token that zero-pads before RFC 5649 produces for the 20-byte plaintext.
        let kwp = KwpAes192::new_from_slice(&unhex(RFC5649_KEK)).expect("key");
        let wrapped = unhex("cf1e485360e1a8126f524d01771677f9400edb4d074f14116988d71e1588e367");
        let mut out = vec![0u8; wrapped.len() - 8];
        let plain = kwp.unwrap_key(&wrapped, &mut out).expect("unwrap");
        assert_eq!(
            hex::encode(plain),
            "c37b7e6492584340bed12207808941155068f73800000000"
        );
    }

    #[test]
    fn kwp_unwrap_rejects_tampering() {
        let key = [7u8; 32];
        let kwp = KwpAes256::new_from_slice(&key).expect("key");
        let mut wrapped = vec![0u8; 40];
        let len = kwp.wrap_key(&[1u8; 25], &mut wrapped).expect("wrap").len();
        wrapped.truncate(len);
        assert_eq!(
            kwp_unwrap(&key, &wrapped).expect("intact").as_slice(),
            [1u8; 25]
        );
        wrapped[len - 1] ^= 1;
        assert_eq!(kwp_unwrap(&key, &wrapped), Err(VerifyError::KwpIntegrity));
        assert_eq!(
            kwp_unwrap(&[7u8; 16], &wrapped),
            Err(VerifyError::WrongAesKeyLength(16))
        );
    }

    #[test]
    fn aes_check_values() {
        // FIPS-197 Appendix C: AES of 00112233..ff under 000102..; here the zero block under a
        // zero key, a widely published value: AES-128(0^128, 0^128) = 66e94bd4ef8a2c3b...
        assert_eq!(
            aes_check_value(&[0u8; 16]).expect("aes-128"),
            [0x66, 0xe9, 0x4b]
        );
        assert_eq!(
            aes_check_value(&[0u8; 24]).expect("aes-192"),
            [0xaa, 0xe0, 0x69]
        );
        assert_eq!(
            aes_check_value(&[0u8; 32]).expect("aes-256"),
            [0xdc, 0x95, 0xc0]
        );
        assert_eq!(
            aes_check_value(&[0u8; 20]),
            Err(VerifyError::NotAKey { len: 20 })
        );
    }

    #[test]
    fn classifies_aes_keys_by_length() {
        for len in [16, 24, 32] {
            let mut key = vec![0x30u8; len]; // starts like DER on purpose
            key[1] = 0x82;
            let found = classify_plaintext(&key).expect("an AES key");
            assert_eq!(found.kind, RecoveredKeyKind::Oct { bits: len * 8 });
            assert!(found.public_spki_der.is_none());
            assert!(found.oct_check_value.is_some());
        }
    }

    #[test]
    fn rejects_other_plaintexts() {
        assert_eq!(
            classify_plaintext(&[1u8; 40]),
            Err(VerifyError::NotAKey { len: 40 })
        );
        assert_eq!(
            classify_plaintext(&[]),
            Err(VerifyError::NotAKey { len: 0 })
        );
    }

    fn ec_pkcs8(curve: EcCurve) -> Vec<u8> {
        use pkcs8::EncodePrivateKey;
        let scalar = [0x11u8; 66];
        let doc = match curve {
            EcCurve::P256 => p256::SecretKey::from_slice(&scalar[..32]).map(|k| k.to_pkcs8_der()),
            EcCurve::P384 => p384::SecretKey::from_slice(&scalar[..48]).map(|k| k.to_pkcs8_der()),
            EcCurve::P521 => {
                let mut bytes = scalar;
                bytes[0] = 0x01; // below the P-521 order
                p521::SecretKey::from_slice(&bytes).map(|k| k.to_pkcs8_der())
            }
            EcCurve::P256K => k256::SecretKey::from_slice(&scalar[..32]).map(|k| k.to_pkcs8_der()),
        };
        doc.expect("valid scalar")
            .expect("encodes")
            .as_bytes()
            .to_vec()
    }

    #[test]
    fn classifies_ec_keys_on_every_curve() {
        for curve in EcCurve::ALL {
            let pkcs8 = ec_pkcs8(curve);
            let found = classify_plaintext(&pkcs8).expect("an EC key");
            assert_eq!(found.kind, RecoveredKeyKind::Ec { curve });
            let spki = found.public_spki_der.expect("public key");
            let parsed = SubjectPublicKeyInfoRef::from_der(&spki).expect("SPKI");
            assert_eq!(parsed.algorithm.oid, ID_EC_PUBLIC_KEY);
            assert_eq!(found.trailing_zero_bytes, 0);
        }
    }

    #[test]
    fn trailing_zeros_are_counted_and_garbage_rejected() {
        let mut padded = ec_pkcs8(EcCurve::P256);
        padded.extend_from_slice(&[0, 0, 0]);
        assert_eq!(
            classify_plaintext(&padded)
                .expect("padded")
                .trailing_zero_bytes,
            3
        );
        padded.push(1);
        assert_eq!(
            classify_plaintext(&padded),
            Err(VerifyError::TrailingGarbage { count: 4 })
        );
    }

    #[test]
    fn canonical_spki_accepts_compressed_points() {
        use p256::elliptic_curve::sec1::ToSec1Point;
        let secret = p256::SecretKey::from_slice(&[0x22u8; 32]).expect("scalar");
        let uncompressed = secret
            .public_key()
            .to_public_key_der()
            .expect("der")
            .into_vec();
        let point = secret.public_key().to_sec1_point(true);
        let curve_oid = EcCurve::P256.oid();
        let compressed = spki::SubjectPublicKeyInfoRef {
            algorithm: spki::AlgorithmIdentifierRef {
                oid: ID_EC_PUBLIC_KEY,
                parameters: Some((&curve_oid).into()),
            },
            subject_public_key: der::asn1::BitStringRef::from_bytes(point.as_bytes())
                .expect("bits"),
        };
        let compressed_der = der::Encode::to_der(&compressed).expect("der");
        assert_ne!(compressed_der, uncompressed);
        assert_eq!(canonical_spki(&compressed_der), Some(uncompressed));
        assert_eq!(canonical_spki(b"junk"), None);
    }
}
