//! `audit verify`: integrity (canonical form, hash chain, checkpoint signatures), policy (the
//! log replayed through the same state machine that ran the ceremony) and artifacts (files on
//! the media and the script match the hashes in the log).
//!
//! The log is streamed once. The main thread reads it in batches of whole lines and hands them
//! round robin to worker threads, one per core; a worker checks what each line shows on its
//! own: its seq, prev and hash found on the raw bytes, its SHA-256, and its entry parsed and
//! held to canonical form in one pass. The main thread takes the batches back in order and
//! checks what needs the lines before: the chain links, then the policy replay. Memory stays
//! bounded (lines of at most 1 MiB, two batches in flight per worker, the machine's state)
//! however long the log is. The first problem is reported with the entry's seq and line.
mod artifacts;
mod canonical;
mod chain;
mod event;
mod policy;
mod strict;
pub mod utc;

use std::collections::VecDeque;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};

use super::log::{Entry, LogError};
use crate::ceremony::machine::Event;
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
    /// The token's provisioning record, cross-checked against the log's first entry (token
    /// identity, custodians, threshold) besides giving the audit key.
    pub record: Option<&'a crate::quorum::record::ProvisioningRecord>,
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
#[derive(Debug, Clone)]
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
    let (chain, replay) = scan(path, opts)?;
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
    if state.key_pending_destroy() && state.phase == Phase::Aborted {
        return Err(Fault::at(
            last,
            "the ceremony was aborted but the key it made was never destroyed: it is still in the HSM; restart the ceremony with --recover resume so the quorum logs in and destroys it".into(),
        )
        .into());
    }
    // An abort before the quorum logged in cannot be signed (the audit key needs the login),
    // and nothing reached the HSM then; every other end carries a signed checkpoint last.
    if state.end_signature_due {
        if let Some(first) = replay.first_unsigned {
            let problem = if state.checkpoints.contains(&state.phase) {
                "no signed checkpoint covers this entry or any after it: they were appended after the closing checkpoint, or the closing checkpoint was removed"
            } else {
                "the ceremony ended but its closing checkpoint was never signed (the run stopped first, or the checkpoint was removed): no signed checkpoint covers this entry or any after it; if the run stopped, restart it with --recover resume so the quorum signs the end"
            };
            return Err(Fault::at(first, problem.into()).into());
        }
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

/// The entry that the one pass over a log line (`strict`) reads `line` as, when it vouches that
/// the line is that entry's canonical JSON; None when it cannot tell. Only for the differential
/// fuzz target `fuzz/fuzz_targets/audit_line.rs`, which holds it to the full check (serde_json,
/// then the writer's own form): verify takes the one pass's word for every line it vouches for.
#[doc(hidden)]
pub fn one_pass_entry(line: &str) -> Option<Entry> {
    let mut events = Vec::new();
    let lean = strict::parse(line, &mut events)?;
    let view = lean.view(line.as_bytes(), &events)?;
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).ok();
    Some(Entry {
        seq: view.seq,
        utc: text(view.utc)?,
        mono_ms: view.mono_ms,
        actor: match view.actor {
            Some(actor) => Some(text(actor)?),
            None => None,
        },
        role: view.role,
        scripted: lean.scripted,
        event: view.event.clone(),
        prev: text(view.prev)?,
        hash: text(view.hash)?,
    })
}

/// Each worker's queue of batches (and of results): two keep it busy while the main thread
/// takes a result back.
const LANE_DEPTH: usize = 2;

/// More workers would only add batches in flight: the main thread's share is the limit.
const MAX_WORKERS: usize = 8;

/// An entry as a worker parsed it: the one pass (its text left in the line), or the full way.
enum Parsed {
    Lean(strict::Lean),
    Full(Box<Entry>),
}

/// What a worker learned of one line: its chain members and its entry; or why it is no entry.
struct Line {
    /// Where the line is in its batch (without its newline).
    range: std::ops::Range<usize>,
    checked: Result<(chain::Raw, Result<Parsed, Fault>), Fault>,
}

