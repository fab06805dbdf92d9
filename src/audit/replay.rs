//! `audit replay`, the pure part: a log folded through the same ceremony machine that ran the
//! ceremony, one step per entry, each step holding what the people saw after that entry (the
//! machine's state, the facts gathered from the log, the last preflight results, what had just
//! gone wrong). Plus the navigation over those steps. No I/O, no clock, no terminal: the CLI
//! reads and verifies the log, the TUI draws the steps.
//!
//! A ceremony log has a few dozen entries, so every step's state is kept: stepping back is a
//! lookup, not a re-fold, and each step is exactly the fold of the entries up to it.
use crate::cloud::CloudTarget;
use std::path::PathBuf;

use super::log::Entry;
use crate::ceremony::facts::Facts;
use crate::ceremony::machine::{self, Check, Effect, Event, MachineConfig, Phase, Refusal, State};
use crate::ceremony::script::CeremonyScript;
use crate::hsm_types::key::TargetSpec;
use crate::hsm_types::token::TokenSelector;

/// One entry of the log and the ceremony as it stood right after it.
#[derive(Debug, Clone)]
pub struct Step {
    /// The entry as logged: seq, UTC time, actor, role, event, hash.
    pub entry: Entry,
    /// The machine's state after this entry.
    pub state: State,
    /// What the log has told so far (KEK, key attributes, .byok hash...).
    pub facts: Facts,
    /// The newest preflight results so far.
    pub checks: Vec<Check>,
    /// The people had moved on from the preflight results (someone acted after them).
    pub preflight_seen: bool,
    /// The people had moved on from the export screen.
    pub export_seen: bool,
    /// The tool was waiting for the people: the next entry is a person's.
    pub waiting: bool,
    /// The decisive step whose typed confirmation (GENERATE, EXPORT) was on screen: the next
    /// entry is that step's result.
    pub approval: Option<Effect>,
    /// What the error screen showed after this entry: a failed step or check, a rejected KEK.
    pub problem: Option<String>,
}

impl Step {
    /// Who caused the entry: the person it names, or "tool" for what the tool did itself.
    pub fn actor(&self) -> &str {
        self.entry.actor.as_deref().unwrap_or("tool")
    }

    /// The event's name as written in the log ("kek_confirmed").
    pub fn kind(&self) -> &'static str {
        self.entry.event.kind()
    }

    /// One line for people about what the entry records.
    pub fn describe(&self) -> String {
        describe(&self.entry.event, &self.state)
    }
}

/// Why a log that does not verify is replayed anyway (`--force`), and how far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unverified {
    /// What `audit verify` found.
    pub problem: String,
    /// The step (0-based) that verify names, when it is replayed: the replay ends there.
    pub named: Option<usize>,
    /// Why the replay ends before the log does, when it does.
    pub stopped: Option<String>,
}

/// How far the log is trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// `audit verify` passed: every entry must fold.
    Verified,
    /// It did not: `problem` as verify reported it, and the 1-based line it names, if any.
    /// The replay ends at that line (shown, so the auditor sees the entry blamed), or
    /// earlier at the first entry the machine refuses.
    Forced { problem: String, line: Option<u64> },
}

/// A whole replay.
#[derive(Debug, Clone)]
pub struct Replay {
    pub steps: Vec<Step>,
    /// Set for a log replayed although it does not verify.
    pub unverified: Option<Unverified>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReplayError {
    #[error(
        "the log holds no entry to replay: it records no ceremony; check that it is the right file"
    )]
    Empty,
    #[error(
        "the log's first entry is a \"{0}\", not the opening of a ceremony (ceremony_opened): the start of the log is missing, or it is not a ceremony's log; replay the NAME.audit.jsonl the ceremony wrote"
    )]
    NotACeremony(&'static str),
    #[error("nothing to replay: {0}")]
    NothingBefore(String),
    #[error(
        "entry seq {seq} (line {line}): the ceremony machine refuses it ({refusal}), although the log verified: the file changed in between; run audit verify on it again"
    )]
    Refused {
        seq: u64,
        line: u64,
        refusal: Refusal,
    },
}

