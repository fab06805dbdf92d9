//! Helpers shared by the fuzz targets in `fuzz_targets/`.
//!
//! Inputs with several parts (a record and a log, a note and what it is checked against) keep
//! them apart with NUL bytes: none of the text formats fuzzed here holds a raw NUL, so a seed
//! made from real files is those files joined by NULs.
#![forbid(unsafe_code)]
use std::path::PathBuf;
use std::sync::OnceLock;

/// `data` cut at its first `n - 1` NUL bytes (fewer parts when it has fewer NULs).
pub fn parts(data: &[u8], n: usize) -> Vec<&[u8]> {
    data.splitn(n, |b| *b == 0).collect()
}

/// A file of this process's own, rewritten with each input, for the parsers that read a path.
/// It lives in a directory made once per process (under $TMPDIR) and is never deleted while
/// the process runs; libFuzzer's runs are short-lived processes.
pub fn scratch_file(name: &str, bytes: &[u8]) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("byok-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        dir
    });
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("scratch file");
    path
}

/// The kid of the test KEK `independent/kek-2048` (tests/data/independent/manifest.json).
pub const KEK_2048_KID: &str =
    "https://independent-test.vault.azure.net/keys/kek-2048/f2cd2c4345a5ee31c5fe5cbbb33f4f4a";
