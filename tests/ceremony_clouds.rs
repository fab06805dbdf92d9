//! One ceremony, three clouds, headless (`run SCRIPT --answers FILE`) on kryoptic (its two-step
//! wrap does OAEP SHA-256): one key, wrapped for Azure Key Vault, Google Cloud KMS and AWS KMS,
//! each output unwrapping to the HSM's key; the log verifies with every output on the media; a
//! Cloud KMS import job older than 3 days stops the ceremony before any key is made; an expired
//! AWS import token is a warning the log keeps.
mod ceremony;

use byok_ceremony::audit::log::stream;
use byok_ceremony::ceremony::machine::Event;
use byok_ceremony::cloud::check::{self, Expected};
use byok_ceremony::cloud::{Algorithm, Cloud};
use byok_ceremony::manifest::Manifest;
use ceremony::{AWS_KEK_PRIVATE, GCP_KEK_PRIVATE, Room, data, kill_after, rfc3339_from_now};

fn events(log: &std::path::Path) -> Vec<Event> {
    let mut v = Vec::new();
    stream(log, |_, e| {
        v.push(e.event.clone());
        Ok(())
    })
    .expect("stream");
    v
}

fn private(rel: &str) -> rsa::PrivateKey {
    byok_ceremony::byok::simulated_kek::load_private_key(&data(rel)).expect("test KEK")
}

/// Every output on the room's medium unwraps to the HSM's key, each only with its own
/// cloud's wrapping key, the AWS token is copied as it was, and the log verifies with all of
/// them on the medium.
fn every_output_is_the_hsm_key(room: &Room) {
    let media = room.path("out-usb");
    let manifest = Manifest::parse(
        &std::fs::read(media.join("test-ceremony.manifest.json")).expect("manifest"),
    )
    .expect("strict manifest");
    let clouds: Vec<Cloud> = manifest.outputs.iter().map(|o| o.cloud).collect();
    assert_eq!(clouds, [Cloud::Azure, Cloud::Gcp, Cloud::Aws]);
    // Azure's .byok, as ever; then each other cloud's raw bytes with its own key and hash.
    room.assert_byok_unwraps_to_manifest_key();
    let spki = der::pem::decode_vec(manifest.public_key_pem.as_deref().expect("pem").as_bytes())
        .expect("PEM")
        .1;
    for (cloud, key) in [(Cloud::Gcp, GCP_KEK_PRIVATE), (Cloud::Aws, AWS_KEK_PRIVATE)] {
        let o = manifest
            .outputs
            .iter()
            .find(|o| o.cloud == cloud)
            .expect("output");
        let alg = Algorithm::find(cloud, &o.algorithm).expect("algorithm");
        let bytes = std::fs::read(media.join(&o.file)).expect("output file");
        check::check(&bytes, alg, &private(key), Expected::PublicSpkiDer(&spki))
            .unwrap_or_else(|e| panic!("{cloud}: {e}"));
        // Wrapped for its own KEK: the other cloud's key does not open it.
        let other = if cloud == Cloud::Gcp {
            AWS_KEK_PRIVATE
        } else {
            GCP_KEK_PRIVATE
        };
        assert!(check::unwrap(&bytes, alg, &private(other)).is_err());
    }
    let token = std::fs::read(media.join("test-ceremony.aws.import-token.bin")).expect("token");
    assert_eq!(
        token,
        std::fs::read(data("clouds/import-token.bin")).expect("token")
    );

    let log = media.join("test-ceremony.audit.jsonl");
    assert!(
        room.audit_verify(&log).status.success(),
        "the log does not verify"
    );
}

