//! `verify_byok` must reject every kind of damaged or wrong `.byok` file with a specific line.
//! The base is a valid file from the independent implementation (tests/data/independent).

use std::path::{Path, PathBuf};

use aes_kw::KwpAes256;
use aes_kw::cipher::KeyInit;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use byok_ceremony::byok::format::ByokFile;
use byok_ceremony::byok::simulated_kek::SimulatedKek;
use byok_ceremony::byok::verify::{VerifyInputs, VerifyReport, verify_byok};
use pkcs8::EncodePrivateKey;
use serde_json::Value;
use sha1::Sha1;

const VALID: &str = "rsa-2048.kek-2048.byok";

fn data(name: &str) -> Vec<u8> {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/independent")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn manifest_kid(file: &str) -> String {
    let manifest: Value = serde_json::from_slice(&data("manifest.json")).expect("manifest");
    let entry = manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|e| e["file"] == file)
        .expect("entry");
    entry["kid"].as_str().expect("kid").to_owned()
}

fn kek(bits: u64, file: &str) -> SimulatedKek {
    let pem = String::from_utf8(data(&format!("kek-{bits}.private.pem"))).expect("PEM");
    SimulatedKek::from_private_pem(&pem, &manifest_kid(file)).expect("test KEK")
}

fn kek_2048() -> SimulatedKek {
    kek(2048, VALID)
}

fn valid_text() -> String {
    String::from_utf8(data(VALID)).expect("UTF-8")
}

fn valid_json() -> Value {
    serde_json::from_slice(&data(VALID)).expect("JSON")
}

fn ciphertext() -> Vec<u8> {
    ByokFile::parse(&data(VALID))
        .expect("valid")
        .file
        .ciphertext
}

fn with_ciphertext(ciphertext: &[u8]) -> Vec<u8> {
    let mut json = valid_json();
    json["ciphertext"] = Value::from(URL_SAFE_NO_PAD.encode(ciphertext));
    serde_json::to_vec(&json).expect("serialise")
}

fn verify_with(bytes: &[u8], simulated: &SimulatedKek) -> VerifyReport {
    let inputs = VerifyInputs {
        kek_private: Some(simulated.private_key()),
        ..VerifyInputs::new(simulated.kek())
    };
    verify_byok(bytes, &inputs)
}

fn verify(bytes: &[u8]) -> VerifyReport {
    verify_with(bytes, &kek_2048())
}

/// Asserts the file is rejected and some problem line contains every one of `needles`.
fn assert_rejected(report: &VerifyReport, needles: &[&str]) {
    assert!(!report.is_ok(), "accepted; expected {needles:?}");
    let hit = report
        .problems
        .iter()
        .any(|line| needles.iter().all(|n| line.contains(n)));
    assert!(
        hit,
        "no problem mentions {needles:?}: {:#?}",
        report.problems
    );
}

#[test]
fn the_base_file_is_valid() {
    let report = verify(&data(VALID));
    assert!(report.is_ok(), "{:?}", report.problems);
    assert!(report.recovered.is_some());
}

#[test]
fn wrong_kid() {
    let kid = manifest_kid(VALID);
    let other = format!("{}0123456789abcdef0123456789abcdef", &kid[..kid.len() - 32]);
    let text = valid_text().replace(&kid, &other);
    let report = verify(text.as_bytes());
    assert_rejected(&report, &["header.kid is", &other, "another KEK"]);
    assert!(report.recovered.is_some(), "the unwrap still ran");
}

#[test]
fn kid_override_must_match_the_keks_kid() {
    let simulated = kek_2048();
    let other = "https://elsewhere.vault.azure.net/keys/kek/0123456789abcdef0123456789abcdef";
    let inputs = VerifyInputs {
        kid: Some(other),
        ..VerifyInputs::new(simulated.kek())
    };
    let report = verify_byok(&data(VALID), &inputs);
    assert_rejected(&report, &["--kid", "differs from the KEK's kid"]);
    assert_rejected(&report, &["header.kid is"]);
}

