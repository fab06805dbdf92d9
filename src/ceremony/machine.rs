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
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::hsm::TokenIdentity;
use crate::hsm::target::KeyAttributes;
use crate::hsm::wrap::WrapMethod;

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
pub fn step(state: &State, event: &Event) -> Result<(State, Vec<Effect>), Refusal> {
    let mut s = state.clone();
    let refuse = |rule: &str| Refusal {
        phase: state.phase,
        rule: rule.to_owned(),
    };
    if state.is_final() {
        // Only the closing checkpoint and the clean-up of an aborted run may follow the end.
        return match event {
            Event::Checkpoint { gate, .. }
                if *gate == state.phase && !state.checkpoints.contains(gate) =>
            {
                s.checkpoints.push(*gate);
                Ok((s, Vec::new()))
            }
            Event::KeyDestroyed { .. }
                if state.phase == Phase::Aborted && state.key_pending_destroy() =>
            {
                s.key_destroyed = true;
                Ok((s, Vec::new()))
            }
            // An aborted run whose key is still in the HSM: the quorum logs in once more, only
            // to destroy it.
            Event::SharePresented {
                custodian,
                share_index,
                commitment_verified,
            } if awaiting_destruction_login(state) => {
                let effects =
                    accept_share(state, &mut s, custodian, *share_index, *commitment_verified)?;
                Ok((s, effects))
            }
            Event::HsmAuthenticationPresented { custodian }
                if awaiting_destruction_login(state) =>
            {
                let effects = accept_native(state, &mut s, custodian)?;
                Ok((s, effects))
            }
            Event::ShareRejected { .. } | Event::LoginFailed { .. }
                if awaiting_destruction_login(state) =>
            {
                s.shares_from.clear();
                s.share_indices.clear();
                Ok((s, Vec::new()))
            }
            Event::LoggedIn { .. } if awaiting_destruction_login(state) => {
                if state.shares_from.len() < config(state)?.threshold() {
                    return Err(refuse("the HSM is used only after the quorum is met"));
                }
                s.logged_in = true;
                Ok((
                    s,
                    vec![
                        Effect::DestroyKey,
                        Effect::Checkpoint(Phase::Aborted),
                        Effect::Finish,
                    ],
                ))
            }
            _ => Err(refuse(
                "the ceremony is over; nothing may be added after it closed or aborted",
            )),
        };
    }
    // Events allowed in any open phase once the ceremony has a configuration.
    match event {
        Event::DeviationRecorded { by, text } => {
            let config = config(state)?;
            if *by != config.administrator {
                return Err(refuse(
                    "only the ceremony administrator records a deviation",
                ));
            }
            if text.trim().is_empty() {
                return Err(refuse("a deviation needs a description"));
            }
            s.deviations.push(Deviation {
                phase: state.phase,
                by: by.clone(),
                text: text.clone(),
                acknowledged_by: None,
            });
            return Ok((s, Vec::new()));
        }
        Event::DeviationAcknowledged { by, deviation } => {
            let config = config(state)?;
            if *by != config.witness {
                return Err(refuse("only the internal witness acknowledges a deviation"));
            }
            let d = s
                .deviations
                .get_mut(*deviation)
                .ok_or_else(|| refuse("there is no such deviation"))?;
            if d.acknowledged_by.is_some() {
                return Err(refuse("that deviation is already acknowledged"));
            }
            d.acknowledged_by = Some(by.clone());
            return Ok((s, Vec::new()));
        }
        Event::RetryRequested { by, phase } => {
            let config = config(state)?;
            if *by != config.administrator {
                return Err(refuse("only the ceremony administrator asks for a retry"));
            }
            if *phase != state.phase {
                return Err(refuse("a retry is asked for in the current phase"));
            }
            let effect = retry_effect(state.phase).ok_or_else(|| {
                refuse("nothing to retry in this phase: only a step the tool runs is retried")
            })?;
            return Ok((s, vec![effect]));
        }
        Event::StepFailed { phase, reason } => {
            if *phase != state.phase {
                return Err(refuse(
                    "a failure is recorded in the phase where it happened",
                ));
            }
            s.failures.push(format!("{}: {reason}", phase.title()));
            return Ok((s, Vec::new()));
        }
        Event::Checkpoint { gate, .. } => {
            if state.config.is_none() || *gate > state.phase {
                return Err(refuse("a checkpoint covers a gate already passed"));
            }
            s.checkpoints.push(*gate);
            return Ok((s, Vec::new()));
        }
        Event::Aborted {
            by,
            reason,
            after_crash,
        } => {
            let config = config(state)?;
            if *by != config.administrator {
                return Err(refuse("only the ceremony administrator aborts a ceremony"));
            }
            if reason.trim().is_empty() {
                return Err(refuse("an abort needs a reason"));
            }
            s.phase = Phase::Aborted;
            if *after_crash {
                s.logged_in = false;
                s.shares_from.clear();
                s.share_indices.clear();
            }
            // A key the run made must not outlive an aborted ceremony; destroying it and
            // signing the last checkpoint both need the quorum's login.
            let effects = match (s.key_pending_destroy(), s.logged_in) {
                (true, true) => vec![
                    Effect::DestroyKey,
                    Effect::Checkpoint(Phase::Aborted),
                    Effect::Finish,
                ],
                (true, false) => vec![],
                (false, true) => vec![Effect::Checkpoint(Phase::Aborted), Effect::Finish],
                (false, false) => vec![Effect::Finish],
            };
            return Ok((s, effects));
        }
        Event::Resumed { by } => {
            let config = config(state)?;
            if *by != config.administrator {
                return Err(refuse("only the ceremony administrator resumes a ceremony"));
            }
            // A crash ends the HSM session and wipes the shares from memory.
            s.logged_in = false;
            s.shares_from.clear();
            s.share_indices.clear();
            // Past the quorum gate every step needs the HSM (at least to sign its checkpoint):
            // a fresh quorum logs in, then the run continues where it stopped. The KEK is
            // reloaded and reconfirmed before any wrap; an existing key is reused, never
            // replaced.
            let effects = match state.phase {
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
                    s.resume_to = Some(state.phase);
                    vec![]
                }
            };
            return Ok((s, effects));
        }
        _ => {}
    }
    let effects = match (state.phase, event) {
        (
            Phase::Opened,
            Event::CeremonyOpened {
                config, rehearsal, ..
            },
        ) => {
            s.config = Some(config.clone());
            s.rehearsal = *rehearsal;
            s.phase = Phase::Preflight;
            vec![Effect::RunPreflight]
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
            vec![]
        }
        (Phase::Attendance, Event::CheckedIn { name }) => {
            let config = config(state)?;
            if config.role_of(name).is_none() {
                return Err(refuse("only people named in the script may check in"));
            }
            if !s.present.insert(name.clone()) {
                return Err(refuse("that person has already checked in"));
            }
            vec![]
        }
        (Phase::Attendance, Event::AttendanceClosed { by }) => {
            let config = config(state)?;
            gate(state)?;
            if *by != config.administrator {
                return Err(refuse("the ceremony administrator closes attendance"));
            }
            if !state.present.contains(&config.administrator)
                || !state.present.contains(&config.witness)
            {
                return Err(refuse(
                    "the administrator and the witness must both be present",
                ));
            }
            if state.custodians_present().len() < config.threshold() {
                return Err(refuse("fewer custodians are present than the quorum needs"));
            }
            s.phase = Phase::Quorum;
            // No checkpoint yet: the audit key signs only after the quorum has logged in,
            // and the first checkpoint (at the quorum gate) covers attendance too.
            vec![]
        }
        (
            Phase::Quorum,
            Event::SharePresented {
                custodian,
                share_index,
                commitment_verified,
            },
        ) => accept_share(state, &mut s, custodian, *share_index, *commitment_verified)?,
        (Phase::Quorum, Event::ShareRejected { .. }) => vec![],
        (Phase::Quorum, Event::HsmAuthenticationPresented { custodian }) => {
            accept_native(state, &mut s, custodian)?
        }
        (Phase::Quorum, Event::LoggedIn { .. }) => {
            let config = config(state)?;
            if state.shares_from.len() < config.threshold() {
                return Err(refuse("the HSM is used only after the quorum is met"));
            }
            gate(state)?;
            s.logged_in = true;
            s.phase = s.resume_to.take().unwrap_or(Phase::KekLoad);
            let next = match s.phase {
                Phase::Export => Some(Effect::Export),
                Phase::Verification => Some(Effect::VerifyExport),
                Phase::SignOff if config.destroy_after_export && !state.key_destroyed => {
                    Some(Effect::DestroyKey)
                }
                Phase::SignOff => None,
                _ => Some(Effect::LoadKek),
            };
            std::iter::once(Effect::Checkpoint(Phase::Quorum))
                .chain(next)
                .collect()
        }
        (Phase::Quorum, Event::LoginFailed { .. }) => {
            s.shares_from.clear();
            s.share_indices.clear();
            vec![]
        }
        (
            Phase::KekLoad,
            Event::KekLoaded {
                fingerprint_sha256, ..
            },
        ) => {
            let config = config(state)?;
            if let Some(expected) = &config.expected_kek_fingerprint {
                if expected != fingerprint_sha256 {
                    return Err(refuse(
                        "the KEK's fingerprint is not the one the script expects; load the right KEK file",
                    ));
                }
            }
            s.kek_fingerprint = Some(fingerprint_sha256.clone());
            s.kek_confirmed_by.clear();
            s.phase = Phase::KekConfirm;
            vec![]
        }
        (Phase::KekConfirm, Event::KekConfirmed { custodian }) => {
            if !state.custodians_present().contains(custodian) {
                return Err(refuse("only a custodian who checked in confirms the KEK"));
            }
            if !s.kek_confirmed_by.insert(custodian.clone()) {
                return Err(refuse("that custodian has already confirmed"));
            }
            if s.kek_confirmed_by.len() == state.custodians_present().len() {
                gate(state)?;
                if state.key_id_hex.is_some() {
                    // Resumed after a crash with the key already made: never a second key.
                    s.phase = Phase::Wrap;
                    vec![Effect::Checkpoint(Phase::KekConfirm), Effect::Wrap]
                } else {
                    s.phase = Phase::KeyGeneration;
                    vec![Effect::Checkpoint(Phase::KekConfirm), Effect::GenerateKey]
                }
            } else {
                vec![]
            }
        }
        (Phase::KekConfirm, Event::KekRejected { custodian, .. }) => {
            if !state.custodians_present().contains(custodian) {
                return Err(refuse("only a custodian who checked in may reject the KEK"));
            }
            s.kek_fingerprint = None;
            s.kek_confirmed_by.clear();
            s.phase = Phase::KekLoad;
            vec![]
        }
        (Phase::KeyGeneration, Event::KeyGenerated { attributes, .. }) => {
            if !state.logged_in {
                return Err(refuse("the HSM is used only after the quorum is met"));
            }
            if state.key_id_hex.is_some() {
                return Err(refuse(
                    "this ceremony already generated its key; one ceremony makes one key",
                ));
            }
            s.key_label = Some(attributes.label.clone());
            s.key_id_hex = Some(attributes.id_hex.clone());
            s.phase = Phase::Wrap;
            vec![Effect::Checkpoint(Phase::KeyGeneration), Effect::Wrap]
        }
        (Phase::Wrap, Event::Wrapped { byok_sha256, .. }) => {
            if !state.logged_in {
                return Err(refuse("the HSM is used only after the quorum is met"));
            }
            if state.kek_confirmed_by.len() < state.custodians_present().len()
                || state.kek_fingerprint.is_none()
            {
                return Err(refuse(
                    "nothing is wrapped before the KEK fingerprint is confirmed",
                ));
            }
            s.byok_sha256 = Some(byok_sha256.clone());
            s.phase = Phase::Export;
            vec![Effect::Checkpoint(Phase::Wrap), Effect::Export]
        }
        (Phase::Export, Event::Exported { files }) => {
            if state.byok_sha256.is_none() {
                return Err(refuse("nothing is exported before the wrap succeeded"));
            }
            if files.is_empty() {
                return Err(refuse("an export writes at least the .byok file"));
            }
            s.exported = files.clone();
            s.phase = Phase::Verification;
            vec![Effect::VerifyExport]
        }
        (Phase::Verification, Event::Verified { files }) => {
            if *files != state.exported {
                return Err(refuse("the files read back differ from those written"));
            }
            s.verified = true;
            s.phase = Phase::SignOff;
            let mut effects = vec![Effect::Checkpoint(Phase::Verification)];
            if config(state)?.destroy_after_export {
                effects.push(Effect::DestroyKey);
            }
            effects
        }
        (Phase::SignOff, Event::KeyDestroyed { .. }) => {
            if state.key_destroyed {
                return Err(refuse("the key is already destroyed"));
            }
            s.key_destroyed = true;
            vec![]
        }
        (Phase::SignOff, Event::SignedOff { name }) => {
            let config = config(state)?;
            let role = config.role_of(name);
            if !state.present.contains(name)
                || !matches!(
                    role,
                    Some(Role::Administrator | Role::Witness | Role::Custodian | Role::Auditor)
                )
            {
                return Err(refuse("only people present sign off"));
            }
            if !s.signed_off_by.insert(name.clone()) {
                return Err(refuse("that person has already signed off"));
            }
            vec![]
        }
        (Phase::SignOff, Event::Closed { by }) => {
            let config = config(state)?;
            gate(state)?;
            if *by != config.administrator {
                return Err(refuse("the ceremony administrator closes the ceremony"));
            }
            let mut needed: Vec<&String> = vec![&config.administrator, &config.witness];
            let custodians = state.custodians_present();
            needed.extend(custodians.iter());
            if needed.iter().any(|n| !state.signed_off_by.contains(*n)) {
                return Err(refuse(
                    "the administrator, the witness and every custodian present must sign off before close",
                ));
            }
            if config.destroy_after_export && !state.key_destroyed {
                return Err(refuse(
                    "the script says destroy the key after export; it is not destroyed yet",
                ));
            }
            s.phase = Phase::Closed;
            vec![Effect::Checkpoint(Phase::Closed), Effect::Finish]
        }
        _ => {
            return Err(refuse(&format!(
                "\"{}\" cannot happen now",
                event.kind().replace('_', " ")
            )));
        }
    };
    Ok((s, effects))
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
    state: &State,
    s: &mut State,
    custodian: &str,
    share_index: u8,
    commitment_verified: bool,
) -> Result<Vec<Effect>, Refusal> {
    let refuse = |rule: &str| Refusal {
        phase: state.phase,
        rule: rule.to_owned(),
    };
    let config = config(state)?;
    if !matches!(config.quorum, QuorumMode::SplitPin { .. }) {
        return Err(refuse(
            "this HSM uses its own quorum; no PIN shares are entered",
        ));
    }
    if config.role_of(custodian) != Some(Role::Custodian) || !state.present.contains(custodian) {
        return Err(refuse(
            "only a custodian who checked in may present a share",
        ));
    }
    if !commitment_verified {
        return Err(refuse(
            "a share whose commitment did not verify is not accepted",
        ));
    }
    if state.shares_from.contains(custodian) || state.share_indices.contains(&share_index) {
        return Err(refuse(
            "each custodian presents one share, and each share once",
        ));
    }
    s.shares_from.insert(custodian.to_owned());
    s.share_indices.insert(share_index);
    Ok(if s.shares_from.len() == config.threshold() {
        vec![Effect::LogIn]
    } else {
        vec![]
    })
}

