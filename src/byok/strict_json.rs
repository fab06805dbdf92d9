//! A JSON tree that keeps object members in file order *including duplicates*.
//!
//! `serde_json::Value` silently keeps the last of two equal keys, and derive-based parsing
//! reports problems only as free text. Both the `.byok` file and the KEK JSON must reject
//! duplicate keys and name the exact unknown/missing/mistyped field, so they are parsed into
//! this tree first and checked by hand.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// One JSON value. Objects are a list of members so duplicates survive parsing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// Why bytes could not be turned into one JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParseFailure {
    /// Not UTF-8; the position of the first bad byte.
    NotUtf8(usize),
    /// Invalid or truncated JSON, with serde_json's line/column description.
    Syntax(String),
    /// A complete JSON value followed by something other than whitespace.
    TrailingData,
}

impl Json {
    /// Parses exactly one JSON value; whitespace may surround it, nothing else.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Json, ParseFailure> {
        let text =
            std::str::from_utf8(bytes).map_err(|e| ParseFailure::NotUtf8(e.valid_up_to()))?;
        let mut de = serde_json::Deserializer::from_str(text);
        let value = Json::deserialize(&mut de).map_err(|e| ParseFailure::Syntax(e.to_string()))?;
        de.end().map_err(|_| ParseFailure::TrailingData)?;
        Ok(value)
    }

    /// A short name of the value's JSON type, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }
}

/// The first key that occurs twice among `members`, if any: the first member whose key an
/// earlier member already had. One pass with a set, so a hostile document with hundreds of
/// thousands of keys costs linear time (comparing each key with all before it took 38 s for
/// 200,000 keys).
pub(crate) fn first_duplicate(members: &[(String, Json)]) -> Option<&str> {
    let mut seen = std::collections::HashSet::with_capacity(members.len());
    members
        .iter()
        .map(|(key, _)| key.as_str())
        .find(|key| !seen.insert(*key))
}

/// The member named `key` (the first one; callers reject duplicates beforehand).
pub(crate) fn member<'a>(members: &'a [(String, Json)], key: &str) -> Option<&'a Json> {
    members.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        // Non-finite floats cannot come out of JSON text; map them to null defensively.
        Ok(serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Json>()? {
            members.push((key, value));
        }
        Ok(Json::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_duplicates_in_order() {
        let json = Json::parse(br#"{"a":1,"b":{"c":null},"a":"x"}"#).expect("valid JSON");
        let Json::Object(members) = json else {
            panic!("an object")
        };
        assert_eq!(members.len(), 3);
        assert_eq!(first_duplicate(&members), Some("a"));
        assert_eq!(member(&members, "a"), Some(&Json::Number(1.into())));
    }

    /// Issue 13, item 3: many distinct keys and one repeat at the very end (benches/
    /// hostile_input.rs measures the time; the old pairwise check took 38 s on this shape).
    #[test]
    fn a_repeat_after_many_distinct_keys_is_found() {
        let mut text = String::from("{");
        for i in 0..200_000 {
            text.push_str(&format!("\"k{i}\":0,"));
        }
        text.push_str("\"k7\":1}");
        let Json::Object(members) = Json::parse(text.as_bytes()).expect("valid") else {
            panic!("an object")
        };
        assert_eq!(first_duplicate(&members), Some("k7"));
        assert_eq!(first_duplicate(&members[..200_000]), None);
    }

    #[test]
    fn no_duplicate_in_distinct_keys() {
        let Json::Object(members) = Json::parse(br#"{"a":1,"b":2}"#).expect("valid") else {
            panic!("an object")
        };
        assert_eq!(first_duplicate(&members), None);
    }

    #[test]
    fn whitespace_around_is_fine_but_trailing_data_is_not() {
        assert!(Json::parse(b" \n{}\r\n ").is_ok());
        assert_eq!(Json::parse(b"{} x"), Err(ParseFailure::TrailingData));
        assert_eq!(Json::parse(b"{}{}"), Err(ParseFailure::TrailingData));
    }

    #[test]
    fn syntax_and_encoding_failures() {
        assert!(matches!(
            Json::parse(b"{\"a\":"),
            Err(ParseFailure::Syntax(_))
        ));
        assert!(matches!(Json::parse(b""), Err(ParseFailure::Syntax(_))));
        assert_eq!(
            Json::parse(b"{\"a\":\"\xff\"}"),
            Err(ParseFailure::NotUtf8(6))
        );
    }

    #[test]
    fn kinds() {
        assert_eq!(Json::parse(b"[1]").expect("valid").kind(), "an array");
        assert_eq!(Json::parse(b"true").expect("valid").kind(), "a boolean");
        assert_eq!(Json::parse(b"1.5").expect("valid").kind(), "a number");
    }
}
