//! The machine's rules for a ceremony with several clouds (`[[targets]]`): each KEK loaded and
//! confirmed in the script's order, each wrap proven for its own hash and envelope, one key,
//! one wrap per target in order for the KEK confirmed for it, and export only after the last.
use byok_ceremony::ceremony::machine::{
    Check, Effect, Event, FileRecord, MachineConfig, Phase, QuorumMode, State, step,
};
use byok_ceremony::cloud::{Cloud, TargetConfig};
use byok_ceremony::hsm_types::key::KeyAttributes;
use byok_ceremony::hsm_types::token::TokenIdentity;
use byok_ceremony::hsm_types::wrap::{
    KatReport, KwpBehaviour, OaepHash, WrapKatOutcome, WrapKatReport, WrapMethod,
};

fn target(cloud: Cloud, algorithm: &str, oaep_hash: OaepHash) -> TargetConfig {
    TargetConfig {
        cloud,
        algorithm: algorithm.into(),
        oaep_hash,
        resource: None,
        expected_kek_fingerprint: None,
    }
}

fn config() -> MachineConfig {
    MachineConfig {
        ceremony_id: "c3".into(),
        administrator: "alice".into(),
        witness: "wendy".into(),
        auditor: None,
        custodians: vec!["carol".into(), "dave".into()],
        quorum: QuorumMode::SplitPin { threshold: 2 },
        expected_kek_fingerprint: None,
        destroy_after_export: false,
        allow_zero_padding: false,
        wrap_with_trusted: false,
        targets: vec![
            target(Cloud::Azure, "CKM_RSA_AES_KEY_WRAP", OaepHash::Sha1),
            target(Cloud::Gcp, "RSA_OAEP_3072_SHA256_AES_256", OaepHash::Sha256),
            target(Cloud::Aws, "RSAES_OAEP_SHA_1", OaepHash::Sha1),
        ],
    }
}

fn kat(path: &str, oaep_hash: OaepHash) -> WrapKatReport {
    WrapKatReport {
        path: path.into(),
        mechanism: "m".into(),
        oaep_hash,
        vectors: 3,
        outcome: WrapKatOutcome::Exact,
    }
}

fn two_step(oaep: OaepHash) -> WrapMethod {
    WrapMethod::TwoStep {
        kwp_mechanism: "CKM_AES_KEY_WRAP_KWP".into(),
        kat: KatReport {
            mechanism: "CKM_AES_KEY_WRAP_KWP".into(),
            mechanism_number: 0x210B,
            behaviour: KwpBehaviour::Rfc5649,
            vectors: 2,
        },
        path_kat: kat("two_step", oaep),
    }
}

fn plain(oaep: OaepHash) -> WrapMethod {
    WrapMethod::PlainOaep {
        kat: kat("plain_oaep", oaep),
    }
}

fn fingerprint(cloud: Cloud) -> String {
    match cloud {
        Cloud::Azure => "aa",
        Cloud::Gcp => "bb",
        Cloud::Aws => "cc",
    }
    .repeat(32)
}

fn kek_loaded(cloud: Cloud) -> Event {
    Event::KekLoaded {
        kid: format!("{cloud} destination"),
        fingerprint_sha256: fingerprint(cloud),
        bits: 3072,
        warnings: vec![],
        file: None,
        target: Some(cloud),
    }
}

fn confirmed(custodian: &str) -> Event {
    Event::KekConfirmed {
        custodian: custodian.into(),
    }
}

fn tested(cloud: Cloud, oaep_hash: OaepHash, method: WrapMethod) -> Event {
    Event::WrapTested {
        oaep_hash,
        method: Some(method),
        failed: vec![],
        target: Some(cloud),
    }
}

fn target_wrapped(cloud: Cloud, algorithm: &str, method: WrapMethod) -> Event {
    Event::TargetWrapped {
        target: cloud,
        algorithm: algorithm.into(),
        kek_fingerprint_sha256: fingerprint(cloud),
        file: format!("x.{cloud}.wrapped"),
        wrapped_b64: "AAAA".into(),
        sha256: "44".repeat(32),
        method,
        rehearsal_grade: false,
        import_token_b64: None,
    }
}

