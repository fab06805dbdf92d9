//! The guided re-split in a real pseudo-terminal (tmux, 80x24): a SoftHSM2 token provisioned
//! 2-of-3 headless (carol, dave, erin; the SO PIN too, and it is carried over), then re-split through the real binary to carol, dave
//! and frank: carol first types a mistyped old share (refused, on screen and in the audit
//! log), then carol and dave type their old shares, RESPLIT is typed, and each new custodian
//! is shown their new share and types it back. Then: the old shares no longer log in, any 2
//! new ones do, the audit log verifies and records the refusal, and neither old nor new share
//! is left in the terminal or its scrollback.
//!
//! One test function: this process points SOFTHSM2_CONF at its own token directory once,
//! before any module is loaded, and the spawned binary gets the same variable.
mod share_room;
mod tmux;

use std::path::{Path, PathBuf};
use std::process::Command;

use byok_ceremony::audit::log::{stream_of, verify_chain};
use byok_ceremony::hsm::Hsm;
use byok_ceremony::hsm::ffi::set_token_config_env;
use byok_ceremony::hsm_types::token::TokenSelector;
use byok_ceremony::quorum::events::{PresentOutcome, QuorumEvent, RejectReason};
use byok_ceremony::quorum::provision::AUDIT_LOG_NAME;
use byok_ceremony::quorum::{LoginError, LoginPolicy, PinGroup, ProvisioningRecord, QuorumLogin};
use share_room::{SOFTHSM2, assert_no_share, grouped_share, token_dir};
use tmux::Tmux;

const LABEL: &str = "tui resplit";

/// A directory with its own SoftHSM2 token store, the provisioning and re-split scripts, and
/// empty `old` and `new` output directories.
struct Room {
    dir: tempfile::TempDir,
    conf: PathBuf,
}

impl Room {
    fn new() -> Room {
        let (dir, conf) = token_dir("resplit-room-", &["old", "new"]);
        let head = format!(
            "format = \"byok-ceremony provisioning script\"\nversion = 1\nrehearsal = true\n\n[token]\nmodule = \"{SOFTHSM2}\"\n"
        );
        std::fs::write(
            dir.path().join("provision.toml"),
            format!(
                "{head}mode = \"initialise\"\nlabel = \"{LABEL}\"\n\n[user_pin]\nthreshold = 2\ncustodians = [\"carol\", \"dave\", \"erin\"]\n\n[so_pin]\nthreshold = 2\ncustodians = [\"carol\", \"dave\", \"erin\"]\n"
            ),
        )
        .expect("script");
        // erin leaves, frank joins.
        std::fs::write(
            dir.path().join("resplit.toml"),
            format!(
                "{head}mode = \"adopt\"\nlabel = \"{LABEL}\"\n\n[user_pin]\nthreshold = 2\ncustodians = [\"carol\", \"dave\", \"frank\"]\n"
            ),
        )
        .expect("script");
        Room { dir, conf }
    }

    /// `old` or `new`.
    fn out(&self, which: &str) -> PathBuf {
        self.dir.path().join(which)
    }

    /// The user-PIN share in `custodian`'s file of the `which` split, in groups of five.
    fn share(&self, which: &str, custodian: &str) -> String {
        grouped_share(
            &self.out(which).join(format!("{custodian}.share.txt")),
            PinGroup::UserPin,
        )
    }

    fn record(&self, which: &str) -> ProvisioningRecord {
        ProvisioningRecord::parse(
            &std::fs::read(self.out(which).join("provisioning-record.json")).expect("record"),
        )
        .expect("strict record")
    }
}

/// `share` with one character of its middle changed: a typo the checksum catches.
fn mistyped(share: &str) -> String {
    let mut chars: Vec<char> = share.chars().collect();
    let i = chars.len() / 2;
    let i = if chars[i] == ' ' { i + 1 } else { i };
    chars[i] = if chars[i] == 'q' { 'p' } else { 'q' };
    chars.into_iter().collect()
}

