//! The guided UI in a real pseudo-terminal (tmux): the real binary on a SoftHSM2 token
//! provisioned 2-of-3, typed key by key as the people in the room would. A complete ceremony
//! ends with a .byok that unwraps correctly and a log that verifies; a wrong share and a
//! missing medium are shown, recovered from, and logged.
mod ceremony;
mod qr;
mod tmux;

use byok_ceremony::quorum::share::PinGroup;
use byok_ceremony::quorum::share_file::share_text_in;
use ceremony::Room;
use tmux::Tmux;

/// The real binary in a 120x40 pane, in the room, on the room's token.
fn ceremony_ui(room: &Room, name: &str, args: &str) -> Tmux {
    let command = format!(
        "{}='{}' '{}' {args}",
        room.conf_env,
        room.conf.display(),
        env!("CARGO_BIN_EXE_byok-ceremony")
    );
    Tmux::start(name, room.dir.path(), 120, 40, &command)
}

/// The guided ceremony of the room's script.
fn start(room: &Room, name: &str) -> Tmux {
    ceremony_ui(room, name, "run ceremony.toml --state-dir state")
}

/// Waits until `name`'s row is ticked and the key legend `legend` is back. The legend
/// is drawn only while the runner waits for input (keys pressed while the tool works
/// are ignored), and a row ticked by this action can only be drawn after the key was
/// taken, so together they mean "done, ready for the next key".
fn wait_ticked(ui: &Tmux, name: &str, legend: &str) -> String {
    ui.wait_until(&format!("{name} ticked, then {legend:?}"), |s| {
        s.contains(legend)
            && s.lines()
                .any(|l| l.contains(&format!(" {name} ")) && l.contains("[x]"))
    })
}

fn share_of(room: &Room, custodian: &str) -> String {
    let text = std::fs::read_to_string(room.path(&format!("provisioning/{custodian}.share.txt")))
        .expect("share file");
    share_text_in(&text, PinGroup::UserPin)
        .expect("share")
        .as_str()
        .to_owned()
}

/// From the script screen through attendance (alice, wendy, carol, dave).
fn open_and_check_in(ui: &Tmux) {
    ui.wait_for("Enter: open the ceremony");
    ui.keys(&["Enter"]);
    ui.wait_for("Enter: continue to attendance");
    ui.keys(&["Enter"]);
    check_in(ui);
}

/// Attendance, one person at a time, each waited for before the next key.
fn check_in(ui: &Tmux) {
    ui.wait_for("Enter: check in");
    for (i, name) in ["alice", "wendy", "carol", "dave"].iter().enumerate() {
        if i > 0 {
            ui.keys(&["Down"]);
        }
        ui.keys(&["Enter"]);
        wait_ticked(ui, name, "Enter: check in");
    }
    ui.keys(&["c"]);
    ui.wait_for_all(&["Shares accepted: 0 of 2", "Enter: enter share"]);
}

fn present(ui: &Tmux, share: &str, down: bool) {
    if down {
        ui.keys(&["Down"]);
    }
    ui.keys(&["Enter"]);
    ui.wait_for("share (hidden)");
    ui.type_text(share);
    let screen = ui.screen();
    assert!(
        !screen.contains(&share[..12]),
        "a share was drawn on screen"
    );
    ui.keys(&["Enter"]);
}

fn finish(ui: &Tmux) {
    ui.wait_for("y: words match");
    ui.keys(&["y"]);
    wait_ticked(ui, "carol", "y: words match");
    ui.keys(&["Down", "y"]);
    ui.wait_for("type GENERATE");
    ui.type_text("GENERATE");
    ui.keys(&["Enter"]);
    ui.wait_for("type EXPORT");
    ui.type_text("EXPORT");
    ui.keys(&["Enter"]);
    sign_off_and_close(ui);
}

/// Carol's share, then Dave's: the quorum the room's token needs.
fn quorum(ui: &Tmux, room: &Room) {
    present(ui, &share_of(room, "carol"), false);
    ui.wait_for_all(&["Shares accepted: 1 of 2", "Enter: enter share"]);
    present(ui, &share_of(room, "dave"), true);
}

