//! Text from files that reaches people: names, labels, purposes and instructions.
//!
//! Two rules. At parse time, text is refused when it could mislead or attack the room:
//! control characters (ESC, BEL, ... could drive the terminal, rewrite what the screen shows
//! or hide text), invisible and bidirectional formatting characters (a zero-width space, a
//! right-to-left override), and lengths no honest value needs. Names are compared as people
//! read them: after Unicode NFKC normalisation, case folding and whitespace trimming, so
//! "Wendy Witness" and "wendy witness" are one person, and a name that mixes scripts (a
//! Cyrillic "е" in a Latin name) is refused as a likely impersonation.
//!
//! At output, anything echoed from a file that was not checked this way (a `.byok`'s kid, a
//! log's actor, a token's own label) goes through [`shown`], which makes every control and
//! formatting character visible as `\u{..}` instead of passing it to the terminal or a report.
#![forbid(unsafe_code)]

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;
use unicode_security::MixedScript;

/// The longest name of a person (characters).
pub const MAX_NAME_CHARS: usize = 64;
/// PKCS#11 token and object labels are 32 bytes on the token.
pub const MAX_LABEL_BYTES: usize = 32;
/// A script's purpose (characters).
pub const MAX_PURPOSE_CHARS: usize = 1000;
/// One step's instruction (characters).
pub const MAX_INSTRUCTION_CHARS: usize = 4000;

/// What is wrong with a piece of text; `field` names where it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error(
        "{field} holds the control character {found}; names, labels and instructions must be plain text: remove it"
    )]
    Control { field: String, found: String },
    #[error(
        "{field} holds the invisible or direction-changing character {found}, which can make two different texts look alike: remove it"
    )]
    Invisible { field: String, found: String },
    #[error("{field} is empty: give it a value")]
    Empty { field: String },
    #[error("{field} is {len} {unit} long; at most {max} are allowed: shorten it")]
    TooLong {
        field: String,
        len: usize,
        max: usize,
        unit: &'static str,
    },
    #[error(
        "{field} \"{name}\" starts or ends with a space, or uses a space other than a plain one: write the name as people say it"
    )]
    Spacing { field: String, name: String },
    #[error(
        "{field} \"{name}\" mixes writing systems (for example a Cyrillic letter among Latin ones), so it can pass for another name: write it in one script"
    )]
    MixedScript { field: String, name: String },
    #[error("\"{name}\" holds two roles; one person has one role")]
    TwoRoles { name: String },
    #[error(
        "\"{first}\" and \"{second}\" are the same person as people read them (case, spacing and look-alike characters aside): one person has one role; name them apart"
    )]
    SamePerson { first: String, second: String },
}

/// The characters that change nothing visible but can make two texts look alike, or reorder
/// what is shown (Unicode's default-ignorable code points and the bidirectional controls).
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}' | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E0FFF}')
}