/// Folds `entries` (the log's lines, in order) through the machine.
pub fn build(entries: Vec<Entry>, trust: &Trust) -> Result<Replay, ReplayError> {
    let Some(first) = entries.first() else {
        return Err(ReplayError::Empty);
    };
    if !matches!(first.event, Event::CeremonyOpened { .. }) {
        return Err(ReplayError::NotACeremony(first.event.kind()));
    }
    let last_line = match trust {
        Trust::Forced {
            line: Some(line), ..
        } => *line,
        _ => u64::MAX,
    };
    // What came next tells what was on screen after an entry: a person's entry means the
    // tool waited for the people; the result of a decisive step means its typed confirmation
    // was asked for first.
    let next: Vec<(bool, Option<Effect>)> = entries
        .iter()
        .skip(1)
        .map(|e| (e.actor.is_some(), approval_before(&e.event)))
        .collect();
    let mut steps: Vec<Step> = Vec::with_capacity(entries.len());
    let mut stopped = None;
    let mut previous = Folded::default();
    for (i, entry) in entries.into_iter().enumerate() {
        let line = i as u64 + 1;
        if line > last_line {
            break;
        }
        let state = match machine::step(&previous.state, &entry.event) {
            Ok((state, _effects)) => state,
            Err(refusal) => match trust {
                Trust::Verified => {
                    return Err(ReplayError::Refused {
                        seq: entry.seq,
                        line,
                        refusal,
                    });
                }
                Trust::Forced { .. } => {
                    stopped = Some(format!(
                        "the replay ends before line {line}: the ceremony machine refuses that entry ({refusal})"
                    ));
                    break;
                }
            },
        };
        let folded = previous.then(&entry, state);
        let (waiting, approval) = next
            .get(i)
            .cloned()
            .unwrap_or((!folded.state.is_final(), None));
        steps.push(Step {
            waiting,
            approval,
            problem: problem_after(&entry.event, &folded.state),
            state: folded.state.clone(),
            facts: folded.facts.clone(),
            checks: folded.checks.clone(),
            preflight_seen: folded.preflight_seen,
            export_seen: folded.export_seen,
            entry,
        });
        previous = folded;
    }
    if steps.is_empty() {
        return Err(stopped.map_or(ReplayError::Empty, ReplayError::NothingBefore));
    }
    let unverified = match trust {
        Trust::Verified => None,
        Trust::Forced { problem, line } => {
            let named = line
                .and_then(|l| usize::try_from(l).ok())
                .filter(|l| *l >= 1 && *l <= steps.len())
                .map(|l| l - 1);
            Some(Unverified {
                problem: problem.clone(),
                named,
                stopped,
            })
        }
    };
    Ok(Replay { steps, unverified })
}

/// What the fold carries from one entry to the next.
#[derive(Debug, Clone, Default)]
struct Folded {
    state: State,
    facts: Facts,
    checks: Vec<Check>,
    preflight_seen: bool,
    export_seen: bool,
}

impl Folded {
    fn then(&self, entry: &Entry, state: State) -> Folded {
        let mut next = self.clone();
        next.state = state;
        next.facts.observe(&entry.event, &entry.hash);
        // The live UI keeps showing the preflight results, and the export screen, until a
        // person acts: replay shows them the same way.
        if entry.actor.is_some() {
            next.preflight_seen = true;
            next.export_seen = true;
        }
        match &entry.event {
            Event::PreflightCompleted { checks } => {
                next.checks = checks.clone();
                next.preflight_seen = false;
            }
            Event::Verified { .. } => next.export_seen = false,
            _ => {}
        }
        next
    }
}

/// The decisive effect the people confirmed (by typing its word) before `event` could happen:
/// the runner asks before it generates the key and before it writes the media, each time it
/// runs them, so a failure of those steps follows a confirmation too.
fn approval_before(event: &Event) -> Option<Effect> {
    match event {
        Event::KeyGenerated { .. }
        | Event::StepFailed {
            phase: Phase::KeyGeneration,
            ..
        } => Some(Effect::GenerateKey),
        Event::Exported { .. }
        | Event::StepFailed {
            phase: Phase::Export,
            ..
        } => Some(Effect::Export),
        _ => None,
    }
}

