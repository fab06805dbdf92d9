//! One snapshot per screen of the guided UI, at 80x24 and 120x40 (ratatui TestBackend +
//! insta; snapshots in tests/snapshots). Also: what the keys do, and that a typed share is
//! never drawn.
mod tui_fixtures;

use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use byok_ceremony::ceremony::machine::{Effect, Phase};
use byok_ceremony::ceremony::runner::Action;
use byok_ceremony::tui::app::{App, Screen};
use byok_ceremony::tui::people::{FromRunner, Reply};
use byok_ceremony::tui::screens;
use tui_fixtures::{app_at, press, screens, type_text, view};

fn render(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    terminal.draw(|f| screens::draw(f, app)).expect("draw");
    terminal
}

fn snap(name: &str, app: &App) {
    for (w, h) in [(80u16, 24u16), (120, 40)] {
        let terminal = render(app, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), terminal.backend());
    }
}

#[test]
fn every_screen_at_80x24_and_120x40() {
    for (name, app, screen) in screens() {
        assert_eq!(app.screen(), screen, "{name}");
        snap(name, &app);
    }
}

/// Colour only where asked for, and then it repeats what the text says; the text is the same.
#[test]
fn every_screen_is_the_same_text_with_or_without_colour() {
    use byok_ceremony::tui::theme::Theme;
    use ratatui::style::Color;
    let coloured = |app: &App| {
        let t = render(app, 120, 40);
        let buffer = t.backend().buffer().clone();
        buffer
            .content()
            .iter()
            .filter(|c| c.fg != Color::Reset || c.bg != Color::Reset)
            .count()
    };
    for (name, mut app, _) in screens() {
        app.theme = Theme::PLAIN;
        let plain_text = render(&app, 120, 40).backend().to_string();
        assert_eq!(coloured(&app), 0, "{name} has colour on a plain terminal");
        app.theme = Theme::COLOUR;
        assert!(coloured(&app) > 0, "{name} has no colour at all");
        assert_eq!(
            render(&app, 120, 40).backend().to_string(),
            plain_text,
            "{name}"
        );
    }
}

#[test]
fn a_typed_share_is_never_drawn_and_is_sent_only_on_enter() {
    let mut app = app_at(Phase::Quorum);
    assert_eq!(press(&mut app, KeyCode::Enter).map(|_| ()), None);
    let secret = "byoks1zyxwvutsrqp";
    assert!(type_text(&mut app, secret).is_none());
    for (w, h) in [(80, 24), (120, 40)] {
        let screen = render(&app, w, h).backend().to_string();
        assert!(!screen.contains("zyxw"), "{screen}");
        assert!(screen.contains("(17 typed)"), "{screen}");
    }
    match press(&mut app, KeyCode::Enter) {
        Some(Reply::Act(Action::PresentShare { custodian, text })) => {
            assert_eq!(custodian, "carol");
            assert_eq!(text.as_str(), secret);
        }
        other => panic!("expected the share, got {other:?}"),
    }
    assert!(app.share.is_none());
    assert!(app.clear_requested, "the terminal is cleared after a share");
}

