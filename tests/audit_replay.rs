//! `audit replay`: a real log from a ceremony on SoftHSM2 replays to the state the runner
//! ended with; navigation lands on exactly the fold of the entries before it; a tampered log
//! is refused (or, with --force, replayed only up to the entry verify names); snapshots of the
//! replay screens from a committed fixture log; and the real binary in tmux.
mod ceremony;
mod tmux;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use byok_ceremony::audit::log::{Entry, stream};
use byok_ceremony::audit::replay::{self, Nav, Replay, Trust};
use byok_ceremony::audit::verify::{AuditError, VerifyOptions, verify};
use byok_ceremony::ceremony::machine::{self, Phase, State};
use byok_ceremony::manifest::Manifest;
use byok_ceremony::quorum::record::ProvisioningRecord;
use byok_ceremony::tui::replay::Player;
use ceremony::Room;
use tmux::Tmux;

/// The fixture: a real ceremony's log (SoftHSM2, 2-of-3, a refused share and a deviation),
/// its provisioning record and its script, made once by `make_the_replay_fixture`.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/replay")
        .join(name)
}

const FIXTURE_LOG: &str = "test-ceremony.audit.jsonl";
const FIXTURE_RECORD: &str = "provisioning-record.json";
const FIXTURE_SCRIPT: &str = "ceremony.toml";

fn read_entries(log: &Path) -> Vec<Entry> {
    let mut entries = Vec::new();
    stream(log, |_, e| {
        entries.push(e);
        Ok(())
    })
    .expect("the log reads");
    entries
}

/// The audit key (SPKI DER) from a provisioning record.
fn audit_key(record: &Path) -> Vec<u8> {
    let record =
        ProvisioningRecord::parse(&std::fs::read(record).expect("record")).expect("record");
    let pem = record.audit_key.public_key_pem;
    der::pem::decode_vec(pem.trim().as_bytes()).expect("PEM").1
}

/// A room whose ceremony has a refused share (erin did not check in) and a deviation.
fn eventful_room(label: &str) -> Room {
    let room = Room::new(label);
    room.write_answers(&["erin", "carol", "dave"], None);
    let mut answers = std::fs::read_to_string(room.path("answers.toml")).expect("answers");
    answers.push_str(
        "\n[[deviations]]\nphase = \"attendance\"\ntext = \"Dave arrived 10 minutes late; the witness checked his ID.\"\n",
    );
    std::fs::write(room.path("answers.toml"), answers).expect("answers");
    room
}

/// What `run` printed at the end: the phase line, the log head and the files it wrote.
struct Printed {
    closed: bool,
    head: String,
    files: BTreeSet<(String, String)>,
}

fn printed(stdout: &str) -> Printed {
    let head = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("log head:"))
        .expect("the runner prints the log head")
        .trim()
        .to_owned();
    let files = stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("wrote "))
        .map(|l| {
            let (path, hash) = l
                .split_once(" (SHA-256 ")
                .expect("wrote PATH (SHA-256 HASH)");
            let name = Path::new(path).file_name().expect("name");
            (
                name.to_string_lossy().into_owned(),
                hash.trim_end_matches(')').to_owned(),
            )
        })
        .collect();
    Printed {
        closed: stdout.contains("Ceremony closed."),
        head,
        files,
    }
}

/// Regenerates the committed fixture (run with --ignored after a change of the log format;
/// delete tests/data/replay first: nothing is overwritten).
#[test]
#[ignore = "writes the committed fixture under tests/data/replay"]
fn make_the_replay_fixture() {
    let room = eventful_room("replay fixture");
    let out = room.run_ceremony();
    assert!(out.status.success(), "the ceremony did not close");
    let dir = fixture("");
    std::fs::create_dir(&dir).expect("tests/data/replay must not exist yet");
    for (from, to) in [
        ("out-usb/test-ceremony.audit.jsonl", FIXTURE_LOG),
        ("provisioning/provisioning-record.json", FIXTURE_RECORD),
        ("ceremony.toml", FIXTURE_SCRIPT),
    ] {
        std::fs::copy(room.path(from), dir.join(to)).expect("copy");
    }
}

