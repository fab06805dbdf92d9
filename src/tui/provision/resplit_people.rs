//! The UI's side of the re-split core's `ResplitPeople` seam: the share files given with
//! `--share` are presented first, then the old custodians type theirs one at a time. A refused
//! share is shown and they go on (the headless command stops at it instead); both record the
//! same event for it.
use std::collections::VecDeque;
use std::path::PathBuf;

use super::people::{FromWorker, GuidedPeople, Reply, ShareCheck};
use crate::quorum::login::Accepted;
use crate::quorum::provision::{
    HandOut, ProvisionError, ProvisionPeople, ProvisionStep, TokenToChange,
};
use crate::quorum::resplit::{Presented, QuorumSoFar, ResplitError, ResplitPeople};

/// The worker's end of a guided re-split.
#[derive(Debug)]
pub struct GuidedResplit {
    people: GuidedPeople,
    files: VecDeque<PathBuf>,
}

impl GuidedResplit {
    pub fn new(people: GuidedPeople, share_files: &[PathBuf]) -> GuidedResplit {
        GuidedResplit {
            people,
            files: share_files.iter().cloned().collect(),
        }
    }
}

// The confirmation, progress and hand-out are the provisioning screens' own.
impl ProvisionPeople for GuidedResplit {
    fn approve(&mut self, token: &TokenToChange) -> Result<(), ProvisionError> {
        self.people.approve(token)
    }

    fn progress(&mut self, step: ProvisionStep) {
        self.people.progress(step);
    }

    fn hand_out(&mut self, turn: &HandOut<'_>) -> Result<(), ProvisionError> {
        self.people.hand_out(turn)
    }
}

impl ResplitPeople for GuidedResplit {
    fn next_share(&mut self, so_far: &QuorumSoFar) -> Option<Presented> {
        // Once M shares are in nobody is asked for more (an extra one would be refused).
        if so_far.present >= so_far.needed {
            return None;
        }
        if let Some(file) = self.files.pop_front() {
            return Some(Presented::File(file));
        }
        // None when the people left: the core then stops with the shares missing, unchanged.
        match self
            .people
            .ask(FromWorker::ShareWanted(so_far.clone()), |r| {
                matches!(r, Reply::Share(_))
            }) {
            Some(Reply::Share(presented)) => Some(presented),
            _ => None,
        }
    }

    fn accepted(&mut self, by: &str, share: &Accepted) {
        self.people
            .tell(FromWorker::ShareChecked(ShareCheck::Accepted {
                by: by.to_owned(),
                custodian: share.custodian.clone(),
                index: share.share_index,
                present: share.present,
                needed: share.needed,
            }));
    }

    fn refused(&mut self, by: &str, error: ResplitError) -> Result<(), ResplitError> {
        self.people
            .tell(FromWorker::ShareChecked(ShareCheck::Refused {
                by: by.to_owned(),
                reason: error.to_string(),
            }));
        Ok(())
    }
}
