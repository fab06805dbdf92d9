//! `run SCRIPT --answers FILE` end to end on SoftHSM2 2.7.0 (native wrap): a token provisioned
//! 2-of-3, a whole ceremony, a .byok that unwraps byte-exact, a manifest, and a log that
//! verifies; trusted-only wrapping; and the distro's SoftHSM2 2.6.1, whose zero padding a
//! production ceremony refuses before any key is made.
mod ceremony;
mod common;

use byok_ceremony::audit::log::stream;
use byok_ceremony::ceremony::machine::Event;
use byok_ceremony::manifest::Manifest;
use ceremony::{KID, Room, SOFTHSM2};

/// The event kinds of a log, in order.
fn kinds(log: &std::path::Path) -> Vec<&'static str> {
    let mut kinds = Vec::new();
    stream(log, |_, e| {
        kinds.push(e.event.kind());
        Ok(())
    })
    .expect("stream");
    kinds
}

fn manifest(room: &Room) -> Manifest {
    Manifest::parse(
        &std::fs::read(room.path("out-usb/test-ceremony.manifest.json")).expect("manifest"),
    )
    .expect("strict manifest")
}

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
    assert_eq!(manifest.kid.as_deref(), Some(KID));
    assert_eq!(manifest.ceremony_id.as_deref(), Some("test-ceremony"));
    assert!(
        manifest.key_attributes.token,
        "keep_in_hsm makes a token object"
    );
    // Native, proven by its known-answer test, byte-exact: the .byok unwraps with the test KEK
    // to the HSM's key with no trailing byte.
    assert_eq!(manifest.wrap.name(), "native");
    assert!(manifest.wrap.path_kat().passed());
    assert!(manifest.rehearsal_grade_reasons.is_empty());
    assert!(
        manifest.hsm.library.ends_with("2.7"),
        "{}",
        manifest.hsm.library
    );
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
        "wrap_tested",
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
    // Each refused share's reason is printed (issue 13, item 9), never the share itself.
    assert!(
        stderr.contains("refused: erin's share was refused: "),
        "{stderr}"
    );
    let erin = std::fs::read_to_string(room.path("provisioning/erin.share.txt")).expect("share");
    let share = byok_ceremony::quorum::share_file::share_text_in(
        &erin,
        byok_ceremony::quorum::share::PinGroup::UserPin,
    )
    .expect("a share");
    let compact: String = share.chars().filter(|c| !c.is_whitespace()).collect();
    let printed: String = stderr.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(
        !printed.contains(&compact[..24]),
        "the share reached the terminal"
    );
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

/// `[target] wrap_with_trusted = true` on SoftHSM2 2.7.0: provisioning has the security officer
/// import the KEK as trusted, the key is made with CKA_WRAP_WITH_TRUSTED, and the native wrap
/// uses the trusted KEK. Without a trusted KEK on the token the wrap stops with a clear line.
#[test]
fn trusted_only_wrapping_runs_natively_with_the_kek_the_so_imported() {
    let room = Room::with_trusted_kek("trusted run");
    let record = std::fs::read_to_string(room.path("provisioning/provisioning-record.json"))
        .expect("record");
    assert!(record.contains("\"trusted_kek\""), "{record}");
    let prov_log = std::fs::read_to_string(room.path("provisioning/provisioning-audit.jsonl"))
        .expect("provisioning log");
    assert!(prov_log.contains("trusted_kek_imported"), "{prov_log}");
    room.edit_script(
        "keep_in_hsm = true",
        "keep_in_hsm = true\nwrap_with_trusted = true",
    );
    let out = room.run_ceremony();
    assert!(
        out.status.success(),
        "the trusted-only ceremony did not close"
    );
    let m = manifest(&room);
    assert!(
        m.key_attributes.wrap_with_trusted,
        "the key is trusted-only"
    );
    assert_eq!(m.wrap.name(), "native");
    room.assert_byok_unwraps_to_manifest_key();
    let audit = room.audit_verify(&room.path("out-usb/test-ceremony.audit.jsonl"));
    assert!(audit.status.success(), "the log does not verify");

    // The same script on a token whose SO trusted no KEK: the key is made, the wrap refused.
    let plain = Room::new("untrusted run");
    plain.edit_script(
        "keep_in_hsm = true",
        "keep_in_hsm = true\nwrap_with_trusted = true",
    );
    let out = plain.run_ceremony();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no trusted KEK"), "{stderr}");
    assert!(stderr.contains("[trusted_kek]"), "{stderr}");
    assert!(!plain.path("out-usb/test-ceremony.byok").exists());
}

