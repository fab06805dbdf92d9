//! Loading the KEK from every accepted source, and every rejection, with the fixtures in
//! tests/data/kek (made by tools/independent-byok/make_kek_fixtures.py).

use std::path::{Path, PathBuf};

use byok_ceremony::byok::fingerprint::Fingerprint;
use byok_ceremony::byok::kek::{Kek, KekError};
use der::Encode;
use serde_json::Value;

fn path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/kek")
        .join(name)
}

fn data(name: &str) -> Vec<u8> {
    std::fs::read(path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn kid(name: &str) -> String {
    let kids: Value = serde_json::from_slice(&data("kids.json")).expect("kids.json");
    kids[name].as_str().expect("kid").to_owned()
}

fn load(name: &str) -> Kek {
    Kek::from_bytes(&data(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn rejected(bytes: &[u8]) -> String {
    match Kek::from_bytes(bytes) {
        Ok(kek) => panic!("accepted: {kek:?}"),
        Err(err) => err.to_string(),
    }
}

fn assert_message(message: &str, needles: &[&str]) {
    for needle in needles {
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    }
}

fn keyshow() -> Value {
    serde_json::from_slice(&data("kek-2048.keyshow.json")).expect("JSON")
}

fn bytes_of(json: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(json).expect("serialise")
}

// ---- accepted sources ----

#[test]
fn every_form_of_the_same_kek_gives_the_same_fingerprint() {
    let reference = load("kek-2048.public.pem");
    assert_eq!(reference.bits(), 2048);
    assert_eq!(reference.modulus_len(), 256);
    assert_eq!(reference.exponent_be(), [1, 0, 1]);
    assert_eq!(reference.modulus_be().len(), 256);
    assert!(reference.kid().is_none());
    assert!(
        reference.warnings().is_empty(),
        "{:?}",
        reference.warnings()
    );
    // The fingerprint is SHA-256 over the DER that `az keyvault key download --encoding DER` gives.
    assert_eq!(reference.spki_der(), data("kek-2048.public.der"));
    assert_eq!(
        reference.fingerprint(),
        Fingerprint::of(&data("kek-2048.public.der"))
    );

    for name in [
        "kek-2048.public.der",
        "kek-2048.public.crlf.pem",
        "kek-2048.pkcs1.pem",
        "kek-2048.keyshow.json",
        "kek-2048.jwk.json",
    ] {
        let kek = load(name);
        assert_eq!(kek.fingerprint(), reference.fingerprint(), "{name}");
        assert_eq!(kek.spki_der(), reference.spki_der(), "{name}");
        assert!(kek.warnings().is_empty(), "{name}: {:?}", kek.warnings());
    }
}

#[test]
fn json_sources_carry_the_kid() {
    for name in ["kek-2048.keyshow.json", "kek-2048.jwk.json"] {
        let kek = load(name);
        let found = kek.kid().expect("kid");
        assert_eq!(found.url(), kid("kek-2048"));
        assert_eq!(found.host(), "contoso-byok.vault.azure.net");
        assert_eq!(found.name(), "kek-2048");
        assert!(found.host_is_known());
        assert!(!found.is_managed_hsm());
    }
}

#[test]
fn all_three_sizes_load() {
    for bits in [2048usize, 3072, 4096] {
        let pem = load(&format!("kek-{bits}.public.pem"));
        let json = load(&format!("kek-{bits}.keyshow.json"));
        assert_eq!(pem.bits(), bits);
        assert_eq!(pem.modulus_len(), bits / 8);
        assert_eq!(json.fingerprint(), pem.fingerprint());
    }
    let hsm = load("kek-3072.keyshow.json");
    assert!(hsm.kid().expect("kid").is_managed_hsm());
}

#[test]
fn rest_style_key_bundle_is_accepted() {
    // The REST API's key bundle: key_ops, base64url without padding, release_policy.
    let mut json = keyshow();
    let key = json["key"].as_object_mut().expect("key");
    let ops = key.remove("keyOps").expect("keyOps");
    key.insert("key_ops".to_owned(), ops);
    let n_std = key["n"].as_str().expect("n").to_owned();
    let n_bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, n_std)
        .expect("standard base64");
    key.insert(
        "n".to_owned(),
        Value::from(base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            n_bytes,
        )),
    );
    let top = json.as_object_mut().expect("object");
    top.remove("releasePolicy");
    top.insert("release_policy".to_owned(), Value::Null);
    let kek = Kek::from_bytes(&bytes_of(&json)).expect("REST shape");
    assert_eq!(kek.fingerprint(), load("kek-2048.public.pem").fingerprint());
}

#[test]
fn software_kty_and_odd_hosts_are_warnings() {
    let mut json = keyshow();
    json["key"]["kty"] = Value::from("RSA");
    let kek = Kek::from_bytes(&bytes_of(&json)).expect("kty RSA is accepted");
    assert!(kek.warnings().iter().any(|w| w.contains("not \"RSA-HSM\"")));

    let mut json = keyshow();
    let version = &kid("kek-2048")[kid("kek-2048").len() - 32..];
    json["key"]["kid"] = Value::from(format!("https://kv.example.com/keys/kek/{version}"));
    let kek = Kek::from_bytes(&bytes_of(&json)).expect("unknown host is accepted");
    assert!(
        kek.warnings()
            .iter()
            .any(|w| w.contains("not a known Key Vault"))
    );
}

#[test]
fn a_disabled_kek_is_a_warning() {
    let mut json = keyshow();
    json["attributes"]["enabled"] = Value::from(false);
    let kek = Kek::from_bytes(&bytes_of(&json)).expect("still a valid KEK");
    assert!(kek.warnings().iter().any(|w| w.contains("disabled")));
}

#[test]
fn a_utf8_byte_order_mark_is_ignored_with_a_warning() {
    let mut bytes = b"\xef\xbb\xbf".to_vec();
    bytes.extend_from_slice(&data("kek-2048.keyshow.json"));
    let kek = Kek::from_bytes(&bytes).expect("BOM is tolerated");
    assert!(kek.warnings().iter().any(|w| w.contains("byte-order mark")));
}

// ---- load(): PEM + JSON + --kid ----

#[test]
fn load_pem_with_json_and_kid() {
    let pem = path("kek-2048.public.pem");
    let json = path("kek-2048.keyshow.json");
    let kek = Kek::load(&pem, Some(&json), None).expect("same key");
    assert_eq!(kek.kid().expect("kid").url(), kid("kek-2048"));
    let kek = Kek::load(&pem, Some(&json), Some(&kid("kek-2048"))).expect("same kid");
    assert_eq!(kek.kid().expect("kid").url(), kid("kek-2048"));
    let kek = Kek::load(&pem, None, Some(&kid("kek-2048"))).expect("kid only");
    assert_eq!(kek.kid().expect("kid").url(), kid("kek-2048"));
    let kek = Kek::load(&json, None, Some(&kid("kek-2048"))).expect("JSON and the same kid");
    assert!(kek.kid().is_some());
}

#[test]
fn load_rejects_a_json_of_another_key() {
    let err = Kek::load(
        &path("kek-2048.public.pem"),
        Some(&path("kek-3072.keyshow.json")),
        None,
    )
    .expect_err("different keys");
    assert!(matches!(err, KekError::KeyMismatch { .. }), "{err}");
    assert_message(&err.to_string(), &["different keys", "same KEK version"]);
}

#[test]
fn load_rejects_a_kid_other_than_the_jsons() {
    let other = kid("kek-4096");
    let err = Kek::load(
        &path("kek-2048.public.pem"),
        Some(&path("kek-2048.keyshow.json")),
        Some(&other),
    )
    .expect_err("kid mismatch");
    assert!(matches!(err, KekError::KidMismatch { .. }), "{err}");
    assert_message(
        &err.to_string(),
        &[&other, &kid("kek-2048"), "does not match"],
    );
    let err = Kek::load(&path("kek-2048.keyshow.json"), None, Some(&other)).expect_err("mismatch");
    assert!(matches!(err, KekError::KidMismatch { .. }), "{err}");
}

#[test]
fn load_requires_json_as_the_json_source() {
    let err = Kek::load(
        &path("kek-2048.public.pem"),
        Some(&path("kek-2048.public.der")),
        None,
    )
    .expect_err("DER is no JSON");
    assert!(matches!(err, KekError::JsonExpected(_)), "{err}");
}

#[test]
fn load_reports_unreadable_files_and_bad_kids() {
    let err = Kek::load(&path("no-such-file.pem"), None, None).expect_err("missing");
    assert_message(&err.to_string(), &["cannot read", "no-such-file.pem"]);
    let err = Kek::load(
        &path("kek-2048.public.pem"),
        None,
        Some("https://contoso-byok.vault.azure.net/keys/kek-2048"),
    )
    .expect_err("versionless kid");
    assert_message(&err.to_string(), &["invalid kid", "no version"]);
}

// ---- rejected keys ----

#[test]
fn rejects_other_sizes() {
    assert_message(
        &rejected(&data("rsa-1024.public.pem")),
        &["1024-bit", "2048, 3072 or 4096"],
    );
    assert_message(
        &rejected(&data("rsa-2560.public.pem")),
        &["2560-bit", "2048, 3072 or 4096"],
    );
}

#[test]
fn rejects_other_exponents() {
    assert_message(
        &rejected(&data("rsa-2048-e3.public.pem")),
        &["exponent is 3", "65537"],
    );
    let mut json = keyshow();
    json["key"]["e"] = Value::from("Aw==");
    assert_message(&rejected(&bytes_of(&json)), &["exponent is 3"]);
}

#[test]
fn rejects_non_rsa_keys() {
    assert_message(
        &rejected(&data("ec-p256.public.pem")),
        &["EC P-256 key", "not an RSA key"],
    );
    assert_message(
        &rejected(&data("ed25519.public.pem")),
        &["Ed25519", "not an RSA key"],
    );
}

#[test]
fn rejects_private_keys_and_certificates() {
    assert_message(
        &rejected(&data("rsa-2048.private.pem")),
        &["\"PRIVATE KEY\"", "private key"],
    );
    assert_message(
        &rejected(&data("certificate.pem")),
        &["\"CERTIFICATE\"", "not a certificate"],
    );
}

#[test]
fn rejects_several_blocks_and_trailing_data() {
    let pem = data("kek-2048.public.pem");
    let mut two = pem.clone();
    two.extend_from_slice(&data("kek-3072.public.pem"));
    assert_message(&rejected(&two), &["2 PEM blocks"]);

    let mut pem_garbage = pem.clone();
    pem_garbage.extend_from_slice(b"garbage\n");
    assert_message(
        &rejected(&pem_garbage),
        &["trailing data after the PEM block"],
    );

    let mut text_first = b"KEK for contoso:\n".to_vec();
    text_first.extend_from_slice(&pem);
    assert_message(&rejected(&text_first), &["text before the PEM block"]);

    let mut der = data("kek-2048.public.der");
    der.push(0);
    assert_message(&rejected(&der), &["trailing data after the DER public key"]);

    let mut json = data("kek-2048.keyshow.json");
    json.extend_from_slice(b"{}");
    assert_message(&rejected(&json), &["trailing data after the JSON object"]);
}

#[test]
fn rejects_empty_and_unknown_input() {
    assert_message(&rejected(b""), &["empty", "az keyvault key download"]);
    assert_message(&rejected(b"\n\n"), &["empty"]);
    assert_message(&rejected(b"ssh-rsa AAAA"), &["unrecognised KEK format"]);
    assert_message(&rejected(b"\xff\xfe{\x00\"\x00"), &["UTF-16"]);
    assert_message(
        &rejected(b"-----BEGIN PUBLIC KEY-----\nAAAA\n"),
        &["malformed", "END"],
    );
    assert_message(
        &rejected(b"\x30\x82\x01\x22\x30"),
        &["not an RSA SubjectPublicKeyInfo"],
    );
}

#[test]
fn rejects_a_non_canonical_spki() {
    // rsaEncryption without the NULL parameters: same key, but not the canonical DER.
    let canonical = data("kek-2048.public.der");
    let parsed = spki::SubjectPublicKeyInfoRef::try_from(canonical.as_slice()).expect("SPKI");
    let variant = spki::SubjectPublicKeyInfoRef {
        algorithm: spki::AlgorithmIdentifierRef {
            oid: parsed.algorithm.oid,
            parameters: None,
        },
        subject_public_key: parsed.subject_public_key,
    };
    let der = variant.to_der().expect("DER");
    assert_message(&rejected(&der), &["canonical DER"]);
}

// ---- rejected JSON ----

#[test]
fn rejects_wrong_key_ops() {
    for ops in [
        vec![
            "encrypt",
            "decrypt",
            "sign",
            "verify",
            "wrapKey",
            "unwrapKey",
        ],
        vec!["import", "sign"],
        vec!["wrapKey"],
        vec![],
    ] {
        let mut json = keyshow();
        json["key"]["keyOps"] = Value::from(ops.clone());
        assert_message(
            &rejected(&bytes_of(&json)),
            &["key_ops is", "exactly [\"import\"]"],
        );
    }
    let mut json = keyshow();
    json["key"].as_object_mut().expect("key").remove("keyOps");
    assert_message(&rejected(&bytes_of(&json)), &["no \"key.key_ops\""]);
    let mut json = keyshow();
    json["key"]["key_ops"] = Value::from(vec!["import"]);
    assert_message(&rejected(&bytes_of(&json)), &["\"key.key_ops\" twice"]);
}

#[test]
fn rejects_non_rsa_kty() {
    for kty in ["EC-HSM", "oct-HSM", "EC", "rsa-hsm"] {
        let mut json = keyshow();
        json["key"]["kty"] = Value::from(kty);
        assert_message(
            &rejected(&bytes_of(&json)),
            &[&format!("kty is \"{kty}\""), "RSA-HSM"],
        );
    }
}

#[test]
fn rejects_bad_kids_in_json() {
    let good = kid("kek-2048");
    let version = &good[good.len() - 32..];
    let cases = [
        (
            "https://contoso-byok.vault.azure.net/keys/kek-2048".to_owned(),
            "no version",
        ),
        (good.replace("https://", "http://"), "http://"),
        (format!("{good}/extra"), "extra path segments"),
        (format!("{good}?api-version=7.4"), "query"),
        (
            format!("https://contoso-byok.vault.azure.net/secrets/kek/{version}"),
            "/secrets/",
        ),
    ];
    for (bad, reason) in cases {
        let mut json = keyshow();
        json["key"]["kid"] = Value::from(bad.clone());
        assert_message(
            &rejected(&bytes_of(&json)),
            &["invalid kid", reason, "copy the full versioned kid"],
        );
    }
    let mut json = keyshow();
    json["key"].as_object_mut().expect("key").remove("kid");
    assert_message(&rejected(&bytes_of(&json)), &["no \"key.kid\""]);
}

#[test]
fn rejects_unknown_fields_and_private_material() {
    let mut json = keyshow();
    json["vaultUrl"] = Value::from("https://contoso-byok.vault.azure.net");
    assert_message(
        &rejected(&bytes_of(&json)),
        &["unexpected field \"vaultUrl\""],
    );
    let mut json = keyshow();
    json["key"]["alg"] = Value::from("RSA-OAEP");
    assert_message(
        &rejected(&bytes_of(&json)),
        &["unexpected field \"key.alg\""],
    );
    let mut json = keyshow();
    json["key"]["d"] = Value::from("AQAB");
    assert_message(
        &rejected(&bytes_of(&json)),
        &["\"key.d\"", "private or secret"],
    );
    let mut json = keyshow();
    json["key"]["crv"] = Value::from("P-256");
    assert_message(
        &rejected(&bytes_of(&json)),
        &["\"key.crv\"", "null for an RSA key"],
    );
}

#[test]
fn rejects_malformed_json() {
    let text = String::from_utf8(data("kek-2048.keyshow.json")).expect("UTF-8");
    let duplicated = text.replacen(
        "\"kty\": \"RSA-HSM\",",
        "\"kty\": \"RSA-HSM\",\n    \"kty\": \"RSA-HSM\",",
        1,
    );
    assert_message(&rejected(duplicated.as_bytes()), &["\"key.kty\" twice"]);
    assert_message(&rejected(b"{\"key\": "), &["not valid JSON"]);
    let list = format!("[{text}]");
    assert_message(&rejected(list.as_bytes()), &["an array", "not `key list`"]);
    let mut json = keyshow();
    json["key"]["n"] = Value::from(7);
    assert_message(
        &rejected(&bytes_of(&json)),
        &["\"key.n\" is a number, expected a string"],
    );
    let mut json = keyshow();
    json["key"]["n"] = Value::from("ab+_cd");
    assert_message(&rejected(&bytes_of(&json)), &["\"key.n\"", "mixes"]);
    let mut json = keyshow();
    let mut small = vec![0xc5u8; 128];
    small[127] = 0x01;
    json["key"]["n"] = Value::from(base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        small,
    ));
    assert_message(&rejected(&bytes_of(&json)), &["1024-bit"]);
}

#[test]
fn bare_jwk_is_checked_as_strictly() {
    let mut jwk: Value = serde_json::from_slice(&data("kek-2048.jwk.json")).expect("JSON");
    jwk["key_ops"] = Value::from(vec!["wrapKey"]);
    assert_message(&rejected(&bytes_of(&jwk)), &["key_ops is"]);
    let mut jwk: Value = serde_json::from_slice(&data("kek-2048.jwk.json")).expect("JSON");
    jwk["use"] = Value::from("enc");
    assert_message(&rejected(&bytes_of(&jwk)), &["unexpected field \"use\""]);
}

/// Issue 13, item 7: a modulus of the right size that anyone can factor is refused, naming
/// the reason: n = 3 * (2^2046 + 1), and the square of a 1024-bit odd number.
#[test]
fn a_trivially_factorable_modulus_is_refused() {
    use base64::Engine;
    use num_bigint::BigUint;
    let with_modulus = |n: &BigUint| {
        let mut json = keyshow();
        json["key"]["n"] =
            Value::String(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(n.to_bytes_be()));
        bytes_of(&json)
    };
    let one = BigUint::from(1u32);
    let n: BigUint = BigUint::from(3u32) * ((&one << 2046u32) + 1u32);
    assert_eq!(n.bits(), 2048);
    assert_message(
        &rejected(&with_modulus(&n)),
        &[
            "small prime factor 3",
            "anyone can factor it",
            "download the KEK again",
        ],
    );
    // The square of a 1024-bit odd number with no factor below 2^16 (the first such above
    // 1.75 * 2^1023), so only the perfect-power check can catch it.
    let no_small_factor = |r: &BigUint| (2u32..65536).all(|p| r % p != BigUint::ZERO);
    let mut root: BigUint = (&one << 1023u32) + (&one << 1022u32) + (&one << 1021u32) + 1u32;
    while !no_small_factor(&root) {
        root += 2u32;
    }
    let square = &root * &root;
    assert_eq!(square.bits(), 2048);
    assert_message(
        &rejected(&with_modulus(&square)),
        &["perfect power (an integer to the power 2)"],
    );
}

/// Issue 13, item 9: the same KEK wrapped at 76 columns, on one base64 line, or as one line
/// altogether loads as the same key; a broken PKCS#1 block says what is wrong with the PEM.
#[test]
fn pem_wrapped_at_any_width_is_the_same_kek_and_pem_errors_speak_of_pem() {
    use base64::Engine;
    let reference = load("kek-2048.public.pem");
    let b64 = base64::engine::general_purpose::STANDARD.encode(reference.spki_der());
    let wrap = |width: usize| {
        b64.as_bytes()
            .chunks(width)
            .map(|c| std::str::from_utf8(c).expect("ascii"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    for body in [wrap(76), wrap(b64.len()), wrap(64)] {
        let pem = format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n");
        let kek = Kek::from_bytes(pem.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(kek.fingerprint(), reference.fingerprint());
    }
    let one_line = format!("-----BEGIN PUBLIC KEY-----{b64}-----END PUBLIC KEY-----");
    let kek = Kek::from_bytes(one_line.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(kek.fingerprint(), reference.fingerprint());

    let broken = "-----BEGIN RSA PUBLIC KEY-----\nMAAA\n-----END RSA PUBLIC KEY-----\n";
    let message = rejected(broken.as_bytes());
    assert_message(&message, &["RSA PUBLIC KEY block", "PKCS#1"]);
    assert!(!message.contains("--encoding DER"), "{message}");
    let mismatched = format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END RSA PUBLIC KEY-----\n");
    assert_message(
        &rejected(mismatched.as_bytes()),
        &["ends as \"RSA PUBLIC KEY\""],
    );
    let bad_base64 = "-----BEGIN PUBLIC KEY-----\nMII*\n-----END PUBLIC KEY-----\n";
    assert_message(&rejected(bad_base64.as_bytes()), &["base64", "invalid"]);
}
