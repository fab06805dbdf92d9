//! One snapshot per screen of the guided provisioning, at 80x24 and 120x40 (ratatui
//! TestBackend + insta; snapshots in tests/snapshots). Also what the keys do: the typed
//! confirmation, attendance of every custodian, and that a share is drawn only while its
//! custodian shows it, what they type back never, and the terminal is cleared after it.
use std::path::PathBuf;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use zeroize::Zeroizing;

use byok_ceremony::quorum::provision::{ProvisionStep, TokenToChange};
use byok_ceremony::quorum::script::ProvisioningScript;
use byok_ceremony::quorum::share::{PinGroup, Share, SplitId};
use byok_ceremony::tui::provision::app::{ProvisionApp, Screen};
use byok_ceremony::tui::provision::handout::Stage;
use byok_ceremony::tui::provision::people::{FromWorker, Reply, Summary, Turn};
use byok_ceremony::tui::provision::screens;

const SCRIPT: &str = r#"format = "byok-ceremony provisioning script"
version = 1
rehearsal = true

[token]
module = "/usr/lib/softhsm/libsofthsm2.so"
mode = "initialise"
label = "byok-2026"

[user_pin]
threshold = 2
custodians = ["carol", "dave", "erin"]

[so_pin]
threshold = 2
custodians = ["carol", "dave", "frank"]
"#;