fn checkpoint(gate: Phase) -> Event {
    Event::Checkpoint {
        gate,
        note: "n".into(),
    }
}

/// Everything up to the first KEK load.
fn logged_in() -> Vec<Event> {
    let mut v = vec![
        Event::CeremonyOpened {
            config: config(),
            script_sha256: "00".repeat(32),
            tool_version: "0".into(),
            binary_sha256: "11".repeat(32),
            host: "h".into(),
            os: "o".into(),
            hsm: TokenIdentity::default(),
            hsm_module: "m".into(),
            hsm_library: "l".into(),
            rehearsal: true,
            purpose: None,
        },
        Event::PreflightCompleted {
            checks: vec![Check::new("x", true, "")],
        },
    ];
    for name in ["alice", "wendy", "carol", "dave"] {
        v.push(Event::CheckedIn { name: name.into() });
    }
    v.push(Event::AttendanceClosed { by: "alice".into() });
    v.push(checkpoint(Phase::Attendance));
    for (i, c) in ["carol", "dave"].into_iter().enumerate() {
        v.push(Event::SharePresented {
            custodian: c.into(),
            share_index: i as u8 + 1,
            commitment_verified: true,
        });
    }
    v.push(Event::LoggedIn {
        token_label: "t".into(),
    });
    v.push(checkpoint(Phase::Quorum));
    v
}

fn keks_confirmed() -> Vec<Event> {
    let mut v = logged_in();
    for cloud in [Cloud::Azure, Cloud::Gcp, Cloud::Aws] {
        v.extend([kek_loaded(cloud), confirmed("carol"), confirmed("dave")]);
    }
    v.push(checkpoint(Phase::KekConfirm));
    v
}

fn wraps_proven() -> Vec<Event> {
    let mut v = keks_confirmed();
    v.extend([
        tested(Cloud::Azure, OaepHash::Sha1, two_step(OaepHash::Sha1)),
        tested(Cloud::Gcp, OaepHash::Sha256, two_step(OaepHash::Sha256)),
        tested(Cloud::Aws, OaepHash::Sha1, plain(OaepHash::Sha1)),
    ]);
    v
}

fn key_generated() -> Event {
    Event::KeyGenerated {
        kty: "oct-HSM".into(),
        key_size: Some(256),
        crv: None,
        attributes: KeyAttributes {
            label: "k".into(),
            id_hex: "abcd".into(),
            token: true,
            sensitive: true,
            extractable: true,
            local: true,
            always_sensitive: true,
            never_extractable: false,
            wrap_with_trusted: false,
        },
        public_key_pem: None,
        check_value: None,
    }
}

fn azure_wrapped() -> Event {
    Event::Wrapped {
        byok_json: "{}".into(),
        byok_sha256: "22".repeat(32),
        method: two_step(OaepHash::Sha1),
        rehearsal_grade: false,
        target: Some(Cloud::Azure),
    }
}

fn wrapped_all() -> Vec<Event> {
    let mut v = wraps_proven();
    v.extend([
        key_generated(),
        checkpoint(Phase::KeyGeneration),
        azure_wrapped(),
        target_wrapped(
            Cloud::Gcp,
            "RSA_OAEP_3072_SHA256_AES_256",
            two_step(OaepHash::Sha256),
        ),
        target_wrapped(Cloud::Aws, "RSAES_OAEP_SHA_1", plain(OaepHash::Sha1)),
    ]);
    v
}

fn run(events: &[Event]) -> State {
    let mut s = State::new();
    for (i, e) in events.iter().enumerate() {
        s = step(&s, e)
            .unwrap_or_else(|r| panic!("event {i} ({}) refused: {r}", e.kind()))
            .0;
    }
    s
}

