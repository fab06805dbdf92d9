//! The integrity stage: reads the log's raw lines and checks the hash chain (seq, prev, hash)
//! without parsing JSON, at the speed of SHA-256.
//!
//! Every line is canonical JSON (RFC 8785) with its members sorted, so the entry's last
//! members are always `"hash":…,"mono_ms":…,"prev":…,"role":…,"scripted":…,"seq":…,"utc":…`.
//! This stage finds `hash`, `prev` and `seq` there, and hashes the line without its `hash`
//! member: that is exactly the entry's canonical body. The policy stage checks that the line
//! really is the canonical JSON of the entry it parses to, so the two agree.
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use memchr::memmem::FinderRev;
use sha2::{Digest, Sha256};

use super::Fault;
use crate::audit::log::GENESIS_PREV;

/// No event comes near this; a longer line is refused so that memory stays bounded.
pub const MAX_LINE: usize = 1 << 20;

const HASH_KEY: &[u8] = b",\"hash\":\"";
const PREV_KEY: &[u8] = b",\"prev\":\"";
const SEQ_KEY: &[u8] = b",\"seq\":";

/// What the chain of a whole log came to.
#[derive(Debug)]
pub struct Chain {
    pub entries: u64,
    pub head: String,
    pub bytes: u64,
}

/// Checks the chain line by line, handing every line that passed (with its 1-based number)
/// to `next`; `next` returning Ok(false) stops the reading (the next stage has stopped).
pub fn check(
    path: &Path,
    mut next: impl FnMut(u64, &[u8]) -> Result<bool, Fault>,
) -> Result<Chain, Fault> {
    let file = File::open(path).map_err(|e| Fault::unreadable(path, &e))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut links = Links::new();
    let mut carry: Vec<u8> = Vec::new();
    let mut number = 0u64;
    let mut bytes = 0u64;
    loop {
        let buf = reader.fill_buf().map_err(|e| Fault::unreadable(path, &e))?;
        if buf.is_empty() {
            break;
        }
        let len = buf.len();
        let mut start = 0;
        while let Some(end) = memchr::memchr(b'\n', &buf[start..]) {
            number += 1;
            let end = start + end;
            let line: &[u8] = if carry.is_empty() {
                &buf[start..end]
            } else {
                carry.extend_from_slice(&buf[start..end]);
                &carry
            };
            if line.len() > MAX_LINE {
                return Err(too_long(number));
            }
            links.check(number, line)?;
            if !next(number, line)? {
                return Ok(links.summary(bytes));
            }
            bytes += (line.len() + 1) as u64;
            carry.clear();
            start = end + 1;
        }
        carry.extend_from_slice(&buf[start..]);
        if carry.len() > MAX_LINE {
            return Err(too_long(number + 1));
        }
        reader.consume(len);
    }
    if !carry.is_empty() {
        return Err(Fault::line(
            number + 1,
            "the last line is incomplete: the write was cut off (a power cut during the ceremony) or the log was truncated in the middle of an entry".into(),
        ));
    }
    Ok(links.summary(bytes))
}

fn too_long(number: u64) -> Fault {
    Fault::line(
        number,
        format!(
            "the line is longer than {} MiB; no ceremony event is: this is not an audit log, or it was tampered with",
            MAX_LINE >> 20
        ),
    )
}

struct Links {
    expected_seq: u64,
    /// Hex of the previous entry's hash.
    prev: [u8; 64],
    keys: Keys,
}

/// The member keys, searched for from the end of a line.
struct Keys {
    hash: FinderRev<'static>,
    prev: FinderRev<'static>,
    seq: FinderRev<'static>,
}

impl Links {
    fn new() -> Links {
        Links {
            expected_seq: 0,
            prev: hex32(GENESIS_PREV.as_bytes()).unwrap_or([0; 64]),
            keys: Keys {
                hash: FinderRev::new(HASH_KEY),
                prev: FinderRev::new(PREV_KEY),
                seq: FinderRev::new(SEQ_KEY),
            },
        }
    }

    fn summary(&self, bytes: u64) -> Chain {
        Chain {
            entries: self.expected_seq,
            head: String::from_utf8_lossy(&self.prev).into_owned(),
            bytes,
        }
    }

