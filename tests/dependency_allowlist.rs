//! The offline station binary links only reviewed crates: its whole dependency closure (normal
//! and build edges, for the station's target) must equal the names in
//! supply-chain/offline-allowlist.txt, which says why it exists and how to add to it. An
//! allow-list, not a deny-list: a network crate nobody thought to name (`ureq`, `socket2`)
//! fails here like any other unreviewed crate. Dev-dependencies never ship and are out of scope.
//!
//! A deny-list stays as a second guard on the reviewed list itself: no name that means network
//! code may be added to the allow-list (nor the uploader, byok-upload).
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const ALLOWLIST: &str = "supply-chain/offline-allowlist.txt";
/// The platform the station runs (the release, scripts/release.sh, is built for it). Fixed so
/// the closure is the same whichever machine runs the test.
const STATION_TARGET: &str = "x86_64-unknown-linux-gnu";

/// Crate names (or prefixes ending in '*') that mean network code: never in the allow-list.
const NETWORK: [&str; 24] = [
    "azure_*",
    "byok-upload",
    "reqwest",
    "ureq",
    "hyper",
    "hyper-*",
    "h2",
    "h3",
    "http",
    "tokio",
    "tokio-*",
    "async-std",
    "smol",
    "socket2",
    "rustls",
    "rustls-*",
    "native-tls",
    "openssl",
    "openssl-sys",
    "curl",
    "curl-sys",
    "quinn",
    "hickory-*",
    "tungstenite",
];

fn network_rule(name: &str) -> Option<&'static str> {
    NETWORK
        .into_iter()
        .find(|rule| match rule.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == *rule,
        })
}

/// The names in the allow-list: one per line, `#` starts a comment. Refuses a malformed or
/// repeated entry, so the file cannot drift into something the test reads differently.
fn parse_allowlist(text: &str) -> Result<BTreeSet<String>, String> {
    let mut names = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let entry = line.split('#').next().unwrap_or("").trim();
        if entry.is_empty() {
            continue;
        }
        let plain = entry
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !plain {
            return Err(format!(
                "{ALLOWLIST}:{}: `{entry}` is not a crate name (one name per line, `#` for comments)",
                n + 1
            ));
        }
        if !names.insert(entry.to_owned()) {
            return Err(format!("{ALLOWLIST}:{}: `{entry}` is listed twice", n + 1));
        }
    }
    Ok(names)
}

/// The names of every crate in byok-ceremony's normal and build dependency closure, itself
/// included, as `cargo build -p byok-ceremony` resolves it (per-package features, so the
/// uploader's and the dev-dependencies' choices do not leak in), from Cargo.lock as it is.
fn station_closure() -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "byok-ceremony",
            "-e",
            "normal,build",
            "--target",
            STATION_TARGET,
            "--prefix",
            "none",
            "--format",
            "{p}",
            "--locked",
            "--offline",
            "--manifest-path",
            concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
        ])
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed (it needs Cargo.lock up to date and the crates fetched: `cargo fetch`): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let names: BTreeSet<String> = text
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    assert!(
        names.contains("byok-ceremony") && names.contains("cryptoki"),
        "unexpected cargo tree output:\n{text}"
    );
    names
}

/// What is wrong between the closure and the allow-list, as messages that say what to do.
fn allowlist_problems(closure: &BTreeSet<String>, allowed: &BTreeSet<String>) -> Vec<String> {
    let mut problems = Vec::new();
    let new: Vec<&str> = closure.difference(allowed).map(String::as_str).collect();
    if !new.is_empty() {
        problems.push(format!(
            "the station binary now links crates nobody has reviewed: {}.\n  For each, see who pulls \
             it in: `cargo tree -p byok-ceremony -e normal,build --target {STATION_TARGET} -i NAME`; \
             if the station really needs it, review its source and licence and add the name to \
             {ALLOWLIST} (the file says how). If it is network code, it belongs in uploader/.",
            new.join(", ")
        ));
    }
    let unused: Vec<&str> = allowed.difference(closure).map(String::as_str).collect();
    if !unused.is_empty() {
        problems.push(format!(
            "{ALLOWLIST} names crates the station no longer links: {}; remove them so the list \
             stays exactly what ships",
            unused.join(", ")
        ));
    }
    let network: Vec<String> = allowed
        .iter()
        .filter_map(|name| network_rule(name).map(|rule| format!("{name} (rule {rule})")))
        .collect();
    if !network.is_empty() {
        problems.push(format!(
            "{ALLOWLIST} allows network code: {}; the station is air-gapped, keep it in \
             uploader/ (byok-upload)",
            network.join(", ")
        ));
    }
    problems
}

fn read_allowlist() -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(ALLOWLIST);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse_allowlist(&text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_station_links_only_allowed_crates() {
    let problems = allowlist_problems(&station_closure(), &read_allowlist());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_finds_new_unused_and_network_crates() {
    let set =
        |names: &[&str]| -> BTreeSet<String> { names.iter().map(|n| n.to_string()).collect() };
    let allowed = set(&["byok-ceremony", "cryptoki", "serde"]);
    assert!(allowlist_problems(&allowed, &allowed).is_empty());

    let problems = allowlist_problems(
        &set(&["byok-ceremony", "cryptoki", "serde", "ureq"]),
        &allowed,
    );
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].contains("nobody has reviewed: ureq."),
        "{problems:#?}"
    );

    let problems = allowlist_problems(&set(&["byok-ceremony", "cryptoki"]), &allowed);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].contains("no longer links: serde;"),
        "{problems:#?}"
    );

    let with_socket = set(&["byok-ceremony", "cryptoki", "serde", "socket2"]);
    let problems = allowlist_problems(&with_socket, &with_socket);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].contains("allows network code: socket2 (rule socket2)"),
        "{problems:#?}"
    );
}

#[test]
fn the_network_rules_and_the_parser_read_what_they_should() {
    assert_eq!(network_rule("azure_core"), Some("azure_*"));
    assert_eq!(network_rule("hyper-util"), Some("hyper-*"));
    assert_eq!(network_rule("byok-upload"), Some("byok-upload"));
    assert_eq!(network_rule("h2"), Some("h2"));
    assert_eq!(network_rule("sha2"), None);
    assert_eq!(
        network_rule("httparse"),
        None,
        "a prefix rule must end in '*'"
    );

    let names = parse_allowlist("# comment\n\nserde  # why\nsha2\n").expect("parses");
    assert_eq!(names.into_iter().collect::<Vec<_>>(), ["serde", "sha2"]);
    let err = parse_allowlist("serde\nserde\n").expect_err("a repeat");
    assert!(err.contains(":2: `serde` is listed twice"), "{err}");
    let err = parse_allowlist("serde 1.0\n").expect_err("a version");
    assert!(err.contains(":1: `serde 1.0` is not a crate name"), "{err}");
}
