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
        Screen::Attendance => "Up/Down: choose  Enter: check in  c: close attendance",
        Screen::Shares => "Up/Down: choose custodian  Enter: enter share",
        Screen::KekLoad => "Up/Down: medium  Enter: load from it  r: try again",
        Screen::KekConfirm => "Up/Down: custodian  y: words match  n: they differ",
        Screen::Approve => "type the word shown  Enter: confirm",
        Screen::Generation => "working: the HSM generates and wraps",
        Screen::Export if app.waiting => "Enter: continue to sign-off",
        Screen::Export => "writing and reading back the media",
        Screen::SignOff => "Up/Down: choose  Enter: sign off  c: close the ceremony",
        Screen::Summary if app.finished.is_some() => "q: quit",
        Screen::Summary => "wait: the tool is finishing",
        Screen::Error if app.finished.is_some() => "q: quit",
        Screen::Error => "r: retry  d: record deviation  w: witness ack  a: abort  Esc: back",
        Screen::Resume if app.interrupted.as_ref().is_some_and(|i| i.is_over()) => "q: quit",
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
    let groups = hex_groups(hex);
    let mut out = Vec::new();
    // Eight groups a line: two lines for a SHA-256, easy to compare.
    let parts: Vec<&str> = groups.split(' ').collect();
    for chunk in parts.chunks(8) {
        out.push(Line::raw(format!("  {}", chunk.join(" "))));
    }
    let w = words(hex);
    for row in word_rows(&w, usize::from(width.saturating_sub(8)).max(20)) {
        out.push(Line::raw(format!("  {row}")));
    }
    out
}

fn text_width(area: Rect, qr: &[String]) -> u16 {
    let qr_width = qr.first().map_or(0, |l| l.chars().count() as u16) + 2;
    if !qr.is_empty() && area.width >= qr_width + 40 {
        area.width - qr_width
    } else {
        area.width
    }
}

fn draw_script(frame: &mut Frame, area: Rect, app: &App) -> bool {
    let s = &app.script;
    let quorum = match s.quorum {
        QuorumMode::SplitPin { threshold } => format!(
            "{threshold} of {} custodians rebuild the HSM PIN",
            s.custodians.len()
        ),
        QuorumMode::HsmNative { threshold, total } => {
            format!("the HSM's own {threshold} of {total}")
        }
    };
    let mut lines = vec![
        kv("Purpose", s.purpose.clone()),
        kv("Administrator", s.administrator.clone()),
        kv("Witness", s.witness.clone()),
        kv("Custodians", s.custodians.join(", ")),
        kv("Quorum", quorum),
        kv("Target", format!("{}, label {}", s.target, s.target_label)),
        kv("KEK file", s.kek_file.clone()),
        kv(
            "Outputs",
            format!("{}.byok + manifest + audit log", s.output_name),
        ),
        Line::styled("Script SHA-256 (compare with the signed copy):", BOLD),
    ];
    if let Some(a) = &s.auditor {
        lines.insert(3, kv("Auditor", a.clone()));
    }
    lines.extend(hash_lines(&s.sha256, area.width));
    render(frame, para(lines, "Ceremony script"), area)
}

fn draw_preflight(frame: &mut Frame, area: Rect, app: &App) -> bool {
    let Some(view) = &app.view else {
        frame.render_widget(
            para(
                vec![Line::raw(
                    "Opening the HSM and running the preflight checks...",
                )],
                "Preflight checks",
            ),
            area,
        );
        return false;
    };
    let mut lines: Vec<Line> = view
        .checks
        .iter()
        .map(|c| {
            Line::from(vec![
                Span::styled(
                    if c.passed { "[ OK ] " } else { "[FAIL] " },
                    if c.passed {
                        app.theme.ok()
                    } else {
                        app.theme.bad()
                    },
                ),
                Span::styled(format!("{}: ", c.name), BOLD),
                Span::raw(c.detail.clone()),
            ])
        })
        .collect();
    if view.checks.is_empty() {
        lines.push(Line::raw("Running the checks..."));
    } else if view.checks.iter().all(|c| c.passed) {
        lines.push(Line::raw(""));
        lines.push(Line::raw("All checks passed. Next: attendance."));
    }
    render(frame, para(lines, "Preflight checks"), area)
}

fn marker(app: &App, i: usize) -> (&'static str, Style) {
    if i == app.cursor {
        ("> ", REVERSED)
    } else {
        ("  ", Style::new())
    }
}

