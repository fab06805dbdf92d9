//! The report as one self-contained HTML page: inline CSS and SVG, no scripts, no external
//! resources, with print rules that fit A4 and US Letter alike (margins set, paper size left to
//! the printer).
use std::fmt::Write;

use super::data::Facts;
use super::text::{clock, duration, hex_groups, html, qr_svg, time, words};
use super::{Hashed, Report, timeline};
use crate::audit::verify::role_name;

const CSS: &str = r#"
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 10pt;
  color: #000; background: #fff; max-width: 190mm; margin: 0 auto; padding: 8mm; line-height: 1.35; }
h1 { font-size: 17pt; margin: 0 0 2mm; }
h2 { font-size: 12.5pt; border-bottom: 1.5px solid #000; margin: 7mm 0 2.5mm; padding-bottom: 1mm; }
h3 { font-size: 10.5pt; margin: 3mm 0 1mm; }
p { margin: 1.5mm 0; }
table { border-collapse: collapse; width: 100%; margin: 1.5mm 0; }
th, td { border: 0.6pt solid #777; padding: 1.2mm 2mm; text-align: left; vertical-align: top; }
th { background: #ececec; font-weight: bold; }
table.kv th { width: 34%; }
.mono, .hash { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 9pt; }
.hash { word-break: break-all; }
.words { font-style: italic; }
.status { border: 2pt solid #1b5e20; padding: 2.5mm 3.5mm; margin: 3mm 0; }
.status strong { color: #1b5e20; }
.rehearsal { border: 2pt dashed #000; padding: 2mm 3.5mm; margin: 3mm 0; font-weight: bold; }
.artifact { display: grid; grid-template-columns: 1fr 31mm; gap: 3mm; border: 0.6pt solid #777;
  padding: 2.5mm 3mm; margin: 2mm 0; }
.artifact svg { width: 31mm; height: 31mm; }
.artifact .label { font-weight: bold; margin-bottom: 1mm; }
.bad { color: #b00020; font-weight: bold; }
pre { font-size: 7.5pt; white-space: pre-wrap; word-break: break-all; margin: 1mm 0; }
.signatures { display: grid; grid-template-columns: 1fr 1fr; gap: 4mm; }
.sigblock { border: 0.8pt solid #000; padding: 2.5mm 3mm; }
.sigline { border-bottom: 0.8pt solid #000; height: 11mm; margin-bottom: 1mm; }
.small { font-size: 8.5pt; color: #333; }
figure { margin: 2mm 0; }
figcaption { font-size: 8.5pt; color: #333; }
@page { margin: 14mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 9.5pt; }
  h2 { break-after: avoid; }
  tr, .artifact, .sigblock, figure, .status, pre { break-inside: avoid; }
  .signatures-section { break-before: page; }
}
"#;

/// The whole page.
pub fn render(r: &Report) -> String {
    let f = &r.facts;
    let id = html(&f.opened.config.ceremony_id);
    let mut s = String::with_capacity(64 << 10);
    let _ = writeln!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>Key ceremony report: {id}</title><style>{CSS}</style></head><body>"
    );
    let _ = writeln!(s, "<h1>Key ceremony report: {id}</h1>");
    if f.opened.rehearsal {
        s.push_str("<div class=\"rehearsal\">REHEARSAL: this ceremony ran on a throwaway software token with demo people. It is not a production key ceremony.</div>\n");
    }
    status(&mut s, r);
    summary(&mut s, f);
    people(&mut s, f);
    chart(&mut s, f);
    hashes(&mut s, r);
    hsm(&mut s, f);
    exceptions(&mut s, f);
    signatures(&mut s, r);
    let _ = writeln!(
        s,
        "<p class=\"small\">Made by byok-ceremony {} from {} ({} entries). Check it again with: <span class=\"mono\">byok-ceremony audit verify {} --record PROVISIONING-RECORD --media MEDIA-DIR</span></p>\n</body></html>",
        html(env!("CARGO_PKG_VERSION")),
        html(&r.checked.log_name),
        f.entries,
        html(&r.checked.log_name)
    );
    s
}

fn status(s: &mut String, r: &Report) {
    let c = &r.checked;
    let media = match &c.media {
        Some(dir) => format!(
            "{} exported file(s) on <span class=\"mono\">{}</span> match the hashes in the log",
            c.artifacts,
            html(dir)
        ),
        None => "<span class=\"bad\">not checked</span> (no media directory was given)".into(),
    };
    let script = if c.script {
        "matches the hash pinned at the start of the log"
    } else {
        "<span class=\"bad\">not checked</span> (no script was given)"
    };
    let unsigned = match c.unsigned_from {
        Some(at) => format!(
            "<br><span class=\"bad\">Entries from seq {} on carry no signature</span> (an abort without a quorum login has nothing to sign with).",
            at.seq
        ),
        None => String::new(),
    };
    let _ = writeln!(
        s,
        "<div class=\"status\"><strong>The audit log verifies.</strong> Hash chain intact over {} entries; {} signed checkpoint(s) checked with the audit key; every entry replayed through the ceremony machine, so every rule it enforces held. Artifacts: {media}. Script: {script}.{unsigned}</div>",
        c.entries, c.checkpoints
    );
}

fn row(s: &mut String, key: &str, value: &str) {
    let _ = write!(s, "<tr><th>{}</th><td>{value}</td></tr>", html(key));
}

fn summary(s: &mut String, f: &Facts) {
    let o = &f.opened;
    s.push_str("<h2>Summary</h2><table class=\"kv\">");
    row(s, "Ceremony", &html(&o.config.ceremony_id));
    let outcome = match f.state.phase {
        crate::ceremony::machine::Phase::Closed => "Closed: every step completed and signed off",
        crate::ceremony::machine::Phase::Aborted => "Aborted",
        _ => "Did not finish",
    };
    row(s, "Outcome", outcome);
    row(s, "Started", &html(&time(&f.first.0)));
    row(s, "Ended", &html(&time(&f.last.0)));
    row(
        s,
        "Duration",
        &duration(f.last.1.unix_ms - f.first.1.unix_ms),
    );
    if let Some(k) = &f.key {
        let size = match (&k.key_size, &k.crv) {
            (Some(bits), _) => format!(" {bits} bits"),
            (None, Some(crv)) => format!(" {crv}"),
            _ => String::new(),
        };
        row(
            s,
            "Key",
            &html(&format!(
                "{}{size}, label \"{}\"",
                k.kty, k.attributes.label
            )),
        );
    }
    if let Some(k) = &f.kek {
        row(
            s,
            "KEK (Key Vault kid)",
            &format!("<span class=\"hash\">{}</span>", html(&k.kid)),
        );
        row(s, "KEK size", &format!("{} bits", k.bits));
    }
    for c in &f.clouds {
        row(
            s,
            &format!("Cloud: {}", c.cloud.title()),
            &html(&c.describe()),
        );
    }
    if let Some(w) = &f.wrap {
        let method = format!(
            "{}, {} known-answer vectors",
            w.method.describe(),
            w.method.path_kat().vectors
        );
        let grade = if w.rehearsal_grade {
            " (REHEARSAL-GRADE: the token zero-pads the key before wrapping; the file carries trailing zero bytes after the key)"
        } else {
            ""
        };
        row(s, "Wrap", &html(&format!("{method}{grade}")));
    }
    let destroyed = match &f.key_destroyed {
        Some(t) => format!("destroyed in the HSM at {}", time(t)),
        None if o.config.destroy_after_export => {
            "to be destroyed after export (not recorded)".into()
        }
        None => "kept in the HSM".into(),
    };
    row(s, "Key after the ceremony", &html(&destroyed));
    let quorum = match o.config.quorum {
        crate::ceremony::machine::QuorumMode::SplitPin { threshold } => format!(
            "{threshold} of {} custodians (user PIN split into shares)",
            o.config.custodians.len()
        ),
        crate::ceremony::machine::QuorumMode::HsmNative { threshold, total } => {
            format!("{threshold} of {total} (the HSM's own quorum)")
        }
    };
    row(s, "Quorum", &html(&quorum));
    row(
        s,
        "Purpose",
        &html(
            o.purpose
                .as_deref()
                .unwrap_or("not recorded in the log (a log of an earlier version)"),
        ),
    );
    row(
        s,
        "Tool",
        &html(&format!("byok-ceremony {}", o.tool_version)),
    );
    row(s, "Workstation", &html(&format!("{} ({})", o.host, o.os)));
    row(s, "Log entries", &f.entries.to_string());
    s.push_str("</table>\n");
}

fn people(s: &mut String, f: &Facts) {
    s.push_str("<h2>Participants and roles</h2><p class=\"small\">Times of day in UTC, on the ceremony's date.</p><table><tr><th>Name</th><th>Role</th><th>Checked in</th><th>Quorum</th><th>KEK confirmed</th><th>Signed off</th></tr>");
    for p in &f.people {
        let share = match (p.share_index, p.authenticated_at_hsm) {
            (Some(i), _) => format!("share {i}"),
            (None, true) => "authenticated at the HSM".into(),
            _ => String::new(),
        };
        let t = |v: &Option<String>| {
            v.as_deref()
                .map(clock)
                .map(|t| html(&t))
                .unwrap_or_else(|| "-".into())
        };
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html(&p.name),
            role_name(p.role),
            t(&p.checked_in),
            html(&share),
            t(&p.kek_confirmed),
            t(&p.signed_off)
        );
    }
    s.push_str("</table>\n");
}

fn chart(s: &mut String, f: &Facts) {
    s.push_str("<h2>Timeline</h2><figure>");
    s.push_str(&timeline::svg(f));
    let more = if f.spans_left_out > 0 {
        format!(" {} further phase changes are not drawn.", f.spans_left_out)
    } else {
        String::new()
    };
    let _ = writeln!(
        s,
        "<figcaption>Time in each step, from {} (entries' UTC times). Diamonds: signed checkpoints. Dots: exceptions.{more}</figcaption></figure>",
        html(&time(&f.first.0))
    );
}

fn hashes(s: &mut String, r: &Report) {
    s.push_str("<h2>Artifact hashes</h2><p class=\"small\">SHA-256, as hex (compare with <span class=\"mono\">sha256sum</span>), as PGP words (to read aloud) and as a QR code of the hex.</p>");
    for h in &r.hashes {
        artifact(s, h);
    }
}

fn artifact(s: &mut String, h: &Hashed) {
    let words = words(&h.hex).unwrap_or_default();
    let qr = qr_svg(&h.hex, 124).unwrap_or_default();
    let _ = writeln!(
        s,
        "<div class=\"artifact\"><div><div class=\"label\">{}</div><div class=\"hash\">{}</div><div class=\"words\">{}</div><div class=\"small\">{}</div></div><div>{qr}</div></div>",
        html(&h.label),
        html(&hex_groups(&h.hex)),
        html(&words),
        html(&h.note)
    );
}

fn hsm(s: &mut String, f: &Facts) {
    let o = &f.opened;
    s.push_str("<h2>HSM and key</h2><table class=\"kv\">");
    row(s, "Manufacturer", &html(&o.hsm.manufacturer));
    row(s, "Model", &html(&o.hsm.model));
    row(s, "Serial number", &html(&o.hsm.serial));
    row(
        s,
        "Firmware / hardware",
        &html(&format!("{} / {}", o.hsm.firmware, o.hsm.hardware)),
    );
    row(s, "Token label", &html(&o.hsm.label));
    row(
        s,
        "PKCS#11 module",
        &format!("<span class=\"mono\">{}</span>", html(&o.hsm_module)),
    );
    row(s, "Library", &html(&o.hsm_library));
    s.push_str("</table>");
    if let Some(k) = &f.key {
        s.push_str("<h3>Key attributes read back from the HSM</h3><table class=\"kv\">");
        let a = &k.attributes;
        row(s, "Label", &html(&a.label));
        row(
            s,
            "Object id",
            &format!("<span class=\"mono\">{}</span>", html(&a.id_hex)),
        );
        let yes = |b: bool| if b { "true" } else { "false" };
        for (name, v) in [
            ("CKA_TOKEN (kept in the HSM)", a.token),
            ("CKA_SENSITIVE", a.sensitive),
            ("CKA_EXTRACTABLE", a.extractable),
            ("CKA_LOCAL (generated inside)", a.local),
            ("CKA_ALWAYS_SENSITIVE", a.always_sensitive),
            ("CKA_NEVER_EXTRACTABLE", a.never_extractable),
        ] {
            row(s, name, yes(v));
        }
        if let Some(cv) = &k.check_value {
            row(
                s,
                "Check value (AES)",
                &format!("<span class=\"mono\">{}</span>", html(cv)),
            );
        }
        s.push_str("</table>");
        if let Some(pem) = &k.public_key_pem {
            let _ = write!(s, "<h3>Public key</h3><pre>{}</pre>", html(pem));
        }
    }
    if let Some(k) = &f.kek {
        if !k.warnings.is_empty() {
            s.push_str("<h3>KEK warnings</h3><ul>");
            for w in &k.warnings {
                let _ = write!(s, "<li>{}</li>", html(w));
            }
            s.push_str("</ul>");
        }
    }
    s.push('\n');
}

fn exceptions(s: &mut String, f: &Facts) {
    s.push_str("<h2>Deviations and exceptions</h2>");
    if f.state.deviations.is_empty() {
        s.push_str("<p>No deviation from the script was recorded.</p>");
    } else {
        s.push_str("<table><tr><th>#</th><th>Step</th><th>Recorded by</th><th>Deviation</th><th>Acknowledged by</th></tr>");
        for (i, d) in f.state.deviations.iter().enumerate() {
            let _ = write!(
                s,
                "<tr><td>{i}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                html(d.phase.title()),
                html(&d.by),
                html(&d.described()),
                html(d.acknowledged_by.as_deref().unwrap_or("NOT ACKNOWLEDGED"))
            );
        }
        s.push_str("</table>");
    }
    if f.exceptions.is_empty() {
        s.push_str("<p>No exception: no share or KEK was refused, no step failed, no restart.</p>");
    } else {
        s.push_str("<table><tr><th>Seq</th><th>Time</th><th>Step</th><th>What happened</th></tr>");
        for e in &f.exceptions {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                e.seq,
                html(&time(&e.utc)),
                html(e.phase.title()),
                html(&e.what)
            );
        }
        s.push_str("</table>");
        if f.exceptions_left_out > 0 {
            let _ = write!(
                s,
                "<p class=\"bad\">{} further exceptions are not listed; read them in the log.</p>",
                f.exceptions_left_out
            );
        }
    }
    s.push_str(
        "<h3>Preflight checks</h3><table><tr><th>Check</th><th>Result</th><th>Detail</th></tr>",
    );
    for c in &f.preflight {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            html(&c.name),
            if c.passed {
                "passed"
            } else {
                "<span class=\"bad\">FAILED</span>"
            },
            html(&c.detail)
        );
    }
    s.push_str("</table>\n");
}

fn signatures(s: &mut String, r: &Report) {
    let f = &r.facts;
    let c = &f.opened.config;
    let _ = write!(
        s,
        "<section class=\"signatures-section\"><h2>Signatures</h2><p>By signing, each person confirms that they were present, that the ceremony recorded in the audit log whose last entry hashes to <span class=\"hash\">{}</span> took place as this report describes, and that they kept their own secrets to themselves.</p><div class=\"signatures\">",
        html(&hex_groups(&f.head))
    );
    let mut blocks: Vec<(String, &str)> = vec![(c.administrator.clone(), "Ceremony administrator")];
    blocks.extend(c.custodians.iter().map(|n| (n.clone(), "Custodian")));
    blocks.push((c.witness.clone(), "Internal witness"));
    blocks.push((c.auditor.clone().unwrap_or_default(), "Auditor"));
    for (name, role) in blocks {
        let _ = write!(
            s,
            "<div class=\"sigblock\"><div><strong>{}</strong>: {}</div><div class=\"sigline\"></div><div class=\"small\">Signature</div><div class=\"sigline\"></div><div class=\"small\">Date</div></div>",
            html(role),
            if name.is_empty() {
                "name: ______________________".into()
            } else {
                html(&name)
            }
        );
    }
    s.push_str("</div></section>\n");
}