    fn check(&mut self, number: u64, line: &[u8]) -> Result<(), Fault> {
        let fields = Tail::find(line, &self.keys).ok_or_else(|| {
            Fault::line(
                number,
                "not an audit entry: its hash, prev and seq are not where the log format puts them (was it edited, or reformatted by another tool?)".into(),
            )
        })?;
        let seq = fields.seq;
        if seq != self.expected_seq {
            let what = if seq > self.expected_seq {
                "an entry before it is missing (deleted), or entries were moved"
            } else {
                "an entry was inserted or repeated before it, or entries were moved"
            };
            return Err(Fault::entry(
                seq,
                number,
                format!(
                    "carries seq {seq} where seq {} comes next: {what}",
                    self.expected_seq
                ),
            ));
        }
        if fields.prev != self.prev {
            return Err(Fault::entry(
                seq,
                number,
                if seq == 0 {
                    "the first entry does not start the chain: entries before it were removed"
                        .to_owned()
                } else {
                    format!(
                        "does not chain to the entry before it (seq {}, line {}): that entry was changed after this one was written, or entries were removed or reordered",
                        seq - 1,
                        number - 1
                    )
                },
            ));
        }
        let mut hasher = Sha256::new();
        hasher.update(&line[..fields.hash_member]);
        hasher.update(&line[fields.hash_member + HASH_MEMBER_LEN + 1..]);
        if hex_digest(&hasher.finalize()) != fields.hash {
            return Err(Fault::entry(
                seq,
                number,
                "was edited: its content does not match its hash".into(),
            ));
        }
        self.prev.copy_from_slice(fields.hash);
        self.expected_seq += 1;
        Ok(())
    }
}

/// `"hash":"<64 hex>"`
const HASH_MEMBER_LEN: usize = 8 + 64 + 1;

/// The chain members of a line, found from its end.
struct Tail<'a> {
    /// Offset of the `"hash"` member's opening quote.
    hash_member: usize,
    hash: &'a [u8],
    prev: &'a [u8],
    seq: u64,
}

impl<'a> Tail<'a> {
    fn find(line: &'a [u8], keys: &Keys) -> Option<Tail<'a>> {
        if line.first() != Some(&b'{') || line.last() != Some(&b'}') {
            return None;
        }
        let h = keys.hash.rfind(line)?;
        let hash_member = h + 1;
        let hash = line.get(h + HASH_KEY.len()..h + HASH_KEY.len() + 64)?;
        if line.get(hash_member + HASH_MEMBER_LEN - 1..hash_member + HASH_MEMBER_LEN + 1)
            != Some(b"\",")
            || !is_lower_hex(hash)
        {
            return None;
        }
        let after = hash_member + HASH_MEMBER_LEN;
        let p = after + keys.prev.rfind(&line[after..])?;
        let prev = line.get(p + PREV_KEY.len()..p + PREV_KEY.len() + 64)?;
        if line.get(p + PREV_KEY.len() + 64) != Some(&b'"') || !is_lower_hex(prev) {
            return None;
        }
        let s = p + keys.seq.rfind(&line[p..])? + SEQ_KEY.len();
        let digits_len = line[s..].iter().take_while(|b| b.is_ascii_digit()).count();
        let digits = &line[s..s + digits_len];
        if digits.is_empty() || digits.len() > 16 || (digits.len() > 1 && digits[0] == b'0') {
            return None;
        }
        if !matches!(line.get(s + digits_len), Some(b',' | b'}')) {
            return None;
        }
        let seq = digits
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        Some(Tail {
            hash_member,
            hash,
            prev,
            seq,
        })
    }
}

/// Lowercase hex of a SHA-256 digest, without allocating.
fn hex_digest(digest: &[u8]) -> [u8; 64] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for (i, b) in digest.iter().take(32).enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 0xF)];
    }
    out
}

fn is_lower_hex(s: &[u8]) -> bool {
    s.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn hex32(s: &[u8]) -> Option<[u8; 64]> {
    s.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::log::Entry;
    use crate::ceremony::machine::{Event, Role};

    fn entry(seq: u64, prev: &str) -> Entry {
        let mut e = Entry {
            seq,
            utc: "2026-11-29T14:23:57.881Z".into(),
            mono_ms: 5,
            actor: Some("alice".into()),
            role: Some(Role::Custodian),
            scripted: true,
            event: Event::ShareRejected {
                custodian: "alice".into(),
                reason: "\"hash\":\"x\" ,\"seq\":9 in a reason".into(),
            },
            prev: prev.into(),
            hash: String::new(),
        };
        e.hash = e.compute_hash().expect("hash");
        e
    }

    #[test]
    fn the_raw_body_hash_is_the_canonical_hash() {
        let e = entry(0, GENESIS_PREV);
        let line = e.to_line().expect("line");
        let line = &line[..line.len() - 1];
        let mut links = Links::new();
        let tail = Tail::find(line, &links.keys).expect("tail");
        assert_eq!(tail.seq, 0);
        assert_eq!(tail.hash, e.hash.as_bytes());
        links.check(1, line).expect("chains");
        let next = entry(1, &e.hash);
        let line = next.to_line().expect("line");
        links.check(2, &line[..line.len() - 1]).expect("chains");
        assert_eq!(links.expected_seq, 2);
    }
}
