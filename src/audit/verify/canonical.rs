//! Is a log line exactly the canonical JSON (RFC 8785, JCS) of the entry it parses to?
//!
//! The writer makes every line with `serde_jcs`; the verifier must hold each line to that same
//! form, but `serde_jcs` is slow (it re-parses every key and boxes every write). This is a
//! fast canonical writer with the same output for the log's schema: serde_json's serializer
//! with a formatter that writes JCS (RFC 8785 string escapes, members sorted by key), used to
//! re-serialize the parsed entry and compare it with the line byte for byte. Where it could
//! differ from `serde_jcs` (a non-ASCII or escaped key, an integer beyond 2^53, a float) it
//! says so and the caller falls back to `serde_jcs` itself.
use std::io;

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter};

/// Integers JCS prints exactly (IEEE 754 doubles hold them exactly).
const MAX_EXACT_INTEGER: u128 = (1 << 53) - 1;

/// A reusable canonical writer: buffers survive from one entry to the next.
#[derive(Debug, Default)]
pub struct Canonical {
    out: Vec<u8>,
    scratch: Vec<u8>,
    frames: Vec<Frame>,
    depth: usize,
    /// Set when this writer cannot promise `serde_jcs`'s output.
    unsure: bool,
}

#[derive(Debug, Default)]
struct Frame {
    /// Where the object's members start in `out` (just after `{`).
    start: usize,
    /// (member start, key end, member end) for each member, in written order.
    members: Vec<(usize, usize, usize)>,
    member_start: usize,
    key_end: usize,
}

/// The answer for one line.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Canonical,
    NotCanonical,
    /// The fast writer cannot decide: compare with `serde_jcs` instead.
    Unsure,
}

impl Canonical {
    /// Compares `line` (without its newline) with the canonical JSON of `value`.
    pub fn check<T: Serialize>(&mut self, value: &T, line: &[u8]) -> Verdict {
        self.out.clear();
        self.depth = 0;
        self.unsure = false;
        let mut ser = serde_json::Serializer::with_formatter(io::sink(), Jcs(self));
        if value.serialize(&mut ser).is_err() || self.unsure {
            return Verdict::Unsure;
        }
        if self.out == line {
            Verdict::Canonical
        } else {
            Verdict::NotCanonical
        }
    }

    /// The canonical bytes of the last `check` (for tests).
    #[cfg(test)]
    pub fn last(&self) -> &[u8] {
        &self.out
    }

    fn integer(&mut self, negative: bool, magnitude: u128) {
        if magnitude > MAX_EXACT_INTEGER {
            self.unsure = true;
            return;
        }
        if negative && magnitude != 0 {
            self.out.push(b'-');
        }
        let mut digits = [0u8; 20];
        let mut n = magnitude;
        let mut i = digits.len();
        loop {
            i -= 1;
            // n % 10 < 10: the cast cannot truncate.
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.out.extend_from_slice(&digits[i..]);
    }

    fn end_object(&mut self) {
        let Some(depth) = self.depth.checked_sub(1) else {
            self.unsure = true;
            return;
        };
        self.depth = depth;
        let Some(frame) = self.frames.get_mut(depth) else {
            self.unsure = true;
            return;
        };
        let out = &self.out;
        let key = |&(start, key_end, _): &(usize, usize, usize)| &out[start + 1..key_end - 1];
        // Keys are plain ASCII here (checked as written), so byte order is JCS's UTF-16 order.
        frame.members.sort_by(|a, b| key(a).cmp(key(b)));
        self.scratch.clear();
        for (i, &(start, _, end)) in frame.members.iter().enumerate() {
            if i > 0 {
                self.scratch.push(b',');
            }
            self.scratch.extend_from_slice(&self.out[start..end]);
        }
        self.out.truncate(frame.start);
        self.out.extend_from_slice(&self.scratch);
        self.out.push(b'}');
    }
}

/// The formatter: writes into the `Canonical`'s buffer and ignores serde_json's writer.
struct Jcs<'a>(&'a mut Canonical);

