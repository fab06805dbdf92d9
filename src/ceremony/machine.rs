//! The ceremony as a pure state machine: `(State, Event) -> (State, [Effect])`.
//!
//! No I/O, no clock, no randomness: the runner feeds it events (from people, from the HSM, or
//! from an audit log being replayed) and executes the effects it asks for. Every rule the tool
//! enforces lives here, so an auditor's replay of the log re-checks all of them:
//!
//! preflight -> attendance -> quorum -> KEK load -> KEK confirmation -> key generation -> wrap
//! -> export -> verification -> sign-off -> closed
//!
//! Nothing reaches the HSM before quorum; nothing is wrapped before the KEK fingerprint is
//! confirmed; nothing is exported before the wrap succeeded; nothing happens after close.
//!
//! `apply` changes a state in place (an audit replay applies millions of events); `step` is
//! the same rules on a copy. A refused event changes nothing.
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::hsm_types::key::KeyAttributes;
use crate::hsm_types::token::TokenIdentity;
use crate::hsm_types::wrap::OaepHash;
use crate::hsm_types::wrap::WrapKatReport;
use crate::hsm_types::wrap::WrapMethod;

/// The phases, in ceremony order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Opened,
    Preflight,
    Attendance,
    Quorum,
    KekLoad,
    KekConfirm,
    KeyGeneration,
    Wrap,
    Export,
    Verification,
    SignOff,
    Closed,
    Aborted,
}

impl Phase {
    /// The ordered steps people see (k of n in the UI).
    pub const STEPS: [Phase; 11] = [
        Phase::Preflight,
        Phase::Attendance,
        Phase::Quorum,
        Phase::KekLoad,
        Phase::KekConfirm,
        Phase::KeyGeneration,
        Phase::Wrap,
        Phase::Export,
        Phase::Verification,
        Phase::SignOff,
        Phase::Closed,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Phase::Opened => "Opened",
            Phase::Preflight => "Preflight checks",
            Phase::Attendance => "Attendance",
            Phase::Quorum => "Quorum: custodian shares",
            Phase::KekLoad => "Load the KEK",
            Phase::KekConfirm => "Confirm the KEK fingerprint",
            Phase::KeyGeneration => "Generate the key",
            Phase::Wrap => "Wrap the key",
            Phase::Export => "Export to media",
            Phase::Verification => "Verify the media",
            Phase::SignOff => "Sign-off",
            Phase::Closed => "Closed",
            Phase::Aborted => "Aborted",
        }
    }

    /// 1-based step number, for "step k of n".
    pub fn step_number(self) -> Option<usize> {
        Phase::STEPS.iter().position(|p| *p == self).map(|i| i + 1)
    }
}

/// The roles of a ceremony.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Administrator,
    Custodian,
    Witness,
    Auditor,
    /// The tool itself (HSM results, files written).
    System,
}

/// How the HSM is unlocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "mode")]
pub enum QuorumMode {
    /// The user PIN is split among the custodians; `threshold` shares rebuild it.
    SplitPin { threshold: u8 },
    /// The HSM enforces its own M of N (PED keys, card sets); the tool only records it.
    HsmNative { threshold: u8, total: u8 },
}

/// What the machine needs to know from the script; pinned in the genesis entry so that a
/// replay needs nothing but the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineConfig {
    pub ceremony_id: String,
    pub administrator: String,
    pub witness: String,
    pub auditor: Option<String>,
    pub custodians: Vec<String>,
    pub quorum: QuorumMode,
    /// Lowercase hex of the KEK fingerprint the script expects, if it names one.
    pub expected_kek_fingerprint: Option<String>,
    /// Destroy the target in the HSM after export.
    pub destroy_after_export: bool,
    /// The script accepts a token whose wrap zero-pads the key (rehearsal-grade output) in a
    /// production ceremony. Absent in older logs: false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_zero_padding: bool,
    /// The key is made with CKA_WRAP_WITH_TRUSTED and wrapped only by the trusted KEK: only the
    /// native mechanism can. Absent in older logs: false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wrap_with_trusted: bool,
}

impl MachineConfig {
    fn threshold(&self) -> usize {
        match self.quorum {
            QuorumMode::SplitPin { threshold } | QuorumMode::HsmNative { threshold, .. } => {
                usize::from(threshold)
            }
        }
    }

    fn role_of(&self, name: &str) -> Option<Role> {
        if name == self.administrator {
            Some(Role::Administrator)
        } else if name == self.witness {
            Some(Role::Witness)
        } else if self.auditor.as_deref() == Some(name) {
            Some(Role::Auditor)
        } else if self.custodians.iter().any(|c| c == name) {
            Some(Role::Custodian)
        } else {
            None
        }
    }
}

/// One preflight check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

/// A file written to media.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRecord {
    pub name: String,
    pub sha256: String,
}

