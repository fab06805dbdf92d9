//! Ceremony outputs made in software for the tests: a .byok file wrapped exactly as the
//! ceremony wraps (RSA-OAEP SHA-1 of a fresh AES-256 key, then RFC 5649 of the key), and its
//! manifest, for RSA, EC and oct targets. KEKs come from the repository's test data.
use std::path::{Path, PathBuf};

use aes_kw::KwpAes256;
use aes_kw::cipher::KeyInit;
use byok_ceremony::byok::curve::EcCurve;
use byok_ceremony::byok::format::ByokFile;
use byok_ceremony::byok::kek::Kek;
use byok_ceremony::byok::simulated_kek::load_private_key;
use byok_ceremony::byok::verify::aes_check_value;
use byok_ceremony::manifest::{MANIFEST_VERSION, Manifest, ToolIdentity};
use pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use sha2::Digest;

pub fn repo_data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(rel)
}

/// A test KEK private key from the repository (2048 or 3072 bits).
pub fn kek_private(bits: usize) -> rsa::PrivateKey {
    load_private_key(&repo_data(&format!("independent/kek-{bits}.private.pem"))).expect("test KEK")
}

#[derive(Debug, Clone, Copy)]
pub enum TargetKind {
    Rsa,
    Ec(EcCurve),
    Oct(usize),
}

/// A .byok file and its manifest in a directory of their own.
pub struct Made {
    pub dir: tempfile::TempDir,
    pub byok: PathBuf,
    pub manifest: PathBuf,
    pub byok_bytes: Vec<u8>,
    pub manifest_value: Manifest,
    /// SPKI DER of the target (RSA and EC).
    pub public_spki: Option<Vec<u8>>,
    /// The key material that was wrapped (PKCS#8 DER, or the raw AES key).
    pub plaintext: Vec<u8>,
}

/// Wraps a target for `kek_public` under `kid` and writes NAME.byok and NAME.manifest.json.
pub fn make(kek_public: &rsa::PublicKey, kid: &str, target: TargetKind, rehearsal: bool) -> Made {
    let (plaintext, public_spki, check_value, kty, key_size, crv) = match target {
        TargetKind::Rsa => {
            let key = load_private_key(&repo_data("kek/rsa-2048.private.pem")).expect("target");
            let pkcs8 = key.to_pkcs8_der().expect("pkcs8").as_bytes().to_vec();
            let spki = key
                .to_public_key()
                .to_public_key_der()
                .expect("spki")
                .into_vec();
            (pkcs8, Some(spki), None, "RSA-HSM", Some(2048), None)
        }
        TargetKind::Ec(curve) => {
            let (pkcs8, spki) = ec_key(curve);
            (
                pkcs8,
                Some(spki),
                None,
                "EC-HSM",
                None,
                Some(curve.azure_name().to_owned()),
            )
        }
        TargetKind::Oct(bytes) => {
            let mut key = vec![0u8; bytes];
            getrandom::fill(&mut key).expect("random");
            let kcv = aes_check_value(&key).expect("kcv");
            (
                key,
                None,
                Some(hex::encode(kcv)),
                "oct-HSM",
                Some(bytes as u32 * 8),
                None,
            )
        }
    };
    let ciphertext = wrap(kek_public, &plaintext);
    let byok_bytes = ByokFile {
        kid: kid.to_owned(),
        ciphertext,
        generator: "byok-upload tests (software wrap)".to_owned(),
    }
    .to_json_bytes();
    let kek = Kek::from_public_key(kek_public.clone(), None).expect("kek");
    // Built as JSON and read with the strict parser, so optional fields added to the manifest
    // later keep their defaults here.
    let manifest = serde_json::json!({
        "manifest_version": MANIFEST_VERSION,
        "byok_file": "target.byok",
        "byok_sha256": hex::encode(sha2::Sha256::digest(&byok_bytes)),
        "kid": kid,
        "kty": kty,
        "key_size": key_size,
        "crv": crv,
        "public_key_pem": public_spki.as_deref().map(|der| {
            der::pem::encode_string("PUBLIC KEY", LineEnding::LF, der).expect("pem")
        }),
        "oct_check_value": check_value,
        "kek_fingerprint_sha256": kek.fingerprint().hex(),
        "kek_bits": kek.bits(),
        "tool": ToolIdentity::this(),
        "hsm": {
            "module": "software (tests)",
            "library": "none",
            "token": {
                "label": "tests", "manufacturer": "tests", "model": "software", "serial": "0",
                "firmware": "0", "hardware": "0", "protected_authentication_path": false
            }
        },
        "key_attributes": {
            "label": "target", "id_hex": "01", "token": false, "sensitive": true,
            "extractable": true, "local": true, "always_sensitive": true,
            "never_extractable": false
        },
        "wrap": {"method": "native", "kat": {
            "path": "native", "mechanism": "CKM_RSA_AES_KEY_WRAP", "oaep_hash": "sha-1",
            "vectors": 3, "outcome": {"result": "exact"}
        }},
        "rehearsal": rehearsal,
        "rehearsal_grade_reasons": [],
    });
    let mut object = manifest.as_object().cloned().expect("object");
    object.retain(|_, v| !v.is_null());
    let manifest = Manifest::parse(&serde_json::to_vec(&object).expect("json")).expect("manifest");
    let dir = tempfile::tempdir().expect("temp dir");
    let byok = dir.path().join("target.byok");
    let manifest_path = dir.path().join("target.manifest.json");
    std::fs::write(&byok, &byok_bytes).expect("write byok");
    write_manifest(&manifest_path, &manifest);
    Made {
        dir,
        byok,
        manifest: manifest_path,
        byok_bytes,
        manifest_value: manifest,
        public_spki,
        plaintext,
    }
}

