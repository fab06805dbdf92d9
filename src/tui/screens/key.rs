//! The key's screens: the typed approval, generation and wrap, and export to the media.
use super::*;

pub(super) fn draw_approve(frame: &mut Frame, area: Rect, app: &App) -> bool {
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
        _ if s.targets.len() > 1 || s.azure().is_none() => {
            let mut lines = vec![
                Line::raw(
                    "The key is wrapped for each cloud's KEK. The files will now be written to:",
                ),
                kv("Medium", view.media.out.display().to_string()),
            ];
            for o in crate::tui::outputs::outputs(view) {
                lines.push(Line::raw(format!("{}: {}", o.cloud, o.file)));
                lines.push(kv("  SHA-256", hex_groups(&o.sha256)));
            }
            lines.push(kv("Manifest", format!("{}.manifest.json", s.output_name)));
            lines.extend([
                Line::raw(""),
                Line::styled(
                    format!(
                        "Files are never overwritten: type {} to go on.",
                        approve_word(effect)
                    ),
                    BOLD,
                ),
            ]);
            lines
        }
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

pub(super) fn step_line(done: bool, running: bool, text: &str) -> Line<'static> {
    let tick = if done {
        "[x]"
    } else if running {
        "[.]"
    } else {
        "[ ]"
    };
    Line::raw(format!("{tick} {text}"))
}

pub(super) fn draw_generation(frame: &mut Frame, area: Rect, app: &App) -> bool {
    let Some(view) = &app.view else { return false };
    let s = &view.state;
    let generated = s.key_id_hex.is_some();
    let mut lines = vec![step_line(
        generated,
        s.phase == Phase::KeyGeneration,
        "Generate the key in the HSM",
    )];
    let targets = &view.script.targets;
    if targets.len() > 1 {
        for t in targets {
            let wrapped = s.wrapped.contains_key(&t.cloud);
            let running =
                s.phase == Phase::Wrap && s.unwrapped_target().is_some_and(|n| n.cloud == t.cloud);
            lines.push(step_line(
                wrapped,
                running,
                &format!("Wrap it for {} ({})", t.cloud.title(), t.algorithm.name),
            ));
        }
    } else {
        lines.push(step_line(
            s.unwrapped_target().is_none() && !s.wrapped.is_empty(),
            s.phase == Phase::Wrap,
            "Wrap it for the KEK",
        ));
    }
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

pub(super) fn draw_export(frame: &mut Frame, area: Rect, app: &App) -> bool {
    let Some(view) = &app.view else { return false };
    let s = &view.state;
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
    // With several clouds the wrapped keys are listed below, each with its hash in turn: the
    // files are counted here, so that a hash and all its words fit an 80x24 terminal.
    if crate::tui::outputs::outputs(view).len() > 1 {
        if !s.exported.is_empty() {
            lines.push(Line::raw(format!(
                "    {} files (the manifest lists them)",
                s.exported.len()
            )));
        }
    } else {
        for f in &s.exported {
            lines.push(Line::raw(format!("    {}", f.name)));
        }
    }
    let (hash, caption) = output_lines(
        app,
        view,
        width,
        "read it to the online side",
        "Read each hash to its cloud",
    );
    lines.extend(hash);
    if view.facts.rehearsal_grade {
        lines.push(rehearsal_grade_line(app));
    }
    with_qr(
        frame,
        area,
        "Export to media",
        lines,
        &app.pictures.byok_qr,
        &caption,
    )
}
