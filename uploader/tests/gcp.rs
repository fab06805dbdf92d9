//! byok-upload gcp fetch-kek and gcp import against the Cloud KMS test double: the job's key
//! is what the station loads, the key material the double unwraps is exactly what was
//! wrapped, and jobs, keys and algorithms Cloud KMS would refuse are refused.
mod common;

use std::path::Path;

use byok_ceremony::byok::kek::Kek;
use common::fixtures::{Oaep, TargetKind, make_wrapped};
use common::gcp_double::{GcpDouble, PROJECT_RING};
use common::{stderr, stdout, upload_with_env};

fn fetch(double: &GcpDouble, job: &str, extra: &[&str], out: &Path) -> std::process::Output {
    let mut args: Vec<String> = ["gcp", "fetch-kek", "--import-job", job, "--out"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(out.display().to_string());
    args.extend(["--endpoint".to_owned(), double.url()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    upload_with_env(double.env(), args)
}

fn job_kek(dir: &Path, job: &str) -> Kek {
    let id = job.rsplit('/').next().expect("id");
    Kek::load(&dir.join(format!("{id}.public.pem")), None, None)
        .expect("the station loads the job's key")
}

fn import(
    double: &GcpDouble,
    manifest: &Path,
    wrapped: &Path,
    key: &str,
    job: &str,
    algorithm: &str,
) -> std::process::Output {
    upload_with_env(
        double.env(),
        [
            "gcp",
            "import",
            "--manifest",
            &manifest.display().to_string(),
            "--wrapped-key",
            &wrapped.display().to_string(),
            "--crypto-key",
            key,
            "--import-job",
            job,
            "--algorithm",
            algorithm,
            "--endpoint",
            &double.url(),
        ],
    )
}

#[test]
fn creates_a_job_then_imports_an_rsa_key_and_proves_it() {
    let double = GcpDouble::start();
    let key = double.add_key("signing", "ASYMMETRIC_SIGN", "HSM");
    let job = format!("{PROJECT_RING}/importJobs/ceremony-1");
    let dir = tempfile::tempdir().expect("dir");
    let out = fetch(&double, &job, &["--create"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let kek = job_kek(dir.path(), &job);
    assert_eq!(kek.bits(), 3072);
    let text = stdout(&out);
    assert!(text.contains("created now"), "{text}");
    assert!(text.contains(&kek.fingerprint().hex_groups()), "{text}");
    assert!(
        text.contains(&kek.fingerprint().pgp_words().join(" ")),
        "{text}"
    );
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("ceremony-1.import-job.json")).expect("json"),
    )
    .expect("JSON");
    assert_eq!(record["import_method"], "RSA_OAEP_3072_SHA256_AES_256");
    assert_eq!(record["protection_level"], "HSM");
    assert_eq!(record["public_key_sha256"], kek.fingerprint().hex());
    {
        let st = double.state.lock().expect("state");
        assert_eq!(st.count("POST", "/importJobs"), 1, "created once");
        assert!(
            st.count("GET", "/importJobs/ceremony-1") >= 2,
            "waited for PENDING_GENERATION"
        );
    }

    let (made, wrapped) = make_wrapped(kek.public_key(), TargetKind::Rsa, Oaep::Sha256, true);
    let out = import(
        &double,
        &made.manifest,
        &wrapped,
        &key,
        &job,
        "RSA_SIGN_PSS_2048_SHA256",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let version = format!("{key}/cryptoKeyVersions/1");
    assert!(
        stdout(&out).contains(&format!("version: {version}")),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("public key equals the manifest's"));
    assert_eq!(
        double.material(&version),
        Some(made.plaintext.clone()),
        "Google got the ceremony's key"
    );

    // Never overwrites.
    let again = fetch(&double, &job, &[], dir.path());
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn imports_a_symmetric_key_through_an_existing_sha1_job() {
    let double = GcpDouble::start();
    let key = double.add_key("data", "ENCRYPT_DECRYPT", "HSM");
    let job = double.add_job("sha1", "RSA_OAEP_3072_SHA1_AES_256", "ACTIVE", "HSM");
    let dir = tempfile::tempdir().expect("dir");
    let out = fetch(&double, &job, &[], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (made, wrapped) = make_wrapped(
        job_kek(dir.path(), &job).public_key(),
        TargetKind::Oct(32),
        Oaep::Sha1,
        true,
    );
    let out = import(
        &double,
        &made.manifest,
        &wrapped,
        &key,
        &job,
        "GOOGLE_SYMMETRIC_ENCRYPTION",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        double.material(&format!("{key}/cryptoKeyVersions/1")),
        Some(made.plaintext.clone())
    );
}

#[test]
fn refuses_jobs_that_cannot_wrap() {
    let double = GcpDouble::start();
    let dir = tempfile::tempdir().expect("dir");
    let expired = double.add_job("old", "RSA_OAEP_3072_SHA256_AES_256", "EXPIRED", "HSM");
    let out = fetch(&double, &expired, &[], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("expired at"), "{}", stderr(&out));
    let software = double.add_job("soft", "RSA_OAEP_3072_SHA256_AES_256", "ACTIVE", "SOFTWARE");
    let out = fetch(&double, &software, &[], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not HSM"), "{}", stderr(&out));
    let missing = format!("{PROJECT_RING}/importJobs/none");
    let out = fetch(&double, &missing, &[], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--create"), "{}", stderr(&out));
    let other_method = double.add_job("m", "RSA_OAEP_3072_SHA1_AES_256", "ACTIVE", "HSM");
    let out = fetch(
        &double,
        &other_method,
        &["--import-method", "RSA_OAEP_3072_SHA256_AES_256"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot change"), "{}", stderr(&out));
    // The double has no 4096-bit test key: a 4096 job carries a 3072-bit key, which is refused.
    let wrong_size = double.add_job("big", "RSA_OAEP_4096_SHA256_AES_256", "ACTIVE", "HSM");
    let out = fetch(&double, &wrong_size, &[], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("needs RSA-4096"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("dir").count(),
        0,
        "nothing written"
    );

    // A job that expired between the ceremony and the import.
    let key = double.add_key("signing", "ASYMMETRIC_SIGN", "HSM");
    let job = double.add_job("late", "RSA_OAEP_3072_SHA256_AES_256", "ACTIVE", "HSM");
    let kek = double.job_public(&job);
    let (made, wrapped) = make_wrapped(&kek, TargetKind::Rsa, Oaep::Sha256, true);
    double
        .state
        .lock()
        .expect("state")
        .jobs
        .last_mut()
        .expect("job")
        .expire = 0;
    let out = import(
        &double,
        &made.manifest,
        &wrapped,
        &key,
        &job,
        "RSA_SIGN_PSS_2048_SHA256",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("expired"), "{}", stderr(&out));
    assert_eq!(
        double.state.lock().expect("state").count("POST", ":import"),
        0
    );
}

#[test]
fn refuses_wrong_algorithms_and_reports_an_import_google_could_not_unwrap() {
    let double = GcpDouble::start();
    let key = double.add_key("signing", "ASYMMETRIC_SIGN", "HSM");
    let job = double.add_job("j", "RSA_OAEP_3072_SHA256_AES_256", "ACTIVE", "HSM");
    let kek = double.job_public(&job);
    let (made, wrapped) = make_wrapped(&kek, TargetKind::Rsa, Oaep::Sha256, true);
    // The ceremony's key is RSA-2048: a 3072 algorithm is refused before anything is sent.
    let out = import(
        &double,
        &made.manifest,
        &wrapped,
        &key,
        &job,
        "RSA_SIGN_PSS_3072_SHA256",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is for RSA-3072"), "{}", stderr(&out));
    // An RSA private key cannot travel under RSA-OAEP alone.
    let plain = double.add_job("plain", "RSA_OAEP_3072_SHA256", "ACTIVE", "HSM");
    let out = import(
        &double,
        &made.manifest,
        &wrapped,
        &key,
        &plain,
        "RSA_SIGN_PSS_2048_SHA256",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("too long"), "{}", stderr(&out));
    // The key's purpose must fit the algorithm.
    let data = double.add_key("data", "ENCRYPT_DECRYPT", "HSM");
    let out = import(
        &double,
        &made.manifest,
        &wrapped,
        &data,
        &job,
        "RSA_SIGN_PSS_2048_SHA256",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("purpose ENCRYPT_DECRYPT"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        double.state.lock().expect("state").count("POST", ":import"),
        0
    );

    // Wrapped with SHA-1 for a SHA-256 job: Google cannot unwrap it; the version fails.
    let (made, wrapped) = make_wrapped(&kek, TargetKind::Rsa, Oaep::Sha1, true);
    let out = import(
        &double,
        &made.manifest,
        &wrapped,
        &key,
        &job,
        "RSA_SIGN_PSS_2048_SHA256",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("could not import"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("Failed to unwrap"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_public_key_mismatch_after_import_is_reported_and_throttling_is_retried() {
    let double = GcpDouble::start();
    let key = double.add_key("signing", "ASYMMETRIC_SIGN", "HSM");
    let job = double.add_job("j", "RSA_OAEP_3072_SHA256_AES_256", "ACTIVE", "HSM");
    let kek = double.job_public(&job);
    let (made, wrapped) = make_wrapped(
        &kek,
        TargetKind::Ec(byok_ceremony::byok::curve::EcCurve::P256),
        Oaep::Sha256,
        true,
    );
    {
        let mut st = double.state.lock().expect("state");
        st.wrong_public_key = true;
        st.throttle = 2;
    }
    let out = import(
        &double,
        &made.manifest,
        &wrapped,
        &key,
        &job,
        "EC_SIGN_P256_SHA256",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("THE IMPORTED KEY IS NOT THE CEREMONY'S"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("gcloud kms keys versions disable"),
        "{}",
        stderr(&out)
    );
    let st = double.state.lock().expect("state");
    assert_eq!(st.log.iter().filter(|(_, _, s)| *s == 429).count(), 2);
    assert_eq!(st.count("POST", ":import"), 1, "imported once");
}

#[test]
fn an_import_whose_outcome_is_unknown_is_not_repeated() {
    let double = GcpDouble::start();
    let key = double.add_key("data", "ENCRYPT_DECRYPT", "HSM");
    let job = double.add_job("j", "RSA_OAEP_3072_SHA256_AES_256", "ACTIVE", "HSM");
    let kek = double.job_public(&job);
    let (made, wrapped) = make_wrapped(&kek, TargetKind::Oct(32), Oaep::Sha256, true);
    double.state.lock().expect("state").unavailable_after_import = 1;
    let out = import(
        &double,
        &made.manifest,
        &wrapped,
        &key,
        &job,
        "GOOGLE_SYMMETRIC_ENCRYPTION",
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("does not tell whether Cloud KMS applied it"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("gcloud kms keys versions list"),
        "{}",
        stderr(&out)
    );
    let st = double.state.lock().expect("state");
    assert_eq!(
        st.count("POST", ":import"),
        1,
        "never repeated: each import makes a version"
    );
}

#[test]
fn credentials_the_token_endpoint_refuses_are_exit_3() {
    let double = GcpDouble::start();
    let job = double.add_job("j", "RSA_OAEP_3072_SHA256_AES_256", "ACTIVE", "HSM");
    let adc = tempfile::tempdir().expect("dir");
    let file = adc.path().join("adc.json");
    let revoked = serde_json::json!({
        "type": "authorized_user",
        "client_id": common::gcp_double::CLIENT_ID,
        "client_secret": common::gcp_double::CLIENT_SECRET,
        "refresh_token": "revoked-refresh-token",
        "token_uri": format!("{}/token", double.url()),
    });
    std::fs::write(&file, revoked.to_string()).expect("write");
    let mut env = double.env();
    for (name, value) in env.iter_mut() {
        if name == "GOOGLE_APPLICATION_CREDENTIALS" {
            *value = file.display().to_string();
        }
    }
    let dir = tempfile::tempdir().expect("dir");
    let out = upload_with_env(
        env,
        [
            "gcp",
            "fetch-kek",
            "--import-job",
            &job,
            "--out",
            &dir.path().display().to_string(),
            "--endpoint",
            &double.url(),
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("application-default login"),
        "{}",
        stderr(&out)
    );
    let st = double.state.lock().expect("state");
    assert_eq!(
        st.count("GET", "/importJobs/j"),
        0,
        "no KMS request without a token"
    );
}

/// The manifest of a ceremony for several clouds: Google's output is named with its own hash
/// and wrapping key (the top-level fingerprint is the first target's, here Azure's), and the
/// import takes those; a file that is not Google's output, or a manifest with no output for
/// Google, is refused before any request.
#[test]
fn a_several_cloud_manifest_binds_the_file_and_the_wrapping_key_of_google_s_output() {
    use byok_ceremony::cloud::Cloud;
    use byok_ceremony::hsm_types::wrap::OaepHash;
    use byok_ceremony::manifest::{Manifest, OutputRecord};
    use common::fixtures::write_manifest;
    use sha2::Digest;

    let double = GcpDouble::start();
    let key = double.add_key("signing", "ASYMMETRIC_SIGN", "HSM");
    let job = format!("{PROJECT_RING}/importJobs/ceremony-2");
    let dir = tempfile::tempdir().expect("dir");
    let out = fetch(&double, &job, &["--create"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let kek = job_kek(dir.path(), &job);
    let (made, wrapped) = make_wrapped(kek.public_key(), TargetKind::Rsa, Oaep::Sha256, true);
    let bytes = std::fs::read(&wrapped).expect("wrapped");
    let mut manifest = Manifest::parse(&std::fs::read(&made.manifest).expect("m")).expect("m");
    let output = |cloud: Cloud, sha256: String, kek: String| OutputRecord {
        cloud,
        file: format!("t.{cloud}.wrapped"),
        sha256,
        algorithm: "RSA_OAEP_3072_SHA256_AES_256".into(),
        oaep_hash: OaepHash::Sha256,
        kek_fingerprint_sha256: kek,
        destination: job.clone(),
        wrap: "two_step".into(),
        import_token_file: None,
        import_token_sha256: None,
    };
    manifest.kek_fingerprint_sha256 = "aa".repeat(32);
    manifest.outputs = vec![
        output(Cloud::Azure, "bb".repeat(32), "aa".repeat(32)),
        output(
            Cloud::Gcp,
            hex::encode(sha2::Sha256::digest(&bytes)),
            kek.fingerprint().hex(),
        ),
    ];
    write_manifest(&made.manifest, &manifest);
    let out = import(
        &double,
        &made.manifest,
        &wrapped,
        &key,
        &job,
        "RSA_SIGN_PSS_2048_SHA256",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // Another file than the one the manifest names for Google.
    let other = made.dir.path().join("other.bin");
    let mut changed = bytes.clone();
    changed.push(0);
    std::fs::write(&other, &changed).expect("other");
    let out = import(
        &double,
        &made.manifest,
        &other,
        &key,
        &job,
        "RSA_SIGN_PSS_2048_SHA256",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not the file the ceremony wrote for Google Cloud KMS"),
        "{}",
        stderr(&out)
    );

    // A ceremony that did not wrap for Google.
    manifest.outputs.retain(|o| o.cloud != Cloud::Gcp);
    write_manifest(&made.manifest, &manifest);
    let before = double.state.lock().expect("state").count("POST", ":import");
    let out = import(
        &double,
        &made.manifest,
        &wrapped,
        &key,
        &job,
        "RSA_SIGN_PSS_2048_SHA256",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("did not wrap the key for Google Cloud KMS"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        double.state.lock().expect("state").count("POST", ":import"),
        before,
        "nothing sent"
    );
}
