//! A re-split's old quorum, as the screen sees it: who holds an old share (from the old
//! record), whose shares were accepted, the last refusal, and the share being typed.
//!
//! A typed share lives only in [`ShareEntry`]'s zeroizing buffer, which never grows (no
//! reallocation leaves a copy behind) and moves whole to the worker on Enter; the screen
//! shows a count and whether the checksum is valid, never a character.
use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::people::{Reply, ShareCheck};
use crate::quorum::record::ProvisioningRecord;
use crate::quorum::resplit::{Presented, QuorumSoFar};
pub use crate::tui::share_entry::ShareEntry;

/// The word typed before the token's user PIN is replaced.
pub const RESPLIT_WORD: &str = "RESPLIT";

/// The old quorum of a re-split.
#[derive(Debug)]
pub struct OldQuorum {
    pub record_path: PathBuf,
    /// The split the old shares belong to, replaced by the re-split.
    pub old_split_id: String,
    /// M and N of the old split.
    pub threshold: u8,
    pub shares: u8,
    /// The old shares' holders, by share number.
    pub holders: Vec<String>,
    /// Share files given with `--share`: presented before anyone types.
    pub files: Vec<PathBuf>,
    /// The worker has begun taking old shares (the shares screen is up).
    pub opened: bool,
    /// The worker waits for the next typed share.
    pub wanted: Option<QuorumSoFar>,
    /// Holders whose shares were accepted (the names the record gives them).
    pub accepted: Vec<String>,
    /// Shares accepted so far, from the worker.
    pub present: usize,
    /// The last check, shown until the next.
    pub last: Option<ShareCheck>,
    /// Shares refused so far (each is in the audit log).
    pub refused: usize,
    pub entry: Option<ShareEntry>,
    pub cursor: usize,
}

impl OldQuorum {
    /// The old quorum of `record` (the token's current record, read from `record_path`).
    pub fn of(record: &ProvisioningRecord, record_path: PathBuf, files: Vec<PathBuf>) -> Self {
        let group = &record.user_pin;
        let mut by_index: Vec<_> = group.custodians.iter().collect();
        by_index.sort_by_key(|c| c.share_index);
        OldQuorum {
            record_path,
            old_split_id: group.split_id.to_hex(),
            threshold: group.threshold,
            shares: group.shares,
            holders: by_index.into_iter().map(|c| c.name.clone()).collect(),
            files,
            opened: false,
            wanted: None,
            accepted: Vec::new(),
            present: 0,
            last: None,
            refused: 0,
            entry: None,
            cursor: 0,
        }
    }

    pub fn holds(&self, name: &str) -> bool {
        self.holders.iter().any(|h| h == name)
    }

    /// Who may type a share now: holders who checked in and whose share is not in yet.
    pub fn choices(&self, present: &[String]) -> Vec<String> {
        self.holders
            .iter()
            .filter(|h| present.contains(h) && !self.accepted.contains(h))
            .cloned()
            .collect()
    }

    /// What the worker found for a share.
    pub fn checked(&mut self, check: ShareCheck) {
        self.opened = true;
        match &check {
            ShareCheck::Accepted {
                custodian, present, ..
            } => {
                self.accepted.push(custodian.clone());
                self.present = *present;
                self.cursor = 0;
            }
            ShareCheck::Refused { .. } => self.refused += 1,
        }
        self.last = Some(check);
    }

    /// The worker waits for the next share.
    pub fn want(&mut self, so_far: QuorumSoFar) {
        self.opened = true;
        self.present = so_far.present;
        self.wanted = Some(so_far);
    }

    /// A key on the shares screen (not q, ?, Ctrl-C: the app handles those). Returns the
    /// reply for the worker and a hint for the people; `wipe` is set when typed characters
    /// were on their way through the terminal and it must be cleared.
    pub fn on_key(
        &mut self,
        key: KeyEvent,
        present: &[String],
        wipe: &mut bool,
    ) -> (Option<Reply>, Option<String>) {
        if let Some(entry) = self.entry.as_mut() {
            match key.code {
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                    entry.push(c);
                }
                KeyCode::Backspace => entry.pop(),
                KeyCode::Esc => {
                    self.entry = None;
                    *wipe = true;
                }
                KeyCode::Enter => return (self.submit(wipe), None),
                _ => {}
            }
            return (None, None);
        }
        let choices = self.choices(present);
        match key.code {
            KeyCode::Up => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Down => {
                self.cursor = (self.cursor + 1).min(choices.len().saturating_sub(1));
            }
            KeyCode::Enter if self.wanted.is_none() => {
                return (None, Some("the share is being checked; wait".into()));
            }
            KeyCode::Enter => match choices.get(self.cursor) {
                Some(name) => self.entry = Some(ShareEntry::new(name.clone())),
                None => {
                    return (
                        None,
                        Some(
                            "no custodian here holds an old share still needed: q stops the re-split (the token is not changed)"
                                .into(),
                        ),
                    );
                }
            },
            _ => {}
        }
        (None, None)
    }

    /// Enter on a typed share: it goes to the worker (moved, not copied) to be checked.
    fn submit(&mut self, wipe: &mut bool) -> Option<Reply> {
        let entry = self.entry.take()?;
        *wipe = true;
        self.wanted = None;
        let (custodian, typed) = entry.into_parts();
        Some(Reply::Share(Presented::Typed {
            custodian,
            text: typed,
        }))
    }
}