fn options<'a>(key: &'a [u8], media: Option<&'a Path>, script: &'a Path) -> VerifyOptions<'a> {
    VerifyOptions {
        audit_key_spki_der: Some(key),
        media,
        script: Some(script),
        record: None,
    }
}

/// The machine's states, folded independently of the replay module: state k is the fold of
/// entries 0..=k.
fn fold_each(entries: &[Entry]) -> Vec<State> {
    let mut state = State::new();
    entries
        .iter()
        .map(|e| {
            state = machine::step(&state, &e.event)
                .unwrap_or_else(|r| panic!("entry {} refused: {r}", e.seq))
                .0;
            state.clone()
        })
        .collect()
}

#[test]
fn a_real_ceremony_replays_to_the_state_the_runner_ended_with() {
    let room = eventful_room("replay real");
    let out = room.run_ceremony();
    assert!(out.status.success(), "the ceremony did not close");
    let runner = printed(&String::from_utf8_lossy(&out.stdout));
    assert!(runner.closed);
    let media = room.path("out-usb");
    let log = media.join("test-ceremony.audit.jsonl");
    let key = audit_key(&room.path("provisioning/provisioning-record.json"));
    let script = room.path("ceremony.toml");
    let verdict = verify(&log, &options(&key, Some(&media), &script)).expect("the log verifies");

    let entries = read_entries(&log);
    let replay = replay::build(entries.clone(), &Trust::Verified).expect("replays");
    assert_eq!(replay.steps.len(), entries.len(), "one step per entry");
    assert!(replay.unverified.is_none());
    let last = replay.steps.last().expect("steps");

    // The replay ends where the runner ended: its head, its files, closed.
    assert_eq!(last.entry.hash, runner.head, "the runner's log head");
    assert_eq!(last.state.phase, Phase::Closed);
    let exported: BTreeSet<(String, String)> = last
        .state
        .exported
        .iter()
        .map(|f| (f.name.clone(), f.sha256.clone()))
        .collect();
    let mut written = runner.files.clone();
    let (log_name, log_hash) = written
        .iter()
        .find(|(name, _)| name.ends_with(".audit.jsonl"))
        .cloned()
        .expect("the runner wrote the log's copy");
    written.remove(&(log_name, log_hash.clone()));
    assert_eq!(exported, written, "the files the runner wrote and hashed");
    assert_eq!(
        log_hash,
        hex::encode(Sha256::digest(std::fs::read(&log).expect("log"))),
        "the replayed log is the copy the runner wrote"
    );
    // The same state as the verifier's own replay, and as an independent fold.
    assert_eq!(last.state, verdict.final_state);
    assert_eq!(Some(&last.state), fold_each(&entries).last());

    // And the state says what happened in the room.
    let manifest =
        Manifest::parse(&std::fs::read(media.join("test-ceremony.manifest.json")).expect("read"))
            .expect("manifest");
    let people: BTreeSet<String> = ["alice", "wendy", "carol", "dave"].map(String::from).into();
    assert_eq!(last.state.present, people);
    assert_eq!(last.state.signed_off_by, people);
    assert_eq!(
        last.state.byok_sha256.as_ref(),
        manifest.byok_sha256.as_ref()
    );
    assert_eq!(
        last.facts.byok_sha256.as_ref(),
        manifest.byok_sha256.as_ref()
    );
    assert_eq!(
        last.facts.wrapped_entry_hash, manifest.audit_log_head_sha256,
        "the manifest's audit head is the wrap's entry"
    );
    assert_eq!(
        last.state.kek_fingerprint.as_ref(),
        Some(&manifest.kek_fingerprint_sha256)
    );
    assert_eq!(
        last.state.key_id_hex.as_ref(),
        Some(&manifest.key_attributes.id_hex)
    );
    assert_eq!(last.state.deviations.len(), 1);
    assert_eq!(
        last.state.deviations[0].acknowledged_by.as_deref(),
        Some("wendy")
    );
    assert_eq!(
        last.state.checkpoints,
        [
            Phase::Quorum,
            Phase::KekConfirm,
            Phase::KeyGeneration,
            Phase::Wrap,
            Phase::Verification,
            Phase::Closed
        ]
    );
    // The refused share is a step of its own, by erin, with its reason.
    let refused = replay
        .steps
        .iter()
        .find(|s| s.kind() == "share_rejected")
        .expect("erin's share is in the log");
    assert_eq!(refused.actor(), "erin");
    assert!(
        refused.describe().contains("did not check in"),
        "{}",
        refused.describe()
    );
}

