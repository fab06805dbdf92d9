//! One pass over a log line that both parses it and proves it canonical (RFC 8785), without
//! writing the entry out again.
//!
//! The entry's own nine members are always the same, in the same (sorted) order: they are
//! read as literal text around their values. The event goes through a serde `Deserializer`
//! that accepts only canonical JSON: no whitespace, the members of every object in strictly
//! increasing key order, strings with exactly JCS's escapes, integers in their shortest form;
//! the tag is found first (see `event`). What syntax cannot show is checked by counting: every
//! member of the line becomes a field of the event (every type in the event refuses unknown
//! fields, and this deserializer never skips a value), and the event must write exactly as
//! many members as the line holds, so no field was filled in by default nor left out.
//! Together: the line is byte for byte the canonical JSON of the entry it parses to.
//!
//! This is the fast path only. It answers "yes" or "cannot tell"; whenever it cannot tell (any
//! problem at all, a float, an integer beyond 2^53, an escaped or non-ASCII key, an escape in
//! the entry's own text, deep nesting) the caller falls back to the full check (serde_json,
//! then comparing with a re-serialization), which decides and says what is wrong.
use serde::Deserialize;
use serde::de::value::BorrowedStrDeserializer;
use serde::de::{
    self, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess, VariantAccess,
    Visitor,
};
use serde::ser::{self, Serialize};

use std::ops::Range;

use super::event::EventDef;
use super::policy::View;
use crate::ceremony::machine::{Event, Role};

/// Integers JCS prints exactly (IEEE 754 doubles hold them exactly).
const MAX_EXACT_INTEGER: u64 = (1 << 53) - 1;

/// Deeper nesting is left to serde_json (which refuses past 128): no entry nests near this.
const MAX_DEPTH: usize = 32;

/// Every role as JSON (a test holds this to `Role`'s own serialization).
const ROLES: [(&[u8], Role); 5] = [
    (b"\"administrator\"", Role::Administrator),
    (b"\"custodian\"", Role::Custodian),
    (b"\"witness\"", Role::Witness),
    (b"\"auditor\"", Role::Auditor),
    (b"\"system\"", Role::System),
];

/// The member that names an event's variant.
const EVENT_TAG: &str = "event";

/// An entry read by the one pass: an `Entry` whose text members are left in its line, where
/// they are byte ranges. No allocation for them, and nothing to free.
#[derive(Debug)]
pub struct Lean {
    pub seq: u64,
    pub mono_ms: u64,
    pub role: Option<Role>,
    /// Checked like the rest; no policy reads it (the tests rebuild whole entries with it).
    #[cfg_attr(not(test), allow(dead_code))]
    pub scripted: bool,
    /// Where its event is in the batch's events (kept apart: an event is large, and each
    /// move of it would be a copy).
    pub event: usize,
    utc: Range<usize>,
    actor: Option<Range<usize>>,
    pub prev: Range<usize>,
    pub hash: Range<usize>,
    /// Where the top-level `"hash"` member starts (its opening quote).
    pub hash_member: usize,
}

impl Lean {
    /// The entry for the policy, its text read from `line` (the line it was parsed from).
    pub fn view<'a>(&'a self, line: &'a [u8], events: &'a [Event]) -> Option<View<'a>> {
        Some(View {
            seq: self.seq,
            utc: line.get(self.utc.clone())?,
            mono_ms: self.mono_ms,
            actor: match &self.actor {
                Some(r) => Some(line.get(r.clone())?),
                None => None,
            },
            role: self.role,
            event: events.get(self.event)?,
            prev: line.get(self.prev.clone())?,
            hash: line.get(self.hash.clone())?,
        })
    }
}

/// Parses `line` (without its newline) if it is the canonical JSON of the entry it parses to,
/// its event pushed onto `events`; None when this pass cannot tell. A `str`: UTF-8 is checked
/// once for a whole batch of lines; every string is then a slice cut at ASCII quotes.
pub fn parse(line: &str, events: &mut Vec<Event>) -> Option<Lean> {
    let text = line;
    let line = line.as_bytes();
    let mut de = Strict {
        text,
        input: line,
        pos: 0,
        depth: 0,
        members: 0,
        scratch: String::new(),
    };
    let lean = de.entry(events).ok()?;
    // The event's members in the line are all of those it writes (see the module's comment).
    let mut written = Counter(0);
    let counted = events.last().map(|e| e.serialize(&mut written));
    if de.pos != line.len() || counted.is_none_or(|c| c.is_err()) || written.0 != de.members {
        events.pop();
        return None;
    }
    Some(lean)
}

/// The only error: this pass cannot vouch for the line.
#[derive(Debug)]
pub struct Decline;

impl std::fmt::Display for Decline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not provably canonical")
    }
}

impl std::error::Error for Decline {}

impl de::Error for Decline {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Decline
    }
}

impl ser::Error for Decline {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Decline
    }
}

type Result<T> = std::result::Result<T, Decline>;

struct Strict<'de> {
    text: &'de str,
    /// `text` as bytes.
    input: &'de [u8],
    pos: usize,
    depth: usize,
    /// Object members read so far, in the whole line.
    members: u64,
    /// Unescaped text of the current string, when it has escapes.
    scratch: String,
}

