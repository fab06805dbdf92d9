//! Bounded exponential backoff that honours the service's Retry-After.
//!
//! Pure arithmetic: the caller sleeps. Key Vault throttles with 429 before it processes a
//! request, so throttled requests (and connections that never opened) are retried; the caller
//! decides which failures are safe to repeat.
use std::time::Duration;

/// How hard to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled for each further one.
    pub base: Duration,
    /// Longest single wait. A Retry-After above it is not waited for: the caller gives up.
    pub max_delay: Duration,
    /// Longest total wait across all retries.
    pub max_total: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            max_attempts: 5,
            base: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_total: Duration::from_secs(90),
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Sleep this long, then try again.
    Wait(Duration),
    /// Stop: the attempts or the time are used up, or the service asks for a longer wait.
    GiveUp,
}

impl Backoff {
    /// After `attempt` (1-based) failed, having waited `waited` so far, with the service's
    /// Retry-After if it sent one.
    pub fn next(&self, attempt: u32, waited: Duration, retry_after: Option<Duration>) -> Next {
        if attempt >= self.max_attempts {
            return Next::GiveUp;
        }
        let exponent = attempt.saturating_sub(1).min(16);
        let exponential = self.base.saturating_mul(1u32 << exponent);
        let delay = match retry_after {
            Some(asked) if asked > self.max_delay => return Next::GiveUp,
            Some(asked) => asked.max(exponential.min(self.max_delay)),
            None => exponential.min(self.max_delay),
        };
        if waited.saturating_add(delay) > self.max_total {
            return Next::GiveUp;
        }
        Next::Wait(delay)
    }
}

/// Parses a Retry-After value in seconds (the form Key Vault sends); an HTTP date is not
/// expected from Key Vault and is treated as absent.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn doubles_up_to_the_cap_and_stops() {
        let b = Backoff::default();
        assert_eq!(b.next(1, S(0), None), Next::Wait(S(1)));
        assert_eq!(b.next(2, S(1), None), Next::Wait(S(2)));
        assert_eq!(b.next(3, S(3), None), Next::Wait(S(4)));
        assert_eq!(b.next(4, S(7), None), Next::Wait(S(8)));
        assert_eq!(b.next(5, S(15), None), Next::GiveUp);
        let wide = Backoff {
            max_attempts: 100,
            ..b
        };
        assert_eq!(wide.next(10, S(0), None), Next::Wait(S(30)));
        assert_eq!(wide.next(10, S(70), None), Next::GiveUp, "total bound");
    }

    #[test]
    fn honours_retry_after() {
        let b = Backoff::default();
        assert_eq!(b.next(1, S(0), Some(S(7))), Next::Wait(S(7)));
        assert_eq!(b.next(3, S(0), Some(S(1))), Next::Wait(S(4)));
        assert_eq!(b.next(1, S(0), Some(S(31))), Next::GiveUp);
    }

    #[test]
    fn parses_seconds_only() {
        assert_eq!(parse_retry_after(" 3 "), Some(S(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }
}
