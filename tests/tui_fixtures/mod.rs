//! Fixed ceremony states for drawing: one `App` per screen, the same every run (no clock,
//! no random serials). Shared by the screen snapshots and the render benchmark.
#![allow(dead_code)]
use std::path::PathBuf;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use byok_ceremony::ceremony::facts::Facts;
use byok_ceremony::ceremony::machine::{Check, Effect, FileRecord, Phase, State};
use byok_ceremony::ceremony::runner::{Media, View};
use byok_ceremony::ceremony::script::CeremonyScript;
use byok_ceremony::hsm_types::key::KeyAttributes;
use byok_ceremony::media::discover::KekMedium;
use byok_ceremony::tui::app::{App, Screen};
use byok_ceremony::tui::people::{Finished, FromRunner, Reply};

const SCRIPT: &str = r#"format = "byok-ceremony ceremony script"
version = 1
ceremony_id = "kv-prod-2026-01"
purpose = "Production RSA key for the payments vault"
rehearsal = true

[roles]
administrator = "alice"
witness = "wendy"
custodians = ["carol", "dave", "erin"]

[quorum]
mode = "split-pin"
threshold = 2
record = "provisioning/provisioning-record.json"

[hsm]
module = "/usr/lib/softhsm/libsofthsm2.so"
label = "ceremony token"

[target]
kty = "RSA-HSM"
size = 3072
label = "payments-key"
keep_in_hsm = true

[kek]
file = "kek.pem"
expected_kid = "https://payments.vault.azure.net/keys/kek-3072/f2cd2c4345a5ee31c5fe5cbbb33f4f4a"

[outputs]
name = "payments-key"
"#;

pub const KEK_FP: &str = "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b";
pub const BYOK_SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
pub const HEAD: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

pub fn script() -> Arc<CeremonyScript> {
    Arc::new(CeremonyScript::parse(SCRIPT).expect("script"))
}

pub fn view(phase: Phase) -> View {
    let script = script();
    let mut state = State::new();
    state.config = Some(script.machine_config());
    state.rehearsal = true;
    state.phase = phase;
    let mut facts = Facts::default();
    if phase > Phase::Attendance {
        for n in ["alice", "wendy", "carol", "dave"] {
            state.present.insert(n.into());
        }
    }
    if phase > Phase::Quorum {
        state
            .shares_from
            .extend(["carol".to_owned(), "dave".to_owned()]);
        state.logged_in = true;
    }
    if phase >= Phase::KekConfirm {
        state.kek_fingerprint = Some(KEK_FP.into());
        facts.kid = Some(
            "https://payments.vault.azure.net/keys/kek-3072/f2cd2c4345a5ee31c5fe5cbbb33f4f4a"
                .into(),
        );
        facts.kek_bits = 3072;
    }
    if phase > Phase::KekConfirm {
        state
            .kek_confirmed_by
            .extend(["carol".to_owned(), "dave".to_owned()]);
    }
    if phase > Phase::KeyGeneration {
        state.key_id_hex = Some("6b1f0c2a".into());
        state.key_label = Some("payments-key".into());
        facts.attributes = Some(KeyAttributes {
            label: "payments-key".into(),
            id_hex: "6b1f0c2a".into(),
            token: true,
            sensitive: true,
            extractable: true,
            local: true,
            always_sensitive: true,
            never_extractable: false,
            wrap_with_trusted: false,
        });
    }
    if phase > Phase::Wrap {
        state.byok_sha256 = Some(BYOK_SHA.into());
    }
    if phase > Phase::Export {
        state.exported = vec![
            FileRecord {
                name: "payments-key.byok".into(),
                sha256: BYOK_SHA.into(),
            },
            FileRecord {
                name: "payments-key.manifest.json".into(),
                sha256: HEAD.into(),
            },
        ];
    }
    if phase > Phase::Verification {
        state.verified = true;
        state.signed_off_by.insert("alice".into());
    }
    View {
        state,
        facts,
        script,
        media: Media {
            kek: PathBuf::from("/media/kek-usb"),
            out: PathBuf::from("/media/out-usb"),
            second: None,
            roots: Vec::new(),
            sums: None,
        },
        log_head: HEAD.into(),
        log_len: 23,
        last_event: None,
        kek_media: if phase == Phase::KekLoad {
            vec![
                KekMedium {
                    dir: PathBuf::from("/media/kek-usb"),
                    mounted: false,
                    files: Vec::new(),
                    has_script_file: false,
                },
                KekMedium {
                    dir: PathBuf::from("/media/alice/KEK-2026"),
                    mounted: true,
                    files: vec!["kek.pem".into(), "kek.json".into()],
                    has_script_file: true,
                },
                KekMedium {
                    dir: PathBuf::from("/media/alice/OLD"),
                    mounted: true,
                    files: vec!["kek-2025.pem".into()],
                    has_script_file: false,
                },
            ]
        } else {
            Vec::new()
        },
        checks: vec![
            Check::new("script", true, "validated"),
            Check::new("network", true, "no network interface is up"),
            Check::new("output medium", true, "/media/out-usb is mounted"),
        ],
        notice: None,
    }
}