/// From the export's read-back to the closed ceremony: everyone signs off, the id is typed.
fn sign_off_and_close(ui: &Tmux) {
    ui.wait_for("Enter: continue to sign-off");
    ui.keys(&["Enter"]);
    ui.wait_for("Enter: sign off");
    for (i, name) in ["alice", "wendy", "carol", "dave"].iter().enumerate() {
        if i > 0 {
            ui.keys(&["Down"]);
        }
        ui.keys(&["Enter"]);
        wait_ticked(ui, name, "Enter: sign off");
    }
    ui.keys(&["c"]);
    ui.wait_for("Type the ceremony id");
    ui.type_text("test-ceremony");
    ui.keys(&["Enter"]);
    ui.wait_for("The ceremony is closed.");
    ui.keys(&["q"]);
}

fn outputs_verify(room: &Room) {
    // The room's token is SoftHSM2 2.7.0: the native wrap, proven and byte-exact.
    let manifest = byok_ceremony::manifest::Manifest::parse(
        &std::fs::read(room.path("out-usb/test-ceremony.manifest.json")).expect("manifest"),
    )
    .expect("manifest");
    assert_eq!(manifest.wrap.name(), "native");
    assert!(manifest.rehearsal_grade_reasons.is_empty());
    room.assert_byok_unwraps_to_manifest_key();
    let media = room.path("out-usb");
    let audit = room.audit_verify(&media.join("test-ceremony.audit.jsonl"));
    assert!(audit.status.success(), "the log does not verify");
}

fn log_text(room: &Room) -> String {
    std::fs::read_to_string(room.path("state/test-ceremony.audit.jsonl")).expect("log")
}

#[test]
fn a_whole_ceremony_typed_key_by_key() {
    let room = Room::new("tui whole");
    let ui = start(&room, "whole");
    open_and_check_in(&ui);
    quorum(&ui, &room);
    finish(&ui);
    outputs_verify(&room);
    // Typed at the keyboard, not from an answers file.
    assert!(log_text(&room).contains("\"scripted\":false"));
}

#[test]
fn a_wrong_share_is_refused_and_logged_then_the_right_one_goes_on() {
    let room = Room::new("tui wrong share");
    let ui = start(&room, "wrong");
    open_and_check_in(&ui);
    // Carol types Dave's share: a valid share, but not hers.
    present(&ui, &share_of(&room, "dave"), false);
    ui.wait_for_all(&["Shares accepted: 0 of 2", "Enter: enter share"]);
    assert!(log_text(&room).contains("share_rejected"));
    quorum(&ui, &room);
    finish(&ui);
    outputs_verify(&room);
}

