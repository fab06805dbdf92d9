//! The share format: versioned, checksummed text a custodian can read aloud and type.
//!
//! A share is a Bech32m string with the prefix `byok`, written in groups of five:
//!
//! ```text
//! byok1 qyqfq 5lz0x ... (about 14 groups)
//! ```
//!
//! Typing is forgiving where it is safe to be: upper or lower case, spaces and dashes are
//! ignored. The data part holds, in bytes:
//!
//! | bytes | field |
//! |---|---|
//! | 0 | format version (1) |
//! | 1 | which PIN: 1 user PIN, 2 SO PIN |
//! | 2..8 | split id (6 random bytes, also in the provisioning record) |
//! | 8 | M, the threshold |
//! | 9 | N, the number of shares |
//! | 10 | this share's index, 1..=N (its Shamir x-coordinate) |
//! | 11.. | the share's value: one byte per secret byte |
//!
//! The Bech32m checksum covers the prefix and all of it.
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use super::bech32::{self, Bech32Error};

/// The human-readable prefix of every share.
pub const SHARE_HRP: &str = "byok";
/// The version written by this build; the only one it reads.
pub const SHARE_FORMAT_VERSION: u8 = 1;
/// The header bytes before the share value.
pub const HEADER_LEN: usize = 11;
/// Characters per group when a share is shown.
pub const GROUP_LEN: usize = 5;

/// Which PIN a split protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PinGroup {
    UserPin,
    SoPin,
}

impl PinGroup {
    /// The group's byte in share headers, commitments and check values.
    pub(crate) fn code(self) -> u8 {
        match self {
            PinGroup::UserPin => 1,
            PinGroup::SoPin => 2,
        }
    }

    fn from_code(code: u8) -> Option<PinGroup> {
        match code {
            1 => Some(PinGroup::UserPin),
            2 => Some(PinGroup::SoPin),
            _ => None,
        }
    }

    /// "user PIN" or "SO PIN", for messages.
    pub fn name(self) -> &'static str {
        match self {
            PinGroup::UserPin => "user PIN",
            PinGroup::SoPin => "SO PIN",
        }
    }
}

impl fmt::Display for PinGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Names one split: every share of it, and its group in the provisioning record, carry it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SplitId(pub [u8; 6]);

impl SplitId {
    /// A fresh random id from the OS generator.
    pub fn random() -> Result<SplitId, getrandom::Error> {
        let mut id = [0u8; 6];
        getrandom::fill(&mut id)?;
        Ok(SplitId(id))
    }

    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Option<SplitId> {
        let mut id = [0u8; 6];
        hex::decode_to_slice(s, &mut id).ok()?;
        Some(SplitId(id))
    }
}

impl fmt::Display for SplitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for SplitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SplitId({})", self.to_hex())
    }
}

impl Serialize for SplitId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for SplitId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SplitId::from_hex(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("split id \"{s}\" is not 12 hex digits (6 bytes)"))
        })
    }
}

/// Why a typed share was refused, or a share could not be made. Messages say what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    #[error("nothing was entered; type the share exactly as printed, starting with byok1")]
    Empty,
    #[error(
        "the share contains a character that is not a plain letter or digit (position {0}); type only what is printed"
    )]
    NotAscii(usize),
    #[error(
        "this is not a byok-ceremony share: shares start with \"byok1\"; check the first group, and that you took the right paper"
    )]
    WrongPrefix,
    #[error("the share is mistyped: {0}")]
    Encoding(#[from] Bech32Error),
    #[error(
        "the share is written in format version {0}, which this byok-ceremony cannot read; use the version that made it"
    )]
    UnsupportedVersion(u8),
    #[error("the share names an unknown PIN kind ({0}); it was not made by byok-ceremony")]
    UnknownGroup(u8),
    #[error("the share's header is inconsistent ({0}); it was not made by byok-ceremony")]
    BadHeader(&'static str),
}

