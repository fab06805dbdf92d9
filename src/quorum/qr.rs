//! A share as a QR code, for printing on the custodian's paper.
//!
//! The share is encoded in its uppercase form, which QR stores in the compact alphanumeric
//! mode; a scanner hands back text that `Share::parse` accepts as typed. The rendered images
//! are as secret as the share and come back in zeroizing strings (the encoder's own scratch
//! buffers are not zeroized: render shares on the air-gapped machine only).
use qrcode::render::svg;
use qrcode::render::unicode::Dense1x2;
use qrcode::{EcLevel, QrCode};
use zeroize::Zeroizing;

use super::share::ShareText;

/// Why a share could not be drawn as a QR code.
#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error(
        "the share could not be drawn as a QR code ({0}); hand it out as text only and report this"
    )]
    Encode(#[from] qrcode::types::QrError),
}

fn code(share: &ShareText) -> Result<QrCode, QrError> {
    // Medium error correction: survives a crease or a smudge on paper.
    Ok(QrCode::with_error_correction_level(
        share.uppercase().as_bytes(),
        EcLevel::M,
    )?)
}

/// An SVG document of the share's QR code, for printing.
pub fn svg(share: &ShareText) -> Result<Zeroizing<String>, QrError> {
    let code = code(share)?;
    Ok(Zeroizing::new(
        code.render::<svg::Color<'_>>()
            .min_dimensions(240, 240)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .build(),
    ))
}

/// The QR code drawn with Unicode half blocks, two modules per character: prints on paper
/// and shows in a terminal (dark modules as ink, with the quiet zone around it).
pub fn text(share: &ShareText) -> Result<Zeroizing<String>, QrError> {
    let code = code(share)?;
    Ok(Zeroizing::new(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Dark)
            .light_color(Dense1x2::Light)
            .quiet_zone(true)
            .build(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quorum::share::{PinGroup, Share, SplitId};

    #[test]
    fn renders_both_forms() {
        let share = Share::from_parts(
            PinGroup::UserPin,
            SplitId([9; 6]),
            2,
            3,
            1,
            Zeroizing::new(vec![0xAB; 24]),
        )
        .expect("share");
        let text = share.to_text().expect("text");
        let svg = svg(&text).expect("svg");
        assert!(svg.starts_with("<?xml") && svg.contains("<svg"));
        let blocks = text_qr(&text);
        assert!(blocks.lines().count() > 10);
        assert!(blocks.contains('\u{2588}') || blocks.contains('\u{2580}'));
    }

    fn text_qr(t: &ShareText) -> Zeroizing<String> {
        text(t).expect("text qr")
    }
}
