//! The report as Markdown: the same sections as the HTML page; the QR codes and the timeline
//! are SVG images embedded as data URIs, so the file stays self-contained.
use std::fmt::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::text::{clock, duration, hex_groups, md, qr_svg, time, words};
use super::{Report, timeline};
use crate::audit::verify::role_name;

fn image(alt: &str, svg: &str) -> String {
    let svg = if svg.contains("xmlns=") {
        svg.to_owned()
    } else {
        svg.replacen("<svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"", 1)
    };
    format!(
        "![{alt}](data:image/svg+xml;base64,{})",
        STANDARD.encode(svg)
    )
}

/// The whole document.
pub fn render(r: &Report) -> String {
    let f = &r.facts;
    let o = &f.opened;
    let c = &r.checked;
    let mut s = String::with_capacity(64 << 10);
    let _ = writeln!(s, "# Key ceremony report: {}\n", md(&o.config.ceremony_id));
    if o.rehearsal {
        s.push_str("> **REHEARSAL**: this ceremony ran on a throwaway software token with demo people. It is not a production key ceremony.\n\n");
    }
    let _ = writeln!(
        s,
        "**The audit log verifies.** Hash chain intact over {} entries; {} signed checkpoint(s) checked with the audit key; every entry replayed through the ceremony machine. Artifacts: {}. Script: {}.\n",
        c.entries,
        c.checkpoints,
        match &c.media {
            Some(d) => format!(
                "{} exported file(s) on `{}` match the log",
                c.artifacts,
                d.replace('`', "'")
            ),
            None => "**not checked** (no media directory was given)".into(),
        },
        if c.script {
            "matches the pinned hash"
        } else {
            "**not checked** (no script was given)"
        }
    );
    if let Some(at) = c.unsigned_from {
        let _ = writeln!(
            s,
            "**Entries from seq {} on carry no signature** (an abort without a quorum login has nothing to sign with).\n",
            at.seq
        );
    }

    s.push_str("## Summary\n\n| | |\n|---|---|\n");
    let mut kv = |k: &str, v: String| {
        let _ = writeln!(s, "| {} | {} |", md(k), v);
    };
    kv("Ceremony", md(&o.config.ceremony_id));
    kv("Outcome", md(f.state.phase.title()));
    kv("Started", md(&time(&f.first.0)));
    kv("Ended", md(&time(&f.last.0)));
    kv("Duration", duration(f.last.1.unix_ms - f.first.1.unix_ms));
    if let Some(k) = &f.key {
        kv(
            "Key",
            md(&format!(
                "{} {}",
                k.kty,
                k.key_size
                    .map(|b| format!("{b} bits"))
                    .or(k.crv.clone())
                    .unwrap_or_default()
            )),
        );
    }
    if let Some(k) = &f.kek {
        kv(
            "KEK (Key Vault kid)",
            format!("`{}`", k.kid.replace('`', "'")),
        );
    }
    for c in &f.clouds {
        kv(&format!("Cloud: {}", c.cloud.title()), md(&c.describe()));
    }
    if let Some(w) = &f.wrap {
        kv("Wrap", md(&w.method.describe()));
        if w.rehearsal_grade {
            kv(
                "REHEARSAL-GRADE",
                md(
                    "the HSM zero-pads the key before wrapping: the .byok carries trailing zero bytes after the key, which Azure may reject",
                ),
            );
        }
    }
    kv(
        "Purpose",
        md(o.purpose
            .as_deref()
            .unwrap_or("not recorded in the log (a log of an earlier version)")),
    );
    kv("Tool", md(&format!("byok-ceremony {}", o.tool_version)));
    kv("Workstation", md(&format!("{} ({})", o.host, o.os)));
    kv("Log entries", f.entries.to_string());

    s.push_str("\n## Participants and roles\n\n| Name | Role | Checked in | Quorum | KEK confirmed | Signed off |\n|---|---|---|---|---|---|\n");
    for p in &f.people {
        let t = |v: &Option<String>| {
            v.as_deref()
                .map(clock)
                .map(|t| md(&t))
                .unwrap_or_else(|| "-".into())
        };
        let share = match (p.share_index, p.authenticated_at_hsm) {
            (Some(i), _) => format!("share {i}"),
            (None, true) => "authenticated at the HSM".into(),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            md(&p.name),
            role_name(p.role),
            t(&p.checked_in),
            share,
            t(&p.kek_confirmed),
            t(&p.signed_off)
        );
    }

    s.push_str("\n## Timeline\n\n");
    let _ = writeln!(
        s,
        "{}\n",
        image("Timeline of the ceremony steps", &timeline::svg(f))
    );
    s.push_str("| Step | From | Duration | First seq |\n|---|---|---|---|\n");
    for span in &f.spans {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            md(span.phase.title()),
            md(&time(&crate::audit::time::rfc3339(
                std::time::UNIX_EPOCH
                    + std::time::Duration::from_millis(span.start.unix_ms.max(0) as u64)
            ))),
            duration(span.end.unix_ms - span.start.unix_ms),
            span.first_seq
        );
    }

    s.push_str("\n## Artifact hashes\n\nSHA-256 as hex (compare with `sha256sum`), as PGP words (to read aloud) and as a QR code of the hex.\n\n");
    for h in &r.hashes {
        let _ = writeln!(
            s,
            "### {}\n\n`{}`\n\n*{}*\n\n{}\n",
            md(&h.label),
            hex_groups(&h.hex),
            md(&words(&h.hex).unwrap_or_default()),
            md(&h.note)
        );
        if let Some(qr) = qr_svg(&h.hex, 124) {
            let _ = writeln!(s, "{}\n", image("QR code of the hex", &qr));
        }
    }

    s.push_str("## HSM and key\n\n| | |\n|---|---|\n");
    let mut kv = |k: &str, v: String| {
        let _ = writeln!(s, "| {} | {} |", md(k), v);
    };
    kv("Manufacturer", md(&o.hsm.manufacturer));
    kv("Model", md(&o.hsm.model));
    kv("Serial number", md(&o.hsm.serial));
    kv(
        "Firmware / hardware",
        md(&format!("{} / {}", o.hsm.firmware, o.hsm.hardware)),
    );
    kv("Token label", md(&o.hsm.label));
    kv(
        "PKCS#11 module",
        format!("`{}`", o.hsm_module.replace('`', "'")),
    );
    kv("Library", md(&o.hsm_library));
    if let Some(k) = &f.key {
        let a = &k.attributes;
        kv("Key label", md(&a.label));
        kv("Key object id", format!("`{}`", a.id_hex));
        for (name, v) in [
            ("CKA_TOKEN", a.token),
            ("CKA_SENSITIVE", a.sensitive),
            ("CKA_EXTRACTABLE", a.extractable),
            ("CKA_LOCAL", a.local),
            ("CKA_ALWAYS_SENSITIVE", a.always_sensitive),
            ("CKA_NEVER_EXTRACTABLE", a.never_extractable),
        ] {
            kv(name, v.to_string());
        }
        if let Some(pem) = &k.public_key_pem {
            let _ = writeln!(
                s,
                "\nPublic key:\n\n```\n{}\n```",
                pem.trim_end().replace("```", "'''")
            );
        }
    }

    s.push_str("\n## Deviations and exceptions\n\n");
    if f.state.deviations.is_empty() {
        s.push_str("No deviation from the script was recorded.\n\n");
    } else {
        s.push_str(
            "| # | Step | Recorded by | Deviation | Acknowledged by |\n|---|---|---|---|---|\n",
        );
        for (i, d) in f.state.deviations.iter().enumerate() {
            let _ = writeln!(
                s,
                "| {i} | {} | {} | {} | {} |",
                md(d.phase.title()),
                md(&d.by),
                md(&d.described()),
                md(d.acknowledged_by.as_deref().unwrap_or("NOT ACKNOWLEDGED"))
            );
        }
        s.push('\n');
    }
    if f.exceptions.is_empty() {
        s.push_str("No exception: no share or KEK was refused, no step failed, no restart.\n\n");
    } else {
        s.push_str("| Seq | Time | Step | What happened |\n|---|---|---|---|\n");
        for e in &f.exceptions {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                e.seq,
                md(&time(&e.utc)),
                md(e.phase.title()),
                md(&e.what)
            );
        }
        if f.exceptions_left_out > 0 {
            let _ = writeln!(
                s,
                "\n**{} further exceptions are not listed**; read them in the log.",
                f.exceptions_left_out
            );
        }
        s.push('\n');
    }
    s.push_str("Preflight checks:\n\n| Check | Result | Detail |\n|---|---|---|\n");
    for chk in &f.preflight {
        let _ = writeln!(
            s,
            "| {} | {} | {} |",
            md(&chk.name),
            if chk.passed { "passed" } else { "**FAILED**" },
            md(&chk.detail)
        );
    }

    let cfg = &o.config;
    let _ = writeln!(
        s,
        "\n## Signatures\n\nBy signing, each person confirms that they were present, that the ceremony recorded in the audit log whose last entry hashes to `{}` took place as this report describes, and that they kept their own secrets to themselves.\n",
        hex_groups(&f.head)
    );
    let mut blocks = vec![(cfg.administrator.clone(), "Ceremony administrator")];
    blocks.extend(cfg.custodians.iter().map(|n| (n.clone(), "Custodian")));
    blocks.push((cfg.witness.clone(), "Internal witness"));
    blocks.push((cfg.auditor.clone().unwrap_or_default(), "Auditor"));
    for (name, role) in blocks {
        let name = if name.is_empty() {
            "______________________".into()
        } else {
            md(&name)
        };
        let _ = writeln!(
            s,
            "**{role}**: {name}\n\nSignature: ______________________________ Date: ______________\n"
        );
    }
    let _ = writeln!(
        s,
        "---\n\nMade by byok-ceremony {} from {}. Check it again with `byok-ceremony audit verify {} --record PROVISIONING-RECORD --media MEDIA-DIR`.",
        env!("CARGO_PKG_VERSION"),
        md(&c.log_name),
        c.log_name.replace('`', "'")
    );
    s
}
