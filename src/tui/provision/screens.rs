//! Drawing the provisioning screens: one function per screen, each reading a
//! [`ProvisionApp`] and nothing else. The same look as the ceremony's screens (header with
//! the token, the step and the UTC clock; the keys that work here in the footer), plain text
//! and bold/reverse only, so a Linux console at 80x24 without colour shows it all.
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::app::{CONFIRM_WORD, ProvisionApp, Screen};
use super::handout::Stage;
use super::handout_screen;
use super::resplit_screens;
use crate::quorum::provision::{AUDIT_LOG_NAME, ProvisionStep, TokenToChange};
use crate::quorum::script::TokenPlan;
use crate::tui::widgets::{hex_groups, word_rows, words};

pub(super) const BOLD: Style = Style::new().add_modifier(Modifier::BOLD);
pub(super) const REVERSED: Style = Style::new().add_modifier(Modifier::REVERSED);

/// Draws the whole frame.
pub fn draw(frame: &mut Frame, app: &ProvisionApp) {
    let typing = app.approve.is_some()
        || app.turn.as_ref().is_some_and(|t| t.stage == Stage::Check)
        || app.resplit.as_ref().is_some_and(|r| r.entry.is_some());
    let [header, body, status, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(3),
        Constraint::Length(if typing { 3 } else { 1 }),
        Constraint::Length(2),
    ])
    .areas(frame.area());
    let screen = app.screen();
    draw_header(frame, header, app, screen);
    if app.help {
        draw_help(frame, body, app, screen);
    } else {
        match (screen, &app.resplit) {
            (Screen::Script, Some(old)) => resplit_screens::draw_script(frame, body, app, old),
            (Screen::Shares, Some(old)) => resplit_screens::draw_shares(frame, body, app, old),
            (Screen::Confirm, Some(old)) => resplit_screens::draw_confirm(frame, body, app, old),
            _ => draw_common(frame, body, app, screen),
        }
    }
    draw_status(frame, status, app);
    frame.render_widget(
        Paragraph::new(format!(" {}", keys_for(app, screen)))
            .style(app.theme.keys())
            .wrap(Wrap { trim: true }),
        footer,
    );
}

/// The screens provisioning and re-split draw alike.
fn draw_common(frame: &mut Frame, body: Rect, app: &ProvisionApp, screen: Screen) {
    match screen {
        Screen::Script => draw_script(frame, body, app),
        Screen::Attendance => draw_attendance(frame, body, app),
        Screen::Shares => {}
        Screen::Confirm => draw_confirm(frame, body, app),
        Screen::Working => draw_working(frame, body, app),
        Screen::HandOut => handout_screen::draw(frame, body, app),
        Screen::Summary => draw_summary(frame, body, app),
        Screen::Stopped => draw_stopped(frame, body, app),
    }
}

fn draw_header(frame: &mut Frame, area: Rect, app: &ProvisionApp, screen: Screen) {
    let step = match app.step_number(screen) {
        Some(k) => format!("Step {k}/{}: {}", app.steps().len(), screen.title()),
        None => screen.title().to_owned(),
    };
    let rehearsal = if app.script.rehearsal {
        " REHEARSAL"
    } else {
        ""
    };
    let verb = if app.resplit.is_some() {
        "Re-split"
    } else {
        "Provision"
    };
    let line1 = format!(" {verb} {}{rehearsal} | {step}", app.token_name());
    let line2 = if app.present.is_empty() {
        " Present: nobody has checked in yet".to_owned()
    } else {
        format!(" Present: custodians {}", app.present.join(", "))
    };
    crate::tui::widgets::header(
        frame,
        area,
        app.theme,
        app.script.rehearsal,
        (&line1, &app.clock, &line2),
    );
}

/// The keys that work on this screen, and only those: while the HSM works the legend says
/// to wait (people, and scripts driving the terminal, wait for the legend to come back).
fn keys_for(app: &ProvisionApp, screen: Screen) -> String {
    if app.help {
        return "Esc or ?: close help".into();
    }
    match screen {
        Screen::Script => "Enter: go to attendance  q: quit  ?: help".into(),
        Screen::Attendance => {
            "Up/Down: choose  Enter: check in  c: continue  Esc: back  q: quit  ?: help".into()
        }
        Screen::Shares => app
            .resplit
            .as_ref()
            .map(|old| resplit_screens::keys(app, old))
            .unwrap_or_default(),
        Screen::Confirm => format!(
            "type {}  Enter: confirm  Esc: stop, nothing is changed",
            app.confirm_word()
        ),
        Screen::Working if app.step.is_none() => "working: finding the token, wait  ?: help".into(),
        Screen::Working => "working: the HSM is busy, wait  ?: help".into(),
        Screen::HandOut => handout_screen::keys(app),
        Screen::Summary => "q: quit  ?: help".into(),
        Screen::Stopped => "q: quit  ?: help".into(),
    }
}

