//! `audit report`: a real rehearsal's log turned into the HTML report, printed to PDF by
//! headless Chromium (Debian package chromium) and read back with pdftotext (poppler-utils):
//! the PDF must carry the real hashes, their PGP words, the people and the HSM. The Markdown
//! form carries the same; a log that does not verify gets no report; nothing is overwritten.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use byok_ceremony::byok::fingerprint::pgp_words_for;
use byok_ceremony::manifest::Manifest;

/// SoftHSM2 2.7.0 (scripts/build-softhsm.sh): the default token, native wrap.
fn softhsm() -> std::path::PathBuf {
    byok_ceremony::hsm::throwaway::SoftToken::find_built_softhsm()
        .expect("SoftHSM2 2.7.0 is not built: run scripts/test.sh")
}
const NAME: &str = "report";

fn bin(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_byok-ceremony"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn report(media: &Path, out: &Path, extra: &[&str]) -> Output {
    let log = media.join(format!("{NAME}.audit.jsonl"));
    let record = media.join(format!("{NAME}.provisioning-record.json"));
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "audit".as_ref(),
        "report".as_ref(),
        log.as_os_str(),
        "--record".as_ref(),
        record.as_os_str(),
        "--media".as_ref(),
        media.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ];
    args.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
    bin(&args)
}

/// Whitespace collapsed, so that text wrapped across PDF lines still matches.
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn groups(hex: &str) -> String {
    hex.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).expect("hex"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn print_to_pdf(dir: &Path, html: &Path) -> PathBuf {
    let pdf = dir.join("report.pdf");
    let profile = dir.join("chromium-profile");
    std::fs::create_dir(&profile).expect("profile dir");
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium runs (Debian package chromium; scripts/install-deps.sh installs it)");
    assert!(
        pdf.exists(),
        "chromium made no PDF: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    pdf
}

#[test]
fn the_printed_report_carries_the_real_hashes_and_names() {
    let dir = tempfile::Builder::new()
        .prefix("audit-report-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temp dir");
    let media = dir.path().join("media");
    std::fs::create_dir(&media).expect("media");
    let out = bin(&[
        "rehearse".as_ref(),
        "--headless".as_ref(),
        "--name".as_ref(),
        NAME.as_ref(),
        "--module".as_ref(),
        softhsm().as_os_str(),
        "--out".as_ref(),
        media.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest = Manifest::parse(
        &std::fs::read(media.join(format!("{NAME}.manifest.json"))).expect("manifest"),
    )
    .expect("manifest parses");

    let html = dir.path().join("report.html");
    let out = report(&media, &html, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let page = std::fs::read_to_string(&html).expect("report");
    assert!(
        !page.contains("<script") && !page.contains("src=\"http") && !page.contains("href=\"http"),
        "the report must be self-contained"
    );

    let pdf = print_to_pdf(dir.path(), &html);
    let text = Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext runs (Debian package poppler-utils)");
    assert!(text.status.success());
    let text = squash(&String::from_utf8_lossy(&text.stdout));

    let byok = hex::decode(manifest.byok_sha256.as_deref().expect("azure")).expect("hex");
    let expected = [
        groups(manifest.byok_sha256.as_deref().expect("azure")),
        pgp_words_for(&byok)[..4].join(" "),
        groups(&manifest.kek_fingerprint_sha256),
        groups(manifest.audit_log_head_sha256.as_deref().expect("head")),
        manifest.hsm.token.serial.clone(),
        manifest.key_attributes.label.clone(),
        "REHEARSAL".into(),
        "The audit log verifies".into(),
        "Signatures".into(),
    ];
    for want in expected.iter().chain(
        ["oscar", "wendy", "alice", "bob", "carol"]
            .map(String::from)
            .iter(),
    ) {
        assert!(
            text.contains(want.as_str()),
            "the PDF lacks \"{want}\":\n{text}"
        );
    }

    // Markdown: the same facts, QR codes and the timeline as embedded SVG images.
    let markdown = dir.path().join("report.md");
    let out = report(&media, &markdown, &["--format", "md"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let md = std::fs::read_to_string(&markdown).expect("markdown");
    assert!(md.contains(&groups(manifest.byok_sha256.as_deref().expect("azure"))));
    assert!(md.contains("data:image/svg+xml;base64,"));
    // The script's purpose is logged at genesis and reported (issue 13, item 9).
    assert!(md.contains("Purpose"), "{md}");
    assert!(
        md.contains("Rehearse"),
        "the rehearsal script's purpose: {md}"
    );
    assert!(
        page.contains("Rehearse"),
        "the HTML report names the purpose"
    );

    // Never overwritten.
    let before = std::fs::read(&html).expect("report");
    let again = report(&media, &html, &[]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwrites"));
    assert_eq!(std::fs::read(&html).expect("report"), before);

    // A log that does not verify gets no report.
    let log = media.join(format!("{NAME}.audit.jsonl"));
    let mut lines = std::fs::read(&log).expect("log");
    lines.truncate(lines.len() - 1);
    let end = lines.iter().rposition(|b| *b == b'\n').expect("lines") + 1;
    lines.truncate(end);
    let cut = dir.path().join("cut");
    std::fs::create_dir(&cut).expect("dir");
    for ext in ["byok", "manifest.json", "provisioning-record.json"] {
        let f = format!("{NAME}.{ext}");
        std::fs::copy(media.join(&f), cut.join(&f)).expect("copy");
    }
    std::fs::write(cut.join(format!("{NAME}.audit.jsonl")), lines).expect("cut log");
    let refused = dir.path().join("refused.html");
    let out = report(&cut, &refused, &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("does not verify"));
    assert!(!refused.exists());
}
