//! The error screen and the help for each screen.
use super::*;

pub(super) fn draw_error(frame: &mut Frame, area: Rect, app: &App) -> bool {
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

pub(super) fn help_text(screen: Screen) -> &'static str {
    match screen {
        Screen::Script => {
            "Check the script with the printed, signed copy: compare the SHA-256 (or its words). Enter opens the ceremony: the HSM is opened, the audit log is started and the preflight checks run."
        }
        Screen::Preflight => {
            "The tool checks the station (air gap, swap, core dumps, memory locking, its own hash, read-only medium, clock: confirm the UTC time) and the room (the script, the output medium, the HSM's audit key, the provisioning record). A failed room check stops here: fix it and press r. A failed station check is a warning in a rehearsal; in a production ceremony attendance closes only after the administrator records a deviation for it (d) and the witness acknowledges it (w), or abort, fix the station and start again."
        }
        Screen::Attendance => {
            "Each person named in the script checks in. The administrator closes attendance (c) once the administrator, the witness and enough custodians are present, and any failed station check is fixed (then r runs the checks again) or covered by a deviation (d) the witness has acknowledged (w)."
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

pub(super) fn draw_help(frame: &mut Frame, area: Rect, screen: Screen) {
    frame.render_widget(
        Paragraph::new(help_text(screen))
            .block(pane("Help"))
            .wrap(Wrap { trim: true }),
        area,
    );
}