impl<'de> Strict<'de> {
    /// The entry's own members, always these nine in this (sorted) order, read as literal
    /// text; the event through serde (`EventDef`).
    fn entry(&mut self, events: &mut Vec<Event>) -> Result<Lean> {
        self.eat_word(b"{\"actor\":")?;
        let actor = match self.peek() {
            Some(b'n') => {
                self.eat_word(b"null")?;
                None
            }
            _ => Some(self.span()?),
        };
        self.eat_word(b",\"event\":")?;
        let event = EventDef::deserialize(&mut *self)?;
        let hash_member = self.pos + 1;
        self.eat_word(b",\"hash\":")?;
        let hash = self.span()?;
        self.eat_word(b",\"mono_ms\":")?;
        let mono_ms = self.unsigned()?;
        self.eat_word(b",\"prev\":")?;
        let prev = self.span()?;
        self.eat_word(b",\"role\":")?;
        let role = self.role()?;
        self.eat_word(b",\"scripted\":")?;
        let scripted = bool::deserialize(&mut *self)?;
        self.eat_word(b",\"seq\":")?;
        let seq = self.unsigned()?;
        self.eat_word(b",\"utc\":")?;
        let utc = self.span()?;
        self.eat(b'}')?;
        events.push(event);
        Ok(Lean {
            seq,
            mono_ms,
            role,
            scripted,
            event: events.len() - 1,
            utc,
            actor,
            prev,
            hash,
            hash_member,
        })
    }

    /// The entry's role: null or one of the roles' names (as `Role` writes them).
    fn role(&mut self) -> Result<Option<Role>> {
        if self.eat_word(b"null").is_ok() {
            return Ok(None);
        }
        let rest = &self.input[self.pos..];
        let (text, role) = ROLES
            .iter()
            .find(|(text, _)| rest.starts_with(text))
            .ok_or(Decline)?;
        self.pos += text.len();
        Ok(Some(*role))
    }

    /// An unsigned integer in JCS's form (no sign, no leading zero, at most 2^53 - 1).
    fn unsigned(&mut self) -> Result<u64> {
        let digits = &self.input[self.pos..];
        let len = digits
            .iter()
            .take(17)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if len == 0 || len > 16 || (len > 1 && digits[0] == b'0') {
            return Err(Decline);
        }
        let value = digits[..len]
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        self.pos += len;
        if value > MAX_EXACT_INTEGER || matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return Err(Decline);
        }
        Ok(value)
    }

    /// A string without escapes (the entry's own text members are written so), as its place
    /// in the line.
    fn span(&mut self) -> Result<Range<usize>> {
        self.eat(b'"')?;
        let start = self.pos;
        let len = find_special(&self.input[start..]);
        if self.input.get(start + len) != Some(&b'"') {
            return Err(Decline);
        }
        self.pos = start + len + 1;
        Ok(start..start + len)
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> Result<()> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(Decline)
        }
    }

    fn eat_word(&mut self, word: &[u8]) -> Result<()> {
        if self.input[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(Decline)
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Decline);
        }
        Ok(())
    }

    /// A key: ASCII without escapes (so that byte order is JCS's UTF-16 order).
    fn key(&mut self) -> Result<&'de str> {
        self.eat(b'"')?;
        let start = self.pos;
        let rest = &self.input[start..];
        let len = find_special(rest);
        if rest.get(len) != Some(&b'"') || !rest[..len].is_ascii() {
            return Err(Decline);
        }
        self.pos = start + len + 1;
        self.text.get(start..start + len).ok_or(Decline)
    }

    /// A string with exactly JCS's escapes, handed to `visitor` borrowed when it has none.
    fn string<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        self.eat(b'"')?;
        let start = self.pos;
        let rest = &self.input[start..];
        let len = find_special(rest);
        match rest.get(len) {
            Some(b'"') => {
                self.pos = start + len + 1;
                visitor.visit_borrowed_str(self.text.get(start..start + len).ok_or(Decline)?)
            }
            Some(b'\\') => {
                self.scratch.clear();
                self.scratch
                    .push_str(self.text.get(start..start + len).ok_or(Decline)?);
                self.pos = start + len;
                self.escaped_rest()?;
                visitor.visit_str(&self.scratch)
            }
            // A raw control character, or no closing quote.
            _ => Err(Decline),
        }
    }

    /// The rest of a string from an escape on, unescaped into `scratch`.
    fn escaped_rest(&mut self) -> Result<()> {
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    let (byte, len) = canonical_escape(&self.input[self.pos..]).ok_or(Decline)?;
                    self.scratch.push(char::from(byte));
                    self.pos += len;
                }
                Some(_) => {
                    let len = find_special(&self.input[self.pos..]);
                    if len == 0 {
                        return Err(Decline);
                    }
                    let plain = self.text.get(self.pos..self.pos + len).ok_or(Decline)?;
                    self.scratch.push_str(plain);
                    self.pos += len;
                }
                None => return Err(Decline),
            }
        }
    }

    /// An integer in JCS's form: no sign on zero, no leading zeros, no fraction or exponent,
    /// and small enough that JCS prints it exactly.
    fn integer<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let digits = self.input[self.pos..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let text = &self.input[self.pos..self.pos + digits];
        if digits == 0 || digits > 16 || (digits > 1 && text[0] == b'0') {
            return Err(Decline);
        }
        self.pos += digits;
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return Err(Decline);
        }
        let value = text.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        if value > MAX_EXACT_INTEGER || (negative && value == 0) {
            return Err(Decline);
        }
        if negative {
            // value <= 2^53 - 1: the cast is exact.
            visitor.visit_i64(-(value as i64))
        } else {
            visitor.visit_u64(value)
        }
    }

    fn object<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        self.members_of(visitor, None)
    }

    /// An object's members for `visitor`, less the tag member when `tag` names its value.
    fn members_of<V: Visitor<'de>>(
        &mut self,
        visitor: V,
        tag: Option<&'de str>,
    ) -> Result<V::Value> {
        self.eat(b'{')?;
        self.enter()?;
        let mut members = Members {
            de: self,
            previous: None,
            tag,
            done: false,
        };
        let value = visitor.visit_map(&mut members)?;
        // The visitor must have read every member up to the closing brace.
        if !members.done {
            return Err(Decline);
        }
        self.depth -= 1;
        Ok(value)
    }

    fn array<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        self.eat(b'[')?;
        self.enter()?;
        let mut elements = Elements {
            de: self,
            first: true,
            done: false,
        };
        let value = visitor.visit_seq(&mut elements)?;
        if !elements.done {
            return Err(Decline);
        }
        self.depth -= 1;
        Ok(value)
    }
}

