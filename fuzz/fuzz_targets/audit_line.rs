//! One audit log line, two readers: `audit verify`'s one pass (`strict`, reached through
//! `audit::verify::one_pass_entry`), which proves a line canonical without writing it out,
//! against the full way (serde_json, then the writer's own form, as `log::read_verified` does).
//! Whenever the one pass vouches for a line, the full way must read the same entry from it and
//! write exactly that line back.
#![forbid(unsafe_code)]
#![no_main]

use byok_ceremony::audit::log::Entry;
use byok_ceremony::audit::verify::one_pass_entry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let full = serde_json::from_str::<Entry>(line);
    let written = full.as_ref().ok().map(|entry| entry.to_line());
    if let Some(fast) = one_pass_entry(line) {
        let entry = full
            .as_ref()
            .expect("the one pass vouched for a line serde_json refuses");
        assert_eq!(
            &fast, entry,
            "the one pass and serde_json read different entries"
        );
        let written = written.expect("parsed").expect("a parsed entry writes");
        assert_eq!(
            written.strip_suffix(b"\n"),
            Some(line.as_bytes()),
            "the one pass vouched for a line that is not the entry's canonical form"
        );
    }
});
