//! One custodian's share file: the text that goes onto that custodian's own medium (a USB
//! stick, or paper printed from it). It holds their share of each PIN they guard, as grouped
//! text and as a QR code, with plain instructions. Never more than one custodian's shares.
use std::fmt::Write as _;

use zeroize::Zeroizing;

use super::qr::{self, QrError};
use super::share::{Share, ShareError};
use crate::hsm_types::token::TokenIdentity;

/// The custodian's file name in the output directory.
pub fn file_name(custodian: &str) -> String {
    format!("{custodian}.share.txt")
}

/// Why a share file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum ShareFileError {
    #[error(transparent)]
    Input(#[from] crate::media::input::InputError),
    #[error("{0}")]
    Share(#[from] ShareError),
    #[error("{0}")]
    Qr(#[from] QrError),
    #[error("the share file holds no {0} share; give the file of a custodian of that PIN")]
    NoShare(super::share::PinGroup),
    #[error("could not read the share file: {0}")]
    Read(#[from] std::io::Error),
    #[error("the share file is not UTF-8 text; it is damaged, or not a share file")]
    NotText,
}

/// The file's text for `custodian` holding `shares` (one per PIN they guard).
pub fn render(
    custodian: &str,
    token: &TokenIdentity,
    shares: &[&Share],
    rehearsal: bool,
) -> Result<Zeroizing<String>, ShareFileError> {
    // Room for everything up front: a String that grows would leave copies of the shares in
    // the buffers it frees, which Zeroizing cannot reach. (A share and its QR code take about
    // 3.5 KiB.)
    let mut out = Zeroizing::new(String::with_capacity(2048 + 6144 * shares.len()));
    // Writing to a String cannot fail; the results are ignored for that reason.
    let _ = writeln!(
        out,
        "BYOK-CEREMONY CUSTODIAN SHARE - SECRET\nKeep it on your own medium. Show it to nobody. Read the custodian guide.\n"
    );
    if rehearsal {
        let _ = writeln!(out, "REHEARSAL ONLY - this share protects a test token.\n");
    }
    let _ = writeln!(out, "Custodian: {custodian}");
    // The token's own words (an adopted token's label is whatever it holds): shown plainly.
    let shown = crate::text::shown;
    let _ = writeln!(
        out,
        "Token:     \"{}\" serial {} ({} {})\n",
        shown(&token.label),
        // A fresh token's shares are written before it is initialised, and many tokens only
        // get their serial then.
        if token.serial.trim().is_empty() {
            "given at initialisation (see the provisioning record)".into()
        } else {
            shown(&token.serial)
        },
        shown(&token.manufacturer),
        shown(&token.model)
    );
    for share in shares {
        let text = share.to_text()?;
        let _ = writeln!(
            out,
            "{} share number {} of {}: any {} of the {} custodians together rebuild the PIN.",
            capitalised(share.group.name()),
            share.index,
            share.shares,
            share.threshold,
            share.shares
        );
        let _ = writeln!(out, "Split id:  {}", share.split_id);
        let _ = writeln!(
            out,
            "Share (type it exactly; case, spaces and dashes do not matter):\n"
        );
        out.push_str("    ");
        out.push_str(&text.grouped());
        out.push_str("\n\nThe same share as a QR code:\n\n");
        out.push_str(&qr::text(&text)?);
        out.push_str("\n\n");
    }
    let _ = writeln!(
        out,
        "Bring this share to every ceremony that needs it and type it only into byok-ceremony\non the ceremony machine. Never photograph it, copy it, send it, or tell it to anyone."
    );
    Ok(out)
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The share of `group` in a share file's text (headless ceremonies read custodians' files).
pub fn share_in(text: &str, group: super::share::PinGroup) -> Result<Share, ShareFileError> {
    let mut last_error = None;
    for line in text.lines() {
        let t = line.trim();
        if !t.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("byok1")) {
            continue;
        }
        match Share::parse(t) {
            Ok(s) if s.group == group => return Ok(s),
            Ok(_) => {}
            Err(e) => last_error = Some(e),
        }
    }
    Err(match last_error {
        Some(e) => e.into(),
        None => ShareFileError::NoShare(group),
    })
}

/// The text of the share of `group` in a file, as a custodian would type it.
pub fn share_text_in(
    text: &str,
    group: super::share::PinGroup,
) -> Result<Zeroizing<String>, ShareFileError> {
    let share = share_in(text, group)?;
    Ok(share.to_text()?.grouped())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quorum::share::{PinGroup, SplitId};

    /// Issue 13, item 5: an adopted token's label is the token's own; it is written plainly.
    #[test]
    fn a_token_label_with_escapes_is_written_plainly() {
        let token = TokenIdentity {
            label: "evil\u{1b}]0;owned\u{7}".into(),
            ..TokenIdentity::default()
        };
        let share = Share::from_parts(
            PinGroup::UserPin,
            SplitId([1; 6]),
            2,
            3,
            1,
            Zeroizing::new(vec![9; 24]),
        )
        .expect("share");
        let text = render("alice", &token, &[&share], true).expect("render");
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "a control character reached the share file"
        );
        assert!(text.contains("evil\\u{1b}]0;owned\\u{7}"));
    }
}
