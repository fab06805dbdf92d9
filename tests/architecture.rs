//! The layering the design asks for, checked on the source: the pure ceremony core, the
//! auditor's tools and the terminal UI use plain data types (`hsm_types`), never the PKCS#11
//! layer (`hsm`); the plain types themselves know nothing of PKCS#11; and the screens do no
//! file I/O of their own (the runner reads and hashes, the UI renders state). And `unsafe` is
//! forbidden in every module but the PKCS#11 FFI one.
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

/// Every line of the files under each of `parts` that contains one of `banned` (the line that
/// forbids `unsafe` does not count as a use of it).
fn offending(parts: &[&str], banned: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for part in parts {
        for file in sources(part) {
            let text = std::fs::read_to_string(&file).expect("read source");
            for (n, line) in text.lines().enumerate() {
                if line.trim() != FORBID && banned.iter().any(|b| line.contains(b)) {
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

/// The one module allowed `unsafe` (src/hsm/ffi.rs, through its own `#![allow(unsafe_code)]`),
/// and the two module files above it, which cannot forbid `unsafe` without forbidding it in ffi
/// too (a `forbid` cannot be lifted below): they must hold no `unsafe` code instead. Paths are
/// relative to src/.
const FFI_MODULE: &str = "hsm/ffi.rs";
const ABOVE_FFI: [&str; 2] = ["lib.rs", "hsm/mod.rs"];
const FORBID: &str = "#![forbid(unsafe_code)]";

/// The module file that declares `file` (relative to the source root, `/`-separated): `a/b.rs`
/// and `a/b/mod.rs` are declared in `a.rs` or `a/mod.rs` (whichever exists), a top-level module
/// in `lib.rs`. `None` for the crate roots.
fn parent_module(root: &Path, file: &str) -> Option<String> {
    if file == "lib.rs" || file == "main.rs" {
        return None;
    }
    let module = file.strip_suffix("/mod.rs").unwrap_or(file);
    let dir = match module.rsplit_once('/') {
        Some((dir, _)) => dir,
        None => return Some("lib.rs".to_owned()),
    };
    let flat = format!("{dir}.rs");
    if root.join(&flat).is_file() {
        Some(flat)
    } else {
        Some(format!("{dir}/mod.rs"))
    }
}

/// The source lines that are code, not comments (enough to see `unsafe` or the attribute).
fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.starts_with("//"))
}

/// Every `.rs` file under `root` that no `#![forbid(unsafe_code)]` covers (neither in itself nor
/// in a module file above it), other than the FFI module and the files above it; and every file
/// above the FFI module that contains `unsafe` code. Each entry says what to do.
fn unsafe_coverage_problems(root: &Path) -> Vec<String> {
    let mut files: Vec<String> = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read source directory") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(root).expect("under the root");
                files.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    files.sort();
    let forbids = |file: &str| {
        std::fs::read_to_string(root.join(file))
            .map(|text| code_lines(&text).any(|line| line == FORBID))
            .unwrap_or(false)
    };
    let mut problems = Vec::new();
    for file in &files {
        if file == FFI_MODULE {
            continue;
        }
        if ABOVE_FFI.contains(&file.as_str()) {
            let text = std::fs::read_to_string(root.join(file)).expect("read source");
            if code_lines(&text).any(|line| line.contains("unsafe")) {
                problems.push(format!(
                    "{file}: contains `unsafe` code; it sits above the FFI module and cannot forbid \
                     it, so move the code into {FFI_MODULE}"
                ));
            }
            continue;
        }
        let mut at = Some(file.clone());
        let mut covered = false;
        while let Some(current) = at {
            if ABOVE_FFI.contains(&current.as_str()) {
                break;
            }
            if forbids(&current) {
                covered = true;
                break;
            }
            at = parent_module(root, &current);
        }
        if !covered {
            problems.push(format!(
                "{file}: no `{FORBID}` in it or in a module above it; add it after the module's \
                 `//!` comment (only {FFI_MODULE} may use `unsafe`)"
            ));
        }
    }
    problems
}

#[test]
fn every_module_but_the_ffi_one_forbids_unsafe() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    assert!(
        root.join(FFI_MODULE).is_file(),
        "{FFI_MODULE} is gone: update FFI_MODULE and ABOVE_FFI in tests/architecture.rs"
    );
    let problems = unsafe_coverage_problems(&root);
    assert!(
        problems.is_empty(),
        "modules that may use `unsafe`:\n{}",
        problems.join("\n")
    );
}

/// The check itself finds a module without the attribute, one covered only through its parent,
/// and `unsafe` code in a file above the FFI module.
#[test]
fn the_unsafe_coverage_check_finds_what_it_should() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let root = dir.path();
    let write = |file: &str, text: &str| {
        let path = root.join(file);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    write(
        "lib.rs",
        "//! unsafe in a comment is fine\npub mod a;\npub mod hsm;\n",
    );
    write("main.rs", "//! cli\n#![forbid(unsafe_code)]\n");
    write("a.rs", "//! a\n#![forbid(unsafe_code)]\npub mod b;\n");
    write("a/b.rs", "pub fn covered_by_a() {}\n");
    write("hsm/mod.rs", "pub mod ffi;\npub mod new;\n");
    write("hsm/ffi.rs", "#![allow(unsafe_code)]\n");
    write(
        "hsm/new.rs",
        "// #![forbid(unsafe_code)] in a comment does not count\n",
    );
    write("loose/mod.rs", "pub fn f() {}\n");
    let problems = unsafe_coverage_problems(root);
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(
        problems[0].starts_with("hsm/new.rs: no `#![forbid"),
        "{problems:#?}"
    );
    assert!(
        problems[1].starts_with("loose/mod.rs: no `#![forbid"),
        "{problems:#?}"
    );

    write(
        "hsm/mod.rs",
        "pub mod ffi;\npub mod new;\nunsafe fn f() {}\n",
    );
    write("hsm/new.rs", "#![forbid(unsafe_code)]\n");
    write("loose/mod.rs", "#![forbid(unsafe_code)]\n");
    let problems = unsafe_coverage_problems(root);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].starts_with("hsm/mod.rs: contains `unsafe`"),
        "{problems:#?}"
    );
}
