//! byok-upload fetch-kek against the Key Vault test double: what it writes must be what the
//! station's KEK loader accepts, and it refuses KEKs that are not import-only RSA-HSM keys.
mod common;

use byok_ceremony::byok::kek::Kek;
use common::double::{Double, Kind};
use common::fixtures::kek_private;
use common::{stderr, stdout, upload};

fn fetch_args(double: &Double, name: &str, out: &std::path::Path) -> Vec<String> {
    vec![
        "--credential".into(),
        "client-secret".into(),
        "fetch-kek".into(),
        "--vault".into(),
        double.url(),
        "--name".into(),
        name.into(),
        "--out".into(),
        out.display().to_string(),
    ]
}

#[test]
fn writes_what_the_station_loads_and_prints_the_fingerprint() {
    let double = Double::start(Kind::KeyVault);
    let kid = double.add_kek("kek", kek_private(3072), &["import"]);
    let dir = tempfile::tempdir().expect("dir");
    let out = upload(&double, fetch_args(&double, "kek", dir.path()));
    assert_eq!(out.status.code(), Some(0));
    let pem = dir.path().join("kek.public.pem");
    let json = dir.path().join("kek.key-show.json");
    // The station's own loader, with the JSON cross-checked against the PEM.
    let kek = Kek::load(&pem, Some(&json), None).expect("the station accepts both files");
    assert_eq!(kek.kid().expect("kid").url(), kid);
    assert_eq!(kek.bits(), 3072);
    let text = stdout(&out);
    assert!(text.contains(&kek.fingerprint().hex_groups()), "{text}");
    assert!(
        text.contains(&kek.fingerprint().pgp_words().join(" ")),
        "{text}"
    );
    assert!(
        std::fs::read_to_string(&pem)
            .expect("pem")
            .starts_with("-----BEGIN PUBLIC KEY-----\n")
    );

    // Never overwrites: refused before any request, files unchanged.
    let before = std::fs::read(&json).expect("json");
    let requests = double.log().len();
    let again = upload(&double, fetch_args(&double, "kek", dir.path()));
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("already exists"));
    assert_eq!(double.log().len(), requests);
    assert_eq!(std::fs::read(&json).expect("json"), before);
}

#[test]
fn refuses_a_kek_that_is_not_import_only() {
    let double = Double::start(Kind::KeyVault);
    double.add_kek("kek", kek_private(2048), &["import", "unwrapKey"]);
    let dir = tempfile::tempdir().expect("dir");
    let out = upload(&double, fetch_args(&double, "kek", dir.path()));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not exactly [\"import\"]"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("dir").count(),
        0,
        "nothing written"
    );
}

#[test]
fn a_missing_kek_says_how_to_create_one() {
    let double = Double::start(Kind::ManagedHsm);
    let dir = tempfile::tempdir().expect("dir");
    let mut args = fetch_args(&double, "nokek", dir.path());
    args[3] = "--hsm".into();
    let out = upload(&double, &args);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--kty RSA-HSM"), "{}", stderr(&out));
}