fn provision_headless(room: &Room) {
    let out = Command::new(env!("CARGO_BIN_EXE_byok-ceremony"))
        .args(["provision", "provision.toml", "--headless", "--out", "old"])
        .env("SOFTHSM2_CONF", &room.conf)
        .current_dir(room.dir.path())
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Script, attendance (carol, dave, frank; erin has left).
fn open(ui: &Tmux) {
    ui.wait_for_all(&["Re-split script", "Enter: go to attendance"]);
    ui.keys(&["Enter"]);
    ui.wait_for_all(&["Enter: check in", "erin"]);
    for name in ["carol", "dave", "frank"] {
        ui.keys(&["Enter"]);
        ui.wait_until(&format!("{name} ticked"), |s| {
            s.lines()
                .any(|l| l.contains(&format!(" {name} ")) && l.contains("[x]"))
        });
    }
    ui.keys(&["c"]);
}

/// The custodian under the cursor types `text` as their old share and submits it; the typed
/// characters never reach the screen.
fn type_old_share(ui: &Tmux, who: &str, text: &str) {
    ui.wait_for_all(&[&format!("Enter: {who} types their old share")]);
    ui.keys(&["Enter"]);
    ui.wait_for_all(&[&format!("{who}'s old share (hidden)"), "(0 typed)"]);
    ui.type_text(text);
    let letters = text.chars().filter(char::is_ascii_alphanumeric).count();
    let screen = ui.wait_for_all(&[&format!("({letters} typed)")]);
    assert_no_share(&screen, &[text.to_owned()], "the screen while typing");
    ui.keys(&["Enter"]);
}

/// One new custodian's turn: shown, copied, hidden, typed back. Returns the share shown.
fn hand_out(ui: &Tmux, room: &Room, number: usize, name: &str) -> String {
    ui.wait_for_all(&[
        &format!("Custodian {number} of 3: {}", name.to_uppercase()),
        &format!("Enter: show {name}'s share"),
    ]);
    let share = room.share("new", name);
    ui.keys(&["Enter"]);
    let first_row: String = share.split(' ').take(5).collect::<Vec<_>>().join(" ");
    ui.wait_for_all(&["Enter: I have copied it", &first_row]);
    ui.keys(&["Enter"]);
    ui.wait_for_all(&["Check your copy", "Enter: check"]);
    let groups: Vec<&str> = share.split(' ').collect();
    let back = groups[groups.len() - 2..].join(" ");
    ui.type_text(&back);
    ui.wait_for_all(&[&format!("({} typed)", back.replace(' ', "").len())]);
    ui.keys(&["Enter"]);
    share
}

/// The old shares no longer log in; any two new ones do, one does not.
fn only_the_new_shares_log_in(room: &Room) {
    let (old, new) = (room.record("old"), room.record("new"));
    assert_eq!(new.supersedes, Some(old.user_pin.split_id));
    assert_eq!(new.audit_key, old.audit_key);
    let hsm = Hsm::load(Path::new(SOFTHSM2)).expect("SoftHSM2");
    let slot = hsm
        .find_token(&TokenSelector::Label(LABEL.into()))
        .expect("the token");
    let session = hsm.open_session(slot).expect("session");
    let login = |record: &ProvisioningRecord, which: &str, pair: [&str; 2]| {
        let mut quorum = QuorumLogin::new(record, PinGroup::UserPin).expect("quorum");
        for c in pair {
            quorum.offer(&room.share(which, c)).expect("share accepted");
        }
        quorum.login(&session, LoginPolicy::default())
    };
    let e = login(&old, "old", ["carol", "dave"]).expect_err("the old shares");
    assert!(matches!(e, LoginError::Refused { .. }), "{e}");
    for pair in [["carol", "dave"], ["dave", "frank"], ["carol", "frank"]] {
        login(&new, "new", pair).unwrap_or_else(|e| panic!("{pair:?} did not log in: {e}"));
        session.session().logout().expect("log out");
    }
    let mut one = QuorumLogin::new(&new, PinGroup::UserPin).expect("quorum");
    one.offer(&room.share("new", "frank")).expect("accepted");
    assert!(one.login(&session, LoginPolicy::default()).is_err());
}

/// The audit log verifies; it records the refused share, then carol's and dave's, and the
/// new PIN replacing the old split.
fn the_audit_log_verifies(room: &Room, shares: &[String]) {
    let log = room.out("new").join(AUDIT_LOG_NAME);
    let (entries, _head) = verify_chain::<QuorumEvent>(&log).expect("the chain verifies");
    let mut presented = Vec::new();
    let mut replaced = false;
    stream_of::<QuorumEvent>(&log, |_, e| {
        match &e.event {
            QuorumEvent::SharePresented {
                custodian, outcome, ..
            } => presented.push((custodian.clone(), outcome.clone())),
            QuorumEvent::PinSet { replaces, .. } => replaced = replaces.is_some(),
            _ => {}
        }
        Ok(())
    })
    .expect("stream");
    assert!(entries > 5);
    assert_eq!(
        presented,
        [
            (None, PresentOutcome::Rejected(RejectReason::Mistyped)),
            (Some("carol".into()), PresentOutcome::Accepted),
            (Some("dave".into()), PresentOutcome::Accepted),
        ]
    );
    assert!(replaced, "the PIN set replaces the old split");
    assert_no_share(
        &std::fs::read_to_string(&log).expect("log"),
        shares,
        "the audit log",
    );
}

#[test]
fn a_guided_resplit_takes_typed_old_shares_and_hands_out_new_ones() {
    let room = Room::new();
    // Before any module is loaded in this process, and while this is its only test.
    set_token_config_env("SOFTHSM2_CONF", room.conf.as_os_str());
    provision_headless(&room);
    let (carol_old, dave_old) = (room.share("old", "carol"), room.share("old", "dave"));
    let ui = Tmux::start(
        "resplit-e2e",
        room.dir.path(),
        80,
        24,
        &format!(
            "SOFTHSM2_CONF='{}' '{}' provision resplit.toml --resplit old/provisioning-record.json --out new",
            room.conf.display(),
            env!("CARGO_BIN_EXE_byok-ceremony")
        ),
    );
    open(&ui);
    ui.wait_for_all(&["Old shares accepted: 0 of 2"]);
    type_old_share(&ui, "carol", &mistyped(&carol_old));
    ui.wait_for_all(&["REFUSED", "the share is mistyped", "in the audit log"]);
    type_old_share(&ui, "carol", &carol_old);
    ui.wait_for_all(&["Accepted: share number", "Old shares accepted: 1 of 2"]);
    type_old_share(&ui, "dave", &dave_old);
    ui.wait_for_all(&["Confirm the re-split", "type RESPLIT"]);
    ui.type_text("RESPLIT");
    ui.wait_for_all(&["> RESPLIT_"]);
    ui.keys(&["Enter"]);
    let mut shares = vec![carol_old, dave_old];
    for (i, name) in ["carol", "dave", "frank"].iter().enumerate() {
        shares.push(hand_out(&ui, &room, i + 1, name));
    }
    ui.wait_for_all(&["has a new user-PIN split", "no longer log in", "q: quit"]);
    assert_no_share(&ui.scrollback(), &shares, "the terminal after the hand-out");
    ui.keys(&["q"]);
    let report = ui.wait_for_all(&["Re-split the user PIN of", "EXIT=0"]);
    assert!(report.contains("no longer log in"), "{report}");
    assert_no_share(
        &ui.scrollback(),
        &shares,
        "the scrollback after the tool ended",
    );

    only_the_new_shares_log_in(&room);
    the_audit_log_verifies(&room, &shares);
}
