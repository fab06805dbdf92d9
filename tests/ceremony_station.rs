//! A ceremony on a station that fails its own checks, on a real SoftHSM2 token with the real
//! binary: a production ceremony goes on to attendance with the failure open and closes
//! attendance only under a deviation the administrator recorded and the witness acknowledged;
//! a rehearsal only warns; the log of such a ceremony verifies, and its report shows the
//! deviation. The failing check is the tool's own hash against a SHA256SUMS file that lists
//! another (it fails the same way on any machine); the production runs are on a disconnected
//! machine (a network namespace of their own, as a production ceremony needs), and one more
//! runs on this connected machine to fail the air gap.
mod ceremony;

use byok_ceremony::audit::log::stream;
use byok_ceremony::ceremony::machine::Event;
use ceremony::Room;

/// The room's answers name a SHA256SUMS file that does not list this binary's hash.
fn with_wrong_sums(room: &Room) {
    std::fs::write(
        room.path("SHA256SUMS"),
        format!("{}  byok-ceremony\n", "ab".repeat(32)),
    )
    .expect("sums");
    let answers = room.path("answers.toml");
    let text = std::fs::read_to_string(&answers).expect("answers");
    std::fs::write(
        &answers,
        text.replacen("version = 1\n", "version = 1\nsums = \"SHA256SUMS\"\n", 1),
    )
    .expect("answers");
}

fn add_deviation(room: &Room, text: &str) {
    let answers = room.path("answers.toml");
    let mut all = std::fs::read_to_string(&answers).expect("answers");
    all.push_str(&format!(
        "\n[[deviations]]\nphase = \"attendance\"\ntext = \"{text}\"\n"
    ));
    std::fs::write(&answers, all).expect("answers");
}

fn production(label: &str) -> Room {
    let room = Room::new(label);
    room.edit_script("rehearsal = true", "rehearsal = false");
    room
}

/// The events of the workstation's log, in order.
fn events(room: &Room) -> Vec<Event> {
    let mut all = Vec::new();
    stream(&room.path("state/test-ceremony.audit.jsonl"), |_, e| {
        all.push(e.event.clone());
        Ok(())
    })
    .expect("the log reads");
    all
}

fn kinds(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(Event::kind).collect()
}

/// The station checks that failed in the (first) preflight.
fn failed_station_checks(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .find_map(|e| match e {
            Event::PreflightCompleted { checks } => Some(
                checks
                    .iter()
                    .filter(|c| c.station && !c.passed)
                    .map(|c| c.name.clone())
                    .collect(),
            ),
            _ => None,
        })
        .expect("a preflight")
}

#[test]
fn a_production_ceremony_stops_at_attendance_until_a_deviation_covers_the_failed_check() {
    let room = production("station refused");
    with_wrong_sums(&room);
    let out = room.run_ceremony_offline();
    assert!(
        !out.status.success(),
        "the ceremony went on over a failed check"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("preflight: tool binary failed"), "{stderr}");
    assert!(
        stderr.contains("attendance closes only after the administrator records a deviation"),
        "{stderr}"
    );
    assert!(stderr.contains("[[deviations]]"), "{stderr}");
    let seen = events(&room);
    assert_eq!(failed_station_checks(&seen), ["tool binary"]);
    let k = kinds(&seen);
    // Everyone checked in; attendance never closed, so nothing reached the HSM.
    assert!(k.contains(&"checked_in"), "{k:?}");
    assert!(!k.contains(&"attendance_closed"), "{k:?}");
    assert!(
        !k.contains(&"share_presented") && !k.contains(&"logged_in"),
        "{k:?}"
    );
}

#[test]
fn a_production_ceremony_goes_on_under_an_acknowledged_deviation_and_its_log_verifies() {
    let room = production("station waived");
    with_wrong_sums(&room);
    let why = "The release SHA256SUMS is of build 0.1.0-rc1; the security officer compared the binary by hand.";
    add_deviation(&room, why);
    let out = room.run_ceremony_offline();
    assert!(
        out.status.success(),
        "the deviation did not let the ceremony go on"
    );
    let seen = events(&room);
    let k = kinds(&seen);
    let at = |kind: &str| k.iter().position(|x| *x == kind).expect(kind);
    assert!(
        at("deviation_recorded") < at("deviation_acknowledged"),
        "{k:?}"
    );
    assert!(
        at("deviation_acknowledged") < at("attendance_closed"),
        "{k:?}"
    );
    assert!(k.contains(&"closed"), "{k:?}");

    // The auditor's verify replays the same machine: it accepts the log ...
    let log = room.path("out-usb/test-ceremony.audit.jsonl");
    let verify = room.audit_verify(&log);
    assert!(verify.status.success(), "audit verify refused the log");
    let said = String::from_utf8_lossy(&verify.stdout);
    assert!(
        said.contains("acknowledged by wendy") && said.contains(why),
        "{said}"
    );
    assert!(
        said.contains("waives the failed station checks: tool binary"),
        "{said}"
    );
    // ... and the report shows the failed check and the deviation that covered it.
    let report = room.path("report.md");
    let out = room.bin(&[
        "audit".as_ref(),
        "report".as_ref(),
        log.as_os_str(),
        "--record".as_ref(),
        room.path("provisioning/provisioning-record.json")
            .as_os_str(),
        "--format".as_ref(),
        "md".as_ref(),
        "-o".as_ref(),
        report.as_os_str(),
    ]);
    assert!(out.status.success(), "no report");
    let text = std::fs::read_to_string(&report).expect("report");
    assert!(
        text.contains("preflight check \"tool binary\" failed"),
        "{text}"
    );
    assert!(text.contains(why), "{text}");
    assert!(
        text.contains("waives the failed station checks: tool binary"),
        "{text}"
    );
}

#[test]
fn a_rehearsal_only_warns_about_a_failed_station_check() {
    let room = Room::new("station warned");
    with_wrong_sums(&room);
    let out = room.run_ceremony();
    assert!(
        out.status.success(),
        "a rehearsal stopped over a station check"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("preflight: tool binary failed, warning (a rehearsal goes on)"),
        "{stderr}"
    );
    let seen = events(&room);
    assert!(failed_station_checks(&seen).contains(&"tool binary".to_owned()));
    assert!(!kinds(&seen).contains(&"deviation_recorded"));
}

#[test]
fn a_production_ceremony_on_this_connected_machine_is_held_at_attendance_by_the_air_gap() {
    let connected = std::fs::read_to_string("/proc/net/route").is_ok_and(|t| {
        t.lines()
            .skip(1)
            .any(|l| l.split_whitespace().nth(1) == Some("00000000"))
    });
    if !connected {
        eprintln!("SKIPPED: this machine has no default route, so it is not a connected one");
        return;
    }
    let room = production("station connected");
    let out = room.run_ceremony();
    assert!(
        !out.status.success(),
        "a production ceremony ran on a connected station"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("preflight: air gap failed"), "{stderr}");
    assert!(
        stderr.contains("the station failed its preflight checks (air gap)"),
        "{stderr}"
    );
    let seen = events(&room);
    assert!(failed_station_checks(&seen).contains(&"air gap".to_owned()));
    assert!(!kinds(&seen).contains(&"attendance_closed"));
}