/// Everything that can happen. Secrets never appear here: a share is reported by custodian
/// and index only.
// A ceremony has a few dozen events: their size is irrelevant, and plain (unboxed) fields keep
// the log's JSON schema obvious.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    /// Genesis: what runs, where, on which HSM, under which script.
    CeremonyOpened {
        config: MachineConfig,
        script_sha256: String,
        tool_version: String,
        binary_sha256: String,
        host: String,
        os: String,
        hsm: TokenIdentity,
        hsm_module: String,
        hsm_library: String,
        rehearsal: bool,
    },
    PreflightCompleted {
        checks: Vec<Check>,
    },
    CheckedIn {
        name: String,
    },
    AttendanceClosed {
        by: String,
    },
    SharePresented {
        custodian: String,
        share_index: u8,
        commitment_verified: bool,
    },
    ShareRejected {
        custodian: String,
        reason: String,
    },
    /// HSM-native quorum: a custodian presented their card/key at the HSM.
    HsmAuthenticationPresented {
        custodian: String,
    },
    LoggedIn {
        token_label: String,
    },
    LoginFailed {
        reason: String,
    },
    KekLoaded {
        kid: String,
        fingerprint_sha256: String,
        bits: usize,
        warnings: Vec<String>,
        /// Where the KEK was read from (the medium people chose); absent in older logs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<String>,
    },
    /// A custodian compared the fingerprint read aloud from the online side.
    KekConfirmed {
        custodian: String,
    },
    KekRejected {
        custodian: String,
        reason: String,
    },
    /// The HSM's wrap paths proven with throwaway keys before the real key is made: the path
    /// the wrap will take (None when no path passed) and those that failed their tests.
    WrapTested {
        oaep_hash: OaepHash,
        method: Option<WrapMethod>,
        failed: Vec<WrapKatReport>,
    },
    /// The key as read back from the HSM (boulder's habit: check what was made).
    KeyGenerated {
        kty: String,
        key_size: Option<u32>,
        crv: Option<String>,
        attributes: KeyAttributes,
        public_key_pem: Option<String>,
        check_value: Option<String>,
    },
    /// The exact `.byok` file: ciphertext is not secret, and keeping it in the log lets a
    /// resumed ceremony export the same file without touching the HSM again.
    Wrapped {
        byok_json: String,
        byok_sha256: String,
        method: WrapMethod,
        rehearsal_grade: bool,
    },
    Exported {
        files: Vec<FileRecord>,
    },
    Verified {
        files: Vec<FileRecord>,
    },
    KeyDestroyed {
        label: String,
        id_hex: String,
    },
    SignedOff {
        name: String,
    },
    Closed {
        by: String,
    },
    DeviationRecorded {
        by: String,
        text: String,
    },
    DeviationAcknowledged {
        by: String,
        deviation: usize,
    },
    /// An operation failed; the people choose what next (retry, deviation, abort).
    StepFailed {
        phase: Phase,
        reason: String,
    },
    Aborted {
        by: String,
        reason: String,
        /// Recorded when recovering from an interrupted run: the HSM login died with it.
        after_crash: bool,
    },
    /// The run continued after a crash, from the last safe point.
    Resumed {
        by: String,
    },
    /// The administrator chose to run a failed or stalled step again (the choice is logged
    /// before the step runs; its result follows as its own event).
    RetryRequested {
        by: String,
        phase: Phase,
    },
    /// The script's instruction for a step, put before the people on that step's screen
    /// (photo ID check, phones out, tamper bags).
    InstructionShown {
        phase: Phase,
        text: String,
    },
    /// A signed checkpoint over the log so far (C2SP signed note); payload verified by audit.
    Checkpoint {
        gate: Phase,
        note: String,
    },
}

impl Event {
    /// The event's name as written in the log.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::CeremonyOpened { .. } => "ceremony_opened",
            Event::PreflightCompleted { .. } => "preflight_completed",
            Event::CheckedIn { .. } => "checked_in",
            Event::AttendanceClosed { .. } => "attendance_closed",
            Event::SharePresented { .. } => "share_presented",
            Event::ShareRejected { .. } => "share_rejected",
            Event::HsmAuthenticationPresented { .. } => "hsm_authentication_presented",
            Event::LoggedIn { .. } => "logged_in",
            Event::LoginFailed { .. } => "login_failed",
            Event::KekLoaded { .. } => "kek_loaded",
            Event::KekConfirmed { .. } => "kek_confirmed",
            Event::KekRejected { .. } => "kek_rejected",
            Event::WrapTested { .. } => "wrap_tested",
            Event::KeyGenerated { .. } => "key_generated",
            Event::Wrapped { .. } => "wrapped",
            Event::Exported { .. } => "exported",
            Event::Verified { .. } => "verified",
            Event::KeyDestroyed { .. } => "key_destroyed",
            Event::SignedOff { .. } => "signed_off",
            Event::Closed { .. } => "closed",
            Event::DeviationRecorded { .. } => "deviation_recorded",
            Event::DeviationAcknowledged { .. } => "deviation_acknowledged",
            Event::StepFailed { .. } => "step_failed",
            Event::Aborted { .. } => "aborted",
            Event::Resumed { .. } => "resumed",
            Event::RetryRequested { .. } => "retry_requested",
            Event::InstructionShown { .. } => "instruction_shown",
            Event::Checkpoint { .. } => "checkpoint",
        }
    }

    /// The person who caused the event, if a person did.
    pub fn actor(&self) -> Option<&str> {
        match self {
            Event::CheckedIn { name } | Event::SignedOff { name } => Some(name),
            Event::AttendanceClosed { by }
            | Event::Closed { by }
            | Event::DeviationRecorded { by, .. }
            | Event::DeviationAcknowledged { by, .. }
            | Event::Aborted { by, .. }
            | Event::Resumed { by }
            | Event::RetryRequested { by, .. } => Some(by),
            Event::SharePresented { custodian, .. }
            | Event::ShareRejected { custodian, .. }
            | Event::HsmAuthenticationPresented { custodian }
            | Event::KekConfirmed { custodian }
            | Event::KekRejected { custodian, .. } => Some(custodian),
            _ => None,
        }
    }
}

/// What the machine asks the runner to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    RunPreflight,
    /// Rebuild the PIN from the accepted shares (or use the HSM's own path) and log in.
    LogIn,
    LoadKek,
    /// Prove the HSM's wrap with throwaway keys (known-answer test).
    TestWrap,
    GenerateKey,
    Wrap,
    Export,
    VerifyExport,
    DestroyKey,
    /// Sign a checkpoint over the log at this gate.
    Checkpoint(Phase),
    /// Write the final copy of the log to the media.
    Finish,
}

/// A deviation from the script, and whether the witness has acknowledged it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deviation {
    pub phase: Phase,
    pub by: String,
    pub text: String,
    pub acknowledged_by: Option<String>,
}