pub fn app_at(phase: Phase) -> App {
    let mut app = App::new(script());
    app.clock = "12:34:56".into();
    app.started = true;
    app.preflight_seen = phase > Phase::Preflight;
    app.export_seen = phase > Phase::Verification;
    app.on_runner(FromRunner::Ask {
        view: Box::new(view(phase)),
        problem: None,
    });
    app
}

pub fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

/// Draws a frame at `w`x`h` (the app records what it showed) without keeping it.
pub fn draw_at(app: &App, w: u16, h: u16) -> String {
    let mut terminal =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).expect("terminal");
    terminal
        .draw(|f| byok_ceremony::tui::screens::draw(f, app))
        .expect("draw");
    terminal.backend().to_string()
}

/// A key press as people make it: on a screen drawn at 80x24 first (the app takes a decision
/// only on a frame that showed everything it is about).
pub fn press(app: &mut App, c: KeyCode) -> Option<Reply> {
    draw_at(app, 80, 24);
    app.on_key(key(c))
}

pub fn type_text(app: &mut App, text: &str) -> Option<Reply> {
    let mut last = None;
    for c in text.chars() {
        last = press(app, KeyCode::Char(c));
    }
    last
}

/// Every screen of the ceremony, in order.
pub fn screens() -> Vec<(&'static str, App, Screen)> {
    let mut out = Vec::new();
    let mut script = App::new(script());
    script.clock = "12:34:56".into();
    out.push(("01_script", script, Screen::Script));
    let mut preflight = app_at(Phase::Attendance);
    preflight.preflight_seen = false;
    out.push(("02_preflight", preflight, Screen::Preflight));
    let mut attendance = app_at(Phase::Attendance);
    attendance.on_runner(FromRunner::Update(Box::new({
        let mut v = view(Phase::Attendance);
        v.state.present.insert("alice".into());
        v.state.present.insert("carol".into());
        v
    })));
    attendance.cursor = 1;
    out.push(("03_attendance", attendance, Screen::Attendance));
    let mut shares = app_at(Phase::Quorum);
    shares.on_runner(FromRunner::Ask {
        view: Box::new({
            let mut v = view(Phase::Quorum);
            v.state.shares_from.insert("carol".into());
            v.notice = Some("carol's share is valid and accepted.".into());
            v
        }),
        problem: None,
    });
    press(&mut shares, KeyCode::Enter);
    type_text(&mut shares, "byoks1qqqsyqcyq5rqwzqfpg9scrg");
    out.push(("04_share_entry", shares, Screen::Shares));
    out.push(("05_kek_load", app_at(Phase::KekLoad), Screen::KekLoad));
    let mut confirm = app_at(Phase::KekConfirm);
    confirm.on_runner(FromRunner::Ask {
        view: Box::new({
            let mut v = view(Phase::KekConfirm);
            v.state.kek_confirmed_by.insert("carol".into());
            v
        }),
        problem: None,
    });
    confirm.cursor = 1;
    out.push(("06_kek_confirm", confirm, Screen::KekConfirm));
    let mut generate = app_at(Phase::KeyGeneration);
    generate.on_runner(FromRunner::Approve {
        view: Box::new(view(Phase::KeyGeneration)),
        effect: Effect::GenerateKey,
    });
    type_text(&mut generate, "GENER");
    out.push(("07_approve_generate", generate, Screen::Approve));
    let mut wrap = app_at(Phase::Wrap);
    wrap.waiting = false;
    out.push(("08_generation", wrap, Screen::Generation));
    let mut export = app_at(Phase::Export);
    export.on_runner(FromRunner::Approve {
        view: Box::new(view(Phase::Export)),
        effect: Effect::Export,
    });
    out.push(("09_approve_export", export, Screen::Approve));
    let mut exported = app_at(Phase::SignOff);
    exported.export_seen = false;
    out.push(("10_export", exported, Screen::Export));
    out.push(("11_sign_off", app_at(Phase::SignOff), Screen::SignOff));
    let mut summary = app_at(Phase::Closed);
    summary.on_runner(FromRunner::Finished(Ok(Finished {
        phase: Phase::Closed,
        log_path: "ceremony-state/kv-prod-2026-01.audit.jsonl".into(),
        head: HEAD.into(),
        files: vec![("/media/out-usb/payments-key.byok".into(), BYOK_SHA.into())],
    })));
    out.push(("12_summary", summary, Screen::Summary));
    let mut error = app_at(Phase::Preflight);
    error.on_runner(FromRunner::Ask {
        view: Box::new(view(Phase::Preflight)),
        problem: Some(
            "Preflight checks: failed: output medium: /media/out-usb is missing: mount the output medium"
                .into(),
        ),
    });
    out.push(("13_error", error, Screen::Error));
    let mut help = app_at(Phase::KekConfirm);
    press(&mut help, KeyCode::Char('?'));
    out.push(("14_help_kek_confirm", help, Screen::KekConfirm));
    // A production ceremony on a station that failed its air gap: the preflight says what it
    // means, and attendance holds until a deviation covers it.
    let mut failed = station_failed(&[]);
    failed.preflight_seen = false;
    out.push(("15_preflight_station_failed", failed, Screen::Preflight));
    let held = station_failed(&["alice", "wendy", "carol", "dave"]);
    out.push(("16_attendance_station_open", held, Screen::Attendance));
    out
}

