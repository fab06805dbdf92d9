//! byok-upload import, the real binary against the Key Vault test double over HTTPS on
//! 127.0.0.1: successes for RSA, EC and oct, and every refusal an operator relies on.
mod common;

use std::time::Instant;

use byok_ceremony::byok::curve::EcCurve;
use byok_ceremony::byok::fingerprint::pgp_words_for;
use common::double::{Double, Kind};
use common::fixtures::{Made, TargetKind, kek_private, make, write_manifest};
use common::{printed_kid, stderr, stdout, upload};
use sha2::Digest;

fn import_args(made: &Made, double: &Double, name: &str) -> Vec<String> {
    let flag = match double.kind {
        Kind::KeyVault => "--vault",
        Kind::ManagedHsm => "--hsm",
    };
    vec![
        "--credential".into(),
        "client-secret".into(),
        "import".into(),
        "--byok".into(),
        made.byok.display().to_string(),
        "--manifest".into(),
        made.manifest.display().to_string(),
        "--name".into(),
        name.into(),
        flag.into(),
        double.url(),
    ]
}

/// A double holding a 2048-bit KEK, and a .byok of `target` wrapped for it.
fn setup(kind: Kind, target: TargetKind) -> (Double, Made) {
    let double = Double::start(kind);
    let private = kek_private(2048);
    let public = private.to_public_key();
    let kid = double.add_kek("kek", private, &["import"]);
    let made = make(&public, &kid, target, false);
    (double, made)
}

/// The public key the double recovered by unwrapping, as SPKI DER.
fn stored_public(double: &Double, kid: &str) -> serde_json::Value {
    let st = double.state.lock().expect("state");
    let key = st
        .keys
        .iter()
        .find(|k| kid.ends_with(&format!("/keys/{}/{}", k.name, k.version)))
        .expect("the double stored the imported key");
    assert_eq!(key.trailing_zero_bytes, 0);
    key.public.clone()
}

fn assert_nothing_sent(double: &Double) {
    assert!(
        double.log().is_empty(),
        "requests were sent: {:?}",
        double.log()
    );
}

fn assert_nothing_imported(double: &Double) {
    assert!(double.state.lock().expect("state").keys.is_empty());
}

#[test]
fn rsa_key_is_imported_and_its_public_key_proven() {
    let (double, made) = setup(Kind::KeyVault, TargetKind::Rsa);
    let words = pgp_words_for(&sha2::Sha256::digest(&made.byok_bytes)).join(" ");
    let mut args = import_args(&made, &double, "prod-rsa");
    args.extend(["--expect-words".into(), words]);
    args.extend([
        "--ops".into(),
        "sign,verify".into(),
        "--tag".into(),
        "ceremony=2030-01".into(),
    ]);
    let out = upload(&double, &args);
    assert_eq!(out.status.code(), Some(0));
    let kid = printed_kid(&out);
    assert!(
        kid.starts_with(&format!("{}/keys/prod-rsa/", double.url())),
        "{kid}"
    );
    assert!(stdout(&out).contains("its public key equals the manifest's"));
    assert!(stdout(&out).contains("and the typed hash"));
    // The double really unwrapped the file: its key is the ceremony's.
    let public = stored_public(&double, &kid);
    let spki =
        byok_upload::public_key::rsa_spki(&b64(&public["n"]), &b64(&public["e"])).expect("rsa");
    assert_eq!(Some(spki), made.public_spki);
    // The bearer challenge was followed: the first request went out without a token.
    let log = double.log();
    assert!(!log[0].authorized && log[0].status == 401, "{log:?}");
    assert_eq!(double.state.lock().expect("state").imports(), 1);
    let st = double.state.lock().expect("state");
    assert_eq!(st.keys[0].key_ops, ["sign", "verify"]);
}

fn b64(value: &serde_json::Value) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value.as_str().expect("string"))
        .expect("base64url")
}