/// The whole ceremony state; derived only from events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub phase: Phase,
    pub config: Option<MachineConfig>,
    pub rehearsal: bool,
    pub present: BTreeSet<String>,
    pub shares_from: BTreeSet<String>,
    pub share_indices: BTreeSet<u8>,
    pub logged_in: bool,
    pub kek_fingerprint: Option<String>,
    pub kek_confirmed_by: BTreeSet<String>,
    /// The wrap path this run's known-answer test proved (cleared when a run resumes: the test
    /// is repeated by the process that wraps).
    pub wrap_method: Option<WrapMethod>,
    pub key_label: Option<String>,
    pub key_id_hex: Option<String>,
    pub key_destroyed: bool,
    pub byok_sha256: Option<String>,
    pub exported: Vec<FileRecord>,
    pub verified: bool,
    pub signed_off_by: BTreeSet<String>,
    pub deviations: Vec<Deviation>,
    pub failures: Vec<String>,
    pub checkpoints: Vec<Phase>,
    /// After a crash: where to continue once the custodians have logged in again.
    pub resume_to: Option<Phase>,
}

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}

/// Why an event was refused: the rule it would break, in words for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused in phase \"{phase}\": {rule}", phase = .phase.title())]
pub struct Refusal {
    pub phase: Phase,
    pub rule: String,
}

impl State {
    pub fn new() -> Self {
        State {
            phase: Phase::Opened,
            config: None,
            rehearsal: false,
            present: BTreeSet::new(),
            shares_from: BTreeSet::new(),
            share_indices: BTreeSet::new(),
            logged_in: false,
            kek_fingerprint: None,
            kek_confirmed_by: BTreeSet::new(),
            wrap_method: None,
            key_label: None,
            key_id_hex: None,
            key_destroyed: false,
            byok_sha256: None,
            exported: Vec::new(),
            verified: false,
            signed_off_by: BTreeSet::new(),
            deviations: Vec::new(),
            failures: Vec::new(),
            checkpoints: Vec::new(),
            resume_to: None,
        }
    }

    /// True once nothing more may happen.
    pub fn is_final(&self) -> bool {
        matches!(self.phase, Phase::Closed | Phase::Aborted)
    }

    /// Custodians present: the people who must confirm the KEK and sign off.
    pub fn custodians_present(&self) -> Vec<String> {
        match &self.config {
            Some(c) => c
                .custodians
                .iter()
                .filter(|n| self.present.contains(*n))
                .cloned()
                .collect(),
            None => Vec::new(),
        }
    }

    /// How many custodians are present: `custodians_present().len()` without the copies.
    fn custodians_present_count(&self) -> usize {
        self.config.as_ref().map_or(0, |c| {
            c.custodians
                .iter()
                .filter(|n| self.present.contains(*n))
                .count()
        })
    }

    /// `custodians_present().contains(name)` without the copies.
    fn is_custodian_present(&self, name: &str) -> bool {
        self.present.contains(name)
            && self
                .config
                .as_ref()
                .is_some_and(|c| c.custodians.iter().any(|n| n == name))
    }

    /// The run made a key that is still in the HSM.
    pub fn key_pending_destroy(&self) -> bool {
        self.key_id_hex.is_some() && !self.key_destroyed
    }

    /// Deviations the witness has not yet acknowledged (they block every gate).
    pub fn unacknowledged_deviations(&self) -> usize {
        self.deviations
            .iter()
            .filter(|d| d.acknowledged_by.is_none())
            .count()
    }
}

/// Applies one event. Pure: the same state and event always give the same answer.
///
/// A thin wrapper over [`apply`] for callers that keep the state before the event (the runner
/// logs an event before it takes the new state; tests compare before and after).
pub fn step(state: &State, event: &Event) -> Result<(State, Vec<Effect>), Refusal> {
    let mut next = state.clone();
    let effects = apply(&mut next, event)?;
    Ok((next, effects))
}

/// Applies one event to `state` in place: the one implementation of the rules, without the
/// copy of the whole state that `step` makes (an audit replay applies millions of events).
///
/// All or nothing: every rule is checked before anything changes, so a refused event leaves
/// `state` exactly as it was.
pub fn apply(state: &mut State, event: &Event) -> Result<Vec<Effect>, Refusal> {
    if state.is_final() {
        return apply_after_end(state, event);
    }
    if let Some(result) = apply_in_any_phase(state, event) {
        return result;
    }
    apply_in_phase(state, event)
}

/// The rule `rule`, broken in the current phase.
fn refusal(state: &State, rule: &str) -> Refusal {
    Refusal {
        phase: state.phase,
        rule: rule.to_owned(),
    }
}

/// After close or abort: only the closing checkpoint and the clean-up of an aborted run.
fn apply_after_end(s: &mut State, event: &Event) -> Result<Vec<Effect>, Refusal> {
    match event {
        Event::Checkpoint { gate, .. } if *gate == s.phase && !s.checkpoints.contains(gate) => {
            s.checkpoints.push(*gate);
            Ok(Vec::new())
        }
        Event::KeyDestroyed { .. } if s.phase == Phase::Aborted && s.key_pending_destroy() => {
            s.key_destroyed = true;
            Ok(Vec::new())
        }
        // An aborted run whose key is still in the HSM: the quorum logs in once more, only to
        // destroy it.
        Event::SharePresented {
            custodian,
            share_index,
            commitment_verified,
        } if awaiting_destruction_login(s) => {
            accept_share(s, custodian, *share_index, *commitment_verified)
        }
        Event::HsmAuthenticationPresented { custodian } if awaiting_destruction_login(s) => {
            accept_native(s, custodian)
        }
        Event::ShareRejected { .. } | Event::LoginFailed { .. }
            if awaiting_destruction_login(s) =>
        {
            s.shares_from.clear();
            s.share_indices.clear();
            Ok(Vec::new())
        }
        Event::LoggedIn { .. } if awaiting_destruction_login(s) => {
            if s.shares_from.len() < config(s)?.threshold() {
                return Err(refusal(s, "the HSM is used only after the quorum is met"));
            }
            s.logged_in = true;
            Ok(vec![
                Effect::DestroyKey,
                Effect::Checkpoint(Phase::Aborted),
                Effect::Finish,
            ])
        }
        _ => Err(refusal(
            s,
            "the ceremony is over; nothing may be added after it closed or aborted",
        )),
    }
}