/// A custodian authenticating at an HSM with its own quorum (PED key, card).
fn accept_native(state: &State, s: &mut State, custodian: &str) -> Result<Vec<Effect>, Refusal> {
    let refuse = |rule: &str| Refusal {
        phase: state.phase,
        rule: rule.to_owned(),
    };
    let config = config(state)?;
    if !matches!(config.quorum, QuorumMode::HsmNative { .. }) {
        return Err(refuse("this ceremony rebuilds the PIN from shares"));
    }
    if config.role_of(custodian) != Some(Role::Custodian) || !state.present.contains(custodian) {
        return Err(refuse("only a custodian who checked in may authenticate"));
    }
    if !s.shares_from.insert(custodian.to_owned()) {
        return Err(refuse("that custodian has already authenticated"));
    }
    Ok(if s.shares_from.len() == config.threshold() {
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

/// The step the tool runs again when the administrator asks for a retry in `phase`.
pub fn retry_effect(phase: Phase) -> Option<Effect> {
    match phase {
        Phase::Opened | Phase::Preflight => Some(Effect::RunPreflight),
        Phase::KekLoad => Some(Effect::LoadKek),
        Phase::KeyGeneration => Some(Effect::GenerateKey),
        Phase::Wrap => Some(Effect::Wrap),
        Phase::Export => Some(Effect::Export),
        Phase::Verification => Some(Effect::VerifyExport),
        _ => None,
    }
}