#[test]
fn a_missing_medium_stops_at_preflight_and_retry_goes_on() {
    let room = Room::new("tui no medium");
    std::fs::remove_dir(room.path("out-usb")).expect("unplug the output medium");
    let ui = start(&room, "medium");
    ui.wait_for("Enter: open the ceremony");
    ui.keys(&["Enter"]);
    let screen = ui.wait_for("out-usb");
    assert!(
        screen.contains("missing") || screen.contains("mount"),
        "{screen}"
    );
    // Retried while still missing: the problem is said once, not once per try.
    ui.keys(&["r"]);
    let start = std::time::Instant::now();
    while log_text(&room).matches("preflight_completed").count() < 2 {
        assert!(start.elapsed().as_secs() < 60, "the retry never ran");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let screen = ui.wait_for_all(&["out-usb", "r: retry"]);
    let body: String = screen.lines().take(12).collect::<Vec<_>>().join("\n");
    assert_eq!(body.matches("is missing").count(), 1, "{screen}");
    std::fs::create_dir(room.path("out-usb")).expect("plug it in");
    ui.keys(&["r"]);
    ui.wait_for("Enter: continue to attendance");
    ui.keys(&["Enter"]);
    check_in(&ui);
    quorum(&ui, &room);
    finish(&ui);
    outputs_verify(&room);
    // The failed preflight is in the log before the one that passed.
    let log = log_text(&room);
    let failed = log.find("\"passed\":false").expect("failed check logged");
    let passed = log.rfind("preflight_completed").expect("preflight");
    assert!(failed < passed);
    // And the choice to retry is in the log, between them.
    let retry = log.find("\"retry_requested\"").expect("retry logged");
    assert!(failed < retry && retry < passed);
}

#[test]
fn without_a_command_the_scripts_found_are_listed_and_the_chosen_one_starts() {
    let room = Room::new("tui picker");
    // The room's script, as found in ceremony-scripts/ (its record path is relative to it).
    let script = std::fs::read_to_string(room.path("ceremony.toml"))
        .expect("script")
        .replace("record = \"provisioning/", "record = \"../provisioning/");
    std::fs::create_dir(room.path("ceremony-scripts")).expect("dir");
    std::fs::write(room.path("ceremony-scripts/a-test.toml"), script).expect("copy");
    std::fs::write(room.path("ceremony-scripts/broken.toml"), "not a script").expect("bad");
    std::fs::copy(
        room.path("provision.toml"),
        room.path("ceremony-scripts/provision-token.toml"),
    )
    .expect("provisioning script");
    let ui = ceremony_ui(&room, "picker", "");
    let screen = ui.wait_for_all(&["Ceremony scripts found", "Enter: start this ceremony"]);
    assert!(screen.contains("test-ceremony"), "{screen}");
    assert!(
        !screen.contains("broken"),
        "an invalid script was offered:\n{screen}"
    );
    // Provisioning scripts are offered too (sorted by file name: after a-test.toml).
    assert!(
        screen.contains("provision-token") && screen.contains("PIN split 2 of 3"),
        "{screen}"
    );
    ui.keys(&["Enter"]);
    // The chosen script's own first screen, with its hash whole.
    let screen = ui.wait_for("Enter: open the ceremony");
    assert!(screen.contains("test-ceremony"), "{screen}");
    ui.keys(&["q"]);
    ui.wait_for("EXIT=");
}

#[test]
fn the_kek_is_loaded_from_a_medium_chosen_on_screen() {
    let room = Room::new("tui kek picker");
    // The KEK is not on the configured medium but on another one, mounted under mnt/.
    std::fs::create_dir_all(room.path("mnt/KEK-STICK")).expect("mount");
    std::fs::rename(
        room.path("kek-usb/kek.pem"),
        room.path("mnt/KEK-STICK/kek.pem"),
    )
    .expect("move the KEK");
    let ui = ceremony_ui(
        &room,
        "kekpick",
        "run ceremony.toml --state-dir state --media-root mnt",
    );
    open_and_check_in(&ui);
    quorum(&ui, &room);
    // The load from kek-usb failed; the screen lists the media, the stick marked [x].
    let screen = ui.wait_for_all(&["Media that could hold the KEK", "Enter: load from it"]);
    assert!(
        screen
            .lines()
            .any(|l| l.contains("KEK-STICK") && l.contains("[x]")),
        "{screen}"
    );
    ui.keys(&["Down", "Enter"]);
    finish(&ui);
    outputs_verify(&room);
    // The log has the choice and the file it led to.
    let log = log_text(&room);
    let retry = log.find("\"retry_requested\"").expect("choice logged");
    let loaded = log.find("\"kek_loaded\"").expect("loaded");
    assert!(retry < loaded);
    assert!(
        log[loaded..].contains("KEK-STICK/kek.pem"),
        "the file is not named"
    );
}

/// Dave presents Erin's share (valid, but hers) after Carol's was accepted, then his own: the
/// refusal names the owner and costs nothing. Carol's accepted share is kept, the quorum logs
/// in with Carol's and Dave's, and no login fails (before, both had to start again).
#[test]
fn a_share_of_another_custodian_costs_none_of_the_shares_already_accepted() {
    let room = Room::new("tui wrong owner");
    let ui = start(&room, "owner");
    open_and_check_in(&ui);
    present(&ui, &share_of(&room, "carol"), false);
    ui.wait_for_all(&["Shares accepted: 1 of 2", "Enter: enter share"]);
    present(&ui, &share_of(&room, "erin"), true);
    let screen = ui.wait_for_all(&["belongs to erin, not dave", "Enter: enter share"]);
    assert!(screen.contains("Shares accepted: 1 of 2"), "{screen}");
    assert!(screen.contains("already accepted are kept"), "{screen}");
    present(&ui, &share_of(&room, "dave"), false);
    // The HSM is reached with the quorum: the KEK step, not a refused login.
    ui.wait_for("y: words match");
    let log = log_text(&room);
    assert!(!log.contains("login_failed"), "a login failed");
    assert_eq!(log.matches("\"share_presented\"").count(), 2);
    assert!(log.contains("\"logged_in\""));
    finish(&ui);
    outputs_verify(&room);
}

/// A wrong KEK is loaded and the custodians reject it; the right one is then loaded from
/// another medium. The QR code beside the fingerprint, read from the real terminal, is the
/// right key's (before, it still encoded the rejected one), and so are the hex and words.
#[test]
fn after_a_rejected_kek_the_screen_shows_only_the_new_kek() {
    use byok_ceremony::byok::kek::Kek;
    let room = Room::new("tui kek reject");
    let right = room.path("kek-usb/kek.pem");
    std::fs::create_dir_all(room.path("mnt/RIGHT-KEK")).expect("mount");
    std::fs::copy(&right, room.path("mnt/RIGHT-KEK/kek.pem")).expect("right KEK");
    std::fs::copy(ceremony::data("independent/kek-3072.public.pem"), &right).expect("wrong KEK");
    let fp = |p: &std::path::Path| Kek::load(p, None, None).expect("KEK").fingerprint().hex();
    let (wrong_fp, right_fp) = (fp(&right), fp(&room.path("mnt/RIGHT-KEK/kek.pem")));
    assert_ne!(wrong_fp, right_fp);
    let ui = ceremony_ui(
        &room,
        "kekreject",
        "run ceremony.toml --state-dir state --media-root mnt",
    );
    open_and_check_in(&ui);
    quorum(&ui, &room);
    let screen = ui.wait_for("y: words match");
    let lines: Vec<String> = screen.lines().map(str::to_owned).collect();
    assert_eq!(qr::decode_one(&lines), wrong_fp);
    // Carol: the words read aloud differ.
    ui.keys(&["n"]);
    ui.wait_for("Why does carol reject the KEK?");
    ui.type_text("the words differ from those read aloud");
    ui.keys(&["Enter"]);
    // The medium the rejected KEK came from is not offered first: the other one is.
    let screen = ui.wait_for_all(&["Media that could hold the KEK", "Enter: load from it"]);
    assert!(
        screen
            .lines()
            .any(|l| l.starts_with("> ") && l.contains("RIGHT-KEK")),
        "{screen}"
    );
    ui.keys(&["Enter"]);
    let screen = ui.wait_until("the right KEK's confirmation screen", |s| {
        s.contains("y: words match") && s.contains(&right_fp[..4])
    });
    assert!(
        screen.contains("RIGHT-KEK/kek.pem"),
        "the file loaded is named:\n{screen}"
    );
    let lines: Vec<String> = screen.lines().map(str::to_owned).collect();
    assert_eq!(
        qr::decode_one(&lines),
        right_fp,
        "a stale QR code:\n{screen}"
    );
    let groups = byok_ceremony::tui::widgets::hex_groups(&right_fp);
    assert!(screen.contains(&groups[..39]), "{screen}");
    assert!(!screen.contains(&byok_ceremony::tui::widgets::hex_groups(&wrong_fp)[..19]));
    // The same after the terminal is resized and redrawn whole.
    ui.resize(100, 30);
    let screen = ui.wait_until("redrawn at 100x30", |s| {
        s.lines().count() <= 30 && s.contains("y: words match")
    });
    let lines: Vec<String> = screen.lines().map(str::to_owned).collect();
    assert_eq!(
        qr::decode_one(&lines),
        right_fp,
        "after a resize:\n{screen}"
    );
    ui.resize(120, 40);
    finish(&ui);
    outputs_verify(&room);
}

/// Restarted after a crash with the same command, the guided UI shows the interrupted
/// ceremony (where it stopped, its last entry, who was present) and offers resume or abort;
/// RESUME typed, a fresh quorum logs in and the ceremony finishes with the key already made.
/// Started once more, it says the ceremony is closed.
#[test]
fn a_restarted_ceremony_offers_resume_on_screen_and_a_closed_one_says_so() {
    let room = Room::new("tui resume");
    ceremony::kill_after(&room, "key_generated");
    let ui = start(&room, "resume");
    ui.wait_for("Enter: open the ceremony");
    ui.keys(&["Enter"]);
    let screen = ui.wait_for_all(&["stopped before its end", "r: resume it"]);
    for shown in [
        "Wrap the key",
        "key generated",
        "alice",
        "wendy",
        "carol",
        "dave",
    ] {
        assert!(screen.contains(shown), "{shown:?} is not shown:\n{screen}");
    }
    ui.keys(&["r"]);
    ui.wait_for("Type RESUME");
    ui.type_text("RESUME");
    ui.keys(&["Enter"]);
    ui.wait_for_all(&["Shares accepted: 0 of 2", "Enter: enter share"]);
    quorum(&ui, &room);
    ui.wait_for("y: words match");
    ui.keys(&["y"]);
    wait_ticked(&ui, "carol", "y: words match");
    ui.keys(&["Down", "y"]);
    // The key exists: no second GENERATE, straight to the wrap and the export.
    ui.wait_for("type EXPORT");
    ui.type_text("EXPORT");
    ui.keys(&["Enter"]);
    sign_off_and_close(&ui);
    ui.wait_for("EXIT=0");
    let log = log_text(&room);
    assert!(log.contains("\"resumed\""), "the choice is not logged");
    assert_eq!(log.matches("\"key_generated\"").count(), 1, "one key");
    outputs_verify(&room);
    drop(ui);

    let again = start(&room, "closed");
    again.wait_for("Enter: open the ceremony");
    again.keys(&["Enter"]);
    let screen = again.wait_for("it ran to its end");
    assert!(screen.contains("is closed"), "{screen}");
    assert!(!screen.contains("--recover"), "{screen}");
    again.keys(&["q"]);
    let screen = again.wait_for("EXIT=1");
    assert!(screen.contains("already closed"), "{screen}");
}

/// A crash between `closed` and its checkpoint: the restart says the end is incomplete, offers
/// only to finish it (no abort of a closed ceremony), and the quorum's login signs it.
#[test]
fn a_close_left_unsigned_by_a_crash_is_signed_after_a_restart() {
    let room = Room::new("tui unsigned close");
    ceremony::kill_after(&room, "closed");
    let ui = start(&room, "finish");
    ui.wait_for("Enter: open the ceremony");
    ui.keys(&["Enter"]);
    let screen = ui.wait_for_all(&["end is not complete", "r: resume to finish the end"]);
    assert!(
        screen.contains("the closing checkpoint is not signed"),
        "{screen}"
    );
    assert!(!screen.contains("a: abort"), "{screen}");
    // Had `a` opened the abort prompt, `r` would be typed into it and RESUME never asked.
    ui.keys(&["a", "r"]);
    let screen = ui.wait_for("Type RESUME");
    assert!(!screen.contains("Type ABORT"), "{screen}");
    ui.type_text("RESUME");
    ui.keys(&["Enter"]);
    let screen = ui.wait_for_all(&["Shares accepted: 0 of 2", "only for that"]);
    assert!(screen.contains("The ceremony is closed"), "{screen}");
    quorum(&ui, &room);
    ui.wait_for("The ceremony is closed.");
    ui.keys(&["q"]);
    ui.wait_for("EXIT=0");
    let log = log_text(&room);
    assert_eq!(
        log.matches("\"event\":\"closed\"").count(),
        1,
        "closed twice"
    );
    assert!(log.contains("\"resumed\""), "the restart is not logged");
    outputs_verify(&room);
}

/// A typed confirmation has a way back: Esc stops before the step, nothing is done, the log
/// says so, and r asks again; the ceremony then goes on as usual.
#[test]
fn a_decisive_step_can_be_stopped_at_its_confirmation_and_asked_again() {
    let room = Room::new("tui decline");
    let ui = start(&room, "decline");
    open_and_check_in(&ui);
    quorum(&ui, &room);
    ui.wait_for("y: words match");
    ui.keys(&["y"]);
    wait_ticked(&ui, "carol", "y: words match");
    ui.keys(&["Down", "y"]);
    let screen = ui.wait_for("type GENERATE");
    assert!(screen.contains("Esc: stop here"), "{screen}");
    ui.keys(&["Escape"]);
    let screen = ui.wait_for_all(&["GENERATE was not typed", "r: retry"]);
    assert!(screen.contains("nothing was done"), "{screen}");
    let log = log_text(&room);
    assert!(!log.contains("\"key_generated\""), "a key was made");
    assert!(
        log.contains("GENERATE was not typed"),
        "the stop is not logged"
    );
    ui.keys(&["r"]);
    ui.wait_for("type GENERATE");
    ui.type_text("GENERATE");
    ui.keys(&["Enter"]);
    ui.wait_for("type EXPORT");
    ui.type_text("EXPORT");
    ui.keys(&["Enter"]);
    sign_off_and_close(&ui);
    outputs_verify(&room);
}

/// Confirms the KEK now on screen (carol, then dave) once `cloud` is named there.
fn confirm_kek_of(ui: &Tmux, cloud: &str) {
    let screen = ui.wait_for_all(&[cloud, "y: words match"]);
    assert!(screen.contains("Fingerprint"), "{screen}");
    ui.keys(&["y"]);
    wait_ticked(ui, "carol", "y: words match");
    ui.keys(&["Down", "y"]);
}

/// One ceremony for Azure, Google Cloud and AWS at the keyboard (kryoptic: OAEP SHA-256): each
/// cloud's KEK confirmed in turn, one key, and an export that is confirmed only once each
/// wrapped key's hash has been on the screen.
#[test]
fn three_clouds_typed_key_by_key() {
    let room = Room::on_kryoptic("tui clouds");
    room.three_clouds(
        &ceremony::rfc3339_from_now(-3600),
        &ceremony::rfc3339_from_now(20 * 3600),
    );
    let ui = start(&room, "clouds");
    let screen = ui.wait_for("Enter: open the ceremony");
    assert!(
        screen
            .contains("test-ceremony.byok + test-ceremony.gcp.wrapped + test-ceremony.aws.wrapped"),
        "{screen}"
    );
    ui.keys(&["Enter"]);
    ui.wait_for("Enter: continue to attendance");
    ui.keys(&["Enter"]);
    check_in(&ui);
    quorum(&ui, &room);
    confirm_kek_of(&ui, "Azure Key Vault (1 of 3)");
    // Carol hears other words for Google's wrapping key: she rejects it, and Google's KEK is
    // loaded and confirmed again (Azure's confirmation stands).
    ui.wait_for_all(&["Google Cloud KMS (2 of 3)", "y: words match"]);
    ui.keys(&["n"]);
    ui.wait_for("Why does carol reject the KEK?");
    ui.type_text("the words read aloud differ");
    ui.keys(&["Enter"]);
    let screen = ui.wait_for_all(&["Load the KEK", "Google Cloud KMS (2 of 3"]);
    assert!(
        screen.contains("rejected the KEK") && screen.contains("job.public.pem"),
        "{screen}"
    );
    ui.keys(&["Enter"]);
    confirm_kek_of(&ui, "Google Cloud KMS (2 of 3)");
    confirm_kek_of(&ui, "AWS KMS (3 of 3)");
    ui.wait_for("type GENERATE");
    ui.type_text("GENERATE");
    ui.keys(&["Enter"]);
    let screen = ui.wait_for("type EXPORT");
    for file in [
        "test-ceremony.byok",
        "test-ceremony.gcp.wrapped",
        "test-ceremony.aws.wrapped",
    ] {
        assert!(
            screen.contains(file),
            "{file} not on the approval:\n{screen}"
        );
    }
    ui.type_text("EXPORT");
    ui.keys(&["Enter"]);
    let screen = ui.wait_for_all(&[
        "1 of 3: Azure Key Vault SHA-256",
        "Tab: show the next wrapped key",
    ]);
    assert!(screen.contains("[ ] Google Cloud KMS"), "{screen}");
    // The smallest terminal the tool takes: each hash, with all its words and its QR code,
    // still fits. Enter before the other clouds' hashes were shown: not yet.
    ui.resize(80, 24);
    ui.keys(&["Enter"]);
    ui.wait_for("(Tab: next) before going on");
    ui.keys(&["Tab"]);
    ui.wait_for("2 of 3: Google Cloud KMS SHA-256");
    ui.keys(&["Tab"]);
    let screen = ui.wait_for("3 of 3: AWS KMS SHA-256");
    let manifest = byok_ceremony::manifest::Manifest::parse(
        &std::fs::read(room.path("out-usb/test-ceremony.manifest.json")).expect("manifest"),
    )
    .expect("manifest");
    let aws = manifest
        .outputs
        .iter()
        .find(|o| o.cloud.id() == "aws")
        .expect("aws");
    let groups = byok_ceremony::tui::widgets::hex_groups(&aws.sha256);
    let first_line: String = groups.split(' ').take(8).collect::<Vec<_>>().join(" ");
    assert!(
        screen.contains(&first_line),
        "the shown hash is AWS's:\n{screen}"
    );
    let words = byok_ceremony::tui::widgets::words(&aws.sha256);
    assert!(
        screen.contains(words[31]) && screen.contains(words[0]),
        "all of the hash's words at 80x24:\n{screen}"
    );
    ui.resize(120, 40);
    sign_off_and_close(&ui);
    let log = room.path("out-usb/test-ceremony.audit.jsonl");
    assert!(
        room.audit_verify(&log).status.success(),
        "the log does not verify"
    );
    room.assert_byok_unwraps_to_manifest_key();
    assert_eq!(manifest.outputs.len(), 3);
}