/// Events allowed in any open phase once the ceremony has a configuration; None for the
/// others.
fn apply_in_any_phase(s: &mut State, event: &Event) -> Option<Result<Vec<Effect>, Refusal>> {
    Some(match event {
        Event::DeviationRecorded { by, text } => record_deviation(s, by, text),
        Event::DeviationAcknowledged { by, deviation } => acknowledge_deviation(s, by, *deviation),
        Event::RetryRequested { by, phase } => retry(s, by, *phase),
        Event::StepFailed { phase, reason } => {
            if *phase != s.phase {
                return Some(Err(refusal(
                    s,
                    "a failure is recorded in the phase where it happened",
                )));
            }
            s.failures.push(format!("{}: {reason}", phase.title()));
            Ok(Vec::new())
        }
        Event::Checkpoint { gate, .. } => {
            if s.config.is_none() || *gate > s.phase {
                return Some(Err(refusal(s, "a checkpoint covers a gate already passed")));
            }
            s.checkpoints.push(*gate);
            Ok(Vec::new())
        }
        Event::Aborted {
            by,
            reason,
            after_crash,
        } => abort(s, by, reason, *after_crash),
        Event::Resumed { by } => resume(s, by),
        Event::InstructionShown { phase, text } => {
            if config(s).is_err() || *phase > s.phase || text.trim().is_empty() {
                return Some(Err(refusal(
                    s,
                    "an instruction is shown for the current step or one already reached",
                )));
            }
            Ok(Vec::new())
        }
        _ => return None,
    })
}

fn record_deviation(s: &mut State, by: &str, text: &str) -> Result<Vec<Effect>, Refusal> {
    if by != config(s)?.administrator {
        return Err(refusal(
            s,
            "only the ceremony administrator records a deviation",
        ));
    }
    if !s.present.contains(by) {
        return Err(refusal(
            s,
            "the administrator records a deviation only after checking in",
        ));
    }
    if text.trim().is_empty() {
        return Err(refusal(s, "a deviation needs a description"));
    }
    let deviation = Deviation {
        phase: s.phase,
        by: by.to_owned(),
        text: text.to_owned(),
        acknowledged_by: None,
    };
    s.deviations.push(deviation);
    Ok(Vec::new())
}

fn acknowledge_deviation(s: &mut State, by: &str, index: usize) -> Result<Vec<Effect>, Refusal> {
    if by != config(s)?.witness {
        return Err(refusal(
            s,
            "only the internal witness acknowledges a deviation",
        ));
    }
    if !s.present.contains(by) {
        return Err(refusal(
            s,
            "the witness acknowledges a deviation only after checking in",
        ));
    }
    match s.deviations.get(index) {
        None => return Err(refusal(s, "there is no such deviation")),
        Some(d) if d.acknowledged_by.is_some() => {
            return Err(refusal(s, "that deviation is already acknowledged"));
        }
        Some(_) => {}
    }
    if let Some(d) = s.deviations.get_mut(index) {
        d.acknowledged_by = Some(by.to_owned());
    }
    Ok(Vec::new())
}

fn retry(s: &State, by: &str, phase: Phase) -> Result<Vec<Effect>, Refusal> {
    if by != config(s)?.administrator {
        return Err(refusal(
            s,
            "only the ceremony administrator asks for a retry",
        ));
    }
    if phase != s.phase {
        return Err(refusal(s, "a retry is asked for in the current phase"));
    }
    let effect = retry_effect(s).ok_or_else(|| {
        refusal(
            s,
            "nothing to retry in this phase: only a step the tool runs is retried",
        )
    })?;
    Ok(vec![effect])
}

fn abort(s: &mut State, by: &str, reason: &str, after_crash: bool) -> Result<Vec<Effect>, Refusal> {
    if by != config(s)?.administrator {
        return Err(refusal(
            s,
            "only the ceremony administrator aborts a ceremony",
        ));
    }
    if reason.trim().is_empty() {
        return Err(refusal(s, "an abort needs a reason"));
    }
    s.phase = Phase::Aborted;
    if after_crash {
        s.logged_in = false;
        s.shares_from.clear();
        s.share_indices.clear();
    }
    // A key the run made must not outlive an aborted ceremony; destroying it and signing the
    // last checkpoint both need the quorum's login.
    Ok(match (s.key_pending_destroy(), s.logged_in) {
        (true, true) => vec![
            Effect::DestroyKey,
            Effect::Checkpoint(Phase::Aborted),
            Effect::Finish,
        ],
        (true, false) => vec![],
        (false, true) => vec![Effect::Checkpoint(Phase::Aborted), Effect::Finish],
        (false, false) => vec![Effect::Finish],
    })
}