#[test]
fn three_clouds_close_with_one_key_and_three_wraps() {
    let mut events = wrapped_all();
    let files = vec![FileRecord {
        name: "x.byok".into(),
        sha256: "22".repeat(32),
    }];
    events.extend([
        checkpoint(Phase::Wrap),
        Event::Exported {
            files: files.clone(),
        },
        Event::Verified { files },
        checkpoint(Phase::Verification),
    ]);
    for name in ["alice", "wendy", "carol", "dave"] {
        events.push(Event::SignedOff { name: name.into() });
    }
    events.extend([
        Event::Closed { by: "alice".into() },
        checkpoint(Phase::Closed),
    ]);
    let s = run(&events);
    assert_eq!(s.phase, Phase::Closed);
    assert_eq!(
        s.keks_confirmed,
        [Cloud::Azure, Cloud::Gcp, Cloud::Aws].map(fingerprint)
    );
    assert_eq!(s.wrapped.len(), 3);
    assert_eq!(s.byok_sha256.as_deref(), Some("22".repeat(32).as_str()));
}

#[test]
fn each_kek_is_loaded_and_confirmed_in_the_script_s_order_before_the_hsm_works() {
    let s = run(&logged_in());
    let why = step(&s, &kek_loaded(Cloud::Gcp)).expect_err("gcp before azure");
    assert!(why.rule.contains("Azure Key Vault's"), "{why}");
    // A KEK event that names no target belongs to an Azure-only log.
    let untargeted = Event::KekLoaded {
        kid: "k".into(),
        fingerprint_sha256: fingerprint(Cloud::Azure),
        bits: 3072,
        warnings: vec![],
        file: None,
        target: None,
    };
    step(&s, &untargeted).expect_err("a KEK without its target");

    let mut events = logged_in();
    events.extend([kek_loaded(Cloud::Azure), confirmed("carol")]);
    let s = run(&events);
    let (s, effects) = step(&s, &confirmed("dave")).expect("azure confirmed");
    // The next cloud's KEK, and no checkpoint or HSM step in between.
    assert_eq!(effects, vec![Effect::LoadKek]);
    assert_eq!(s.phase, Phase::KekLoad);
    assert_eq!(s.kek_target().map(|t| t.cloud), Some(Cloud::Gcp));
    assert!(s.kek_confirmed_by.is_empty());

    let (_, effects) = step(
        &run(&keks_confirmed()[..keks_confirmed().len() - 2]),
        &confirmed("dave"),
    )
    .expect("the last confirmation");
    assert_eq!(
        effects,
        vec![Effect::Checkpoint(Phase::KekConfirm), Effect::TestWrap]
    );
}

#[test]
fn each_wrap_is_proven_for_its_own_hash_and_envelope_before_the_key_is_made() {
    let s = run(&keks_confirmed());
    let azure_ok = tested(Cloud::Azure, OaepHash::Sha1, two_step(OaepHash::Sha1));
    let (after_azure, effects) = step(&s, &azure_ok).expect("azure proven");
    assert_eq!(
        effects,
        vec![Effect::TestWrap],
        "the next target is tested next"
    );
    // Google's method is SHA-256: a SHA-1 test, or a plain-OAEP path, is not its proof.
    let why = step(
        &after_azure,
        &tested(Cloud::Gcp, OaepHash::Sha1, two_step(OaepHash::Sha1)),
    )
    .expect_err("gcp with SHA-1");
    assert!(why.rule.contains("OAEP SHA-256"), "{why}");
    let why = step(
        &after_azure,
        &tested(Cloud::Gcp, OaepHash::Sha256, plain(OaepHash::Sha256)),
    )
    .expect_err("gcp's RSA_AES method by a plain path");
    assert!(why.rule.contains("known-answer test"), "{why}");
    // AWS's RSAES_OAEP takes the plain path only.
    let mut events = keks_confirmed();
    events.extend([
        azure_ok.clone(),
        tested(Cloud::Gcp, OaepHash::Sha256, two_step(OaepHash::Sha256)),
    ]);
    let s = run(&events);
    step(
        &s,
        &tested(Cloud::Aws, OaepHash::Sha1, two_step(OaepHash::Sha1)),
    )
    .expect_err("aws's plain method by the two-step path");
    // No key before every target's wrap is proven.
    let why = step(&s, &key_generated()).expect_err("a key before aws's proof");
    assert!(why.rule.contains("for every target"), "{why}");
    // No path: the failure is the people's to handle, and nothing is made.
    let none = Event::WrapTested {
        oaep_hash: OaepHash::Sha1,
        method: None,
        failed: vec![],
        target: Some(Cloud::Aws),
    };
    let (s, effects) = step(&s, &none).expect("recorded");
    assert!(effects.is_empty());
    assert!(
        s.failures
            .last()
            .is_some_and(|f| f.contains("RSAES_OAEP_SHA_1"))
    );
}

