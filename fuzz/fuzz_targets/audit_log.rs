//! The audit log reader that resuming relies on: `log::read_verified` (canonical form and hash
//! chain of every complete line, a torn last line tolerated) for ceremony logs and provisioning
//! logs, and `log::verify_chain`. The log is written to a scratch file (they read a path).
#![forbid(unsafe_code)]
#![no_main]

use byok_ceremony::audit::log;
use byok_ceremony::ceremony::machine::Event;
use byok_ceremony::quorum::events::QuorumEvent;
use byok_ceremony_fuzz::scratch_file;
use libfuzzer_sys::fuzz_target;

fn check<E: log::Logged + PartialEq>(path: &std::path::Path, data: &[u8]) {
    let verified = log::read_verified::<E>(path);
    let chain = log::verify_chain::<E>(path);
    if let Ok((entries, len)) = &verified {
        let len = usize::try_from(*len).expect("length");
        assert!(len <= data.len());
        assert!(len == 0 || data[len - 1] == b'\n', "cut at a line end");
        // What was read is exactly the entries' canonical lines.
        let mut again = Vec::new();
        for entry in entries {
            again.extend(entry.to_line().expect("writes"));
        }
        assert_eq!(
            again,
            &data[..len],
            "read_verified returned other entries than the lines"
        );
        if len == data.len() {
            let (count, head) = chain.expect("a log that verifies has a chain");
            assert_eq!(count, entries.len() as u64);
            if let Some(last) = entries.last() {
                assert_eq!(head, last.hash);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let path = scratch_file("audit.jsonl", data);
    check::<Event>(&path, data);
    check::<QuorumEvent>(&path, data);
});
