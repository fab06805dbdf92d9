//! The people's side of provisioning: the seam between the one provisioning core and whoever
//! is in the room. The headless command answers for them ([`Headless`]: no questions, the
//! share files are the hand-out); the guided terminal UI asks them (a typed confirmation before
//! the token is changed, progress while the HSM works, each custodian's share shown to that
//! custodian alone).
//!
//! Nothing here writes to the audit log: every quorum step is recorded by the core, the same
//! way whichever side answers.
use std::path::Path;

use super::ProvisionError;
use crate::quorum::share::Share;

/// The token the core is about to change, shown to the people before they confirm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenToChange {
    /// An uninitialised token in `slot` gets `label` (C_InitToken) and fresh PINs.
    Initialise {
        slot: u64,
        label: String,
        manufacturer: String,
        model: String,
    },
    /// An initialised token keeps its label and objects; its PINs are replaced.
    Adopt {
        label: String,
        serial: String,
        manufacturer: String,
        model: String,
    },
}

/// The steps of the work, for a progress display. Their order depends on the plan: see
/// [`ProvisionStep::steps`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvisionStep {
    /// Logging in to the adopted token with its current PINs.
    PrepareToken,
    /// A fresh token: its PINs made, split, committed to, and every M of N checked.
    SplitFresh,
    /// A fresh token: each custodian's share file written and read back.
    WriteShares,
    /// A fresh token: C_InitToken and C_InitPIN with the PINs just split.
    InitialiseToken,
    /// The ECDSA P-256 audit key, generated inside the token.
    AuditKey,
    /// New PINs made, split, committed to, and every M of N checked.
    Split,
    /// Each custodian's share file and the record written and read back.
    WriteFiles,
    /// A fresh token: the record written and read back.
    WriteRecord,
    /// C_SetPIN: the token takes the new PINs.
    SetPins,
    /// M shares read back from the files rebuild each PIN, which logs in.
    Verify,
}

impl ProvisionStep {
    /// Adopting a token (and re-splitting), in the order the core runs them.
    pub const ALL: [ProvisionStep; 6] = [
        ProvisionStep::PrepareToken,
        ProvisionStep::AuditKey,
        ProvisionStep::Split,
        ProvisionStep::WriteFiles,
        ProvisionStep::SetPins,
        ProvisionStep::Verify,
    ];

    /// A fresh token: every share is written before the token changes.
    pub const FRESH: [ProvisionStep; 6] = [
        ProvisionStep::SplitFresh,
        ProvisionStep::WriteShares,
        ProvisionStep::InitialiseToken,
        ProvisionStep::AuditKey,
        ProvisionStep::WriteRecord,
        ProvisionStep::Verify,
    ];

    /// The steps of a plan, in the order the core runs them.
    pub fn steps(fresh: bool) -> &'static [ProvisionStep] {
        if fresh { &Self::FRESH } else { &Self::ALL }
    }

    /// What the step does, for people.
    pub fn describe(self) -> &'static str {
        match self {
            ProvisionStep::PrepareToken => "Open the token with its current PINs",
            ProvisionStep::SplitFresh => "Make the token's PINs, split them, check every M of N",
            ProvisionStep::WriteShares => {
                "Write each custodian's share file and read it back (the token is untouched)"
            }
            ProvisionStep::InitialiseToken => "Initialise the token with those PINs",
            ProvisionStep::AuditKey => "Generate the audit key inside the token",
            ProvisionStep::Split => "Make the new PINs, split them, check every M of N",
            ProvisionStep::WriteFiles => "Write each custodian's share file and the record",
            ProvisionStep::WriteRecord => "Write the provisioning record",
            ProvisionStep::SetPins => "Set the new PINs on the token",
            ProvisionStep::Verify => "Log in with PINs rebuilt from the share files",
        }
    }
}

/// One custodian's turn at the hand-out.
#[derive(Debug)]
pub struct HandOut<'a> {
    pub custodian: &'a str,
    /// Their shares: one per PIN they guard (user PIN first). Debug of a `Share` is redacted.
    pub shares: &'a [&'a Share],
    /// Their share file, already written (0400) and read back.
    pub file: &'a Path,
    /// 1-based turn number and the number of custodians.
    pub number: usize,
    pub of: usize,
}

/// What the core asks of the people in the room.
pub trait ProvisionPeople {
    /// Called once the token to change is known and before anything is changed or written
    /// (not even the audit log). An error stops provisioning with nothing changed.
    fn approve(&mut self, _token: &TokenToChange) -> Result<(), ProvisionError> {
        Ok(())
    }

    /// Called as each step starts (the steps before it are done).
    fn progress(&mut self, _step: ProvisionStep) {}

    /// Called once per custodian, in the order of the script, after the token took the new
    /// PINs and they were proven from the files. Returns when that custodian has their share;
    /// an error stops the hand-out (the token and the files stay as they are).
    fn hand_out(&mut self, _turn: &HandOut<'_>) -> Result<(), ProvisionError> {
        Ok(())
    }
}

/// The headless command: nobody to ask; each custodian's file is their hand-out.
#[derive(Debug, Default, Clone, Copy)]
pub struct Headless;

impl ProvisionPeople for Headless {}
