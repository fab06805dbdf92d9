//! What the room confirms is what it sees: every decisive key of the guided ceremony is taken
//! only on a frame that showed all the step is about, and every QR code drawn encodes the very
//! value printed beside it.
//!
//! - Below 80x24 every screen says only how much to enlarge the terminal, and takes no key.
//! - From 80x24 up to 200x60 each decision (attendance, KEK, generate, export, sign-off, close,
//!   abort) is accepted, and the whole of its content is on the screen.
//! - At or above the minimum, a screen whose content does not fit (many custodians at 80x24)
//!   refuses the decision and says why.
mod qr;
mod tui_fixtures;

use crossterm::event::KeyCode;

use byok_ceremony::ceremony::machine::{Effect, Phase};
use byok_ceremony::ceremony::runner::Action;
use byok_ceremony::tui::app::{App, Screen};
use byok_ceremony::tui::people::{FromRunner, Reply};
use byok_ceremony::tui::widgets::{hex_groups, words};
use tui_fixtures::{BYOK_SHA, HEAD, KEK_FP, app_at, draw_at, view};

const SIZES_OK: [(u16, u16); 6] = [
    (80, 24),
    (81, 25),
    (100, 30),
    (120, 40),
    (160, 50),
    (200, 60),
];
const SIZES_SMALL: [(u16, u16); 4] = [(79, 24), (80, 23), (40, 12), (79, 60)];

/// One decision: how to reach it, what the screen must show, the keys, what it sends.
struct Decision {
    name: &'static str,
    make: fn() -> App,
    /// Text that must all be on the screen when the decision is taken.
    shows: Vec<String>,
    /// Keys before the decisive one (prompts, typed words).
    before: Vec<KeyCode>,
    decisive: KeyCode,
    expect: fn(&Reply) -> bool,
}

fn lines(screen: &str) -> Vec<String> {
    screen
        .lines()
        .map(|l| l.trim_matches('"').to_owned())
        .collect()
}

fn hash_shown(hex: &str) -> Vec<String> {
    let mut out: Vec<String> = hex_groups(hex).split(' ').map(str::to_owned).collect();
    out.extend(words(hex).iter().map(|w| (*w).to_owned()));
    out
}

fn approve_app(phase: Phase, effect: Effect) -> App {
    let mut app = app_at(phase);
    app.on_runner(FromRunner::Approve {
        view: Box::new(view(phase)),
        effect,
    });
    app
}

fn decisions() -> Vec<Decision> {
    let typed = |word: &str| word.chars().map(KeyCode::Char).collect::<Vec<_>>();
    let mut kek = vec![
        "https://payments.vault.azure.net/keys/kek-3072/".to_owned(),
        "carol".into(),
        "dave".into(),
    ];
    kek.extend(hash_shown(KEK_FP));
    let mut export = vec!["/media/out-usb".to_owned(), "payments-key.byok".into()];
    export.extend(hex_groups(BYOK_SHA).split(' ').map(str::to_owned));
    let mut sign_off = vec![
        "alice".to_owned(),
        "wendy".into(),
        "carol".into(),
        "dave".into(),
    ];
    sign_off.extend(hash_shown(BYOK_SHA));
    let mut close = sign_off.clone();
    close.push("Type the ceremony id (kv-prod-2026-01) to close".into());
    vec![
        Decision {
            name: "attendance",
            make: || app_at(Phase::Attendance),
            shows: [
                "alice",
                "wendy",
                "carol",
                "dave",
                "erin",
                "administrator",
                "witness",
            ]
            .map(String::from)
            .to_vec(),
            before: vec![],
            decisive: KeyCode::Char('c'),
            expect: |r| matches!(r, Reply::Act(Action::CloseAttendance)),
        },
        Decision {
            name: "kek",
            make: || app_at(Phase::KekConfirm),
            shows: kek,
            before: vec![],
            decisive: KeyCode::Char('y'),
            expect: |r| matches!(r, Reply::Act(Action::ConfirmKek(c)) if c == "carol"),
        },
        Decision {
            name: "generate",
            make: || approve_app(Phase::KeyGeneration, Effect::GenerateKey),
            shows: ["RSA-HSM 3072 bits", "payments-key", "Type GENERATE"]
                .map(String::from)
                .to_vec(),
            before: typed("GENERATE"),
            decisive: KeyCode::Enter,
            expect: |r| matches!(r, Reply::Approved),
        },
        Decision {
            name: "export",
            make: || approve_app(Phase::Export, Effect::Export),
            shows: export,
            before: typed("EXPORT"),
            decisive: KeyCode::Enter,
            expect: |r| matches!(r, Reply::Approved),
        },
        Decision {
            name: "sign-off",
            make: || app_at(Phase::SignOff),
            shows: sign_off,
            before: vec![KeyCode::Down],
            decisive: KeyCode::Enter,
            expect: |r| matches!(r, Reply::Act(Action::SignOff(n)) if n == "wendy"),
        },
        Decision {
            name: "close",
            make: || app_at(Phase::SignOff),
            shows: close,
            before: [vec![KeyCode::Char('c')], typed("kv-prod-2026-01")].concat(),
            decisive: KeyCode::Enter,
            expect: |r| matches!(r, Reply::Act(Action::Close)),
        },
        Decision {
            name: "abort",
            make: || app_at(Phase::KekConfirm),
            shows: vec!["Type ABORT to abort the ceremony".into()],
            before: [
                vec![KeyCode::Char('a')],
                typed("the KEK medium is damaged"),
                vec![KeyCode::Enter],
                typed("ABORT"),
            ]
            .concat(),
            decisive: KeyCode::Enter,
            expect: |r| matches!(r, Reply::Act(Action::Abort(reason)) if reason == "the KEK medium is damaged"),
        },
    ]
}

