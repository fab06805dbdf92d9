//! Tamper tests: one real log from a rehearsal on SoftHSM2 (the real binary), modified each way
//! an attacker or an accident could, each copy rejected by `audit verify` naming the right
//! entry (seq and line); the untouched log passes.
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use byok_ceremony::audit::checkpoint::{self, CheckpointSigner};
use byok_ceremony::audit::log::{Entry, GENESIS_PREV, stream};
use byok_ceremony::ceremony::machine::{Event, Role};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::EncodePublicKey;

/// SoftHSM2 2.7.0 (scripts/build-softhsm.sh): the default token, native wrap.
fn softhsm() -> std::path::PathBuf {
    byok_ceremony::hsm::throwaway::SoftToken::find_built_softhsm()
        .expect("SoftHSM2 2.7.0 is not built: run scripts/test.sh")
}
const NAME: &str = "tamper";

struct Rehearsal {
    dir: tempfile::TempDir,
    entries: Vec<Entry>,
}

impl Rehearsal {
    fn new() -> Rehearsal {
        let dir = tempfile::Builder::new()
            .prefix("audit-tamper-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("temp dir");
        std::fs::create_dir(dir.path().join("media")).expect("media dir");
        let out = Command::new(env!("CARGO_BIN_EXE_byok-ceremony"))
            .args(["rehearse", "--headless", "--name", NAME, "--module"])
            .arg(softhsm())
            .arg("--out")
            .arg(dir.path().join("media"))
            .output()
            .expect("the binary runs");
        assert!(
            out.status.success(),
            "rehearsal failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut entries = Vec::new();
        stream(
            &dir.path().join(format!("media/{NAME}.audit.jsonl")),
            |_, e| {
                entries.push(e);
                Ok(())
            },
        )
        .expect("the rehearsal log reads");
        Rehearsal { dir, entries }
    }

    fn media(&self) -> PathBuf {
        self.dir.path().join("media")
    }

    fn log(&self) -> PathBuf {
        self.media().join(format!("{NAME}.audit.jsonl"))
    }

    fn record(&self) -> PathBuf {
        self.media()
            .join(format!("{NAME}.provisioning-record.json"))
    }

    /// The seq of the first entry of `kind` (after seq `after`).
    fn seq_of(&self, kind: &str, after: u64) -> u64 {
        self.entries
            .iter()
            .find(|e| e.event.kind() == kind && e.seq > after)
            .unwrap_or_else(|| panic!("no {kind} after seq {after}"))
            .seq
    }

    /// Writes `lines` as a tampered copy named `case` and returns its path.
    fn write(&self, case: &str, lines: &[Vec<u8>]) -> PathBuf {
        let path = self.dir.path().join(format!("{case}.audit.jsonl"));
        std::fs::write(&path, lines.concat()).expect("tampered copy");
        path
    }

    fn lines(&self) -> Vec<Vec<u8>> {
        self.entries
            .iter()
            .map(|e| e.to_line().expect("line"))
            .collect()
    }

    /// Runs `audit verify` with the record (and `extra`); returns (success, stdout).
    fn verify(&self, log: &Path, extra: &[&std::ffi::OsStr]) -> (bool, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_byok-ceremony"))
            .args(["audit", "verify"])
            .arg(log)
            .arg("--record")
            .arg(self.record())
            .args(extra)
            .output()
            .expect("the binary runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    }
}

/// Recomputes seq, prev and hash of every entry: what a careful forger does.
fn rechain(entries: &mut [Entry]) -> Vec<Vec<u8>> {
    let mut prev = GENESIS_PREV.to_owned();
    entries
        .iter_mut()
        .enumerate()
        .map(|(i, e)| {
            e.seq = i as u64;
            e.prev = prev.clone();
            e.hash = e.compute_hash().expect("hash");
            prev = e.hash.clone();
            e.to_line().expect("line")
        })
        .collect()
}

fn note_of(e: &Entry) -> String {
    match &e.event {
        Event::Checkpoint { note, .. } => note.clone(),
        other => panic!("seq {} is {}, not a checkpoint", e.seq, other.kind()),
    }
}

fn set_note(e: &mut Entry, note: String) {
    if let Event::Checkpoint { note: n, .. } = &mut e.event {
        *n = note;
    }
}

struct Forger {
    key: SigningKey,
    spki: Vec<u8>,
    /// The name the forger signs under: the real audit key's (it is public).
    name: String,
}

impl CheckpointSigner for Forger {
    fn key_name(&self) -> &str {
        &self.name
    }
    fn public_spki_der(&self) -> &[u8] {
        &self.spki
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let sig: Signature = self.key.sign(message);
        Ok(sig.to_der().as_bytes().to_vec())
    }
}

/// Asserts that verify rejects `log`, naming entry `seq` on `line`, and says `why`.
fn rejected(
    r: &Rehearsal,
    case: &str,
    log: &Path,
    extra: &[&std::ffi::OsStr],
    at: (u64, u64),
    why: &str,
) {
    let (ok, out) = r.verify(log, extra);
    let named = format!("entry seq {} (line {})", at.0, at.1);
    assert!(
        !ok && out.contains(&named) && out.contains(why),
        "{case}: expected a rejection naming \"{named}\" and saying \"{why}\", got (success {ok}):\n{out}"
    );
    eprintln!("{case}: {}", out.trim());
}

#[test]
fn every_kind_of_tampering_is_rejected_at_the_right_entry() {
    let r = Rehearsal::new();
    let media = r.media();
    let media_args: [&std::ffi::OsStr; 2] = ["--media".as_ref(), media.as_os_str()];

    // The untouched log passes, with its artifacts.
    let (ok, out) = r.verify(&r.log(), &media_args);
    assert!(ok, "the untouched log must verify:\n{out}");
    assert!(out.contains("artifacts verified: 2"), "{out}");

    // An edited entry: the KEK fingerprint changed in place.
    let kek = r.seq_of("kek_loaded", 0);
    let fingerprint = match &r.entries[kek as usize].event {
        Event::KekLoaded {
            fingerprint_sha256, ..
        } => fingerprint_sha256.clone(),
        _ => unreachable!(),
    };
    let forged_fp = "00".repeat(32);
    let mut lines = r.lines();
    lines[kek as usize] = String::from_utf8(lines[kek as usize].clone())
        .expect("utf8")
        .replace(&fingerprint, &forged_fp)
        .into_bytes();
    let log = r.write("edited", &lines);
    rejected(&r, "edited entry", &log, &[], (kek, kek + 1), "was edited");

    // The same edit with that entry's hash recomputed: the next entry no longer chains.
    let mut entries = r.entries.clone();
    if let Event::KekLoaded {
        fingerprint_sha256, ..
    } = &mut entries[kek as usize].event
    {
        *fingerprint_sha256 = forged_fp.clone();
    }
    entries[kek as usize].hash = entries[kek as usize].compute_hash().expect("hash");
    let lines: Vec<Vec<u8>> = entries.iter().map(|e| e.to_line().expect("line")).collect();
    let log = r.write("edited-rehashed", &lines);
    rejected(
        &r,
        "edited entry, its hash recomputed",
        &log,
        &[],
        (kek + 1, kek + 2),
        &format!("seq {kek}, line {}", kek + 1),
    );

    // The same edit with the whole chain recomputed: the signed checkpoint after it catches it.
    let lines = rechain(&mut entries);
    let log = r.write("edited-rechained", &lines);
    let cp = r.seq_of("checkpoint", kek);
    rejected(
        &r,
        "edited entry, chain recomputed",
        &log,
        &[],
        (cp, cp + 1),
        "checkpoint",
    );

    // A deleted entry: the first KEK confirmation.
    let confirmed = r.seq_of("kek_confirmed", 0);
    let mut lines = r.lines();
    lines.remove(confirmed as usize);
    let log = r.write("deleted", &lines);
    rejected(
        &r,
        "deleted entry",
        &log,
        &[],
        (confirmed + 1, confirmed + 1),
        "missing (deleted)",
    );

    // Reordered entries: two sign-offs swapped.
    let signed = r.seq_of("signed_off", 0);
    let mut lines = r.lines();
    lines.swap(signed as usize, signed as usize + 1);
    let log = r.write("reordered", &lines);
    rejected(
        &r,
        "reordered entries",
        &log,
        &[],
        (signed + 1, signed + 1),
        "where seq",
    );

    // An entry inserted with a recomputed chain: a machine-valid rejected share in the quorum
    // phase. The next signed checkpoint covers one entry fewer than the log now holds there.
    let share = r.seq_of("share_presented", 0);
    let mut entries = r.entries.clone();
    let mut inserted = entries[share as usize].clone();
    inserted.actor = Some("carol".into());
    inserted.role = Some(Role::Custodian);
    inserted.event = Event::ShareRejected {
        custodian: "carol".into(),
        reason: "inserted by a forger".into(),
    };
    entries.insert(share as usize, inserted);
    let lines = rechain(&mut entries);
    let log = r.write("inserted", &lines);
    let cp = r.seq_of("checkpoint", share) + 1;
    rejected(
        &r,
        "inserted entry, chain recomputed",
        &log,
        &[],
        (cp, cp + 1),
        "inserted, removed or changed",
    );

    // Truncation after a signed checkpoint (the one after the wrap).
    let wrap_cp = r.seq_of("checkpoint", r.seq_of("wrapped", 0));
    let lines = r.lines()[..=wrap_cp as usize].to_vec();
    let log = r.write("truncated", &lines);
    rejected(
        &r,
        "truncated after a checkpoint",
        &log,
        &[],
        (wrap_cp, wrap_cp + 1),
        "never closed",
    );

    // The closing checkpoint cut off: the end is no longer signed.
    let n = r.entries.len();
    let lines = r.lines()[..n - 1].to_vec();
    let log = r.write("unsigned-end", &lines);
    let first_unsigned = r.seq_of("checkpoint", r.seq_of("verified", 0)) + 1;
    rejected(
        &r,
        "closing checkpoint removed",
        &log,
        &[],
        (first_unsigned, first_unsigned + 1),
        "no signed checkpoint covers",
    );

    // Anything appended after close, chain recomputed: a deviation, and a second closing
    // checkpoint (a copy of the real one).
    for (case, event) in [
        (
            "appended deviation",
            Event::DeviationRecorded {
                by: "oscar".into(),
                text: "added after the fact".into(),
            },
        ),
        ("appended checkpoint", r.entries[n - 1].event.clone()),
    ] {
        let mut entries = r.entries.clone();
        let mut extra = entries[n - 1].clone();
        extra.actor = event.actor().map(str::to_owned);
        extra.role = Some(if extra.actor.is_some() {
            Role::Administrator
        } else {
            Role::System
        });
        extra.event = event;
        entries.push(extra);
        let lines = rechain(&mut entries);
        let log = r.write(&case.replace(' ', "-"), &lines);
        rejected(
            &r,
            case,
            &log,
            &[],
            (n as u64, n as u64 + 1),
            "nothing may be added",
        );
    }

    // A forged signature: one byte of the quorum checkpoint's signature changed, chain
    // recomputed.
    let cp = r.seq_of("checkpoint", 0);
    let mut entries = r.entries.clone();
    let note = note_of(&entries[cp as usize]);
    let (text, sig_line) = note.split_once("\n\n").expect("signed note");
    let (name, b64) = sig_line
        .trim_end()
        .rsplit_once(' ')
        .expect("signature line");
    let mut blob = STANDARD.decode(b64).expect("base64");
    let last = blob.len() - 1;
    blob[last] ^= 0x01;
    set_note(
        &mut entries[cp as usize],
        format!("{text}\n\n{name} {}\n", STANDARD.encode(&blob)),
    );
    let lines = rechain(&mut entries);
    let log = r.write("forged-signature", &lines);
    rejected(
        &r,
        "forged signature",
        &log,
        &[],
        (cp, cp + 1),
        "does not verify",
    );

    // A signature by another key (the forger's own), chain recomputed.
    let key = SigningKey::from_slice(&[0x42; 32]).expect("key");
    let forger = Forger {
        spki: key
            .verifying_key()
            .to_public_key_der()
            .expect("spki")
            .as_bytes()
            .to_vec(),
        key,
        name: match &r.entries[0].event {
            Event::CeremonyOpened { hsm, .. } => format!("byok-ceremony.audit/{}", hsm.serial),
            _ => unreachable!(),
        },
    };
    let mut entries = r.entries.clone();
    let e = &entries[cp as usize];
    let resigned = checkpoint::sign(&forger, NAME, e.seq, &e.prev).expect("sign");
    set_note(&mut entries[cp as usize], resigned);
    let lines = rechain(&mut entries);
    let log = r.write("other-key", &lines);
    rejected(
        &r,
        "signed by another key",
        &log,
        &[],
        (cp, cp + 1),
        "no signature from the audit key",
    );

    // A missing signature: the signature line removed from a checkpoint note, chain recomputed.
    let mut entries = r.entries.clone();
    let unsigned = note_of(&entries[wrap_cp as usize]);
    let (text_only, _signatures) = unsigned.split_once("\n\n").expect("signed note");
    set_note(&mut entries[wrap_cp as usize], format!("{text_only}\n\n"));
    let lines = rechain(&mut entries);
    let log = r.write("missing-signature", &lines);
    rejected(
        &r,
        "missing signature",
        &log,
        &[],
        (wrap_cp, wrap_cp + 1),
        "no signature from the audit key",
    );

    // The last entry is trusted no more than any other. Its signature line renamed to another
    // key (the signature itself untouched), that entry's hash recomputed (nothing follows it).
    let last = r.entries.len() - 1;
    let mut entries = r.entries.clone();
    let note = note_of(&entries[last]);
    let name = note
        .lines()
        .last()
        .and_then(|l| l.strip_prefix("\u{2014} "))
        .and_then(|l| l.rsplit_once(' '))
        .map(|(n, _)| n.to_owned())
        .expect("signature line");
    set_note(
        &mut entries[last],
        note.replace(&name, "totally bogus key name"),
    );
    entries[last].hash = entries[last].compute_hash().expect("hash");
    let lines: Vec<Vec<u8>> = entries.iter().map(|e| e.to_line().expect("line")).collect();
    let log = r.write("renamed-closing-key", &lines);
    rejected(
        &r,
        "closing checkpoint under a bogus key name",
        &log,
        &[],
        (last as u64, last as u64 + 1),
        "not the audit key's",
    );
    // Its time set to 1970, its hash recomputed.
    let mut entries = r.entries.clone();
    entries[last].utc = "1970-01-01T00:00:00.000Z".into();
    entries[last].hash = entries[last].compute_hash().expect("hash");
    let lines: Vec<Vec<u8>> = entries.iter().map(|e| e.to_line().expect("line")).collect();
    let log = r.write("redated-closing", &lines);
    rejected(
        &r,
        "closing checkpoint dated 1970",
        &log,
        &[],
        (last as u64, last as u64 + 1),
        "before the ceremony opened",
    );

    // The record is more than its audit key: a record of another token (serial, label) or
    // of other custodians does not verify the log, though its audit key is the right one.
    let record_text = std::fs::read_to_string(r.record()).expect("record");
    let serial = match &r.entries[0].event {
        Event::CeremonyOpened { hsm, .. } => hsm.serial.clone(),
        _ => unreachable!(),
    };
    for (case, from, to, why) in [
        (
            "record of another token",
            format!("\"serial\": \"{serial}\""),
            "\"serial\": \"0000000000000000\"".to_owned(),
            "give the record of the token the ceremony used",
        ),
        (
            "record of other custodians",
            "\"name\": \"bob\"".to_owned(),
            "\"name\": \"mallory\"".to_owned(),
            "custodians",
        ),
    ] {
        assert!(
            record_text.contains(&from),
            "{case}: {from} not in the record"
        );
        let other = r
            .dir
            .path()
            .join(format!("{}.json", case.replace(' ', "-")));
        std::fs::write(&other, record_text.replace(&from, &to)).expect("record copy");
        let out = Command::new(env!("CARGO_BIN_EXE_byok-ceremony"))
            .args(["audit", "verify"])
            .arg(r.log())
            .arg("--record")
            .arg(&other)
            .output()
            .expect("the binary runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && text.contains("entry seq 0 (line 1)") && text.contains(why),
            "{case}: {text}"
        );
    }

    // A swapped artifact: the .byok replaced by another valid .byok.
    let swapped = r.dir.path().join("swapped-media");
    std::fs::create_dir(&swapped).expect("dir");
    for f in ["byok", "manifest.json"] {
        std::fs::copy(
            media.join(format!("{NAME}.{f}")),
            swapped.join(format!("{NAME}.{f}")),
        )
        .expect("copy");
    }
    std::fs::remove_file(swapped.join(format!("{NAME}.byok"))).expect("remove");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/independent/rsa-2048.kek-2048.byok"),
        swapped.join(format!("{NAME}.byok")),
    )
    .expect("another valid .byok");
    let exported = r.seq_of("exported", 0);
    rejected(
        &r,
        "swapped artifact",
        &r.log(),
        &["--media".as_ref(), swapped.as_os_str()],
        (exported, exported + 1),
        "swapped or altered",
    );

    // The script check: a script that is not the one the ceremony ran.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("ceremony-scripts/rehearsal.toml");
    rejected(
        &r,
        "wrong script",
        &r.log(),
        &["--script".as_ref(), script.as_os_str()],
        (0, 1),
        "not the script the ceremony ran",
    );

    // A torn last line (a write cut off) names the line.
    let mut bytes = r.lines().concat();
    bytes.truncate(bytes.len() - 10);
    let torn = r.dir.path().join("torn.audit.jsonl");
    std::fs::write(&torn, bytes).expect("torn copy");
    let (ok, out) = r.verify(&torn, &[]);
    assert!(
        !ok && out.contains(&format!("line {n}: the last line is incomplete")),
        "{out}"
    );
}