/// One custodian's share. The value is secret: zeroized on drop and never shown by Debug.
#[derive(Clone)]
pub struct Share {
    pub group: PinGroup,
    pub split_id: SplitId,
    /// M: how many shares rebuild the PIN.
    pub threshold: u8,
    /// N: how many shares were made.
    pub shares: u8,
    /// This share's number, 1..=N.
    pub index: u8,
    value: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Share")
            .field("group", &self.group)
            .field("split_id", &self.split_id)
            .field("threshold", &self.threshold)
            .field("shares", &self.shares)
            .field("index", &self.index)
            .field("value", &"<redacted>")
            .finish()
    }
}

impl Share {
    /// Assembles a share, checking the header (1 <= M <= N, 1 <= index <= N, a value).
    pub fn from_parts(
        group: PinGroup,
        split_id: SplitId,
        threshold: u8,
        shares: u8,
        index: u8,
        value: Zeroizing<Vec<u8>>,
    ) -> Result<Share, ShareError> {
        if threshold == 0 || threshold > shares {
            return Err(ShareError::BadHeader("threshold must be 1..=N"));
        }
        if index == 0 || index > shares {
            return Err(ShareError::BadHeader("index must be 1..=N"));
        }
        if value.is_empty() {
            return Err(ShareError::BadHeader("empty share value"));
        }
        Ok(Share {
            group,
            split_id,
            threshold,
            shares,
            index,
            value,
        })
    }

    /// The secret share value (the Shamir y-coordinates).
    pub fn value(&self) -> &[u8] {
        &self.value
    }

    /// The share as text for the custodian.
    pub fn to_text(&self) -> Result<ShareText, ShareError> {
        let mut bytes = Zeroizing::new(Vec::with_capacity(HEADER_LEN + self.value.len()));
        bytes.push(SHARE_FORMAT_VERSION);
        bytes.push(self.group.code());
        bytes.extend_from_slice(&self.split_id.0);
        bytes.extend([self.threshold, self.shares, self.index]);
        bytes.extend_from_slice(&self.value);
        let text = bech32::encode(SHARE_HRP, &bech32::to_base32(&bytes))?;
        Ok(ShareText(text))
    }

    /// Reads a typed share: case-insensitive, spaces and dashes ignored, checksum verified.
    pub fn parse(typed: &str) -> Result<Share, ShareError> {
        let canonical = normalise(typed)?;
        let prefixed = canonical
            .strip_prefix(SHARE_HRP)
            .is_some_and(|rest| rest.starts_with(bech32::SEPARATOR));
        let (hrp, data) = match bech32::decode(&canonical) {
            Ok(decoded) => decoded,
            // Text that does not even start like a share gets the clearer message.
            Err(_) if !prefixed => return Err(ShareError::WrongPrefix),
            Err(e) => return Err(e.into()),
        };
        if hrp != SHARE_HRP {
            return Err(ShareError::WrongPrefix);
        }
        let bytes = bech32::from_base32(&data)?;
        if bytes.len() <= HEADER_LEN {
            return Err(ShareError::Encoding(Bech32Error::TooShort));
        }
        if bytes[0] != SHARE_FORMAT_VERSION {
            return Err(ShareError::UnsupportedVersion(bytes[0]));
        }
        let group = PinGroup::from_code(bytes[1]).ok_or(ShareError::UnknownGroup(bytes[1]))?;
        let mut id = [0u8; 6];
        id.copy_from_slice(&bytes[2..8]);
        Share::from_parts(
            group,
            SplitId(id),
            bytes[8],
            bytes[9],
            bytes[10],
            Zeroizing::new(bytes[HEADER_LEN..].to_vec()),
        )
    }
}

/// Lowercase, without spaces and dashes; refuses anything but printable ASCII.
fn normalise(typed: &str) -> Result<Zeroizing<String>, ShareError> {
    let mut out = Zeroizing::new(String::with_capacity(typed.len()));
    for (i, c) in typed.chars().enumerate() {
        match c {
            ' ' | '-' | '\t' | '\r' | '\n' => {}
            c if c.is_ascii_graphic() => out.push(c.to_ascii_lowercase()),
            _ => return Err(ShareError::NotAscii(i + 1)),
        }
    }
    if out.is_empty() {
        return Err(ShareError::Empty);
    }
    Ok(out)
}

