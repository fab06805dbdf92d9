//! The Key Exchange Key (KEK): the RSA public key, created in the target Key Vault or Managed HSM
//! with `key_ops` exactly `["import"]`, under which the target key is wrapped.
//!
//! Accepted sources, auto-detected:
//! - SPKI PEM (`BEGIN PUBLIC KEY`), what `az keyvault key download --file kek.pem` writes;
//! - SPKI DER (`az keyvault key download --encoding DER`);
//! - PKCS#1 PEM (`BEGIN RSA PUBLIC KEY`);
//! - the JSON of `az keyvault key show` (`{"attributes":..,"key":{..},"managed":..,"releasePolicy":..,"tags":..}`),
//!   the REST key bundle, or a bare JWK (`{"kid","kty","key_ops","n","e"}`). The CLI prints
//!   `keyOps` and standard base64 for `n`/`e`; REST and JWK use `key_ops` and base64url: both are accepted.
//!
//! Everything is normalised to one canonical SPKI DER, whose SHA-256 is the KEK fingerprint
//! that custodians compare.

use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use der::Decode;
use der::asn1::ObjectIdentifier;
use rsa::pkcs1::RsaPublicKeyRef;
use rsa::pkcs8::EncodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, PublicKey as RsaPublicKey};
use spki::SubjectPublicKeyInfoRef;

use crate::byok::curve::{EcCurve, ID_EC_PUBLIC_KEY};
use crate::byok::fingerprint::Fingerprint;
use crate::byok::strict_json::{Json, ParseFailure, first_duplicate, member};

mod json;
mod kid;
mod modulus;
mod pem_der;

pub use kid::Kid;
/// RSA modulus sizes Azure offers for a KEK.
pub const ALLOWED_KEK_BITS: [usize; 3] = [2048, 3072, 4096];

/// Host suffixes of Key Vault and Managed HSM in the public and sovereign clouds
/// (the same list Microsoft's own clients treat as trusted Key Vault endpoints).
pub const KNOWN_HOST_SUFFIXES: [&str; 8] = [
    "vault.azure.net",
    "vault.azure.cn",
    "vault.usgovcloudapi.net",
    "vault.microsoftazure.de",
    "managedhsm.azure.net",
    "managedhsm.azure.cn",
    "managedhsm.usgovcloudapi.net",
    "managedhsm.microsoftazure.de",
];

use super::oids::{RSA_ENCRYPTION, RSASSA_PSS};
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// Top-level fields of `az keyvault key show` output (CLI spelling) and of the REST key bundle.
const KEY_BUNDLE_FIELDS: [&str; 6] = [
    "attributes",
    "key",
    "managed",
    "releasePolicy",
    "release_policy",
    "tags",
];
/// JWK fields the CLI prints (all of them, most null for an RSA public key), plus REST's `key_ops`.
const JWK_FIELDS: [&str; 17] = [
    "crv", "d", "dp", "dq", "e", "k", "keyOps", "key_ops", "kid", "kty", "n", "p", "q", "qi", "t",
    "x", "y",
];
/// JWK fields that would carry private or secret material; they must be absent or null.
const PRIVATE_JWK_FIELDS: [&str; 8] = ["d", "dp", "dq", "p", "q", "qi", "k", "t"];
/// EC-only JWK fields; an RSA KEK has them absent or null.
const EC_JWK_FIELDS: [&str; 3] = ["crv", "x", "y"];