#[test]
fn wraps_follow_the_order_the_kek_and_the_algorithm_the_custodians_confirmed() {
    let mut events = wraps_proven();
    events.extend([key_generated(), checkpoint(Phase::KeyGeneration)]);
    let s = run(&events);
    let gcp = target_wrapped(
        Cloud::Gcp,
        "RSA_OAEP_3072_SHA256_AES_256",
        two_step(OaepHash::Sha256),
    );
    let why = step(&s, &gcp).expect_err("gcp before azure");
    assert!(why.rule.contains("Azure Key Vault's"), "{why}");
    let (s, effects) = step(&s, &azure_wrapped()).expect("azure first");
    assert_eq!(effects, vec![Effect::Wrap]);
    let mut other_kek = gcp.clone();
    if let Event::TargetWrapped {
        kek_fingerprint_sha256,
        ..
    } = &mut other_kek
    {
        *kek_fingerprint_sha256 = fingerprint(Cloud::Aws);
    }
    let why = step(&s, &other_kek).expect_err("wrapped for another KEK");
    assert!(why.rule.contains("KEK the custodians confirmed"), "{why}");
    let other_alg = target_wrapped(
        Cloud::Gcp,
        "RSA_OAEP_4096_SHA256_AES_256",
        two_step(OaepHash::Sha256),
    );
    let why = step(&s, &other_alg).expect_err("another algorithm");
    assert!(why.rule.contains("algorithm the script names"), "{why}");
    let as_azure = target_wrapped(
        Cloud::Azure,
        "CKM_RSA_AES_KEY_WRAP",
        two_step(OaepHash::Sha1),
    );
    step(&s, &as_azure).expect_err("Azure's wrap is a .byok");
    let (s, _) = step(&s, &gcp).expect("gcp second");
    // Export waits for the last target.
    let export = Event::Exported {
        files: vec![FileRecord {
            name: "x.byok".into(),
            sha256: "22".repeat(32),
        }],
    };
    step(&s, &export).expect_err("aws is not wrapped yet");
    let (s, effects) = step(
        &s,
        &target_wrapped(Cloud::Aws, "RSAES_OAEP_SHA_1", plain(OaepHash::Sha1)),
    )
    .expect("aws last");
    assert_eq!(
        effects,
        vec![Effect::Checkpoint(Phase::Wrap), Effect::Export]
    );
    assert_eq!(s.phase, Phase::Export);
}

#[test]
fn a_crash_between_wraps_reconfirms_every_kek_and_wraps_only_what_is_left() {
    let mut events = wraps_proven();
    events.extend([
        key_generated(),
        checkpoint(Phase::KeyGeneration),
        azure_wrapped(),
        Event::Resumed { by: "alice".into() },
    ]);
    let s = run(&events);
    assert_eq!(s.phase, Phase::Quorum);
    assert!(s.keks_confirmed.is_empty() && s.wrap_methods.is_empty());
    for (i, c) in ["carol", "dave"].into_iter().enumerate() {
        events.push(Event::SharePresented {
            custodian: c.into(),
            share_index: i as u8 + 1,
            commitment_verified: true,
        });
    }
    events.extend([
        Event::LoggedIn {
            token_label: "t".into(),
        },
        checkpoint(Phase::Quorum),
    ]);
    for cloud in [Cloud::Azure, Cloud::Gcp, Cloud::Aws] {
        events.extend([kek_loaded(cloud), confirmed("carol"), confirmed("dave")]);
    }
    events.push(checkpoint(Phase::KekConfirm));
    events.extend(wraps_proven()[keks_confirmed().len()..].iter().cloned());
    let s = run(&events);
    // The key is there: no second one; Azure is wrapped: Google Cloud is next.
    assert_eq!(s.phase, Phase::Wrap);
    assert_eq!(s.unwrapped_target().map(|t| t.cloud), Some(Cloud::Gcp));
    step(&s, &key_generated()).expect_err("a second key");
}
