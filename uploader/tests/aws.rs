//! byok-upload aws fetch-kek and aws import against the AWS KMS test double: what fetch-kek
//! writes is what the station loads, the key material the double unwraps is exactly what was
//! wrapped, and every refusal AWS would make (or that protects the ceremony) is made.
mod common;

use std::path::{Path, PathBuf};

use byok_ceremony::byok::kek::Kek;
use common::aws_double::AwsDouble;
use common::fixtures::{Oaep, TargetKind, make_wrapped};
use common::{stderr, stdout, upload_with_env};

fn fetch(
    double: &AwsDouble,
    key_id: &str,
    algorithm: &str,
    spec: &str,
    out: &Path,
) -> std::process::Output {
    upload_with_env(
        double.env(),
        [
            "aws",
            "fetch-kek",
            "--key-id",
            key_id,
            "--wrapping-algorithm",
            algorithm,
            "--wrapping-key-spec",
            spec,
            "--out",
            &out.display().to_string(),
        ],
    )
}

struct Fetched {
    dir: tempfile::TempDir,
    der: PathBuf,
    token: PathBuf,
    json: PathBuf,
}

fn fetched(double: &AwsDouble, key_id: &str, algorithm: &str, spec: &str) -> Fetched {
    let dir = tempfile::tempdir().expect("dir");
    let out = fetch(double, key_id, algorithm, spec, dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    Fetched {
        der: dir.path().join(format!("{key_id}.wrapping-key.der")),
        token: dir.path().join(format!("{key_id}.import-token.bin")),
        json: dir.path().join(format!("{key_id}.import-parameters.json")),
        dir,
    }
}

fn import_args(manifest: &Path, material: &Path, f: &Fetched, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "aws",
        "import",
        "--manifest",
        &manifest.display().to_string(),
        "--encrypted-key-material",
        &material.display().to_string(),
        "--import-token",
        &f.token.display().to_string(),
        "--parameters",
        &f.json.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn wrapping_key(f: &Fetched) -> Kek {
    Kek::load(&f.der, None, None).expect("the station loads the wrapping key")
}

#[test]
fn rsa_key_fetch_then_import_proves_the_key() {
    let double = AwsDouble::start();
    let key_id = double.add_key("EXTERNAL", "RSA_2048");
    let dir = tempfile::tempdir().expect("dir");
    let out = fetch(
        &double,
        &key_id,
        "RSA_AES_KEY_WRAP_SHA_256",
        "RSA_3072",
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let f = Fetched {
        der: dir.path().join(format!("{key_id}.wrapping-key.der")),
        token: dir.path().join(format!("{key_id}.import-token.bin")),
        json: dir.path().join(format!("{key_id}.import-parameters.json")),
        dir,
    };
    let kek = wrapping_key(&f);
    assert_eq!(kek.bits(), 3072);
    let text = stdout(&out);
    assert!(text.contains(&kek.fingerprint().hex_groups()), "{text}");
    assert!(
        text.contains(&kek.fingerprint().pgp_words().join(" ")),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&f.json).expect("json")).expect("JSON");
    assert_eq!(json["key_arn"], AwsDouble::arn(&key_id));
    assert_eq!(json["wrapping_key_sha256"], kek.fingerprint().hex());

    // Never overwrites: refused before GetParametersForImport, files unchanged.
    let token_before = std::fs::read(&f.token).expect("token");
    let asked = double
        .state
        .lock()
        .expect("state")
        .count("GetParametersForImport");
    let again = fetch(
        &double,
        &key_id,
        "RSA_AES_KEY_WRAP_SHA_256",
        "RSA_3072",
        f.dir.path(),
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        double
            .state
            .lock()
            .expect("state")
            .count("GetParametersForImport"),
        asked
    );
    assert_eq!(std::fs::read(&f.token).expect("token"), token_before);

    let (made, material) = make_wrapped(kek.public_key(), TargetKind::Rsa, Oaep::Sha256, true);
    let out = upload_with_env(
        double.env(),
        import_args(&made.manifest, &material, &f, &[]),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("key: {}", AwsDouble::arn(&key_id))));
    assert!(stdout(&out).contains("public key equals the manifest's"));
    assert_eq!(
        double.key_material(&key_id),
        Some(made.plaintext.clone()),
        "AWS got the ceremony's key"
    );
}

#[test]
fn symmetric_key_under_rsaes_oaep_with_an_expiry() {
    let double = AwsDouble::start();
    let key_id = double.add_key("EXTERNAL", "SYMMETRIC_DEFAULT");
    let f = fetched(&double, &key_id, "RSAES_OAEP_SHA_256", "RSA_2048");
    let (made, material) = make_wrapped(
        wrapping_key(&f).public_key(),
        TargetKind::Oct(32),
        Oaep::Sha256,
        false,
    );
    let valid_to = byok_upload::clock::rfc3339(byok_upload::clock::now() + 30 * 86400);
    let out = upload_with_env(
        double.env(),
        import_args(
            &made.manifest,
            &material,
            &f,
            &[
                "--expiration-model",
                "KEY_MATERIAL_EXPIRES",
                "--valid-to",
                &valid_to,
            ],
        ),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(double.key_material(&key_id), Some(made.plaintext.clone()));
    let st = double.state.lock().expect("state");
    assert_eq!(
        st.keys[0].expiration_model.as_deref(),
        Some("KEY_MATERIAL_EXPIRES")
    );
}

#[test]
fn refuses_a_key_whose_origin_is_not_external_and_a_wrapping_aws_would_refuse() {
    let double = AwsDouble::start();
    let kms_key = double.add_key("AWS_KMS", "SYMMETRIC_DEFAULT");
    let dir = tempfile::tempdir().expect("dir");
    let out = fetch(
        &double,
        &kms_key,
        "RSA_AES_KEY_WRAP_SHA_256",
        "RSA_3072",
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("Origin AWS_KMS, not EXTERNAL"),
        "{}",
        stderr(&out)
    );
    let rsa_key = double.add_key("EXTERNAL", "RSA_2048");
    let out = fetch(
        &double,
        &rsa_key,
        "RSAES_OAEP_SHA_256",
        "RSA_3072",
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot carry the key material of a RSA_2048 key"),
        "{}",
        stderr(&out)
    );
    let out = fetch(
        &double,
        &rsa_key,
        "RSAES_PKCS1_V1_5",
        "RSA_3072",
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        double
            .state
            .lock()
            .expect("state")
            .count("GetParametersForImport"),
        0
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("dir").count(),
        0,
        "nothing written"
    );
}

#[test]
fn refuses_an_expired_token_and_a_wrong_oaep_hash() {
    let double = AwsDouble::start();
    let key_id = double.add_key("EXTERNAL", "ECC_NIST_P256");
    let f = fetched(&double, &key_id, "RSA_AES_KEY_WRAP_SHA_256", "RSA_2048");
    let kek = wrapping_key(&f);

    // A token past ParametersValidTo is refused before anything is sent.
    let (made, material) = make_wrapped(
        kek.public_key(),
        TargetKind::Ec(byok_ceremony::byok::curve::EcCurve::P256),
        Oaep::Sha256,
        true,
    );
    let original = std::fs::read_to_string(&f.json).expect("json");
    let mut json: serde_json::Value = serde_json::from_str(&original).expect("JSON");
    json["parameters_valid_to"] =
        serde_json::json!(byok_upload::clock::rfc3339(byok_upload::clock::now() - 60));
    std::fs::write(&f.json, json.to_string()).expect("write");
    let out = upload_with_env(
        double.env(),
        import_args(&made.manifest, &material, &f, &[]),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("the import token expired"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        double
            .state
            .lock()
            .expect("state")
            .count("ImportKeyMaterial"),
        0
    );
    std::fs::write(&f.json, &original).expect("restore");

    // A token that is not the parameters' is refused too.
    std::fs::write(&f.token, b"another token").expect("write");
    let out = upload_with_env(
        double.env(),
        import_args(&made.manifest, &material, &f, &[]),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is not the one these parameters were fetched with"),
        "{}",
        stderr(&out)
    );
    drop(f);

    // Wrapped with SHA-1 where the parameters say SHA-256: AWS cannot unwrap it.
    let f = fetched(&double, &key_id, "RSA_AES_KEY_WRAP_SHA_256", "RSA_2048");
    let (made, material) = make_wrapped(
        wrapping_key(&f).public_key(),
        TargetKind::Ec(byok_ceremony::byok::curve::EcCurve::P256),
        Oaep::Sha1,
        true,
    );
    let out = upload_with_env(
        double.env(),
        import_args(&made.manifest, &material, &f, &[]),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("InvalidCiphertextException"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("OAEP hash"), "{}", stderr(&out));
    assert_eq!(double.key_material(&key_id), None);
}

#[test]
fn a_public_key_mismatch_after_import_is_reported() {
    let double = AwsDouble::start();
    let key_id = double.add_key("EXTERNAL", "RSA_2048");
    let f = fetched(&double, &key_id, "RSA_AES_KEY_WRAP_SHA_1", "RSA_3072");
    let (made, material) = make_wrapped(
        wrapping_key(&f).public_key(),
        TargetKind::Rsa,
        Oaep::Sha1,
        true,
    );
    double.state.lock().expect("state").wrong_public_key = true;
    let out = upload_with_env(
        double.env(),
        import_args(&made.manifest, &material, &f, &[]),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("THE IMPORTED KEY IS NOT THE CEREMONY'S"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("aws kms disable-key"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn throttling_is_retried_and_an_unreachable_endpoint_is_exit_3() {
    let double = AwsDouble::start();
    let key_id = double.add_key("EXTERNAL", "SYMMETRIC_DEFAULT");
    double.state.lock().expect("state").throttle = 2;
    let f = fetched(&double, &key_id, "RSA_AES_KEY_WRAP_SHA_256", "RSA_3072");
    assert!(f.json.exists());
    let st = double.state.lock().expect("state");
    let throttled = st.log.iter().filter(|(_, status)| *status == 400).count();
    assert_eq!(throttled, 2, "two throttled attempts, then success");
    drop(st);

    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let dir = tempfile::tempdir().expect("dir");
    let mut env = double.env();
    env.retain(|(k, _)| k != "AWS_ENDPOINT_URL_KMS");
    let out = upload_with_env(
        env,
        [
            "aws",
            "fetch-kek",
            "--key-id",
            &key_id,
            "--out",
            &dir.path().display().to_string(),
            "--endpoint-url",
            &format!("https://127.0.0.1:{port}"),
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("could not reach AWS KMS"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("retrying"), "{}", stderr(&out));
}

#[test]
fn local_refusals_before_anything_is_sent() {
    let double = AwsDouble::start();
    let key_id = double.add_key("EXTERNAL", "SYMMETRIC_DEFAULT");
    let f = fetched(&double, &key_id, "RSA_AES_KEY_WRAP_SHA_256", "RSA_3072");
    let (made, material) = make_wrapped(
        wrapping_key(&f).public_key(),
        TargetKind::Oct(32),
        Oaep::Sha256,
        true,
    );
    let run = |extra: &[&str]| {
        upload_with_env(
            double.env(),
            import_args(&made.manifest, &material, &f, extra),
        )
    };

    let out = run(&["--expiration-model", "KEY_MATERIAL_EXPIRES"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let far = byok_upload::clock::rfc3339(byok_upload::clock::now() + 400 * 86400);
    let out = run(&[
        "--expiration-model",
        "KEY_MATERIAL_EXPIRES",
        "--valid-to",
        &far,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("365 days"), "{}", stderr(&out));
    let out = run(&["--key-id", "another-key"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("an import token works only for its own key"),
        "{}",
        stderr(&out)
    );
    let out = run(&["--expect-words", &"00".repeat(32)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not the hash typed"),
        "{}",
        stderr(&out)
    );

    // Wrapped for another wrapping key (the manifest's KEK fingerprint is not the parameters').
    let other = common::fixtures::kek_private(2048).to_public_key();
    let (made_other, material_other) =
        make_wrapped(&other, TargetKind::Oct(32), Oaep::Sha256, true);
    let out = upload_with_env(
        double.env(),
        import_args(&made_other.manifest, &material_other, &f, &[]),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("but these parameters are for"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        double
            .state
            .lock()
            .expect("state")
            .count("ImportKeyMaterial"),
        0,
        "nothing sent"
    );
    assert_eq!(double.key_material(&key_id), None);
}

#[test]
fn a_request_signed_with_another_secret_is_refused() {
    let double = AwsDouble::start();
    let key_id = double.add_key("EXTERNAL", "SYMMETRIC_DEFAULT");
    let mut env = double.env();
    for (name, value) in env.iter_mut() {
        if name == "AWS_SECRET_ACCESS_KEY" {
            *value = "another-secret".to_owned();
        }
    }
    let dir = tempfile::tempdir().expect("dir");
    let out = upload_with_env(
        env,
        [
            "aws",
            "fetch-kek",
            "--key-id",
            &key_id,
            "--out",
            &dir.path().display().to_string(),
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("AWS refused the credentials"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("UnrecognizedClientException"),
        "{}",
        stderr(&out)
    );
}
