//! The retry loop shared by the Google Cloud and AWS clients, with the same rules as the
//! Key Vault client ([`crate::service`]): the SDKs' own retries are off, throttling and
//! connections that never opened are retried with [`Backoff`], reads are also retried after
//! unavailability and broken connections, and a write is never repeated after a failure that
//! does not prove it was not applied.
use std::future::Future;
use std::time::Duration;

use crate::retry::{Backoff, Next};

/// Longest wait for one request before it counts as a network failure.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);

/// What one failed attempt means for the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The service refused before doing anything (HTTP 429, ThrottlingException).
    Throttled { retry_after: Option<Duration> },
    /// The connection never opened: nothing reached the service.
    NotConnected,
    /// The service may have received it (broken connection, timeout, 5xx).
    Ambiguous,
    /// A definite answer that repeating will not change.
    Final,
}

/// One failed attempt: the SDK's error, or no answer in time.
#[derive(Debug)]
pub enum Failure<E> {
    Error(E),
    TimedOut,
}

/// How the request's failure ended the loop.
#[derive(Debug)]
pub struct GaveUp<E> {
    pub failure: Failure<E>,
    pub kind: Kind,
    pub attempts: u32,
}

/// Runs `request` until it succeeds, fails for good or the backoff is used up. `safe` says
/// whether repeating after an ambiguous failure is harmless (reads).
pub async fn run<T, E, F, Fut>(
    backoff: &Backoff,
    what: &str,
    safe: bool,
    classify: impl Fn(&E) -> Kind,
    mut request: F,
) -> Result<T, GaveUp<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let mut waited = Duration::ZERO;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let (failure, kind) = match tokio::time::timeout(ATTEMPT_TIMEOUT, request()).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(error)) => {
                let kind = classify(&error);
                (Failure::Error(error), kind)
            }
            Err(_) => (Failure::TimedOut, Kind::Ambiguous),
        };
        let (retry, retry_after) = match kind {
            Kind::Throttled { retry_after } => (true, retry_after),
            Kind::NotConnected => (true, None),
            Kind::Ambiguous => (safe, None),
            Kind::Final => (false, None),
        };
        let give_up = |failure| GaveUp {
            failure,
            kind,
            attempts: attempt,
        };
        if !retry {
            return Err(give_up(failure));
        }
        match backoff.next(attempt, waited, retry_after) {
            Next::Wait(delay) => {
                let said = match &failure {
                    Failure::Error(e) => one_line(&e.to_string()),
                    Failure::TimedOut => {
                        format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs())
                    }
                };
                eprintln!(
                    "note: {said} ({what}); retrying in {} s (attempt {} of {})",
                    delay.as_secs_f32(),
                    attempt + 1,
                    backoff.max_attempts
                );
                tokio::time::sleep(delay).await;
                waited += delay;
            }
            Next::GiveUp => return Err(give_up(failure)),
        }
    }
}

/// An error's text on one line, at most 400 bytes: SDK errors can be long and multi-line.
pub fn one_line(text: &str) -> String {
    let mut line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.len() > 400 {
        let mut cut = 400;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push_str("...");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn quick() -> Backoff {
        Backoff {
            max_attempts: 3,
            base: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            max_total: Duration::from_millis(50),
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn writes_are_not_repeated_after_an_ambiguous_failure() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = block_on(run(
            &quick(),
            "import",
            false,
            |_: &String| Kind::Ambiguous,
            || {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err("connection reset".to_owned()) }
            },
        ));
        let gave_up = result.expect_err("fails");
        assert_eq!((gave_up.attempts, calls.load(Ordering::SeqCst)), (1, 1));
    }

    #[test]
    fn throttling_is_retried_until_the_attempts_run_out() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = block_on(run(
            &quick(),
            "import",
            false,
            |_: &String| Kind::Throttled { retry_after: None },
            || {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err("429".to_owned()) }
            },
        ));
        assert_eq!(result.expect_err("fails").attempts, 3);
        let calls = AtomicU32::new(0);
        let ok = block_on(run(
            &quick(),
            "read",
            true,
            |_: &String| Kind::Ambiguous,
            || {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < 2 {
                        Err("reset".to_owned())
                    } else {
                        Ok(n)
                    }
                }
            },
        ));
        assert_eq!(ok.expect("third attempt"), 2);
    }
}