#[test]
fn decisive_steps_need_the_typed_word() {
    let mut app = app_at(Phase::KeyGeneration);
    app.on_runner(FromRunner::Approve {
        view: Box::new(view(Phase::KeyGeneration)),
        effect: Effect::GenerateKey,
    });
    // A stray Enter or a wrong word does nothing.
    assert!(press(&mut app, KeyCode::Enter).is_none());
    type_text(&mut app, "generate");
    assert!(press(&mut app, KeyCode::Enter).is_none());
    assert_eq!(app.screen(), Screen::Approve);
    type_text(&mut app, "GENERATE");
    assert!(matches!(
        press(&mut app, KeyCode::Enter),
        Some(Reply::Approved)
    ));

    // Esc stops before the step: declined, nothing done; the runner logs it and asks again on r.
    let mut app = app_at(Phase::KeyGeneration);
    app.on_runner(FromRunner::Approve {
        view: Box::new(view(Phase::KeyGeneration)),
        effect: Effect::GenerateKey,
    });
    type_text(&mut app, "GENER");
    assert!(matches!(
        press(&mut app, KeyCode::Esc),
        Some(Reply::Declined)
    ));
    assert!(app.prompt.is_none() && app.approve.is_none());

    // Close needs the ceremony id.
    let mut app = app_at(Phase::SignOff);
    assert!(press(&mut app, KeyCode::Char('c')).is_none());
    type_text(&mut app, "wrong-id");
    assert!(press(&mut app, KeyCode::Enter).is_none());
    type_text(&mut app, "kv-prod-2026-01");
    assert!(matches!(
        press(&mut app, KeyCode::Enter),
        Some(Reply::Act(Action::Close))
    ));

    // Abort needs a reason and then ABORT.
    let mut app = app_at(Phase::KekLoad);
    press(&mut app, KeyCode::Char('a'));
    type_text(&mut app, "KEK medium lost");
    assert!(press(&mut app, KeyCode::Enter).is_none());
    type_text(&mut app, "ABORT");
    match press(&mut app, KeyCode::Enter) {
        Some(Reply::Act(Action::Abort(reason))) => assert_eq!(reason, "KEK medium lost"),
        other => panic!("expected abort, got {other:?}"),
    }
}

#[test]
fn keys_do_nothing_while_the_tool_works() {
    let mut app = app_at(Phase::Attendance);
    app.waiting = false;
    assert!(press(&mut app, KeyCode::Enter).is_none());
    assert!(press(&mut app, KeyCode::Char('c')).is_none());
    assert!(app.hint.is_some());
    // Nor are they offered: the legend says to wait, and comes back when the runner asks.
    let drawn = format!("{}", render(&app, 120, 40).backend());
    assert!(drawn.contains("working: wait for the tool"), "{drawn}");
    assert!(!drawn.contains("Enter: check in"), "{drawn}");
    app.waiting = true;
    let drawn = format!("{}", render(&app, 120, 40).backend());
    assert!(drawn.contains("Enter: check in"), "{drawn}");
}

#[test]
fn the_kek_medium_is_chosen_on_screen_and_only_one_holding_the_scripts_file() {
    let mut app = app_at(Phase::KekLoad);
    assert_eq!(app.screen(), Screen::KekLoad);
    // The configured medium is not mounted: refused with a hint, nothing sent.
    assert!(press(&mut app, KeyCode::Enter).is_none());
    assert!(
        app.hint.as_deref().unwrap_or("").contains("kek.pem"),
        "{:?}",
        app.hint
    );
    press(&mut app, KeyCode::Down);
    match press(&mut app, KeyCode::Enter) {
        Some(Reply::Act(Action::LoadKekFrom(dir))) => {
            assert_eq!(dir, std::path::PathBuf::from("/media/alice/KEK-2026"));
        }
        other => panic!("expected a load from the chosen medium, got {other:?}"),
    }
    // A failed load keeps the KEK screen, with the problem on it.
    app.on_runner(FromRunner::Ask {
        view: Box::new(view(Phase::KekLoad)),
        problem: Some("no KEK at /media/alice/KEK-2026/kek.pem".into()),
    });
    assert_eq!(app.screen(), Screen::KekLoad);
    let drawn = format!("{}", render(&app, 80, 24).backend());
    assert!(drawn.contains("no KEK at"), "{drawn}");
}

/// Where the HSM zero-pads (a rehearsal, or a script's allow_zero_padding) the export screen
/// says so in plain words beside the .byok's hash.
#[test]
fn a_rehearsal_grade_byok_is_called_so_on_screen() {
    let mut app = app_at(Phase::SignOff);
    app.export_seen = false;
    let mut v = view(Phase::SignOff);
    v.facts.rehearsal_grade = true;
    app.on_runner(FromRunner::Update(Box::new(v)));
    let screen = render(&app, 120, 40).backend().to_string();
    assert!(screen.contains("REHEARSAL-GRADE"), "{screen}");
    let plain = render(&app_at(Phase::SignOff), 120, 40)
        .backend()
        .to_string();
    assert!(!plain.contains("REHEARSAL-GRADE"));
}