/// The byte an escape at the start of `s` stands for and the escape's length, if it is the
/// escape JCS writes for that byte (`\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, and `\u00xx` in
/// lowercase hex for the other control characters); None for any other escape.
fn canonical_escape(s: &[u8]) -> Option<(u8, usize)> {
    let short = match s.get(1)? {
        b'"' => b'"',
        b'\\' => b'\\',
        b'b' => 0x08,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'u' => {
            let hex = s.get(2..6)?;
            let digit = |b: u8| match b {
                b'0'..=b'9' => Some(b - b'0'),
                b'a'..=b'f' => Some(b - b'a' + 10),
                _ => None,
            };
            if hex[0] != b'0' || hex[1] != b'0' {
                return None;
            }
            let byte = digit(hex[2])? << 4 | digit(hex[3])?;
            let has_short_form = matches!(byte, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d);
            return (byte < 0x20 && !has_short_form).then_some((byte, 6));
        }
        _ => return None,
    };
    Some((short, 2))
}

/// The index of the first byte in `s` that ends a run of plain string text (`"`, `\` or a
/// control character), or `s.len()`. Eight bytes at a time: strings are most of a line.
fn find_special(s: &[u8]) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut i = 0;
    while let Some(chunk) = s.get(i..i + 8) {
        let Ok(bytes) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let w = u64::from_ne_bytes(bytes);
        let quote = w ^ (ONES * u64::from(b'"'));
        let backslash = w ^ (ONES * u64::from(b'\\'));
        // The classic "has a zero byte" and "has a byte below 0x20" tests: exact about whether
        // such a byte exists in the word (the byte loop below finds which).
        let zero_in = |v: u64| v.wrapping_sub(ONES) & !v;
        let hits = zero_in(quote) | zero_in(backslash) | (w.wrapping_sub(ONES * 0x20) & !w);
        if hits & HIGH != 0 {
            break;
        }
        i += 8;
    }
    i + s[i..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .unwrap_or(s.len() - i)
}

/// `a < b`, bytewise. Keys mostly differ in their first byte: inline, not a library call.
fn increasing(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    match a.iter().zip(b).find(|(x, y)| x != y) {
        Some((x, y)) => x < y,
        None => a.len() < b.len(),
    }
}

/// The members of an object, keys checked in strictly increasing order (so none repeats).
struct Members<'a, 'de> {
    de: &'a mut Strict<'de>,
    previous: Option<&'de str>,
    /// An event's variant name: its tag member is checked and counted, not handed on.
    tag: Option<&'de str>,
    done: bool,
}

impl<'de> Members<'_, 'de> {
    /// The next member's key, or None at the end of the object.
    fn next_key(&mut self) -> Result<Option<&'de str>> {
        if self.de.peek() == Some(b'}') {
            self.de.pos += 1;
            self.done = true;
            return Ok(None);
        }
        if self.previous.is_some() {
            self.de.eat(b',')?;
        }
        let key = self.de.key()?;
        if self.previous.is_some_and(|p| !increasing(p, key)) {
            return Err(Decline);
        }
        self.previous = Some(key);
        self.de.eat(b':')?;
        self.de.members += 1;
        Ok(Some(key))
    }
}

impl<'de> MapAccess<'de> for Members<'_, 'de> {
    type Error = Decline;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        let Some(mut key) = self.next_key()? else {
            return Ok(None);
        };
        if let Some(tag) = self.tag.filter(|_| key == EVENT_TAG) {
            // The variant was chosen by this very member: it must say so, plainly.
            if self.de.key()? != tag {
                return Err(Decline);
            }
            let Some(next) = self.next_key()? else {
                return Ok(None);
            };
            key = next;
        }
        seed.deserialize(BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        seed.deserialize(&mut *self.de)
    }
}

struct Elements<'a, 'de> {
    de: &'a mut Strict<'de>,
    first: bool,
    done: bool,
}

impl<'de> SeqAccess<'de> for Elements<'_, 'de> {
    type Error = Decline;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.de.peek() == Some(b']') {
            self.de.pos += 1;
            self.done = true;
            return Ok(None);
        }
        if !self.first {
            self.de.eat(b',')?;
        }
        self.first = false;
        seed.deserialize(&mut *self.de).map(Some)
    }
}

