//! The current PINs of a token being adopted, read from a file named on the command line
//! (never from the script, which is public). Format, one per line, `#` comments allowed:
//!
//! ```text
//! user=CURRENT-USER-PIN
//! so=CURRENT-SO-PIN        # needed only when the script splits the SO PIN
//! ```
//!
//! The file's bytes and the PINs stay in zeroizing memory; errors name the line, never its
//! content.
use std::path::Path;

use cryptoki::types::AuthPin;

/// Why the PIN file was refused.
#[derive(Debug, thiserror::Error)]
pub enum CurrentPinsError {
    #[error(transparent)]
    Input(#[from] crate::media::input::InputError),
    #[error("could not read the current-PINs file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the current-PINs file is not UTF-8 text; write it as `user=PIN` and `so=PIN` lines")]
    NotText,
    #[error("the current-PINs file, line {0}: expected `user=PIN` or `so=PIN`")]
    Line(usize),
    #[error("the current-PINs file gives the {0} PIN twice (line {1}); keep one")]
    Duplicate(&'static str, usize),
    #[error(
        "the current-PINs file has no `user=` line; the token's current user PIN is needed to adopt it"
    )]
    NoUser,
}

/// The adopted token's current PINs.
#[derive(Debug)]
pub struct CurrentPins {
    pub user: AuthPin,
    pub so: Option<AuthPin>,
}

impl CurrentPins {
    pub fn load(path: &Path) -> Result<CurrentPins, CurrentPinsError> {
        let bytes =
            crate::media::input::read_secret_input(path, crate::media::input::SMALL_SECRET)?;
        CurrentPins::parse(&bytes)
    }

    pub fn parse(bytes: &[u8]) -> Result<CurrentPins, CurrentPinsError> {
        let text = std::str::from_utf8(bytes).map_err(|_| CurrentPinsError::NotText)?;
        let (mut user, mut so) = (None, None);
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line.split_once('=').ok_or(CurrentPinsError::Line(i + 1))?;
            let value = value.trim();
            if value.is_empty() {
                return Err(CurrentPinsError::Line(i + 1));
            }
            let (slot, name) = match key.trim() {
                "user" => (&mut user, "user"),
                "so" => (&mut so, "SO"),
                _ => return Err(CurrentPinsError::Line(i + 1)),
            };
            if slot.replace(AuthPin::from(value)).is_some() {
                return Err(CurrentPinsError::Duplicate(name, i + 1));
            }
        }
        Ok(CurrentPins {
            user: user.ok_or(CurrentPinsError::NoUser)?,
            so,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn parses_and_never_echoes() {
        let p = CurrentPins::parse(b"# adopted\nuser = 1234abcd\nso=5678\n").expect("parse");
        assert_eq!(p.user.expose_secret(), "1234abcd");
        assert!(p.so.is_some());
        let e = CurrentPins::parse(b"usr=secret-value").expect_err("bad key");
        assert!(!e.to_string().contains("secret-value"));
        assert!(matches!(
            CurrentPins::parse(b"user=a\nuser=b"),
            Err(CurrentPinsError::Duplicate("user", 2))
        ));
        assert!(matches!(
            CurrentPins::parse(b"so=a"),
            Err(CurrentPinsError::NoUser)
        ));
    }
}
