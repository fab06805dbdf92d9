//! The guided provisioning in a real pseudo-terminal (tmux, 80x24): the real binary
//! provisions a fresh SoftHSM2 token 2-of-3, typed key by key as the custodians would, each
//! share shown to its custodian and typed back. Then: the share files log in (any 2 of 3, user
//! and SO PIN), the audit log verifies and holds the same quorum steps as a headless run, and
//! no share is left in the terminal, its scrollback, or what the tool printed.
//!
//! One test function: this process points SOFTHSM2_CONF at its own token directory once,
//! before any module is loaded, and the spawned binary gets the same variable.
use std::os::unix::fs::PermissionsExt as _;
mod share_room;
mod tmux;

use std::path::{Path, PathBuf};
use std::process::Command;

use byok_ceremony::audit::log::{stream_of, verify_chain};
use byok_ceremony::hsm::Hsm;
use byok_ceremony::hsm::ffi::set_token_config_env;
use byok_ceremony::hsm_types::token::TokenSelector;
use byok_ceremony::quorum::events::QuorumEvent;
use byok_ceremony::quorum::provision::AUDIT_LOG_NAME;
use byok_ceremony::quorum::{LoginPolicy, PinGroup, ProvisioningRecord, QuorumLogin};
use share_room::{SOFTHSM2, assert_no_share, grouped_share, token_dir};
use tmux::Tmux;

const LABEL: &str = "tui provisioned";
const CUSTODIANS: [&str; 3] = ["carol", "dave", "erin"];

/// A directory with its own SoftHSM2 token store, a provisioning script and an empty `out`.
struct Room {
    dir: tempfile::TempDir,
    conf: PathBuf,
}

