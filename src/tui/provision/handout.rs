//! One custodian's turn at the hand-out, as the screen sees it: called (everyone else turns
//! away), shown (the share's text and QR code), checked (the custodian types the last two
//! groups back from their copy, with the share hidden, to prove it was transcribed).
//!
//! The share, its text, its QR code and what is typed back live only in zeroizing types; the
//! text and QR exist only while the share is shown, and Debug never prints them.
use zeroize::Zeroizing;

use super::people::Turn;
use crate::quorum::share::{GROUP_LEN, Share, ShareText};
use crate::tui::widgets;

/// The longest type-back accepted; the buffer never grows past it (no reallocation leaves a
/// copy of typed characters behind).
const ENTRY_CAPACITY: usize = 64;

/// Where the turn is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// "Only CUSTODIAN may look now": waiting for them to reveal a share.
    Called,
    /// The share is on screen.
    Shown,
    /// The share is hidden; the custodian types its last two groups from their copy.
    Check,
}

/// The share on screen: text in groups and the QR code, both zeroizing.
pub struct Shown {
    pub grouped: Zeroizing<String>,
    pub qr: Zeroizing<String>,
}

impl std::fmt::Debug for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Shown(<redacted>)")
    }
}

/// A custodian's turn.
pub struct HandOutTurn {
    pub turn: Turn,
    /// Which of their shares (user PIN first, then SO PIN).
    pub part: usize,
    pub stage: Stage,
    shown: Option<Shown>,
    entry: Zeroizing<String>,
    /// Wrong type-backs for this share, so the screen can suggest looking again.
    pub misses: u32,
}

impl std::fmt::Debug for HandOutTurn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandOutTurn")
            .field("custodian", &self.turn.custodian)
            .field("part", &self.part)
            .field("stage", &self.stage)
            .field("shown", &self.shown.is_some())
            .field("typed", &self.entry.chars().count())
            .finish()
    }
}

/// What a key did to the turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Nothing,
    /// The share left the screen: the terminal must be cleared before the next frame.
    Hidden,
    /// The type-back did not match.
    Mismatch,
    /// Every share of this custodian was checked; the share is off the screen.
    Done,
}

impl HandOutTurn {
    pub fn new(turn: Turn) -> HandOutTurn {
        HandOutTurn {
            turn,
            part: 0,
            stage: Stage::Called,
            shown: None,
            entry: Zeroizing::new(String::with_capacity(ENTRY_CAPACITY)),
            misses: 0,
        }
    }

    /// The share of this part (public fields are public: group, index, M, N, split id).
    pub fn share(&self) -> Option<&Share> {
        self.turn.shares.get(self.part)
    }

    /// The share on screen, while shown.
    pub fn shown(&self) -> Option<&Shown> {
        self.shown.as_ref()
    }

    /// How many characters were typed back (all the screen may know).
    pub fn typed(&self) -> usize {
        self.entry.chars().count()
    }

    /// Shows the current share.
    pub fn reveal(&mut self) {
        let Some(text) = self.share().and_then(|s| s.to_text().ok()) else {
            return;
        };
        self.shown = Some(Shown {
            grouped: text.grouped(),
            qr: widgets::share_qr(&text),
        });
        self.stage = Stage::Shown;
    }

    /// Hides the share (dropping zeroizes it) and asks for the type-back.
    pub fn copied(&mut self) -> Outcome {
        self.shown = None;
        self.entry.clear();
        self.stage = Stage::Check;
        Outcome::Hidden
    }

    /// Back to "press Enter to show it", from showing or checking.
    pub fn back(&mut self) -> Outcome {
        let was_shown = self.shown.take().is_some();
        self.entry.clear();
        self.stage = Stage::Called;
        if was_shown {
            Outcome::Hidden
        } else {
            Outcome::Nothing
        }
    }

    /// A typed character: letters and digits only (case, spaces and dashes do not matter).
    pub fn push(&mut self, c: char) {
        if c.is_ascii_alphanumeric() && self.entry.len() < ENTRY_CAPACITY - 1 {
            self.entry.push(c.to_ascii_lowercase());
        }
    }

    pub fn pop(&mut self) {
        self.entry.pop();
    }

    /// Compares the type-back with the share's last two groups; on a match goes on to the
    /// custodian's next share, or ends the turn.
    pub fn check(&mut self) -> Outcome {
        let matched = self
            .share()
            .and_then(|s| s.to_text().ok())
            .is_some_and(|t| tail_matches(&t, &self.entry));
        self.entry.clear();
        if !matched {
            self.misses += 1;
            return Outcome::Mismatch;
        }
        self.misses = 0;
        self.part += 1;
        self.stage = Stage::Called;
        if self.part >= self.turn.shares.len() {
            Outcome::Done
        } else {
            Outcome::Nothing
        }
    }
}

/// Characters in the last two groups of a share's grouped text: the last group (1 to 5
/// characters) and the one before, so always the whole 6-character Bech32m checksum.
pub fn tail_len(canonical_len: usize) -> usize {
    let last = match canonical_len % GROUP_LEN {
        0 => GROUP_LEN,
        r => r,
    };
    (last + GROUP_LEN).min(canonical_len)
}

fn tail_matches(text: &ShareText, typed: &str) -> bool {
    let canonical = text.canonical();
    let n = tail_len(canonical.len());
    let expected = &canonical.as_bytes()[canonical.len() - n..];
    // Every byte is compared whatever the first difference, so timing says nothing.
    typed.len() == n
        && expected
            .iter()
            .zip(typed.as_bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_is_the_last_two_groups() {
        // "byok1 qyp95 ... yw": 67 characters, the last group has 2.
        assert_eq!(tail_len(67), 7);
        assert_eq!(tail_len(70), 10);
        assert_eq!(tail_len(3), 3);
    }
}