/// A worker's queues: batches to check, the results, and results done with (a worker frees
/// what it allocated: much cheaper than freeing it on another thread).
struct Lane {
    jobs: SyncSender<chain::Batch>,
    results: Receiver<Checked>,
    spent: Sender<(Vec<Line>, Vec<Event>)>,
}

/// A batch back from a worker: its lines in order, up to the first one with a problem.
struct Checked {
    batch: chain::Batch,
    lines: Vec<Line>,
    /// The events of the lines the one pass read (`strict::Lean::event` is an index).
    events: Vec<Event>,
    /// False when the worker stopped at a line with a problem (the lines after it are not
    /// checked: verify stops there).
    complete: bool,
}

/// Reads the log, has the workers check its lines, and checks the chain and the policy in
/// line order; the first fault by line wins.
fn scan(
    path: &Path,
    opts: &VerifyOptions<'_>,
) -> Result<(chain::Chain, policy::Replay), AuditError> {
    let mut reader = chain::Reader::open(path)?;
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, MAX_WORKERS);
    std::thread::scope(|scope| {
        let mut lanes = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (jobs, jobs_rx) = sync_channel(LANE_DEPTH);
            let (results_tx, results) = sync_channel(LANE_DEPTH);
            let (spent, spent_rx) = channel();
            handles.push(scope.spawn(move || work(&jobs_rx, &results_tx, &spent_rx)));
            lanes.push(Lane {
                jobs,
                results,
                spent,
            });
        }
        let outcome = sequence(&mut reader, &lanes, opts);
        // Closing the lanes stops the workers, wherever they are.
        drop(lanes);
        let stopped = handles.into_iter().map(|h| h.join()).any(|r| r.is_err());
        match outcome {
            Err(fault) => Err(fault.into()),
            Ok(_) if stopped => Err(internal("a worker stopped unexpectedly")),
            Ok(done) => Ok(done),
        }
    })
}

fn internal(what: &str) -> AuditError {
    AuditError::Problem(format!("internal error: {what}"))
}

/// A worker: checks each batch it is given and sends it back.
fn work(
    jobs: &Receiver<chain::Batch>,
    results: &SyncSender<Checked>,
    spent: &Receiver<(Vec<Line>, Vec<Event>)>,
) {
    let mut slow = canonical::Canonical::default();
    // Result vectors come back to be emptied here and filled again: no fresh pages per batch.
    let mut pool = Vec::new();
    for batch in jobs {
        pool.extend(spent.try_iter().map(|(mut lines, mut events)| {
            lines.clear();
            events.clear();
            (lines, events)
        }));
        let (lines, events) = pool.pop().unwrap_or_default();
        let checked = check_batch(batch, lines, events, &mut slow);
        if results.send(checked).is_err() {
            break;
        }
    }
}

/// Everything each line of `batch` shows on its own; stops at the first line with a problem.
fn check_batch(
    batch: chain::Batch,
    mut lines: Vec<Line>,
    mut events: Vec<Event>,
    slow: &mut canonical::Canonical,
) -> Checked {
    // One UTF-8 check for the whole batch, each line then a slice of it (one call per line
    // costs more); a batch that is not all UTF-8 is checked line by line.
    let text = std::str::from_utf8(&batch.data).ok();
    let mut start = 0;
    let mut complete = true;
    for (number, end) in (batch.first_line..).zip(memchr::memchr_iter(b'\n', &batch.data)) {
        let line = &batch.data[start..end];
        let line_text = match text {
            Some(text) => text.get(start..end),
            None => std::str::from_utf8(line).ok(),
        };
        let checked = check_line(number, line, line_text, &mut events, slow);
        let fine = matches!(&checked, Ok((raw, Ok(_))) if raw.hash_holds);
        lines.push(Line {
            range: start..end,
            checked,
        });
        start = end + 1;
        if !fine {
            complete = false;
            break;
        }
    }
    Checked {
        batch,
        lines,
        events,
        complete,
    }
}

