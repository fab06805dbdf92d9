//! The tool's own SHA-256, as hex and as PGP words to be read aloud, and compared with a
//! SHA256SUMS file (`sha256sum` format: `HEX  byok-ceremony`) when one is given. The sums file
//! should come from the release, on another medium than the tool: one that sits beside the
//! binary would change with it.
use std::path::Path;
use std::sync::OnceLock;

use crate::byok::fingerprint::pgp_words_for;
use crate::ceremony::machine::Check;

pub const NAME: &str = "tool binary";

/// The name a SHA256SUMS file lists the tool under (besides the running file's own name).
pub const RELEASE_NAME: &str = "byok-ceremony";

/// The running binary's SHA-256 (hashed once per process).
pub fn own_sha256() -> Result<[u8; 32], String> {
    static HASH: OnceLock<Result<[u8; 32], String>> = OnceLock::new();
    HASH.get_or_init(|| {
        let exe = std::env::current_exe()
            .map_err(|e| format!("the tool cannot find its own file: {e}"))?;
        crate::media::atomic::sha256_file(&exe)
            .map_err(|e| format!("the tool cannot read its own file {}: {e}", exe.display()))
    })
    .clone()
}

/// The running file's name, as a SHA256SUMS entry would list it.
fn own_name() -> Option<String> {
    std::env::current_exe()
        .ok()?
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
}

pub fn check(sums: Option<&Path>) -> Check {
    let hash = match own_sha256() {
        Ok(h) => h,
        Err(e) => return super::check(NAME, false, format!("{e}: run the tool by its path")),
    };
    let names: Vec<String> = own_name()
        .into_iter()
        .chain(std::iter::once(RELEASE_NAME.to_owned()))
        .collect();
    let listed = match sums {
        None => None,
        Some(path) => match crate::media::input::read_input(path, crate::media::input::SUMS) {
            Ok(bytes) => Some((path, bytes)),
            Err(e) => {
                return super::check(NAME, false, format!("SHA256SUMS: {e}"));
            }
        },
    };
    let compared = listed.map(|(path, bytes)| {
        (
            path,
            String::from_utf8(bytes)
                .map_err(|_| "it is not text".to_owned())
                .and_then(|text| compare(&text, &hash, &names)),
        )
    });
    let words = pgp_words_for(&hash).join(" ");
    let ours = format!("SHA-256 {} ({words})", hex::encode(hash));
    match compared {
        None => super::check(
            NAME,
            true,
            format!(
                "{ours}; no SHA256SUMS given (--sums FILE): compare the hash with the release's, read aloud"
            ),
        ),
        Some((path, Ok(()))) => {
            super::check(NAME, true, format!("{ours} matches {}", path.display()))
        }
        Some((path, Err(why))) => super::check(
            NAME,
            false,
            format!(
                "{ours}; {}: {why}: do not run the ceremony with this binary; boot the release's medium",
                path.display()
            ),
        ),
    }
}

/// Compares `hash` with the entries of a SHA256SUMS text for any of `names`.
fn compare(text: &str, hash: &[u8; 32], names: &[String]) -> Result<(), String> {
    let ours = hex::encode(hash);
    let mut listed = Vec::new();
    for (n, line) in (1..).zip(text.lines()) {
        if line.trim().is_empty() {
            continue;
        }
        // `sha256sum` writes "HEX  NAME" (text mode) or "HEX *NAME" (binary mode).
        let parsed = line
            .split_once(' ')
            .map(|(h, rest)| (h, rest.strip_prefix(['*', ' ']).unwrap_or(rest)));
        let Some((hex, name)) = parsed.filter(|(h, name)| {
            h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) && !name.is_empty()
        }) else {
            return Err(format!("line {n} is not a sha256sum line (\"HEX  NAME\")"));
        };
        let base = name.rsplit('/').next().unwrap_or(name);
        if names.iter().any(|n| n == base) {
            listed.push(hex.to_ascii_lowercase());
        }
    }
    if listed.is_empty() {
        return Err(format!("it lists no {}", names.join(" or ")));
    }
    if listed.contains(&ours) {
        Ok(())
    } else {
        Err(format!(
            "it lists {} {}, not this binary's hash",
            names.join(" or "),
            listed.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        vec!["byok-ceremony".into()]
    }

    #[test]
    fn sums_lines_in_text_and_binary_mode_match() {
        let hash = [0xab; 32];
        let hex = hex::encode(hash);
        let text = format!("{}  byok-upload\n{hex}  byok-ceremony\n", "00".repeat(32));
        assert_eq!(compare(&text, &hash, &names()), Ok(()));
        let text = format!("{} *dist/byok-ceremony\n", hex.to_uppercase());
        assert_eq!(compare(&text, &hash, &names()), Ok(()));
    }

    #[test]
    fn a_mismatch_a_missing_entry_and_a_malformed_line_fail() {
        let hash = [0xab; 32];
        let other = "cd".repeat(32);
        let e =
            compare(&format!("{other}  byok-ceremony\n"), &hash, &names()).expect_err("refused");
        assert!(e.contains("not this binary's hash"), "{e}");
        let e = compare(
            &format!("{}  byok-upload\n", hex::encode(hash)),
            &hash,
            &names(),
        )
        .expect_err("refused");
        assert!(e.contains("lists no byok-ceremony"), "{e}");
        let e = compare("abc  byok-ceremony\n", &hash, &names()).expect_err("refused");
        assert!(e.contains("line 1"), "{e}");
    }
}
