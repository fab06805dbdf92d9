//! One snapshot per screen of the guided re-split, at 80x24 and 120x40 (ratatui TestBackend +
//! insta; snapshots in tests/snapshots). Also what the keys do: attendance needs every new
//! custodian and enough holders of an old share, an old share is typed masked and moves whole
//! to the worker, a refusal is shown, and the token changes only after RESPLIT is typed.
use std::path::PathBuf;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use zeroize::Zeroizing;

use byok_ceremony::quorum::ProvisioningRecord;
use byok_ceremony::quorum::provision::{ProvisionStep, TokenToChange};
use byok_ceremony::quorum::resplit::{Presented, QuorumSoFar};
use byok_ceremony::quorum::script::ProvisioningScript;
use byok_ceremony::quorum::share::{PinGroup, Share, SplitId};
use byok_ceremony::tui::provision::app::{ProvisionApp, Screen};
use byok_ceremony::tui::provision::old_quorum::OldQuorum;
use byok_ceremony::tui::provision::people::{FromWorker, Reply, ShareCheck, Summary, Turn};
use byok_ceremony::tui::provision::screens;

/// The new quorum: erin leaves, frank joins.
const SCRIPT: &str = r#"format = "byok-ceremony provisioning script"
version = 1
rehearsal = true

[token]
module = "/usr/lib/softhsm/libsofthsm2.so"
mode = "adopt"
label = "replay fixture"

[user_pin]
threshold = 2
custodians = ["carol", "dave", "frank"]
"#;

const SCRIPT_SHA: &str = "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b";
const AUDIT_SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
/// The old record: carol, dave and erin hold split 30cc10283d2e, any 2 of 3.
const RECORD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/replay/provisioning-record.json"
);

fn old_quorum(files: Vec<PathBuf>) -> OldQuorum {
    let record =
        ProvisioningRecord::parse(&std::fs::read(RECORD).expect("fixture")).expect("record");
    OldQuorum::of(
        &record,
        PathBuf::from("/media/prov-usb/old/provisioning-record.json"),
        files,
    )
}

fn app_with(files: Vec<PathBuf>) -> ProvisionApp {
    let script = ProvisioningScript::parse(SCRIPT).expect("script");
    let mut app = ProvisionApp::for_resplit(
        Arc::new(script),
        "ceremony-scripts/resplit-replay.toml".into(),
        SCRIPT_SHA.into(),
        PathBuf::from("/media/prov-usb/new"),
        old_quorum(files),
    );
    app.clock = "12:34:56".into();
    app
}

fn app() -> ProvisionApp {
    app_with(Vec::new())
}

fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

fn press(app: &mut ProvisionApp, codes: &[KeyCode]) -> Option<Reply> {
    let mut last = None;
    for c in codes {
        last = app.on_key(key(*c));
    }
    last
}

fn type_text(app: &mut ProvisionApp, text: &str) -> Option<Reply> {
    let mut last = None;
    for c in text.chars() {
        last = app.on_key(key(KeyCode::Char(c)));
    }
    last
}

/// A fixed share (deterministic text): number `index` of split `id`, 2 of 3.
fn share(id: [u8; 6], index: u8) -> Share {
    Share::from_parts(
        PinGroup::UserPin,
        SplitId(id),
        2,
        3,
        index,
        Zeroizing::new((0u8..24).map(|b| b.wrapping_mul(37) ^ index).collect()),
    )
    .expect("share")
}

fn grouped(share: &Share) -> String {
    share.to_text().expect("text").grouped().to_string()
}

/// carol, dave and frank check in (erin, who leaves, does not come).
fn started() -> ProvisionApp {
    let mut app = app();
    press(&mut app, &[KeyCode::Enter]);
    press(&mut app, &[KeyCode::Enter, KeyCode::Enter, KeyCode::Enter]);
    press(&mut app, &[KeyCode::Char('c')]);
    assert!(app.started, "{:?}", app.hint);
    app
}

fn wanting(present: usize) -> ProvisionApp {
    let mut app = started();
    app.on_worker(FromWorker::ShareWanted(QuorumSoFar { present, needed: 2 }));
    app
}

