//! The clock: shown in UTC for the custodians to confirm against their own watches; a clock
//! earlier than this tool's first release is certainly wrong (a flat RTC battery restarts at
//! 1970 or at the firmware's date), and every time in the audit log would be wrong with it.
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::ceremony::machine::Check;

pub const NAME: &str = "clock";

/// 2026-01-01T00:00:00Z: no ceremony with this tool happened before.
const NOT_BEFORE_UNIX: u64 = 1_767_225_600;

pub fn check() -> Check {
    judge(SystemTime::now())
}

/// "2026-12-04 13:28:45 UTC".
pub fn utc_now() -> String {
    shown(SystemTime::now())
}

fn shown(t: SystemTime) -> String {
    let s = crate::audit::time::rfc3339(t);
    // 2026-12-04T13:28:45.123Z -> 2026-12-04 13:28:45 UTC
    match (s.get(..10), s.get(11..19)) {
        (Some(date), Some(time)) => format!("{date} {time} UTC"),
        _ => s,
    }
}

fn judge(now: SystemTime) -> Check {
    let secs = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    if secs < NOT_BEFORE_UNIX {
        return super::check(
            NAME,
            false,
            format!(
                "the clock reads {}, before this tool was released: set the UTC time (`date -u -s 'YYYY-MM-DD HH:MM:SS'`) from a trusted clock and run the preflight again",
                shown(now)
            ),
        );
    }
    super::check(
        NAME,
        true,
        format!(
            "{}: the custodians confirm it against their own clocks",
            shown(now)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_reset_to_1970_fails_and_today_passes() {
        let reset = judge(UNIX_EPOCH + Duration::from_secs(86_400));
        assert!(!reset.passed);
        assert!(
            reset.detail.contains("1970-01-02 00:00:00 UTC"),
            "{}",
            reset.detail
        );
        let now = judge(UNIX_EPOCH + Duration::from_secs(1_796_390_925));
        assert!(now.passed);
        assert!(
            now.detail.starts_with("2026-12-04 13:28:45 UTC"),
            "{}",
            now.detail
        );
    }
}
