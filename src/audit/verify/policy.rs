//! The policy stage: every line parsed strictly, held to its canonical form, and replayed
//! through the same ceremony machine that ran the ceremony; checkpoint signatures checked
//! against the audit key. Keeps only the machine's state and a few facts: constant memory.
use crate::audit::checkpoint;
use crate::audit::log::Entry;
use crate::ceremony::machine::{self, Event, MachineConfig, QuorumMode, Role, State};
use crate::hsm_types::token::TokenIdentity;
use crate::quorum::record::ProvisioningRecord;

use super::Fault;
use super::canonical::{Canonical, Verdict};

/// A real ceremony records a handful of these; the cap keeps the replayed state (and so the
/// verifier's memory and time) bounded whatever the input.
pub const MAX_RECORDS: usize = 10_000;

/// An entry as the policy reads it, wherever its text is kept (in the entry, or in the line
/// the one-pass parser read it from). Text as bytes: UTF-8 already, and most of it is only
/// compared, so it is not validated again.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    pub seq: u64,
    pub utc: &'a [u8],
    pub mono_ms: u64,
    pub actor: Option<&'a [u8]>,
    pub role: Option<Role>,
    pub event: &'a Event,
    pub prev: &'a [u8],
    pub hash: &'a [u8],
}

impl<'a> From<&'a Entry> for View<'a> {
    fn from(e: &'a Entry) -> View<'a> {
        View {
            seq: e.seq,
            utc: e.utc.as_bytes(),
            mono_ms: e.mono_ms,
            actor: e.actor.as_deref().map(str::as_bytes),
            role: e.role,
            event: &e.event,
            prev: e.prev.as_bytes(),
            hash: e.hash.as_bytes(),
        }
    }
}

/// Where an entry is: its seq and 1-based line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At {
    pub seq: u64,
    pub line: u64,
}

/// What the replay learned that the final checks need.
/// A wrap for Google Cloud or AWS, as the log recorded it.
#[derive(Debug, Clone)]
pub struct TargetOutput {
    pub cloud: crate::cloud::Cloud,
    pub file: String,
    pub sha256: String,
    pub algorithm: String,
    pub kek_fingerprint: String,
    pub import_token_sha256: Option<String>,
    pub at: At,
}

#[derive(Debug, Default)]
pub struct Replay {
    pub state: State,
    pub entries: u64,
    pub last: Option<At>,
    pub script_sha256: Option<String>,
    /// The last export: its files and where it was logged.
    pub exported: Option<(Vec<machine::FileRecord>, At)>,
    /// The wrap: the .byok's hash and the hash of the entry that logged it.
    pub wrapped: Option<(String, String, At)>,
    /// The Google Cloud and AWS wraps, in the log's order.
    pub target_outputs: Vec<TargetOutput>,
    /// The hash of the entry of the last wrap (of any cloud): the manifest's log head.
    pub last_wrap_entry: Option<String>,
    /// Signed checkpoints verified, and the last one.
    pub checkpoints: usize,
    pub last_checkpoint: Option<At>,
    /// The first entry that no later signed checkpoint covers.
    pub first_unsigned: Option<At>,
}

#[derive(Debug)]
pub struct Policy<'k> {
    audit_key: Option<&'k [u8]>,
    record: Option<&'k ProvisioningRecord>,
    mono_ms: u64,
    /// The wall-clock time of the first entry, and of the entry before this one.
    first_utc: Vec<u8>,
    last_utc: Vec<u8>,
    /// The only key name a checkpoint may carry: the audit key of the genesis entry's token.
    key_name: String,
    pub replay: Replay,
}

impl<'k> Policy<'k> {
    pub fn new(audit_key: Option<&'k [u8]>, record: Option<&'k ProvisioningRecord>) -> Self {
        Policy {
            audit_key,
            record,
            mono_ms: 0,
            first_utc: Vec::new(),
            last_utc: Vec::new(),
            key_name: String::new(),
            replay: Replay::default(),
        }
    }

