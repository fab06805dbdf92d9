//! `audit verify`: integrity (canonical form, hash chain, checkpoint signatures), policy (the
//! log replayed through the same state machine that ran the ceremony) and artifacts (files on
//! the media and the script match the hashes in the log).
//!
//! The log is streamed once, in two stages running side by side: the chain stage reads raw
//! lines and checks seq, prev and hash at SHA-256 speed; the policy stage parses each line it
//! is handed, holds it to its canonical form and replays it. Memory stays bounded (lines of at
//! most 1 MiB, a few batches in flight, the machine's state) however long the log is. The
//! first problem is reported with the entry's seq and line.
mod artifacts;
mod canonical;
mod chain;
mod policy;
pub mod utc;

use std::path::Path;
use std::sync::mpsc::sync_channel;

use super::log::{Entry, LogError};
use crate::ceremony::machine::{Phase, State};
pub use policy::{At, MAX_RECORDS, expected_role, role_name};

/// What to check the log against.
#[derive(Debug, Default)]
pub struct VerifyOptions<'a> {
    /// SPKI DER of the audit key (from the provisioning record or --audit-key).
    pub audit_key_spki_der: Option<&'a [u8]>,
    /// Directory holding the ceremony's exported files.
    pub media: Option<&'a Path>,
    /// The script file, to compare with the hash pinned in the first entry.
    pub script: Option<&'a Path>,
}

/// The verdict.
#[derive(Debug)]
pub struct Verdict {
    pub entries: u64,
    pub head: String,
    pub bytes: u64,
    pub final_state: State,
    pub checkpoints_verified: usize,
    /// The last signed checkpoint; it covers every entry before it.
    pub last_checkpoint: Option<At>,
    /// Entries from here on carry no signature (only a ceremony aborted without a login may
    /// end so: it has nothing for the audit key to sign with).
    pub unsigned_from: Option<At>,
    pub artifacts_verified: usize,
    pub script_verified: bool,
}

/// The first problem found, naming the entry (seq and line) where it is.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{0}")]
    Log(#[from] LogError),
    #[error("entry seq {seq} (line {line}): {problem}")]
    Entry {
        seq: u64,
        line: u64,
        problem: String,
    },
    #[error("line {line}: {problem}")]
    Line { line: u64, problem: String },
    #[error("{0}")]
    Problem(String),
}

/// A problem as the stages report it.
#[derive(Debug)]
struct Fault {
    seq: Option<u64>,
    line: Option<u64>,
    problem: String,
}

impl Fault {
    fn entry(seq: u64, line: u64, problem: String) -> Fault {
        Fault {
            seq: Some(seq),
            line: Some(line),
            problem,
        }
    }
    fn at(at: At, problem: String) -> Fault {
        Fault::entry(at.seq, at.line, problem)
    }
    fn line(line: u64, problem: String) -> Fault {
        Fault {
            seq: None,
            line: Some(line),
            problem,
        }
    }
    fn general(problem: String) -> Fault {
        Fault {
            seq: None,
            line: None,
            problem,
        }
    }
    fn unreadable(path: &Path, e: &std::io::Error) -> Fault {
        Fault::general(format!(
            "cannot read {}: {e}; check the path and the medium",
            path.display()
        ))
    }
}

impl From<Fault> for AuditError {
    fn from(f: Fault) -> AuditError {
        match (f.seq, f.line) {
            (Some(seq), Some(line)) => AuditError::Entry {
                seq,
                line,
                problem: f.problem,
            },
            (_, Some(line)) => AuditError::Line {
                line,
                problem: f.problem,
            },
            _ => AuditError::Problem(f.problem),
        }
    }
}

