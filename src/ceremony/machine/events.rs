//! Everything that can happen in a ceremony (the audit log's events), and what the machine
//! asks the runner to do.
use super::*;

/// One preflight check's result. A check that passed with a caveat says so with a detail that
/// starts with "warning:".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
    /// A check of the workstation itself (air gap, swap, core dumps, memory locking, the tool's
    /// own hash, the boot medium, the clock: `crate::preflight`). When one fails, a rehearsal
    /// goes on with a warning, and a production ceremony goes on to attendance with the failure
    /// open: attendance closes only once the administrator has recorded a deviation for it and
    /// the witness has acknowledged it. Any other failed check (the script, the output medium,
    /// the audit key, the provisioning record) keeps the ceremony in preflight.
    /// Absent in older logs (and in checks that are not the station's): false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub station: bool,
}

impl Check {
    /// A check that is not the station's: its failure keeps the ceremony in preflight.
    pub fn new(name: impl Into<String>, passed: bool, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            passed,
            detail: detail.into(),
            station: false,
        }
    }

    /// Passed, with a caveat for the people in the room.
    pub fn is_warning(&self) -> bool {
        self.passed && self.detail.starts_with("warning:")
    }
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
        /// The script's purpose, for the report (absent in logs of earlier versions).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        purpose: Option<String>,
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
        /// The cloud this KEK is for, when the script lists targets (absent otherwise).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<Cloud>,
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
        /// The cloud the wrap is tested for, when the script lists targets (absent otherwise).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<Cloud>,
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
        /// The cloud the .byok is for, when the script lists targets (absent otherwise).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<Cloud>,
    },
    /// A Google Cloud or AWS wrap: the raw bytes that cloud's import takes, kept in the log (they
    /// are not secret) so that a resumed ceremony exports the very same file.
    TargetWrapped {
        target: Cloud,
        /// The cloud's name of the wrapping algorithm.
        algorithm: String,
        kek_fingerprint_sha256: String,
        /// The file it is exported as.
        file: String,
        /// The wrapped key material, base64.
        wrapped_b64: String,
        sha256: String,
        method: WrapMethod,
        rehearsal_grade: bool,
        /// AWS: the import token (opaque, not secret), base64, exported beside the material.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        import_token_b64: Option<String>,
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
            Event::TargetWrapped { .. } => "target_wrapped",
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