fn resume(s: &mut State, by: &str) -> Result<Vec<Effect>, Refusal> {
    if by != config(s)?.administrator {
        return Err(refusal(
            s,
            "only the ceremony administrator resumes a ceremony",
        ));
    }
    let stopped_in = s.phase;
    // A crash ends the HSM session and wipes the shares from memory; the wrap is proven again
    // by the process that will wrap.
    s.logged_in = false;
    s.wrap_method = None;
    s.shares_from.clear();
    s.share_indices.clear();
    // Past the quorum gate every step needs the HSM (at least to sign its checkpoint): a fresh
    // quorum logs in, then the run continues where it stopped. The KEK is reloaded and
    // reconfirmed before any wrap; an existing key is reused, never replaced.
    Ok(match stopped_in {
        Phase::Opened | Phase::Preflight => vec![Effect::RunPreflight],
        Phase::Attendance | Phase::Quorum | Phase::Closed | Phase::Aborted => vec![],
        Phase::KekLoad | Phase::KekConfirm | Phase::KeyGeneration | Phase::Wrap => {
            s.phase = Phase::Quorum;
            s.resume_to = Some(Phase::KekLoad);
            s.kek_fingerprint = None;
            s.kek_confirmed_by.clear();
            vec![]
        }
        Phase::Export | Phase::Verification | Phase::SignOff => {
            s.phase = Phase::Quorum;
            s.resume_to = Some(stopped_in);
            vec![]
        }
    })
}

/// The events of the ceremony's steps, each allowed only in its own phase.
fn apply_in_phase(s: &mut State, event: &Event) -> Result<Vec<Effect>, Refusal> {
    match (s.phase, event) {
        (
            Phase::Opened,
            Event::CeremonyOpened {
                config, rehearsal, ..
            },
        ) => {
            s.config = Some(config.clone());
            s.rehearsal = *rehearsal;
            s.phase = Phase::Preflight;
            Ok(vec![Effect::RunPreflight])
        }
        (Phase::Preflight, Event::PreflightCompleted { checks }) => {
            if checks.iter().all(|c| c.passed) {
                s.phase = Phase::Attendance;
            } else {
                s.failures.extend(
                    checks
                        .iter()
                        .filter(|c| !c.passed)
                        .map(|c| format!("{}: {}", c.name, c.detail)),
                );
            }
            Ok(vec![])
        }
        (Phase::Attendance, Event::CheckedIn { name }) => {
            if config(s)?.role_of(name).is_none() {
                return Err(refusal(s, "only people named in the script may check in"));
            }
            if s.present.contains(name) {
                return Err(refusal(s, "that person has already checked in"));
            }
            s.present.insert(name.clone());
            Ok(vec![])
        }
        (Phase::Attendance, Event::AttendanceClosed { by }) => close_attendance(s, by),
        (
            Phase::Quorum,
            Event::SharePresented {
                custodian,
                share_index,
                commitment_verified,
            },
        ) => accept_share(s, custodian, *share_index, *commitment_verified),
        (Phase::Quorum, Event::ShareRejected { .. }) => Ok(vec![]),
        (Phase::Quorum, Event::HsmAuthenticationPresented { custodian }) => {
            accept_native(s, custodian)
        }
        (Phase::Quorum, Event::LoggedIn { .. }) => log_in(s),
        (Phase::Quorum, Event::LoginFailed { .. }) => {
            s.shares_from.clear();
            s.share_indices.clear();
            Ok(vec![])
        }
        (
            Phase::KekLoad,
            Event::KekLoaded {
                fingerprint_sha256, ..
            },
        ) => {
            if let Some(expected) = &config(s)?.expected_kek_fingerprint {
                if expected != fingerprint_sha256 {
                    return Err(refusal(
                        s,
                        "the KEK's fingerprint is not the one the script expects; load the right KEK file",
                    ));
                }
            }
            s.kek_fingerprint = Some(fingerprint_sha256.clone());
            s.kek_confirmed_by.clear();
            s.phase = Phase::KekConfirm;
            Ok(vec![])
        }
        (Phase::KekConfirm, Event::KekConfirmed { custodian }) => confirm_kek(s, custodian),
        (Phase::KekConfirm, Event::KekRejected { custodian, .. }) => {
            if !s.is_custodian_present(custodian) {
                return Err(refusal(
                    s,
                    "only a custodian who checked in may reject the KEK",
                ));
            }
            s.kek_fingerprint = None;
            s.kek_confirmed_by.clear();
            s.phase = Phase::KekLoad;
            Ok(vec![])
        }
        (Phase::KeyGeneration, Event::KeyGenerated { attributes, .. }) => {
            if !s.logged_in {
                return Err(refusal(s, "the HSM is used only after the quorum is met"));
            }
            if s.key_id_hex.is_some() {
                return Err(refusal(
                    s,
                    "this ceremony already generated its key; one ceremony makes one key",
                ));
            }
            if s.wrap_method.is_none() {
                return Err(refusal(
                    s,
                    "no key is made before the HSM's wrap has passed its known-answer test",
                ));
            }
            s.key_label = Some(attributes.label.clone());
            s.key_id_hex = Some(attributes.id_hex.clone());
            s.phase = Phase::Wrap;
            Ok(vec![Effect::Checkpoint(Phase::KeyGeneration), Effect::Wrap])
        }
        (
            Phase::KeyGeneration | Phase::Wrap,
            Event::WrapTested {
                oaep_hash, method, ..
            },
        ) => wrap_tested(s, *oaep_hash, method.as_ref()),
        (
            Phase::Wrap,
            Event::Wrapped {
                byok_sha256,
                method,
                rehearsal_grade,
                ..
            },
        ) => {
            if !s.logged_in {
                return Err(refusal(s, "the HSM is used only after the quorum is met"));
            }
            if s.wrap_method.as_ref() != Some(method) {
                return Err(refusal(
                    s,
                    "the wrap takes the path its known-answer test proved in this run",
                ));
            }
            if *rehearsal_grade != method.zero_pads() {
                return Err(refusal(
                    s,
                    "a wrap is rehearsal-grade exactly when its path zero-pads",
                ));
            }
            if s.kek_confirmed_by.len() < s.custodians_present_count()
                || s.kek_fingerprint.is_none()
            {
                return Err(refusal(
                    s,
                    "nothing is wrapped before the KEK fingerprint is confirmed",
                ));
            }
            s.byok_sha256 = Some(byok_sha256.clone());
            s.phase = Phase::Export;
            Ok(vec![Effect::Checkpoint(Phase::Wrap), Effect::Export])
        }
        (Phase::Export, Event::Exported { files }) => {
            if s.byok_sha256.is_none() {
                return Err(refusal(s, "nothing is exported before the wrap succeeded"));
            }
            if files.is_empty() {
                return Err(refusal(s, "an export writes at least the .byok file"));
            }
            s.exported = files.clone();
            s.phase = Phase::Verification;
            Ok(vec![Effect::VerifyExport])
        }
        (Phase::Verification, Event::Verified { files }) => {
            if *files != s.exported {
                return Err(refusal(s, "the files read back differ from those written"));
            }
            let destroy = config(s)?.destroy_after_export;
            s.verified = true;
            s.phase = Phase::SignOff;
            let mut effects = vec![Effect::Checkpoint(Phase::Verification)];
            if destroy {
                effects.push(Effect::DestroyKey);
            }
            Ok(effects)
        }
        (Phase::SignOff, Event::KeyDestroyed { .. }) => {
            if s.key_destroyed {
                return Err(refusal(s, "the key is already destroyed"));
            }
            s.key_destroyed = true;
            Ok(vec![])
        }
        (Phase::SignOff, Event::SignedOff { name }) => sign_off(s, name),
        (Phase::SignOff, Event::Closed { by }) => close(s, by),
        _ => Err(refusal(
            s,
            &format!("\"{}\" cannot happen now", event.kind().replace('_', " ")),
        )),
    }
}

