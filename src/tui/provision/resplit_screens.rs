//! Drawing what a re-split shows differently from provisioning: the script screen (the old
//! record and both quorums), the old quorum's share entry, the confirmation, the steps of the
//! HSM work, and the help. The hand-out and the rest are the provisioning screens.
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::app::{ProvisionApp, Screen};
use super::old_quorum::{OldQuorum, RESPLIT_WORD};
use super::people::ShareCheck;
use super::screens::{BOLD, REVERSED, kv, para};
use crate::quorum::provision::{ProvisionStep, TokenToChange};
use crate::quorum::script::TokenPlan;

/// What each step of the HSM work does in a re-split.
pub(super) fn describe(step: ProvisionStep) -> &'static str {
    match step {
        ProvisionStep::PrepareToken => "Rebuild the old user PIN from the old shares and log in",
        ProvisionStep::AuditKey => "Check the token's audit key against the record",
        ProvisionStep::Split => "Make the new user PIN, split it, check every M of N",
        ProvisionStep::WriteFiles => "Write each new custodian's share file and the record",
        ProvisionStep::SetPins => "Set the new user PIN (the old shares stop working)",
        ProvisionStep::Verify => "Log in with the PIN rebuilt from the new share files",
        // A re-split never initialises a token.
        other => other.describe(),
    }
}

pub(super) fn keys(app: &ProvisionApp, old: &OldQuorum) -> String {
    if let Some(entry) = &old.entry {
        return format!(
            "type {}'s old share (hidden)  Backspace: delete  Enter: submit  Esc: cancel",
            entry.custodian
        );
    }
    if old.wanted.is_none() {
        return "checking the share, wait".into();
    }
    let who = old
        .choices(&app.present)
        .get(old.cursor)
        .cloned()
        .unwrap_or_else(|| "a custodian".into());
    format!(
        "Up/Down: choose  Enter: {who} types their old share  q: stop, nothing is changed  ?: help"
    )
}

pub(super) fn draw_script(frame: &mut Frame, area: Rect, app: &ProvisionApp, old: &OldQuorum) {
    let s = &app.script;
    let token = match &s.token {
        TokenPlan::Adopt { selector } => format!("the token with {selector}"),
        TokenPlan::Initialise { label, .. } => format!("\"{label}\" (the script must adopt it)"),
    };
    let mut lines = vec![
        kv("Script", app.script_path.clone()),
        kv("Re-split", token),
        kv("Module", s.module.display().to_string()),
        kv("Old record", old.record_path.display().to_string()),
        kv(
            "Old quorum",
            format!(
                "split {}, any {} of {}: {}",
                old.old_split_id,
                old.threshold,
                old.shares,
                old.holders.join(", ")
            ),
        ),
        kv(
            "New user PIN",
            format!(
                "any {} of {}: {}",
                s.user_pin.threshold,
                s.user_pin.custodians.len(),
                s.user_pin.custodians.join(", ")
            ),
        ),
    ];
    if !old.files.is_empty() {
        lines.push(kv(
            "Share files",
            format!("{} old share(s) given with --share", old.files.len()),
        ));
    }
    lines.push(kv("New files", app.out_dir.display().to_string()));
    super::screens::script_tail(&mut lines, s.rehearsal, &app.script_sha256, area.width);
    frame.render_widget(para(lines, "Re-split script"), area);
}