impl<'de> de::Deserializer<'de> for &mut Strict<'de> {
    type Error = Decline;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek().ok_or(Decline)? {
            b'{' => self.object(visitor),
            b'[' => self.array(visitor),
            b'"' => self.string(visitor),
            b't' => {
                self.eat_word(b"true")?;
                visitor.visit_bool(true)
            }
            b'f' => {
                self.eat_word(b"false")?;
                visitor.visit_bool(false)
            }
            b'n' => {
                self.eat_word(b"null")?;
                visitor.visit_unit()
            }
            b'-' | b'0'..=b'9' => self.integer(visitor),
            _ => Err(Decline),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.peek() == Some(b'n') {
            self.eat_word(b"null")?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    /// A unit variant is a string. An object is an event (`EventDef`, the only enum read
    /// this way): its variant is named by its tag member, found first.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.peek() {
            Some(b'"') => {
                let name = self.key()?;
                visitor.visit_enum(IntoDeserializer::<Decline>::into_deserializer(name))
            }
            Some(b'{') => {
                let tag = find_tag(&self.input[self.pos..]).ok_or(Decline)?;
                visitor.visit_enum(Tagged { de: self, tag })
            }
            _ => Err(Decline),
        }
    }

    /// A member the entry would drop could not be compared: never vouch for it.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value> {
        Err(Decline)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, _: V) -> Result<V::Value> {
        Err(Decline)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, _: V) -> Result<V::Value> {
        Err(Decline)
    }

    /// A struct is written as an object, never as an array (which serde would also take).
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.object(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.object(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.array(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        unit unit_struct tuple tuple_struct identifier
    }
}

/// An event's variant, named by its tag; its fields are the object's other members.
struct Tagged<'a, 'de> {
    de: &'a mut Strict<'de>,
    tag: &'de str,
}

impl<'de> EnumAccess<'de> for Tagged<'_, 'de> {
    type Error = Decline;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let variant = seed.deserialize(BorrowedStrDeserializer::new(self.tag))?;
        Ok((variant, self))
    }
}

impl<'de> VariantAccess<'de> for Tagged<'_, 'de> {
    type Error = Decline;

    /// Every event has fields.
    fn unit_variant(self) -> Result<()> {
        Err(Decline)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _: T) -> Result<T::Value> {
        Err(Decline)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value> {
        Err(Decline)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.de.members_of(visitor, Some(self.tag))
    }
}

/// The value of the tag member of the object at the start of `s`, found by skipping the
/// members before it (keys are sorted: there are a few at most). Only a guess: the real pass
/// then checks the whole object, this member included.
fn find_tag(s: &[u8]) -> Option<&str> {
    let mut i = 1;
    loop {
        if s.get(i) != Some(&b'"') {
            return None;
        }
        // Keys are short and have no escapes: a plain loop, not a vector search.
        let key_end = i + 1 + s.get(i + 1..)?.iter().position(|&b| b == b'"')?;
        let value = key_end + 2;
        if s.get(key_end + 1) != Some(&b':') {
            return None;
        }
        if &s[i + 1..key_end] == EVENT_TAG.as_bytes() {
            let end = skip_string(s, value)?;
            return std::str::from_utf8(s.get(value + 1..end - 1)?).ok();
        }
        i = skip_value(s, value)?;
        if s.get(i) != Some(&b',') {
            return None;
        }
        i += 1;
    }
}

/// The index just after the JSON value that starts at `s[i]`.
fn skip_value(s: &[u8], i: usize) -> Option<usize> {
    match *s.get(i)? {
        b'"' => skip_string(s, i),
        b'{' | b'[' => skip_nested(s, i),
        // A number, true, false or null: up to the next delimiter.
        _ => Some(
            i + s[i..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']'))?,
        ),
    }
}

