//! `run SCRIPT --answers FILE` end to end on SoftHSM2: a token provisioned 2-of-3, a whole
//! ceremony, a .byok that unwraps correctly, a manifest, and a log that verifies.
mod ceremony;

use byok_ceremony::audit::log::stream;
use byok_ceremony::manifest::Manifest;
use ceremony::{KID, Room};

#[test]
fn a_headless_ceremony_produces_a_verifiable_byok_manifest_and_log() {
    let room = Room::new("run test");
    let out = room.run_ceremony();
    assert!(out.status.success(), "the ceremony did not close");

    let media = room.path("out-usb");
    let manifest = Manifest::parse(
        &std::fs::read(media.join("test-ceremony.manifest.json")).expect("manifest"),
    )
    .expect("strict manifest");
    assert_eq!(manifest.kid, KID);
    assert_eq!(manifest.ceremony_id.as_deref(), Some("test-ceremony"));
    assert!(
        manifest.key_attributes.token,
        "keep_in_hsm makes a token object"
    );
    // The .byok unwraps with the test KEK to the HSM's key (SoftHSM2 zero-pads: rehearsal).
    room.assert_byok_unwraps_to_manifest_key();

    // The log: on the workstation and its copy on the media are the same, and verify.
    let log = media.join("test-ceremony.audit.jsonl");
    assert_eq!(
        std::fs::read(&log).expect("media copy"),
        std::fs::read(room.path("state/test-ceremony.audit.jsonl")).expect("workstation log")
    );
    let audit = room.audit_verify(&log);
    assert!(audit.status.success(), "the log does not verify");
    let stdout = String::from_utf8_lossy(&audit.stdout);
    assert!(stdout.contains("final phase: Closed"), "{stdout}");
    assert!(stdout.contains("artifacts verified: 2"), "{stdout}");

    // The manifest's audit head is the log entry that recorded the wrap.
    let mut wrapped_hash = None;
    let mut kinds = Vec::new();
    stream(&log, |_, e| {
        if e.event.kind() == "wrapped" {
            wrapped_hash = Some(e.hash.clone());
        }
        kinds.push(e.event.kind());
        Ok(())
    })
    .expect("stream");
    assert_eq!(manifest.audit_log_head_sha256, wrapped_hash);
    // The order the tool enforces, as the log shows it.
    let order = [
        "ceremony_opened",
        "preflight_completed",
        "attendance_closed",
        "share_presented",
        "logged_in",
        "kek_loaded",
        "kek_confirmed",
        "key_generated",
        "wrapped",
        "exported",
        "verified",
        "signed_off",
        "closed",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|k| {
            kinds
                .iter()
                .position(|x| x == k)
                .unwrap_or_else(|| panic!("{k} missing"))
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{kinds:?}");
    // Signed at each gate from the quorum on (the audit key needs the login) and at close.
    assert_eq!(
        kinds.iter().filter(|k| **k == "checkpoint").count(),
        6,
        "{kinds:?}"
    );

    // Running the same ceremony id again is refused: one id, one key.
    let again = room.run_ceremony();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("one ceremony id makes one key"));
}

#[test]
fn two_shares_of_which_one_is_wrong_do_not_log_in() {
    let room = Room::new("short quorum");
    // erin did not check in: her share is refused, so only one valid share is present.
    room.write_answers(&["carol", "erin"], None);
    let out = room.run_ceremony();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("quorum was not met"), "{stderr}");
    // Nothing but the audit log (mirrored as it grows) reached the media.
    let names: Vec<_> = std::fs::read_dir(room.path("out-usb"))
        .expect("list")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    assert_eq!(names, ["test-ceremony.audit.jsonl"]);
    assert_eq!(
        std::fs::read(room.path("out-usb/test-ceremony.audit.jsonl")).expect("mirror"),
        std::fs::read(room.path("state/test-ceremony.audit.jsonl")).expect("log"),
        "the mirror holds the whole log, failed quorum included"
    );
}

#[test]
fn a_deviation_is_recorded_acknowledged_and_reported() {
    let room = Room::new("deviation test");
    let mut answers = std::fs::read_to_string(room.path("answers.toml")).expect("answers");
    answers.push_str(
        "\n[[deviations]]\nphase = \"attendance\"\ntext = \"Dave arrived 10 minutes late; the witness checked his ID.\"\n",
    );
    std::fs::write(room.path("answers.toml"), answers).expect("write");
    let out = room.run_ceremony();
    assert!(out.status.success(), "the ceremony did not close");
    let log = room.path("out-usb/test-ceremony.audit.jsonl");
    let audit = room.audit_verify(&log);
    assert!(audit.status.success());
    assert!(String::from_utf8_lossy(&audit.stdout).contains("deviations: 1"));
    let mut seen = Vec::new();
    stream(&log, |_, e| {
        if matches!(
            e.event.kind(),
            "deviation_recorded" | "deviation_acknowledged"
        ) {
            seen.push((e.event.kind(), e.actor.clone(), e.scripted));
        }
        Ok(())
    })
    .expect("stream");
    assert_eq!(
        seen,
        [
            ("deviation_recorded", Some("alice".to_owned()), true),
            ("deviation_acknowledged", Some("wendy".to_owned()), true)
        ]
    );
}