#[test]
fn every_step_is_the_fold_of_the_entries_before_it_and_the_keys_land_there() {
    let entries = read_entries(&fixture(FIXTURE_LOG));
    let replay = replay::build(entries.clone(), &Trust::Verified).expect("replays");
    let folds = fold_each(&entries);
    let n = entries.len();
    for (k, state) in folds.iter().enumerate() {
        let mut nav = Nav::new(n);
        nav.go_to(k).expect("in range");
        assert_eq!(nav.at(), k);
        assert_eq!(&replay.steps[nav.at()].state, state, "entry seq {k}");
        assert_eq!(replay.steps[k].entry, entries[k]);
        // One numbering with audit verify and the report: the seq logged.
        assert_eq!(replay.steps[k].entry.seq, k as u64);
    }
    // Bounds: nothing before the first or after the last; numbers outside are refused.
    let mut nav = Nav::new(n);
    nav.back();
    assert_eq!(nav.at(), 0);
    nav.last();
    nav.forward();
    assert_eq!(nav.at(), n - 1);
    for bad in [n, n + 1] {
        let err = nav.go_to(bad).expect_err("out of range");
        assert!(err.contains(&format!("from 0 to {}", n - 1)), "{err}");
        assert_eq!(nav.at(), n - 1, "a refused jump stays put");
    }

    // The same through the keys, and back then forward draws the very same screen.
    let mut player = player(replay);
    press(&mut player, &[KeyCode::Char('n'), KeyCode::Right]);
    assert_eq!(player.nav.at(), 2);
    let before = draw(&player, 80, 24);
    press(&mut player, &[KeyCode::Left, KeyCode::Char('n')]);
    assert_eq!(player.nav.at(), 2);
    assert_eq!(draw(&player, 80, 24), before);
    press(&mut player, &[KeyCode::End]);
    assert_eq!(player.nav.at(), n - 1);
    press(&mut player, &[KeyCode::Home, KeyCode::Char('p')]);
    assert_eq!(player.nav.at(), 0);
    press(&mut player, &[KeyCode::Char('g'), KeyCode::Char('1')]);
    press(&mut player, &[KeyCode::Char('6')]);
    assert!(draw(&player, 80, 24).contains(&format!("Go to entry seq (0-{}): 16_", n - 1)));
    press(&mut player, &[KeyCode::Enter]);
    assert_eq!(player.nav.at(), 16);
    assert_eq!(player.step().state, folds[16]);
    assert!(draw(&player, 80, 24).contains(&format!("entry seq 16 of 0-{}", n - 1)));
    press(
        &mut player,
        &[KeyCode::Char('g'), KeyCode::Char('9'), KeyCode::Char('9')],
    );
    press(&mut player, &[KeyCode::Enter]);
    assert_eq!(player.nav.at(), 16, "no entry 99: stays");
    assert!(draw(&player, 80, 24).contains("there is no entry seq 99"));
    press(
        &mut player,
        &[KeyCode::Char('g'), KeyCode::Char('3'), KeyCode::Esc],
    );
    assert_eq!(player.nav.at(), 16, "Esc cancels the jump");
    assert!(!player.quit);
    press(&mut player, &[KeyCode::Char('q')]);
    assert!(player.quit);
}