/// Presses `keys` on frames drawn at `w`x`h`; returns the last reply and the last screen.
fn press_at(app: &mut App, w: u16, h: u16, keys: &[KeyCode]) -> (Option<Reply>, String) {
    let mut reply = None;
    for k in keys {
        draw_at(app, w, h);
        reply = app.on_key(tui_fixtures::key(*k));
    }
    (reply, draw_at(app, w, h))
}

#[test]
fn from_80x24_to_200x60_each_decision_is_taken_with_all_of_it_on_screen() {
    for d in decisions() {
        for (w, h) in SIZES_OK {
            let mut app = (d.make)();
            let (_, screen) = press_at(&mut app, w, h, &d.before);
            for text in &d.shows {
                assert!(
                    screen.contains(text.as_str()),
                    "{} at {w}x{h}: {text:?} is not on the screen:\n{screen}",
                    d.name
                );
            }
            draw_at(&app, w, h);
            let reply = app.on_key(tui_fixtures::key(d.decisive));
            assert!(
                reply.as_ref().is_some_and(d.expect),
                "{} at {w}x{h}: the decision was not taken ({reply:?}); hint {:?}\n{screen}",
                d.name,
                app.hint
            );
        }
    }
}

#[test]
fn below_80x24_every_screen_shows_only_enlarge_and_takes_no_decision() {
    for (name, app, _) in tui_fixtures::screens() {
        for (w, h) in SIZES_SMALL {
            let screen = draw_at(&app, w, h);
            assert!(
                screen.contains("Enlarge the terminal to at least 80x24"),
                "{name} at {w}x{h}:\n{screen}"
            );
            assert!(
                screen.contains(&format!("it is {w}x{h} now")),
                "{name} at {w}x{h}:\n{screen}"
            );
            for hidden in ["carol", "3a7b", "9f86", "e3b0", "Step "] {
                assert!(
                    !screen.contains(hidden),
                    "{name} at {w}x{h} shows {hidden:?}:\n{screen}"
                );
            }
        }
    }
    for d in decisions() {
        for (w, h) in SIZES_SMALL {
            let mut app = (d.make)();
            let (screen, prompt) = (app.screen(), app.prompt.clone());
            let mut keys = d.before.clone();
            keys.push(d.decisive);
            let (reply, _) = press_at(&mut app, w, h, &keys);
            assert!(reply.is_none(), "{} at {w}x{h}: {reply:?}", d.name);
            assert_eq!(app.screen(), screen, "{} at {w}x{h}", d.name);
            assert_eq!(app.prompt, prompt, "{} at {w}x{h}: a key was taken", d.name);
            assert!(
                app.typed.is_empty(),
                "{} at {w}x{h}: a key was taken",
                d.name
            );
        }
    }
}

