//! The integrity checks: the log's raw lines read in batches, and the hash chain (seq, prev,
//! hash) checked without parsing JSON, at the speed of SHA-256.
//!
//! Every line is canonical JSON (RFC 8785) with its members sorted, so the entry's last
//! members are always `"hash":…,"mono_ms":…,"prev":…,"role":…,"scripted":…,"seq":…,"utc":…`.
//! `raw` finds `hash`, `prev` and `seq` there, and hashes the line without its `hash` member:
//! that is exactly the entry's canonical body (`raw_parsed` does the same with the members
//! where the one-pass parser found them). Neither needs anything from other lines, so any
//! thread runs them; `Links` then checks, in order, that each entry carries the next seq and
//! the previous entry's hash. The policy stage checks that the line really is the canonical
//! JSON of the entry it parses to, so the two agree.
use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::Fault;
use super::strict::Lean;
use crate::audit::log::GENESIS_PREV;

/// No event comes near this; a longer line is refused so that memory stays bounded.
pub const MAX_LINE: usize = 1 << 20;

/// How much a batch of lines holds (it ends at a line's end, so it may hold a little more).
pub const BATCH_BYTES: usize = 256 << 10;

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

/// Complete lines (each with its newline) from the log, and the number of the first.
#[derive(Debug)]
pub struct Batch {
    pub first_line: u64,
    pub data: Vec<u8>,
}

/// Reads the log in batches of whole lines. Its problems (an unreadable file, a line too long,
/// a torn last line) come after every complete line before them, as `next` returns them then.
#[derive(Debug)]
pub struct Reader<'p> {
    path: &'p Path,
    file: File,
    /// The start of a line whose end is not read yet.
    carry: Vec<u8>,
    next_line: u64,
}