#[test]
fn unknown_kid_cannot_be_checked() {
    let simulated = kek_2048();
    let kek = byok_ceremony::byok::kek::Kek::from_bytes(simulated.public_pem().as_bytes())
        .expect("public PEM");
    let report = verify_byok(&data(VALID), &VerifyInputs::new(&kek));
    assert_rejected(&report, &["kid is unknown", "--kid"]);
}

#[test]
fn wrong_alg_and_enc_are_both_reported() {
    let text = valid_text()
        .replace("\"alg\":\"dir\"", "\"alg\":\"RSA-OAEP-256\"")
        .replace(
            "\"enc\":\"CKM_RSA_AES_KEY_WRAP\"",
            "\"enc\":\"CKM_RSA_AES_KEY_WRAP_PAD\"",
        );
    let report = verify(text.as_bytes());
    assert_rejected(
        &report,
        &["header.alg is \"RSA-OAEP-256\"", "must be \"dir\""],
    );
    assert_rejected(&report, &["header.enc is \"CKM_RSA_AES_KEY_WRAP_PAD\""]);
    assert_eq!(report.problems.len(), 2, "{:?}", report.problems);
    assert!(report.recovered.is_some(), "the unwrap still ran");
}

#[test]
fn unknown_schema_version() {
    let text = valid_text().replace(
        "\"schema_version\":\"1.0.0\"",
        "\"schema_version\":\"1.1.0\"",
    );
    assert_rejected(
        &verify(text.as_bytes()),
        &["schema_version is \"1.1.0\"", "1.0.0"],
    );
}

#[test]
fn standard_base64() {
    let mut json = valid_json();
    let standard = STANDARD_NO_PAD.encode(ciphertext());
    assert!(
        standard.contains(['+', '/']),
        "test data should exercise the alphabet"
    );
    json["ciphertext"] = Value::from(standard);
    let report = verify(&serde_json::to_vec(&json).expect("serialise"));
    assert_rejected(&report, &["standard base64", "base64url"]);
}

#[test]
fn kid_is_checked_even_when_the_ciphertext_is_unreadable() {
    let kid = manifest_kid(VALID);
    let other = format!("{}0123456789abcdef0123456789abcdef", &kid[..kid.len() - 32]);
    let mut json = valid_json();
    json["header"]["kid"] = Value::from(other);
    json["ciphertext"] = Value::from("not+base64url");
    let report = verify(&serde_json::to_vec(&json).expect("serialise"));
    assert_rejected(&report, &["standard base64"]);
    assert_rejected(&report, &["header.kid is"]);
}

#[test]
fn padding_is_only_a_warning() {
    // aes-256 under the 3072-bit KEK: 384 + 40 bytes, so base64 needs "==".
    let file = "aes-256.kek-3072.byok";
    let simulated = kek(3072, file);
    let mut json: Value = serde_json::from_slice(&data(file)).expect("JSON");
    let ciphertext = ByokFile::parse(&data(file)).expect("valid").file.ciphertext;
    let padded = base64::engine::general_purpose::URL_SAFE.encode(ciphertext);
    assert!(padded.ends_with("=="), "{padded}");
    json["ciphertext"] = Value::from(padded);
    let report = verify_with(&serde_json::to_vec(&json).expect("serialise"), &simulated);
    assert!(report.is_ok(), "{:?}", report.problems);
    assert!(report.warnings.iter().any(|w| w.contains("'=' padding")));
}

#[test]
fn truncated_ciphertext() {
    let full = ciphertext();
    let by_a_block = verify(&with_ciphertext(&full[..full.len() - 8]));
    assert_rejected(&by_a_block, &["RFC 5649", "integrity check"]);
    let by_three = verify(&with_ciphertext(&full[..full.len() - 3]));
    assert_rejected(&by_three, &["not a multiple of 8", "truncated"]);
    let to_the_rsa_part = verify(&with_ciphertext(&full[..260]));
    assert_rejected(
        &to_the_rsa_part,
        &["ciphertext is 260 bytes", "272 bytes", "2048-bit KEK"],
    );
}

#[test]
fn flipped_bit_in_the_rsa_part() {
    let mut damaged = ciphertext();
    damaged[100] ^= 0x04;
    assert_rejected(
        &verify(&with_ciphertext(&damaged)),
        &["RSA-OAEP", "first 256 bytes"],
    );
}