/// At 80x24 the KEK screen of a ceremony with ten custodians present cannot show them all
/// beside the fingerprint: `y` is refused, with the reason, until the terminal is larger.
#[test]
fn a_decision_whose_content_is_cut_is_refused_even_above_the_minimum() {
    let mut v = view(Phase::KekConfirm);
    let mut script = (*v.script).clone();
    let many: Vec<String> = (1..=10).map(|i| format!("custodian{i:02}")).collect();
    script.custodians = many.clone();
    v.script = std::sync::Arc::new(script.clone());
    v.state.config = Some(script.machine_config());
    v.state.present.extend(many.iter().cloned());
    let mut app = App::new(std::sync::Arc::new(script));
    app.started = true;
    app.preflight_seen = true;
    app.on_runner(FromRunner::Ask {
        view: Box::new(v),
        problem: None,
    });
    assert_eq!(app.screen(), Screen::KekConfirm);
    let (reply, screen) = press_at(&mut app, 80, 24, &[KeyCode::Char('y')]);
    assert!(reply.is_none(), "{reply:?}\n{screen}");
    assert!(!screen.contains("custodian10"), "{screen}");
    assert!(
        app.hint
            .as_deref()
            .is_some_and(|h| h.contains("enlarge the terminal")),
        "{:?}",
        app.hint
    );
    let (reply, screen) = press_at(&mut app, 200, 60, &[KeyCode::Char('y')]);
    assert!(
        matches!(&reply, Some(Reply::Act(Action::ConfirmKek(c))) if c == "custodian01"),
        "{reply:?}\n{screen}"
    );
    assert!(screen.contains("custodian10"), "{screen}");
}

/// Every QR code on every screen that draws one decodes to the hash printed beside it, at
/// every size where it is drawn.
#[test]
fn every_qr_code_encodes_the_value_printed_beside_it() {
    let cases = [
        (Phase::KekConfirm, KEK_FP),
        (Phase::Export, BYOK_SHA),
        (Phase::SignOff, BYOK_SHA),
        (Phase::Closed, HEAD),
    ];
    for (phase, value) in cases {
        let mut app = app_at(phase);
        if phase == Phase::Export {
            app.on_runner(FromRunner::Update(Box::new(view(Phase::SignOff))));
            app.export_seen = false;
        }
        if phase == Phase::Closed {
            // The closing screen: the final head, once the runner has finished.
            app.on_runner(FromRunner::Finished(Ok(
                byok_ceremony::tui::people::Finished {
                    phase: Phase::Closed,
                    log_path: "state/kv-prod-2026-01.audit.jsonl".into(),
                    head: HEAD.into(),
                    files: vec![("/media/out-usb/payments-key.byok".into(), BYOK_SHA.into())],
                },
            )));
        }
        for (w, h) in [(80, 24), (120, 40), (200, 60)] {
            let screen = draw_at(&app, w, h);
            assert_eq!(
                qr::decode_one(&lines(&screen)),
                value,
                "{phase:?} at {w}x{h}"
            );
            assert!(screen.contains(&hex_groups(value)[..19]), "{screen}");
        }
    }
}

/// The room rejects a wrong KEK, then the right one is loaded: the QR code beside the new
/// fingerprint is the new key's, never the rejected one's (it was, before).
#[test]
fn after_a_rejected_kek_the_qr_code_is_the_new_kek_s() {
    const WRONG: &str = "0000111122223333444455556666777788889999aaaabbbbccccddddeeeeffff";
    let mut app = app_at(Phase::KekLoad);
    let mut wrong = view(Phase::KekConfirm);
    wrong.state.kek_fingerprint = Some(WRONG.into());
    app.on_runner(FromRunner::Ask {
        view: Box::new(wrong),
        problem: None,
    });
    let screen = draw_at(&app, 120, 40);
    assert_eq!(qr::decode_one(&lines(&screen)), WRONG);
    // Rejected: back to loading; then the right KEK.
    app.on_runner(FromRunner::Ask {
        view: Box::new(view(Phase::KekLoad)),
        problem: None,
    });
    draw_at(&app, 120, 40);
    app.on_runner(FromRunner::Ask {
        view: Box::new(view(Phase::KekConfirm)),
        problem: None,
    });
    for (w, h) in [(120, 40), (80, 24), (160, 50)] {
        let screen = draw_at(&app, w, h);
        assert!(screen.contains(&hex_groups(KEK_FP)[..19]), "{screen}");
        assert_eq!(qr::decode_one(&lines(&screen)), KEK_FP, "at {w}x{h}");
    }
}