/// A production ceremony at attendance, its station's air gap failed, `present` checked in.
pub fn station_failed(present: &[&str]) -> App {
    let script = Arc::new(
        CeremonyScript::parse(&SCRIPT.replace("rehearsal = true", "rehearsal = false"))
            .expect("script"),
    );
    let station = |name: &str, passed: bool, detail: &str| Check {
        station: true,
        ..Check::new(name, passed, detail)
    };
    let air_gap = station(
        "air gap",
        false,
        "interface eth0 is up (hardware); default IPv4 via 192.0.2.1 dev eth0 route: disconnect the station (unplug the cable, `ip link set DEV down`, `rfkill block all`, remove the default route) and run the preflight again",
    );
    let mut v = view(Phase::Attendance);
    v.script = Arc::clone(&script);
    v.state.config = Some(script.machine_config());
    v.state.rehearsal = false;
    v.state.station_failures = vec![air_gap.clone()];
    v.state.present = present.iter().map(|n| (*n).to_owned()).collect();
    v.checks = vec![
        Check::new("script", true, "validated"),
        air_gap,
        station("swap", true, "no swap in use"),
        station("core dumps", true, "off for this process"),
        station(
            "memory locking",
            true,
            "all of this process's memory is locked",
        ),
        station("tool binary", true, "SHA-256 d34b476f..."),
        station(
            "read-only medium",
            true,
            "/run/live/medium is on a read-only filesystem",
        ),
        station(
            "clock",
            true,
            "2026-01-20 12:34:56 UTC: the custodians confirm it against their own clocks",
        ),
        Check::new("output medium", true, "/media/out-usb is mounted"),
        Check::new("audit key", true, "the token holds the ceremony audit key"),
        Check::new("provisioning record", true, "matches the token"),
    ];
    let mut app = App::new(script);
    app.clock = "12:34:56".into();
    app.started = true;
    app.preflight_seen = true;
    app.on_runner(FromRunner::Ask {
        view: Box::new(v),
        problem: None,
    });
    app
}