fn code(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// Checks free text (a purpose, an instruction): no control characters but line breaks and
/// tabs where `multi_line`, nothing invisible, at most `max_chars`.
pub fn check_text(
    field: &str,
    text: &str,
    max_chars: usize,
    multi_line: bool,
) -> Result<(), TextError> {
    let field = field.to_owned();
    let len = text.chars().count();
    if len > max_chars {
        return Err(TextError::TooLong {
            field,
            len,
            max: max_chars,
            unit: "characters",
        });
    }
    for c in text.chars() {
        if c.is_control() && !(multi_line && matches!(c, '\n' | '\t')) {
            return Err(TextError::Control {
                field,
                found: code(c),
            });
        }
        if invisible(c) {
            return Err(TextError::Invisible {
                field,
                found: code(c),
            });
        }
    }
    Ok(())
}

/// Checks a PKCS#11 label (a token's, a key's): one line of plain text, not empty, at most 32
/// bytes as the token stores it.
pub fn check_label(field: &str, label: &str) -> Result<(), TextError> {
    if label.is_empty() {
        return Err(TextError::Empty {
            field: field.to_owned(),
        });
    }
    if label.len() > MAX_LABEL_BYTES {
        return Err(TextError::TooLong {
            field: field.to_owned(),
            len: label.len(),
            max: MAX_LABEL_BYTES,
            unit: "bytes",
        });
    }
    check_text(field, label, MAX_LABEL_BYTES, false)
}

/// Checks a person's name: one line of plain text in one script, no surrounding or unusual
/// spaces, at most 64 characters.
pub fn check_name(field: &str, name: &str) -> Result<(), TextError> {
    if name.trim().is_empty() {
        return Err(TextError::Empty {
            field: field.to_owned(),
        });
    }
    check_text(field, name, MAX_NAME_CHARS, false)?;
    if name.trim() != name || name.chars().any(|c| c.is_whitespace() && c != ' ') {
        return Err(TextError::Spacing {
            field: field.to_owned(),
            name: name.to_owned(),
        });
    }
    if !name.is_single_script() {
        return Err(TextError::MixedScript {
            field: field.to_owned(),
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// A name as people read it: NFKC, case folded, inner spaces collapsed, trimmed. Two names
/// with the same key are one person.
pub fn name_key(name: &str) -> String {
    // Lower case plus the one full case folding people meet in names (ß = ss).
    let folded: String = name
        .nfkc()
        .flat_map(char::to_lowercase)
        .collect::<String>()
        .replace('ß', "ss");
    let folded: String = folded.nfkc().collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Refuses two names in `names` that are one person as people read them.
pub fn check_distinct<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<(), TextError> {
    let mut seen: Vec<(String, &str)> = Vec::new();
    for name in names {
        let key = name_key(name);
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
            if *first == name {
                return Err(TextError::TwoRoles {
                    name: name.to_owned(),
                });
            }
            return Err(TextError::SamePerson {
                first: (*first).to_owned(),
                second: name.to_owned(),
            });
        }
        seen.push((key, name));
    }
    Ok(())
}

/// True for a character that must not reach a terminal or a report as it is: a control
/// character (ESC, BEL, CR, ...) or an invisible or direction-changing one.
pub fn acts_unseen(c: char) -> bool {
    c.is_control() || invisible(c)
}

/// Text from a file, safe to print: control and invisible characters become `\u{..}`.
/// Borrowed when there is nothing to change (the usual case).
pub fn shown(text: &str) -> Cow<'_, str> {
    if !text.chars().any(acts_unseen) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if acts_unseen(c) {
                    format!("\\u{{{:x}}}", u32::from(c))
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// As [`shown`], keeping line breaks (for multi-line text drawn line by line).
pub fn shown_lines(text: &str) -> String {
    text.split('\n')
        .map(|l| shown(l).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_invisible_characters_are_refused() {
        for bad in ["a\u{1b}[2Jb", "bell\u{7}", "cr\r", "nul\0", "c1\u{9b}x"] {
            assert!(
                matches!(check_name("name", bad), Err(TextError::Control { .. })),
                "{bad:?}"
            );
        }
        for bad in ["zero\u{200b}width", "rtl\u{202e}lo", "bom\u{feff}"] {
            assert!(
                matches!(check_name("name", bad), Err(TextError::Invisible { .. })),
                "{bad:?}"
            );
        }
        assert!(check_text("instruction", "line one\nline two\tok", 100, true).is_ok());
        assert!(check_text("purpose", "line one\nline two", 100, false).is_err());
    }

    #[test]
    fn one_person_one_spelling() {
        // Case, a trailing space (refused on its own), NBSP, full-width letters, ligatures.
        let same = [
            ("Wendy Witness", "wendy witness"),
            ("alice", "Alice"),
            ("Wendy Witness", "Wendy\u{a0}Witness"),
            ("alice", "ａｌｉｃｅ"),
            ("Straße", "STRASSE"),
        ];
        for (a, b) in same {
            assert_eq!(name_key(a), name_key(b), "{a:?} {b:?}");
            assert!(
                matches!(check_distinct([a, b]), Err(TextError::SamePerson { .. })),
                "{a:?} {b:?}"
            );
            assert!(matches!(
                check_distinct([a, a]),
                Err(TextError::TwoRoles { .. })
            ));
        }
        assert!(check_distinct(["alice", "bob", "carol"]).is_ok());
        assert!(matches!(
            check_name("custodian", "wendy "),
            Err(TextError::Spacing { .. })
        ));
        assert!(matches!(
            check_name("custodian", "Wendy\u{a0}Witness"),
            Err(TextError::Spacing { .. })
        ));
        // A Cyrillic "е" among Latin letters; whole names in one script are fine.
        assert!(matches!(
            check_name("witness", "w\u{435}ndy"),
            Err(TextError::MixedScript { .. })
        ));
        for fine in [
            "Wendy Witness",
            "Зоя Иванова",
            "山田 太郎",
            "Zoë O'Neill",
            "carol-2",
        ] {
            assert!(check_name("name", fine).is_ok(), "{fine}");
        }
        let long = "a".repeat(MAX_NAME_CHARS + 1);
        assert!(matches!(
            check_name("name", &long),
            Err(TextError::TooLong { .. })
        ));
    }

    #[test]
    fn labels_fit_the_token() {
        assert!(check_label("label", "Ceremony HSM").is_ok());
        assert!(matches!(
            check_label("label", &"x".repeat(33)),
            Err(TextError::TooLong { unit: "bytes", .. })
        ));
        assert!(check_label("label", "").is_err());
        assert!(check_label("label", "evil\u{1b}]0;title\u{7}").is_err());
    }

    #[test]
    fn shown_makes_every_control_visible() {
        assert!(matches!(shown("plain kid"), Cow::Borrowed(_)));
        assert_eq!(shown("a\u{1b}[31mb\u{7}"), "a\\u{1b}[31mb\\u{7}");
        assert_eq!(shown("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(shown_lines("one\ntwo\u{1b}"), "one\ntwo\\u{1b}");
    }
}
