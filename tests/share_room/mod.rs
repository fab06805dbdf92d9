//! For the provisioning and re-split tests: a directory with its own SoftHSM2 token store,
//! the shares as custodians copy them, and the check that no share is left in some text.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use byok_ceremony::quorum::PinGroup;
use byok_ceremony::quorum::outputs::read_share;

pub const SOFTHSM2: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// A fresh directory (named `prefix`...) holding `tokens/` and a `softhsm2.conf` that points
/// SoftHSM2 at it, plus the empty sub-directories `dirs`. Returns the directory and the conf.
pub fn token_dir(prefix: &str, dirs: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temp dir");
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).expect("tokens dir");
    for d in dirs {
        std::fs::create_dir(dir.path().join(d)).expect("dir");
    }
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .expect("conf");
    (dir, conf)
}

/// The share of `group` in a share file, in groups of five, as a custodian copies it.
pub fn grouped_share(file: &Path, group: PinGroup) -> String {
    read_share(file, group)
        .expect("share file")
        .to_text()
        .expect("text")
        .grouped()
        .to_string()
}

/// No share, in any spelling or in part (a row of five groups, its middle), in `text`.
pub fn assert_no_share(text: &str, shares: &[String], what: &str) {
    let squeezed = text.to_lowercase().replace([' ', '\n', '-'], "");
    for s in shares {
        let canonical = s.replace(' ', "");
        assert!(!squeezed.contains(&canonical), "a share is in {what}");
        let groups: Vec<&str> = s.split(' ').collect();
        for row in groups.chunks(5) {
            assert!(
                !text.contains(&row.join(" ")),
                "part of a share ({} groups) is in {what}",
                row.len()
            );
        }
        // The middle of a share, whatever the layout.
        let middle = &canonical[10..30];
        assert!(!squeezed.contains(middle), "part of a share is in {what}");
    }
}