fn draw_attendance(frame: &mut Frame, area: Rect, app: &App) -> bool {
    let Some(view) = &app.view else { return false };
    let mut lines = vec![
        Line::raw("Each person named in the script checks in by name."),
        Line::raw(format!(
            "Needed: the administrator, the witness and at least {} custodians.",
            view.threshold()
        )),
        Line::raw(""),
    ];
    for (i, name) in app.choices().iter().enumerate() {
        let (m, style) = marker(app, i);
        let tick = if view.state.present.contains(name) {
            "[x]"
        } else {
            "[ ]"
        };
        lines.push(Line::styled(
            format!("{m}{tick} {name:<16} {}", role_name(app, name)),
            style,
        ));
    }
    render(frame, para(lines, "Attendance"), area)
}

fn draw_shares(frame: &mut Frame, area: Rect, app: &App) -> bool {
    let Some(view) = &app.view else { return false };
    let s = &view.state;
    let mut lines = vec![
        Line::raw(format!(
            "Shares accepted: {} of {} needed. Each custodian types their own share;",
            s.shares_from.len(),
            view.threshold()
        )),
        Line::raw("it is checked at once and never shown."),
        Line::raw(""),
    ];
    if !s.shares_from.is_empty() {
        let done: Vec<&str> = s.shares_from.iter().map(String::as_str).collect();
        lines.push(Line::raw(format!("Accepted from: {}", done.join(", "))));
    }
    for (i, name) in app.choices().iter().enumerate() {
        let (m, style) = marker(app, i);
        lines.push(Line::styled(format!("{m}{name}"), style));
    }
    render(frame, para(lines, "Quorum: custodian shares"), area)
}

fn draw_kek_load(frame: &mut Frame, area: Rect, app: &App) -> bool {
    let Some(view) = &app.view else { return false };
    let s = &view.script;
    let mut lines = Vec::new();
    if let Some(problem) = &app.problem {
        lines.push(Line::styled(problem.to_string(), app.theme.bad()));
        lines.push(Line::raw(""));
    }
    lines.extend([
        kv("KEK file", format!("{} (named by the script)", s.kek_file)),
        kv(
            "Expected kid",
            s.expected_kid
                .as_ref()
                .map_or("(from the key JSON)".into(), |k| k.url().to_owned()),
        ),
        Line::raw(""),
        Line::styled("Media that could hold the KEK:", BOLD),
    ]);
    for (i, m) in view.kek_media.iter().enumerate() {
        let (marker, style) = marker(app, i);
        let (tick, tick_style, files) = if !m.mounted {
            ("[ ]", Style::new(), "not mounted".to_owned())
        } else if m.has_script_file {
            ("[x]", app.theme.ok(), m.files.join(", "))
        } else if m.files.is_empty() {
            ("[ ]", Style::new(), "no KEK file".to_owned())
        } else {
            (
                "[ ]",
                Style::new(),
                format!("{} (not the script's file)", m.files.join(", ")),
            )
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{marker}{}", m.dir.display()), style),
            Span::raw(" "),
            Span::styled(tick, tick_style),
            Span::raw(format!(" {files}")),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::raw(if app.waiting {
        "Choose the medium marked [x] and press Enter; or mount the KEK medium and press r."
    } else {
        "Loading and checking the KEK..."
    }));
    render(frame, para(lines, "Load the KEK"), area)
}

fn draw_kek_confirm(frame: &mut Frame, area: Rect, app: &App) -> bool {
    let Some(view) = &app.view else { return false };
    let s = &view.state;
    let fp = s.kek_fingerprint.clone().unwrap_or_default();
    let width = text_width(area, &app.pictures.kek_qr);
    let mut lines = vec![
        kv("File", view.facts.kek_file.clone().unwrap_or_default()),
        kv("kid", view.facts.kid.clone().unwrap_or_default()),
        kv("Size", format!("RSA {} bits", view.facts.kek_bits)),
        Line::styled("Fingerprint (the online side reads it aloud):", BOLD),
    ];
    lines.extend(hash_lines(&fp, width));
    for (i, name) in app.choices().iter().enumerate() {
        let (m, style) = marker(app, i);
        let (tick, tick_style) = if s.kek_confirmed_by.contains(name) {
            ("[x] matches", app.theme.ok())
        } else {
            ("[ ]", Style::new())
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{m}{name:<12} "), style),
            Span::styled(tick, tick_style),
        ]));
    }
    with_qr(
        frame,
        area,
        "Confirm the KEK fingerprint",
        lines,
        &app.pictures.kek_qr,
        "KEK fingerprint",
    )
}