/// The fixture's script with three clouds in place of its Azure `[kek]`.
pub fn three_cloud_script() -> Arc<CeremonyScript> {
    let text = SCRIPT.replace(
        "[kek]\nfile = \"kek.pem\"\nexpected_kid = \"https://payments.vault.azure.net/keys/kek-3072/f2cd2c4345a5ee31c5fe5cbbb33f4f4a\"\n",
        r#"[[targets]]
cloud = "azure"
kek = "kek.pem"
kid = "https://payments.vault.azure.net/keys/kek-3072/f2cd2c4345a5ee31c5fe5cbbb33f4f4a"

[[targets]]
cloud = "gcp"
import_job = "projects/payments/locations/europe-west1/keyRings/payments/importJobs/job-2026-01"
import_method = "RSA_OAEP_3072_SHA256_AES_256"
protection_level = "HSM"
kek = "job-2026-01.public.pem"
job_created = "2026-01-12T08:00:00Z"

[[targets]]
cloud = "aws"
key = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
wrapping_algorithm = "RSA_AES_KEY_WRAP_SHA_256"
wrapping_key_spec = "RSA_3072"
kek = "aws.wrapping-key.der"
import_token = "aws.import-token.bin"
parameters_valid_to = "2026-01-13T07:30:00Z"
"#,
    );
    Arc::new(CeremonyScript::parse(&text).expect("three-cloud script"))
}

/// `view(phase)` for the three-cloud script: Azure's KEK confirmed and Google's on screen at
/// the KEK confirmation; all three wrapped from the export on.
pub fn three_cloud_view(phase: Phase) -> View {
    use byok_ceremony::cloud::Cloud;
    let mut v = view(phase);
    v.script = three_cloud_script();
    v.state.config = Some(v.script.machine_config());
    if phase == Phase::KekConfirm {
        v.state.keks_confirmed = vec![KEK_FP.into()];
        v.state.kek_fingerprint = Some(HEAD.into());
        v.facts.kid = Some(
            "projects/payments/locations/europe-west1/keyRings/payments/importJobs/job-2026-01"
                .into(),
        );
        v.facts.kek_file = Some("/media/kek-usb/job-2026-01.public.pem".into());
    }
    if phase > Phase::Wrap {
        v.state.wrapped.insert(Cloud::Azure, BYOK_SHA.into());
        v.state.wrapped.insert(Cloud::Gcp, KEK_FP.into());
        v.state.wrapped.insert(Cloud::Aws, HEAD.into());
    }
    v
}

/// `app_at(phase)` on the three-cloud view, with the wrapped key `shown` (0-based) on screen.
pub fn three_cloud_app(phase: Phase, shown: usize) -> App {
    let mut app = App::new(three_cloud_script());
    app.clock = "12:34:56".into();
    app.started = true;
    app.preflight_seen = true;
    app.export_seen = phase > Phase::Verification;
    app.on_runner(FromRunner::Ask {
        view: Box::new(three_cloud_view(phase)),
        problem: None,
    });
    for _ in 0..shown {
        app.on_key(key(KeyCode::Tab));
    }
    app
}