#[test]
fn flipped_bit_in_the_kwp_part() {
    let mut damaged = ciphertext();
    damaged[256 + 40] ^= 0x80;
    assert_rejected(
        &verify(&with_ciphertext(&damaged)),
        &["RFC 5649", "integrity check"],
    );
}

#[test]
fn each_missing_field() {
    let removals: [(&str, Option<&str>); 7] = [
        ("schema_version", None),
        ("header", None),
        ("ciphertext", None),
        ("generator", None),
        ("header", Some("kid")),
        ("header", Some("alg")),
        ("header", Some("enc")),
    ];
    for (outer, inner) in removals {
        let mut json = valid_json();
        let path = match inner {
            None => {
                json.as_object_mut().expect("object").remove(outer);
                outer.to_owned()
            }
            Some(inner) => {
                json[outer].as_object_mut().expect("object").remove(inner);
                format!("{outer}.{inner}")
            }
        };
        let report = verify(&serde_json::to_vec(&json).expect("serialise"));
        assert_rejected(&report, &[&format!("missing field \"{path}\"")]);
    }
}

#[test]
fn unknown_fields_at_each_level() {
    let mut json = valid_json();
    json["kty"] = Value::from("RSA-HSM");
    assert_rejected(
        &verify(&serde_json::to_vec(&json).expect("serialise")),
        &["unknown field \"kty\""],
    );
    let mut json = valid_json();
    json["header"]["iv"] = Value::from("x");
    assert_rejected(
        &verify(&serde_json::to_vec(&json).expect("serialise")),
        &["unknown field \"header.iv\""],
    );
}

#[test]
fn duplicate_keys_and_wrong_types() {
    let text = valid_text().replacen(
        "{\"schema_version\":\"1.0.0\",",
        "{\"schema_version\":\"1.0.0\",\"schema_version\":\"1.0.0\",",
        1,
    );
    assert_rejected(
        &verify(text.as_bytes()),
        &["\"schema_version\" appears twice"],
    );
    let mut json = valid_json();
    json["generator"] = Value::from(7);
    assert_rejected(
        &verify(&serde_json::to_vec(&json).expect("serialise")),
        &["field \"generator\" is a number, expected a string"],
    );
}

#[test]
fn not_json_empty_and_trailing_data() {
    assert_rejected(&verify(b"this is not a byok file"), &["not JSON"]);
    assert_rejected(&verify(b"\x00\x01\x02"), &["not JSON"]);
    assert_rejected(&verify(b""), &["empty"]);
    assert_rejected(&verify(b"\n"), &["empty"]);
    let mut trailing = data(VALID);
    trailing.extend_from_slice(b"\n{}");
    assert_rejected(&verify(&trailing), &["trailing data after the JSON object"]);
    assert_rejected(&verify(b"[]"), &["not an object"]);
    let mut bom = b"\xef\xbb\xbf".to_vec();
    bom.extend_from_slice(&data(VALID));
    assert_rejected(&verify(&bom), &["byte-order mark"]);
}

#[test]
fn a_file_for_another_kek_is_rejected_on_every_count() {
    let report = verify(&data("rsa-2048.kek-3072.byok"));
    assert_rejected(&report, &["header.kid is"]);
    assert_rejected(&report, &["RSA-OAEP"]);
}

#[test]
fn the_wrong_kek_private_key() {
    let public = kek_2048();
    let other = kek(3072, "rsa-2048.kek-3072.byok");
    let inputs = VerifyInputs {
        kek_private: Some(other.private_key()),
        ..VerifyInputs::new(public.kek())
    };
    let report = verify_byok(&data(VALID), &inputs);
    assert_rejected(&report, &["not the private half of the KEK"]);
}

