//! The closing screens: sign-off, the summary, and an earlier run found on restart.
use super::*;

pub(super) fn draw_sign_off(frame: &mut Frame, area: Rect, app: &App) -> bool {
    let Some(view) = &app.view else { return false };
    let s = &view.state;
    let width = text_width(area, &app.pictures.byok_qr);
    // The log grows with every signature: the head to note on paper is the final one, shown
    // once the ceremony is closed. What people sign off here is the file that leaves the room.
    let mut lines = Vec::new();
    let caption = if view.script.targets.len() == 1 && view.script.azure().is_some() {
        lines.push(Line::styled(
            "Each person present signs off the ceremony that made this .byok (SHA-256):",
            BOLD,
        ));
        lines.extend(hash_lines(
            s.byok_sha256.as_deref().unwrap_or_default(),
            width,
        ));
        ".byok SHA-256".to_owned()
    } else {
        // Each hash was read aloud, words and all, at the export: here they are listed in hex,
        // so that every person present fits on an 80x24 screen; the QR code is the one Tab
        // chose.
        lines.push(Line::styled(
            "Each person present signs off the ceremony that made these wrapped keys (SHA-256; * marks the QR code's, Tab: the next):",
            BOLD,
        ));
        let shown = super::super::outputs::shown(view, app.output_shown);
        for o in super::super::outputs::outputs(view) {
            let current = shown.as_ref().is_some_and(|(s, ..)| s.file == o.file);
            lines.push(Line::raw(format!(
                "{} {}: {}",
                if current { "*" } else { " " },
                o.cloud,
                o.file
            )));
            lines.extend(hex_lines(&o.sha256, "    "));
        }
        shown.map_or_else(String::new, |(_, k, n)| format!("SHA-256 of {k} of {n}"))
    };
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
        &caption,
    )
}

pub(super) fn draw_summary(frame: &mut Frame, area: Rect, app: &App) -> bool {
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
pub(super) fn draw_resume(frame: &mut Frame, area: Rect, app: &App) -> bool {
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
    } else if let Some(undone) = i.end_left_undone {
        lines.push(Line::styled(
            format!(
                "The ceremony \"{}\" is {}, but its end is not complete: {undone}.",
                i.ceremony_id,
                i.phase.title().to_lowercase()
            ),
            BOLD,
        ));
        lines.push(kv("Last entry", last));
        lines.push(kv("Present", present));
        lines.push(kv("Entries", i.entries.to_string()));
        lines.push(Line::raw(""));
        lines.push(Line::raw(
            "r  resume: the quorum logs in once more, only to finish the end; nothing else can happen in this ceremony",
        ));
        lines.push(Line::raw("The choice is typed (RESUME) and logged."));
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

pub(super) fn meaning(view: Option<&View>) -> &'static str {
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