#[test]
fn ec_key_is_imported_and_its_public_key_proven() {
    let (double, made) = setup(Kind::KeyVault, TargetKind::Ec(EcCurve::P384));
    let out = upload(&double, import_args(&made, &double, "prod-ec"));
    assert_eq!(out.status.code(), Some(0));
    let kid = printed_kid(&out);
    let public = stored_public(&double, &kid);
    assert_eq!(public["crv"], "P-384");
    assert!(stdout(&out).contains("its public key equals the manifest's"));
}

#[test]
fn oct_key_is_imported_into_a_managed_hsm_and_proven_by_its_check_value() {
    let (double, made) = setup(Kind::ManagedHsm, TargetKind::Oct(32));
    let out = upload(&double, import_args(&made, &double, "prod-aes"));
    assert_eq!(out.status.code(), Some(0));
    let kcv = made.manifest_value.oct_check_value.clone().expect("kcv");
    assert!(stdout(&out).contains(&format!("equals the manifest's ({kcv})")));
    let log = double.log();
    assert!(
        log.iter()
            .any(|l| l.method == "POST" && l.path.ends_with("/encrypt") && l.status == 200),
        "{log:?}"
    );
}

#[test]
fn oct_key_is_refused_for_a_key_vault() {
    let double = Double::start(Kind::KeyVault);
    let private = kek_private(2048);
    let public = private.to_public_key();
    let kid = double.add_kek("kek", private, &["import"]);
    let made = make(&public, &kid, TargetKind::Oct(16), false);
    let out = upload(&double, import_args(&made, &double, "aes"));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("Managed HSM only"));
    assert_nothing_sent(&double);
}

#[test]
fn a_tampered_file_is_refused_before_anything_is_sent() {
    let (double, made) = setup(Kind::KeyVault, TargetKind::Rsa);
    let mut bytes = made.byok_bytes.clone();
    let at = bytes.len() - 60; // inside the ciphertext's base64url
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(&made.byok, &bytes).expect("tamper");
    let out = upload(&double, import_args(&made, &double, "k"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("but the manifest records"),
        "{}",
        stderr(&out)
    );
    assert_nothing_sent(&double);
}

#[test]
fn a_tampered_file_with_a_matching_manifest_is_refused_by_the_vault() {
    let (double, made) = setup(Kind::KeyVault, TargetKind::Rsa);
    let mut bytes = made.byok_bytes.clone();
    let at = bytes.len() - 60;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(&made.byok, &bytes).expect("tamper");
    let mut manifest = made.manifest_value.clone();
    manifest.byok_sha256 = Some(hex::encode(sha2::Sha256::digest(&bytes)));
    std::fs::remove_file(&made.manifest).expect("rm");
    write_manifest(&made.manifest, &manifest);
    let out = upload(&double, import_args(&made, &double, "k"));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("HTTP 400") && err.contains("unwrap"), "{err}");
    assert!(err.contains("Nothing was imported"), "{err}");
    assert_nothing_imported(&double);
}

#[test]
fn a_manifest_hash_mismatch_and_wrong_typed_words_are_refused() {
    let (double, made) = setup(Kind::KeyVault, TargetKind::Ec(EcCurve::P256));
    // Words of another hash.
    let mut args = import_args(&made, &double, "k");
    args.extend(["--expect-words".into(), pgp_words_for(&[7u8; 32]).join(" ")]);
    let out = upload(&double, &args);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not the hash typed with --expect-words"));
    // A word dropped while typing is a usage error that names the place.
    let mut words = pgp_words_for(&sha2::Sha256::digest(&made.byok_bytes));
    words.remove(3);
    let mut args = import_args(&made, &double, "k");
    args.extend(["--expect-words".into(), words.join(" ")]);
    let out = upload(&double, &args);
    assert_eq!(out.status.code(), Some(2));
    // A manifest that records another hash.
    let mut manifest = made.manifest_value.clone();
    manifest.byok_sha256 = Some(hex::encode([0x5au8; 32]));
    std::fs::remove_file(&made.manifest).expect("rm");
    write_manifest(&made.manifest, &manifest);
    let out = upload(&double, import_args(&made, &double, "k"));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&format!(
        "the manifest records {}",
        hex::encode([0x5au8; 32])
    )));
    assert_nothing_sent(&double);
}