pub(super) fn draw_shares(frame: &mut Frame, area: Rect, app: &ProvisionApp, old: &OldQuorum) {
    let mut lines = vec![
        Line::raw(format!(
            "Old shares accepted: {} of {} needed. Each holder types their own old share;",
            old.present, old.threshold
        )),
        Line::raw("it is checked at once and never shown. Nothing changes on the token yet."),
        Line::raw(""),
    ];
    if !old.accepted.is_empty() {
        lines.push(Line::raw(format!(
            "Accepted from: {}",
            old.accepted.join(", ")
        )));
    }
    match &old.last {
        Some(ShareCheck::Accepted {
            by,
            custodian,
            index,
            ..
        }) => {
            let from_file = old.files.iter().any(|f| f.display().to_string() == *by);
            let whose = if from_file {
                format!(" (from {by})")
            } else if by == custodian {
                String::new()
            } else {
                format!(" (typed by {by}: each holder types their own)")
            };
            lines.push(Line::styled(
                format!("Accepted: share number {index} of {custodian}{whose}."),
                app.theme.ok(),
            ));
        }
        Some(ShareCheck::Refused { reason, .. }) => {
            lines.push(Line::styled(format!("REFUSED: {reason}"), app.theme.bad()));
            lines.push(Line::raw(
                "The refusal is in the audit log. Choose the custodian and type it again.",
            ));
        }
        None => {}
    }
    lines.push(Line::raw(""));
    let choices = old.choices(&app.present);
    for (i, name) in choices.iter().enumerate() {
        let (m, style) = if i == old.cursor && old.entry.is_none() {
            ("> ", REVERSED)
        } else {
            ("  ", Style::new())
        };
        lines.push(Line::from(vec![
            Span::styled(m, style),
            Span::styled(name.clone(), style),
        ]));
    }
    frame.render_widget(para(lines, "The old quorum: old shares"), area);
}

/// The status lines while an old share is typed: only a count and the checksum's verdict.
pub(super) fn entry_lines(app: &ProvisionApp, old: &OldQuorum) -> Vec<Line<'static>> {
    let Some(entry) = &old.entry else {
        return Vec::new();
    };
    let (check, check_style) = if entry.well_formed() {
        ("complete, checksum valid", app.theme.ok())
    } else {
        ("incomplete", app.theme.attention())
    };
    vec![
        Line::from(vec![
            Span::styled(format!(" {}'s old share (hidden): ", entry.custodian), BOLD),
            Span::styled(check, check_style),
        ]),
        Line::raw(format!(
            " > {} ({} typed)",
            "*".repeat(entry.count().min(60)),
            entry.count()
        )),
    ]
}

pub(super) fn draw_confirm(frame: &mut Frame, area: Rect, app: &ProvisionApp, old: &OldQuorum) {
    let Some(TokenToChange::Adopt {
        label,
        serial,
        manufacturer,
        model,
    }) = &app.approve
    else {
        return;
    };
    let s = &app.script;
    let lines = vec![
        Line::raw("The old quorum is complete. This token's user PIN will be replaced:"),
        kv("Label", label.clone()),
        kv("Serial", serial.clone()),
        kv("Made by", format!("{manufacturer} {model}")),
        Line::raw(""),
        Line::raw(format!(
            "It gets a new random user PIN that nobody sees, split any {} of {} among {}. The shares of split {} stop working; the SO PIN and the audit key stay as recorded.",
            s.user_pin.threshold,
            s.user_pin.custodians.len(),
            s.user_pin.custodians.join(", "),
            old.old_split_id
        )),
        Line::raw(""),
        Line::styled(
            format!("This cannot be undone: type {RESPLIT_WORD} to go on."),
            BOLD,
        ),
    ];
    frame.render_widget(para(lines, "Confirm the re-split"), area);
}

/// Help where a re-split differs; None where the provisioning help holds.
pub(super) fn help(screen: Screen) -> Option<&'static str> {
    Some(match screen {
        Screen::Script => {
            "Check the script with the printed, signed copy: compare the SHA-256 (or its words), the token, the old record and both quorums. Enter goes on to attendance; nothing touches the token before the typed confirmation."
        }
        Screen::Attendance => {
            "Each person checks in (Enter on their name). Every new custodian must be present: each receives their new share in person. Enough holders of an old share must be here to make up the old quorum (with any share files given). c continues once they are in."
        }
        Screen::Shares => {
            "Choose a holder of an old share and press Enter; they type their old share out of sight of the others. Only a count of characters is shown. Spaces and dashes do not matter. A wrong share is refused, shown and logged; type it again. q stops: the token is not changed."
        }
        Screen::Confirm => {
            "The token shown is the one whose user PIN will be replaced. Type RESPLIT and press Enter to go on. Esc stops here: the token was not changed and the old shares still work."
        }
        Screen::Working => {
            "The HSM logs in with the old quorum's PIN, checks the audit key, makes and splits the new user PIN, writes the new share files, sets the new PIN and logs in with it rebuilt from the files. Keys are ignored until it is done."
        }
        _ => return None,
    })
}