fn draw_status(frame: &mut Frame, area: Rect, app: &ProvisionApp) {
    let mut lines = vec![Line::styled(
        format!(" {}", app.hint.clone().unwrap_or_default()),
        app.theme.attention(),
    )];
    if let Some(old) = app.resplit.as_ref().filter(|r| r.entry.is_some()) {
        lines.extend(resplit_screens::entry_lines(app, old));
    } else if app.approve.is_some() {
        lines.push(Line::styled(
            format!(
                " Type {} and press Enter to change the token",
                app.confirm_word()
            ),
            app.theme.attention(),
        ));
        lines.push(Line::raw(format!(" > {}_", app.typed)));
    } else if let Some(turn) = app.turn.as_ref().filter(|t| t.stage == Stage::Check) {
        // Only a count: what is typed back is part of the share and is never drawn.
        lines.push(Line::styled(
            format!(
                " {}: the last two groups of your share (hidden as you type)",
                turn.turn.custodian
            ),
            BOLD,
        ));
        lines.push(Line::raw(format!(
            " > {} ({} typed)",
            "*".repeat(turn.typed().min(60)),
            turn.typed()
        )));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

pub(super) fn pane(title: &str) -> Block<'_> {
    Block::new()
        .borders(Borders::TOP)
        .title(Span::styled(format!(" {title} "), BOLD))
}

pub(super) fn para<'a>(lines: Vec<Line<'a>>, title: &'a str) -> Paragraph<'a> {
    Paragraph::new(lines)
        .block(pane(title))
        .wrap(Wrap { trim: false })
}

pub(super) fn kv(key: &str, value: impl Into<String>) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{key:<14}"), BOLD),
        Span::raw(value.into()),
    ])
}

/// A hash as hex in groups of four, eight groups a line, then its PGP words.
pub(super) fn hash_lines(hex: &str, width: u16) -> Vec<Line<'static>> {
    let groups = hex_groups(hex);
    let parts: Vec<&str> = groups.split(' ').collect();
    let mut out: Vec<Line<'static>> = parts
        .chunks(8)
        .map(|c| Line::raw(format!("  {}", c.join(" "))))
        .collect();
    for row in word_rows(&words(hex), usize::from(width.saturating_sub(8)).max(20)) {
        out.push(Line::raw(format!("  {row}")));
    }
    out
}

fn group_line(name: &str, threshold: u8, custodians: &[String]) -> Line<'static> {
    kv(
        name,
        format!(
            "any {threshold} of {}: {}",
            custodians.len(),
            custodians.join(", ")
        ),
    )
}

fn draw_script(frame: &mut Frame, area: Rect, app: &ProvisionApp) {
    let s = &app.script;
    let mode = match &s.token {
        TokenPlan::Initialise { label, slot_id } => format!(
            "initialise a new token \"{label}\"{}",
            slot_id.map_or(String::new(), |id| format!(" in slot {id}"))
        ),
        TokenPlan::Adopt { selector } => format!("adopt the token with {selector}"),
    };
    let mut lines = vec![
        kv("Script", app.script_path.clone()),
        kv("Token", mode),
        kv("Module", s.module.display().to_string()),
        group_line("User PIN", s.user_pin.threshold, &s.user_pin.custodians),
    ];
    if let Some(so) = &s.so_pin {
        lines.push(group_line("SO PIN", so.threshold, &so.custodians));
    }
    if let Some(t) = &s.trusted_kek {
        // The SO makes this KEK trusted: the room compares its fingerprint like the ceremony's.
        lines.push(kv("Trusted KEK", t.file.display().to_string()));
        lines.push(kv("  SHA-256", t.fingerprint.hex_groups()));
    }
    lines.push(kv("Share files", app.out_dir.display().to_string()));
    script_tail(&mut lines, s.rehearsal, &app.script_sha256, area.width);
    frame.render_widget(para(lines, "Provisioning script"), area);
}

