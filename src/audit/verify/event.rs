//! The log's events as the one-pass parser reads them: with the tag first.
//!
//! `machine::Event` is internally tagged (`"event": "checked_in"` among the fields). serde
//! reads such an enum by buffering every member into an intermediate tree until it has seen
//! the tag, then reading the variant from the tree. `EventDef` is the same enum for serde's
//! remote derive, externally tagged: the one-pass parser finds the tag in the line first and
//! hands the variant its members directly (see `strict`). The compiler holds it to `Event`:
//! every variant built here must have exactly `Event`'s fields. A variant missing here is
//! only slower: the one-pass parser declines it and the full check reads it.
use serde::Deserialize;

use crate::ceremony::machine::{Check, Event, FileRecord, MachineConfig, Phase};
use crate::cloud::Cloud;
use crate::hsm_types::key::KeyAttributes;
use crate::hsm_types::token::TokenIdentity;
use crate::hsm_types::wrap::OaepHash;
use crate::hsm_types::wrap::WrapKatReport;
use crate::hsm_types::wrap::WrapMethod;

// As `Event`: a field-for-field copy, sized as it is (never built: serde builds `Event`).
#[allow(clippy::large_enum_variant)]
#[derive(Deserialize)]
#[serde(remote = "Event", rename_all = "snake_case", deny_unknown_fields)]
pub enum EventDef {
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
        #[serde(default)]
        file: Option<String>,
        /// The cloud this KEK is for, when the script lists targets (absent otherwise).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<Cloud>,
    },
    KekConfirmed {
        custodian: String,
    },
    KekRejected {
        custodian: String,
        reason: String,
    },
    WrapTested {
        oaep_hash: OaepHash,
        method: Option<WrapMethod>,
        failed: Vec<WrapKatReport>,
        /// The cloud the wrap is tested for, when the script lists targets (absent otherwise).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<Cloud>,
    },
    KeyGenerated {
        kty: String,
        key_size: Option<u32>,
        crv: Option<String>,
        attributes: KeyAttributes,
        public_key_pem: Option<String>,
        check_value: Option<String>,
    },
    Wrapped {
        byok_json: String,
        byok_sha256: String,
        method: WrapMethod,
        rehearsal_grade: bool,
        /// The cloud the .byok is for, when the script lists targets (absent otherwise).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<Cloud>,
    },
    TargetWrapped {
        target: Cloud,
        algorithm: String,
        kek_fingerprint_sha256: String,
        file: String,
        wrapped_b64: String,
        sha256: String,
        method: WrapMethod,
        rehearsal_grade: bool,
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
    StepFailed {
        phase: Phase,
        reason: String,
    },
    Aborted {
        by: String,
        reason: String,
        after_crash: bool,
    },
    Resumed {
        by: String,
    },
    RetryRequested {
        by: String,
        phase: Phase,
    },
    InstructionShown {
        phase: Phase,
        text: String,
    },
    Checkpoint {
        gate: Phase,
        note: String,
    },
}
