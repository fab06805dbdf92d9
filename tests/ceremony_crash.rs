//! Crash and recovery: the real binary is killed with SIGKILL right after each step is in the
//! log, then restarted to resume or abort. Afterwards the log verifies, no partial file is on
//! the media, and the token holds exactly the key objects the log accounts for (counted by
//! pkcs11-tool, an independent PKCS#11 client, logged in with the PIN the custodians' shares
//! rebuild).
mod ceremony;

use std::process::Command;

use byok_ceremony::quorum::share::PinGroup;
use byok_ceremony::quorum::share_file::share_in;
use byok_ceremony::quorum::split::combine_pin;
use ceremony::{Room, kill_after};

/// Objects labelled `test-target` on the room's token, as pkcs11-tool sees them after a
/// login with the PIN rebuilt from two shares.
fn target_objects(room: &Room) -> usize {
    let shares: Vec<_> = ["carol", "dave"]
        .iter()
        .map(|c| {
            let text = std::fs::read_to_string(room.path(&format!("provisioning/{c}.share.txt")))
                .expect("share file");
            share_in(&text, PinGroup::UserPin).expect("share")
        })
        .collect();
    let pin = combine_pin(&shares).expect("PIN");
    let out = Command::new("pkcs11-tool")
        .args(["--module", room.module.as_str(), "--login", "--pin"])
        .arg(pin.text().as_str())
        .args(["--list-objects"])
        .env("SOFTHSM2_CONF", &room.conf)
        .output()
        .expect("pkcs11-tool (package opensc) runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("label:") && l.contains("test-target"))
        .count()
}

fn no_partial_files(room: &Room) {
    for entry in std::fs::read_dir(room.path("out-usb")).expect("media") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        assert!(
            !name.starts_with(".byok-partial"),
            "a partial file was left: {name}"
        );
    }
}

fn crash_then(event: &str, recovery: &str) {
    let room = Room::new(&format!("crash {}", &event[..event.len().min(12)]));
    kill_after(&room, event);
    no_partial_files(&room);

    room.write_answers(&["carol", "dave"], Some(recovery));
    let out = room.run_ceremony();
    let log = room.path("state/test-ceremony.audit.jsonl");
    let verify = room.audit_verify(&log);
    assert!(
        verify.status.success(),
        "{event}/{recovery}: the log does not verify"
    );
    no_partial_files(&room);
    let stdout = String::from_utf8_lossy(&verify.stdout).into_owned();
    // A crash after `closed`: whichever the room chooses, the quorum only signs the end.
    let recovery = if event == "closed" {
        "resume"
    } else {
        recovery
    };
    match recovery {
        "resume" => {
            assert!(
                out.status.success(),
                "{event}: resume did not close the ceremony"
            );
            assert!(stdout.contains("final phase: Closed"), "{stdout}");
            // keep_in_hsm: one key pair, never a second one.
            assert_eq!(
                target_objects(&room),
                2,
                "{event}: not exactly one key pair"
            );
            assert!(room.path("out-usb/test-ceremony.byok").exists());
        }
        _ => {
            assert!(stdout.contains("final phase: Aborted"), "{stdout}");
            assert_eq!(
                target_objects(&room),
                0,
                "{event}: the aborted run left its key"
            );
        }
    }
}

macro_rules! crash_tests {
    ($($name:ident: $event:expr, $recovery:expr;)*) => {$(
        #[test]
        fn $name() {
            crash_then($event, $recovery);
        }
    )*};
}

crash_tests! {
    killed_after_attendance_then_resumed: "attendance_closed", "resume";
    killed_after_login_then_resumed: "logged_in", "resume";
    killed_after_kek_confirmation_then_resumed: "kek_confirmed", "resume";
    killed_after_key_generation_then_resumed: "key_generated", "resume";
    killed_after_wrap_then_resumed: "wrapped", "resume";
    killed_after_export_then_resumed: "exported", "resume";
    killed_after_verification_then_resumed: "verified", "resume";
    killed_during_sign_off_then_resumed: "signed_off", "resume";
    killed_after_close_before_its_checkpoint_then_resumed: "closed", "resume";
    killed_after_close_before_its_checkpoint_then_abort_chosen: "closed", "abort";
    killed_after_attendance_then_aborted: "attendance_closed", "abort";
    killed_after_login_then_aborted: "logged_in", "abort";
    killed_after_key_generation_then_aborted: "key_generated", "abort";
    killed_after_wrap_then_aborted: "wrapped", "abort";
    killed_after_export_then_aborted: "exported", "abort";
}

/// An abort after a crash leaves the key in the HSM: the quorum logs in once more to destroy it.
/// A second crash anywhere in that (before the login, after it, after the destruction) is
/// finished by a third run: the key goes, the end is signed, and the log verifies.
fn aborted_then_crash_at(event: &str) {
    let room = Room::new(&format!("abort crash {}", &event[..event.len().min(10)]));
    kill_after(&room, "key_generated");
    room.write_answers(&["carol", "dave"], Some("abort"));
    kill_after(&room, event);
    let log = room.path("state/test-ceremony.audit.jsonl");
    let cut = room.audit_verify(&log);
    assert!(!cut.status.success(), "{event}: an incomplete end verified");

    room.write_answers(&["carol", "dave"], Some("resume"));
    // An aborted ceremony exits 1 (it made no key for the cloud), but it ran to its end.
    let out = room.run_ceremony();
    assert_eq!(out.status.code(), Some(1), "{event}: the run failed");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Ceremony aborted."),
        "{event}: the end was not finished"
    );
    let verify = room.audit_verify(&log);
    let stdout = String::from_utf8_lossy(&verify.stdout).into_owned();
    assert!(verify.status.success(), "{event}: {stdout}");
    assert!(stdout.contains("final phase: Aborted"), "{stdout}");
    assert_eq!(
        target_objects(&room),
        0,
        "{event}: the aborted run left its key"
    );
    no_partial_files(&room);

    // Now it is over: a fourth run changes nothing.
    let again = room.run_ceremony();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already ran to its end"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

#[test]
fn an_abort_interrupted_before_the_quorum_logged_in_is_finished_by_the_next_run() {
    aborted_then_crash_at("aborted");
}

#[test]
fn an_abort_interrupted_after_the_login_is_finished_by_the_next_run() {
    aborted_then_crash_at("logged_in");
}

#[test]
fn an_abort_interrupted_after_the_key_was_destroyed_is_signed_by_the_next_run() {
    aborted_then_crash_at("key_destroyed");
}

/// Without a choice, a run that finds an incomplete end says so and changes nothing.
#[test]
fn an_unsigned_close_needs_the_room_s_choice_to_be_finished() {
    let room = Room::new("unsigned close");
    kill_after(&room, "closed");
    let log = room.path("state/test-ceremony.audit.jsonl");
    let before = std::fs::read(&log).expect("log");
    let cut = room.audit_verify(&log);
    let said =
        String::from_utf8_lossy(&cut.stderr).into_owned() + &String::from_utf8_lossy(&cut.stdout);
    assert!(!cut.status.success());
    assert!(
        said.contains("closing checkpoint was never signed"),
        "{said}"
    );

    room.write_answers(&["carol", "dave"], None);
    let out = room.run_ceremony();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--recover resume"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&log).expect("log"), before, "the log changed");
}
