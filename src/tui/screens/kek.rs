//! The KEK screens: choosing its medium and file, then its confirmation by the custodians.
use super::*;
use crate::cloud::Cloud;

pub(super) fn draw_kek_load(frame: &mut Frame, area: Rect, app: &App) -> bool {
    let Some(view) = &app.view else { return false };
    let s = &view.script;
    let mut lines = Vec::new();
    if let Some(problem) = &app.problem {
        lines.push(Line::styled(problem.to_string(), app.theme.bad()));
        lines.push(Line::raw(""));
    }
    let Some(target) = view.state.kek_target().and_then(|t| s.target_for(t.cloud)) else {
        return false;
    };
    if s.targets.len() > 1 {
        lines.push(kv(
            "Cloud",
            format!(
                "{} ({} of {}: each cloud's KEK is loaded and confirmed in turn)",
                target.cloud.title(),
                view.state.keks_confirmed.len() + 1,
                s.targets.len()
            ),
        ));
    }
    lines.extend([
        kv(
            "KEK file",
            format!("{} (named by the script)", target.kek_file),
        ),
        kv(
            match target.cloud {
                Cloud::Azure => "Expected kid",
                Cloud::Gcp => "Import job",
                Cloud::Aws => "AWS key",
            },
            match target.cloud {
                Cloud::Azure => target
                    .expected_kid
                    .as_ref()
                    .map_or("(from the key JSON)".into(), |k| k.url().to_owned()),
                _ => format!(
                    "{} ({})",
                    target.resource.clone().unwrap_or_default(),
                    target.algorithm.name
                ),
            },
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

pub(super) fn draw_kek_confirm(frame: &mut Frame, area: Rect, app: &App) -> bool {
    let Some(view) = &app.view else { return false };
    let s = &view.state;
    let fp = s.kek_fingerprint.clone().unwrap_or_default();
    let width = text_width(area, &app.pictures.kek_qr);
    let mut lines = Vec::new();
    let target = s.kek_target().map(|t| t.cloud);
    if view.script.targets.len() > 1 {
        if let Some(cloud) = target {
            lines.push(kv(
                "Cloud",
                format!(
                    "{} ({} of {})",
                    cloud.title(),
                    s.keks_confirmed.len() + 1,
                    view.script.targets.len()
                ),
            ));
        }
    }
    let id_label = match target {
        Some(Cloud::Gcp) => "Import job",
        Some(Cloud::Aws) => "AWS key",
        _ => "kid",
    };
    lines.extend([
        kv("File", view.facts.kek_file.clone().unwrap_or_default()),
        kv(id_label, view.facts.kid.clone().unwrap_or_default()),
        kv("Size", format!("RSA {} bits", view.facts.kek_bits)),
        Line::styled("Fingerprint (the online side reads it aloud):", BOLD),
    ]);
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