#[test]
fn a_wrong_kid_version_is_found_before_the_import() {
    let double = Double::start(Kind::KeyVault);
    let private = kek_private(2048);
    let public = private.to_public_key();
    double.add_kek("kek", private, &["import"]);
    let kid = format!(
        "{}/keys/kek/{}",
        double.url(),
        common::double::random_version()
    );
    let made = make(&public, &kid, TargetKind::Rsa, false);
    let out = upload(&double, import_args(&made, &double, "k"));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("is not in") && err.contains("list-versions"),
        "{err}"
    );
    assert!(
        double
            .log()
            .iter()
            .all(|l| l.method == "GET" || l.method == "POST")
    );
    assert_nothing_imported(&double);
}

#[test]
fn a_kek_from_another_vault_is_refused() {
    // The file names a KEK in another vault: refused locally, nothing sent.
    let double = Double::start(Kind::KeyVault);
    let other = Double::start(Kind::KeyVault);
    let private = kek_private(2048);
    let public = private.to_public_key();
    let other_kid = other.add_kek("kek", kek_private(2048), &["import"]);
    let made = make(&public, &other_kid, TargetKind::Rsa, false);
    let out = upload(&double, import_args(&made, &double, "k"));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("wrong vault"), "{}", stderr(&out));
    assert_nothing_sent(&double);
    assert!(other.log().is_empty());

    // Same kid, other key material: this vault's KEK is not the one the ceremony wrapped for.
    let kid = double.add_kek("kek3072", kek_private(3072), &["import"]);
    let made = make(&public, &kid, TargetKind::Rsa, false);
    let out = upload(&double, import_args(&made, &double, "k"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("made for another KEK"),
        "{}",
        stderr(&out)
    );
    assert_nothing_imported(&double);
}

#[test]
fn a_kek_that_is_not_import_only_is_refused() {
    let double = Double::start(Kind::KeyVault);
    let private = kek_private(2048);
    let public = private.to_public_key();
    let kid = double.add_kek("kek", private, &["import", "decrypt"]);
    let made = make(&public, &kid, TargetKind::Rsa, false);
    let out = upload(&double, import_args(&made, &double, "k"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not exactly [\"import\"]"),
        "{}",
        stderr(&out)
    );
    assert_nothing_imported(&double);
}

#[test]
fn throttling_is_retried_with_backoff_then_succeeds() {
    let (double, made) = setup(Kind::KeyVault, TargetKind::Rsa);
    double.state.lock().expect("state").throttle_imports = 2;
    let started = Instant::now();
    let out = upload(&double, import_args(&made, &double, "k"));
    assert_eq!(out.status.code(), Some(0));
    // Retry-After: 1, then the backoff's 2 s: at least 3 s in all.
    assert!(
        started.elapsed().as_secs_f32() >= 3.0,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(stderr(&out).matches("throttled (HTTP 429").count(), 2);
    let log = double.log();
    let statuses: Vec<u16> = log
        .iter()
        .filter(|l| l.method == "PUT")
        .map(|l| l.status)
        .collect();
    assert_eq!(statuses, [429, 429, 200], "{log:?}");
    assert_eq!(
        double.state.lock().expect("state").keys.len(),
        1,
        "exactly one version"
    );
}

#[test]
fn throttling_that_does_not_end_gives_up_and_says_nothing_changed() {
    let (double, made) = setup(Kind::KeyVault, TargetKind::Rsa);
    double.state.lock().expect("state").throttle_imports = 100;
    // Keep it short: the test needs only to see the loop end. The default backoff is 5 attempts.
    let out = upload(&double, import_args(&made, &double, "k"));
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("still throttling"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("nothing was changed"));
    let puts = double.log().iter().filter(|l| l.method == "PUT").count();
    assert_eq!(puts, 5);
    assert_nothing_imported(&double);
}

#[test]
fn a_refused_token_is_a_clear_401() {
    let (double, made) = setup(Kind::KeyVault, TargetKind::Rsa);
    double.state.lock().expect("state").reject_tokens = true;
    let out = upload(&double, import_args(&made, &double, "k"));
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.contains("HTTP 401") && err.contains("az login"),
        "{err}"
    );
    assert!(err.contains("Nothing was imported"), "{err}");
    assert_nothing_imported(&double);
}

#[test]
fn a_wrong_client_secret_is_a_credential_error() {
    let (double, made) = setup(Kind::KeyVault, TargetKind::Rsa);
    let mut env = double.env();
    for (name, value) in &mut env {
        if name == "AZURE_CLIENT_SECRET" {
            *value = "wrong".into();
        }
    }
    let out = common::upload_with_env(env, import_args(&made, &double, "k"));
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("could not get a token"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("wrong\""),
        "the secret is never printed"
    );
    assert_nothing_imported(&double);
}

#[test]
fn a_soft_deleted_name_is_a_clear_409() {
    let (double, made) = setup(Kind::KeyVault, TargetKind::Rsa);
    double.state.lock().expect("state").deleted_names = vec!["k".into()];
    let out = upload(&double, import_args(&made, &double, "k"));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("HTTP 409") && err.contains("recover"), "{err}");
    assert_nothing_imported(&double);
}