/// The distro's SoftHSM2 2.6.1 zero-pads before RFC 5649. Its known-answer test shows it, and a
/// production ceremony stops there, before any key is generated; the script can accept it
/// explicitly, and then every output says it is rehearsal-grade.
#[test]
fn a_production_ceremony_refuses_a_zero_padding_token_before_any_key_is_made() {
    let room = Room::on_module("zero padding", SOFTHSM2);
    room.edit_script("rehearsal = true", "rehearsal = false");
    let out = room.run_ceremony_offline();
    assert!(!out.status.success(), "a zero-padding token was accepted");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("zero-pads"), "{stderr}");
    assert!(stderr.contains("allow_zero_padding"), "{stderr}");
    let log = room.path("state/test-ceremony.audit.jsonl");
    let seen = kinds(&log);
    assert!(seen.contains(&"wrap_tested"), "{seen:?}");
    assert!(!seen.contains(&"key_generated"), "a key was made: {seen:?}");
    let mut tested = None;
    stream(&log, |_, e| {
        if let Event::WrapTested { method, .. } = &e.event {
            tested = method.clone();
        }
        Ok(())
    })
    .expect("stream");
    let tested = tested.expect("the zero-padding path is what the test found");
    assert_eq!(tested.name(), "two_step");
    assert!(tested.zero_pads());

    // Accepted explicitly by the script: the ceremony runs, and says rehearsal-grade.
    let allowed = Room::on_module("zero padding allowed", SOFTHSM2);
    allowed.edit_script("rehearsal = true", "rehearsal = false");
    allowed.edit_script("[hsm]\n", "[hsm]\nallow_zero_padding = true\n");
    let out = allowed.run_ceremony_offline();
    assert!(out.status.success(), "allow_zero_padding did not allow it");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("REHEARSAL-GRADE"), "{stdout}");
    let m = manifest(&allowed);
    assert!(!m.rehearsal_grade_reasons.is_empty());
    allowed.assert_byok_unwraps_to_manifest_key();
    // The auditor's report says so in plain words too.
    let report = allowed.path("report.md");
    let out = allowed.bin(&[
        "audit".as_ref(),
        "report".as_ref(),
        allowed
            .path("out-usb/test-ceremony.audit.jsonl")
            .as_os_str(),
        "--record".as_ref(),
        allowed
            .path("provisioning/provisioning-record.json")
            .as_os_str(),
        "--format".as_ref(),
        "md".as_ref(),
        "-o".as_ref(),
        report.as_os_str(),
    ]);
    assert!(out.status.success(), "no report");
    let text = std::fs::read_to_string(&report).expect("report");
    assert!(text.contains("REHEARSAL-GRADE"), "{text}");
    assert!(text.contains("zero-pads"), "{text}");
}

/// The runner ends its use of the HSM: the module, seen through the test shim's call trace,
/// gets C_Logout and then C_Finalize at the end of a ceremony (before, the HSM was leaked and
/// neither ever ran).
#[test]
fn a_finished_ceremony_logs_out_and_finalises_the_module() {
    let room = Room::new("finalise");
    let shim = common::shim_module();
    room.edit_script(
        &format!("module = \"{}\"", room.module),
        &format!("module = \"{}\"", shim.display()),
    );
    let trace = room.path("p11-trace.txt");
    let out = room.run_ceremony_with(&[
        ("P11SHIM_MODULE", room.module.as_ref()),
        ("P11SHIM_TRACE", trace.as_os_str()),
    ]);
    assert!(out.status.success(), "the ceremony did not close");
    let calls: Vec<String> = std::fs::read_to_string(&trace)
        .expect("trace")
        .lines()
        .map(|l| l.split_once(' ').expect("N NAME").1.to_owned())
        .collect();
    let last_logout = calls.iter().rposition(|c| c == "C_Logout");
    let last_finalize = calls.iter().rposition(|c| c == "C_Finalize");
    assert!(
        matches!((last_logout, last_finalize), (Some(l), Some(f)) if l < f),
        "no logout then finalise at the end: {:?}",
        &calls[calls.len().saturating_sub(8)..]
    );
    assert_eq!(
        calls.last().map(String::as_str),
        Some("C_Finalize"),
        "nothing after C_Finalize"
    );
}

