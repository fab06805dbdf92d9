//! The pure ceremony machine: the whole order on a happy path, and property tests that throw
//! random event sequences at it and check, after every accepted event, that no rule was
//! broken.
use byok_ceremony::ceremony::machine::{
    Check, Event, FileRecord, MachineConfig, Phase, QuorumMode, State, step,
};
use byok_ceremony::hsm_types::key::KeyAttributes;
use byok_ceremony::hsm_types::token::TokenIdentity;
use byok_ceremony::hsm_types::wrap::OaepHash;
use byok_ceremony::hsm_types::wrap::WrapMethod;
use byok_ceremony::hsm_types::wrap::{KatReport, KwpBehaviour};
use byok_ceremony::hsm_types::wrap::{WrapKatOutcome, WrapKatReport};
use proptest::prelude::*;

fn config(destroy_after_export: bool) -> MachineConfig {
    MachineConfig {
        targets: Vec::new(),
        ceremony_id: "c1".into(),
        administrator: "alice".into(),
        witness: "wendy".into(),
        auditor: None,
        custodians: vec!["carol".into(), "dave".into(), "erin".into()],
        quorum: QuorumMode::SplitPin { threshold: 2 },
        expected_kek_fingerprint: None,
        destroy_after_export,
        allow_zero_padding: false,
        wrap_with_trusted: false,
    }
}

fn opened() -> Event {
    opened_as(true)
}

fn opened_as(rehearsal: bool) -> Event {
    Event::CeremonyOpened {
        config: config(false),
        script_sha256: "00".repeat(32),
        tool_version: "0".into(),
        binary_sha256: "11".repeat(32),
        host: "h".into(),
        os: "o".into(),
        hsm: TokenIdentity::default(),
        hsm_module: "m".into(),
        hsm_library: "l".into(),
        rehearsal,
        purpose: None,
    }
}

/// The two-step path on kryoptic, as its known-answer tests report it.
fn two_step(outcome: WrapKatOutcome) -> WrapMethod {
    WrapMethod::TwoStep {
        kwp_mechanism: "CKM_AES_KEY_WRAP_KWP".into(),
        kat: KatReport {
            mechanism: "CKM_AES_KEY_WRAP_KWP".into(),
            mechanism_number: 0x210B,
            behaviour: if outcome == WrapKatOutcome::ZeroPadded {
                KwpBehaviour::ZeroPadsThenRfc5649
            } else {
                KwpBehaviour::Rfc5649
            },
            vectors: 2,
        },
        path_kat: WrapKatReport {
            path: "two_step".into(),
            mechanism: "CKM_AES_KEY_WRAP_KWP + CKM_RSA_PKCS_OAEP".into(),
            oaep_hash: OaepHash::Sha1,
            vectors: 3,
            outcome,
        },
    }
}

fn wrap_tested(method: Option<WrapMethod>) -> Event {
    Event::WrapTested {
        target: None,
        oaep_hash: OaepHash::Sha1,
        method,
        failed: vec![],
    }
}

fn attributes() -> KeyAttributes {
    KeyAttributes {
        label: "k".into(),
        id_hex: "abcd".into(),
        token: true,
        sensitive: true,
        extractable: true,
        local: true,
        always_sensitive: true,
        never_extractable: false,
        wrap_with_trusted: false,
    }
}

fn files() -> Vec<FileRecord> {
    vec![FileRecord {
        name: "x.byok".into(),
        sha256: "22".repeat(32),
    }]
}