fn draw_approve(frame: &mut Frame, area: Rect, app: &App) -> bool {
    let Some(view) = &app.view else { return false };
    let Some(effect) = &app.approve else {
        return false;
    };
    let s = &view.script;
    let lines = match effect {
        Effect::GenerateKey => vec![
            Line::raw("Every custodian present confirmed the KEK fingerprint."),
            Line::raw("The HSM will now generate the key:"),
            kv("Key", s.target.to_string()),
            kv("Label", s.target_label.clone()),
            kv(
                "Kept in HSM",
                if s.keep_in_hsm { "yes" } else { "no (session)" },
            ),
            Line::raw(""),
            Line::styled(
                format!(
                    "This cannot be undone: type {} to go on.",
                    approve_word(effect)
                ),
                app.theme.attention(),
            ),
        ],
        _ => vec![
            Line::raw("The key is wrapped for the KEK. The files will now be written to:"),
            kv("Medium", view.media.out.display().to_string()),
            kv(
                "Files",
                format!("{0}.byok, {0}.manifest.json", s.output_name),
            ),
            kv(
                ".byok SHA-256",
                hex_groups(view.state.byok_sha256.as_deref().unwrap_or_default()),
            ),
            Line::raw(""),
            Line::styled(
                format!(
                    "Files are never overwritten: type {} to go on.",
                    approve_word(effect)
                ),
                BOLD,
            ),
        ],
    };
    let title = match effect {
        Effect::GenerateKey => "Generate the key",
        _ => "Export to media",
    };
    render(frame, para(lines, title), area)
}

fn step_line(done: bool, running: bool, text: &str) -> Line<'static> {
    let tick = if done {
        "[x]"
    } else if running {
        "[.]"
    } else {
        "[ ]"
    };
    Line::raw(format!("{tick} {text}"))
}

fn draw_generation(frame: &mut Frame, area: Rect, app: &App) -> bool {
    let Some(view) = &app.view else { return false };
    let s = &view.state;
    let generated = s.key_id_hex.is_some();
    let mut lines = vec![
        step_line(
            generated,
            s.phase == Phase::KeyGeneration,
            "Generate the key in the HSM",
        ),
        step_line(
            s.byok_sha256.is_some(),
            s.phase == Phase::Wrap,
            "Wrap it for the KEK",
        ),
    ];
    if let Some(a) = &view.facts.attributes {
        lines.push(Line::raw(""));
        lines.push(Line::styled("Read back from the HSM:", BOLD));
        lines.push(kv("  label", a.label.clone()));
        lines.push(kv("  id", a.id_hex.clone()));
        let yes = |b: bool| if b { "yes" } else { "no" };
        lines.push(kv(
            "  sensitive",
            format!(
                "{}   always sensitive: {}",
                yes(a.sensitive),
                yes(a.always_sensitive)
            ),
        ));
        lines.push(kv(
            "  extractable",
            format!(
                "{}   never extractable: {}",
                yes(a.extractable),
                yes(a.never_extractable)
            ),
        ));
        lines.push(kv(
            "  local",
            format!("{}   token object: {}", yes(a.local), yes(a.token)),
        ));
    }
    render(frame, para(lines, "Generate and wrap the key"), area)
}

fn draw_export(frame: &mut Frame, area: Rect, app: &App) -> bool {
    let Some(view) = &app.view else { return false };
    let s = &view.state;
    let hash = s.byok_sha256.clone().unwrap_or_default();
    let width = text_width(area, &app.pictures.byok_qr);
    let mut lines = vec![
        step_line(
            !s.exported.is_empty(),
            s.phase == Phase::Export,
            "Write the files",
        ),
        step_line(
            s.verified,
            s.phase == Phase::Verification,
            "Read them back and compare",
        ),
    ];
    for f in &s.exported {
        lines.push(Line::raw(format!("    {}", f.name)));
    }
    lines.push(Line::styled(
        ".byok SHA-256 (read it to the online side):",
        BOLD,
    ));
    lines.extend(hash_lines(&hash, width));
    if view.facts.rehearsal_grade {
        lines.push(rehearsal_grade_line(app));
    }
    with_qr(
        frame,
        area,
        "Export to media",
        lines,
        &app.pictures.byok_qr,
        ".byok SHA-256",
    )
}

fn draw_sign_off(frame: &mut Frame, area: Rect, app: &App) -> bool {
    let Some(view) = &app.view else { return false };
    let s = &view.state;
    let width = text_width(area, &app.pictures.byok_qr);
    // The log grows with every signature: the head to note on paper is the final one, shown
    // once the ceremony is closed. What people sign off here is the file that leaves the room.
    let mut lines = vec![Line::styled(
        "Each person present signs off the ceremony that made this .byok (SHA-256):",
        BOLD,
    )];
    lines.extend(hash_lines(
        s.byok_sha256.as_deref().unwrap_or_default(),
        width,
    ));
    for (i, name) in app.choices().iter().enumerate() {
        let (m, style) = marker(app, i);
        let tick = if s.signed_off_by.contains(name) {
            "[x] signed"
        } else {
            "[ ]"
        };
        lines.push(Line::styled(format!("{m}{name:<12} {tick}"), style));
    }
    with_qr(
        frame,
        area,
        "Sign-off",
        lines,
        &app.pictures.byok_qr,
        ".byok SHA-256",
    )
}