/// Verifies the log at `path`. Ok only when every check holds.
pub fn verify(path: &Path, opts: &VerifyOptions<'_>) -> Result<Verdict, AuditError> {
    let (chain, replay) = scan(path, opts.audit_key_spki_der)?;
    let last = replay
        .last
        .ok_or_else(|| Fault::general("the log is empty: it records no ceremony".into()))?;
    if chain.entries != replay.entries {
        return Err(Fault::general(
            "internal error: the chain and the replay disagree on the number of entries".into(),
        )
        .into());
    }
    let state = &replay.state;
    if !state.is_final() {
        return Err(Fault::at(
            last,
            format!(
                "the log ends here, in phase \"{}\": the ceremony never closed; the log was cut after this entry{} or the ceremony is still running",
                state.phase.title(),
                replay.last_checkpoint.map_or(String::new(), |c| format!(
                    " (its last signed checkpoint is seq {}, line {})",
                    c.seq, c.line
                ))
            ),
        )
        .into());
    }
    // An abort before the quorum logged in cannot be signed (the audit key needs the login),
    // and nothing reached the HSM then; every other end carries a signed checkpoint last.
    let must_be_signed = match state.phase {
        Phase::Closed => true,
        _ => state.logged_in,
    };
    if must_be_signed {
        if let Some(first) = replay.first_unsigned {
            return Err(Fault::at(
                first,
                "no signed checkpoint covers this entry or any after it: they were appended after the closing checkpoint, or the closing checkpoint was removed".into(),
            )
            .into());
        }
    }
    if state.key_pending_destroy() && state.phase == Phase::Aborted {
        return Err(Fault::at(
            last,
            "the ceremony was aborted but the key it made was never destroyed: it is still in the HSM".into(),
        )
        .into());
    }
    let script_verified = artifacts::script(opts.script, &replay)?;
    let artifacts_verified = match opts.media {
        Some(media) => artifacts::media(media, &replay)?,
        None => 0,
    };
    Ok(Verdict {
        entries: chain.entries,
        head: chain.head,
        bytes: chain.bytes,
        checkpoints_verified: replay.checkpoints,
        last_checkpoint: replay.last_checkpoint,
        unsigned_from: replay.first_unsigned,
        final_state: replay.state,
        artifacts_verified,
        script_verified,
    })
}

/// Lines handed from the chain stage to the policy stage, in order, with the entries they
/// parse to (parsing is the heaviest step: the chain stage takes it on to share the work).
struct Batch {
    first_line: u64,
    data: Vec<u8>,
    entries: Vec<Entry>,
}

impl Batch {
    fn new(first_line: u64) -> Batch {
        Batch {
            first_line,
            data: Vec::with_capacity(BATCH_BYTES + 4096),
            entries: Vec::new(),
        }
    }
}

const BATCH_BYTES: usize = 256 << 10;
const BATCHES_IN_FLIGHT: usize = 8;

/// Runs both stages over the log; the first fault by line wins.
fn scan(
    path: &Path,
    audit_key: Option<&[u8]>,
) -> Result<(chain::Chain, policy::Replay), AuditError> {
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<Batch>(BATCHES_IN_FLIGHT);
        let replay = scope.spawn(move || -> Result<policy::Replay, Fault> {
            let mut policy = policy::Policy::new(audit_key);
            for batch in rx {
                let data = batch.data.strip_suffix(b"\n").unwrap_or(&batch.data);
                let lines = data.split(|b| *b == b'\n').zip(batch.entries);
                for (number, (line, entry)) in (batch.first_line..).zip(lines) {
                    policy.check(number, line, entry)?;
                }
            }
            Ok(policy.replay)
        });
        let mut batch = Batch::new(1);
        let mut hand_over = |number: u64, line: &[u8]| -> Result<bool, Fault> {
            batch.entries.push(policy::parse(number, line)?);
            batch.data.extend_from_slice(line);
            batch.data.push(b'\n');
            if batch.data.len() < BATCH_BYTES {
                return Ok(true);
            }
            let full = std::mem::replace(&mut batch, Batch::new(number + 1));
            Ok(tx.send(full).is_ok())
        };
        let chain = chain::check(path, &mut hand_over);
        if !batch.data.is_empty() {
            // The lines before a chain fault still go to the policy stage: a policy fault
            // among them comes first.
            let _ = tx.send(batch);
        }
        drop(tx);
        let replay = replay.join().map_err(|_| {
            AuditError::Problem("internal error: the policy stage stopped unexpectedly".into())
        })?;
        match (chain, replay) {
            (_, Err(fault)) | (Err(fault), _) => Err(fault.into()),
            (Ok(chain), Ok(replay)) => Ok((chain, replay)),
        }
    })
}
