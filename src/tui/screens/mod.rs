//! Drawing: one function per screen, each reading an [`App`] and nothing else. Plain text,
//! box lines and bold/reverse carry everything, so a Linux console at 80x24 without colour
//! shows it all; the app's [`Theme`](super::theme::Theme) adds colour where there is some.
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::app::{App, MIN_HEIGHT, MIN_WIDTH, Prompt, Screen, Shown, approve_word, roster};
use super::widgets::{hex_groups, word_rows, words};
use crate::ceremony::machine::{Effect, Phase, QuorumMode, Role};
use crate::ceremony::runner::View;

const BOLD: Style = Style::new().add_modifier(Modifier::BOLD);
const REVERSED: Style = Style::new().add_modifier(Modifier::REVERSED);

mod closing;
mod help;
mod kek;
mod key;
mod opening;

use closing::*;
use help::*;
use kek::*;
use key::*;
use opening::*;

/// Draws the whole frame, and records in `app.shown` whether it showed everything.
pub fn draw(frame: &mut Frame, app: &App) {
    let size = frame.area();
    if size.width < MIN_WIDTH || size.height < MIN_HEIGHT {
        draw_too_small(frame, size);
        app.shown.set(Shown {
            too_small: true,
            complete: false,
        });
        return;
    }
    // The note (a refusal, a hint) is wrapped, never cut: up to three lines of it.
    let note_rows = Paragraph::new(format!(" {}", note_text(app)))
        .wrap(Wrap { trim: false })
        .line_count(size.width)
        .clamp(1, 3) as u16;
    let status_height = if app.share.is_some() || app.prompt.is_some() {
        note_rows + 2
    } else {
        note_rows
    };
    let screen = app.screen();
    // The script's instructions for this step, above the screen's own content.
    let told = Paragraph::new(
        instructions(app, screen)
            .into_iter()
            .map(|t| Line::styled(format!("Instruction: {t}"), app.theme.attention()))
            .collect::<Vec<_>>(),
    )
    .wrap(Wrap { trim: false });
    let told_rows = told.line_count(size.width);
    let [header, told_area, body, status, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(told_rows.min(MAX_INSTRUCTION_ROWS) as u16),
        Constraint::Min(3),
        Constraint::Length(status_height),
        Constraint::Length(2),
    ])
    .areas(frame.area());
    draw_header(frame, header, app);
    frame.render_widget(told, told_area);
    let body_complete = if app.help {
        draw_help(frame, body, screen);
        false
    } else {
        match screen {
            Screen::Script => draw_script(frame, body, app),
            Screen::Preflight => draw_preflight(frame, body, app),
            Screen::Attendance => draw_attendance(frame, body, app),
            Screen::Shares => draw_shares(frame, body, app),
            Screen::KekLoad => draw_kek_load(frame, body, app),
            Screen::KekConfirm => draw_kek_confirm(frame, body, app),
            Screen::Approve => draw_approve(frame, body, app),
            Screen::Generation => draw_generation(frame, body, app),
            Screen::Export => draw_export(frame, body, app),
            Screen::SignOff => draw_sign_off(frame, body, app),
            Screen::Summary => draw_summary(frame, body, app),
            Screen::Error => draw_error(frame, body, app),
            Screen::Resume => draw_resume(frame, body, app),
        }
    };
    let complete = body_complete && told_rows <= MAX_INSTRUCTION_ROWS;
    draw_status(frame, status, app);
    draw_footer(frame, footer, app, screen);
    app.shown.set(Shown {
        too_small: false,
        complete,
    });
}

/// The most rows the script's instructions take above a screen; longer ones are cut, and then
/// no decision is taken on that screen (enlarge the terminal).
const MAX_INSTRUCTION_ROWS: usize = 6;

/// The script's instructions for the step this screen belongs to.
fn instructions(app: &App, screen: Screen) -> Vec<String> {
    let phase = match screen {
        Screen::Script => return Vec::new(),
        Screen::Preflight => Phase::Preflight,
        Screen::Summary => Phase::Closed,
        _ => match &app.view {
            Some(v) => v.state.phase,
            None => return Vec::new(),
        },
    };
    crate::ceremony::runner::instructions_for(&app.script, phase)
}