impl Formatter for Jcs<'_> {
    fn write_null<W: ?Sized + io::Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.0.out.extend_from_slice(b"null");
        Ok(())
    }
    fn write_bool<W: ?Sized + io::Write>(&mut self, _: &mut W, v: bool) -> io::Result<()> {
        self.0
            .out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn write_i8<W: ?Sized + io::Write>(&mut self, _: &mut W, v: i8) -> io::Result<()> {
        self.0.integer(v < 0, u128::from(v.unsigned_abs()));
        Ok(())
    }
    fn write_i16<W: ?Sized + io::Write>(&mut self, _: &mut W, v: i16) -> io::Result<()> {
        self.0.integer(v < 0, u128::from(v.unsigned_abs()));
        Ok(())
    }
    fn write_i32<W: ?Sized + io::Write>(&mut self, _: &mut W, v: i32) -> io::Result<()> {
        self.0.integer(v < 0, u128::from(v.unsigned_abs()));
        Ok(())
    }
    fn write_i64<W: ?Sized + io::Write>(&mut self, _: &mut W, v: i64) -> io::Result<()> {
        self.0.integer(v < 0, u128::from(v.unsigned_abs()));
        Ok(())
    }
    fn write_i128<W: ?Sized + io::Write>(&mut self, _: &mut W, v: i128) -> io::Result<()> {
        self.0.integer(v < 0, v.unsigned_abs());
        Ok(())
    }
    fn write_u8<W: ?Sized + io::Write>(&mut self, _: &mut W, v: u8) -> io::Result<()> {
        self.0.integer(false, u128::from(v));
        Ok(())
    }
    fn write_u16<W: ?Sized + io::Write>(&mut self, _: &mut W, v: u16) -> io::Result<()> {
        self.0.integer(false, u128::from(v));
        Ok(())
    }
    fn write_u32<W: ?Sized + io::Write>(&mut self, _: &mut W, v: u32) -> io::Result<()> {
        self.0.integer(false, u128::from(v));
        Ok(())
    }
    fn write_u64<W: ?Sized + io::Write>(&mut self, _: &mut W, v: u64) -> io::Result<()> {
        self.0.integer(false, u128::from(v));
        Ok(())
    }
    fn write_u128<W: ?Sized + io::Write>(&mut self, _: &mut W, v: u128) -> io::Result<()> {
        self.0.integer(false, v);
        Ok(())
    }
    fn write_f32<W: ?Sized + io::Write>(&mut self, _: &mut W, _: f32) -> io::Result<()> {
        self.0.unsure = true;
        Ok(())
    }
    fn write_f64<W: ?Sized + io::Write>(&mut self, _: &mut W, _: f64) -> io::Result<()> {
        self.0.unsure = true;
        Ok(())
    }
    fn write_number_str<W: ?Sized + io::Write>(&mut self, _: &mut W, _: &str) -> io::Result<()> {
        self.0.unsure = true;
        Ok(())
    }
    fn write_raw_fragment<W: ?Sized + io::Write>(&mut self, _: &mut W, _: &str) -> io::Result<()> {
        self.0.unsure = true;
        Ok(())
    }
    fn begin_string<W: ?Sized + io::Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.0.out.push(b'"');
        Ok(())
    }
    fn end_string<W: ?Sized + io::Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.0.out.push(b'"');
        Ok(())
    }
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        _: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        self.0.out.extend_from_slice(fragment.as_bytes());
        Ok(())
    }
    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        _: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let out = &mut self.0.out;
        match escape {
            CharEscape::Quote => out.extend_from_slice(b"\\\""),
            CharEscape::ReverseSolidus => out.extend_from_slice(b"\\\\"),
            CharEscape::Solidus => out.push(b'/'),
            CharEscape::Backspace => out.extend_from_slice(b"\\b"),
            CharEscape::FormFeed => out.extend_from_slice(b"\\f"),
            CharEscape::LineFeed => out.extend_from_slice(b"\\n"),
            CharEscape::CarriageReturn => out.extend_from_slice(b"\\r"),
            CharEscape::Tab => out.extend_from_slice(b"\\t"),
            CharEscape::AsciiControl(c) => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(c >> 4)],
                HEX[usize::from(c & 0xF)],
            ]),
        }
        Ok(())
    }
    fn begin_array<W: ?Sized + io::Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.0.out.push(b'[');
        Ok(())
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.0.out.push(b']');
        Ok(())
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        _: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if !first {
            self.0.out.push(b',');
        }
        Ok(())
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, _: &mut W) -> io::Result<()> {
        Ok(())
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, _: &mut W) -> io::Result<()> {
        let c = &mut *self.0;
        c.out.push(b'{');
        if c.frames.len() == c.depth {
            c.frames.push(Frame::default());
        }
        if let Some(frame) = c.frames.get_mut(c.depth) {
            frame.start = c.out.len();
            frame.members.clear();
        }
        c.depth += 1;
        Ok(())
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.0.end_object();
        Ok(())
    }
    fn begin_object_key<W: ?Sized + io::Write>(&mut self, _: &mut W, _: bool) -> io::Result<()> {
        let c = &mut *self.0;
        let at = c.out.len();
        match c.depth.checked_sub(1).and_then(|d| c.frames.get_mut(d)) {
            Some(frame) => frame.member_start = at,
            None => c.unsure = true,
        }
        Ok(())
    }
    fn end_object_key<W: ?Sized + io::Write>(&mut self, _: &mut W) -> io::Result<()> {
        let c = &mut *self.0;
        let at = c.out.len();
        match c.depth.checked_sub(1).and_then(|d| c.frames.get_mut(d)) {
            Some(frame) => {
                frame.key_end = at;
                let key = &c.out[frame.member_start..at];
                // A key that is not a plain quoted ASCII name would need UTF-16 ordering.
                let plain = key.len() >= 2
                    && key[1..key.len() - 1]
                        .iter()
                        .all(|b| b.is_ascii() && *b >= 0x20 && *b != b'"' && *b != b'\\');
                if !plain {
                    c.unsure = true;
                }
            }
            None => c.unsure = true,
        }
        Ok(())
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.0.out.push(b':');
        Ok(())
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, _: &mut W) -> io::Result<()> {
        let c = &mut *self.0;
        let at = c.out.len();
        match c.depth.checked_sub(1).and_then(|d| c.frames.get_mut(d)) {
            Some(frame) => {
                let member = (frame.member_start, frame.key_end, at);
                frame.members.push(member);
            }
            None => c.unsure = true,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Serialize;

    #[derive(Serialize)]
    struct Sample {
        zeta: String,
        alpha: Option<String>,
        list: Vec<Inner>,
        n: u64,
        flag: bool,
        #[serde(rename = "AB")]
        upper: i32,
    }

    #[derive(Serialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    enum Inner {
        One { text: String, b: u8 },
        Two,
    }

    fn sample(text: String, n: u64, upper: i32) -> Sample {
        Sample {
            zeta: text.clone(),
            alpha: Some(text.chars().rev().collect()),
            list: vec![Inner::One { text, b: 7 }, Inner::Two],
            n,
            flag: n % 2 == 0,
            upper,
        }
    }

    fn agrees(value: &Sample) {
        let reference = serde_jcs::to_vec(value).expect("serde_jcs");
        let mut c = Canonical::default();
        assert_eq!(c.check(value, &reference), Verdict::Canonical);
        assert_eq!(c.last(), &reference[..]);
    }

    #[test]
    fn matches_serde_jcs_on_escapes_and_order() {
        agrees(&sample("plain".into(), 0, -5));
        agrees(&sample(
            "q\"b\\s/\u{8}\u{c}\n\r\t\u{1}\u{1f}\u{7f}é€😀".into(),
            42,
            0,
        ));
    }

    #[test]
    fn a_reordered_or_spaced_line_is_not_canonical() {
        let value = sample("x".into(), 1, 2);
        let mut c = Canonical::default();
        let good = serde_jcs::to_vec(&value).expect("jcs");
        let spaced = String::from_utf8(good.clone())
            .expect("utf8")
            .replace(':', ": ");
        assert_eq!(c.check(&value, spaced.as_bytes()), Verdict::NotCanonical);
        let plain = serde_json::to_vec(&value).expect("json");
        assert_eq!(c.check(&value, &plain), Verdict::NotCanonical);
    }

    #[test]
    fn large_integers_are_left_to_serde_jcs() {
        let value = sample("x".into(), 1 << 60, 0);
        let mut c = Canonical::default();
        assert_eq!(c.check(&value, b"{}"), Verdict::Unsure);
    }

    proptest! {
        #[test]
        fn agrees_with_serde_jcs(text in "\\PC*|[\\x00-\\x1f\"\\\\/]*", n in 0u64..(1 << 53), upper in any::<i32>()) {
            agrees(&sample(text, n, upper));
        }
    }
}
