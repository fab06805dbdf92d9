//! `--expect-words`: the .byok file's SHA-256 as typed in from the ceremony's screen or report,
//! either as 32 PGP words or as 64 hex digits (spaces allowed).
//!
//! PGP words alternate between two lists (even positions two-syllable, odd positions
//! three-syllable), so a dropped, doubled or swapped word is found and named, not just
//! reported as "different".
use byok_ceremony::byok::fingerprint::{PGP_EVEN_WORDS, PGP_ODD_WORDS};

/// Why the typed value is not a SHA-256.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExpectError {
    #[error(
        "--expect-words has {0} words; a SHA-256 is 32 PGP words (or 64 hex digits): copy all of them from the ceremony's screen or report"
    )]
    WordCount(usize),
    #[error(
        "--expect-words: word {position} {word:?} is not a PGP word: check its spelling against the ceremony's report"
    )]
    UnknownWord { position: usize, word: String },
    #[error(
        "--expect-words: word {position} {word:?} is a {found} word, but position {position} takes a {expected} one: a word was dropped, doubled or swapped near it"
    )]
    WrongList {
        position: usize,
        word: String,
        found: &'static str,
        expected: &'static str,
    },
}

/// Parses 32 PGP words or 64 hex digits into the 32 hash bytes.
pub fn parse_expected(text: &str) -> Result<[u8; 32], ExpectError> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = [0u8; 32];
    if compact.len() == 64 && hex::decode_to_slice(&compact, &mut out).is_ok() {
        return Ok(out);
    }
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() != 32 {
        return Err(ExpectError::WordCount(words.len()));
    }
    for (index, word) in words.iter().enumerate() {
        let position = index + 1;
        let (own, other) = if index % 2 == 0 {
            (&PGP_EVEN_WORDS, &PGP_ODD_WORDS)
        } else {
            (&PGP_ODD_WORDS, &PGP_EVEN_WORDS)
        };
        let find = |list: &[&str; 256]| list.iter().position(|w| w.eq_ignore_ascii_case(word));
        match (find(own), find(other)) {
            (Some(byte), _) => out[index] = byte as u8,
            (None, Some(_)) => {
                let (expected, found) = if index % 2 == 0 {
                    ("two-syllable", "three-syllable")
                } else {
                    ("three-syllable", "two-syllable")
                };
                return Err(ExpectError::WrongList {
                    position,
                    word: (*word).to_owned(),
                    found,
                    expected,
                });
            }
            (None, None) => {
                return Err(ExpectError::UnknownWord {
                    position,
                    word: (*word).to_owned(),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use byok_ceremony::byok::fingerprint::pgp_words_for;

    #[test]
    fn words_and_hex_round_trip() {
        let hash: [u8; 32] = std::array::from_fn(|i| (i * 37 + 5) as u8);
        let words = pgp_words_for(&hash).join(" ");
        assert_eq!(parse_expected(&words), Ok(hash));
        assert_eq!(parse_expected(&words.to_uppercase()), Ok(hash));
        let hex = hex::encode(hash);
        assert_eq!(parse_expected(&hex), Ok(hash));
        let grouped: Vec<String> = hex
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into())
            .collect();
        assert_eq!(parse_expected(&grouped.join(" ")), Ok(hash));
    }

    #[test]
    fn a_dropped_word_is_located() {
        let hash = [0u8; 32];
        let mut words = pgp_words_for(&hash);
        words.remove(4);
        words.push("aardvark");
        // Position 5 now holds an odd-position word at an odd (1-based) position.
        let err = parse_expected(&words.join(" ")).expect_err("shifted");
        assert!(
            matches!(err, ExpectError::WrongList { position: 5, .. }),
            "{err}"
        );
        assert_eq!(parse_expected("aardvark"), Err(ExpectError::WordCount(1)));
        let mut bad = pgp_words_for(&hash);
        bad[0] = "zebra";
        assert!(matches!(
            parse_expected(&bad.join(" ")),
            Err(ExpectError::UnknownWord { position: 1, .. })
        ));
    }
}