const SCRIPT_SHA: &str = "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b";
const AUDIT_SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn app() -> ProvisionApp {
    let script = ProvisioningScript::parse(SCRIPT).expect("script");
    let mut app = ProvisionApp::new(
        Arc::new(script),
        "ceremony-scripts/provisioning-byok-2026.toml".into(),
        SCRIPT_SHA.into(),
        PathBuf::from("/media/prov-usb"),
    );
    app.clock = "12:34:56".into();
    app
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

/// A fixed share (deterministic snapshots): carol's user PIN share 1 of 3.
fn share(group: PinGroup, index: u8) -> Share {
    Share::from_parts(
        group,
        SplitId([0x5e, 0x11, 0x7a, 0x02, 0x9c, 0x44]),
        2,
        3,
        index,
        Zeroizing::new((0u8..24).map(|b| b.wrapping_mul(37) ^ index).collect()),
    )
    .expect("share")
}

fn turn() -> Turn {
    Turn {
        custodian: "carol".into(),
        file: PathBuf::from("/media/prov-usb/carol.share.txt"),
        number: 1,
        of: 4,
        shares: vec![share(PinGroup::UserPin, 1), share(PinGroup::SoPin, 1)],
    }
}

fn started() -> ProvisionApp {
    let mut app = app();
    press(&mut app, &[KeyCode::Enter]);
    for _ in 0..4 {
        press(&mut app, &[KeyCode::Enter]);
    }
    press(&mut app, &[KeyCode::Char('c')]);
    assert!(app.started);
    app
}

fn approving() -> ProvisionApp {
    let mut app = started();
    app.on_worker(FromWorker::Approve(TokenToChange::Initialise {
        slot: 1,
        label: "byok-2026".into(),
        manufacturer: "SoftHSM project".into(),
        model: "SoftHSM v2".into(),
    }));
    app
}

fn handing_out() -> ProvisionApp {
    let mut app = started();
    app.on_worker(FromWorker::Progress(ProvisionStep::Verify));
    app.on_worker(FromWorker::HandOut(turn()));
    app
}

fn summary() -> Summary {
    let out = PathBuf::from("/media/prov-usb");
    Summary {
        label: "byok-2026".into(),
        serial: "724481e22199c912".into(),
        rehearsal: true,
        splits: vec![
            (PinGroup::UserPin, "5e117a029c44".into(), 2, 3),
            (PinGroup::SoPin, "36c158be42ac".into(), 2, 3),
        ],
        audit_key_sha256: AUDIT_SHA.into(),
        record: out.join("provisioning-record.json"),
        audit_log: out.join("provisioning-audit.jsonl"),
        share_files: ["carol", "dave", "erin", "frank"]
            .iter()
            .map(|c| (c.to_string(), out.join(format!("{c}.share.txt"))))
            .collect(),
        events: 16,
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

/// Every screen of the guided provisioning, in order.
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
    let mut finding = started();
    finding.step = None;
    out.push(("03_finding_the_token", finding, Screen::Working));
    let mut confirm = approving();
    type_text(&mut confirm, "PROVI");
    out.push(("04_confirm_initialise", confirm, Screen::Confirm));
    let mut adopt = started();
    adopt.on_worker(FromWorker::Approve(TokenToChange::Adopt {
        label: "byok-2026".into(),
        serial: "724481e22199c912".into(),
        manufacturer: "SoftHSM project".into(),
        model: "SoftHSM v2".into(),
    }));
    out.push(("05_confirm_adopt", adopt, Screen::Confirm));
    let mut working = started();
    working.on_worker(FromWorker::Progress(ProvisionStep::InitialiseToken));
    out.push(("06_working", working, Screen::Working));
    out.push(("07_handout_called", handing_out(), Screen::HandOut));
    let mut shown = handing_out();
    press(&mut shown, &[KeyCode::Enter]);
    out.push(("08_handout_shown", shown, Screen::HandOut));
    let mut check = handing_out();
    press(&mut check, &[KeyCode::Enter, KeyCode::Enter]);
    type_text(&mut check, "wrong");
    press(&mut check, &[KeyCode::Enter]);
    type_text(&mut check, "abc");
    out.push(("09_handout_check_missed", check, Screen::HandOut));
    let mut second = handing_out();
    press(&mut second, &[KeyCode::Enter, KeyCode::Enter]);
    type_text(&mut second, &tail(&share(PinGroup::UserPin, 1)));
    press(&mut second, &[KeyCode::Enter]);
    second.clear_requested = false;
    out.push(("10_handout_called_so_share", second, Screen::HandOut));
    let mut done = started();
    done.on_worker(FromWorker::Finished(Ok(summary())));
    out.push(("11_summary", done, Screen::Summary));
    let mut stopped = approving();
    press(&mut stopped, &[KeyCode::Esc]);
    stopped.on_worker(FromWorker::Finished(Err(
        "provisioning was not confirmed, so it stopped before the token was changed; nothing was written. Run it again when everyone is ready".into(),
    )));
    out.push(("12_stopped", stopped, Screen::Stopped));
    let mut help = handing_out();
    press(&mut help, &[KeyCode::Char('?')]);
    out.push(("13_help_handout", help, Screen::HandOut));
    out
}

/// The share's last two groups, as the custodian reads them off their copy.
fn tail(share: &Share) -> String {
    let text = share.to_text().expect("text");
    let grouped = text.grouped();
    let groups: Vec<&str> = grouped.split(' ').collect();
    groups[groups.len() - 2..].join(" ")
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
fn the_token_is_changed_only_after_everyone_checked_in_and_provision_was_typed() {
    let mut app = app();
    press(&mut app, &[KeyCode::Enter, KeyCode::Enter]);
    press(&mut app, &[KeyCode::Char('c')]);
    assert!(!app.started, "one custodian is not enough");
    assert!(app.hint.as_deref().is_some_and(|h| h.contains("dave")));
    let mut app = approving();
    assert_eq!(app.screen(), Screen::Confirm);
    // A stray Enter and a wrong word do nothing.
    assert_eq!(press(&mut app, &[KeyCode::Enter]), None);
    type_text(&mut app, "provision");
    assert_eq!(press(&mut app, &[KeyCode::Enter]), None);
    assert_eq!(app.screen(), Screen::Confirm);
    type_text(&mut app, "PROVISION");
    assert_eq!(press(&mut app, &[KeyCode::Enter]), Some(Reply::Approved));
    assert_eq!(app.screen(), Screen::Working);
    // Esc at the confirmation stops with nothing changed.
    let mut app = approving();
    assert_eq!(press(&mut app, &[KeyCode::Esc]), Some(Reply::Declined));
}

#[test]
fn keys_do_nothing_while_the_hsm_works_and_ctrl_c_waits_for_the_step() {
    let mut app = started();
    app.on_worker(FromWorker::Progress(ProvisionStep::InitialiseToken));
    assert_eq!(press(&mut app, &[KeyCode::Enter, KeyCode::Char('q')]), None);
    app.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(
        !app.quit,
        "quitting mid-C_SetPIN could leave the token half-changed"
    );
    assert!(drawn(&app, 80, 24).contains("working: the HSM is busy, wait"));
}

#[test]
fn a_share_is_drawn_only_while_shown_and_the_type_back_never() {
    let mut app = handing_out();
    let share = share(PinGroup::UserPin, 1);
    let text = share.to_text().expect("text");
    let grouped = text.grouped();
    let first_row: String = grouped.split(' ').take(5).collect::<Vec<_>>().join(" ");
    let last_groups = tail(&share);
    let visible = |app: &ProvisionApp| {
        [(80, 24), (120, 40)]
            .iter()
            .any(|(w, h)| drawn(app, *w, *h).contains(&first_row))
    };
    assert!(!visible(&app), "called, not shown yet");
    press(&mut app, &[KeyCode::Enter]);
    assert!(visible(&app), "shown: the share's first row is on screen");
    assert!(!app.clear_requested);
    // Copied: hidden, and the terminal is cleared before the next frame.
    press(&mut app, &[KeyCode::Enter]);
    assert!(app.clear_requested);
    assert!(!visible(&app));
    type_text(&mut app, &last_groups);
    for (w, h) in [(80, 24), (120, 40)] {
        let screen = drawn(&app, w, h);
        assert!(!screen.contains(&last_groups), "{screen}");
        let n = last_groups.replace(' ', "").len();
        assert!(screen.contains(&format!("({n} typed)")), "{screen}");
    }
    // The Debug of the whole state names no share.
    let debug = format!("{app:?}");
    assert!(!debug.contains(text.canonical()) && !debug.contains(&first_row));
    app.clear_requested = false;
    // Right: on to carol's SO PIN share; the user PIN share is gone.
    assert_eq!(press(&mut app, &[KeyCode::Enter]), None);
    let turn = app.turn.as_ref().expect("still carol's turn");
    assert_eq!((turn.part, turn.stage), (1, Stage::Called));
    press(&mut app, &[KeyCode::Enter, KeyCode::Enter]);
    type_text(&mut app, &tail(&share_so()));
    // The last share checked: the turn ends, the worker hears it, the terminal is cleared.
    assert_eq!(press(&mut app, &[KeyCode::Enter]), Some(Reply::HandedOut));
    assert!(app.turn.is_none() && app.clear_requested);
    assert_eq!(app.handed_out, vec!["carol".to_owned()]);
}

fn share_so() -> Share {
    share(PinGroup::SoPin, 1)
}

#[test]
fn esc_hides_the_share_and_clears_the_terminal() {
    let mut app = handing_out();
    press(&mut app, &[KeyCode::Enter]);
    assert!(app.turn.as_ref().is_some_and(|t| t.shown().is_some()));
    press(&mut app, &[KeyCode::Esc]);
    let turn = app.turn.as_ref().expect("turn");
    assert!(turn.shown().is_none() && turn.stage == Stage::Called);
    assert!(app.clear_requested);
    // Ctrl-C during a hand-out hides the share too, and quits.
    let mut app = handing_out();
    press(&mut app, &[KeyCode::Enter]);
    app.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(app.quit && app.turn.is_none() && app.clear_requested);
}
