//! The guides show the screens exactly as the code draws them: each fenced block after a
//! `<!-- capture: NAME -->` line in docs/*.md must equal the snapshot tests/snapshots/NAME.snap.
//! After accepting new snapshots, refresh the docs with
//! `BYOK_UPDATE_DOCS=1 cargo test --test docs_captures`.
use std::path::Path;

fn capture(root: &Path, name: &str) -> String {
    let path = root.join("tests/snapshots").join(format!("{name}.snap"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (a capture names a missing snapshot)",
            path.display()
        )
    });
    // insta's header ends at the second "---" line; each row is a quoted string.
    let body = text.splitn(3, "---\n").nth(2).expect("snapshot header");
    let rows: Vec<&str> = body
        .lines()
        .map(|l| {
            l.strip_prefix('"')
                .and_then(|l| l.strip_suffix('"'))
                .unwrap_or(l)
        })
        .map(str::trim_end)
        .collect();
    format!("{}\n", rows.join("\n").trim_end_matches('\n'))
}

/// The doc with every capture replaced by its snapshot.
fn refreshed(root: &Path, doc: &str) -> String {
    const MARK: &str = "<!-- capture: ";
    let mut out = String::new();
    let mut rest = doc;
    while let Some(at) = rest.find(MARK) {
        let (before, from) = rest.split_at(at);
        out.push_str(before);
        let name_end = from.find(" -->\n").expect("capture marker ends with -->");
        let name = &from[MARK.len()..name_end];
        let block = &from[name_end + 5..];
        assert!(
            block.starts_with("```\n"),
            "a capture marker is followed by a fenced block"
        );
        let close = block[4..].find("```\n").expect("closing fence") + 4;
        out.push_str(&from[..name_end + 5]);
        out.push_str("```\n");
        out.push_str(&capture(root, name));
        out.push_str("```\n");
        rest = &block[close + 4..];
    }
    out.push_str(rest);
    out
}

#[test]
fn every_capture_in_the_docs_is_the_current_snapshot() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let update = std::env::var_os("BYOK_UPDATE_DOCS").is_some();
    let mut stale = Vec::new();
    let mut captures = 0;
    for entry in std::fs::read_dir(root.join("docs")).expect("docs") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|x| x != "md") {
            continue;
        }
        let doc = std::fs::read_to_string(&path).expect("doc");
        captures += doc.matches("<!-- capture: ").count();
        let new = refreshed(root, &doc);
        if new != doc {
            if update {
                std::fs::write(&path, new).expect("write");
            } else {
                stale.push(path.display().to_string());
            }
        }
    }
    assert!(
        captures >= 15,
        "the ceremony guide's captures are gone ({captures})"
    );
    assert!(
        stale.is_empty(),
        "out of date: {stale:?}; run BYOK_UPDATE_DOCS=1 cargo test --test docs_captures"
    );
}