/// The complete ceremony, in order.
fn happy_path() -> Vec<Event> {
    let checkpoint = |gate| Event::Checkpoint {
        gate,
        note: "n".into(),
    };
    vec![
        opened(),
        Event::PreflightCompleted {
            checks: vec![Check::new("x", true, "")],
        },
        Event::CheckedIn {
            name: "alice".into(),
        },
        Event::CheckedIn {
            name: "wendy".into(),
        },
        Event::CheckedIn {
            name: "carol".into(),
        },
        Event::CheckedIn {
            name: "dave".into(),
        },
        Event::AttendanceClosed { by: "alice".into() },
        checkpoint(Phase::Attendance),
        Event::SharePresented {
            custodian: "carol".into(),
            share_index: 1,
            commitment_verified: true,
        },
        Event::SharePresented {
            custodian: "dave".into(),
            share_index: 2,
            commitment_verified: true,
        },
        Event::LoggedIn {
            token_label: "t".into(),
        },
        checkpoint(Phase::Quorum),
        Event::KekLoaded {
            target: None,
            kid: "https://v.vault.azure.net/keys/k/00".into(),
            fingerprint_sha256: "33".repeat(32),
            bits: 2048,
            warnings: vec![],
            file: None,
        },
        Event::KekConfirmed {
            custodian: "carol".into(),
        },
        Event::KekConfirmed {
            custodian: "dave".into(),
        },
        checkpoint(Phase::KekConfirm),
        wrap_tested(Some(two_step(WrapKatOutcome::Exact))),
        Event::KeyGenerated {
            kty: "RSA-HSM".into(),
            key_size: Some(3072),
            crv: None,
            attributes: attributes(),
            public_key_pem: None,
            check_value: None,
        },
        checkpoint(Phase::KeyGeneration),
        Event::Wrapped {
            target: None,
            byok_json: "{}".into(),
            byok_sha256: "22".repeat(32),
            method: two_step(WrapKatOutcome::Exact),
            rehearsal_grade: false,
        },
        checkpoint(Phase::Wrap),
        Event::Exported { files: files() },
        Event::Verified { files: files() },
        checkpoint(Phase::Verification),
        Event::SignedOff {
            name: "alice".into(),
        },
        Event::SignedOff {
            name: "wendy".into(),
        },
        Event::SignedOff {
            name: "carol".into(),
        },
        Event::SignedOff {
            name: "dave".into(),
        },
        Event::Closed { by: "alice".into() },
        checkpoint(Phase::Closed),
    ]
}

fn run(events: &[Event]) -> Result<State, (usize, String)> {
    let mut s = State::new();
    for (i, e) in events.iter().enumerate() {
        s = step(&s, e).map_err(|r| (i, r.to_string()))?.0;
    }
    Ok(s)
}

#[test]
fn the_happy_path_closes_and_replays_to_the_same_state() {
    let events = happy_path();
    let a = run(&events).expect("happy path");
    assert_eq!(a.phase, Phase::Closed);
    // Pure: replaying the same events gives the same state, field for field.
    assert_eq!(run(&events).expect("again"), a);
    // Nothing after close but the closing checkpoint.
    let mut more = events.clone();
    more.push(Event::SignedOff {
        name: "erin".into(),
    });
    let (at, why) = run(&more).expect_err("appended after close");
    assert_eq!(at, events.len());
    assert!(why.contains("over"), "{why}");
}

#[test]
fn named_forbidden_orders_are_refused() {
    let base = happy_path();
    let position = |kind: &str| {
        base.iter()
            .position(|e| e.kind() == kind)
            .expect("event in path")
    };
    // Each case: move an event to before the one it depends on.
    let cases = [
        (
            "key_generated",
            "logged_in",
            "\"key generated\" cannot happen now",
        ),
        ("wrapped", "kek_confirmed", "\"wrapped\" cannot happen now"),
        ("exported", "wrapped", "\"exported\" cannot happen now"),
        (
            "logged_in",
            "share_presented",
            "the HSM is used only after the quorum is met",
        ),
        (
            "key_generated",
            "kek_loaded",
            "\"key generated\" cannot happen now",
        ),
        ("key_generated", "wrap_tested", "known-answer test"),
    ];
    for (moved, before, why) in cases {
        let mut events = base.clone();
        let e = events.remove(position(moved));
        events.insert(position(before), e);
        let (at, reason) =
            run(&events).expect_err(&format!("{moved} before {before} was accepted"));
        assert_eq!(
            at,
            position(before),
            "{moved} before {before}: refused elsewhere"
        );
        assert!(
            reason.contains(why),
            "{moved} before {before}: refused for \"{reason}\", not \"{why}\""
        );
    }
}

#[test]
fn a_deviation_blocks_the_next_gate_until_the_witness_acknowledges() {
    let mut events = happy_path();
    let at = events
        .iter()
        .position(|e| e.kind() == "attendance_closed")
        .expect("present");
    events.insert(
        at,
        Event::DeviationRecorded {
            by: "alice".into(),
            text: "late start".into(),
        },
    );
    assert!(run(&events).is_err(), "gate passed with an open deviation");
    events.insert(
        at + 1,
        Event::DeviationAcknowledged {
            by: "wendy".into(),
            deviation: 0,
        },
    );
    let s = run(&events).expect("acknowledged");
    assert_eq!(s.deviations[0].acknowledged_by.as_deref(), Some("wendy"));
    // Only the administrator records, only the witness acknowledges.
    let mut bad = happy_path();
    bad.insert(
        3,
        Event::DeviationRecorded {
            by: "carol".into(),
            text: "x".into(),
        },
    );
    assert!(run(&bad).is_err());
}

