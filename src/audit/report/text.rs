//! Small shared pieces of the report: escaping, hashes as groups, PGP words and QR codes,
//! durations and times.
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

use crate::byok::fingerprint::pgp_words_for;
use crate::ceremony::machine::Phase;

/// Text made safe for HTML element content and attribute values; control and invisible
/// characters (a name or kid from a crafted log) are shown as `\u{..}`.
pub fn html(text: &str) -> String {
    let text = crate::text::shown_lines(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Text made safe inside a Markdown table cell or paragraph (no markup, no line breaks, no
/// control characters: they are shown as `\u{..}`).
pub fn md(text: &str) -> String {
    let text = crate::text::shown_lines(&text.replace('\r', ""));
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Hex in groups of four, as people read it aloud.
pub fn hex_groups(hex: &str) -> String {
    hex.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The PGP words of a hex hash; None when it is not hex.
pub fn words(hex: &str) -> Option<String> {
    hex::decode(hex).ok().map(|b| pgp_words_for(&b).join(" "))
}

/// A QR code of `text` as an inline SVG element (no XML declaration); None if it cannot be
/// drawn.
pub fn qr_svg(text: &str, size: u32) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let doc = code
        .render::<svg::Color<'_>>()
        .min_dimensions(size, size)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    doc.find("<svg").map(|i| doc[i..].to_owned())
}

/// A duration in words: "850 ms", "42 s", "3 min 5 s", "2 h 10 min".
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else if ms < 3_600_000 {
        format!("{} min {} s", ms / 60_000, (ms / 1000) % 60)
    } else {
        format!("{} h {} min", ms / 3_600_000, (ms / 60_000) % 60)
    }
}

/// "2026-11-29T14:23:57.881Z" as "2026-11-29 14:23:57.881 UTC".
pub fn time(utc: &str) -> String {
    match utc.strip_suffix('Z') {
        Some(t) => format!("{} UTC", t.replacen('T', " ", 1)),
        None => utc.to_owned(),
    }
}

/// The time of day of a log time: "14:23:57.881" (the date is in the summary).
pub fn clock(utc: &str) -> String {
    match (utc.get(11..23), utc.ends_with('Z')) {
        (Some(t), true) => t.to_owned(),
        _ => utc.to_owned(),
    }
}

/// Short names for the timeline's rows.
pub fn phase_short(phase: Phase) -> &'static str {
    match phase {
        Phase::Opened => "Opened",
        Phase::Preflight => "Preflight",
        Phase::Attendance => "Attendance",
        Phase::Quorum => "Quorum",
        Phase::KekLoad => "KEK load",
        Phase::KekConfirm => "KEK confirm",
        Phase::KeyGeneration => "Key generation",
        Phase::Wrap => "Wrap",
        Phase::Export => "Export",
        Phase::Verification => "Verification",
        Phase::SignOff => "Sign-off",
        Phase::Closed => "Closed",
        Phase::Aborted => "Aborted",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_never_reach_a_report() {
        let hostile = "alice\u{1b}[2J\u{7}\u{202e}";
        for out in [html(hostile), md(hostile)] {
            assert!(!out.chars().any(|c| c.is_control()), "{out:?}");
            assert!(out.contains("u{1b}"), "{out:?}");
        }
    }

    #[test]
    fn escapes_and_formats() {
        assert_eq!(
            html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(md("a|b*c\nd"), "a\\|b\\*c d");
        assert_eq!(hex_groups("abcdef0123"), "abcd ef01 23");
        assert_eq!(words("00ff").as_deref(), Some("aardvark Yucatan"));
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(185_000), "3 min 5 s");
        assert_eq!(
            time("2026-11-29T14:23:57.881Z"),
            "2026-11-29 14:23:57.881 UTC"
        );
        let qr = qr_svg(&"ab".repeat(32), 120).expect("qr");
        assert!(qr.starts_with("<svg") && !qr.contains("<?xml"));
    }
}
