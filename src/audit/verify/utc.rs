//! The log's timestamps, read back strictly: exactly the form `audit::time::rfc3339` writes
//! (`2026-11-29T13:25:40.123Z`), as milliseconds since 1970 for timelines and durations.

/// A parsed log time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Utc {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub unix_ms: i64,
}

impl Utc {
    /// Parses `YYYY-MM-DDTHH:MM:SS.mmmZ`; anything else is None.
    pub fn parse(text: &str) -> Option<Utc> {
        Utc::parse_bytes(text.as_bytes())
    }

    /// `parse` for text not yet known to be UTF-8 (the form is ASCII: anything else is None).
    pub fn parse_bytes(b: &[u8]) -> Option<Utc> {
        if b.len() != 24
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
            || b[19] != b'.'
            || b[23] != b'Z'
        {
            return None;
        }
        let num = |from: usize, to: usize| -> Option<i64> {
            let digits = b.get(from..to)?;
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            Some(
                digits
                    .iter()
                    .fold(0i64, |n, d| n * 10 + i64::from(d - b'0')),
            )
        };
        let (y, m, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
        let (hh, mm, ss, ms) = (num(11, 13)?, num(14, 16)?, num(17, 19)?, num(20, 23)?);
        if !(1..=12).contains(&m)
            || d < 1
            || d > days_in_month(y, m)
            || hh > 23
            || mm > 59
            || ss > 59
        {
            return None;
        }
        let days = days_from_civil(y, m, d);
        Some(Utc {
            unix_ms: ((days * 24 + hh) * 60 + mm) * 60_000 + ss * 1000 + ms,
        })
    }
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::time::rfc3339;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn reads_back_what_the_log_writes() {
        for ms in [0u64, 951_782_400_000, 1_796_391_940_123, 4_102_444_799_999] {
            let text = rfc3339(UNIX_EPOCH + Duration::from_millis(ms));
            assert_eq!(
                Utc::parse(&text).map(|u| u.unix_ms),
                Some(ms as i64),
                "{text}"
            );
        }
    }

    #[test]
    fn refuses_other_forms() {
        for bad in [
            "2026-11-29T13:25:40Z",
            "2026-11-29 13:25:40.123Z",
            "2026-02-30T13:25:40.123Z",
            "2026-11-29T24:00:00.000Z",
            "2026-11-29T13:25:40.123+00:00",
            "+026-11-29T13:25:40.123Z",
        ] {
            assert_eq!(Utc::parse(bad), None, "{bad}");
        }
    }
}