/// The end of a script screen (provisioning and re-split): the audit log, the rehearsal
/// warning, and the script's hash to compare with the signed paper copy.
pub(super) fn script_tail(
    lines: &mut Vec<Line<'static>>,
    rehearsal: bool,
    script_sha256: &str,
    width: u16,
) {
    lines.push(kv("Audit log", AUDIT_LOG_NAME));
    if rehearsal {
        lines.push(Line::styled(
            "REHEARSAL: for a practice token; never for a production token.",
            BOLD,
        ));
    }
    lines.push(Line::styled(
        "Script SHA-256 (compare with the signed copy):",
        BOLD,
    ));
    lines.extend(hash_lines(script_sha256, width));
}

fn draw_attendance(frame: &mut Frame, area: Rect, app: &ProvisionApp) {
    let mut lines = match &app.resplit {
        Some(old) => vec![
            Line::raw("Each person checks in by name. Every new custodian must be here: each"),
            Line::raw(format!(
                "receives their new share in person. {} old shares are needed to begin.",
                old.threshold
            )),
            Line::raw(""),
        ],
        None => vec![
            Line::raw("Each custodian checks in by name. Every one of them must be here:"),
            Line::raw("each receives their share in person, one at a time."),
            Line::raw(""),
        ],
    };
    for (i, name) in app.custodians.iter().enumerate() {
        let (m, style) = if i == app.cursor {
            ("> ", REVERSED)
        } else {
            ("  ", Style::new())
        };
        let (tick, tick_style) = if app.present.contains(name) {
            ("[x]", app.theme.ok())
        } else {
            ("[ ]", Style::new())
        };
        lines.push(Line::from(vec![
            Span::styled(m, style),
            Span::styled(tick, style.patch(tick_style)),
            Span::styled(format!(" {name:<16} {}", app.guards(name)), style),
        ]));
    }
    frame.render_widget(para(lines, "Attendance"), area);
}

fn draw_confirm(frame: &mut Frame, area: Rect, app: &ProvisionApp) {
    let Some(token) = &app.approve else { return };
    let mut lines = match token {
        TokenToChange::Initialise {
            slot,
            label,
            manufacturer,
            model,
        } => vec![
            Line::raw("This uninitialised token will be initialised (C_InitToken):"),
            kv("Slot", slot.to_string()),
            kv("New label", label.clone()),
            kv("Made by", format!("{manufacturer} {model}")),
        ],
        TokenToChange::Adopt {
            label,
            serial,
            manufacturer,
            model,
        } => vec![
            Line::raw("This token's PINs will be replaced:"),
            kv("Label", label.clone()),
            kv("Serial", serial.clone()),
            kv("Made by", format!("{manufacturer} {model}")),
        ],
    };
    lines.push(Line::raw(""));
    lines.push(Line::raw(
        "It gets random PINs that nobody sees, split among the custodians; the audit key is made inside it.",
    ));
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!("This cannot be undone: type {CONFIRM_WORD} to go on."),
        BOLD,
    ));
    frame.render_widget(para(lines, "Confirm the token"), area);
}

fn draw_working(frame: &mut Frame, area: Rect, app: &ProvisionApp) {
    let mut lines = Vec::new();
    let fresh = matches!(app.script.token, TokenPlan::Initialise { .. }) && app.resplit.is_none();
    let steps = ProvisionStep::steps(fresh);
    let now = app
        .step
        .and_then(|now| steps.iter().position(|s| *s == now));
    for (i, step) in steps.iter().copied().enumerate() {
        let tick = match now {
            Some(now) if i < now => "[x]",
            Some(now) if i == now => "[.]",
            _ => "[ ]",
        };
        let what = if app.resplit.is_some() {
            resplit_screens::describe(step)
        } else {
            step.describe()
        };
        lines.push(Line::raw(format!("{tick} {what}")));
    }
    lines.push(Line::raw(""));
    lines.push(Line::raw(
        "Every step goes into the provisioning audit log as it happens. Then each custodian is called to receive their share.",
    ));
    frame.render_widget(para(lines, "The HSM works"), area);
}