/// Everything that can be wrong with a KEK source. Each message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum KekError {
    #[error(transparent)]
    Input(#[from] crate::media::input::InputError),
    #[error("cannot read {path}: {source}; check the path and its permissions")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the KEK file is empty: download the KEK again with `az keyvault key download --file kek.pem`"
    )]
    Empty,
    #[error(
        "the KEK file is UTF-16 text (PowerShell's `>` writes that): save it as UTF-8, or let az write it with --file"
    )]
    Utf16,
    #[error(
        "unrecognised KEK format: expected a PEM public key (BEGIN PUBLIC KEY), SPKI DER (or its base64, as the AWS CLI prints it), or the JSON of `az keyvault key show`"
    )]
    UnrecognisedFormat,
    #[error(
        "there is text before the PEM block: the file must hold only the public key, as `az keyvault key download` writes it"
    )]
    TextBeforePem,
    #[error(
        "the file holds {0} PEM blocks; it must hold exactly one, the KEK's public key: keep only the KEK"
    )]
    SeveralPemBlocks(usize),
    #[error("trailing data after the {0}: the file must hold only the KEK; download it again")]
    TrailingData(&'static str),
    #[error(
        "the PEM block is malformed ({0}): download the KEK again with `az keyvault key download`"
    )]
    BadPem(String),
    #[error("the PEM block is {label:?}, not a public key: {hint}")]
    WrongPemLabel { label: String, hint: &'static str },
    #[error(
        "the DER is not an RSA SubjectPublicKeyInfo ({0}): download the KEK again with `az keyvault key download --encoding DER`"
    )]
    BadDer(String),
    #[error(
        "the KEK is {0}, not an RSA key: a Key Vault KEK is an RSA-HSM key created with `--kty RSA-HSM --ops import`"
    )]
    NotRsa(String),
    #[error(
        "the SubjectPublicKeyInfo is not in canonical DER form, so its fingerprint would not be the KEK's: download the KEK again with `az keyvault key download`"
    )]
    NonCanonicalDer,
    #[error(
        "the KEK is a {0}-bit RSA key; Azure KEKs are 2048, 3072 or 4096 bits: create the KEK with --size 2048, 3072 or 4096"
    )]
    UnsupportedSize(usize),
    #[error(
        "the KEK's public exponent is {0}, not 65537 as in every Key Vault key: check that this is the KEK you downloaded"
    )]
    UnsupportedExponent(String),
    #[error("the KEK's RSA modulus is invalid ({0}): download the KEK again")]
    BadModulus(String),
    #[error(
        "the KEK JSON is not valid JSON ({0}): pass the unmodified output of `az keyvault key show`"
    )]
    BadJson(String),
    #[error(
        "the KEK JSON is {0}, not one key object: pass the output of `az keyvault key show` for the KEK (not `key list`)"
    )]
    NotAKeyObject(&'static str),
    #[error(
        "the KEK JSON has the key {0:?} twice: pass the unmodified output of `az keyvault key show`"
    )]
    DuplicateJsonKey(String),
    #[error(
        "the KEK JSON has an unexpected field {0:?}: pass the unmodified output of `az keyvault key show`, or use the PEM from `az keyvault key download`"
    )]
    UnknownJsonField(String),
    #[error("the KEK JSON has no {0:?}: pass the full output of `az keyvault key show`")]
    MissingJsonField(String),
    #[error(
        "the KEK JSON field {field:?} is {found}, expected {expected}: pass the unmodified output of `az keyvault key show`"
    )]
    WrongJsonType {
        field: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error(
        "the KEK JSON field {0:?} holds private or secret key material, which never belongs in a KEK export: check what you exported and where else it went"
    )]
    PrivateMaterial(String),
    #[error(
        "the KEK JSON field {field:?} is not valid base64 ({reason}): pass the unmodified output of `az keyvault key show`"
    )]
    BadBase64 { field: String, reason: String },
    #[error(
        "kty is {0:?}, but a BYOK KEK must be an RSA-HSM key: create one with `az keyvault key create --kty RSA-HSM --ops import`"
    )]
    WrongKty(String),
    #[error(
        "key_ops is {0}, but a BYOK KEK must have exactly [\"import\"]: create one with `az keyvault key create --kty RSA-HSM --ops import`"
    )]
    WrongKeyOps(String),
    #[error(
        "invalid kid {kid:?}: {reason}; copy the full versioned kid (https://VAULT.vault.azure.net/keys/NAME/VERSION) from `az keyvault key show`"
    )]
    BadKid { kid: String, reason: String },
    #[error(
        "the public key file (SHA-256 {file}) and the JSON (SHA-256 {json}) are different keys: pass the PEM and the `az keyvault key show` output of the same KEK version"
    )]
    KeyMismatch { file: String, json: String },
    #[error(
        "the kid {given} does not match the KEK JSON's kid {json}: use the kid of the KEK version you downloaded"
    )]
    KidMismatch { given: String, json: String },
    #[error(
        "{0} is not JSON with a kid: pass the output of `az keyvault key show` as the KEK JSON"
    )]
    JsonExpected(String),
}