/// Below the minimum size: only this, so that nothing is read from a cut screen.
pub fn draw_too_small(frame: &mut Frame, area: Rect) {
    let text = format!(
        "Enlarge the terminal to at least {MIN_WIDTH}x{MIN_HEIGHT} (it is {}x{} now). Nothing is shown or decided until then.",
        area.width, area.height
    );
    frame.render_widget(
        Paragraph::new(text).style(BOLD).wrap(Wrap { trim: true }),
        area,
    );
}

fn role_name(app: &App, name: &str) -> &'static str {
    let s = &app.script;
    if name == s.administrator {
        "administrator"
    } else if name == s.witness {
        "witness"
    } else if s.auditor.as_deref() == Some(name) {
        "auditor"
    } else {
        "custodian"
    }
}

fn draw_header(frame: &mut Frame, area: Rect, app: &App) {
    let phase = app.view.as_ref().map(|v| v.state.phase);
    let step = match phase {
        Some(p) => match p.step_number() {
            Some(k) => format!("Step {k}/{}: {}", Phase::STEPS.len(), p.title()),
            None => p.title().to_owned(),
        },
        None => "Before the ceremony: the script".to_owned(),
    };
    let rehearsal = if app.script.rehearsal {
        " REHEARSAL"
    } else {
        ""
    };
    let line1 = format!(" {}{rehearsal} | {step}", app.script.ceremony_id);
    let (mut people, mut custodians) = (Vec::new(), Vec::new());
    if let Some(v) = &app.view {
        for n in roster(&app.script) {
            if !v.state.present.contains(&n) {
                continue;
            }
            match role_name(app, &n) {
                "custodian" => custodians.push(n),
                "administrator" => people.push(format!("{n} (admin)")),
                role => people.push(format!("{n} ({role})")),
            }
        }
    }
    if !custodians.is_empty() {
        people.push(format!("custodians {}", custodians.join(", ")));
    }
    let line2 = if people.is_empty() {
        " Present: nobody has checked in yet".to_owned()
    } else {
        format!(" Present: {}", people.join("; "))
    };
    super::widgets::header(
        frame,
        area,
        app.theme,
        app.script.rehearsal,
        (&line1, &app.clock, &line2),
    );
}

fn keys_for(app: &App, screen: Screen) -> String {
    if app.share.is_some() {
        return "type the share (hidden)  Backspace: delete  Enter: submit  Esc: cancel".into();
    }
    if let Some(p) = &app.prompt {
        return match p {
            Prompt::Approve(_) => {
                "type the word  Enter: confirm  Esc: stop here (nothing is done)".into()
            }
            _ => "type  Enter: confirm  Esc: cancel".into(),
        };
    }
    if app.help {
        return "Esc or ?: close help".into();
    }
    let common = if app.waiting && app.finished.is_none() {
        "  d: deviation  w: witness ack  a: abort  ?: help"
    } else {
        "  ?: help"
    };
    // While the tool works the action keys are ignored, so they are not offered: people
    // (and scripts driving the terminal) wait for the key legend to come back.
    let busy = app.started && !app.waiting && app.finished.is_none();
    let acts_here = matches!(
        screen,
        Screen::Attendance
            | Screen::Shares
            | Screen::KekLoad
            | Screen::KekConfirm
            | Screen::SignOff
    );
    if busy && acts_here {
        return "working: wait for the tool  ?: help".into();
    }
    let own = match screen {
        Screen::Script => "Enter: open the ceremony  q: quit",
        Screen::Preflight if app.waiting && app.preflight_seen => "r: run the checks again",
        Screen::Preflight if app.waiting => "Enter: continue to attendance",
        Screen::Preflight => "checks running...",
        Screen::Attendance
            if app
                .view
                .as_ref()
                .is_some_and(|v| !v.state.open_station_failures().is_empty()) =>
        {
            "Up/Down: choose  Enter: check in  c: close attendance  r: run the checks again"
        }
        Screen::Attendance => "Up/Down: choose  Enter: check in  c: close attendance",
        Screen::Shares => "Up/Down: choose custodian  Enter: enter share",
        Screen::KekLoad => "Up/Down: medium  Enter: load from it  r: try again",
        Screen::KekConfirm => "Up/Down: custodian  y: words match  n: they differ",
        Screen::Approve => "type the word shown  Enter: confirm",
        Screen::Generation => "working: the HSM generates and wraps",
        Screen::Export
            if app.waiting
                && app
                    .view
                    .as_ref()
                    .is_some_and(|v| super::outputs::outputs(v).len() > 1) =>
        {
            "Tab: show the next wrapped key  Enter: continue to sign-off"
        }
        Screen::Export if app.waiting => "Enter: continue to sign-off",
        Screen::Export => "writing and reading back the media",
        Screen::SignOff
            if app
                .view
                .as_ref()
                .is_some_and(|v| super::outputs::outputs(v).len() > 1) =>
        {
            "Up/Down: choose  Enter: sign off  Tab: next wrapped key  c: close the ceremony"
        }
        Screen::SignOff => "Up/Down: choose  Enter: sign off  c: close the ceremony",
        Screen::Summary if app.finished.is_some() => "q: quit",
        Screen::Summary => "wait: the tool is finishing",
        Screen::Error if app.finished.is_some() => "q: quit",
        Screen::Error => "r: retry  d: record deviation  w: witness ack  a: abort  Esc: back",
        Screen::Resume if app.interrupted.as_ref().is_some_and(|i| i.is_over()) => "q: quit",
        Screen::Resume
            if app
                .interrupted
                .as_ref()
                .is_some_and(|i| i.end_left_undone.is_some()) =>
        {
            "r: resume to finish the end  q: quit (decide later)"
        }
        Screen::Resume => "r: resume it  a: abort it  q: quit (decide later)",
    };
    match screen {
        Screen::Script | Screen::Summary | Screen::Error | Screen::Resume => {
            format!("{own}  ?: help")
        }
        _ => format!("{own}{common}"),
    }
}