impl Room {
    fn new() -> Room {
        let (dir, conf) = token_dir("provision-room-", &["out"]);
        std::fs::write(
            dir.path().join("provision.toml"),
            format!(
                "format = \"byok-ceremony provisioning script\"\nversion = 1\nrehearsal = true\n\n[token]\nmodule = \"{SOFTHSM2}\"\nmode = \"initialise\"\nlabel = \"{LABEL}\"\n\n[user_pin]\nthreshold = 2\ncustodians = [\"carol\", \"dave\", \"erin\"]\n\n[so_pin]\nthreshold = 2\ncustodians = [\"carol\", \"dave\", \"erin\"]\n"
            ),
        )
        .expect("script");
        Room { dir, conf }
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    fn share_file(&self, custodian: &str) -> PathBuf {
        self.out().join(format!("{custodian}.share.txt"))
    }

    /// The share of `group` in `custodian`'s file, in groups of five, as they would copy it.
    fn share(&self, custodian: &str, group: PinGroup) -> String {
        grouped_share(&self.share_file(custodian), group)
    }
}

/// The last two groups of a grouped share: what the custodian types back.
fn tail(grouped: &str) -> String {
    let groups: Vec<&str> = grouped.split(' ').collect();
    groups[groups.len() - 2..].join(" ")
}

/// Script, attendance, the typed confirmation.
fn open_and_confirm(ui: &Tmux) {
    ui.wait_for_all(&["Enter: go to attendance"]);
    ui.keys(&["Enter"]);
    ui.wait_for_all(&["Enter: check in"]);
    for name in CUSTODIANS {
        ui.keys(&["Enter"]);
        ui.wait_until(&format!("{name} ticked"), |s| {
            s.lines()
                .any(|l| l.contains(&format!(" {name} ")) && l.contains("[x]"))
        });
    }
    ui.keys(&["c"]);
    ui.wait_for_all(&["Confirm the token", "type PROVISION"]);
    ui.type_text("PROVISION");
    ui.wait_for_all(&["> PROVISION_"]);
    ui.keys(&["Enter"]);
}

/// One custodian's turn: each of their shares shown (and seen on screen), copied, hidden,
/// and typed back; carol gets one wrong type-back first. Returns the shares shown.
fn hand_out(ui: &Tmux, room: &Room, number: usize, name: &str) -> Vec<String> {
    let mut shown = Vec::new();
    for (part, group) in [PinGroup::UserPin, PinGroup::SoPin].into_iter().enumerate() {
        ui.wait_for_all(&[
            &format!("Custodian {number} of 3: {}", name.to_uppercase()),
            &format!("share {} of 2 for you", part + 1),
            &format!("Enter: show {name}'s share"),
        ]);
        // Written (and proven by a login) before the first custodian is called.
        let share = room.share(name, group);
        ui.keys(&["Enter"]);
        // The share is on screen while shown: the captures can see it (so the checks below,
        // that it is gone, can fail).
        let first_row: String = share.split(' ').take(5).collect::<Vec<_>>().join(" ");
        let screen = ui.wait_for_all(&["Enter: I have copied it", &first_row]);
        assert!(screen.contains("only you may look"), "{screen}");
        ui.keys(&["Enter"]);
        ui.wait_for_all(&["Check your copy", "Enter: check"]);
        assert_no_share(
            &ui.scrollback(),
            std::slice::from_ref(&share),
            "the terminal once hidden",
        );
        if number == 1 && part == 0 {
            ui.type_text("qqqqq qq");
            ui.wait_for_all(&["(7 typed)"]);
            ui.keys(&["Enter"]);
            ui.wait_for_all(&["that is not how your share ends", "(0 typed)"]);
        }
        let back = tail(&share);
        ui.type_text(&back);
        let typed = back.replace(' ', "").len();
        let screen = ui.wait_for_all(&[&format!("({typed} typed)")]);
        assert!(!screen.contains(&back), "the type-back was drawn");
        ui.keys(&["Enter"]);
        shown.push(share);
    }
    shown
}

fn event_kinds(log: &Path) -> Vec<String> {
    let mut kinds = Vec::new();
    stream_of::<QuorumEvent>(log, |_, e| {
        let v = serde_json::to_value(&e.event).expect("json");
        let mut kind = v["event"].as_str().expect("tag").to_owned();
        if let Some(c) = v.get("custodian").and_then(|c| c.as_str()) {
            kind.push(':');
            kind.push_str(c);
        }
        kinds.push(kind);
        Ok(())
    })
    .expect("stream");
    kinds
}

/// The same script, headless, in a second room: the quorum steps the guided run must match.
fn headless_kinds() -> Vec<String> {
    let room = Room::new();
    let out = Command::new(env!("CARGO_BIN_EXE_byok-ceremony"))
        .args(["provision", "provision.toml", "--headless", "--out", "out"])
        .env("SOFTHSM2_CONF", &room.conf)
        .current_dir(room.dir.path())
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    event_kinds(&room.out().join(AUDIT_LOG_NAME))
}

/// Any two of the three share files log in, for the user PIN and for the SO PIN.
fn shares_log_in(room: &Room) {
    let record = ProvisioningRecord::parse(
        &std::fs::read(room.out().join("provisioning-record.json")).expect("record"),
    )
    .expect("strict record");
    assert_eq!(record.token.label, LABEL);
    let hsm = Hsm::load(Path::new(SOFTHSM2)).expect("SoftHSM2");
    let slot = hsm
        .find_token(&TokenSelector::Label(LABEL.into()))
        .expect("the provisioned token");
    let session = hsm.open_session(slot).expect("session");
    for group in [PinGroup::UserPin, PinGroup::SoPin] {
        for pair in [["carol", "dave"], ["dave", "erin"], ["carol", "erin"]] {
            let mut quorum = QuorumLogin::new(&record, group).expect("quorum");
            for c in pair {
                quorum.offer(&room.share(c, group)).expect("share accepted");
            }
            quorum
                .login(&session, LoginPolicy::default())
                .unwrap_or_else(|e| panic!("{pair:?} did not log in as {group}: {e}"));
            session.session().logout().expect("log out");
        }
        let mut one = QuorumLogin::new(&record, group).expect("quorum");
        one.offer(&room.share("carol", group))
            .expect("share accepted");
        assert!(one.login(&session, LoginPolicy::default()).is_err());
    }
}

#[test]
fn a_token_provisioned_through_the_guided_ui_one_custodian_at_a_time() {
    let room = Room::new();
    // Before any module is loaded in this process, and while this is its only test.
    set_token_config_env("SOFTHSM2_CONF", room.conf.as_os_str());
    let ui = Tmux::start(
        "prov-e2e",
        room.dir.path(),
        80,
        24,
        &format!(
            "SOFTHSM2_CONF='{}' '{}' provision provision.toml --out out",
            room.conf.display(),
            env!("CARGO_BIN_EXE_byok-ceremony")
        ),
    );
    open_and_confirm(&ui);
    let mut shares = Vec::new();
    for (i, name) in CUSTODIANS.iter().enumerate() {
        shares.extend(hand_out(&ui, &room, i + 1, name));
    }
    assert_eq!(shares.len(), 6);
    let summary = ui.wait_for_all(&["is provisioned", "q: quit"]);
    assert!(summary.contains("share files") || summary.contains("Share files"));
    assert_no_share(&ui.scrollback(), &shares, "the terminal after the hand-out");
    ui.keys(&["q"]);
    let report = ui.wait_for_all(&["Provisioned token", "quorum events recorded"]);
    assert!(report.contains(LABEL), "{report}");
    assert_no_share(
        &ui.scrollback(),
        &shares,
        "the scrollback after the tool ended",
    );

    // The files are what custodians carry: one each, owner-read-only, and they work.
    for name in CUSTODIANS {
        let mode = std::fs::metadata(room.share_file(name))
            .expect("share file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o400, "{name}'s share file");
    }
    shares_log_in(&room);

    // The audit log verifies and records exactly the quorum steps a headless run records.
    let log = room.out().join(AUDIT_LOG_NAME);
    let (entries, _head) = verify_chain::<QuorumEvent>(&log).expect("the chain verifies");
    let kinds = event_kinds(&log);
    assert_eq!(entries as usize, kinds.len());
    assert_eq!(kinds, headless_kinds());
    assert_eq!(
        kinds
            .iter()
            .filter(|k| k.starts_with("share_issued"))
            .count(),
        6
    );
    assert_no_share(
        &std::fs::read_to_string(&log).expect("log"),
        &shares,
        "the audit log",
    );
}

/// What needs no person is checked before anyone is asked to check in: a missing output
/// directory stops the guided provisioning at once, with the reason, and no screen asks for
/// attendance (before, the room found out only after everyone had checked in).
#[test]
fn a_missing_output_directory_is_found_before_anyone_checks_in() {
    let room = Room::new();
    let ui = Tmux::start(
        "prov-nodir",
        room.dir.path(),
        80,
        24,
        &format!(
            "SOFTHSM2_CONF='{}' '{}' provision provision.toml --out no-such-dir",
            room.conf.display(),
            env!("CARGO_BIN_EXE_byok-ceremony")
        ),
    );
    let screen = ui.wait_for("EXIT=");
    assert!(screen.contains("EXIT=1"), "{screen}");
    assert!(screen.contains("no-such-dir"), "{screen}");
    assert!(!screen.contains("check in"), "{screen}");
    assert!(
        !ui.scrollback().contains("Attendance"),
        "attendance was asked for"
    );
}