/// A share's text, canonical form (lowercase, no spaces). Secret; Debug is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct ShareText(Zeroizing<String>);

impl fmt::Debug for ShareText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ShareText(<redacted>)")
    }
}

impl ShareText {
    /// Lowercase, no spaces: what the checksum covers.
    pub fn canonical(&self) -> &str {
        &self.0
    }

    /// In groups of five separated by spaces, for paper and screens: `byok1 xxxxx xxxxx ...`.
    pub fn grouped(&self) -> Zeroizing<String> {
        let chars = self.0.as_bytes();
        let mut out = Zeroizing::new(String::with_capacity(chars.len() * 6 / 5 + 1));
        for (i, group) in chars.chunks(GROUP_LEN).enumerate() {
            if i > 0 {
                out.push(' ');
            }
            for &c in group {
                out.push(char::from(c));
            }
        }
        out
    }

    /// Uppercase, no spaces: the compact QR alphanumeric form.
    pub fn uppercase(&self) -> Zeroizing<String> {
        Zeroizing::new(self.0.to_ascii_uppercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Share {
        Share::from_parts(
            PinGroup::UserPin,
            SplitId([1, 2, 3, 4, 5, 6]),
            3,
            5,
            2,
            Zeroizing::new((0u8..24).collect()),
        )
        .expect("valid share")
    }

    #[test]
    fn round_trips_in_every_accepted_spelling() {
        let share = sample();
        let text = share.to_text().expect("encode");
        assert!(text.canonical().starts_with("byok1"));
        assert!(text.canonical().len() <= bech32::MAX_LEN);
        let dashed = text.grouped().replace(' ', "-");
        for typed in [
            text.canonical().to_owned(),
            text.grouped().to_string(),
            text.uppercase().to_string(),
            dashed,
            format!("  {}\n", text.grouped().as_str()),
        ] {
            let back = Share::parse(&typed).expect("parses");
            assert_eq!(back.value(), share.value());
            assert_eq!(
                (
                    back.group,
                    back.split_id,
                    back.threshold,
                    back.shares,
                    back.index
                ),
                (PinGroup::UserPin, share.split_id, 3, 5, 2)
            );
        }
    }

    #[test]
    fn debug_output_is_redacted() {
        let share = sample();
        let text = share.to_text().expect("encode");
        let shown = format!("{share:?} {text:?}");
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains(text.canonical()));
        assert!(!shown.contains(&hex::encode(share.value())));
    }

    #[test]
    fn refusals_are_specific() {
        assert_eq!(Share::parse("  ").err(), Some(ShareError::Empty));
        assert_eq!(Share::parse("hello").err(), Some(ShareError::WrongPrefix));
        assert!(matches!(
            Share::parse("byok1 é"),
            Err(ShareError::NotAscii(_))
        ));
        // A valid Bech32m string with another prefix.
        assert_eq!(
            Share::parse("abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx").err(),
            Some(ShareError::WrongPrefix)
        );
        // Same header, unknown version.
        let mut bytes = vec![9u8, 1, 1, 2, 3, 4, 5, 6, 3, 5, 2, 7, 7];
        let text = bech32::encode(SHARE_HRP, &bech32::to_base32(&bytes)).expect("encode");
        assert_eq!(
            Share::parse(&text).err(),
            Some(ShareError::UnsupportedVersion(9))
        );
        bytes[0] = 1;
        bytes[10] = 6; // index 6 of 5
        let text = bech32::encode(SHARE_HRP, &bech32::to_base32(&bytes)).expect("encode");
        assert!(matches!(Share::parse(&text), Err(ShareError::BadHeader(_))));
    }
}