/// One line: the one pass when it can vouch for the line, else the chain members searched for
/// on the raw line and the entry parsed and compared the full way (which names any problem).
fn check_line(
    number: u64,
    line: &[u8],
    line_text: Option<&str>,
    events: &mut Vec<Event>,
    slow: &mut canonical::Canonical,
) -> Result<(chain::Raw, Result<Parsed, Fault>), Fault> {
    if let Some(lean) = line_text.and_then(|text| strict::parse(text, events)) {
        if let Some(raw) = chain::raw_parsed(line, &lean) {
            return Ok((raw, Ok(Parsed::Lean(lean))));
        }
        events.pop();
    }
    let raw = chain::raw(number, line)?;
    let entry = policy::entry(number, raw.seq, line, slow).map(Parsed::Full);
    Ok((raw, entry))
}

/// The main thread's part: reads ahead to keep every lane busy, and takes the batches back in
/// the order they were read, checking the chain and the policy line by line.
fn sequence(
    reader: &mut chain::Reader<'_>,
    lanes: &[Lane],
    opts: &VerifyOptions<'_>,
) -> Result<(chain::Chain, policy::Replay), Fault> {
    let mut links = chain::Links::new();
    let mut policy = policy::Policy::new(opts.audit_key_spki_der, opts.record);
    let mut bytes = 0u64;
    // Batch buffers come back with their results and are read into again.
    let mut spare: Vec<Vec<u8>> = Vec::new();
    let mut in_flight = VecDeque::new();
    let mut lane = 0;
    // How reading ended: None while it goes on.
    let mut ended: Option<Result<(), Fault>> = None;
    loop {
        // Round robin, at most LANE_DEPTH per lane: a send never waits for a full queue.
        while ended.is_none() && in_flight.len() < lanes.len() * LANE_DEPTH {
            match reader.next(spare.pop().unwrap_or_default()) {
                Ok(Some(batch)) => {
                    lanes[lane].jobs.send(batch).map_err(|_| lane_lost())?;
                    in_flight.push_back(lane);
                    lane = (lane + 1) % lanes.len();
                }
                Ok(None) => ended = Some(Ok(())),
                Err(fault) => ended = Some(Err(fault)),
            }
        }
        let Some(next) = in_flight.pop_front() else {
            break;
        };
        let checked = lanes[next].results.recv().map_err(|_| lane_lost())?;
        take_back(&checked, &mut links, &mut policy)?;
        bytes += checked.batch.data.len() as u64;
        spare.push(checked.batch.data);
        // Its worker frees the entries (when it is gone, so is the need).
        let _ = lanes[next].spent.send((checked.lines, checked.events));
    }
    // A problem in reading comes after every line read before it.
    ended.unwrap_or(Ok(()))?;
    Ok((links.summary(bytes), policy.replay))
}

/// The chain and the policy over a batch's lines, in order; the first fault stops verify.
fn take_back(
    checked: &Checked,
    links: &mut chain::Links,
    policy: &mut policy::Policy<'_>,
) -> Result<(), Fault> {
    for (number, line) in (checked.batch.first_line..).zip(&checked.lines) {
        // In the order the checks always ran: the line's form, its links, then its entry.
        let (raw, parsed) = line.checked.as_ref().map_err(Clone::clone)?;
        links.link(number, raw)?;
        let view = match parsed.as_ref().map_err(Clone::clone)? {
            Parsed::Lean(lean) => lean
                .view(&checked.batch.data[line.range.clone()], &checked.events)
                .ok_or_else(|| internal_fault("an entry's text is not in its line"))?,
            Parsed::Full(entry) => policy::View::from(&**entry),
        };
        policy.check(number, &view)?;
    }
    // A worker stops early only at a line with a fault, and that fault stopped us above.
    if checked.complete {
        Ok(())
    } else {
        Err(internal_fault(
            "a worker stopped at a line without a problem",
        ))
    }
}

fn lane_lost() -> Fault {
    internal_fault("a worker stopped unexpectedly")
}

fn internal_fault(what: &str) -> Fault {
    Fault::general(format!("internal error: {what}"))
}