/// The problem the runner put before the people after `event` (as its `stalled` check does).
fn problem_after(event: &Event, state: &State) -> Option<String> {
    match event {
        Event::StepFailed { phase, reason } => Some(format!("{}: {reason}", phase.title())),
        // A failed station check does not stop the run (it stays open until attendance): only
        // a failure that kept the ceremony in preflight was put before the people as a problem.
        Event::PreflightCompleted { checks }
            if state.phase == Phase::Preflight && checks.iter().any(|c| !c.passed) =>
        {
            Some(format!(
                "{}: failed: {}",
                Phase::Preflight.title(),
                checks
                    .iter()
                    .filter(|c| !c.passed)
                    .map(|c| format!("{}: {}", c.name, c.detail))
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
        }
        Event::WrapTested { .. } if state.wrap_method.is_none() => state
            .failures
            .last()
            .map(|f| format!("{}: {f}", state.phase.title())),
        Event::KekRejected { .. } => Some(format!(
            "{}: the custodians rejected the KEK: its fingerprint is not the one read aloud from the online side; check the KEK file and the online side",
            Phase::KekConfirm.title()
        )),
        _ => None,
    }
}

/// A one-line account of an event, for the replay bar.
fn describe(event: &Event, after: &State) -> String {
    let short = |hex: &str| hex.chars().take(16).collect::<String>();
    match event {
        // The script's hash first: it is what an auditor compares with the signed copy.
        Event::CeremonyOpened {
            script_sha256,
            hsm,
            rehearsal,
            ..
        } => format!(
            "script SHA-256 {}..., token \"{}\" (serial {}){}",
            short(script_sha256),
            hsm.label,
            hsm.serial,
            if *rehearsal { ", a rehearsal" } else { "" }
        ),
        Event::PreflightCompleted { checks } => {
            let failed = checks.iter().filter(|c| !c.passed).count();
            if failed == 0 {
                format!("all {} preflight checks passed", checks.len())
            } else {
                format!("{failed} of {} preflight checks failed", checks.len())
            }
        }
        Event::CheckedIn { name } => format!("{name} checked in"),
        Event::AttendanceClosed { by } => {
            format!("{by} closed attendance: {} present", after.present.len())
        }
        Event::SharePresented { custodian, .. } => {
            format!("{custodian}'s share is valid and accepted")
        }
        Event::ShareRejected { custodian, reason } => {
            format!("{custodian}'s share was refused: {reason}")
        }
        Event::HsmAuthenticationPresented { custodian } => {
            format!("{custodian} authenticated at the HSM")
        }
        Event::LoggedIn { token_label } => {
            format!("the quorum is met: logged in to token \"{token_label}\"")
        }
        Event::LoginFailed { reason } => format!("the HSM refused the rebuilt PIN: {reason}"),
        Event::KekLoaded {
            bits,
            kid,
            target: Some(target),
            ..
        } => format!("{}'s KEK loaded: RSA {bits} bits, {kid}", target.title()),
        Event::KekLoaded { bits, kid, .. } => format!("KEK loaded: RSA {bits} bits, {kid}"),
        Event::KekConfirmed { custodian } => {
            format!("{custodian} confirmed the KEK fingerprint")
        }
        Event::KekRejected { custodian, reason } => {
            format!("{custodian} rejected the KEK: {reason}")
        }
        Event::KeyGenerated {
            kty, attributes, ..
        } => format!(
            "the HSM generated the {kty} key \"{}\" (id {})",
            attributes.label, attributes.id_hex
        ),
        Event::WrapTested {
            method: Some(method),
            ..
        } => format!("the HSM's wrap was proven: {}", method.describe()),
        Event::WrapTested {
            method: None,
            failed,
            ..
        } => format!(
            "no wrap path of the HSM passed its known-answer test ({} tried)",
            failed.len()
        ),
        Event::Wrapped { byok_sha256, .. } => format!(
            "the key is wrapped for the KEK: .byok SHA-256 {}...",
            short(byok_sha256)
        ),
        Event::TargetWrapped {
            target,
            algorithm,
            sha256,
            ..
        } => format!(
            "the key is wrapped for {} ({algorithm}): SHA-256 {}...",
            target.title(),
            short(sha256)
        ),
        Event::Exported { files } => format!("written: {}", names(files)),
        Event::Verified { files } => format!("read back and compared: {}", names(files)),
        Event::KeyDestroyed { label, .. } => format!("the key \"{label}\" was destroyed"),
        Event::SignedOff { name } => format!("{name} signed off"),
        Event::Closed { by } => format!("{by} closed the ceremony"),
        Event::DeviationRecorded { text, .. } => format!("deviation recorded: {text}"),
        Event::DeviationAcknowledged { by, deviation } => {
            format!("{by} acknowledged deviation {deviation}")
        }
        Event::StepFailed { phase, reason } => format!("{} failed: {reason}", phase.title()),
        Event::Aborted { by, reason, .. } => format!("{by} aborted the ceremony: {reason}"),
        Event::Resumed { by } => format!("{by} resumed the ceremony after an interruption"),
        Event::InstructionShown { phase, text } => {
            format!("instruction for \"{}\": {text}", phase.title())
        }
        Event::RetryRequested { by, phase } => {
            format!("{by} asked to run \"{}\" again", phase.title())
        }
        Event::Checkpoint { gate, .. } => {
            format!("the HSM signed a checkpoint at \"{}\"", gate.title())
        }
    }
}

fn names(files: &[machine::FileRecord]) -> String {
    files
        .iter()
        .map(|f| f.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the log does not record, in place of a script value.
pub const NOT_IN_LOG: &str = "(not recorded in the log; give --script to show it)";

/// The ceremony script as far as the log pins it, for drawing the ceremony screens when the
/// script file is not at hand. The genesis entry pins the roles, the quorum and the script's
/// hash; the key's type and label come from the key the HSM generated. Values the log does
/// not hold say so (`NOT_IN_LOG`); the target, where no key was generated, is drawn only on
/// the script and approval screens, which a replay never shows.
pub fn script_from_log(replay: &Replay) -> Option<CeremonyScript> {
    let Some(Event::CeremonyOpened {
        config,
        script_sha256,
        hsm,
        hsm_module,
        rehearsal,
        purpose,
        ..
    }) = replay.steps.first().map(|s| &s.entry.event)
    else {
        return None;
    };
    let generated = replay.steps.iter().find_map(|s| match &s.entry.event {
        Event::KeyGenerated {
            kty,
            key_size,
            crv,
            attributes,
            ..
        } => Some((
            TargetSpec::from_azure(kty, *key_size, crv.as_deref()).ok(),
            attributes.label.clone(),
        )),
        _ => None,
    });
    let (target, target_label) = match generated {
        Some((spec, label)) => (spec, label),
        None => (None, NOT_IN_LOG.to_owned()),
    };
    let output_name = replay
        .steps
        .iter()
        .find_map(|s| match &s.entry.event {
            Event::Exported { files } => files
                .iter()
                .find_map(|f| f.name.strip_suffix(".byok").map(str::to_owned)),
            _ => None,
        })
        .unwrap_or_else(|| config.ceremony_id.clone());
    Some(script_from_config(
        config,
        ScriptPins {
            sha256: script_sha256.clone(),
            rehearsal: *rehearsal,
            module: PathBuf::from(hsm_module),
            token: TokenSelector::Label(hsm.label.clone()),
            target: target.unwrap_or(TargetSpec::Rsa { bits: 3072 }),
            target_label,
            output_name,
            purpose: purpose.clone(),
        },
    ))
}

/// What the log pins besides the machine's configuration.
struct ScriptPins {
    sha256: String,
    rehearsal: bool,
    module: PathBuf,
    token: TokenSelector,
    target: TargetSpec,
    target_label: String,
    output_name: String,
    purpose: Option<String>,
}

fn script_from_config(config: &MachineConfig, pins: ScriptPins) -> CeremonyScript {
    CeremonyScript {
        ceremony_id: config.ceremony_id.clone(),
        purpose: pins.purpose.unwrap_or_else(|| NOT_IN_LOG.into()),
        rehearsal: pins.rehearsal,
        administrator: config.administrator.clone(),
        witness: config.witness.clone(),
        auditor: config.auditor.clone(),
        custodians: config.custodians.clone(),
        quorum: config.quorum,
        record: None,
        module: pins.module,
        token: pins.token,
        allow_zero_padding: config.allow_zero_padding,
        target: pins.target,
        target_label: pins.target_label,
        keep_in_hsm: !config.destroy_after_export,
        wrap_with_trusted: config.wrap_with_trusted,
        targets: config
            .target_list()
            .iter()
            .map(|t| CloudTarget::from_config(t, NOT_IN_LOG))
            .collect(),
        lists_targets: !config.targets.is_empty(),
        output_name: pins.output_name,
        second_copy: false,
        steps: Vec::new(),
        sha256: pins.sha256,
    }
}

/// Where the replay is: a step index, always within the replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nav {
    at: usize,
    len: usize,
}

impl Nav {
    /// At the first of `len` steps (`len` is at least 1: an empty log is never replayed).
    pub fn new(len: usize) -> Nav {
        Nav {
            at: 0,
            len: len.max(1),
        }
    }

    /// The current step, 0-based.
    pub fn at(&self) -> usize {
        self.at
    }

    /// The number of steps.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never true: a replay has at least one step.
    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn forward(&mut self) {
        self.at = (self.at + 1).min(self.len - 1);
    }

    pub fn back(&mut self) {
        self.at = self.at.saturating_sub(1);
    }

    pub fn first(&mut self) {
        self.at = 0;
    }

    pub fn last(&mut self) {
        self.at = self.len - 1;
    }

    /// Goes to the entry with sequence number `seq`, as `audit verify` and the report number
    /// them (0 for the genesis entry to len - 1; a verified log's steps are in seq order).
    pub fn go_to(&mut self, seq: usize) -> Result<(), String> {
        if seq >= self.len {
            return Err(format!(
                "there is no entry seq {seq}: type a number from 0 to {}",
                self.len - 1
            ));
        }
        self.at = seq;
        Ok(())
    }
}