fn close_attendance(s: &mut State, by: &str) -> Result<Vec<Effect>, Refusal> {
    let config = config(s)?;
    gate(s)?;
    if by != config.administrator {
        return Err(refusal(s, "the ceremony administrator closes attendance"));
    }
    if !s.present.contains(&config.administrator) || !s.present.contains(&config.witness) {
        return Err(refusal(
            s,
            "the administrator and the witness must both be present",
        ));
    }
    if s.custodians_present_count() < config.threshold() {
        return Err(refusal(
            s,
            "fewer custodians are present than the quorum needs",
        ));
    }
    s.phase = Phase::Quorum;
    // No checkpoint yet: the audit key signs only after the quorum has logged in, and the
    // first checkpoint (at the quorum gate) covers attendance too.
    Ok(vec![])
}

fn log_in(s: &mut State) -> Result<Vec<Effect>, Refusal> {
    let config = config(s)?;
    if s.shares_from.len() < config.threshold() {
        return Err(refusal(s, "the HSM is used only after the quorum is met"));
    }
    gate(s)?;
    let destroy_pending = config.destroy_after_export && !s.key_destroyed;
    s.logged_in = true;
    s.phase = s.resume_to.take().unwrap_or(Phase::KekLoad);
    let next = match s.phase {
        Phase::Export => Some(Effect::Export),
        Phase::Verification => Some(Effect::VerifyExport),
        Phase::SignOff if destroy_pending => Some(Effect::DestroyKey),
        Phase::SignOff => None,
        _ => Some(Effect::LoadKek),
    };
    Ok(std::iter::once(Effect::Checkpoint(Phase::Quorum))
        .chain(next)
        .collect())
}

fn confirm_kek(s: &mut State, custodian: &str) -> Result<Vec<Effect>, Refusal> {
    if !s.is_custodian_present(custodian) {
        return Err(refusal(
            s,
            "only a custodian who checked in confirms the KEK",
        ));
    }
    if s.kek_confirmed_by.contains(custodian) {
        return Err(refusal(s, "that custodian has already confirmed"));
    }
    // The last confirmation passes the gate: check it before recording anything.
    let last = s.kek_confirmed_by.len() + 1 == s.custodians_present_count();
    if last {
        gate(s)?;
    }
    s.kek_confirmed_by.insert(custodian.to_owned());
    if !last {
        return Ok(vec![]);
    }
    // Resumed after a crash with the key already made: never a second key.
    s.phase = if s.key_id_hex.is_some() {
        Phase::Wrap
    } else {
        Phase::KeyGeneration
    };
    Ok(vec![
        Effect::Checkpoint(Phase::KekConfirm),
        next_hsm_step(s),
    ])
}

/// What the HSM does next once the KEK is confirmed: prove the wrap first, then make the key
/// (or, resumed with the key already made, wrap it).
fn next_hsm_step(s: &State) -> Effect {
    match (s.wrap_method.is_some(), s.phase) {
        (false, _) => Effect::TestWrap,
        (true, Phase::Wrap) => Effect::Wrap,
        (true, _) => Effect::GenerateKey,
    }
}