impl<'p> Reader<'p> {
    pub fn open(path: &'p Path) -> Result<Reader<'p>, Fault> {
        let file = File::open(path).map_err(|e| Fault::unreadable(path, &e))?;
        Ok(Reader {
            path,
            file,
            carry: Vec::new(),
            next_line: 1,
        })
    }

    /// The next batch, reusing `buffer`'s allocation; Ok(None) at the end of a whole log.
    pub fn next(&mut self, mut buffer: Vec<u8>) -> Result<Option<Batch>, Fault> {
        buffer.clear();
        buffer.reserve(self.carry.len() + BATCH_BYTES);
        buffer.append(&mut self.carry);
        loop {
            let start = buffer.len();
            let read = (&mut self.file)
                .take(BATCH_BYTES as u64)
                .read_to_end(&mut buffer)
                .map_err(|e| Fault::unreadable(self.path, &e))?;
            let end_of_file = read == 0;
            // Only the new bytes can hold the batch's last newline.
            if let Some(last) = memchr::memrchr(b'\n', &buffer[start..]) {
                self.carry.extend_from_slice(&buffer[start + last + 1..]);
                buffer.truncate(start + last + 1);
                return Ok(Some(self.batch(buffer)));
            }
            // No newline yet: the buffer holds one unfinished line.
            if buffer.len() > MAX_LINE {
                return Err(too_long(self.next_line));
            }
            if end_of_file {
                return match buffer.is_empty() {
                    true => Ok(None),
                    false => Err(Fault::line(
                        self.next_line,
                        "the last line is incomplete: the write was cut off (a power cut during the ceremony) or the log was truncated in the middle of an entry".into(),
                    )),
                };
            }
        }
    }

    fn batch(&mut self, data: Vec<u8>) -> Batch {
        let first_line = self.next_line;
        self.next_line += memchr::memchr_iter(b'\n', &data).count() as u64;
        Batch { first_line, data }
    }
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

/// The chain members of one line and whether its own hash holds.
#[derive(Debug)]
pub struct Raw {
    pub seq: u64,
    prev: [u8; 64],
    hash: [u8; 64],
    pub hash_holds: bool,
}

/// Finds the chain members of line `number` (without its newline) and checks its hash: all
/// that can be known of a line on its own.
pub fn raw(number: u64, line: &[u8]) -> Result<Raw, Fault> {
    if line.len() > MAX_LINE {
        return Err(too_long(number));
    }
    let fields = Tail::find(line).ok_or_else(|| {
        Fault::line(
            number,
            "not an audit entry: its hash, prev and seq are not where the log format puts them (was it edited, or reformatted by another tool?)".into(),
        )
    })?;
    let mut hasher = Sha256::new();
    hasher.update(&line[..fields.hash_member]);
    hasher.update(&line[fields.hash_member + HASH_MEMBER_LEN + 1..]);
    let hash = hex64(fields.hash);
    Ok(Raw {
        seq: fields.seq,
        prev: hex64(fields.prev),
        hash_holds: hex_digest(&hasher.finalize()) == hash,
        hash,
    })
}

/// `raw` for a line the one-pass parser read: the chain members where it found them, not
/// searched for. On a canonical line they are the ones `raw` finds (the last `hash`, `prev`
/// and `seq` members of a canonical line are the entry's own: every member after `hash` is a
/// scalar, and a string cannot hold an unescaped quote). None when they are not in the form
/// `raw` requires (then `raw` says what is wrong).
pub fn raw_parsed(line: &[u8], lean: &Lean) -> Option<Raw> {
    let (prev, hash) = (line.get(lean.prev.clone())?, line.get(lean.hash.clone())?);
    let member = lean.hash_member;
    let whole = line.get(member..member + HASH_MEMBER_LEN + 1)?;
    if prev.len() != 64
        || hash.len() != 64
        || !is_lower_hex(prev)
        || lean.hash.start != member + HASH_KEY.len() - 1
        || !whole.ends_with(b"\",")
    {
        return None;
    }
    let mut hasher = Sha256::new();
    hasher.update(&line[..member]);
    hasher.update(&line[member + HASH_MEMBER_LEN + 1..]);
    let hash = hex64(hash);
    let hash_holds = hex_digest(&hasher.finalize()) == hash;
    // A hash that holds is lowercase hex like the digest; one that does not must still be
    // hex, or `raw` names the line as no entry at all.
    if !hash_holds && !is_lower_hex(&hash) {
        return None;
    }
    Some(Raw {
        seq: lean.seq,
        prev: hex64(prev),
        hash_holds,
        hash,
    })
}

/// The chain so far: the seq and hash the next entry must carry.
#[derive(Debug)]
pub struct Links {
    expected_seq: u64,
    /// Hex of the previous entry's hash.
    prev: [u8; 64],
}

impl Links {
    pub fn new() -> Links {
        Links {
            expected_seq: 0,
            prev: hex64(GENESIS_PREV.as_bytes()),
        }
    }

    pub fn summary(&self, bytes: u64) -> Chain {
        Chain {
            entries: self.expected_seq,
            head: String::from_utf8_lossy(&self.prev).into_owned(),
            bytes,
        }
    }

    /// Links the entry on line `number` to the chain: its seq, its prev, then its own hash.
    pub fn link(&mut self, number: u64, raw: &Raw) -> Result<(), Fault> {
        let seq = raw.seq;
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
        if raw.prev != self.prev {
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
        if !raw.hash_holds {
            return Err(Fault::entry(
                seq,
                number,
                "was edited: its content does not match its hash".into(),
            ));
        }
        self.prev = raw.hash;
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
    fn find(line: &'a [u8]) -> Option<Tail<'a>> {
        if line.first() != Some(&b'{') || line.last() != Some(&b'}') {
            return None;
        }
        let last = Last::find(line);
        let h = last.hash?;
        let hash_member = h + 1;
        let hash = line.get(h + HASH_KEY.len()..h + HASH_KEY.len() + 64)?;
        if line.get(hash_member + HASH_MEMBER_LEN - 1..hash_member + HASH_MEMBER_LEN + 1)
            != Some(b"\",")
            || !is_lower_hex(hash)
        {
            return None;
        }
        // The last `prev` that starts after the hash member, the last `seq` after that.
        let after = hash_member + HASH_MEMBER_LEN;
        let p = last.prev.filter(|&p| p >= after)?;
        let prev = line.get(p + PREV_KEY.len()..p + PREV_KEY.len() + 64)?;
        if line.get(p + PREV_KEY.len() + 64) != Some(&b'"') || !is_lower_hex(prev) {
            return None;
        }
        let s = last.seq.filter(|&s| s >= p)? + SEQ_KEY.len();
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

/// Where the last occurrence of each chain key starts in a line; `prev` and `seq` only when
/// they come after the last `hash` (no other occurrence can be the entry's own).
#[derive(Debug, Default, PartialEq, Eq)]
struct Last {
    hash: Option<usize>,
    prev: Option<usize>,
    seq: Option<usize>,
}

impl Last {
    /// Each key holds one colon at a fixed place: walking the line's colons from its end finds
    /// the last occurrences after a few steps (a substring search from the end is slower).
    fn find(line: &[u8]) -> Last {
        let mut last = Last::default();
        for colon in memchr::memrchr_iter(b':', line) {
            // Every key is `,"name":` (then `"` for the hex ones): its colon is at len(name) + 3.
            let at = |key: &[u8]| {
                let start = colon.checked_sub(key.iter().position(|&b| b == b':')?)?;
                line[start..].starts_with(key).then_some(start)
            };
            if last.prev.is_none() {
                last.prev = at(PREV_KEY);
            }
            if last.seq.is_none() {
                last.seq = at(SEQ_KEY);
            }
            last.hash = at(HASH_KEY);
            if last.hash.is_some() {
                break;
            }
        }
        last
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
    // No early exit: the loop over a whole hash compiles to vector code.
    s.iter()
        .fold(true, |ok, b| ok & matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// 64 hex digits as an array (Tail::find and GENESIS_PREV give exactly 64).
fn hex64(s: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    out.copy_from_slice(&s[..64]);
    out
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

    /// Lines cut across reads come out whole and numbered; a line too long is named.
    #[test]
    fn the_reader_keeps_lines_whole_and_bounded() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("log");
        let line = |i: usize| format!("{}{i}\n", "x".repeat(1000 + i % 7));
        let text: String = (0..1000).map(line).collect();
        std::fs::write(&path, &text).expect("write");
        let mut reader = Reader::open(&path).expect("open");
        let mut read = Vec::new();
        let mut next_line = 1;
        while let Some(batch) = reader.next(Vec::new()).expect("batch") {
            assert_eq!(batch.first_line, next_line);
            next_line += batch.data.iter().filter(|b| **b == b'\n').count() as u64;
            read.extend_from_slice(&batch.data);
        }
        assert_eq!(read, text.as_bytes());

        let long = format!("short\n{}", "y".repeat(MAX_LINE + 10));
        std::fs::write(&path, long).expect("write");
        let mut reader = Reader::open(&path).expect("open");
        let first = reader
            .next(Vec::new())
            .expect("the short line")
            .expect("a batch");
        assert_eq!(first.data, b"short\n");
        let fault = reader.next(Vec::new()).expect_err("too long");
        assert_eq!(fault.line, Some(2));
        assert!(
            fault.problem.contains("longer than 1 MiB"),
            "{}",
            fault.problem
        );
    }

    #[test]
    fn the_raw_body_hash_is_the_canonical_hash() {
        let e = entry(0, GENESIS_PREV);
        let line = e.to_line().expect("line");
        let line = &line[..line.len() - 1];
        let mut links = Links::new();
        let tail = Tail::find(line).expect("tail");
        assert_eq!(tail.seq, 0);
        assert_eq!(tail.hash, e.hash.as_bytes());
        links.link(1, &raw(1, line).expect("raw")).expect("chains");
        let next = entry(1, &e.hash);
        let line = next.to_line().expect("line");
        let line = &line[..line.len() - 1];
        links.link(2, &raw(2, line).expect("raw")).expect("chains");
        assert_eq!(links.expected_seq, 2);
        // The same line again: its seq is not the next one.
        let again = links.link(3, &raw(3, line).expect("raw"));
        assert!(again.is_err_and(|f| f.problem.contains("where seq 2 comes next")));
    }
}