#[test]
fn wrong_people_are_refused() {
    let mut events = happy_path();
    // A share from a custodian who did not check in.
    let at = events
        .iter()
        .position(|e| e.kind() == "share_presented")
        .expect("present");
    events[at] = Event::SharePresented {
        custodian: "erin".into(),
        share_index: 3,
        commitment_verified: true,
    };
    let (refused_at, why) = run(&events).expect_err("erin did not check in");
    assert_eq!(refused_at, at);
    assert!(
        why.contains("only a custodian who checked in may present a share"),
        "{why}"
    );
    // A stranger cannot check in.
    let mut events = happy_path();
    events[2] = Event::CheckedIn {
        name: "mallory".into(),
    };
    let (refused_at, why) = run(&events).expect_err("a stranger");
    assert_eq!(refused_at, 2);
    assert!(
        why.contains("only people named in the script may check in"),
        "{why}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Random sequences drawn from the happy path's events (with repeats, drops and any
    /// order): whatever the machine accepts, its rules hold after every step.
    #[test]
    fn no_random_order_breaks_a_rule(
        picks in proptest::collection::vec((any::<bool>(), 0usize..64), 1..120)
    ) {
        let pool = happy_path();
        let mut s = State::new();
        // Half the time the next event of the happy path, half the time any event: the
        // sequences get deep into the ceremony with out-of-order events at every phase.
        let mut cursor = 0;
        for (follow, i) in picks {
            let event = if follow && cursor < pool.len() { &pool[cursor] } else { &pool[i % pool.len()] };
            if std::ptr::eq(event, &pool[cursor.min(pool.len() - 1)]) {
                cursor += 1;
            }
            let Ok((next, _)) = step(&s, event) else { continue };
            match event {
                Event::LoggedIn { .. } => prop_assert!(next.shares_from.len() >= 2, "HSM login before quorum"),
                Event::KeyGenerated { .. } => {
                    prop_assert!(s.logged_in, "key generated before quorum");
                    prop_assert!(s.kek_confirmed_by.len() == s.custodians_present().len() && s.kek_fingerprint.is_some(), "key before KEK confirmation");
                }
                Event::Wrapped { .. } => prop_assert!(s.kek_fingerprint.is_some() && !s.kek_confirmed_by.is_empty(), "wrapped before KEK confirmation"),
                Event::Exported { .. } => prop_assert!(s.byok_sha256.is_some(), "exported before wrap"),
                Event::Closed { .. } => prop_assert!(s.verified, "closed before verification"),
                _ => {}
            }
            if s.phase == Phase::Closed {
                prop_assert!(matches!(event, Event::Checkpoint { gate: Phase::Closed, .. }), "accepted {} after close", event.kind());
            }
            // Phases never go backwards except a rejected KEK (back to load).
            if !matches!(event, Event::KekRejected { .. } | Event::Resumed { .. }) {
                prop_assert!(next.phase >= s.phase, "phase went back on {}", event.kind());
            }
            s = next;
        }
    }
}

#[test]
fn a_retry_is_a_logged_choice_that_names_the_step_to_run_again() {
    use byok_ceremony::ceremony::machine::Effect;
    let events = happy_path();
    let upto = |kind: &str| {
        let at = events.iter().position(|e| e.kind() == kind).expect("event");
        run(&events[..at]).expect("prefix")
    };
    let retry = |by: &str, phase| Event::RetryRequested {
        by: by.into(),
        phase,
    };
    // Before the wrap is proven: the retry runs the known-answer test again.
    let s = upto("wrap_tested");
    assert_eq!(s.phase, Phase::KeyGeneration);
    let (_, effects) = step(&s, &retry("alice", Phase::KeyGeneration)).expect("retry");
    assert_eq!(effects, vec![Effect::TestWrap]);
    // Before the key is generated: the administrator asks, the machine names the step.
    let s = upto("key_generated");
    assert_eq!(s.phase, Phase::KeyGeneration);
    let (next, effects) = step(&s, &retry("alice", Phase::KeyGeneration)).expect("retry");
    assert_eq!(effects, vec![Effect::GenerateKey]);
    assert_eq!(
        next, s,
        "a retry changes nothing until its step's result arrives"
    );
    // Only the administrator; only the current phase; only a step the tool runs.
    assert!(step(&s, &retry("carol", Phase::KeyGeneration)).is_err());
    assert!(step(&s, &retry("alice", Phase::Wrap)).is_err());
    let s = upto("attendance_closed");
    assert!(step(&s, &retry("alice", Phase::Attendance)).is_err());
    let s = upto("kek_loaded");
    let (_, effects) = step(&s, &retry("alice", Phase::KekLoad)).expect("kek retry");
    assert_eq!(effects, vec![Effect::LoadKek]);
}

/// The wrap is proven before a key is made: a zero-padding path stops a production ceremony
/// right there (no key generated), a rehearsal takes it, and the wrap must use the proven path.
#[test]
fn the_wrap_known_answer_test_gates_key_generation() {
    use byok_ceremony::ceremony::machine::Effect;
    let events = happy_path();
    let at = events
        .iter()
        .position(|e| e.kind() == "wrap_tested")
        .expect("wrap_tested");
    let production: Vec<Event> = std::iter::once(opened_as(false))
        .chain(events[1..at].iter().cloned())
        .collect();
    let s = run(&production).expect("up to the test");
    // Zero padding in production: recorded, no effect, the phase does not move.
    let (next, effects) = step(&s, &wrap_tested(Some(two_step(WrapKatOutcome::ZeroPadded))))
        .expect("the test's result is logged");
    assert!(effects.is_empty(), "{effects:?}");
    assert_eq!(next.phase, Phase::KeyGeneration);
    assert!(next.wrap_method.is_none());
    assert!(
        next.failures
            .last()
            .is_some_and(|f| f.contains("zero-pads")),
        "{:?}",
        next.failures
    );
    // ... so no key can be generated.
    let key = events
        .iter()
        .find(|e| e.kind() == "key_generated")
        .expect("key")
        .clone();
    let refused = step(&next, &key).expect_err("no key before a usable wrap");
    assert!(refused.rule.contains("known-answer"), "{refused}");
    // No path passed at all: the same.
    let (next, effects) = step(&s, &wrap_tested(None)).expect("logged");
    assert!(effects.is_empty() && next.wrap_method.is_none());
    assert!(
        next.failures
            .last()
            .is_some_and(|f| f.contains("no wrap path"))
    );
    // A rehearsal accepts the zero-padding path and goes on to generate the key.
    let rehearsal = run(&events[..at]).expect("rehearsal prefix");
    let (_, effects) = step(
        &rehearsal,
        &wrap_tested(Some(two_step(WrapKatOutcome::ZeroPadded))),
    )
    .expect("rehearsal");
    assert_eq!(effects, vec![Effect::GenerateKey]);
    // A byte-exact path in production goes on too.
    let (_, effects) =
        step(&s, &wrap_tested(Some(two_step(WrapKatOutcome::Exact)))).expect("exact");
    assert_eq!(effects, vec![Effect::GenerateKey]);
    // A report that failed its test cannot be chosen.
    let refused = step(
        &s,
        &wrap_tested(Some(two_step(WrapKatOutcome::WrongOaepHash {
            used: OaepHash::Sha256,
        }))),
    )
    .expect_err("a failed path is never chosen");
    assert!(refused.rule.contains("known-answer"), "{refused}");
    // The wrap must take the proven path, and say whether it zero-pads.
    let wrapped_at = events
        .iter()
        .position(|e| e.kind() == "wrapped")
        .expect("wrapped");
    let mut to_wrap = production.clone();
    to_wrap.extend(events[at..wrapped_at].iter().cloned());
    let s = run(&to_wrap).expect("to the wrap");
    let wrapped = |method, rehearsal_grade| Event::Wrapped {
        target: None,
        byok_json: "{}".into(),
        byok_sha256: "22".repeat(32),
        method,
        rehearsal_grade,
    };
    let refused = step(&s, &wrapped(two_step(WrapKatOutcome::ZeroPadded), true))
        .expect_err("another path than the proven one");
    assert!(refused.rule.contains("proved"), "{refused}");
    let refused = step(&s, &wrapped(two_step(WrapKatOutcome::Exact), true))
        .expect_err("a byte-exact wrap is not rehearsal-grade");
    assert!(refused.rule.contains("rehearsal-grade"), "{refused}");
    step(&s, &wrapped(two_step(WrapKatOutcome::Exact), false)).expect("the proven path");
}

/// Nobody records or acknowledges a deviation before checking in: the administrator and the
/// witness are people in the room, not names in a script.
#[test]
fn a_deviation_needs_its_people_checked_in() {
    let events = happy_path();
    let opened = run(&events[..2]).expect("opened, preflight done");
    assert_eq!(opened.phase, Phase::Attendance);
    let record = Event::DeviationRecorded {
        by: "alice".into(),
        text: "late start".into(),
    };
    let refused = step(&opened, &record).expect_err("alice has not checked in");
    assert!(refused.rule.contains("after checking in"), "{refused}");
    let alice_in = step(
        &opened,
        &Event::CheckedIn {
            name: "alice".into(),
        },
    )
    .expect("alice checks in")
    .0;
    let recorded = step(&alice_in, &record).expect("recorded once she is in").0;
    let ack = Event::DeviationAcknowledged {
        by: "wendy".into(),
        deviation: 0,
    };
    let refused = step(&recorded, &ack).expect_err("wendy has not checked in");
    assert!(refused.rule.contains("after checking in"), "{refused}");
}

/// Each rule of the HSM steps, on its own: a state that reached the step's phase by any means
/// still refuses the step when the rule is broken, and says which rule.
#[test]
fn the_hsm_rules_hold_whatever_the_phase() {
    let events = happy_path();
    let upto = |kind: &str| {
        let at = events.iter().position(|e| e.kind() == kind).expect("event");
        (run(&events[..at]).expect("prefix"), events[at].clone())
    };
    // No key before the login, even in the key generation phase.
    let (mut s, key) = upto("key_generated");
    s.logged_in = false;
    let r = step(&s, &key).expect_err("a key before the login");
    assert_eq!(r.rule, "the HSM is used only after the quorum is met");
    // No wrap before every custodian present confirmed the KEK.
    let (mut s, wrapped) = upto("wrapped");
    s.kek_confirmed_by.clear();
    let r = step(&s, &wrapped).expect_err("a wrap before the KEK is confirmed");
    assert_eq!(
        r.rule,
        "nothing is wrapped before the KEK fingerprint is confirmed"
    );
    // No export before the wrap.
    let (mut s, exported) = upto("exported");
    s.byok_sha256 = None;
    s.wrapped.clear();
    let r = step(&s, &exported).expect_err("an export before the wrap");
    assert_eq!(
        r.rule,
        "nothing is exported before the wrap for every target succeeded"
    );
    // One key per ceremony.
    let (mut s, key) = upto("key_generated");
    s.key_id_hex = Some("01".into());
    let r = step(&s, &key).expect_err("a second key");
    assert!(r.rule.contains("one ceremony makes one key"), "{r}");
}

/// A crash between `closed` and its checkpoint: the restart's `resumed` lets the quorum log in
/// once more, and that login only signs the end. Nothing else is accepted, and once the
/// checkpoint is signed the ceremony takes nothing, not even another resume.
#[test]
fn an_unsigned_close_is_finished_by_one_more_login_and_nothing_else() {
    let mut events = happy_path();
    let signed = events.pop().expect("the closing checkpoint");
    let closed = run(&events).expect("closed");
    assert_eq!(
        closed.end_left_undone(),
        Some("the closing checkpoint is not signed")
    );
    assert!(
        !closed.awaits_final_login(),
        "the crashed session is not known yet"
    );

    let resumed_by = |by: &str| Event::Resumed { by: by.into() };
    let why = step(&closed, &resumed_by("carol")).expect_err("a custodian resumes");
    assert!(why.rule.contains("administrator"), "{why}");
    let (s, effects) = step(&closed, &resumed_by("alice")).expect("resumed");
    assert!(effects.is_empty());
    assert!(s.awaits_final_login());
    // Only the quorum's shares and login: no sign-off, no second close, no key work.
    for e in [
        Event::SignedOff {
            name: "alice".into(),
        },
        Event::Closed { by: "alice".into() },
        Event::Exported { files: files() },
    ] {
        step(&s, &e).expect_err("only the login is taken");
    }
    let share = |c: &str, i| Event::SharePresented {
        custodian: c.into(),
        share_index: i,
        commitment_verified: true,
    };
    let login = Event::LoggedIn {
        token_label: "t".into(),
    };
    let (s1, _) = step(&s, &share("carol", 1)).expect("share");
    step(&s1, &login).expect_err("one share is no quorum");
    let (s2, _) = step(&s1, &share("dave", 2)).expect("share");
    let (s3, effects) = step(&s2, &login).expect("login");
    assert_eq!(
        effects,
        vec![
            byok_ceremony::ceremony::machine::Effect::Checkpoint(Phase::Closed),
            byok_ceremony::ceremony::machine::Effect::Finish
        ]
    );
    let (done, _) = step(&s3, &signed).expect("the closing checkpoint");
    assert_eq!(done.end_left_undone(), None);
    step(&done, &resumed_by("alice")).expect_err("over: no resume");
    // Closed and signed in one go: nothing is left undone either.
    assert_eq!(run(&happy_path()).expect("happy").end_left_undone(), None);
}