/// The HSM's wrap, proven (or not) with throwaway keys. A path that zero-pads is taken only in a
/// rehearsal or where the script allows it; otherwise, or when no path passed, the step fails
/// here, before any key is made, and the people retry on another token or abort.
fn wrap_tested(
    s: &mut State,
    oaep_hash: OaepHash,
    method: Option<&WrapMethod>,
) -> Result<Vec<Effect>, Refusal> {
    use crate::hsm_types::wrap::WrapKatOutcome;
    let config = config(s)?;
    if !s.logged_in {
        return Err(refusal(s, "the HSM is used only after the quorum is met"));
    }
    if s.wrap_method.is_some() {
        return Err(refusal(s, "the HSM's wrap is already proven in this run"));
    }
    if oaep_hash != OaepHash::Sha1 {
        return Err(refusal(
            s,
            "Azure unwraps with OAEP SHA-1: the wrap is tested for SHA-1",
        ));
    }
    let Some(method) = method else {
        s.failures.push(
            "no wrap path of the HSM passed its known-answer test for OAEP SHA-1: nothing it wraps can be trusted; use another HSM, or abort".into(),
        );
        return Ok(vec![]);
    };
    let kat = method.path_kat();
    if kat.oaep_hash != oaep_hash
        || !matches!(
            kat.outcome,
            WrapKatOutcome::Exact | WrapKatOutcome::ZeroPadded
        )
    {
        return Err(refusal(
            s,
            "a wrap path is chosen only after its known-answer test passed for the ceremony's OAEP hash",
        ));
    }
    if config.wrap_with_trusted && !matches!(method, WrapMethod::Native { .. }) {
        s.failures.push(
            "the script asks for trusted-only wrapping (wrap_with_trusted), which only the native CKM_RSA_AES_KEY_WRAP can do, and this HSM's native wrap did not pass its known-answer test: use an HSM whose native wrap does, or abort".into(),
        );
        return Ok(vec![]);
    }
    if method.zero_pads() && !s.rehearsal && !config.allow_zero_padding {
        s.failures.push(
            "the HSM's wrap zero-pads the key before RFC 5649 (known-answer test), so the .byok would carry trailing zero bytes that Azure may reject; a production ceremony refuses it before any key is made: use an HSM whose wrap is byte-exact, or abort (a script may accept it with allow_zero_padding = true)".into(),
        );
        return Ok(vec![]);
    }
    s.wrap_method = Some(method.clone());
    Ok(vec![next_hsm_step(s)])
}

fn sign_off(s: &mut State, name: &str) -> Result<Vec<Effect>, Refusal> {
    let role = config(s)?.role_of(name);
    if !s.present.contains(name)
        || !matches!(
            role,
            Some(Role::Administrator | Role::Witness | Role::Custodian | Role::Auditor)
        )
    {
        return Err(refusal(s, "only people present sign off"));
    }
    if s.signed_off_by.contains(name) {
        return Err(refusal(s, "that person has already signed off"));
    }
    s.signed_off_by.insert(name.to_owned());
    Ok(vec![])
}

fn close(s: &mut State, by: &str) -> Result<Vec<Effect>, Refusal> {
    let config = config(s)?;
    gate(s)?;
    if by != config.administrator {
        return Err(refusal(s, "the ceremony administrator closes the ceremony"));
    }
    let signed = |name: &String| s.signed_off_by.contains(name);
    let everyone_signed = signed(&config.administrator)
        && signed(&config.witness)
        && config
            .custodians
            .iter()
            .filter(|c| s.present.contains(*c))
            .all(signed);
    if !everyone_signed {
        return Err(refusal(
            s,
            "the administrator, the witness and every custodian present must sign off before close",
        ));
    }
    if config.destroy_after_export && !s.key_destroyed {
        return Err(refusal(
            s,
            "the script says destroy the key after export; it is not destroyed yet",
        ));
    }
    s.phase = Phase::Closed;
    Ok(vec![Effect::Checkpoint(Phase::Closed), Effect::Finish])
}

fn config(state: &State) -> Result<&MachineConfig, Refusal> {
    state.config.as_ref().ok_or_else(|| Refusal {
        phase: state.phase,
        rule: "the ceremony has not been opened".into(),
    })
}

/// An aborted run waits for the quorum to log in and destroy the key it made.
fn awaiting_destruction_login(state: &State) -> bool {
    state.phase == Phase::Aborted && state.key_pending_destroy() && !state.logged_in
}

/// A custodian's share, checked against the rules; `LogIn` once the quorum is complete.
fn accept_share(
    s: &mut State,
    custodian: &str,
    share_index: u8,
    commitment_verified: bool,
) -> Result<Vec<Effect>, Refusal> {
    let config = config(s)?;
    if !matches!(config.quorum, QuorumMode::SplitPin { .. }) {
        return Err(refusal(
            s,
            "this HSM uses its own quorum; no PIN shares are entered",
        ));
    }
    if config.role_of(custodian) != Some(Role::Custodian) || !s.present.contains(custodian) {
        return Err(refusal(
            s,
            "only a custodian who checked in may present a share",
        ));
    }
    if !commitment_verified {
        return Err(refusal(
            s,
            "a share whose commitment did not verify is not accepted",
        ));
    }
    if s.shares_from.contains(custodian) || s.share_indices.contains(&share_index) {
        return Err(refusal(
            s,
            "each custodian presents one share, and each share once",
        ));
    }
    let threshold = config.threshold();
    s.shares_from.insert(custodian.to_owned());
    s.share_indices.insert(share_index);
    Ok(if s.shares_from.len() == threshold {
        vec![Effect::LogIn]
    } else {
        vec![]
    })
}

/// A custodian authenticating at an HSM with its own quorum (PED key, card).
fn accept_native(s: &mut State, custodian: &str) -> Result<Vec<Effect>, Refusal> {
    let config = config(s)?;
    if !matches!(config.quorum, QuorumMode::HsmNative { .. }) {
        return Err(refusal(s, "this ceremony rebuilds the PIN from shares"));
    }
    if config.role_of(custodian) != Some(Role::Custodian) || !s.present.contains(custodian) {
        return Err(refusal(
            s,
            "only a custodian who checked in may authenticate",
        ));
    }
    if s.shares_from.contains(custodian) {
        return Err(refusal(s, "that custodian has already authenticated"));
    }
    let threshold = config.threshold();
    s.shares_from.insert(custodian.to_owned());
    Ok(if s.shares_from.len() == threshold {
        vec![Effect::LogIn]
    } else {
        vec![]
    })
}

/// Every gate waits until the witness has acknowledged each deviation.
fn gate(state: &State) -> Result<(), Refusal> {
    if state.unacknowledged_deviations() > 0 {
        Err(Refusal {
            phase: state.phase,
            rule: "a recorded deviation awaits the witness's acknowledgement".into(),
        })
    } else {
        Ok(())
    }
}

