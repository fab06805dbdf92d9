//! A share being typed, masked: the only place its characters live, for every screen that
//! takes a share (the ceremony's quorum, a re-split's old quorum).
//!
//! The buffer is zeroizing and allocated once at full size, so it never reallocates (which
//! would leave a copy of typed characters behind); it moves whole to whoever checks it.
use zeroize::Zeroizing;

use crate::quorum::share::Share;

/// Longest share text accepted; the buffer never grows past it.
pub const SHARE_CAPACITY: usize = 256;

pub struct ShareEntry {
    pub custodian: String,
    typed: Zeroizing<String>,
    well_formed: bool,
}

/// Only the custodian and a count: never a typed character.
impl std::fmt::Debug for ShareEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareEntry")
            .field("custodian", &self.custodian)
            .field("typed", &self.count())
            .finish()
    }
}

impl ShareEntry {
    pub fn new(custodian: String) -> ShareEntry {
        ShareEntry {
            custodian,
            typed: Zeroizing::new(String::with_capacity(SHARE_CAPACITY)),
            well_formed: false,
        }
    }

    /// How many characters were typed (all the screen may know).
    /// Counts what a share is made of (letters and digits): spaces and dashes, which the share
    /// ignores, are not counted, as the hand-out's type-back does not count them either.
    pub fn count(&self) -> usize {
        self.typed
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .count()
    }

    /// Whether the text typed so far is a whole share with a valid checksum.
    pub fn well_formed(&self) -> bool {
        self.well_formed
    }

    /// Adds a character; ignored once the buffer is full.
    pub fn push(&mut self, c: char) {
        if self.typed.len() + c.len_utf8() < SHARE_CAPACITY {
            self.typed.push(c);
            self.check();
        }
    }

    pub fn pop(&mut self) {
        self.typed.pop();
        self.check();
    }

    fn check(&mut self) {
        self.well_formed = Share::parse(&self.typed).is_ok();
    }

    /// Who typed it and the text, moved out (not copied) for checking.
    pub fn into_parts(self) -> (String, Zeroizing<String>) {
        (self.custodian, self.typed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_stops_at_its_capacity_and_debug_shows_only_a_count() {
        let mut entry = ShareEntry::new("carol".into());
        for _ in 0..SHARE_CAPACITY * 2 {
            entry.push('q');
        }
        assert_eq!(entry.count(), SHARE_CAPACITY - 1);
        assert!(!entry.well_formed());
        let debug = format!("{entry:?}");
        assert!(!debug.contains("qq"), "{debug}");
        let (custodian, text) = entry.into_parts();
        assert_eq!(
            (custodian.as_str(), text.capacity()),
            ("carol", SHARE_CAPACITY)
        );
    }
}