/// The index just after the object or array that starts at `s[i]`.
fn skip_nested(s: &[u8], mut i: usize) -> Option<usize> {
    let mut depth = 0usize;
    loop {
        match *s.get(i)? {
            b'"' => {
                i = skip_string(s, i)?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
}

/// The index just after the string that starts at `s[i]` (a quote).
fn skip_string(s: &[u8], mut i: usize) -> Option<usize> {
    if s.get(i) != Some(&b'"') {
        return None;
    }
    i += 1;
    loop {
        i += memchr::memchr2(b'"', b'\\', s.get(i..)?)?;
        if s[i] == b'"' {
            return Some(i + 1);
        }
        // An escape: the next byte is never the string's end.
        i += 2;
    }
}

/// Counts the object members an entry writes (struct fields, map entries, the outer member of
/// an externally tagged variant); nothing else is looked at.
struct Counter(u64);

impl ser::Serializer for &mut Counter {
    type Ok = ();
    type Error = Decline;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_bool(self, _: bool) -> Result<()> {
        Ok(())
    }
    fn serialize_i8(self, _: i8) -> Result<()> {
        Ok(())
    }
    fn serialize_i16(self, _: i16) -> Result<()> {
        Ok(())
    }
    fn serialize_i32(self, _: i32) -> Result<()> {
        Ok(())
    }
    fn serialize_i64(self, _: i64) -> Result<()> {
        Ok(())
    }
    fn serialize_u8(self, _: u8) -> Result<()> {
        Ok(())
    }
    fn serialize_u16(self, _: u16) -> Result<()> {
        Ok(())
    }
    fn serialize_u32(self, _: u32) -> Result<()> {
        Ok(())
    }
    fn serialize_u64(self, _: u64) -> Result<()> {
        Ok(())
    }
    fn serialize_f32(self, _: f32) -> Result<()> {
        Ok(())
    }
    fn serialize_f64(self, _: f64) -> Result<()> {
        Ok(())
    }
    fn serialize_char(self, _: char) -> Result<()> {
        Ok(())
    }
    fn serialize_str(self, _: &str) -> Result<()> {
        Ok(())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<()> {
        Ok(())
    }
    fn serialize_none(self) -> Result<()> {
        Ok(())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<()> {
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<()> {
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<()> {
        Ok(())
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        value: &T,
    ) -> Result<()> {
        self.0 += 1;
        value.serialize(self)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self> {
        Ok(self)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self> {
        Ok(self)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self> {
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self> {
        self.0 += 1;
        Ok(self)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self> {
        Ok(self)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self> {
        self.0 += 1;
        Ok(self)
    }
}

impl ser::SerializeSeq for &mut Counter {
    type Ok = ();
    type Error = Decline;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<()> {
        Ok(())
    }
}

impl ser::SerializeTuple for &mut Counter {
    type Ok = ();
    type Error = Decline;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<()> {
        Ok(())
    }
}

impl ser::SerializeTupleStruct for &mut Counter {
    type Ok = ();
    type Error = Decline;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<()> {
        Ok(())
    }
}

impl ser::SerializeTupleVariant for &mut Counter {
    type Ok = ();
    type Error = Decline;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<()> {
        Ok(())
    }
}

impl ser::SerializeMap for &mut Counter {
    type Ok = ();
    type Error = Decline;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, _: &T) -> Result<()> {
        self.0 += 1;
        Ok(())
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<()> {
        Ok(())
    }
}

impl ser::SerializeStruct for &mut Counter {
    type Ok = ();
    type Error = Decline;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, _: &'static str, value: &T) -> Result<()> {
        self.0 += 1;
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<()> {
        Ok(())
    }
}

impl ser::SerializeStructVariant for &mut Counter {
    type Ok = ();
    type Error = Decline;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, _: &'static str, value: &T) -> Result<()> {
        self.0 += 1;
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::log::{Entry, GENESIS_PREV};
    use crate::ceremony::machine::{Check, FileRecord, MachineConfig, Phase, QuorumMode, Role};
    use crate::hsm_types::key::KeyAttributes;
    use crate::hsm_types::token::TokenIdentity;
    use crate::hsm_types::wrap::OaepHash;
    use crate::hsm_types::wrap::WrapMethod;
    use crate::hsm_types::wrap::{KatReport, KwpBehaviour};
    use crate::hsm_types::wrap::{WrapKatOutcome, WrapKatReport};

    fn path_kat(outcome: WrapKatOutcome) -> WrapKatReport {
        WrapKatReport {
            path: "native".into(),
            mechanism: "CKM_RSA_AES_KEY_WRAP".into(),
            oaep_hash: OaepHash::Sha1,
            vectors: 3,
            outcome,
        }
    }
    use proptest::prelude::*;

    fn config(quorum: QuorumMode) -> MachineConfig {
        MachineConfig {
            targets: Vec::new(),
            ceremony_id: "c1".into(),
            administrator: "oscar".into(),
            witness: "wendy".into(),
            auditor: None,
            custodians: vec!["alice".into(), "bob".into()],
            quorum,
            expected_kek_fingerprint: Some("ab".repeat(32)),
            destroy_after_export: true,
            allow_zero_padding: true,
            wrap_with_trusted: false,
        }
    }

    /// One event of every kind, with awkward text where there is text.
    fn events() -> Vec<Event> {
        let text = "q\"b\\s/\u{8}\u{c}\n\r\t\u{1}\u{1f}\u{7f} é€😀 — end";
        let files = vec![FileRecord {
            name: "k.byok".into(),
            sha256: "cd".repeat(32),
        }];
        let events = vec![
            Event::CeremonyOpened {
                config: config(QuorumMode::SplitPin { threshold: 2 }),
                script_sha256: "00".repeat(32),
                tool_version: "0.1.0".into(),
                binary_sha256: "11".repeat(32),
                host: "vm".into(),
                os: text.into(),
                hsm: TokenIdentity::default(),
                hsm_module: "/usr/lib/softhsm/libsofthsm2.so".into(),
                hsm_library: "SoftHSM".into(),
                rehearsal: true,
                purpose: Some(text.into()),
            },
            Event::PreflightCompleted {
                checks: vec![
                    Check {
                        name: "air gap".into(),
                        passed: true,
                        detail: text.into(),
                        station: true,
                    },
                    Check::new("medium", false, String::new()),
                ],
            },
            Event::CheckedIn { name: "é".into() },
            Event::AttendanceClosed { by: "oscar".into() },
            Event::SharePresented {
                custodian: "alice".into(),
                share_index: 255,
                commitment_verified: true,
            },
            Event::ShareRejected {
                custodian: "alice".into(),
                reason: "\"hash\":\"x\" ,\"event\":\"closed\" in a reason".into(),
            },
            Event::HsmAuthenticationPresented {
                custodian: "bob".into(),
            },
            Event::LoggedIn {
                token_label: "t".into(),
            },
            Event::LoginFailed {
                reason: text.into(),
            },
            Event::KekLoaded {
                target: None,
                kid: "https://v.vault.azure.net/keys/k/00".into(),
                fingerprint_sha256: "33".repeat(32),
                bits: 4096,
                warnings: vec![text.into(), String::new()],
                file: Some("/media/kek.pem".into()),
            },
            Event::KekLoaded {
                target: None,
                kid: "k".into(),
                fingerprint_sha256: "33".repeat(32),
                bits: 0,
                warnings: vec![],
                file: None,
            },
            Event::KekConfirmed {
                custodian: "alice".into(),
            },
            Event::KekRejected {
                custodian: "bob".into(),
                reason: text.into(),
            },
            Event::KeyGenerated {
                kty: "RSA-HSM".into(),
                key_size: Some(3072),
                crv: None,
                attributes: KeyAttributes {
                    label: "k".into(),
                    id_hex: "abcd".into(),
                    token: true,
                    sensitive: true,
                    extractable: true,
                    local: true,
                    always_sensitive: true,
                    never_extractable: false,
                    wrap_with_trusted: false,
                },
                public_key_pem: Some(
                    "-----BEGIN PUBLIC KEY-----\nMII\n-----END PUBLIC KEY-----\n".into(),
                ),
                check_value: None,
            },
            Event::Wrapped {
                target: None,
                byok_json: "{\"kid\":\"k\",\"ciphertext\":\"AAA\"}".into(),
                byok_sha256: "22".repeat(32),
                method: WrapMethod::TwoStep {
                    kwp_mechanism: "CKM_AES_KEY_WRAP_KWP".into(),
                    kat: KatReport {
                        mechanism: "CKM_AES_KEY_WRAP_KWP".into(),
                        mechanism_number: 0x210B,
                        behaviour: KwpBehaviour::ZeroPadsThenRfc5649,
                        vectors: 2,
                    },
                    path_kat: path_kat(WrapKatOutcome::ZeroPadded),
                },
                rehearsal_grade: false,
            },
            Event::Wrapped {
                target: None,
                byok_json: String::new(),
                byok_sha256: "22".repeat(32),
                method: WrapMethod::Native {
                    kat: path_kat(WrapKatOutcome::Exact),
                },
                rehearsal_grade: true,
            },
            Event::TargetWrapped {
                target: crate::cloud::Cloud::Aws,
                algorithm: "RSAES_OAEP_SHA_256".into(),
                kek_fingerprint_sha256: "33".repeat(32),
                file: "t.aws.wrapped".into(),
                wrapped_b64: "AAAA".into(),
                sha256: "44".repeat(32),
                method: WrapMethod::PlainOaep {
                    kat: path_kat(WrapKatOutcome::Exact),
                },
                rehearsal_grade: false,
                import_token_b64: Some("AQID".into()),
            },
            Event::WrapTested {
                target: Some(crate::cloud::Cloud::Gcp),
                oaep_hash: OaepHash::Sha1,
                method: None,
                failed: vec![
                    path_kat(WrapKatOutcome::WrongOaepHash {
                        used: OaepHash::Sha256,
                    }),
                    path_kat(WrapKatOutcome::Refused {
                        detail: text.into(),
                    }),
                    path_kat(WrapKatOutcome::Mismatch {
                        detail: String::new(),
                    }),
                ],
            },
            Event::Exported {
                files: files.clone(),
            },
            Event::Verified { files },
            Event::KeyDestroyed {
                label: "k".into(),
                id_hex: "abcd".into(),
            },
            Event::SignedOff { name: "bob".into() },
            Event::Closed { by: "oscar".into() },
            Event::DeviationRecorded {
                by: "oscar".into(),
                text: text.into(),
            },
            Event::DeviationAcknowledged {
                by: "wendy".into(),
                deviation: 0,
            },
            Event::StepFailed {
                phase: Phase::KekLoad,
                reason: text.into(),
            },
            Event::Aborted {
                by: "oscar".into(),
                reason: "r".into(),
                after_crash: true,
            },
            Event::Resumed { by: "oscar".into() },
            Event::InstructionShown {
                phase: Phase::Attendance,
                text: text.into(),
            },
            Event::RetryRequested {
                by: "oscar".into(),
                phase: Phase::Wrap,
            },
            Event::Checkpoint {
                gate: Phase::Closed,
                note: "byok-ceremony/c1\n12\nImi9=\n\n— byok-ceremony.audit/c1 fDPz==\n".into(),
            },
        ];
        let mut with_native = events;
        with_native.push(Event::CeremonyOpened {
            config: config(QuorumMode::HsmNative {
                threshold: 2,
                total: 3,
            }),
            script_sha256: "00".repeat(32),
            tool_version: "0".into(),
            binary_sha256: "11".repeat(32),
            host: "h".into(),
            os: "o".into(),
            hsm: TokenIdentity::default(),
            hsm_module: "m".into(),
            hsm_library: "l".into(),
            rehearsal: false,
            purpose: None,
        });
        with_native
    }

    /// Every kind of event is in `events` (a new kind fails to compile here until it is).
    #[test]
    fn every_event_kind_is_sampled() {
        let index = |e: &Event| match e {
            Event::CeremonyOpened { .. } => 0,
            Event::PreflightCompleted { .. } => 1,
            Event::CheckedIn { .. } => 2,
            Event::AttendanceClosed { .. } => 3,
            Event::SharePresented { .. } => 4,
            Event::ShareRejected { .. } => 5,
            Event::HsmAuthenticationPresented { .. } => 6,
            Event::LoggedIn { .. } => 7,
            Event::LoginFailed { .. } => 8,
            Event::KekLoaded { .. } => 9,
            Event::KekConfirmed { .. } => 10,
            Event::KekRejected { .. } => 11,
            Event::KeyGenerated { .. } => 12,
            Event::Wrapped { .. } => 13,
            Event::WrapTested { .. } => 26,
            Event::InstructionShown { .. } => 27,
            Event::Exported { .. } => 14,
            Event::Verified { .. } => 15,
            Event::KeyDestroyed { .. } => 16,
            Event::SignedOff { .. } => 17,
            Event::Closed { .. } => 18,
            Event::DeviationRecorded { .. } => 19,
            Event::DeviationAcknowledged { .. } => 20,
            Event::StepFailed { .. } => 21,
            Event::Aborted { .. } => 22,
            Event::Resumed { .. } => 23,
            Event::RetryRequested { .. } => 24,
            Event::Checkpoint { .. } => 25,
            Event::TargetWrapped { .. } => 28,
        };
        let mut seen = [false; 29];
        for e in events() {
            seen[index(&e)] = true;
        }
        assert!(seen.iter().all(|s| *s), "{seen:?}");
    }

    fn entries() -> Vec<Entry> {
        let mut prev = GENESIS_PREV.to_owned();
        let mut out = Vec::new();
        for (seq, event) in (0..).zip(events()) {
            let actor = event.actor().map(str::to_owned);
            let mut e = Entry {
                seq,
                utc: "2026-11-29T14:23:57.881Z".into(),
                mono_ms: seq * 1000,
                role: Some(if actor.is_some() {
                    Role::Custodian
                } else {
                    Role::System
                }),
                actor,
                scripted: seq % 2 == 0,
                event,
                prev: prev.clone(),
                hash: String::new(),
            };
            e.hash = e.compute_hash().expect("hash");
            prev = e.hash.clone();
            out.push(e);
        }
        out
    }

    /// What the full check says: the entry, when the line is exactly its canonical JSON.
    fn full_check(line: &[u8]) -> Option<Entry> {
        let entry: Entry = serde_json::from_slice(line).ok()?;
        let canonical = entry.to_line().ok()?;
        (canonical.strip_suffix(b"\n") == Some(line)).then_some(entry)
    }

    /// `parse` for bytes: None for a line that is not UTF-8.
    fn parse_bytes(line: &[u8], events: &mut Vec<Event>) -> Option<Lean> {
        parse(std::str::from_utf8(line).ok()?, events)
    }

    #[test]
    fn every_role_is_read_as_serde_writes_it() {
        let all = |r: Role| match r {
            Role::Administrator
            | Role::Custodian
            | Role::Witness
            | Role::Auditor
            | Role::System => r,
        };
        for (text, role) in ROLES {
            assert_eq!(serde_json::to_vec(&all(role)).expect("json"), text);
        }
        assert_eq!(ROLES.len(), 5, "a new role must be listed in ROLES");
    }

    /// The entry a `Lean` stands for.
    fn owned(lean: &Lean, line: &[u8], events: &[Event]) -> Entry {
        let v = lean.view(line, events).expect("view");
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).expect("utf8");
        let hash = &line[lean.hash_member..];
        assert!(hash.starts_with(format!("\"hash\":\"{}\",", text(v.hash)).as_bytes()));
        Entry {
            seq: v.seq,
            utc: text(v.utc),
            mono_ms: v.mono_ms,
            actor: v.actor.map(text),
            role: v.role,
            scripted: lean.scripted,
            event: v.event.clone(),
            prev: text(v.prev),
            hash: text(v.hash),
        }
    }

    fn line_of(e: &Entry) -> Vec<u8> {
        let mut line = e.to_line().expect("line");
        line.pop();
        line
    }

    #[test]
    fn every_canonical_entry_takes_the_one_pass() {
        for e in entries() {
            let line = line_of(&e);
            let mut events = Vec::new();
            let lean = parse_bytes(&line, &mut events);
            assert_eq!(
                lean.as_ref().map(|l| owned(l, &line, &events)),
                Some(e),
                "{}",
                String::from_utf8_lossy(&line)
            );
        }
    }

    /// Lines that are valid JSON of a valid entry but not its canonical form: the one pass
    /// never vouches for them, and the full check refuses them.
    #[test]
    fn non_canonical_lines_are_declined() {
        let e = &entries()[9];
        let line = String::from_utf8(line_of(e)).expect("utf8");
        let edits: Vec<(&str, String)> = vec![
            ("a space", line.replacen(":", ": ", 1)),
            ("trailing space", format!("{line} ")),
            (
                "members out of order",
                line.replacen("\"actor\":null,", "", 1).replacen(
                    "\"hash\"",
                    "\"actor\":null,\"hash\"",
                    1,
                ),
            ),
            (
                "a missing optional member",
                line.replacen("\"actor\":null,", "", 1),
            ),
            (
                "a null where the writer leaves the member out",
                entries()[10]
                    .to_line()
                    .map(|l| {
                        String::from_utf8(l).expect("utf8").trim_end().replacen(
                            "\"fingerprint_sha256\"",
                            "\"file\":null,\"fingerprint_sha256\"",
                            1,
                        )
                    })
                    .expect("line"),
            ),
            (
                "an unknown member",
                line.replacen("{\"actor\"", "{\"a\":1,\"actor\"", 1),
            ),
            (
                "an unknown member in the event",
                line.replacen("\"bits\"", "\"a\":1,\"bits\"", 1),
            ),
            (
                "a repeated member",
                line.replacen("\"bits\":4096,", "\"bits\":4096,\"bits\":4096,", 1),
            ),
            (
                "an escaped solidus",
                line.replacen("https:/", "https:\\/", 1),
            ),
            (
                "a needless unicode escape",
                line.replacen("https", "\\u0068ttps", 1),
            ),
            (
                "an uppercase unicode escape",
                line.replacen(
                    "\\u0001",
                    "\\u0001".to_uppercase().replace("\\U", "\\u").as_str(),
                    1,
                )
                .replacen("\\u001f", "\\u001F", 1),
            ),
            (
                "a long escape for a short one",
                line.replacen("\\n", "\\u000a", 1),
            ),
            ("a fraction", line.replacen("4096", "4096.0", 1)),
            ("an exponent", line.replacen("4096", "4.096e3", 1)),
            (
                "a leading zero",
                line.replacen("\"bits\":4096", "\"bits\":04096", 1),
            ),
            (
                "a minus zero",
                line.replacen("\"mono_ms\":9000", "\"mono_ms\":-0", 1),
            ),
            (
                "the tag repeated",
                line.replacen(
                    "\"event\":\"kek_loaded\"",
                    "\"event\":\"kek_loaded\",\"event\":\"kek_loaded\"",
                    1,
                ),
            ),
            (
                "another tag",
                line.replacen("\"event\":\"kek_loaded\"", "\"event\":\"kek_rejected\"", 1),
            ),
            (
                "the tag escaped",
                line.replacen(
                    "\"event\":\"kek_loaded\"",
                    "\"event\":\"kek\\u005floaded\"",
                    1,
                ),
            ),
            (
                "a struct as an array",
                line.replacen("\"role\":\"system\"", "\"role\":[\"system\"]", 1),
            ),
        ];
        for (what, edited) in edits {
            assert_ne!(edited, line, "{what}: the edit did nothing");
            let mut events = Vec::new();
            assert!(parse(&edited, &mut events).is_none(), "{what}: {edited}");
            assert!(events.is_empty(), "{what}: an event was left behind");
            assert!(
                full_check(edited.as_bytes()).is_none(),
                "{what}: the full check took it"
            );
        }
    }

    /// A real ceremony's log (the replay tests' rehearsal): every line takes the one pass, to
    /// the entry the full check reads.
    #[test]
    fn a_real_log_takes_the_one_pass_throughout() {
        let log = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/replay/test-ceremony.audit.jsonl"
        ))
        .expect("the replay tests' log");
        let mut kinds = std::collections::BTreeSet::new();
        for line in log.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let mut events = Vec::new();
            let lean = parse_bytes(line, &mut events);
            let full = full_check(line).expect("the full check takes it");
            kinds.insert(full.event.kind());
            assert_eq!(
                lean.map(|l| owned(&l, line, &events)).as_ref(),
                Some(&full),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
        assert!(kinds.len() > 10, "{kinds:?}");
    }

    #[test]
    fn the_tag_is_found_past_nested_members() {
        let opened = line_of(&entries()[0]);
        let event = memchr::memmem::find(&opened, b"{\"binary_sha256\"").expect("event");
        assert_eq!(find_tag(&opened[event..]), Some("ceremony_opened"));
        assert_eq!(
            find_tag(b"{\"a\":\"x\\\"\",\"b\":[1,{\"c\":\"]\"}],\"event\":\"e\"}"),
            Some("e")
        );
        assert_eq!(find_tag(b"{\"a\":1}"), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Whatever an edit does to a line, the one pass vouches only for lines the full check
        /// accepts, and then for the same entry.
        #[test]
        fn the_one_pass_never_accepts_more_than_the_full_check(
            which in 0usize..30,
            at in any::<prop::sample::Index>(),
            len in 0usize..12,
            insert in prop::sample::select(vec![
                "", " ", "\"", "\\", ",", ":", "{", "}", "[", "]", "0", "1", "-", ".", "e",
                "null", "true", "\\u0000", "\\n", "\\/", "\"a\":1,", "\"event\":\"closed\",",
                "é", "\u{7f}", "\t",
            ]),
        ) {
            let all = entries();
            let line = line_of(&all[which % all.len()]);
            let start = at.index(line.len() + 1);
            let end = (start + len).min(line.len());
            let mut edited = line[..start].to_vec();
            edited.extend_from_slice(insert.as_bytes());
            edited.extend_from_slice(&line[end..]);
            let mut events = Vec::new();
            match parse_bytes(&edited, &mut events) {
                Some(lean) => {
                    let full = full_check(&edited);
                    prop_assert_eq!(Some(owned(&lean, &edited, &events)), full, "{}", String::from_utf8_lossy(&edited));
                }
                None => prop_assert!(events.is_empty()),
            }
        }
    }
}