fn draw_footer(frame: &mut Frame, area: Rect, app: &App, screen: Screen) {
    frame.render_widget(
        Paragraph::new(format!(" {}", keys_for(app, screen)))
            .style(app.theme.keys())
            .wrap(Wrap { trim: true }),
        area,
    );
}

/// The line under the screen: the app's hint, else the runner's notice about the last event.
fn note_text(app: &App) -> String {
    app.hint
        .clone()
        .or_else(|| app.view.as_ref().and_then(|v| v.notice.clone()))
        .unwrap_or_default()
}

fn draw_status(frame: &mut Frame, area: Rect, app: &App) {
    let extra = if app.share.is_some() || app.prompt.is_some() {
        2
    } else {
        0
    };
    let [note_area, rest] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(extra)]).areas(area);
    frame.render_widget(
        Paragraph::new(Line::styled(
            format!(" {}", note_text(app)),
            app.theme.attention(),
        ))
        .wrap(Wrap { trim: false }),
        note_area,
    );
    let mut lines = Vec::new();
    if let Some(entry) = &app.share {
        // Only a count: the typed characters are never drawn.
        let (check, check_style) = if entry.well_formed() {
            ("complete, checksum valid", app.theme.ok())
        } else {
            ("incomplete", app.theme.attention())
        };
        lines.push(Line::from(vec![
            Span::styled(format!(" {}'s share (hidden): ", entry.custodian), BOLD),
            Span::styled(check, check_style),
        ]));
        lines.push(Line::raw(format!(
            " > {} ({} typed)",
            "*".repeat(entry.count().min(60)),
            entry.count()
        )));
    } else if let Some(p) = &app.prompt {
        lines.push(Line::styled(
            format!(" {}", p.label(&app.script.ceremony_id)),
            BOLD,
        ));
        lines.push(Line::raw(format!(" > {}_", app.typed)));
    }
    frame.render_widget(Paragraph::new(lines), rest);
}

fn pane(title: &str) -> Block<'_> {
    Block::new()
        .borders(Borders::TOP)
        .title(Span::styled(format!(" {title} "), BOLD))
}

fn para<'a>(lines: Vec<Line<'static>>, title: &'a str) -> Paragraph<'a> {
    Paragraph::new(lines)
        .block(pane(title))
        .wrap(Wrap { trim: false })
}

/// A body split into text on the left and a QR code on the right (when it fits).
fn with_qr(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    lines: Vec<Line<'static>>,
    qr: &[String],
    caption: &str,
) -> bool {
    let qr_width = qr.first().map_or(0, |l| l.chars().count() as u16) + 2;
    let fits = !qr.is_empty() && area.width >= qr_width + 40 && area.height > qr.len() as u16;
    if !fits {
        return render(frame, para(lines, title), area);
    }
    let [left, right] =
        Layout::horizontal([Constraint::Min(40), Constraint::Length(qr_width)]).areas(area);
    let text_fits = render(frame, para(lines, title), left);
    let mut q: Vec<Line> = qr.iter().map(|l| Line::raw(format!(" {l}"))).collect();
    if (area.height as usize) > qr.len() + 1 {
        q.push(Line::raw(format!(" {caption}")));
    }
    frame.render_widget(
        Paragraph::new(q).block(Block::new().borders(Borders::TOP)),
        right,
    );
    text_fits
}

