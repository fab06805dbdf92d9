//! What the quorum steps report for the audit log: who presented, which share index, whether
//! the commitment was checked, and the outcome. Never a share, a PIN, or any part of them;
//! commitments and split ids are public (they are in the provisioning record).
use serde::{Deserialize, Serialize};

use super::share::{PinGroup, SplitId};

/// One quorum step, as an audit event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum QuorumEvent {
    /// A token was initialised (C_InitToken) for provisioning.
    TokenInitialised { label: String, serial: String },
    /// An initialised token was adopted with its current PINs.
    TokenAdopted { label: String, serial: String },
    /// The ceremony audit key was generated inside the token.
    AuditKeyGenerated {
        label: String,
        public_key_sha256: String,
    },
    /// The security officer imported the KEK as a trusted wrapping key (CKA_TRUSTED).
    TrustedKekImported {
        label: String,
        fingerprint_sha256: String,
    },
    /// A PIN was split.
    SplitMade {
        group: PinGroup,
        split_id: SplitId,
        threshold: u8,
        shares: u8,
    },
    /// One share was handed to one custodian (written to their medium).
    ShareIssued {
        group: PinGroup,
        split_id: SplitId,
        custodian: String,
        share_index: u8,
        /// Hex commitment, as in the record.
        commitment: String,
        /// Where it went, e.g. the custodian's file name.
        medium: String,
    },
    /// Every M-subset of the new shares was combined and rebuilt the PIN.
    SplitVerified {
        group: PinGroup,
        split_id: SplitId,
        subsets_checked: u64,
    },
    /// The token's PIN was set or changed to the split PIN.
    PinSet {
        group: PinGroup,
        split_id: SplitId,
        replaces: Option<SplitId>,
    },
    /// A custodian presented a share.
    SharePresented {
        group: PinGroup,
        /// The split the ceremony expects (from the record).
        expected_split_id: SplitId,
        /// Known once the share's commitment matched a recorded custodian.
        custodian: Option<String>,
        /// The index the share claims, when it could be read.
        share_index: Option<u8>,
        /// Whether the share's commitment was compared with the record.
        commitment_checked: bool,
        outcome: PresentOutcome,
    },
    /// The token's PIN flags, read before a login attempt.
    PinFlagsRead {
        group: PinGroup,
        count_low: bool,
        final_try: bool,
        locked: bool,
    },
    /// A login was not attempted, to protect the token (locked, or the final try left).
    LoginWithheld { group: PinGroup, reason: String },
    /// The PIN was rebuilt from these shares (indices only).
    PinRebuilt {
        group: PinGroup,
        split_id: SplitId,
        share_indices: Vec<u8>,
    },
    /// Combining failed (fewer than M, or the PIN check value did not match).
    PinRebuildFailed {
        group: PinGroup,
        split_id: SplitId,
        reason: String,
    },
    /// C_Login was called.
    LoginAttempted {
        group: PinGroup,
        method: LoginMethod,
        succeeded: bool,
        /// The token's answer when it refused.
        error: Option<String>,
    },
    /// The presented shares and the rebuilt PIN were wiped from memory.
    SecretsWiped { group: PinGroup, shares: usize },
}

/// What happened to a presented share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", content = "reason", rename_all = "snake_case")]
pub enum PresentOutcome {
    Accepted,
    Rejected(RejectReason),
}

/// Why a presented share was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Not readable as a share: checksum, characters, prefix, version.
    Mistyped,
    /// A share of the other PIN.
    WrongPin,
    /// A share of another split (older split, another token).
    WrongSplit,
    /// This share index was already presented.
    Duplicate,
    /// The share's index is not in the record, or its header disagrees with it.
    NotInRecord,
    /// The share is well-formed but is not the one committed to for that custodian.
    CommitmentMismatch,
    /// M shares are already present.
    AlreadyComplete,
    /// A valid share, but recorded for another custodian than the one presenting it.
    WrongOwner,
}

/// How the login was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoginMethod {
    /// A PIN rebuilt from custodian shares.
    QuorumPin,
    /// The HSM's own path (PED, card set): no PIN passes through byok-ceremony.
    ProtectedAuthenticationPath,
}

impl crate::audit::log::Logged for QuorumEvent {
    fn actor(&self) -> Option<&str> {
        match self {
            QuorumEvent::ShareIssued { custodian, .. } => Some(custodian),
            QuorumEvent::SharePresented { custodian, .. } => custodian.as_deref(),
            _ => None,
        }
    }
}

/// Where quorum events go as they happen: appended to the provisioning audit log (fsynced,
/// hash-chained, like a ceremony's) when one is open, and kept for the summary.
#[derive(Debug, Default)]
pub struct EventSink {
    log: Option<crate::audit::log::AuditLog<QuorumEvent>>,
    recorded: Vec<QuorumEvent>,
    failure: Option<String>,
}

impl EventSink {
    /// A sink that only collects (library callers and tests).
    pub fn memory() -> EventSink {
        EventSink::default()
    }

    /// A sink writing a new audit log at `path` (never over an existing one).
    pub fn to_log(path: &std::path::Path) -> Result<EventSink, crate::audit::log::LogError> {
        Ok(EventSink {
            log: Some(crate::audit::log::AuditLog::create(path)?),
            ..EventSink::default()
        })
    }

    /// Records one event now. A failed write is remembered and reported by `finish`; the
    /// caller checks `healthy` before each step that changes the token.
    pub fn push(&mut self, event: QuorumEvent) {
        if let (Some(log), None) = (self.log.as_mut(), &self.failure) {
            if let Err(e) = log.append(&event, None, false) {
                self.failure = Some(e.to_string());
            }
        }
        self.recorded.push(event);
    }

    pub fn extend(&mut self, events: impl IntoIterator<Item = QuorumEvent>) {
        for e in events {
            self.push(e);
        }
    }

    /// Err when an event could not be written to the audit log.
    pub fn healthy(&self) -> Result<(), String> {
        match &self.failure {
            Some(f) => Err(format!(
                "the provisioning audit log could not be written ({f}); stop and check the disk"
            )),
            None => Ok(()),
        }
    }

    pub fn events(&self) -> &[QuorumEvent] {
        &self.recorded
    }

    /// Removes the log when nothing was ever written to it (provisioning stopped before its
    /// first step, with the token untouched): an empty file would only block the next run.
    pub fn discard_if_empty(self) {
        if let Some(log) = self.log {
            if log.is_empty() {
                let _ = std::fs::remove_file(log.path());
            }
        }
    }

    /// Removes the log: provisioning stopped before the token changed, so what it records
    /// (splits of PINs that were never set) happened to no token, and the file would only
    /// block the next run.
    pub fn discard(self) {
        if let Some(log) = self.log {
            let _ = std::fs::remove_file(log.path());
        }
    }

    /// The events recorded, once the work is done; Err if the log missed any.
    pub fn finish(self) -> Result<Vec<QuorumEvent>, String> {
        self.healthy()?;
        Ok(self.recorded)
    }
}
