//! The opening screens: the script, the preflight checks, attendance and the quorum's shares.
use super::*;

pub(super) fn draw_script(frame: &mut Frame, area: Rect, app: &App) -> bool {
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

pub(super) fn draw_preflight(frame: &mut Frame, area: Rect, app: &App) -> bool {
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

pub(super) fn marker(app: &App, i: usize) -> (&'static str, Style) {
    if i == app.cursor {
        ("> ", REVERSED)
    } else {
        ("  ", Style::new())
    }
}

pub(super) fn draw_attendance(frame: &mut Frame, area: Rect, app: &App) -> bool {
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

pub(super) fn draw_shares(frame: &mut Frame, area: Rect, app: &App) -> bool {
    let Some(view) = &app.view else { return false };
    let s = &view.state;
    let mut lines = Vec::new();
    if let Some(undone) = s.end_left_undone() {
        // The same screen finishes an end a crash left incomplete: say why the quorum is back.
        lines.push(Line::styled(
            format!(
                "The ceremony is {}, but {undone}: the quorum logs in once more, only for that.",
                s.phase.title().to_lowercase()
            ),
            BOLD,
        ));
    }
    lines.extend([
        Line::raw(format!(
            "Shares accepted: {} of {} needed. Each custodian types their own share;",
            s.shares_from.len(),
            view.threshold()
        )),
        Line::raw("it is checked at once and never shown."),
        Line::raw(""),
    ]);
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
