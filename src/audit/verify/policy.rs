//! The policy stage: every line parsed strictly, held to its canonical form, and replayed
//! through the same ceremony machine that ran the ceremony; checkpoint signatures checked
//! against the audit key. Keeps only the machine's state and a few facts: constant memory.
use crate::audit::checkpoint;
use crate::audit::log::Entry;
use crate::ceremony::machine::{self, Event, MachineConfig, Role, State};

use super::Fault;
use super::canonical::{Canonical, Verdict};

/// A real ceremony records a handful of these; the cap keeps the replayed state (and so the
/// verifier's memory and time) bounded whatever the input.
pub const MAX_RECORDS: usize = 10_000;

/// Where an entry is: its seq and 1-based line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At {
    pub seq: u64,
    pub line: u64,
}

/// What the replay learned that the final checks need.
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
    /// Signed checkpoints verified, and the last one.
    pub checkpoints: usize,
    pub last_checkpoint: Option<At>,
    /// The first entry that no later signed checkpoint covers.
    pub first_unsigned: Option<At>,
}

#[derive(Debug)]
pub struct Policy<'k> {
    audit_key: Option<&'k [u8]>,
    canonical: Canonical,
    mono_ms: u64,
    pub replay: Replay,
}

impl<'k> Policy<'k> {
    pub fn new(audit_key: Option<&'k [u8]>) -> Self {
        Policy {
            audit_key,
            canonical: Canonical::default(),
            mono_ms: 0,
            replay: Replay::default(),
        }
    }

    /// Checks the entry on line `number` (without its newline), parsed by `parse`; the chain
    /// stage has already checked its seq, prev and hash.
    pub fn check(&mut self, number: u64, line: &[u8], entry: Entry) -> Result<(), Fault> {
        let seq = self.replay.entries;
        let at = At { seq, line: number };
        let fail = |problem: String| Fault::entry(seq, number, problem);
        self.canonical_form(&entry, line).map_err(fail)?;
        if entry.seq != seq {
            return Err(fail(format!("carries seq {} out of order", entry.seq)));
        }
        self.consistent(&entry).map_err(fail)?;
        if let Event::CeremonyOpened {
            config, rehearsal, ..
        } = &entry.event
        {
            roles_distinct(config, *rehearsal).map_err(fail)?;
        }
        // The machine first: an event it refuses is refused whatever its signature.
        let (next, _effects) =
            machine::step(&self.replay.state, &entry.event).map_err(|r| fail(r.to_string()))?;
        bounded(&next).map_err(fail)?;
        if let Event::Checkpoint { note, .. } = &entry.event {
            self.signed(note, &entry).map_err(fail)?;
            self.replay.checkpoints += 1;
            self.replay.last_checkpoint = Some(at);
            self.replay.first_unsigned = None;
        } else if self.replay.first_unsigned.is_none() {
            self.replay.first_unsigned = Some(at);
        }
        self.observe(&entry, at);
        self.replay.state = next;
        self.replay.entries += 1;
        self.replay.last = Some(at);
        Ok(())
    }

    fn canonical_form(&mut self, entry: &Entry, line: &[u8]) -> Result<(), String> {
        let canonical = match self.canonical.check(entry, line) {
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

    /// The entry's own fields agree with its event and the script's roles.
    fn consistent(&mut self, entry: &Entry) -> Result<(), String> {
        let actor = entry.event.actor();
        if entry.actor.as_deref() != actor {
            return Err(format!(
                "names {} as its actor, but the event says {}",
                who(entry.actor.as_deref()),
                who(actor)
            ));
        }
        let config = match &entry.event {
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
        if super::utc::Utc::parse(&entry.utc).is_none() {
            return Err(format!(
                "has the time \"{}\", not the UTC form the tool writes (2026-11-29T13:25:40.123Z)",
                entry.utc
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
        Ok(())
    }

    fn signed(&self, note: &str, entry: &Entry) -> Result<(), String> {
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
        checkpoint::verify(note, id, entry.seq, &entry.prev, key).map_err(|e| {
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

    fn observe(&mut self, entry: &Entry, at: At) {
        match &entry.event {
            Event::CeremonyOpened { script_sha256, .. } => {
                self.replay.script_sha256 = Some(script_sha256.clone());
            }
            Event::Exported { files } => self.replay.exported = Some((files.clone(), at)),
            Event::Wrapped { byok_sha256, .. } => {
                self.replay.wrapped = Some((byok_sha256.clone(), entry.hash.clone(), at));
            }
            _ => {}
        }
    }
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

/// Parses a line strictly into an entry (unknown members are refused).
pub fn parse(number: u64, line: &[u8]) -> Result<Entry, Fault> {
    serde_json::from_slice(line).map_err(|e| {
        Fault::line(
            number,
            format!(
                "is not a valid audit entry: {e}; it was edited, or this is not a ceremony log"
            ),
        )
    })
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