    /// Checks the entry on line `number`, parsed and held to its canonical form by `entry`;
    /// the chain has already been checked up to it.
    ///
    /// The machine applies the event in place: when this returns a fault, the replayed state
    /// may include that entry. Verify stops at the first fault, so nothing reads it after.
    pub fn check(&mut self, number: u64, entry: &View<'_>) -> Result<(), Fault> {
        let seq = self.replay.entries;
        let at = At { seq, line: number };
        let fail = |problem: String| Fault::entry(seq, number, problem);
        if entry.seq != seq {
            return Err(fail(format!("carries seq {} out of order", entry.seq)));
        }
        self.consistent(entry).map_err(fail)?;
        if let Event::CeremonyOpened {
            config,
            rehearsal,
            hsm,
            ..
        } = entry.event
        {
            roles_distinct(config, *rehearsal).map_err(fail)?;
            if let Some(record) = self.record {
                record_matches(record, hsm, config).map_err(fail)?;
            }
            self.key_name = crate::hsm_types::token::audit_key_name(&hsm.serial);
        }
        // The machine first: an event it refuses is refused whatever its signature. (A checkpoint
        // changes neither the ceremony id nor the last checkpoint, which `signed` reads.)
        machine::apply(&mut self.replay.state, entry.event).map_err(|r| fail(r.to_string()))?;
        bounded(&self.replay.state).map_err(fail)?;
        if let Event::Checkpoint { note, .. } = entry.event {
            self.signed(note, entry).map_err(fail)?;
            self.replay.checkpoints += 1;
            self.replay.last_checkpoint = Some(at);
            self.replay.first_unsigned = None;
        } else if self.replay.first_unsigned.is_none() {
            self.replay.first_unsigned = Some(at);
        }
        self.observe(entry, at);
        self.replay.entries += 1;
        self.replay.last = Some(at);
        Ok(())
    }

    /// The entry's own fields agree with its event and the script's roles.
    fn consistent(&mut self, entry: &View<'_>) -> Result<(), String> {
        let actor = entry.event.actor();
        if entry.actor != actor.map(str::as_bytes) {
            return Err(format!(
                "names {} as its actor, but the event says {}",
                who(entry.actor.map(String::from_utf8_lossy).as_deref()),
                who(actor)
            ));
        }
        let config = match entry.event {
            Event::CeremonyOpened { config, .. } => Some(config),
            _ => self.replay.state.config.as_ref(),
        };
        let role = expected_role(config, actor);
        if entry.role != role {
            return Err(format!(
                "is logged with role {}, but the script makes {} {}",
                role_name(entry.role),
                who(actor),
                role_name(role)
            ));
        }
        if super::utc::Utc::parse_bytes(entry.utc).is_none() {
            return Err(format!(
                "has the time \"{}\", not the UTC form the tool writes (2026-11-29T13:25:40.123Z)",
                String::from_utf8_lossy(entry.utc)
            ));
        }
        let restarted = matches!(
            entry.event,
            Event::Resumed { .. }
                | Event::Aborted {
                    after_crash: true,
                    ..
                }
        );
        if entry.mono_ms < self.mono_ms && !restarted {
            return Err(format!(
                "its monotonic time ({} ms) is earlier than the entry before it ({} ms) though no restart is recorded: entries were reordered",
                entry.mono_ms, self.mono_ms
            ));
        }
        self.mono_ms = entry.mono_ms;
        // The wall clock: never before the ceremony opened, and never back within a run (a
        // log whose entries were re-dated, a closing checkpoint dated 1970).
        if self.first_utc.is_empty() {
            self.first_utc = entry.utc.to_vec();
        } else if entry.utc < self.first_utc.as_slice() {
            return Err(format!(
                "is dated {}, before the ceremony opened ({}): its time was changed",
                String::from_utf8_lossy(entry.utc),
                String::from_utf8_lossy(&self.first_utc)
            ));
        } else if entry.utc < self.last_utc.as_slice() && !restarted {
            return Err(format!(
                "is dated {}, earlier than the entry before it ({}) though no restart is recorded: its time was changed",
                String::from_utf8_lossy(entry.utc),
                String::from_utf8_lossy(&self.last_utc)
            ));
        }
        self.last_utc = entry.utc.to_vec();
        Ok(())
    }