/// Said wherever the .byok is shown when the HSM zero-pads (a rehearsal, or a script's
/// allow_zero_padding): in plain words, not only in the manifest.
fn rehearsal_grade_line(app: &App) -> Line<'static> {
    Line::styled(
        "REHEARSAL-GRADE: the HSM zero-pads the key; Azure may reject this .byok",
        app.theme.bad(),
    )
}

/// Renders a paragraph and tells whether all of it fitted (nothing cut at the bottom).
fn render(frame: &mut Frame, paragraph: Paragraph<'_>, area: Rect) -> bool {
    let fits = paragraph.line_count(area.width) <= usize::from(area.height);
    frame.render_widget(paragraph, area);
    fits
}

fn kv(key: &str, value: impl Into<String>) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{key:<14}"), BOLD),
        Span::raw(value.into()),
    ])
}

fn hash_lines(hex: &str, width: u16) -> Vec<Line<'static>> {
    let mut out = hex_lines(hex, "  ");
    let w = words(hex);
    for row in word_rows(&w, usize::from(width.saturating_sub(8)).max(20)) {
        out.push(Line::raw(format!("  {row}")));
    }
    out
}

/// The wrapped key's hash to read aloud, with its QR code's caption: Azure's `.byok` alone as
/// ever; with several clouds, the list of wrapped keys (ticked once shown) and the one shown
/// now, which Tab changes.
fn output_lines(
    app: &App,
    view: &View,
    width: u16,
    what: &str,
    heading: &str,
) -> (Vec<Line<'static>>, String) {
    use super::outputs::{outputs, shown};
    let all = outputs(view);
    let azure_only = all.len() <= 1 && view.script.azure().is_some();
    if azure_only {
        let mut lines = vec![Line::styled(format!(".byok SHA-256 ({what}):"), BOLD)];
        lines.extend(hash_lines(
            view.state.byok_sha256.as_deref().unwrap_or_default(),
            width,
        ));
        return (lines, ".byok SHA-256".into());
    }
    let Some((o, k, n)) = shown(view, app.output_shown) else {
        return (Vec::new(), String::new());
    };
    let mut lines = Vec::new();
    if n > 1 {
        // Short lines: a hash and all its words must fit beside the QR code at 80x24.
        lines.push(Line::styled(format!("{heading} (Tab: next one):"), BOLD));
        for (i, each) in all.iter().enumerate() {
            let current = i + 1 == k;
            let seen = current || app.outputs_seen.contains(&i);
            lines.push(Line::raw(format!(
                "{} {} {}: {}",
                if current { ">" } else { " " },
                if seen { "[x]" } else { "[ ]" },
                each.cloud,
                each.file
            )));
        }
    }
    lines.push(Line::styled(
        format!("{k} of {n}: {} SHA-256:", o.cloud),
        BOLD,
    ));
    lines.extend(hash_lines(&o.sha256, width));
    (lines, format!("SHA-256 of {k} of {n}"))
}

/// A SHA-256 in hex, eight groups a line (two lines, easy to compare), each line after `indent`.
fn hex_lines(hex: &str, indent: &str) -> Vec<Line<'static>> {
    let groups = hex_groups(hex);
    let parts: Vec<&str> = groups.split(' ').collect();
    parts
        .chunks(8)
        .map(|chunk| Line::raw(format!("{indent}{}", chunk.join(" "))))
        .collect()
}

fn text_width(area: Rect, qr: &[String]) -> u16 {
    let qr_width = qr.first().map_or(0, |l| l.chars().count() as u16) + 2;
    if !qr.is_empty() && area.width >= qr_width + 40 {
        area.width - qr_width
    } else {
        area.width
    }
}

/// The role a name plays, for callers that need it.
pub fn role_of(app: &App, name: &str) -> Role {
    match role_name(app, name) {
        "administrator" => Role::Administrator,
        "witness" => Role::Witness,
        "auditor" => Role::Auditor,
        _ => Role::Custodian,
    }
}