/// The step the tool runs again when the administrator asks for a retry in the current phase.
pub fn retry_effect(state: &State) -> Option<Effect> {
    match state.phase {
        Phase::Opened | Phase::Preflight => Some(Effect::RunPreflight),
        Phase::KekLoad => Some(Effect::LoadKek),
        Phase::KeyGeneration | Phase::Wrap => Some(next_hsm_step(state)),
        Phase::Export => Some(Effect::Export),
        Phase::Verification => Some(Effect::VerifyExport),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Events by every kind of person, in and out of turn; enough to reach every phase.
    fn pool() -> Vec<Event> {
        let config = MachineConfig {
            ceremony_id: "c".into(),
            administrator: "oscar".into(),
            witness: "wendy".into(),
            auditor: None,
            custodians: vec!["alice".into(), "bob".into()],
            quorum: QuorumMode::SplitPin { threshold: 2 },
            expected_kek_fingerprint: None,
            destroy_after_export: true,
            allow_zero_padding: false,
            wrap_with_trusted: false,
        };
        let native = WrapMethod::Native {
            kat: crate::hsm_types::wrap::WrapKatReport {
                path: "native".into(),
                mechanism: "CKM_RSA_AES_KEY_WRAP".into(),
                oaep_hash: OaepHash::Sha1,
                vectors: 3,
                outcome: crate::hsm_types::wrap::WrapKatOutcome::Exact,
            },
        };
        let files = vec![FileRecord {
            name: "k.byok".into(),
            sha256: "00".into(),
        }];
        let mut events = vec![
            Event::CeremonyOpened {
                config,
                script_sha256: String::new(),
                tool_version: String::new(),
                binary_sha256: String::new(),
                host: String::new(),
                os: String::new(),
                hsm: TokenIdentity::default(),
                hsm_module: String::new(),
                hsm_library: String::new(),
                rehearsal: true,
            },
            Event::PreflightCompleted { checks: vec![] },
            Event::LoggedIn {
                token_label: "t".into(),
            },
            Event::LoginFailed { reason: "r".into() },
            Event::KekLoaded {
                kid: "k".into(),
                fingerprint_sha256: "ff".into(),
                bits: 2048,
                warnings: vec![],
                file: None,
            },
            Event::KeyGenerated {
                kty: "RSA-HSM".into(),
                key_size: None,
                crv: None,
                attributes: KeyAttributes {
                    label: "k".into(),
                    id_hex: "01".into(),
                    token: true,
                    sensitive: true,
                    extractable: true,
                    local: true,
                    always_sensitive: true,
                    never_extractable: false,
                    wrap_with_trusted: false,
                },
                public_key_pem: None,
                check_value: None,
            },
            Event::Wrapped {
                byok_json: String::new(),
                byok_sha256: "11".into(),
                method: native.clone(),
                rehearsal_grade: false,
            },
            Event::WrapTested {
                oaep_hash: OaepHash::Sha1,
                method: Some(native),
                failed: vec![],
            },
            Event::Exported {
                files: files.clone(),
            },
            Event::Verified { files },
            Event::KeyDestroyed {
                label: "k".into(),
                id_hex: "01".into(),
            },
            Event::DeviationAcknowledged {
                by: "wendy".into(),
                deviation: 0,
            },
        ];
        for phase in [Phase::Quorum, Phase::KekLoad, Phase::Wrap, Phase::SignOff] {
            events.push(Event::Checkpoint {
                gate: phase,
                note: String::new(),
            });
            events.push(Event::StepFailed {
                phase,
                reason: "r".into(),
            });
        }
        for (i, who) in (1..).zip(["oscar", "wendy", "alice", "bob", "mallory"]) {
            let who = who.to_owned();
            events.extend([
                Event::CheckedIn { name: who.clone() },
                Event::AttendanceClosed { by: who.clone() },
                Event::SharePresented {
                    custodian: who.clone(),
                    share_index: i,
                    commitment_verified: true,
                },
                Event::ShareRejected {
                    custodian: who.clone(),
                    reason: "r".into(),
                },
                Event::KekConfirmed {
                    custodian: who.clone(),
                },
                Event::KekRejected {
                    custodian: who.clone(),
                    reason: "r".into(),
                },
                Event::SignedOff { name: who.clone() },
                Event::Closed { by: who.clone() },
                Event::DeviationRecorded {
                    by: who.clone(),
                    text: "t".into(),
                },
                Event::RetryRequested {
                    by: who.clone(),
                    phase: Phase::KekLoad,
                },
                Event::Resumed { by: who.clone() },
                Event::Aborted {
                    by: who,
                    reason: "r".into(),
                    after_crash: i % 2 == 0,
                },
            ]);
        }
        events
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// `apply` is all or nothing: a refused event leaves the state exactly as it was, and
        /// an accepted one gives what `step` gives.
        #[test]
        fn a_refused_event_changes_nothing(picks in proptest::collection::vec(any::<prop::sample::Index>(), 1..300)) {
            let pool = pool();
            let mut state = State::new();
            for pick in picks {
                // Mostly an event the machine accepts, so that runs get deep into the ceremony.
                let accepted: Vec<&Event> = pool.iter().filter(|e| step(&state, e).is_ok()).collect();
                let event = match accepted.len() {
                    0 => pick.get(&pool),
                    n if pick.index(4) > 0 => accepted[pick.index(n)],
                    _ => pick.get(&pool),
                };
                let before = state.clone();
                let stepped = step(&before, event);
                match apply(&mut state, event) {
                    Ok(effects) => prop_assert_eq!(stepped, Ok((state.clone(), effects))),
                    Err(refusal) => {
                        prop_assert_eq!(&state, &before, "refused {:?} but changed the state", event);
                        prop_assert_eq!(stepped, Err(refusal));
                    }
                }
            }
        }
    }
}