#[test]
fn a_tampered_log_is_refused_and_force_replays_only_up_to_the_bad_entry() {
    let dir = tempfile::Builder::new()
        .prefix("audit-replay-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temp dir");
    let text = std::fs::read_to_string(fixture(FIXTURE_LOG)).expect("fixture");
    // Line 16 (seq 15): carol's confirmation of the KEK, its time moved by a millisecond.
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert!(lines[15].contains("\"custodian\":\"carol\",\"event\":\"kek_confirmed\""));
    let at = lines[15].find("\"utc\":\"").expect("utc") + "\"utc\":\"".len();
    let millis = at + "2026-11-29T16:32:31.59".len();
    let digit = lines[15].as_bytes()[millis];
    let moved = if digit == b'9' {
        '0'
    } else {
        char::from(digit + 1)
    };
    lines[15].replace_range(millis..=millis, &moved.to_string());
    let tampered = dir.path().join("tampered.audit.jsonl");
    std::fs::write(&tampered, lines.join("\n") + "\n").expect("write");

    // The binary refuses before it touches the terminal, naming the entry.
    let out = Command::new(env!("CARGO_BIN_EXE_byok-ceremony"))
        .args(["audit", "replay"])
        .arg(&tampered)
        .arg("--record")
        .arg(fixture(FIXTURE_RECORD))
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("entry seq 15 (line 16)"), "{stderr}");
    assert!(stderr.contains("was not replayed"), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");

    // --force: replayed up to the entry verify names, and no further, marked.
    let key = audit_key(&fixture(FIXTURE_RECORD));
    let script = fixture(FIXTURE_SCRIPT);
    let err = verify(&tampered, &options(&key, None, &script)).expect_err("tampered");
    let AuditError::Entry { line, .. } = err else {
        panic!("verify names an entry: {err}");
    };
    let trust = Trust::Forced {
        problem: err.to_string(),
        line: Some(line),
    };
    let forced = replay::build(read_entries(&tampered), &trust).expect("forced replay");
    assert_eq!(forced.steps.len(), 16);
    let unverified = forced.unverified.clone().expect("marked");
    assert_eq!(unverified.named, Some(15));
    assert!(unverified.problem.contains("entry seq 15 (line 16)"));
    let mut player = player(forced);
    press(&mut player, &[KeyCode::End]);
    let screen = draw(&player, 120, 40);
    assert!(
        screen.contains("NOT VERIFIED: audit verify names THIS entry"),
        "{screen}"
    );

    // An entry the machine refuses ends a forced replay before it; a verified replay of it
    // is an error. (Attendance never closed: a share cannot be presented.)
    let mut entries = read_entries(&fixture(FIXTURE_LOG));
    assert_eq!(entries[8].event.kind(), "attendance_closed");
    entries.remove(8);
    let forced = replay::build(
        entries.clone(),
        &Trust::Forced {
            problem: "entry seq 9 (line 9): ...".into(),
            line: None,
        },
    )
    .expect("forced replay");
    assert_eq!(forced.steps.len(), 8);
    let stopped = forced.unverified.and_then(|u| u.stopped).expect("stopped");
    assert!(stopped.contains("before line 9"), "{stopped}");
    let refused = replay::build(entries, &Trust::Verified).expect_err("refused");
    assert!(refused.to_string().contains("line 9"), "{refused}");
}

fn player(replay: Replay) -> Player {
    let script = replay::script_from_log(&replay).expect("a ceremony log");
    Player::new(replay, Arc::new(script), FIXTURE_LOG.into())
}

fn press(player: &mut Player, keys: &[KeyCode]) {
    for k in keys {
        player.on_key(KeyEvent::new(*k, KeyModifiers::NONE));
    }
}

fn render(player: &Player, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    terminal.draw(|f| player.draw(f)).expect("draw");
    terminal
}

fn draw(player: &Player, w: u16, h: u16) -> String {
    render(player, w, h).backend().to_string()
}

