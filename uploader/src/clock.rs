//! Times as the clouds give them (Unix seconds) and as our JSON files and messages write
//! them (RFC 3339 UTC).
use azure_core::time::{OffsetDateTime, parse_rfc3339, to_rfc3339};

/// Now, in Unix seconds.
pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Unix seconds as RFC 3339 UTC ("2030-01-01T00:00:00Z").
pub fn rfc3339(seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(seconds)
        .map(|t| to_rfc3339(&t))
        .unwrap_or_else(|_| format!("@{seconds}"))
}

/// RFC 3339 to Unix seconds.
pub fn parse(text: &str) -> Option<i64> {
    parse_rfc3339(text).ok().map(|t| t.unix_timestamp())
}

/// "in 23 h 59 min" / "2 h 3 min ago", for people deciding whether to hurry.
pub fn until(seconds: i64) -> String {
    let delta = seconds - now();
    let (h, m) = (delta.abs() / 3600, (delta.abs() % 3600) / 60);
    if delta >= 0 {
        format!("in {h} h {m} min")
    } else {
        format!("{h} h {m} min ago")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let text = rfc3339(1_893_456_000);
        assert_eq!(text, "2030-01-01T00:00:00Z");
        assert_eq!(parse(&text), Some(1_893_456_000));
        assert_eq!(parse("tomorrow"), None);
    }
}
