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
        kv(
            if s.targets.len() == 1 {
                "KEK file"
            } else {
                "KEK files"
            },
            match s.targets.as_slice() {
                [one] => one.kek_file.clone(),
                all => all
                    .iter()
                    .map(|t| format!("{} ({})", t.kek_file, t.cloud.title()))
                    .collect::<Vec<_>>()
                    .join(", "),
            },
        ),
        kv(
            "Outputs",
            format!(
                "{} + manifest + audit log",
                s.targets
                    .iter()
                    .map(|t| t.output_file(&s.output_name))
                    .collect::<Vec<_>>()
                    .join(" + ")
            ),
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
    let rehearsal = view.state.rehearsal;
    let mark = |text: &'static str, style: Style| Span::styled(text, style);
    let mut lines: Vec<Line> = Vec::new();
    // The station's checks that passed plainly share one line, so that a failure's detail
    // still fits an 80x24 console; their details are in the log. The clock is shown whole:
    // the custodians confirm it.
    let quiet: Vec<&str> = view
        .checks
        .iter()
        .filter(|c| c.station && c.passed && !c.is_warning() && c.name != CLOCK)
        .map(|c| c.name.as_str())
        .collect();
    for c in &view.checks {
        if c.station && c.passed && !c.is_warning() && c.name != CLOCK {
            if quiet.first() == Some(&c.name.as_str()) {
                lines.push(Line::from(vec![
                    mark("[ OK ] ", app.theme.ok()),
                    Span::styled(quiet.join(", "), BOLD),
                ]));
            }
            continue;
        }
        let warn = c.is_warning() || (c.station && rehearsal && !c.passed);
        let (text, style) = match (c.passed, warn) {
            (true, false) => ("[ OK ] ", app.theme.ok()),
            (_, true) => ("[WARN] ", app.theme.attention()),
            (false, false) => ("[FAIL] ", app.theme.bad()),
        };
        lines.push(Line::from(vec![
            mark(text, style),
            Span::styled(format!("{}: ", c.name), BOLD),
            Span::raw(c.detail.clone()),
        ]));
    }
    let station_failed: Vec<&str> = view
        .checks
        .iter()
        .filter(|c| c.station && !c.passed)
        .map(|c| c.name.as_str())
        .collect();
    let all_passed = view.checks.iter().all(|c| c.passed);
    if view.checks.is_empty() {
        lines.push(Line::raw("Running the checks..."));
    } else if all_passed {
        lines.push(Line::raw(""));
        lines.push(Line::raw("All checks passed. Next: attendance."));
    } else if view.state.phase >= Phase::Attendance && rehearsal {
        lines.push(Line::raw(""));
        lines.push(Line::raw(format!(
            "A rehearsal: the failed station checks ({}) are warnings. Next: attendance.",
            station_failed.join(", ")
        )));
    } else if view.state.phase >= Phase::Attendance {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            format!(
                "The station failed: {}. Attendance closes only once the station is fixed and the checks run again there (r) pass, or, once both have checked in, the administrator records a deviation for it (d) and the witness acknowledges it (w).",
                station_failed.join(", ")
            ),
            app.theme.attention(),
        ));
    }
    render(frame, para(lines, "Preflight checks"), area)
}

/// The station check the custodians confirm by eye (`crate::preflight::clock::NAME`; the
/// screens do not reach the preflight module).
const CLOCK: &str = "clock";

/// At attendance, a production ceremony's failed station checks: what they are and how the
/// room goes on despite them.
fn station_lines(app: &App, view: &View) -> Vec<Line<'static>> {
    let s = &view.state;
    if s.station_failures.is_empty() {
        return Vec::new();
    }
    let names: Vec<&str> = s.station_failures.iter().map(|c| c.name.as_str()).collect();
    let open = s.open_station_failures();
    let pending = s
        .deviations
        .iter()
        .position(|d| !d.waives.is_empty() && d.acknowledged_by.is_none());
    let text = match pending {
        _ if open.is_empty() => format!(
            "Failed station checks ({}): waived by a deviation the witness acknowledged.",
            names.join(", ")
        ),
        Some(i) => format!(
            "Failed station checks ({}): deviation {} is recorded; the witness acknowledges it (w).",
            open.join(", "),
            i + 1
        ),
        None => format!(
            "The station failed its checks ({}). Fixed it? Run them again (r). Otherwise attendance closes only after the administrator, checked in, records a deviation for them (d) and the witness acknowledges it (w); or abort (a).",
            open.join(", ")
        ),
    };
    vec![Line::styled(text, app.theme.attention()), Line::raw("")]
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
    let mut lines = station_lines(app, view);
    lines.extend([
        Line::raw("Each person named in the script checks in by name."),
        Line::raw(format!(
            "Needed: the administrator, the witness and at least {} custodians.",
            view.threshold()
        )),
        Line::raw(""),
    ]);
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