/// A step's instruction from the script is on that step's screen, at 80x24 as at 120x40, and
/// only there.
#[test]
fn a_step_s_instruction_is_on_its_screen() {
    use byok_ceremony::ceremony::script::CeremonyScript;
    let mut script = (*tui_fixtures::script()).clone();
    script.steps.push((
        "kek_confirm".into(),
        "Phones out of the room; the online side reads the words.".into(),
    ));
    let script: std::sync::Arc<CeremonyScript> = std::sync::Arc::new(script);
    for phase in [Phase::KekConfirm, Phase::Attendance] {
        let mut app = byok_ceremony::tui::app::App::new(script.clone());
        app.started = true;
        app.preflight_seen = true;
        let mut v = view(phase);
        v.script = script.clone();
        app.on_runner(FromRunner::Ask {
            view: Box::new(v),
            problem: None,
        });
        for (w, h) in [(80, 24), (120, 40)] {
            let screen = render(&app, w, h).backend().to_string();
            assert_eq!(
                screen.contains("Instruction: Phones out of the room"),
                phase == Phase::KekConfirm,
                "{phase:?} at {w}x{h}:\n{screen}"
            );
        }
    }
}

/// An action the ceremony's rules refuse (attendance closed too early) is a line under the
/// screen, not the error screen; the screen stays and the next key works.
#[test]
fn a_refused_action_is_a_line_not_a_stop() {
    let mut app = app_at(Phase::Attendance);
    app.on_runner(FromRunner::Refused {
        view: Box::new(view(Phase::Attendance)),
        rule: "fewer custodians are present than the quorum needs".into(),
    });
    assert_eq!(app.screen(), Screen::Attendance);
    let screen = render(&app, 80, 24).backend().to_string();
    assert!(
        screen.contains("not done: fewer custodians are present"),
        "{screen}"
    );
    assert!(app.waiting);
}

/// The masked count counts what a share is made of, not the spaces and dashes it ignores: the
/// same rule as the provisioning hand-out's type-back.
#[test]
fn the_masked_count_ignores_spaces_and_dashes() {
    let mut app = app_at(Phase::Quorum);
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "byoks1 qqqsy-qcyq5");
    let screen = render(&app, 80, 24).backend().to_string();
    assert!(screen.contains("(16 typed)"), "{screen}");
}

/// At attendance, a production ceremony whose station failed a check offers to run the checks
/// again (r), as the room may have fixed it.
#[test]
fn a_failed_station_check_can_be_run_again_from_attendance() {
    let mut app = tui_fixtures::station_failed(&["alice"]);
    let screen = render(&app, 80, 24).backend().to_string();
    assert!(screen.contains("Run them again (r)"), "{screen}");
    assert!(screen.contains("r: run the checks again"), "{screen}");
    assert!(matches!(
        press(&mut app, KeyCode::Char('r')),
        Some(Reply::Act(Action::Retry))
    ));
    // Not offered where nothing is open.
    let mut plain = app_at(Phase::Attendance);
    assert!(press(&mut plain, KeyCode::Char('r')).is_none());
}

/// With three clouds: the KEK confirmation names the cloud; the export shows one wrapped key at
/// a time (Tab), with the list of all three; the sign-off likewise.
#[test]
fn three_cloud_screens_at_80x24_and_120x40() {
    use tui_fixtures::three_cloud_app;
    snap("clouds_kek_confirm", &three_cloud_app(Phase::KekConfirm, 0));
    for shown in [0, 1] {
        let mut export = three_cloud_app(Phase::SignOff, shown);
        export.export_seen = false;
        assert_eq!(export.screen(), Screen::Export);
        snap(&format!("clouds_export_{}_of_3", shown + 1), &export);
    }
    let mut sign_off = three_cloud_app(Phase::SignOff, 2);
    sign_off.export_seen = true;
    snap("clouds_sign_off_3_of_3", &sign_off);
}
