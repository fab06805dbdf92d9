//! The first screen without a command: the scripts found, one to choose. Snapshots at
//! 80x24 and 120x40, and the keys.
use std::path::PathBuf;

use byok_ceremony::tui::picker::{Choice, FoundScript, Picker, ScriptKind, draw};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn found() -> Vec<FoundScript> {
    vec![
        FoundScript {
            path: PathBuf::from("ceremony-scripts/azure-keyvault-rsa3072.toml"),
            kind: ScriptKind::Ceremony,
            ceremony_id: "payments-2026-q4".into(),
            rehearsal: false,
            target: "RSA-HSM 3072 bits".into(),
            sha256: "9f".repeat(32),
        },
        FoundScript {
            path: PathBuf::from("/media/kek-usb/ceremony-scripts/rehearsal.toml"),
            kind: ScriptKind::Ceremony,
            ceremony_id: "rehearsal".into(),
            rehearsal: true,
            target: "EC-HSM P-384".into(),
            sha256: "0a".repeat(32),
        },
        FoundScript {
            path: PathBuf::from("ceremony-scripts/provisioning-3of5.toml"),
            kind: ScriptKind::Provisioning,
            ceremony_id: "provisioning-3of5".into(),
            rehearsal: false,
            target: "payments-hsm: PIN split 3 of 5".into(),
            sha256: "5e".repeat(32),
        },
    ]
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn snap(name: &str, picker: &Picker) {
    for (w, h) in [(80u16, 24u16), (120, 40)] {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        terminal.draw(|f| draw(f, picker)).expect("draw");
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), terminal.backend());
    }
}

#[test]
fn the_list_the_help_and_nothing_found() {
    let mut picker = Picker::new(found());
    snap("picker_first", &picker);
    picker.on_key(key(KeyCode::Down));
    snap("picker_second", &picker);
    picker.on_key(key(KeyCode::Char('?')));
    snap("picker_help", &picker);
    snap("picker_empty", &Picker::new(Vec::new()));
    // More scripts than fit at 80x24: the list scrolls with the cursor.
    let many: Vec<FoundScript> = (0..20)
        .map(|i| FoundScript {
            ceremony_id: format!("ceremony-{i:02}"),
            ..found()[0].clone()
        })
        .collect();
    let mut picker = Picker::new(many);
    for _ in 0..15 {
        picker.on_key(key(KeyCode::Down));
    }
    snap("picker_scrolled", &picker);
}

#[test]
fn enter_starts_the_chosen_script_and_q_quits() {
    let mut picker = Picker::new(found());
    assert_eq!(picker.on_key(key(KeyCode::Up)), None);
    assert_eq!(picker.on_key(key(KeyCode::Down)), None);
    assert_eq!(
        picker.on_key(key(KeyCode::Enter)),
        Some(Choice::Run(PathBuf::from(
            "/media/kek-usb/ceremony-scripts/rehearsal.toml"
        )))
    );
    // The cursor stops at the last script.
    picker.on_key(key(KeyCode::Down));
    picker.on_key(key(KeyCode::Down));
    assert_eq!(
        picker.on_key(key(KeyCode::Enter)),
        Some(Choice::Run(PathBuf::from(
            "ceremony-scripts/provisioning-3of5.toml"
        )))
    );
    // Help takes the keys until it is closed.
    picker.on_key(key(KeyCode::Char('?')));
    assert_eq!(picker.on_key(key(KeyCode::Char('q'))), None);
    assert_eq!(picker.on_key(key(KeyCode::Esc)), None);
    assert_eq!(picker.on_key(key(KeyCode::Char('q'))), Some(Choice::Quit));
    // Nothing to start in an empty list.
    assert_eq!(Picker::new(Vec::new()).on_key(key(KeyCode::Enter)), None);
}
