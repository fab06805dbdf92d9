//! The UI's side of the provisioning core's `ProvisionPeople` seam: the core (on its worker
//! thread) sends what it asks and shows, and blocks until the UI answers. Whatever the UI does,
//! the core records the same quorum events as a headless run. A re-split adds the old
//! quorum's shares (see [`super::resplit_people`]).
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender};

use crate::quorum::provision::{
    HandOut, ProvisionError, ProvisionOutcome, ProvisionPeople, ProvisionStep, TokenToChange,
};
use crate::quorum::resplit::{Presented, QuorumSoFar};
use crate::quorum::share::{PinGroup, Share};

/// One custodian's turn, owned so it can cross to the UI thread. The shares are the core's
/// (zeroized on drop, redacted in Debug).
#[derive(Debug)]
pub struct Turn {
    pub custodian: String,
    pub file: PathBuf,
    pub number: usize,
    pub of: usize,
    pub shares: Vec<Share>,
}

/// What the summary screen shows: public facts only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub label: String,
    pub serial: String,
    pub rehearsal: bool,
    /// (PIN, split id, M, N).
    pub splits: Vec<(PinGroup, String, u8, u8)>,
    pub audit_key_sha256: String,
    pub record: PathBuf,
    pub audit_log: PathBuf,
    pub share_files: Vec<(String, PathBuf)>,
    pub events: usize,
}

impl Summary {
    pub fn of(outcome: &ProvisionOutcome, audit_log: PathBuf) -> Summary {
        let r = &outcome.record;
        Summary {
            label: r.token.label.clone(),
            serial: r.token.serial.clone(),
            rehearsal: r.rehearsal,
            splits: r
                .groups()
                .map(|(g, s)| (g, s.split_id.to_hex(), s.threshold, s.shares))
                .collect(),
            audit_key_sha256: r.audit_key.public_key_sha256.clone(),
            record: outcome.written.record.clone(),
            audit_log,
            share_files: outcome.written.share_files.clone(),
            events: outcome.events.len(),
        }
    }
}

/// What the worker tells the UI.
#[derive(Debug)]
pub enum FromWorker {
    /// The token is found; a typed confirmation must come before it is changed.
    Approve(TokenToChange),
    /// A step of the HSM work started.
    Progress(ProvisionStep),
    /// A custodian's turn at the hand-out.
    HandOut(Turn),
    /// Re-split: the core waits for the next old share.
    ShareWanted(QuorumSoFar),
    /// Re-split: what the check of an old share found (already in the audit log).
    ShareChecked(ShareCheck),
    /// The work ended: what to show, or why it stopped.
    Finished(Result<Summary, String>),
}

/// What the check of an old share found: public facts and the reason for a refusal (which
/// never quotes the share).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShareCheck {
    Accepted {
        /// Who presented it: the name chosen on screen, or the share file.
        by: String,
        /// Whose share the record says it is.
        custodian: String,
        index: u8,
        present: usize,
        needed: usize,
    },
    Refused {
        by: String,
        reason: String,
    },
}

/// What the UI answers. Debug of a typed share shows only who typed it and its length.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    Approved,
    Declined,
    /// The custodian of the current turn has their share; call the next one.
    HandedOut,
    /// Re-split: an old share, typed by a custodian.
    Share(Presented),
}

/// Everything that wakes the UI thread.
#[derive(Debug)]
pub enum Wake {
    Worker(FromWorker),
    Input(crossterm::event::Event),
    /// The input thread stopped (the terminal went away).
    InputClosed,
}

/// The worker's end of the channels.
#[derive(Debug)]
pub struct GuidedPeople {
    to_ui: Sender<Wake>,
    replies: Receiver<Reply>,
}

impl GuidedPeople {
    pub fn new(to_ui: Sender<Wake>, replies: Receiver<Reply>) -> GuidedPeople {
        GuidedPeople { to_ui, replies }
    }

    /// Sends `msg` and waits for a reply `accept` takes; other replies are stale keys for
    /// another question and are skipped. None when the UI has gone.
    pub(super) fn ask(&self, msg: FromWorker, accept: impl Fn(&Reply) -> bool) -> Option<Reply> {
        self.to_ui.send(Wake::Worker(msg)).ok()?;
        loop {
            match self.replies.recv() {
                Ok(r) if accept(&r) => return Some(r),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }
}

impl GuidedPeople {
    /// Tells the UI without waiting; a UI that has gone away is noticed at the next question.
    pub(super) fn tell(&self, msg: FromWorker) {
        let _ = self.to_ui.send(Wake::Worker(msg));
    }
}

impl ProvisionPeople for GuidedPeople {
    fn approve(&mut self, token: &TokenToChange) -> Result<(), ProvisionError> {
        let answer = self.ask(FromWorker::Approve(token.clone()), |r| {
            matches!(r, Reply::Approved | Reply::Declined)
        });
        match answer {
            Some(Reply::Approved) => Ok(()),
            _ => Err(ProvisionError::NotApproved),
        }
    }

    fn progress(&mut self, step: ProvisionStep) {
        self.tell(FromWorker::Progress(step));
    }

    fn hand_out(&mut self, turn: &HandOut<'_>) -> Result<(), ProvisionError> {
        let owned = Turn {
            custodian: turn.custodian.to_owned(),
            file: turn.file.to_owned(),
            number: turn.number,
            of: turn.of,
            shares: turn.shares.iter().map(|s| (*s).clone()).collect(),
        };
        match self.ask(FromWorker::HandOut(owned), |r| *r == Reply::HandedOut) {
            Some(_) => Ok(()),
            None => Err(ProvisionError::HandOutLeft(
                turn.file.parent().map(PathBuf::from).unwrap_or_default(),
                turn.custodian.to_owned(),
            )),
        }
    }
}