fn draw_summary(frame: &mut Frame, area: Rect, app: &App) -> bool {
    let mut lines = Vec::new();
    match &app.finished {
        Some(Ok(f)) => {
            lines.push(Line::styled(
                format!("The ceremony is {}.", f.phase.title().to_lowercase()),
                BOLD,
            ));
            // The head first: it is final now, and it is what goes on the paper.
            lines.push(Line::styled(
                "Final log head: note it on the paper (the auditor compares it):",
                BOLD,
            ));
            lines.extend(hash_lines(&f.head, text_width(area, &app.pictures.head_qr)));
            lines.push(kv("Audit log", f.log_path.clone()));
            if app.view.as_ref().is_some_and(|v| v.facts.rehearsal_grade) {
                lines.push(rehearsal_grade_line(app));
            }
            for (name, hash) in &f.files {
                lines.push(Line::raw(format!("  {name}")));
                let groups = hex_groups(hash);
                let parts: Vec<&str> = groups.split(' ').collect();
                for chunk in parts.chunks(8) {
                    lines.push(Line::raw(format!("      {}", chunk.join(" "))));
                }
            }
            return with_qr(
                frame,
                area,
                "Summary",
                lines,
                &app.pictures.head_qr,
                "final log head",
            );
        }
        _ => {
            // The last checkpoint is still being signed and the log copy written: the ceremony
            // is not over until the runner says so, and nobody may leave before.
            if let Some(v) = &app.view {
                lines.push(Line::raw(format!(
                    "{}: signing the last checkpoint and writing the log copy. Wait.",
                    v.state.phase.title()
                )));
            }
        }
    }
    render(frame, para(lines, "Summary"), area)
}

/// An earlier run found in the state directory: where it stopped, and the choice.
fn draw_resume(frame: &mut Frame, area: Rect, app: &App) -> bool {
    let Some(i) = &app.interrupted else {
        return false;
    };
    let last = format!(
        "{}{} at {}",
        i.last_event,
        i.last_actor
            .as_deref()
            .map_or(String::new(), |a| format!(" by {a}")),
        i.last_utc
    );
    let present = if i.present.is_empty() {
        "nobody had checked in".to_owned()
    } else {
        i.present.join(", ")
    };
    let mut lines = Vec::new();
    if i.is_over() {
        lines.push(Line::styled(
            format!(
                "The ceremony \"{}\" is {}: it ran to its end.",
                i.ceremony_id,
                i.phase.title().to_lowercase()
            ),
            BOLD,
        ));
        lines.push(kv("Last entry", last));
        lines.push(kv("Entries", i.entries.to_string()));
        lines.push(Line::raw(""));
        lines.push(Line::raw(
            "Nothing more can happen in it: one ceremony id makes one key. A new ceremony needs a script with a new ceremony_id.",
        ));
    } else {
        lines.push(Line::styled(
            format!(
                "An earlier run of \"{}\" stopped before its end.",
                i.ceremony_id
            ),
            BOLD,
        ));
        lines.push(kv("Stopped at", i.phase.title()));
        lines.push(kv("Last entry", last));
        lines.push(kv("Present", present));
        lines.push(kv("Entries", i.entries.to_string()));
        lines.push(Line::raw(""));
        lines.push(Line::raw(
            "r  resume: a fresh quorum logs in, and the run continues where it stopped",
        ));
        lines.push(Line::raw(
            "a  abort: the ceremony ends here (a key it made is destroyed)",
        ));
        lines.push(Line::raw(
            "The choice is typed (RESUME or ABORT) and logged.",
        ));
    }
    render(frame, para(lines, "Interrupted ceremony"), area)
}

fn meaning(view: Option<&View>) -> &'static str {
    match view.map(|v| v.state.phase) {
        Some(Phase::Opened | Phase::Preflight) => {
            "The room is not ready. Fix what failed (mount the medium, check the token), then retry."
        }
        Some(Phase::KekLoad | Phase::KekConfirm) => {
            "No key was generated. Check the KEK medium and the file read aloud, then retry."
        }
        Some(Phase::KeyGeneration | Phase::Wrap) => {
            "The HSM step did not complete. Retry, or abort: a key already made is destroyed."
        }
        Some(Phase::Export | Phase::Verification) => {
            "The key is wrapped, but the media are not right. Check the medium, then retry."
        }
        _ => "The tool refused the action: it would break a rule of the ceremony.",
    }
}

