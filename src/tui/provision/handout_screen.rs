//! Drawing the hand-out: the call ("only CUSTODIAN may look now"), the share itself (text in
//! groups and QR code), and the type-back. The share's text is drawn from the turn's zeroizing
//! strings by reference (slices, never copies), and only while it is shown.
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::app::ProvisionApp;
use super::handout::{HandOutTurn, Shown, Stage};
use super::screens::{BOLD, REVERSED, kv, para};
use crate::quorum::share::GROUP_LEN;

/// Groups of the share per line: "byok1 xxxxx xxxxx xxxxx xxxxx" fits beside the QR code.
const GROUPS_PER_LINE: usize = 5;

pub(super) fn keys(app: &ProvisionApp) -> String {
    let Some(turn) = &app.turn else {
        return String::new();
    };
    let who = &turn.turn.custodian;
    match turn.stage {
        Stage::Called => format!("Enter: show {who}'s share  ?: help"),
        Stage::Shown => "Enter: I have copied it (hide it)  Esc: hide".into(),
        Stage::Check => "type the last two groups  Enter: check  Esc: show it again".into(),
    }
}

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &ProvisionApp) {
    let Some(turn) = &app.turn else { return };
    match (turn.stage, turn.shown()) {
        (Stage::Shown, Some(shown)) => draw_shown(frame, area, turn, shown),
        (Stage::Check, _) => draw_check(frame, area, turn),
        _ => draw_called(frame, area, app, turn),
    }
}

fn which(turn: &HandOutTurn) -> String {
    let Some(share) = turn.share() else {
        return String::new();
    };
    let of = turn.turn.shares.len();
    let part = if of > 1 {
        format!(" (share {} of {of} for you)", turn.part + 1)
    } else {
        String::new()
    };
    format!("{} share{part}", share.group)
}

fn draw_called(frame: &mut Frame, area: Rect, app: &ProvisionApp, turn: &HandOutTurn) {
    let who = &turn.turn.custodian;
    let mut lines = vec![
        Line::styled(
            format!(
                "Custodian {} of {}: {}",
                turn.turn.number,
                turn.turn.of,
                who.to_uppercase()
            ),
            BOLD,
        ),
        Line::raw(""),
        Line::styled(
            format!("Only {who} may look at the screen now; everyone else turns away."),
            REVERSED,
        ),
        Line::raw(""),
        Line::raw(format!(
            "{who}: press Enter to show your {}. Copy it exactly (on paper for your sealed envelope); you will then type its last two groups back from your copy.",
            which(turn)
        )),
        Line::raw(""),
        kv("Your file", turn.turn.file.display().to_string()),
        Line::raw("  (the same share; it goes onto your own medium)"),
    ];
    if !app.handed_out.is_empty() {
        lines.push(Line::raw(""));
        lines.push(Line::raw(format!(
            "Already have their share: {}",
            app.handed_out.join(", ")
        )));
    }
    frame.render_widget(para(lines, "Hand out the shares"), area);
}

/// The share's text in lines of groups, as slices of the zeroizing grouped string.
fn share_rows(grouped: &str) -> Vec<Line<'_>> {
    // Each group is GROUP_LEN characters and a space (all ASCII): a line is a byte range.
    let per_line = GROUPS_PER_LINE * (GROUP_LEN + 1);
    let mut rows = Vec::new();
    let mut start = 0;
    while start < grouped.len() {
        let end = (start + per_line - 1).min(grouped.len());
        if let Some(row) = grouped.get(start..end) {
            rows.push(Line::from(vec![
                ratatui::text::Span::raw("  "),
                ratatui::text::Span::styled(row, BOLD),
            ]));
        }
        start += per_line;
    }
    rows
}

fn draw_shown(frame: &mut Frame, area: Rect, turn: &HandOutTurn, shown: &Shown) {
    let Some(share) = turn.share() else { return };
    let who = &turn.turn.custodian;
    let mut lines = vec![
        Line::styled(format!("{who}: your {}", which(turn)), BOLD),
        Line::raw(format!(
            "number {} of {}; any {} rebuild the PIN",
            share.index, share.shares, share.threshold
        )),
        Line::raw(format!("split id {}", share.split_id)),
        Line::raw(""),
    ];
    lines.extend(share_rows(&shown.grouped));
    lines.push(Line::raw(""));
    lines.push(Line::raw(
        "Copy it exactly. Case, spaces and dashes do not matter.",
    ));
    let qr: Vec<&str> = shown.qr.lines().collect();
    let qr_w = qr.first().map_or(0, |l| l.chars().count()) as u16 + 4;
    let qr_h = qr.len() as u16 + 2;
    let beside = !qr.is_empty() && area.width >= qr_w + 40 && area.height >= qr_h;
    if !beside {
        lines.push(Line::raw(
            "(The QR code needs a larger terminal; your share file has it.)",
        ));
    }
    lines.push(Line::raw(
        "Then press Enter: the share is hidden and you type its last two groups.",
    ));
    if !beside {
        frame.render_widget(para(lines, "Your share: only you may look"), area);
        return;
    }
    let [left, right] =
        Layout::horizontal([Constraint::Min(40), Constraint::Length(qr_w)]).areas(area);
    frame.render_widget(para(lines, "Your share: only you may look"), left);
    // Blank cells around the code stand in for the quiet zone the scanner needs.
    let mut q: Vec<Line> = vec![Line::raw("")];
    q.extend(qr.into_iter().map(|l| {
        Line::from(vec![
            ratatui::text::Span::raw("  "),
            ratatui::text::Span::raw(l),
        ])
    }));
    frame.render_widget(Paragraph::new(q), right);
}

fn draw_check(frame: &mut Frame, area: Rect, turn: &HandOutTurn) {
    let who = &turn.turn.custodian;
    let mut lines = vec![
        Line::styled(format!("{who}: the share is hidden."), BOLD),
        Line::raw(""),
        Line::raw(format!(
            "Type the last two groups of your {} from your copy (the end of the last line), then press Enter. This proves the copy is complete.",
            which(turn)
        )),
    ];
    if turn.misses > 0 {
        lines.push(Line::raw(""));
        lines.push(Line::raw(format!(
            "Not matched {} time(s). Esc shows the share again: compare it with your copy.",
            turn.misses
        )));
    }
    frame.render_widget(para(lines, "Check your copy"), area);
}