/// The script's `[[steps]]` instructions are put before the people on their step's screen, and
/// the log says so (before the step's first action), in the headless run as in the guided one.
#[test]
fn each_step_s_instruction_is_shown_and_logged_at_that_step() {
    let room = Room::new("instructions");
    let script = std::fs::read_to_string(room.path("ceremony.toml")).expect("script");
    std::fs::write(
        room.path("ceremony.toml"),
        format!(
            "{script}\n[[steps]]\nphase = \"attendance\"\ninstruction = \"The witness checks each photo ID against the access list.\"\n\n[[steps]]\nphase = \"kek_confirm\"\ninstruction = \"Phones out of the room; the online side reads the words.\"\n"
        ),
    )
    .expect("script");
    let out = room.run_ceremony();
    assert!(out.status.success(), "the ceremony did not close");
    let log = room.path("state/test-ceremony.audit.jsonl");
    let mut seen: Vec<(String, String)> = Vec::new();
    stream(&log, |_, e| {
        let what = match &e.event {
            Event::InstructionShown { phase, text } => format!("{phase:?}: {text}"),
            other => other.kind().to_owned(),
        };
        seen.push((e.event.kind().to_owned(), what));
        Ok(())
    })
    .expect("stream");
    let at = |what: &str| {
        seen.iter()
            .position(|(_, w)| w.contains(what))
            .unwrap_or_else(|| panic!("{what} not in the log: {seen:?}"))
    };
    let id_check = at("Attendance: The witness checks each photo ID");
    let phones = at("KekConfirm: Phones out of the room");
    assert!(id_check < at("attendance_closed"));
    assert!(at("kek_loaded") < phones && phones < at("kek_confirmed"));
    assert_eq!(
        seen.iter()
            .filter(|(k, _)| k == "instruction_shown")
            .count(),
        2,
        "each instruction once"
    );
    let audit = room.audit_verify(&room.path("out-usb/test-ceremony.audit.jsonl"));
    assert!(audit.status.success(), "the log does not verify");
}

/// With `second_copy`, the second medium gets the files and the log's final copy too, and the
/// summary lists both media's files with their hashes.
#[test]
fn a_second_copy_gets_the_log_too_and_the_summary_lists_it() {
    let room = Room::new("second copy");
    room.edit_script(
        "name = \"test-ceremony\"",
        "name = \"test-ceremony\"\nsecond_copy = true",
    );
    std::fs::create_dir(room.path("second-usb")).expect("second medium");
    let mut answers = std::fs::read_to_string(room.path("answers.toml")).expect("answers");
    answers = answers.replace(
        "media = \"out-usb\"\n",
        "media = \"out-usb\"\nsecond_media = \"second-usb\"\n",
    );
    std::fs::write(room.path("answers.toml"), answers).expect("answers");
    let out = room.run_ceremony();
    assert!(out.status.success(), "the ceremony did not close");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for medium in ["out-usb", "second-usb"] {
        for f in ["byok", "manifest.json", "audit.jsonl"] {
            let name = format!("{medium}/test-ceremony.{f}");
            assert!(
                stdout.contains(&name),
                "{name} is not in the summary:\n{stdout}"
            );
        }
    }
    assert_eq!(
        std::fs::read(room.path("second-usb/test-ceremony.audit.jsonl")).expect("second copy"),
        std::fs::read(room.path("out-usb/test-ceremony.audit.jsonl")).expect("first copy"),
    );
}

/// A trusted KEK whose fingerprint is not the one the provisioning script pins stops
/// provisioning before the token is touched, and says which fingerprint it found.
#[test]
fn a_trusted_kek_with_another_fingerprint_stops_provisioning_before_the_token() {
    let room = Room::new("trusted wrong");
    let script = std::fs::read_to_string(room.path("provision.toml"))
        .expect("script")
        .replace("label = \"trusted wrong\"", "label = \"second token\"");
    std::fs::create_dir(room.path("prov-2")).expect("out dir");
    std::fs::write(
        room.path("provision-2.toml"),
        format!(
            "{script}\n[trusted_kek]\nfile = \"{}\"\nfingerprint_sha256 = \"{}\"\n",
            ceremony::data("independent/kek-2048.public.pem").display(),
            "00".repeat(32)
        ),
    )
    .expect("script");
    let out = room.bin(&[
        "provision".as_ref(),
        "provision-2.toml".as_ref(),
        "--headless".as_ref(),
        "--out".as_ref(),
        "prov-2".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not the 0000 0000"), "{stderr}");
    assert!(stderr.contains("Nothing was changed"), "{stderr}");
    assert_eq!(
        std::fs::read_dir(room.path("prov-2"))
            .expect("list")
            .count(),
        0,
        "something was written"
    );
}

/// `keep_in_hsm = false`: the key is a session object, made in the run's lasting session, so
/// it is still there for the wrap; the .byok unwraps to it, and afterwards no target key is on
/// the token. (Found while making the fuzz seeds: every such run failed at the wrap, because
/// the key was made in a session closed at the end of its step.)
#[test]
fn a_session_key_is_wrapped_and_leaves_nothing_on_the_token() {
    let room = Room::new("session key");
    room.write_script("session key", "RSA-HSM", "size = 2048", false);
    let out = room.run_ceremony();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    room.assert_byok_unwraps_to_manifest_key();
    let objects = room.token_objects();
    assert!(
        !objects.iter().any(|o| o.ends_with(" test-target")),
        "{objects:?}"
    );
}