fn draw_error(frame: &mut Frame, area: Rect, app: &App) -> bool {
    let mut lines = Vec::new();
    if let Some(Err(e)) = &app.finished {
        lines.push(Line::styled("The run stopped.", app.theme.bad()));
        lines.push(Line::raw(e.clone()));
        lines.push(Line::raw(""));
        lines.push(Line::raw(
            "The audit log is kept. Start the ceremony again to resume or abort it.",
        ));
        return render(frame, para(lines, "Stopped"), area);
    }
    lines.push(Line::styled("What happened", BOLD));
    lines.push(Line::raw(app.problem.clone().unwrap_or_default()));
    lines.push(Line::raw(""));
    lines.push(Line::styled("What it means", BOLD));
    lines.push(Line::raw(meaning(app.view.as_ref())));
    lines.push(Line::raw(""));
    lines.push(Line::styled("Choices (each goes into the audit log)", BOLD));
    lines.push(Line::raw("  r  retry the step"));
    lines.push(Line::raw(
        "  d  record a deviation (administrator); w: the witness acknowledges it",
    ));
    lines.push(Line::raw("  a  abort the ceremony (typed confirmation)"));
    if let Some(v) = &app.view {
        for (i, d) in v.state.deviations.iter().enumerate() {
            let ack = d.acknowledged_by.as_deref().map_or_else(
                || "awaits the witness".to_owned(),
                |w| format!("acknowledged by {w}"),
            );
            lines.push(Line::raw(format!("  deviation {i}: {} ({ack})", d.text)));
        }
    }
    render(frame, para(lines, "Something went wrong"), area)
}

fn help_text(screen: Screen) -> &'static str {
    match screen {
        Screen::Script => {
            "Check the script with the printed, signed copy: compare the SHA-256 (or its words). Enter opens the ceremony: the HSM is opened, the audit log is started and the preflight checks run."
        }
        Screen::Preflight => {
            "The tool checks the room: the script, no network, the output medium, the HSM's audit key, the provisioning record. Every check must pass before attendance."
        }
        Screen::Attendance => {
            "Each person named in the script checks in. The administrator closes attendance (c) once the administrator, the witness and enough custodians are present."
        }
        Screen::Shares => {
            "Choose a custodian and press Enter; they type their share out of sight of the others. Only a count of characters is shown. Spaces and dashes do not matter. A wrong share is refused and logged; type it again."
        }
        Screen::KekLoad => {
            "The KEK public key comes from the Key Vault on the online side, on its own medium. The media mounted are listed; [x] marks those that hold the file the script names. Choose one and press Enter, or press r to try the configured medium again. The tool checks the key's size and kid, and logs which file it read."
        }
        Screen::KekConfirm => {
            "The online side reads the fingerprint aloud as words. Each custodian compares them with the screen and answers y (they match) or n (they differ). Nothing is wrapped until all agree."
        }
        Screen::Approve => {
            "A decisive step needs the word typed exactly, so that no stray key starts it."
        }
        Screen::Generation => {
            "The HSM generates the key and reads its attributes back: it must be sensitive and never extractable in plain. Then it is wrapped for the KEK."
        }
        Screen::Export => {
            "The .byok file and the manifest are written without overwriting anything, then read back and compared. Read the .byok hash to the online side."
        }
        Screen::SignOff => {
            "Everyone present notes the log head on paper and signs off. The administrator closes the ceremony by typing its id."
        }
        Screen::Summary => "The ceremony is over. Hand the media and the paper to the auditor.",
        Screen::Resume => {
            "An earlier run of this ceremony stopped before its end (a crash, a power cut, Ctrl-C); its log is in the state directory. Resume: a fresh quorum logs in and the run continues where it stopped (the KEK is loaded and confirmed again before any wrap; a key already made is reused, never replaced). Abort: the ceremony ends; a key it made is destroyed after the quorum logs in once more. Either choice is logged."
        }
        Screen::Error => {
            "Retry after fixing the cause; or record a deviation (the witness must acknowledge it before the next gate); or abort. A key already made is destroyed on abort."
        }
    }
}

fn draw_help(frame: &mut Frame, area: Rect, screen: Screen) {
    frame.render_widget(
        Paragraph::new(help_text(screen))
            .block(pane("Help"))
            .wrap(Wrap { trim: true }),
        area,
    );
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