fn draw_summary(frame: &mut Frame, area: Rect, app: &ProvisionApp) {
    let Some(Ok(s)) = &app.finished else { return };
    let done = if app.resplit.is_some() {
        "has a new user-PIN split"
    } else {
        "is provisioned"
    };
    let mut lines = vec![Line::styled(
        format!(
            "Token \"{}\" (serial {}) {done}{}.",
            s.label,
            s.serial,
            if s.rehearsal { " (REHEARSAL)" } else { "" }
        ),
        BOLD,
    )];
    if let Some(old) = &app.resplit {
        lines.push(Line::raw(format!(
            "The shares of split {} no longer log in: destroy them.",
            old.old_split_id
        )));
    }
    for (group, id, m, n) in &s.splits {
        lines.push(kv(
            &format!("{group}"),
            format!("split {id}, any {m} of {n}"),
        ));
    }
    lines.push(kv("Audit key", "SHA-256 of its public key:"));
    let groups = hex_groups(&s.audit_key_sha256);
    let parts: Vec<&str> = groups.split(' ').collect();
    for chunk in parts.chunks(8) {
        lines.push(Line::raw(format!("  {}", chunk.join(" "))));
    }
    lines.push(kv("Record", s.record.display().to_string()));
    lines.push(kv(
        "Audit log",
        format!("{} ({} quorum events)", s.audit_log.display(), s.events),
    ));
    lines.push(Line::styled(
        "Share files (one per custodian, mode 0400):",
        BOLD,
    ));
    for (custodian, path) in &s.share_files {
        lines.push(Line::raw(format!("  {custodian:<10} {}", path.display())));
    }
    lines.push(Line::raw(
        "Move each file to its custodian's own medium and delete it here.",
    ));
    frame.render_widget(para(lines, "Summary"), area);
}

fn draw_stopped(frame: &mut Frame, area: Rect, app: &ProvisionApp) {
    let Some(Err(e)) = &app.finished else { return };
    let log = app.out_dir.join(AUDIT_LOG_NAME);
    let after = match &app.resplit {
        _ if app.approved => format!(
            "Every step that happened is in the audit log {}.",
            log.display()
        ),
        Some(old) if old.present > 0 || old.refused > 0 => format!(
            "This was before the confirmation: the token was not changed and the old shares still work. The shares presented are in the audit log {}.",
            log.display()
        ),
        Some(_) => "This was before the confirmation: the token was not changed.".to_owned(),
        None => {
            "This was before the confirmation: the token was not changed and nothing was written."
                .to_owned()
        }
    };
    let title = if app.resplit.is_some() {
        "The re-split stopped."
    } else {
        "Provisioning stopped."
    };
    let lines = vec![
        Line::styled(title, app.theme.bad()),
        Line::raw(e.clone()),
        Line::raw(""),
        Line::raw(after),
    ];
    frame.render_widget(para(lines, "Stopped"), area);
}

fn help_text(screen: Screen) -> &'static str {
    match screen {
        Screen::Script => {
            "Check the script with the printed, signed copy: compare the SHA-256 (or its words), the token and the custodians. Enter goes on to attendance; nothing touches the token before the typed confirmation."
        }
        Screen::Attendance => {
            "Each custodian checks in (Enter on their name). Every custodian must be present: each receives their share in person. c continues once everyone is in; the tool then finds the token."
        }
        Screen::Shares => "",
        Screen::Confirm => {
            "The token shown is the one that will be changed. Type PROVISION and press Enter to go on. Esc stops here: nothing was changed and nothing was written."
        }
        Screen::Working => {
            "The HSM initialises the token, makes the audit key and the new PINs, writes the share files, sets the PINs and logs in with PINs rebuilt from the files. Keys are ignored until it is done."
        }
        Screen::HandOut => {
            "One custodian at a time: only the custodian named may look; everyone else turns away. They show their share, copy it, then type its last two groups back from their copy. The share is hidden and the screen cleared before the next custodian is called. Their share file holds the same share."
        }
        Screen::Summary => {
            "The token is provisioned. Each custodian takes their share file on their own medium; the record and the audit log go to the auditor."
        }
        Screen::Stopped => {
            "The message says whether the token was changed and what to do. The audit log holds every step that happened."
        }
    }
}

fn draw_help(frame: &mut Frame, area: Rect, app: &ProvisionApp, screen: Screen) {
    let text = app
        .resplit
        .as_ref()
        .and_then(|_| resplit_screens::help(screen))
        .unwrap_or_else(|| help_text(screen));
    frame.render_widget(
        Paragraph::new(text)
            .block(pane("Help"))
            .wrap(Wrap { trim: true }),
        area,
    );
}
