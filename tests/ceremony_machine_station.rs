//! The machine's rule for the station's own checks (air gap, memory, the tool's hash, ...):
//! a rehearsal goes on with a warning; a production ceremony goes on to attendance with the
//! failure open, and attendance closes only under a deviation that the administrator recorded
//! after checking in and the witness acknowledged. Any other failed check keeps the ceremony
//! in preflight. The same machine replays logs for `audit verify`, so this holds there too.
use byok_ceremony::ceremony::machine::{
    Check, Effect, Event, MachineConfig, Phase, QuorumMode, State, step,
};
use byok_ceremony::hsm_types::token::TokenIdentity;

fn opened(rehearsal: bool) -> Event {
    Event::CeremonyOpened {
        config: MachineConfig {
            targets: Vec::new(),
            ceremony_id: "c1".into(),
            administrator: "alice".into(),
            witness: "wendy".into(),
            auditor: None,
            custodians: vec!["carol".into(), "dave".into(), "erin".into()],
            quorum: QuorumMode::SplitPin { threshold: 2 },
            expected_kek_fingerprint: None,
            destroy_after_export: false,
            allow_zero_padding: false,
            wrap_with_trusted: false,
        },
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

fn station(name: &str, passed: bool) -> Check {
    Check {
        station: true,
        ..Check::new(name, passed, format!("{name} detail"))
    }
}

fn preflight(checks: Vec<Check>) -> Event {
    Event::PreflightCompleted { checks }
}

fn checked_in(name: &str) -> Event {
    Event::CheckedIn { name: name.into() }
}

fn everyone_in() -> Vec<Event> {
    ["alice", "wendy", "carol", "dave"]
        .into_iter()
        .map(checked_in)
        .collect()
}

fn close() -> Event {
    Event::AttendanceClosed { by: "alice".into() }
}

fn deviation(text: &str) -> Event {
    Event::DeviationRecorded {
        by: "alice".into(),
        text: text.into(),
    }
}

fn ack(n: usize) -> Event {
    Event::DeviationAcknowledged {
        by: "wendy".into(),
        deviation: n,
    }
}

fn apply_all(state: State, events: &[Event]) -> State {
    events.iter().fold(state, |s, e| {
        step(&s, e)
            .unwrap_or_else(|r| panic!("{e:?} refused: {r}"))
            .0
    })
}

fn refused(state: &State, event: &Event) -> String {
    match step(state, event) {
        Ok(_) => panic!("{event:?} was accepted in {:?}", state.phase),
        Err(r) => r.to_string(),
    }
}

#[test]
fn a_failed_station_check_holds_a_production_ceremony_at_attendance_until_a_deviation_covers_it() {
    let s = apply_all(
        State::new(),
        &[
            opened(false),
            preflight(vec![
                Check::new("script", true, "ok"),
                station("air gap", false),
                station("swap", true),
                station("clock", false),
            ]),
        ],
    );
    assert_eq!(
        s.phase,
        Phase::Attendance,
        "the ceremony goes on to attendance"
    );
    assert_eq!(s.open_station_failures(), ["air gap", "clock"]);
    // No deviation before the administrator has checked in.
    let why = refused(&s, &deviation("offline by hand"));
    assert!(why.contains("only after checking in"), "{why}");
    let s = apply_all(s, &everyone_in());
    let why = refused(&s, &close());
    assert!(
        why.contains("the station failed its preflight checks (air gap, clock)"),
        "{why}"
    );
    assert!(why.contains("records a deviation"), "{why}");
    // Recorded, not yet acknowledged: still held.
    let s = apply_all(
        s,
        &[deviation("The cable was unplugged by hand; clock checked.")],
    );
    assert_eq!(s.deviations[0].waives, ["air gap", "clock"]);
    let why = refused(&s, &close());
    assert!(why.contains("awaits the witness"), "{why}");
    // Only the witness acknowledges; then attendance closes.
    let by_admin = Event::DeviationAcknowledged {
        by: "alice".into(),
        deviation: 0,
    };
    refused(&s, &by_admin);
    let s = apply_all(s, &[ack(0), close()]);
    assert_eq!(s.phase, Phase::Quorum);
    assert!(s.open_station_failures().is_empty());
}

#[test]
fn a_deviation_recorded_without_open_station_checks_waives_nothing() {
    let mut events = vec![opened(false), preflight(vec![station("air gap", true)])];
    events.extend(everyone_in());
    events.push(deviation("Dave arrived late."));
    let s = apply_all(State::new(), &events);
    assert!(s.deviations[0].waives.is_empty());
    assert!(s.station_failures.is_empty());
}

#[test]
fn the_first_deviation_at_attendance_is_the_waiver_and_later_ones_waive_nothing() {
    // Only a deviation recorded while the failures are open covers them: the first one
    // recorded at attendance after the preflight.
    let mut events = vec![opened(false), preflight(vec![station("air gap", false)])];
    events.extend(everyone_in());
    events.extend([
        deviation("about the air gap"),
        ack(0),
        deviation("Dave arrived late."),
        ack(1),
    ]);
    let s = apply_all(State::new(), &events);
    assert_eq!(s.deviations[0].waives, ["air gap"]);
    assert!(s.deviations[1].waives.is_empty());
    assert_eq!(step(&s, &close()).map(|(n, _)| n.phase), Ok(Phase::Quorum));
}

#[test]
fn a_rehearsal_only_warns() {
    let mut events = vec![opened(true), preflight(vec![station("air gap", false)])];
    events.extend(everyone_in());
    events.push(close());
    let s = apply_all(State::new(), &events);
    assert_eq!(s.phase, Phase::Quorum);
    assert!(s.station_failures.is_empty());
    assert!(s.deviations.is_empty());
}

#[test]
fn any_other_failed_check_keeps_the_ceremony_in_preflight_where_no_deviation_can_be_recorded() {
    for rehearsal in [true, false] {
        let s = apply_all(
            State::new(),
            &[
                opened(rehearsal),
                preflight(vec![
                    station("air gap", false),
                    Check::new("audit key", false, "not found"),
                ]),
            ],
        );
        assert_eq!(s.phase, Phase::Preflight);
        assert!(
            s.failures.iter().any(|f| f.starts_with("audit key")),
            "{:?}",
            s.failures
        );
        // Nobody can have checked in yet, so no deviation is possible before attendance.
        let why = refused(&s, &deviation("go on anyway"));
        assert!(why.contains("only after checking in"), "{why}");
        refused(&s, &checked_in("alice"));
        // The administrator retries; the second preflight's station failure stays open.
        let s = apply_all(
            s,
            &[
                Event::RetryRequested {
                    by: "alice".into(),
                    phase: Phase::Preflight,
                },
                preflight(vec![
                    station("air gap", false),
                    Check::new("audit key", true, ""),
                ]),
            ],
        );
        assert_eq!(s.phase, Phase::Attendance);
        assert_eq!(s.station_failures.len(), usize::from(!rehearsal));
    }
}

#[test]
fn a_check_of_an_older_log_has_no_station_member_and_one_of_the_station_keeps_it() {
    // Older logs have no "station": such a check is not the station's (the old rule: stop).
    let old: Check =
        serde_json::from_str(r#"{"name":"air gap","passed":false,"detail":"eth0 up"}"#)
            .expect("an older check reads");
    assert!(!old.station);
    assert_eq!(
        serde_json::to_string(&old).expect("json"),
        r#"{"name":"air gap","passed":false,"detail":"eth0 up"}"#,
        "a check that is not the station's is written as before"
    );
    let new = station("air gap", false);
    let text = serde_json::to_string(&new).expect("json");
    assert!(text.ends_with(r#","station":true}"#), "{text}");
    assert_eq!(serde_json::from_str::<Check>(&text).expect("reads"), new);
    let s = apply_all(State::new(), &[opened(false), preflight(vec![old])]);
    assert_eq!(s.phase, Phase::Preflight);
}

fn retry() -> Event {
    Event::RetryRequested {
        by: "alice".into(),
        phase: Phase::Attendance,
    }
}

#[test]
fn a_fixed_station_is_checked_again_at_attendance() {
    let mut events = vec![opened(false), preflight(vec![station("air gap", false)])];
    events.extend(everyone_in());
    let s = apply_all(State::new(), &events);
    // The room unplugged the cable: the administrator runs the checks again.
    let (s, effects) = step(&s, &retry()).expect("a retry at attendance");
    assert_eq!(effects, [Effect::RunPreflight]);
    let s = apply_all(s, &[preflight(vec![station("air gap", true)]), close()]);
    assert_eq!(s.phase, Phase::Quorum, "no deviation needed once it passes");
    assert_eq!(s.present.len(), 4, "the people stay checked in");

    // With nothing open there is nothing to run again at attendance, and a preflight result
    // out of turn is refused.
    let mut events = vec![opened(false), preflight(vec![station("air gap", true)])];
    events.extend(everyone_in());
    let s = apply_all(State::new(), &events);
    refused(&s, &retry());
    refused(&s, &preflight(vec![station("air gap", true)]));
}

#[test]
fn a_check_run_again_that_fails_the_ceremony_s_own_check_goes_back_to_preflight() {
    let mut events = vec![opened(false), preflight(vec![station("air gap", false)])];
    events.extend(everyone_in());
    events.extend([
        retry(),
        preflight(vec![
            station("air gap", true),
            Check::new("output medium", false, "missing"),
        ]),
    ]);
    let s = apply_all(State::new(), &events);
    assert_eq!(s.phase, Phase::Preflight);
    assert!(s.station_failures.is_empty());
}

#[test]
fn a_deviation_waives_the_checks_that_were_open_and_a_new_failure_needs_its_own() {
    let mut events = vec![opened(false), preflight(vec![station("air gap", false)])];
    events.extend(everyone_in());
    events.extend([
        deviation("cable sealed in a tamper bag"),
        ack(0),
        retry(),
        preflight(vec![station("air gap", false), station("clock", false)]),
    ]);
    let s = apply_all(State::new(), &events);
    assert_eq!(s.open_station_failures(), ["clock"]);
    let why = refused(&s, &close());
    assert!(why.contains("(clock)"), "{why}");
    let s = apply_all(
        s,
        &[
            deviation("clock set by hand from the witness's phone"),
            ack(1),
        ],
    );
    assert_eq!(s.deviations[1].waives, ["clock"]);
    assert_eq!(step(&s, &close()).map(|(n, _)| n.phase), Ok(Phase::Quorum));
}
