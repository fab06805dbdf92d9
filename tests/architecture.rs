//! The layering the design asks for, checked on the source: the pure ceremony core, the
//! auditor's tools and the terminal UI use plain data types (`hsm_types`), never the PKCS#11
//! layer (`hsm`); the plain types themselves know nothing of PKCS#11; and the screens do no
//! file I/O of their own (the runner reads and hashes, the UI renders state).
use std::path::{Path, PathBuf};

fn sources(under: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(under);
    if root.is_file() {
        return vec![root];
    }
    let mut out = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{} is neither a file nor a directory: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out
}

/// Every line of the files under each of `parts` that contains one of `banned`.
fn offending(parts: &[&str], banned: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for part in parts {
        for file in sources(part) {
            let text = std::fs::read_to_string(&file).expect("read source");
            for (n, line) in text.lines().enumerate() {
                if banned.iter().any(|b| line.contains(b)) {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    found
}

#[test]
fn the_pure_core_and_the_auditors_tools_do_not_reach_the_pkcs11_layer() {
    let pure = [
        "ceremony/machine",
        "ceremony/facts.rs",
        "ceremony/script.rs",
        "audit",
        "tui",
        "manifest.rs",
        "hsm_types",
    ];
    let found = offending(&pure, &["crate::hsm::", "use crate::hsm;", "super::hsm::"]);
    assert!(
        found.is_empty(),
        "the pure side uses the HSM layer:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_plain_hsm_types_know_nothing_of_pkcs11() {
    let found = offending(&["hsm_types"], &["cryptoki", "libloading", "unsafe"]);
    assert!(
        found.is_empty(),
        "plain types import PKCS#11:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_screens_render_state_and_hash_no_files() {
    let found = offending(
        &["tui"],
        &["sha256_file", "Sha256::", "fs::read(", "File::open"],
    );
    assert!(
        found.is_empty(),
        "the UI does file I/O:\n{}",
        found.join("\n")
    );
}