    fn signed(&self, note: &str, entry: &View<'_>) -> Result<(), String> {
        let key = self.audit_key.ok_or(
            "is a signed checkpoint, but no audit key was given to check it: pass --record (the token's provisioning record) or --audit-key",
        )?;
        let id = self
            .replay
            .state
            .config
            .as_ref()
            .map(|c| c.ceremony_id.as_str())
            .unwrap_or_default();
        // The chain found `prev` to be hex, so this is never lossy.
        let prev = String::from_utf8_lossy(entry.prev);
        checkpoint::verify(note, id, entry.seq, &prev, key, &self.key_name).map_err(|e| {
            let hint = match self.replay.last_checkpoint {
                Some(c) => format!(
                    " (the last good checkpoint is seq {}, line {}: look between it and here)",
                    c.seq, c.line
                ),
                None => " (look between the start of the log and here)".into(),
            };
            match e {
                checkpoint::CheckpointError::Mismatch { .. } => {
                    format!("checkpoint: {e}, then the chain was recomputed{hint}")
                }
                _ => format!("checkpoint: {e}"),
            }
        })
    }

    fn observe(&mut self, entry: &View<'_>, at: At) {
        match entry.event {
            Event::CeremonyOpened { script_sha256, .. } => {
                self.replay.script_sha256 = Some(script_sha256.clone());
            }
            Event::Exported { files } => self.replay.exported = Some((files.clone(), at)),
            Event::Wrapped { byok_sha256, .. } => {
                let hash = String::from_utf8_lossy(entry.hash).into_owned();
                self.replay.wrapped = Some((byok_sha256.clone(), hash.clone(), at));
                self.replay.last_wrap_entry = Some(hash);
            }
            Event::TargetWrapped {
                target,
                algorithm,
                kek_fingerprint_sha256,
                file,
                sha256,
                import_token_b64,
                ..
            } => {
                use base64::Engine as _;
                let token_sha256 = import_token_b64.as_ref().map(|b| {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(b)
                        .unwrap_or_default();
                    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes))
                });
                self.replay.target_outputs.push(TargetOutput {
                    cloud: *target,
                    file: file.clone(),
                    sha256: sha256.clone(),
                    algorithm: algorithm.clone(),
                    kek_fingerprint: kek_fingerprint_sha256.clone(),
                    import_token_sha256: token_sha256,
                    at,
                });
                self.replay.last_wrap_entry =
                    Some(String::from_utf8_lossy(entry.hash).into_owned());
            }
            _ => {}
        }
    }
}

/// The provisioning record given to the auditor is the one of the token the ceremony ran on:
/// same token (serial, label, manufacturer, model), and for a split PIN the same custodians
/// and threshold as the script the log pins.
fn record_matches(
    record: &ProvisioningRecord,
    hsm: &TokenIdentity,
    config: &MachineConfig,
) -> Result<(), String> {
    let t = &record.token;
    if (
        t.serial.as_str(),
        t.label.as_str(),
        t.manufacturer.as_str(),
        t.model.as_str(),
    ) != (
        hsm.serial.as_str(),
        hsm.label.as_str(),
        hsm.manufacturer.as_str(),
        hsm.model.as_str(),
    ) {
        return Err(format!(
            "the ceremony ran on token \"{}\" (serial {}, {} {}), but the provisioning record given is for token \"{}\" (serial {}, {} {}): give the record of the token the ceremony used",
            hsm.label,
            hsm.serial,
            hsm.manufacturer,
            hsm.model,
            t.label,
            t.serial,
            t.manufacturer,
            t.model
        ));
    }
    if let QuorumMode::SplitPin { threshold } = config.quorum {
        let mut recorded: Vec<&str> = record
            .user_pin
            .custodians
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        let mut scripted: Vec<&str> = config.custodians.iter().map(String::as_str).collect();
        recorded.sort_unstable();
        scripted.sort_unstable();
        if recorded != scripted || record.user_pin.threshold != threshold {
            return Err(format!(
                "the script names custodians {scripted:?} with threshold {threshold}, but the provisioning record's user PIN is split {} of {:?}: give the record that matches the ceremony (after a re-split, the new one)",
                record.user_pin.threshold, recorded
            ));
        }
    }
    Ok(())
}