#[test]
fn the_wrong_expected_public_key() {
    let simulated = kek_2048();
    let other_spki = simulated.kek().spki_der().to_vec(); // any other valid key will do
    let inputs = VerifyInputs {
        kek_private: Some(simulated.private_key()),
        expected_public_spki_der: Some(&other_spki),
        ..VerifyInputs::new(simulated.kek())
    };
    let report = verify_byok(&data(VALID), &inputs);
    assert_rejected(&report, &["is not the expected key"]);
    let junk = [0x30u8, 0x00];
    let inputs = VerifyInputs {
        expected_public_spki_der: Some(&junk),
        ..inputs
    };
    assert_rejected(
        &verify_byok(&data(VALID), &inputs),
        &["not a valid RSA or EC"],
    );
}

/// Wraps like the exporter would, but with our choice of AES key and plaintext.
fn craft(simulated: &SimulatedKek, aes_key: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let public = simulated.private_key().to_public_key();
    let mut ciphertext = public.oaep_encrypt::<Sha1>(aes_key).expect("OAEP");
    let kwp_key = if aes_key.len() == 32 {
        aes_key
    } else {
        &[9u8; 32]
    };
    let kwp = KwpAes256::new_from_slice(kwp_key).expect("AES-256 key");
    let mut wrapped = vec![0u8; plaintext.len() + 16];
    let len = kwp.wrap_key(plaintext, &mut wrapped).expect("wrap").len();
    ciphertext.extend_from_slice(&wrapped[..len]);
    ByokFile {
        kid: simulated.kek().kid().expect("kid").url().to_owned(),
        ciphertext,
        generator: "test".to_owned(),
    }
    .to_json_bytes()
}

#[test]
fn an_aes_128_transport_key() {
    let simulated = kek_2048();
    let report = verify_with(&craft(&simulated, &[5u8; 16], &[1u8; 32]), &simulated);
    assert_rejected(&report, &["16-byte key, not a 32-byte AES-256 key"]);
}

#[test]
fn plaintext_that_is_no_key() {
    let simulated = kek_2048();
    let report = verify_with(&craft(&simulated, &[5u8; 32], &[1u8; 40]), &simulated);
    assert_rejected(
        &report,
        &["neither a PKCS#8 private key nor a 16/24/32-byte AES key"],
    );
}

fn small_ec_pkcs8() -> Vec<u8> {
    p256::SecretKey::from_slice(&[0x42u8; 32])
        .expect("scalar")
        .to_pkcs8_der()
        .expect("PKCS#8")
        .as_bytes()
        .to_vec()
}

#[test]
fn pkcs8_followed_by_garbage() {
    let simulated = kek_2048();
    let mut plaintext = small_ec_pkcs8();
    plaintext.extend_from_slice(&[0, 0, 7]);
    let report = verify_with(&craft(&simulated, &[5u8; 32], &plaintext), &simulated);
    assert_rejected(&report, &["followed by 3 bytes that are not all zero"]);
}

#[test]
fn an_aes_target_for_a_key_vault_kek() {
    let simulated = kek_2048(); // its kid is on vault.azure.net
    let report = verify_with(&craft(&simulated, &[5u8; 32], &[3u8; 32]), &simulated);
    assert_rejected(&report, &["AES (oct-HSM) key", "Managed HSM"]);
    let recovered = report.recovered.expect("recovered");
    assert!(recovered.oct_check_value.is_some());
}

#[test]
fn an_expected_public_key_for_an_aes_target() {
    let simulated = kek(3072, "aes-256.kek-3072.byok");
    let spki = simulated.kek().spki_der().to_vec();
    let inputs = VerifyInputs {
        kek_private: Some(simulated.private_key()),
        expected_public_spki_der: Some(&spki),
        ..VerifyInputs::new(simulated.kek())
    };
    let report = verify_byok(&data("aes-256.kek-3072.byok"), &inputs);
    assert_rejected(&report, &["holds an AES key, which has none"]);
}

#[test]
fn an_rsa_1024_target() {
    let simulated = kek_2048();
    let small = rsa::PrivateKey::new(&mut getrandom::SysRng, 1024).expect("RSA-1024");
    let pkcs8 = small.to_pkcs8_der().expect("PKCS#8");
    let report = verify_with(&craft(&simulated, &[5u8; 32], pkcs8.as_bytes()), &simulated);
    assert_rejected(&report, &["RSA-1024 key", "2048, 3072 or 4096"]);
}
