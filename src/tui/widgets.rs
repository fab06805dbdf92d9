//! Small drawing helpers: QR codes as text, hashes as hex groups and PGP words.
use qrcode::render::unicode::Dense1x2;
use qrcode::{EcLevel, QrCode};

use crate::byok::fingerprint::pgp_words_for;

/// A hex hash as a QR code drawn with half blocks (two modules per character), one string per
/// line, with a one-module quiet zone. Empty when it cannot be drawn.
pub fn qr_lines(hex: &str) -> Vec<String> {
    // Uppercase hex is QR's compact alphanumeric mode: version 3 for a SHA-256.
    let Ok(code) = QrCode::with_error_correction_level(hex.to_uppercase().as_bytes(), EcLevel::L)
    else {
        return Vec::new();
    };
    let text = code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Dark)
        .light_color(Dense1x2::Light)
        .quiet_zone(false)
        .build();
    text.lines().map(str::to_owned).collect()
}

/// Lowercase hex in groups of four.
pub fn hex_groups(hex: &str) -> String {
    hex.as_bytes()
        .chunks(4)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The PGP words of a hex hash.
pub fn words(hex: &str) -> Vec<&'static str> {
    hex::decode(hex).map_or_else(|_| Vec::new(), |b| pgp_words_for(&b))
}

/// Words laid out in rows that fit `width` columns, for reading aloud: numbered when there
/// is room, four to a group otherwise.
pub fn word_rows(words: &[&str], width: usize) -> Vec<String> {
    let numbered = width >= 70;
    let mut rows = Vec::new();
    let mut row = String::from("  ");
    for (i, w) in words.iter().enumerate() {
        let item = if numbered {
            format!("{:>2} {w}", i + 1)
        } else {
            (*w).to_owned()
        };
        if row.trim().is_empty() {
            row.clear();
            row.push_str("  ");
        }
        let gap = if numbered { "  " } else { " " };
        if row.len() > 2 && row.len() + gap.len() + item.len() > width {
            rows.push(std::mem::replace(&mut row, String::from("  ")));
        }
        if row.len() > 2 {
            row.push_str(gap);
        }
        row.push_str(&item);
    }
    if row.len() > 2 {
        rows.push(row);
    }
    rows
}

/// "HH:MM:SS" of now, UTC.
pub fn clock_now() -> String {
    let t = crate::audit::time::rfc3339(std::time::SystemTime::now());
    t.get(11..19).unwrap_or("--:--:--").to_owned()
}

/// A share's QR code for the screen, drawn with half blocks: the same code as the share
/// file's (`quorum::qr`: uppercase text, error correction M) but without the four-module
/// quiet zone, so that it fits beside the text at 80x24; the screen leaves blank cells around
/// it instead. As secret as the share: it comes back zeroizing, and is empty when the share
/// cannot be drawn (the text and the share file still carry it).
pub fn share_qr(text: &crate::quorum::share::ShareText) -> zeroize::Zeroizing<String> {
    let Ok(code) = QrCode::with_error_correction_level(text.uppercase().as_bytes(), EcLevel::M)
    else {
        return zeroize::Zeroizing::new(String::new());
    };
    zeroize::Zeroizing::new(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Dark)
            .light_color(Dense1x2::Light)
            .quiet_zone(false)
            .build(),
    )
}

/// The two header lines every guided screen has: a bar with `title` and the UTC clock (yellow
/// for a rehearsal where there is colour), then who is present.
pub fn header(
    frame: &mut ratatui::Frame,
    area: ratatui::layout::Rect,
    theme: super::theme::Theme,
    rehearsal: bool,
    (title, clock, present): (&str, &str, &str),
) {
    use ratatui::layout::{Alignment, Constraint, Layout};
    use ratatui::widgets::Paragraph;
    let [top, second] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    let [left, right] =
        Layout::horizontal([Constraint::Min(10), Constraint::Length(13)]).areas(top);
    let bar = theme.bar(rehearsal);
    frame.render_widget(Paragraph::new(title.to_owned()).style(bar), left);
    frame.render_widget(
        Paragraph::new(format!("{clock} UTC"))
            .style(bar)
            .alignment(Alignment::Right),
        right,
    );
    frame.render_widget(Paragraph::new(present.to_owned()), second);
}