fn refused() -> ProvisionApp {
    let mut app = wanting(0);
    press(&mut app, &[KeyCode::Enter]);
    type_text(&mut app, "byok1 qqqqq");
    press(&mut app, &[KeyCode::Enter]);
    app.clear_requested = false;
    app.on_worker(FromWorker::ShareChecked(ShareCheck::Refused {
        by: "carol".into(),
        reason:
            "carol's share: share not accepted: the share is mistyped: the checksum does not match"
                .into(),
    }));
    app.on_worker(FromWorker::ShareWanted(QuorumSoFar {
        present: 0,
        needed: 2,
    }));
    app
}

fn one_accepted() -> ProvisionApp {
    let mut app = refused();
    app.on_worker(FromWorker::ShareChecked(ShareCheck::Accepted {
        by: "carol".into(),
        custodian: "carol".into(),
        index: 1,
        present: 1,
        needed: 2,
    }));
    app.on_worker(FromWorker::ShareWanted(QuorumSoFar {
        present: 1,
        needed: 2,
    }));
    app
}

fn approving() -> ProvisionApp {
    let mut app = one_accepted();
    app.on_worker(FromWorker::ShareChecked(ShareCheck::Accepted {
        by: "dave".into(),
        custodian: "dave".into(),
        index: 2,
        present: 2,
        needed: 2,
    }));
    app.on_worker(FromWorker::Approve(TokenToChange::Adopt {
        label: "replay fixture".into(),
        serial: "9e9af24dc8570f31".into(),
        manufacturer: "SoftHSM project".into(),
        model: "SoftHSM v2".into(),
    }));
    app
}

fn confirmed() -> ProvisionApp {
    let mut app = approving();
    type_text(&mut app, "RESPLIT");
    assert_eq!(press(&mut app, &[KeyCode::Enter]), Some(Reply::Approved));
    app
}

const NEW_SPLIT: [u8; 6] = [0x5e, 0x11, 0x7a, 0x02, 0x9c, 0x44];

fn handing_out() -> ProvisionApp {
    let mut app = confirmed();
    app.on_worker(FromWorker::Progress(ProvisionStep::Verify));
    app.on_worker(FromWorker::HandOut(Turn {
        custodian: "frank".into(),
        file: PathBuf::from("/media/prov-usb/new/frank.share.txt"),
        number: 3,
        of: 3,
        shares: vec![share(NEW_SPLIT, 3)],
    }));
    app
}

fn summary() -> Summary {
    let out = PathBuf::from("/media/prov-usb/new");
    Summary {
        label: "replay fixture".into(),
        serial: "9e9af24dc8570f31".into(),
        rehearsal: true,
        splits: vec![(PinGroup::UserPin, "5e117a029c44".into(), 2, 3)],
        audit_key_sha256: AUDIT_SHA.into(),
        record: out.join("provisioning-record.json"),
        audit_log: out.join("provisioning-audit.jsonl"),
        share_files: ["carol", "dave", "frank"]
            .iter()
            .map(|c| (c.to_string(), out.join(format!("{c}.share.txt"))))
            .collect(),
        events: 14,
    }
}

fn render(app: &ProvisionApp, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    terminal.draw(|f| screens::draw(f, app)).expect("draw");
    terminal
}

fn drawn(app: &ProvisionApp, w: u16, h: u16) -> String {
    render(app, w, h).backend().to_string()
}