#[test]
fn one_key_wrapped_for_three_clouds_verifies_and_unwraps_for_each() {
    let room = Room::on_kryoptic("clouds");
    room.three_clouds(&rfc3339_from_now(-3600), &rfc3339_from_now(20 * 3600));
    let out = room.run_ceremony();
    assert!(out.status.success(), "the ceremony did not close");
    every_output_is_the_hsm_key(&room);
    let media = room.path("out-usb");
    let log = media.join("test-ceremony.audit.jsonl");
    let all = events(&log);
    let loaded: Vec<_> = all
        .iter()
        .filter_map(|e| match e {
            Event::KekLoaded { target, .. } => *target,
            _ => None,
        })
        .collect();
    assert_eq!(loaded, [Cloud::Azure, Cloud::Gcp, Cloud::Aws]);
    let keys = all
        .iter()
        .filter(|e| matches!(e, Event::KeyGenerated { .. }))
        .count();
    assert_eq!(keys, 1, "one key for all clouds");
    let raw: Vec<_> = all
        .iter()
        .filter_map(|e| match e {
            Event::TargetWrapped {
                target, algorithm, ..
            } => Some((*target, algorithm.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        raw,
        [
            (Cloud::Gcp, "RSA_OAEP_3072_SHA256_AES_256"),
            (Cloud::Aws, "RSA_AES_KEY_WRAP_SHA_256")
        ]
    );

    // An output altered on the medium is caught by the auditor.
    let gcp = media.join("test-ceremony.gcp.wrapped");
    let mut bytes = std::fs::read(&gcp).expect("gcp");
    bytes[0] ^= 1;
    std::fs::write(&gcp, bytes).expect("tamper");
    let verify = room.audit_verify(&log);
    assert!(!verify.status.success());
    assert!(
        String::from_utf8_lossy(&verify.stdout).contains("test-ceremony.gcp.wrapped")
            || String::from_utf8_lossy(&verify.stderr).contains("test-ceremony.gcp.wrapped")
    );
}

/// A crash between two clouds' wraps (after Azure's, after Google's): the restart resumes, the
/// custodians log in and confirm every KEK again, the same key is wrapped for the clouds left,
/// and every output is the HSM's key.
#[test]
fn a_crash_between_two_clouds_wraps_resumes_with_the_same_key() {
    for event in ["wrapped", "target_wrapped"] {
        let room = Room::on_kryoptic(&format!("crash {event}"));
        room.three_clouds(&rfc3339_from_now(-3600), &rfc3339_from_now(20 * 3600));
        kill_after(&room, event);
        let answers = std::fs::read_to_string(room.path("answers.toml")).expect("answers");
        let answers = answers.replacen(
            "media = \"out-usb\"\n",
            "media = \"out-usb\"\non_unfinished = \"resume\"\n",
            1,
        );
        std::fs::write(room.path("answers.toml"), answers).expect("answers");
        let out = room.run_ceremony();
        assert!(
            out.status.success(),
            "{event}: the resumed ceremony did not close"
        );
        every_output_is_the_hsm_key(&room);
        let all = events(&room.path("out-usb/test-ceremony.audit.jsonl"));
        let count = |kind: &str| all.iter().filter(|e| e.kind() == kind).count();
        assert_eq!(count("key_generated"), 1, "{event}: one key");
        assert_eq!(count("wrapped"), 1, "{event}: Azure wrapped once");
        assert_eq!(
            count("target_wrapped"),
            2,
            "{event}: Google and AWS once each"
        );
        assert_eq!(count("resumed"), 1, "{event}");
        assert_eq!(
            count("kek_loaded"),
            6,
            "{event}: every KEK loaded and confirmed again after the crash"
        );
    }
}

#[test]
fn an_import_job_older_than_three_days_stops_the_ceremony_before_any_key_is_made() {
    let room = Room::on_kryoptic("old job");
    room.three_clouds(
        &rfc3339_from_now(-(3 * 24 + 1) * 3600),
        &rfc3339_from_now(20 * 3600),
    );
    let out = room.run_ceremony();
    assert!(!out.status.success(), "an expired import job must stop it");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("expire 3 days after creation"), "{err}");
    assert!(err.contains("create a new import job"), "{err}");
    let all = events(&room.path("state/test-ceremony.audit.jsonl"));
    assert!(
        all.iter().any(|e| matches!(
            e,
            Event::StepFailed { reason, .. } if reason.contains("3 days")
        )),
        "the refusal is logged"
    );
    assert!(
        !all.iter()
            .any(|e| matches!(e, Event::KeyGenerated { .. } | Event::WrapTested { .. })),
        "the HSM made nothing"
    );
    assert!(
        std::fs::read_dir(room.path("out-usb"))
            .expect("out")
            .all(|f| {
                !f.expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .contains("wrapped")
            })
    );
}

#[test]
fn an_expired_aws_import_token_is_a_logged_warning_and_the_ceremony_goes_on() {
    let room = Room::on_kryoptic("old token");
    room.three_clouds(&rfc3339_from_now(-3600), &rfc3339_from_now(-2 * 3600));
    let out = room.run_ceremony();
    assert!(out.status.success(), "a warning, not a stop");
    let all = events(&room.path("out-usb/test-ceremony.audit.jsonl"));
    let warned = all.iter().any(|e| {
        matches!(
            e,
            Event::KekLoaded { target: Some(Cloud::Aws), warnings, .. }
                if warnings.iter().any(|w| w.contains("expired 2 hours") && w.contains("fetch new parameters"))
        )
    });
    assert!(warned, "the AWS KEK's warning is in the log");
}
