//! `.byok` files made by an independent implementation (tools/independent-byok/make_byok.py,
//! Python `cryptography` / OpenSSL) must all verify, and yield exactly the expected key.

use std::path::{Path, PathBuf};

use byok_ceremony::byok::curve::EcCurve;
use byok_ceremony::byok::kek::Kek;
use byok_ceremony::byok::simulated_kek::SimulatedKek;
use byok_ceremony::byok::verify::{RecoveredKeyKind, VerifyInputs, verify_byok};
use serde_json::Value;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/independent")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(data_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn read_text(name: &str) -> String {
    String::from_utf8(read(name)).expect("UTF-8")
}

fn spki_der_of_pem(name: &str) -> Vec<u8> {
    let pem = read_text(name);
    let (label, der) = der::pem::decode_vec(pem.trim().as_bytes()).expect("PEM");
    assert_eq!(label, "PUBLIC KEY");
    der
}

struct Case {
    file: String,
    kek_bits: u64,
    kid: String,
    expected_kind: RecoveredKeyKind,
    public_pem: Option<String>,
    check_value: Option<String>,
    trailing_zero_bytes: usize,
}

fn cases() -> Vec<Case> {
    let manifest: Value = serde_json::from_slice(&read("manifest.json")).expect("manifest JSON");
    let files = manifest["files"].as_array().expect("files");
    files.iter().map(case_from_manifest).collect()
}

fn case_from_manifest(entry: &Value) -> Case {
    let text = |key: &str| entry[key].as_str().map(str::to_owned);
    let number = |key: &str| entry[key].as_u64().unwrap_or_else(|| panic!("{key}"));
    let expected_kind = match entry["kind"].as_str().expect("kind") {
        "RSA" => RecoveredKeyKind::Rsa {
            bits: number("bits") as usize,
        },
        "EC" => RecoveredKeyKind::Ec {
            curve: text("curve")
                .expect("curve")
                .parse::<EcCurve>()
                .expect("curve name"),
        },
        "oct" => RecoveredKeyKind::Oct {
            bits: number("bits") as usize,
        },
        other => panic!("unknown kind {other}"),
    };
    Case {
        file: text("file").expect("file"),
        kek_bits: number("kek_bits"),
        kid: text("kid").expect("kid"),
        expected_kind,
        public_pem: text("public_pem"),
        check_value: text("check_value"),
        trailing_zero_bytes: number("trailing_zero_bytes") as usize,
    }
}

fn simulated_kek(bits: u64, kid: &str) -> SimulatedKek {
    let pem = read_text(&format!("kek-{bits}.private.pem"));
    SimulatedKek::from_private_pem(&pem, kid).expect("test KEK")
}

#[test]
fn the_manifest_covers_every_target_kind() {
    let cases = cases();
    assert!(cases.len() >= 13, "{}", cases.len());
    for kind in [
        "rsa-2048", "ec-p256.", "ec-p384", "ec-p521", "ec-p256k", "aes-128", "aes-256",
    ] {
        assert!(cases.iter().any(|c| c.file.starts_with(kind)), "{kind}");
    }
    assert!(cases.iter().any(|c| c.trailing_zero_bytes > 0));
}

#[test]
fn every_independent_file_verifies_and_yields_the_expected_key() {
    for case in cases().iter().filter(|c| c.trailing_zero_bytes == 0) {
        let simulated = simulated_kek(case.kek_bits, &case.kid);
        let bytes = read(&case.file);
        let expected_spki = case.public_pem.as_deref().map(spki_der_of_pem);
        let inputs = VerifyInputs {
            kek_private: Some(simulated.private_key()),
            expected_public_spki_der: expected_spki.as_deref(),
            ..VerifyInputs::new(simulated.kek())
        };
        let report = verify_byok(&bytes, &inputs);
        assert!(report.is_ok(), "{}: {:?}", case.file, report.problems);
        assert!(
            report.warnings.is_empty(),
            "{}: {:?}",
            case.file,
            report.warnings
        );
        let recovered = report.recovered.expect("recovered key");
        assert_eq!(recovered.kind, case.expected_kind, "{}", case.file);
        assert_eq!(recovered.public_spki_der, expected_spki, "{}", case.file);
        assert_eq!(recovered.trailing_zero_bytes, 0);
        let check_value = recovered.oct_check_value.map(hex::encode);
        assert_eq!(check_value, case.check_value, "{}", case.file);
        if let Some(name) = case.file.split('.').next().filter(|n| n.starts_with("aes")) {
            let on_disk = read_text(&format!("target-{name}.check-value.txt"));
            assert_eq!(check_value.as_deref(), Some(on_disk.trim()));
        }
    }
}

#[test]
fn public_kek_files_load_as_the_same_keys() {
    for case in cases() {
        let simulated = simulated_kek(case.kek_bits, &case.kid);
        let from_pem = Kek::from_bytes(&read(&format!("kek-{}.public.pem", case.kek_bits)))
            .expect("public KEK PEM")
            .with_kid(&case.kid)
            .expect("kid");
        assert_eq!(from_pem.fingerprint(), simulated.kek().fingerprint());
        assert_eq!(from_pem.bits() as u64, case.kek_bits);
        // Structure-only verification needs just the public KEK.
        let report = verify_byok(&read(&case.file), &VerifyInputs::new(&from_pem));
        assert!(report.is_ok(), "{}: {:?}", case.file, report.problems);
        assert!(report.recovered.is_none());
        assert!(report.warnings.iter().any(|w| w.contains("not unwrapped")));
    }
}

#[test]
fn the_zero_padded_file_is_flagged_as_rehearsal_grade() {
    let case = cases()
        .into_iter()
        .find(|c| c.trailing_zero_bytes > 0)
        .expect("a zero-padded case");
    let simulated = simulated_kek(case.kek_bits, &case.kid);
    let expected_spki = spki_der_of_pem(case.public_pem.as_deref().expect("EC target"));
    let strict = VerifyInputs {
        kek_private: Some(simulated.private_key()),
        expected_public_spki_der: Some(&expected_spki),
        ..VerifyInputs::new(simulated.kek())
    };
    let report = verify_byok(&read(&case.file), &strict);
    assert!(!report.is_ok());
    let line = format!(
        "{} trailing zero bytes after the PKCS#8 (a token that zero-pads before RFC 5649, e.g. SoftHSM2 2.6.1): rehearsal-grade only",
        case.trailing_zero_bytes
    );
    assert_eq!(report.problems, std::slice::from_ref(&line));
    let recovered = report.recovered.expect("the key is still recovered");
    assert_eq!(recovered.trailing_zero_bytes, case.trailing_zero_bytes);
    assert_eq!(
        recovered.public_spki_der.as_deref(),
        Some(expected_spki.as_slice())
    );

    let lenient = VerifyInputs {
        allow_zero_padding: true,
        ..strict
    };
    let report = verify_byok(&read(&case.file), &lenient);
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.warnings, [line]);
}

#[test]
fn describe_names_kind_and_fingerprint() {
    let case = cases()
        .into_iter()
        .find(|c| c.file.starts_with("rsa-2048"))
        .expect("an RSA case");
    let simulated = simulated_kek(case.kek_bits, &case.kid);
    let inputs = VerifyInputs {
        kek_private: Some(simulated.private_key()),
        ..VerifyInputs::new(simulated.kek())
    };
    let recovered = verify_byok(&read(&case.file), &inputs)
        .recovered
        .expect("key");
    let text = recovered.describe();
    assert!(
        text.starts_with("RSA-2048 key, public key SHA-256 "),
        "{text}"
    );
}