#[test]
fn an_existing_name_is_refused_unless_a_new_version_is_asked_for() {
    let (double, made) = setup(Kind::KeyVault, TargetKind::Rsa);
    assert_eq!(
        upload(&double, import_args(&made, &double, "k"))
            .status
            .code(),
        Some(0)
    );
    let out = upload(&double, import_args(&made, &double, "k"));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert_eq!(double.state.lock().expect("state").keys.len(), 1);
    let mut args = import_args(&made, &double, "k");
    args.push("--allow-new-version".into());
    assert_eq!(upload(&double, &args).status.code(), Some(0));
    assert_eq!(double.state.lock().expect("state").keys.len(), 2);
}

#[test]
fn a_rehearsal_manifest_is_refused_for_a_real_vault_before_anything_is_sent() {
    let private = kek_private(2048);
    let kid = "https://contoso.vault.azure.net/keys/kek/0123456789abcdef0123456789abcdef";
    let made = make(&private.to_public_key(), kid, TargetKind::Rsa, true);
    let args = [
        "import",
        "--byok",
        made.byok.to_str().expect("utf-8"),
        "--manifest",
        made.manifest.to_str().expect("utf-8"),
        "--name",
        "k",
        "--vault",
        "https://contoso.vault.azure.net",
    ];
    let out = common::upload_with_env(Vec::new(), args);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--allow-rehearsal"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_client_certificate_credential_signs_in() {
    use pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let (double, made) = setup(Kind::KeyVault, TargetKind::Ec(EcCurve::P256));
    let app_key = byok_ceremony::byok::simulated_kek::load_private_key(
        &common::fixtures::repo_data("independent/kek-3072.private.pem"),
    )
    .expect("key");
    let spki = app_key
        .to_public_key()
        .to_public_key_der()
        .expect("spki")
        .into_vec();
    let cert_pem = double.ca.client_certificate_pem(&spki);
    let (_, cert_der) = der::pem::decode_vec(cert_pem.as_bytes()).expect("pem");
    {
        let mut st = double.state.lock().expect("state");
        st.client_cert_spki = Some(spki);
        st.client_cert_sha1 = Some(sha1::Sha1::digest(&cert_der).to_vec());
    }
    let key_pem = app_key.to_pkcs8_pem(LineEnding::LF).expect("pem");
    let pem_path = made.dir.path().join("app.pem");
    std::fs::write(&pem_path, format!("{}{cert_pem}", key_pem.as_str())).expect("write");
    let mut env: Vec<(String, String)> = double
        .env()
        .into_iter()
        .filter(|(name, _)| name != "AZURE_CLIENT_SECRET")
        .collect();
    env.push((
        "AZURE_CLIENT_CERTIFICATE_PATH".into(),
        pem_path.display().to_string(),
    ));
    let mut args = import_args(&made, &double, "k");
    args[1] = "auto".into();
    let out = common::upload_with_env(env, &args);
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("client certificate (SHA-1 thumbprint"));
}
