//! `.byok` parsing: `ByokFile::parse` and `format::inspect` (every problem, not just the first).
//! What the tool writes must read back as the same file: `parse(to_json_bytes(file))`.
#![forbid(unsafe_code)]
#![no_main]

use byok_ceremony::byok::format::{self, ByokFile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let inspection = format::inspect(data);
    let parsed = ByokFile::parse(data);
    // parse is inspect's first problem.
    assert_eq!(parsed.is_ok(), inspection.problems.is_empty());
    if let Ok(parsed) = parsed {
        let written = parsed.file.to_json_bytes();
        let again = ByokFile::parse(&written).expect("the tool's own output parses");
        assert_eq!(again.file, parsed.file, "a file reads back as written");
        // The one warning the tool's own output can carry: an empty generator.
        assert!(
            again.warnings.is_empty() || parsed.file.generator.is_empty(),
            "the tool's own output has no warnings: {:?}",
            again.warnings
        );
    }
});
