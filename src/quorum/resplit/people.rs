//! The people's side of a re-split: besides what provisioning asks of them (a confirmation
//! before the token changes, progress, the hand-out of the new shares), the OLD quorum
//! presents its shares, one at a time, each checked (and recorded) as it comes.
//!
//! The headless command answers from the share files given with `--share` and stops at the
//! first refused one ([`FromFiles`]); the guided terminal UI takes the files first and then
//! shares typed by custodians, showing each refusal and letting them type again.
use std::collections::VecDeque;
use std::path::PathBuf;

use zeroize::Zeroizing;

use super::ResplitError;
use crate::quorum::login::Accepted;
use crate::quorum::provision::ProvisionPeople;

/// One old share as it reaches the core.
pub enum Presented {
    /// A custodian's share file given on the command line (`--share FILE`).
    File(PathBuf),
    /// Typed at the keyboard by `custodian` (the name they chose on screen); the text lives
    /// only in this zeroizing string until the core has checked it.
    Typed {
        custodian: String,
        text: Zeroizing<String>,
    },
}

impl Presented {
    /// Who or what presented it, for messages: the file's path or the custodian's name.
    pub fn by(&self) -> String {
        match self {
            Presented::File(path) => path.display().to_string(),
            Presented::Typed { custodian, .. } => custodian.clone(),
        }
    }
}

// Never the typed text: only who typed it and how much.
impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Presented::File(path) => f.debug_tuple("File").field(path).finish(),
            Presented::Typed { custodian, text } => f
                .debug_struct("Typed")
                .field("custodian", custodian)
                .field("typed", &text.chars().count())
                .finish(),
        }
    }
}

impl PartialEq for Presented {
    fn eq(&self, other: &Presented) -> bool {
        match (self, other) {
            (Presented::File(a), Presented::File(b)) => a == b,
            (
                Presented::Typed {
                    custodian: a,
                    text: x,
                },
                Presented::Typed {
                    custodian: b,
                    text: y,
                },
            ) => {
                // Every byte compared whatever the first difference: timing says nothing.
                a == b
                    && x.len() == y.len()
                    && x.bytes()
                        .zip(y.bytes())
                        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
                        == 0
            }
            _ => false,
        }
    }
}

impl Eq for Presented {}

/// Where the old quorum stands, public facts only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumSoFar {
    /// Shares accepted so far.
    pub present: usize,
    /// M of the old split.
    pub needed: usize,
}

/// What a re-split asks of the people in the room, on top of provisioning's questions.
pub trait ResplitPeople: ProvisionPeople {
    /// The next old share, or None when no more will be presented: the core then logs in
    /// with the shares it has, or says how many are missing (nothing is changed then).
    fn next_share(&mut self, so_far: &QuorumSoFar) -> Option<Presented>;

    /// The share presented `by` was accepted (it is already in the audit log).
    fn accepted(&mut self, _by: &str, _share: &Accepted) {}

    /// The share presented `by` was refused (it is already in the audit log). Returning the
    /// error stops the re-split with it, before the token is used; Ok lets them go on.
    fn refused(&mut self, _by: &str, error: ResplitError) -> Result<(), ResplitError> {
        Err(error)
    }
}

/// The headless command: the share files, in the order given, stand for the custodians
/// typing; the first refused one stops the re-split.
#[derive(Debug, Default)]
pub struct FromFiles {
    files: VecDeque<PathBuf>,
}

impl FromFiles {
    pub fn new(files: &[PathBuf]) -> FromFiles {
        FromFiles {
            files: files.iter().cloned().collect(),
        }
    }
}

impl ProvisionPeople for FromFiles {}

impl ResplitPeople for FromFiles {
    // Every file is offered, even past M: an extra share is refused (as it always was) so
    // that a headless run never silently ignores what it was given.
    fn next_share(&mut self, _so_far: &QuorumSoFar) -> Option<Presented> {
        self.files.pop_front().map(Presented::File)
    }
}
