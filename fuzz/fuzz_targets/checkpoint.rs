//! Checkpoint notes (C2SP signed notes over the log's chain, ECDSA P-256): `checkpoint::verify`.
//! Input: what the note is checked against, a NUL, then the note. The first part is lines:
//! the ceremony id, the number of entries covered, the head hash (hex), the audit key's note
//! name, then the audit key as SPKI PEM. Seeds are the checkpoints of real ceremony logs with
//! the seq and prev of the entry that logged them and the audit key of the token's record.
#![forbid(unsafe_code)]
#![no_main]

use byok_ceremony::audit::checkpoint;
use byok_ceremony_fuzz::parts;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [params, note] = parts(data, 2)[..] else {
        return;
    };
    let (Ok(params), Ok(note)) = (std::str::from_utf8(params), std::str::from_utf8(note)) else {
        return;
    };
    let mut lines = params.splitn(5, '\n');
    let (Some(id), Some(size), Some(head), Some(name), Some(pem)) = (
        lines.next(),
        lines.next(),
        lines.next(),
        lines.next(),
        lines.next(),
    ) else {
        return;
    };
    let Ok(size) = size.parse::<u64>() else {
        return;
    };
    let Ok((_, spki)) = der::pem::decode_vec(pem.trim().as_bytes()) else {
        return;
    };
    if checkpoint::verify(note, id, size, head, &spki, name).is_ok() {
        // A note that verifies is byte for byte what `sign` writes: it names this ceremony.
        assert!(note.starts_with(&checkpoint::origin(id)));
        assert!(note.ends_with('\n'));
    }
});