/// A validated KEK: an RSA public key of an allowed size with exponent 65537, its canonical
/// SPKI DER, the kid when known, and warnings for the custodians.
#[derive(Clone)]
pub struct Kek {
    public_key: RsaPublicKey,
    spki_der: Vec<u8>,
    kid: Option<Kid>,
    warnings: Vec<String>,
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kek")
            .field("bits", &self.bits())
            .field("fingerprint", &self.fingerprint())
            .field("kid", &self.kid.as_ref().map(Kid::url))
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// Only base64 characters and whitespace, as the AWS CLI's `--query PublicKey --output text`.
fn looks_like_base64(bytes: &[u8]) -> bool {
    bytes.len() >= 64
        && bytes.iter().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=') || b.is_ascii_whitespace()
        })
}

impl Kek {
    /// Validates an RSA public key as a KEK (size and exponent) and records its kid.
    pub fn from_public_key(public_key: RsaPublicKey, kid: Option<Kid>) -> Result<Kek, KekError> {
        let n = public_key.n_bytes();
        let e = public_key.e_bytes();
        let mut kek = Kek::from_n_e(&n, &e)?;
        if let Some(kid) = kid {
            kek.set_kid(kid);
        }
        Ok(kek)
    }

    /// Detects the format (PEM, DER, JSON) and loads the KEK from it.
    pub fn from_bytes(bytes: &[u8]) -> Result<Kek, KekError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(KekError::Empty);
        }
        if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
            return Err(KekError::Utf16);
        }
        // Windows editors add a UTF-8 byte-order mark; it carries no meaning, so skip it.
        let (bytes, bom) = match bytes.strip_prefix(&[0xef, 0xbb, 0xbf]) {
            Some(rest) => (rest, true),
            None => (bytes, false),
        };
        let mut kek = Kek::from_detected(bytes)?;
        if bom {
            kek.push_warning(
                "the KEK file starts with a UTF-8 byte-order mark, which was ignored".to_owned(),
            );
        }
        Ok(kek)
    }

    fn from_detected(bytes: &[u8]) -> Result<Kek, KekError> {
        if bytes.first() == Some(&0x30) {
            return Kek::from_spki_der(bytes);
        }
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'-') => Kek::from_pem(bytes),
            Some(b'{') | Some(b'[') => Kek::from_json(bytes),
            // A PEM block after other text: let the PEM reader say what is wrong.
            _ if contains(bytes, b"-----BEGIN ") => Kek::from_pem(bytes),
            // The AWS CLI prints GetParametersForImport's PublicKey as base64 of the DER.
            _ if looks_like_base64(bytes) => {
                use base64::Engine as _;
                let text: Vec<u8> = bytes
                    .iter()
                    .copied()
                    .filter(|b| !b.is_ascii_whitespace())
                    .collect();
                match base64::engine::general_purpose::STANDARD.decode(&text) {
                    Ok(der) if der.first() == Some(&0x30) => Kek::from_spki_der(&der),
                    _ => Err(KekError::UnrecognisedFormat),
                }
            }
            _ => Err(KekError::UnrecognisedFormat),
        }
    }

    /// Loads the KEK from `path` (any format). With `json_path` (the `az keyvault key show`
    /// output), both must be the same key and the kid comes from the JSON. With `kid`, it must
    /// equal the JSON's kid when there is one.
    pub fn load(path: &Path, json_path: Option<&Path>, kid: Option<&str>) -> Result<Kek, KekError> {
        let mut kek = Kek::from_bytes(&crate::media::input::read_input(
            path,
            crate::media::input::KEK,
        )?)?;
        if let Some(json_path) = json_path {
            let from_json = Kek::from_bytes(&crate::media::input::read_input(
                json_path,
                crate::media::input::KEK,
            )?)?;
            if from_json.kid.is_none() {
                return Err(KekError::JsonExpected(json_path.display().to_string()));
            }
            kek = kek.merge(from_json)?;
        }
        match kid {
            Some(kid) => kek.with_kid(kid),
            None => Ok(kek),
        }
    }

    /// Sets the kid, or checks it against the one already known (from JSON).
    pub fn with_kid(mut self, kid: &str) -> Result<Kek, KekError> {
        let kid = Kid::parse(kid)?;
        match &self.kid {
            Some(known) if known.url() != kid.url() => Err(KekError::KidMismatch {
                given: kid.url().to_owned(),
                json: known.url().to_owned(),
            }),
            _ => {
                self.set_kid(kid);
                Ok(self)
            }
        }
    }

    /// Combines two sources of the same KEK (e.g. PEM and JSON); they must be the same key.
    fn merge(mut self, other: Kek) -> Result<Kek, KekError> {
        if self.spki_der != other.spki_der {
            return Err(KekError::KeyMismatch {
                file: self.fingerprint().hex(),
                json: other.fingerprint().hex(),
            });
        }
        for warning in other.warnings {
            self.push_warning(warning);
        }
        if let Some(kid) = other.kid {
            if let Some(known) = &self.kid {
                if known.url() != kid.url() {
                    return Err(KekError::KidMismatch {
                        given: known.url().to_owned(),
                        json: kid.url().to_owned(),
                    });
                }
            }
            self.set_kid(kid);
        }
        Ok(self)
    }

    fn set_kid(&mut self, kid: Kid) {
        for warning in kid.warnings() {
            self.push_warning(warning);
        }
        self.kid = Some(kid);
    }

    fn push_warning(&mut self, warning: String) {
        if !self.warnings.contains(&warning) {
            self.warnings.push(warning);
        }
    }

    pub fn public_key(&self) -> &RsaPublicKey {
        &self.public_key
    }

    /// Canonical SubjectPublicKeyInfo DER (what `az keyvault key download --encoding DER` gives).
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    pub fn kid(&self) -> Option<&Kid> {
        self.kid.as_ref()
    }

    /// Modulus size in bits: 2048, 3072 or 4096.
    pub fn bits(&self) -> usize {
        self.modulus_len() * 8
    }

    /// Modulus size in bytes, which is also the length of the RSA-OAEP part of a ciphertext.
    pub fn modulus_len(&self) -> usize {
        self.public_key.size()
    }

    /// The modulus, big-endian, without leading zeros.
    pub fn modulus_be(&self) -> Vec<u8> {
        self.public_key.n_bytes().into_vec()
    }

    /// The public exponent, big-endian (always 01 00 01).
    pub fn exponent_be(&self) -> Vec<u8> {
        self.public_key.e_bytes().into_vec()
    }

    /// SHA-256 over the SPKI DER.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.spki_der)
    }

    /// Things to show the custodians (unknown host, ignored BOM, kty "RSA", ...).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Builds a KEK from big-endian modulus and exponent after checking size and exponent.
    fn from_n_e(n: &[u8], e: &[u8]) -> Result<Kek, KekError> {
        let n = strip_leading_zeros(n);
        let e = strip_leading_zeros(e);
        let bits = bit_length(n);
        if !ALLOWED_KEK_BITS.contains(&bits) {
            return Err(KekError::UnsupportedSize(bits));
        }
        if e != [0x01, 0x00, 0x01] {
            return Err(KekError::UnsupportedExponent(describe_exponent(e)));
        }
        if n.last().is_some_and(|b| b % 2 == 0) {
            return Err(KekError::BadModulus("the modulus is even".to_owned()));
        }
        if let Some(why) = modulus::weakness(n) {
            return Err(KekError::BadModulus(format!(
                "{why}, so anyone can factor it and unwrap what it protects"
            )));
        }
        let precision = u32::try_from(n.len() * 8)
            .map_err(|_| KekError::BadModulus("the modulus is too long".to_owned()))?;
        let modulus = BoxedUint::from_be_slice(n, precision)
            .map_err(|err| KekError::BadModulus(format!("{err:?}")))?;
        let public_key = RsaPublicKey::new(modulus, BoxedUint::from(65537u32))
            .map_err(|err| KekError::BadModulus(err.to_string()))?;
        let spki_der = public_key
            .to_public_key_der()
            .map_err(|err| KekError::BadModulus(err.to_string()))?
            .into_vec();
        Ok(Kek {
            public_key,
            spki_der,
            kid: None,
            warnings: Vec::new(),
        })
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

pub(crate) fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// Bit length of a big-endian integer without leading zero bytes.
pub(crate) fn bit_length(n: &[u8]) -> usize {
    match n.first() {
        Some(&top) => n.len() * 8 - top.leading_zeros() as usize,
        None => 0,
    }
}

fn describe_exponent(e: &[u8]) -> String {
    if e.len() <= 8 {
        let value = e.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        value.to_string()
    } else {
        format!("0x{}", hex::encode(e))
    }
}

#[cfg(test)]
mod tests {
    use super::json::{decode_base64_any, duplicate_anywhere};
    use super::pem_der::single_pem_block;
    use super::*;

    const VERSION: &str = "0123456789abcdef0123456789abcdef";

    fn kid(host: &str) -> String {
        format!("https://{host}/keys/kek/{VERSION}")
    }

    #[test]
    fn kid_parts() {
        let kid = Kid::parse(&kid("contoso.vault.azure.net")).expect("valid kid");
        assert_eq!(kid.host(), "contoso.vault.azure.net");
        assert_eq!(kid.name(), "kek");
        assert_eq!(kid.version(), VERSION);
        assert_eq!(
            kid.url(),
            format!("https://contoso.vault.azure.net/keys/kek/{VERSION}")
        );
        assert!(kid.host_is_known());
        assert!(!kid.is_managed_hsm());
        assert!(kid.warnings().is_empty());
    }

    #[test]
    fn known_hosts_and_managed_hsm() {
        for suffix in KNOWN_HOST_SUFFIXES {
            let kid = Kid::parse(&kid(&format!("name.{suffix}"))).expect("valid kid");
            assert!(kid.host_is_known(), "{suffix}");
            assert_eq!(
                kid.is_managed_hsm(),
                suffix.starts_with("managedhsm."),
                "{suffix}"
            );
        }
        for host in [
            "vault.azure.net.evil.example",
            "a.b.vault.azure.net",
            "xvault.azure.net",
        ] {
            let kid = Kid::parse(&kid(host)).expect("syntactically valid");
            assert!(!kid.host_is_known(), "{host}");
            assert!(
                kid.warnings()[0].contains("not a known Key Vault"),
                "{host}"
            );
        }
    }

    #[test]
    fn a_port_is_kept_and_makes_the_host_unknown() {
        for host in [
            "127.0.0.1:8443",
            "contoso.vault.azure.net:443",
            "a.b:1",
            "a.b:65535",
        ] {
            let text = kid(host);
            let kid = Kid::parse(&text).expect("a kid with a port is valid");
            assert_eq!(kid.host(), host);
            assert_eq!(kid.url(), text);
            assert_eq!(kid.name(), "kek");
            assert_eq!(kid.version(), VERSION);
            assert!(!kid.host_is_known(), "{host}");
            assert!(!kid.is_managed_hsm(), "{host}");
            assert!(
                kid.warnings()[0].contains("not a known Key Vault"),
                "{host}: {:?}",
                kid.warnings()
            );
        }
    }

    #[test]
    fn uppercase_host_is_a_warning() {
        let kid = Kid::parse(&kid("Contoso.vault.azure.net")).expect("valid");
        assert!(kid.host_is_known());
        assert!(kid.warnings().iter().any(|w| w.contains("capital letters")));
    }

    #[test]
    fn bad_kids() {
        let base = "https://contoso.vault.azure.net";
        let cases = [
            (String::new(), "empty"),
            (format!(" {base}/keys/kek/{VERSION}"), "whitespace"),
            (
                format!("http://contoso.vault.azure.net/keys/kek/{VERSION}"),
                "http://",
            ),
            (
                format!("ftp://contoso.vault.azure.net/keys/kek/{VERSION}"),
                "https://",
            ),
            (format!("{base}/keys/kek"), "no version"),
            (format!("{base}/keys/kek/"), "not 32 lowercase"),
            (format!("{base}/keys/kek/{VERSION}/"), "extra path"),
            (format!("{base}/keys/kek/{VERSION}/x"), "extra path"),
            (format!("{base}/secrets/kek/{VERSION}"), "/secrets/"),
            (
                format!("{base}/keys/kek/{VERSION}?api-version=7.4"),
                "query",
            ),
            (format!("{base}/keys/kek/{VERSION}#x"), "fragment"),
            (
                format!("{base}/keys/kek/ABCDEF0123456789abcdef0123456789"),
                "lowercase",
            ),
            (format!("{base}/keys/kek/0123"), "32"),
            (format!("{base}/keys/k_ek/{VERSION}"), "key name"),
            (
                format!("https://contoso.vault.azure.net:/keys/kek/{VERSION}"),
                "port",
            ),
            (format!("https://127.0.0.1:0/keys/kek/{VERSION}"), "port"),
            (
                format!("https://127.0.0.1:08443/keys/kek/{VERSION}"),
                "port",
            ),
            (
                format!("https://127.0.0.1:65536/keys/kek/{VERSION}"),
                "port",
            ),
            (format!("https://127.0.0.1:+443/keys/kek/{VERSION}"), "port"),
            (format!("https://127.0.0.1:44a/keys/kek/{VERSION}"), "port"),
            (format!("https://127.0.0.1:1:2/keys/kek/{VERSION}"), "port"),
            (format!("https://:8443/keys/kek/{VERSION}"), "DNS name"),
            (
                format!("https://localhost:8443/keys/kek/{VERSION}"),
                "DNS name",
            ),
            (format!("https://localhost/keys/kek/{VERSION}"), "DNS name"),
            (format!("https:///keys/kek/{VERSION}"), "DNS name"),
        ];
        for (text, expected) in cases {
            let err = Kid::parse(&text).expect_err(&text);
            let message = err.to_string();
            assert!(message.contains(expected), "{text}: {message}");
            assert!(message.contains("copy the full versioned kid"), "{message}");
        }
    }

    #[test]
    fn pem_framing() {
        let block = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----";
        assert_eq!(
            single_pem_block(&format!("\n{block}\n\n")).expect("ok"),
            block
        );
        assert_eq!(
            single_pem_block(&format!("{}\r\n", block.replace('\n', "\r\n"))).expect("ok"),
            block.replace('\n', "\r\n")
        );
        assert!(matches!(
            single_pem_block(&format!("{block}\n{block}\n")),
            Err(KekError::SeveralPemBlocks(2))
        ));
        assert!(matches!(
            single_pem_block(&format!("{block}\ngarbage\n")),
            Err(KekError::TrailingData(_))
        ));
        assert!(matches!(
            single_pem_block(&format!("Key: kek\n{block}")),
            Err(KekError::TextBeforePem)
        ));
        assert!(matches!(
            single_pem_block("-----BEGIN PUBLIC KEY-----\nAAAA\n"),
            Err(KekError::BadPem(_))
        ));
    }

    #[test]
    fn base64_in_either_alphabet() {
        assert_eq!(decode_base64_any("n", "AQAB").expect("ok"), [1, 0, 1]);
        assert_eq!(decode_base64_any("n", "-_8").expect("ok"), [0xfb, 0xff]);
        assert_eq!(decode_base64_any("n", "+/8=").expect("ok"), [0xfb, 0xff]);
        assert_eq!(decode_base64_any("n", "+/8").expect("ok"), [0xfb, 0xff]);
        let err = decode_base64_any("key.n", "+_8").expect_err("mixed");
        assert!(err.to_string().contains("mixes"), "{err}");
        assert!(decode_base64_any("key.n", "AQ AB").is_err());
    }

    #[test]
    fn integer_helpers() {
        assert_eq!(bit_length(&[0x01, 0x00]), 9);
        assert_eq!(bit_length(&[0x80, 0x00]), 16);
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(strip_leading_zeros(&[0, 0, 1, 0]), [1, 0]);
        assert_eq!(describe_exponent(&[3]), "3");
        assert_eq!(describe_exponent(&[1; 9]), "0x010101010101010101");
    }

    #[test]
    fn format_detection_errors() {
        assert!(matches!(Kek::from_bytes(b""), Err(KekError::Empty)));
        assert!(matches!(Kek::from_bytes(b" \n\t"), Err(KekError::Empty)));
        assert!(matches!(
            Kek::from_bytes(b"\xff\xfe{\x00"),
            Err(KekError::Utf16)
        ));
        assert!(matches!(
            Kek::from_bytes(b"hello"),
            Err(KekError::UnrecognisedFormat)
        ));
        assert!(matches!(
            Kek::from_bytes(b"[]"),
            Err(KekError::NotAKeyObject("an array"))
        ));
        assert!(matches!(
            Kek::from_bytes(b"\x30\x03\x02\x01\x00"),
            Err(KekError::BadDer(_))
        ));
    }

    #[test]
    fn json_duplicates_are_found_at_any_depth() {
        let json = Json::parse(br#"{"key":{"kty":"RSA","kty":"RSA"}}"#).expect("valid");
        assert_eq!(duplicate_anywhere(&json).as_deref(), Some("key.kty"));
        let err = Kek::from_bytes(br#"{"key":{"kty":"RSA-HSM"},"key":{}}"#).expect_err("dup");
        assert!(matches!(err, KekError::DuplicateJsonKey(k) if k == "key"));
    }
}