/// The script's static rules, re-checked on the configuration the log pins: every person
/// holds one role, and the quorum is between 1 (rehearsal) or 2 and the custodians.
fn roles_distinct(config: &MachineConfig, rehearsal: bool) -> Result<(), String> {
    let mut people = vec![&config.administrator, &config.witness];
    people.extend(config.auditor.iter());
    people.extend(config.custodians.iter());
    for (i, p) in people.iter().enumerate() {
        if p.trim().is_empty() {
            return Err("the ceremony opened with a role held by nobody".into());
        }
        if people[..i].contains(p) {
            return Err(format!(
                "the ceremony opened with \"{p}\" holding two roles; roles must be distinct people"
            ));
        }
    }
    let (threshold, total) = match config.quorum {
        machine::QuorumMode::SplitPin { threshold } => (threshold, config.custodians.len()),
        machine::QuorumMode::HsmNative { threshold, total } => (threshold, usize::from(total)),
    };
    let min = if rehearsal { 1 } else { 2 };
    if threshold < min || usize::from(threshold) > total.min(config.custodians.len()) {
        return Err(format!(
            "the ceremony opened with a quorum of {threshold} of {total}: it must be at least {min} and at most the number of custodians"
        ));
    }
    Ok(())
}

/// The entry on line `number` (without its newline), parsed strictly (unknown members are
/// refused) and held to its canonical form, the full way: for the lines the one pass
/// (`strict`) cannot vouch for; it says what is wrong. `seq` names the entry in a fault.
pub fn entry(
    number: u64,
    seq: u64,
    line: &[u8],
    slow: &mut Canonical,
) -> Result<Box<Entry>, Fault> {
    let entry = parse(number, line)?;
    canonical_form(slow, &entry, line).map_err(|problem| Fault::entry(seq, number, problem))?;
    Ok(Box::new(entry))
}

/// Parses a line strictly into an entry (unknown members are refused).
fn parse(number: u64, line: &[u8]) -> Result<Entry, Fault> {
    serde_json::from_slice(line).map_err(|e| {
        Fault::line(
            number,
            format!(
                "is not a valid audit entry: {e}; it was edited, or this is not a ceremony log"
            ),
        )
    })
}

/// Is `line` byte for byte the canonical JSON of `entry`? Written out again and compared.
fn canonical_form(slow: &mut Canonical, entry: &Entry, line: &[u8]) -> Result<(), String> {
    let canonical = match slow.check(entry, line) {
        Verdict::Canonical => true,
        Verdict::NotCanonical => false,
        Verdict::Unsure => entry
            .to_line()
            .map(|l| l.strip_suffix(b"\n") == Some(line))
            .map_err(|e| e.to_string())?,
    };
    if canonical {
        Ok(())
    } else {
        Err("is not in the canonical form (RFC 8785) the tool writes: it was edited or re-encoded by another program".into())
    }
}

fn bounded(state: &State) -> Result<(), String> {
    let records = [
        (state.failures.len(), "failures"),
        (state.deviations.len(), "deviations"),
        (state.checkpoints.len(), "checkpoints"),
    ];
    match records.iter().find(|(n, _)| *n > MAX_RECORDS) {
        Some((_, what)) => Err(format!(
            "the log records more than {MAX_RECORDS} {what}; no real ceremony does, and the verifier stops here to stay within bounded memory"
        )),
        None => Ok(()),
    }
}

/// The role the runner logs for an event's actor (the tool itself for events without one).
pub fn expected_role(config: Option<&MachineConfig>, actor: Option<&str>) -> Option<Role> {
    let Some(actor) = actor else {
        return Some(Role::System);
    };
    let config = config?;
    if actor == config.administrator {
        Some(Role::Administrator)
    } else if actor == config.witness {
        Some(Role::Witness)
    } else if config.auditor.as_deref() == Some(actor) {
        Some(Role::Auditor)
    } else if config.custodians.iter().any(|c| c == actor) {
        Some(Role::Custodian)
    } else {
        None
    }
}

fn who(actor: Option<&str>) -> String {
    actor.map_or_else(|| "nobody".to_owned(), |a| format!("\"{a}\""))
}

pub fn role_name(role: Option<Role>) -> &'static str {
    match role {
        Some(Role::Administrator) => "administrator",
        Some(Role::Custodian) => "custodian",
        Some(Role::Witness) => "witness",
        Some(Role::Auditor) => "auditor",
        Some(Role::System) => "system",
        None => "none",
    }
}
