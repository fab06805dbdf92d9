//! The air-gapped station must not link network code: byok-ceremony's normal dependency tree
//! may contain neither the uploader nor any HTTP, TLS or Azure crate.
use std::process::Command;

/// Crate names (or name prefixes ending in '*') that mean network code.
const FORBIDDEN: [&str; 9] = [
    "azure_*",
    "reqwest",
    "hyper",
    "tokio",
    "rustls",
    "openssl-sys",
    "native-tls",
    "h2",
    "byok-upload",
];

fn is_forbidden(name: &str) -> Option<&'static str> {
    FORBIDDEN
        .into_iter()
        .find(|rule| match rule.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == *rule,
        })
}

#[test]
fn the_station_has_no_network_dependencies() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "byok-ceremony",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
            "--format",
            "{p}",
            "--manifest-path",
            concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
        ])
        .output()
        .expect("cargo tree runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names: Vec<&str> = text
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert!(
        names.contains(&"byok-ceremony") && names.contains(&"cryptoki"),
        "unexpected cargo tree output:\n{text}"
    );
    let found: Vec<String> = names
        .iter()
        .filter_map(|name| is_forbidden(name).map(|rule| format!("{name} (rule {rule})")))
        .collect();
    assert!(
        found.is_empty(),
        "the station links network code: {found:?}; keep it in uploader/ (byok-upload)"
    );
}

#[test]
fn the_rules_match_what_they_should() {
    assert_eq!(is_forbidden("azure_core"), Some("azure_*"));
    assert_eq!(is_forbidden("hyper"), Some("hyper"));
    assert_eq!(is_forbidden("hyper-util"), None, "covered by hyper itself");
    assert_eq!(is_forbidden("byok-upload"), Some("byok-upload"));
    assert_eq!(is_forbidden("h2"), Some("h2"));
    assert_eq!(is_forbidden("sha2"), None);
}