/// The replay screens of the fixture log, at the steps an auditor looks at.
#[test]
fn replay_screens_at_80x24_and_120x40() {
    let replay =
        replay::build(read_entries(&fixture(FIXTURE_LOG)), &Trust::Verified).expect("replays");
    let kind_at = |i: usize| replay.steps[i].kind();
    // (name, event number, what the step is, extra keys)
    let cases: [(&str, usize, &str, &[KeyCode]); 10] = [
        ("01_opened", 1, "ceremony_opened", &[]),
        ("02_preflight", 2, "preflight_completed", &[]),
        ("03_attendance", 5, "checked_in", &[]),
        ("04_share_refused", 10, "share_rejected", &[]),
        ("05_kek_confirm", 16, "kek_confirmed", &[]),
        ("06_approve_generate", 19, "wrap_tested", &[]),
        ("07_sign_off", 29, "signed_off", &[]),
        ("08_closed", 32, "checkpoint", &[]),
        ("09_help", 16, "kek_confirmed", &[KeyCode::Char('?')]),
        ("10_list", 16, "kek_confirmed", &[KeyCode::Char('l')]),
    ];
    for (name, number, kind, keys) in cases {
        assert_eq!(kind_at(number - 1), kind, "{name}");
        let mut player = player(replay.clone());
        player.nav.go_to(number - 1).expect("in range");
        press(&mut player, keys);
        for (w, h) in [(80u16, 24u16), (120, 40)] {
            let terminal = render(&player, w, h);
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), terminal.backend());
        }
    }
}

/// Every file in `dir` with its bytes.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| {
            let e = e.expect("entry");
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn the_binary_replays_in_a_terminal_steps_and_jumps_and_writes_nothing() {
    let dir = tempfile::Builder::new()
        .prefix("audit-replay-tmux-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temp dir");
    for name in [FIXTURE_LOG, FIXTURE_RECORD, FIXTURE_SCRIPT] {
        std::fs::copy(fixture(name), dir.path().join(name)).expect("copy");
    }
    let before = contents(dir.path());
    let ui = Tmux::start(
        "replay",
        dir.path(),
        80,
        24,
        &format!(
            "'{}' audit replay {FIXTURE_LOG} --record {FIXTURE_RECORD} --script {FIXTURE_SCRIPT}",
            env!("CARGO_BIN_EXE_byok-ceremony")
        ),
    );
    ui.wait_for_all(&[
        "REPLAY (read-only)  entry seq 0 of 0-31",
        "ceremony_opened by tool",
    ]);
    ui.keys(&["n"]);
    ui.wait_for_all(&["entry seq 1 of 0-31", "[ OK ] provisioning record"]);
    ui.keys(&["Right", "Right", "Right"]);
    ui.wait_for_all(&[
        "entry seq 4 of 0-31",
        "checked_in by carol (custodian)",
        "> [x] carol",
    ]);
    ui.keys(&["Left"]);
    ui.wait_for_all(&["entry seq 3 of 0-31", "checked_in by wendy (witness)"]);
    ui.keys(&["End"]);
    ui.wait_for_all(&["entry seq 31 of 0-31", "The ceremony is closed."]);
    ui.keys(&["g", "1", "8"]);
    ui.wait_for_all(&["Go to entry seq (0-31): 18_"]);
    ui.keys(&["Enter"]);
    // The script given is the real one: the approval shows its target.
    ui.wait_for_all(&[
        "entry seq 18 of 0-31",
        "Type GENERATE and press Enter",
        "RSA-HSM 2048 bits",
    ]);
    ui.keys(&["p"]);
    ui.wait_for_all(&["entry seq 17 of 0-31", "checkpoint by tool"]);
    ui.keys(&["Home"]);
    ui.wait_for_all(&["entry seq 0 of 0-31"]);
    ui.keys(&["?"]);
    ui.wait_for_all(&["Replay help", "Esc or ?: close help"]);
    ui.keys(&["Escape", "q"]);
    ui.wait_for_all(&["EXIT=0"]);
    assert_eq!(contents(dir.path()), before, "the replay wrote nothing");
}