/// Every screen of the guided re-split, in order.
fn screens() -> Vec<(&'static str, ProvisionApp, Screen)> {
    let mut out = Vec::new();
    out.push(("01_script", app(), Screen::Script));
    let mut attendance = app();
    press(
        &mut attendance,
        &[KeyCode::Enter, KeyCode::Enter, KeyCode::Enter],
    );
    press(&mut attendance, &[KeyCode::Char('c')]);
    out.push(("02_attendance", attendance, Screen::Attendance));
    out.push(("03_finding_the_token", started(), Screen::Working));
    out.push(("04_shares_wanted", wanting(0), Screen::Shares));
    let mut typing = wanting(0);
    press(&mut typing, &[KeyCode::Enter]);
    type_text(
        &mut typing,
        &grouped(&share([0x30, 0xcc, 0x10, 0x28, 0x3d, 0x2e], 1)),
    );
    out.push(("05_shares_typing", typing, Screen::Shares));
    out.push(("06_shares_refused", refused(), Screen::Shares));
    out.push(("07_shares_one_accepted", one_accepted(), Screen::Shares));
    let mut from_file = app_with(vec![PathBuf::from("/media/dave-usb/dave.share.txt")]);
    // carol, dave and frank are here; dave's old share comes from his file.
    press(
        &mut from_file,
        &[KeyCode::Enter, KeyCode::Enter, KeyCode::Enter],
    );
    press(&mut from_file, &[KeyCode::Enter, KeyCode::Char('c')]);
    from_file.on_worker(FromWorker::ShareChecked(ShareCheck::Accepted {
        by: "/media/dave-usb/dave.share.txt".into(),
        custodian: "dave".into(),
        index: 2,
        present: 1,
        needed: 2,
    }));
    from_file.on_worker(FromWorker::ShareWanted(QuorumSoFar {
        present: 1,
        needed: 2,
    }));
    out.push(("08_shares_from_a_file", from_file, Screen::Shares));
    let mut confirm = approving();
    type_text(&mut confirm, "RESP");
    out.push(("09_confirm", confirm, Screen::Confirm));
    let mut working = confirmed();
    working.on_worker(FromWorker::Progress(ProvisionStep::SetPins));
    out.push(("10_working", working, Screen::Working));
    out.push(("11_handout_called", handing_out(), Screen::HandOut));
    let mut done = confirmed();
    done.on_worker(FromWorker::Finished(Ok(summary())));
    out.push(("12_summary", done, Screen::Summary));
    let mut stopped = approving();
    press(&mut stopped, &[KeyCode::Esc]);
    stopped.on_worker(FromWorker::Finished(Err(
        "the re-split was not confirmed, so it stopped before the token was used; the token still has its old PIN and the old shares still work. The shares presented are in the audit log in the output directory: run again (with a new output directory) when everyone is ready".into(),
    )));
    out.push(("13_stopped_before_confirm", stopped, Screen::Stopped));
    let mut help = wanting(0);
    press(&mut help, &[KeyCode::Char('?')]);
    out.push(("14_help_shares", help, Screen::Shares));
    out
}

#[test]
fn every_screen_at_80x24_and_120x40() {
    for (name, app, screen) in screens() {
        assert_eq!(app.screen(), screen, "{name}");
        for (w, h) in [(80u16, 24u16), (120, 40)] {
            let terminal = render(&app, w, h);
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), terminal.backend());
        }
    }
}

#[test]
fn attendance_needs_every_new_custodian_and_an_old_quorum() {
    // The list: the new custodians, then erin, who holds an old share only.
    let app = app();
    assert_eq!(app.custodians, ["carol", "dave", "frank", "erin"]);
    assert_eq!(app.guards("erin"), "holds an old share");
    assert_eq!(app.guards("frank"), "receives a new share");
    // carol and dave: frank, who receives a share, is missing.
    let mut app = self::app();
    press(&mut app, &[KeyCode::Enter, KeyCode::Enter, KeyCode::Enter]);
    press(&mut app, &[KeyCode::Char('c')]);
    assert!(!app.started);
    assert!(app.hint.as_deref().is_some_and(|h| h.contains("frank")));
    // frank and erin: every new custodian? No, and one old holder is not a quorum either.
    let mut app = self::app();
    press(&mut app, &[KeyCode::Enter, KeyCode::Down, KeyCode::Down]);
    press(&mut app, &[KeyCode::Enter, KeyCode::Enter]);
    press(&mut app, &[KeyCode::Char('c')]);
    assert!(!app.started, "carol and dave are missing");
    // With two share files given, the new custodians alone may go on: frank holds no old
    // share, so only the files make the old quorum.
    let mut app = app_with(vec![PathBuf::from("a"), PathBuf::from("b")]);
    press(&mut app, &[KeyCode::Enter, KeyCode::Enter, KeyCode::Enter]);
    press(&mut app, &[KeyCode::Enter, KeyCode::Char('c')]);
    assert!(app.started, "{:?}", app.hint);
}