/// The RSA-OAEP hash of a cloud's wrap (MGF1 the same, empty label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oaep {
    Sha1,
    Sha256,
}

/// A ceremony's output for Google Cloud or AWS: the manifest (with the KEK's fingerprint) and
/// the raw wrapped key beside it, `target.wrapped.bin`. `with_kwp`: RSA-OAEP of an AES-256
/// key then RFC 5649 of the material; otherwise the material under RSA-OAEP alone.
pub fn make_wrapped(
    kek_public: &rsa::PublicKey,
    target: TargetKind,
    oaep: Oaep,
    with_kwp: bool,
) -> (Made, PathBuf) {
    let made = make(
        kek_public,
        "https://127.0.0.1/keys/cloud-kek/00",
        target,
        false,
    );
    let wrapped = if with_kwp {
        wrap_with(kek_public, &made.plaintext, oaep)
    } else {
        oaep_encrypt(kek_public, &made.plaintext, oaep)
    };
    let path = made.dir.path().join("target.wrapped.bin");
    std::fs::write(&path, wrapped).expect("write wrapped");
    (made, path)
}

fn oaep_encrypt(kek_public: &rsa::PublicKey, data: &[u8], oaep: Oaep) -> Vec<u8> {
    match oaep {
        Oaep::Sha1 => kek_public.oaep_encrypt::<sha1::Sha1>(data),
        Oaep::Sha256 => kek_public.oaep_encrypt::<sha2::Sha256>(data),
    }
    .expect("OAEP")
}

/// The CKM_RSA_AES_KEY_WRAP construction with the given OAEP hash.
pub fn wrap_with(kek_public: &rsa::PublicKey, plaintext: &[u8], oaep: Oaep) -> Vec<u8> {
    let mut aes_key = [0u8; 32];
    getrandom::fill(&mut aes_key).expect("random");
    let mut out = oaep_encrypt(kek_public, &aes_key, oaep);
    let kwp = KwpAes256::new_from_slice(&aes_key).expect("AES-256 key");
    let mut wrapped = vec![0u8; plaintext.len() + 16];
    let len = kwp.wrap_key(plaintext, &mut wrapped).expect("wrap").len();
    out.extend_from_slice(&wrapped[..len]);
    out
}

pub fn write_manifest(path: &Path, manifest: &Manifest) {
    std::fs::write(path, manifest.to_json().expect("json")).expect("write manifest");
}

fn wrap(kek_public: &rsa::PublicKey, plaintext: &[u8]) -> Vec<u8> {
    wrap_with(kek_public, plaintext, Oaep::Sha1)
}

fn ec_key(curve: EcCurve) -> (Vec<u8>, Vec<u8>) {
    let mut scalar = [0u8; 66];
    getrandom::fill(&mut scalar).expect("random");
    scalar[0] = 0x01; // below the P-521 order; the other curves take a prefix
    scalar[1] &= 0x7f;
    let pair = |pkcs8: pkcs8::SecretDocument, spki: spki::Document| {
        (pkcs8.as_bytes().to_vec(), spki.into_vec())
    };
    match curve {
        EcCurve::P256 => {
            let k = p256::SecretKey::from_slice(&scalar[1..33]).expect("scalar");
            pair(
                k.to_pkcs8_der().expect("der"),
                k.public_key().to_public_key_der().expect("spki"),
            )
        }
        EcCurve::P384 => {
            let k = p384::SecretKey::from_slice(&scalar[1..49]).expect("scalar");
            pair(
                k.to_pkcs8_der().expect("der"),
                k.public_key().to_public_key_der().expect("spki"),
            )
        }
        EcCurve::P521 => {
            let k = p521::SecretKey::from_slice(&scalar).expect("scalar");
            pair(
                k.to_pkcs8_der().expect("der"),
                k.public_key().to_public_key_der().expect("spki"),
            )
        }
        EcCurve::P256K => {
            let k = k256::SecretKey::from_slice(&scalar[1..33]).expect("scalar");
            pair(
                k.to_pkcs8_der().expect("der"),
                k.public_key().to_public_key_der().expect("spki"),
            )
        }
    }
}
