//! The timeline chart: one row per ceremony step, a bar for each stretch of time the ceremony
//! spent in it, with the signed checkpoints and the exceptions marked below. Inline SVG that
//! scales to the page and prints in black and one accent colour.
use std::fmt::Write;

use super::data::Facts;
use super::text::{duration, html, phase_short};
use crate::ceremony::machine::Phase;

const WIDTH: f64 = 1000.0;
const LABEL: f64 = 175.0;
const PLOT_LEFT: f64 = 185.0;
const PLOT_RIGHT: f64 = 975.0;
const ROW: f64 = 26.0;
const TOP: f64 = 10.0;

/// The chart as an `<svg>` element.
pub fn svg(f: &Facts) -> String {
    let mut rows: Vec<Phase> = Phase::STEPS.to_vec();
    if f.spans.iter().any(|s| s.phase == Phase::Aborted) {
        rows.push(Phase::Aborted);
    }
    let t0 = f.first.1.unix_ms;
    let span_ms = (f.last.1.unix_ms - t0).max(1) as f64;
    let x = |t: i64| PLOT_LEFT + (t - t0) as f64 / span_ms * (PLOT_RIGHT - PLOT_LEFT);
    let marks_row = rows.len() as f64;
    let height = TOP + (marks_row + 2.0) * ROW + 34.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" aria-label="Timeline of the ceremony steps" font-family="sans-serif" font-size="16">"##
    );
    for (i, phase) in rows.iter().enumerate() {
        let y = TOP + i as f64 * ROW;
        let shade = if i % 2 == 0 { "#f2f2f2" } else { "#ffffff" };
        let _ = write!(
            s,
            r##"<rect x="0" y="{y}" width="{WIDTH}" height="{ROW}" fill="{shade}"/><text x="{}" y="{}" text-anchor="end">{}</text>"##,
            LABEL,
            y + ROW * 0.7,
            html(phase_short(*phase))
        );
    }
    for span in &f.spans {
        let Some(row) = rows.iter().position(|p| *p == span.phase) else {
            continue;
        };
        let y = TOP + row as f64 * ROW + 4.0;
        let (a, b) = (x(span.start.unix_ms), x(span.end.unix_ms));
        let title = format!(
            "{}: {} from seq {}",
            span.phase.title(),
            duration(span.end.unix_ms - span.start.unix_ms),
            span.first_seq
        );
        let _ = write!(
            s,
            r##"<rect x="{a:.1}" y="{y}" width="{:.1}" height="{}" fill="#2f5d8a"><title>{}</title></rect>"##,
            (b - a).max(3.0),
            ROW - 8.0,
            html(&title)
        );
    }
    let marks_y = TOP + marks_row * ROW;
    let _ = write!(
        s,
        r##"<text x="{LABEL}" y="{:.1}" text-anchor="end">Signed checkpoints</text><text x="{LABEL}" y="{:.1}" text-anchor="end">Exceptions</text>"##,
        marks_y + ROW * 0.7,
        marks_y + ROW * 1.7
    );
    for c in &f.checkpoints {
        let cx = x(c.at.unix_ms);
        let cy = marks_y + ROW / 2.0;
        let _ = write!(
            s,
            r##"<path d="M{cx:.1} {:.1} l7 9 l-7 9 l-7 -9 z" fill="#000000"><title>checkpoint at seq {} ({})</title></path>"##,
            cy - 9.0,
            c.seq,
            html(c.gate.title())
        );
    }
    for e in &f.exceptions {
        let Some(t) = crate::audit::verify::utc::Utc::parse(&e.utc) else {
            continue;
        };
        let ex = x(t.unix_ms);
        let ey = marks_y + ROW * 1.5;
        let _ = write!(
            s,
            r##"<circle cx="{ex:.1}" cy="{ey:.1}" r="6" fill="#b00020"><title>seq {}: {}</title></circle>"##,
            e.seq,
            html(&e.what)
        );
    }
    let axis_y = TOP + (marks_row + 2.0) * ROW + 4.0;
    let _ = write!(
        s,
        r##"<line x1="{PLOT_LEFT}" y1="{axis_y}" x2="{PLOT_RIGHT}" y2="{axis_y}" stroke="#000000"/>"##
    );
    for i in 0..=4 {
        let frac = f64::from(i) / 4.0;
        let tx = PLOT_LEFT + frac * (PLOT_RIGHT - PLOT_LEFT);
        let anchor = match i {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        let _ = write!(
            s,
            r##"<line x1="{tx:.1}" y1="{axis_y}" x2="{tx:.1}" y2="{:.1}" stroke="#000000"/><text x="{tx:.1}" y="{:.1}" text-anchor="{anchor}">+{}</text>"##,
            axis_y + 5.0,
            axis_y + 22.0,
            duration((span_ms * frac) as i64)
        );
    }
    s.push_str("</svg>");
    s
}