#[test]
fn an_old_share_is_typed_masked_and_moves_whole_to_the_worker() {
    let mut app = wanting(0);
    let old = share([0x30, 0xcc, 0x10, 0x28, 0x3d, 0x2e], 1);
    let text = grouped(&old);
    let first_row: String = text.split(' ').take(3).collect::<Vec<_>>().join(" ");
    assert_eq!(press(&mut app, &[KeyCode::Enter]), None);
    assert_eq!(type_text(&mut app, &text), None);
    for (w, h) in [(80, 24), (120, 40)] {
        let screen = drawn(&app, w, h);
        assert!(!screen.contains(&first_row), "{screen}");
        let letters = text.chars().filter(char::is_ascii_alphanumeric).count();
        assert!(screen.contains(&format!("({letters} typed)")));
        assert!(screen.contains("complete, checksum valid"), "{screen}");
    }
    let debug = format!("{app:?}");
    assert!(!debug.contains(&first_row) && !debug.contains(&text.replace(' ', "")));
    // Enter: the share goes to the worker as typed, the screen waits for its check, and the
    // terminal is wiped.
    let reply = press(&mut app, &[KeyCode::Enter]);
    assert_eq!(
        reply,
        Some(Reply::Share(Presented::Typed {
            custodian: "carol".into(),
            text: Zeroizing::new(text.clone()),
        }))
    );
    assert!(!format!("{reply:?}").contains(&first_row));
    assert!(app.clear_requested);
    assert_eq!(app.screen(), Screen::Shares);
    // Keys while it is checked do nothing; quitting now would leave a worker mid-check.
    assert_eq!(press(&mut app, &[KeyCode::Enter]), None);
    assert!(drawn(&app, 80, 24).contains("checking the share, wait"));
    // Esc while typing drops the text and wipes the terminal.
    let mut app = wanting(0);
    press(&mut app, &[KeyCode::Enter]);
    type_text(&mut app, "byok1");
    press(&mut app, &[KeyCode::Esc]);
    assert!(app.resplit.as_ref().is_some_and(|r| r.entry.is_none()));
    assert!(app.clear_requested);
}

#[test]
fn a_refusal_is_shown_and_the_custodian_may_type_again() {
    let app = refused();
    let screen = drawn(&app, 80, 24);
    assert!(screen.contains("REFUSED"), "{screen}");
    assert!(screen.contains("in the audit log"), "{screen}");
    assert!(
        screen.contains("> carol"),
        "carol is offered again: {screen}"
    );
    // Accepted shares leave the list.
    let app = one_accepted();
    let old = app.resplit.as_ref().expect("re-split");
    assert_eq!(old.choices(&app.present), ["dave"]);
}

#[test]
fn the_token_changes_only_after_resplit_is_typed() {
    let mut app = approving();
    assert_eq!(app.screen(), Screen::Confirm);
    type_text(&mut app, "PROVISION");
    assert_eq!(press(&mut app, &[KeyCode::Enter]), None);
    assert!(app.hint.as_deref().is_some_and(|h| h.contains("RESPLIT")));
    type_text(&mut app, "RESPLIT");
    assert_eq!(press(&mut app, &[KeyCode::Enter]), Some(Reply::Approved));
    assert_eq!(app.screen(), Screen::Working);
    let mut app = approving();
    assert_eq!(press(&mut app, &[KeyCode::Esc]), Some(Reply::Declined));
}

#[test]
fn leaving_while_old_shares_are_taken_is_allowed_but_not_mid_check() {
    let mut app = wanting(0);
    press(&mut app, &[KeyCode::Char('q')]);
    assert!(app.quit, "the token was not touched yet");
    let mut app = wanting(0);
    press(&mut app, &[KeyCode::Enter]);
    type_text(&mut app, "byok1qqq");
    press(&mut app, &[KeyCode::Enter]);
    app.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(!app.quit, "the worker is checking the share");
}
