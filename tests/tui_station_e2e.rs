//! The guided UI in a real pseudo-terminal (tmux) on a station that fails its checks: a
//! production ceremony whose tool hash does not match the release's SHA256SUMS (and, on a
//! connected machine, whose air gap fails) shows the failures and the UTC time, goes on to
//! attendance, refuses to close it, and closes it once the administrator has typed a deviation
//! and the witness has acknowledged it. The log says which checks the deviation waived.
mod ceremony;
mod tmux;

use byok_ceremony::audit::log::stream;
use byok_ceremony::ceremony::machine::Event;
use ceremony::Room;
use tmux::Tmux;

#[test]
fn a_failed_station_check_is_waived_on_screen_by_the_deviation_and_the_witness() {
    let room = Room::new("station tui");
    room.edit_script("rehearsal = true", "rehearsal = false");
    std::fs::write(
        room.path("SHA256SUMS"),
        format!("{}  byok-ceremony\n", "ab".repeat(32)),
    )
    .expect("sums");
    let command = format!(
        "SOFTHSM2_CONF='{}' '{}' run ceremony.toml --state-dir state --sums SHA256SUMS",
        room.conf.display(),
        env!("CARGO_BIN_EXE_byok-ceremony")
    );
    let ui = Tmux::start("station-e2e", room.dir.path(), 120, 40, &command);
    ui.wait_for("Enter: open the ceremony");
    ui.keys(&["Enter"]);
    let screen = ui.wait_for("Enter: continue to attendance");
    assert!(screen.contains("[FAIL] tool binary: SHA-256 "), "{screen}");
    assert!(screen.contains("[ OK ] clock: 20"), "{screen}");
    assert!(
        screen.contains("UTC: the custodians confirm it"),
        "{screen}"
    );
    assert!(screen.contains("The station failed: "), "{screen}");
    ui.keys(&["Enter"]);
    ui.wait_for("r: run the checks again");
    for (i, name) in ["alice", "wendy", "carol", "dave"].iter().enumerate() {
        if i > 0 {
            ui.keys(&["Down"]);
        }
        ui.keys(&["Enter"]);
        ui.wait_until(&format!("{name} ticked"), |s| {
            s.contains("Enter: check in")
                && s.lines()
                    .any(|l| l.contains(&format!(" {name} ")) && l.contains("[x]"))
        });
    }
    // Closing is refused while the failure is open; the screen says why.
    ui.keys(&["c"]);
    ui.wait_for("not done: the station failed its preflight checks");
    // The administrator types the deviation, the witness acknowledges it, attendance closes.
    ui.keys(&["d"]);
    ui.wait_for("Describe the deviation");
    let why = "Release hashes compared by hand by the security officer";
    ui.type_text(why);
    ui.keys(&["Enter"]);
    ui.wait_for("the witness acknowledges it (w)");
    ui.keys(&["w"]);
    ui.wait_for("waived by a deviation the witness acknowledged");
    ui.keys(&["c"]);
    ui.wait_for_all(&["Shares accepted: 0 of 2", "Enter: enter share"]);
    ui.keys(&["C-c"]);

    let mut waived = None;
    let mut kinds = Vec::new();
    stream(&room.path("state/test-ceremony.audit.jsonl"), |_, e| {
        kinds.push(e.event.kind());
        if let Event::DeviationRecorded { text, .. } = &e.event {
            waived = Some(text.clone());
        }
        Ok(())
    })
    .expect("the log reads");
    assert_eq!(waived.as_deref(), Some(why));
    let at = |k: &str| kinds.iter().position(|x| *x == k).expect(k);
    assert!(
        at("deviation_acknowledged") < at("attendance_closed"),
        "{kinds:?}"
    );
}
