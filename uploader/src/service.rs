//! The Key Vault / Managed HSM client: built on the SDK's `KeyClient`, with its own bounded
//! retries (the SDK's are switched off, because they would repeat an import after an error that
//! does not prove the first attempt failed) and one clear error per kind of failure.
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::headers::RETRY_AFTER;
use azure_core::http::{RetryOptions, StatusCode};
use azure_security_keyvault_keys::{KeyClient, KeyClientOptions};

use crate::retry::{Backoff, Next, parse_retry_after};
use crate::vault_url::VaultUrl;

/// Longest wait for one request before it counts as a network failure.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);

/// Whether repeating a request after an ambiguous failure is harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// Reads: retried after throttling, unavailability and network errors.
    Safe,
    /// Writes (import makes a new key version each time): retried only after a 429 or a
    /// connection that never opened; any other failure may have been applied.
    OnlyIfNotApplied,
}

/// Why a request failed, with what to do next.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(
        "{vault} refused the credential's token while trying to {what} (HTTP 401{detail}): sign in again (`az login`) or check the credential's settings, and check that it belongs to the vault's tenant"
    )]
    Unauthorized {
        vault: String,
        what: String,
        detail: String,
    },
    #[error(
        "the identity may not {what} on {vault} (HTTP 403{detail}): grant it the keys get and import permissions (role Key Vault Crypto Officer; on a Managed HSM, Managed HSM Crypto User), wait a few minutes for the assignment to apply, then run byok-upload again"
    )]
    Forbidden {
        vault: String,
        what: String,
        detail: String,
    },
    #[error("{vault} has no such key (HTTP 404{detail}) when trying to {what}")]
    NotFound {
        vault: String,
        what: String,
        detail: String,
    },
    #[error(
        "{vault} refused to {what} because of a conflict (HTTP 409{detail}): a deleted key of this name is probably still recoverable there; recover it (`az keyvault key recover`), purge it, or choose another --name"
    )]
    Conflict {
        vault: String,
        what: String,
        detail: String,
    },
    #[error(
        "{vault} is still throttling requests (HTTP 429) after {attempts} attempts to {what}: nothing was changed; wait a few minutes and run byok-upload again"
    )]
    Throttled {
        vault: String,
        what: String,
        attempts: u32,
    },
    #[error("{vault} rejected the request to {what} (HTTP {status}{detail})")]
    Rejected {
        vault: String,
        what: String,
        status: u16,
        detail: String,
    },
    #[error(
        "could not get a token to {what} ({detail}): check the credential (`--credential`, `az login`, the AZURE_* variables)"
    )]
    Credential { what: String, detail: String },
    #[error(
        "could not reach {vault} to {what} ({detail}): check the URL, DNS, proxy and firewall, then run byok-upload again"
    )]
    Network {
        vault: String,
        what: String,
        detail: String,
    },
    #[error(
        "the request to {what} failed in a way that does not tell whether {vault} applied it ({detail})"
    )]
    OutcomeUnknown {
        vault: String,
        what: String,
        detail: String,
    },
    #[error("{vault} could not {what} ({detail}); run byok-upload again")]
    Other {
        vault: String,
        what: String,
        detail: String,
    },
    #[error("could not set up the Key Vault client for {vault}: {detail}")]
    Setup { vault: String, detail: String },
}

/// A client for one vault.
pub struct Service {
    client: KeyClient,
    vault: String,
    backoff: Backoff,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("vault", &self.vault)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// The SDK client for `vault`. On a loopback test double the challenge's resource cannot be
    /// a parent domain of the host, so that one check is relaxed there (never for Azure hosts).
    pub fn new(
        vault: &VaultUrl,
        credential: Arc<dyn TokenCredential>,
    ) -> Result<Service, ServiceError> {
        let mut options = KeyClientOptions::default();
        options.client_options.retry = RetryOptions::none();
        options.verify_challenge_resource = Some(!vault.is_loopback());
        let client = KeyClient::new(&vault.endpoint(), credential, Some(options)).map_err(|e| {
            ServiceError::Setup {
                vault: vault.to_string(),
                detail: e.to_string(),
            }
        })?;
        Ok(Service {
            client,
            vault: vault.to_string(),
            backoff: Backoff::default(),
        })
    }

    pub fn client(&self) -> &KeyClient {
        &self.client
    }

    /// Runs `request` until it succeeds, fails for good, or the backoff is used up.
    pub async fn call<T, F, Fut>(
        &self,
        what: &str,
        repeat: Repeat,
        mut request: F,
    ) -> Result<T, ServiceError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = azure_core::Result<T>>,
    {
        let mut waited = Duration::ZERO;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let failure = match tokio::time::timeout(ATTEMPT_TIMEOUT, request()).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(error)) => Failure::of(&error),
                Err(_) => Failure::timeout(),
            };
            let retry = match failure.class {
                Class::Throttled => true,
                Class::NotConnected => true,
                Class::Unavailable | Class::Transport => repeat == Repeat::Safe,
                _ => false,
            };
            if !retry {
                return Err(self.error(what, repeat, failure, attempt));
            }
            match self.backoff.next(attempt, waited, failure.retry_after) {
                Next::Wait(delay) => {
                    eprintln!(
                        "note: {} ({}); retrying in {} s (attempt {} of {})",
                        failure.summary(),
                        what,
                        delay.as_secs_f32(),
                        attempt + 1,
                        self.backoff.max_attempts
                    );
                    tokio::time::sleep(delay).await;
                    waited += delay;
                }
                Next::GiveUp => return Err(self.error(what, repeat, failure, attempt)),
            }
        }
    }

    fn error(&self, what: &str, repeat: Repeat, failure: Failure, attempts: u32) -> ServiceError {
        let vault = self.vault.clone();
        let what = what.to_owned();
        let detail = failure.detail.clone();
        match failure.class {
            Class::Throttled => ServiceError::Throttled {
                vault,
                what,
                attempts,
            },
            Class::Credential => ServiceError::Credential { what, detail },
            Class::NotConnected => ServiceError::Network {
                vault,
                what,
                detail,
            },
            Class::Transport | Class::Unavailable if repeat == Repeat::OnlyIfNotApplied => {
                ServiceError::OutcomeUnknown {
                    vault,
                    what,
                    detail: failure.summary(),
                }
            }
            Class::Transport => ServiceError::Network {
                vault,
                what,
                detail,
            },
            Class::Status(401) => ServiceError::Unauthorized {
                vault,
                what,
                detail,
            },
            Class::Status(403) => ServiceError::Forbidden {
                vault,
                what,
                detail,
            },
            Class::Status(404) => ServiceError::NotFound {
                vault,
                what,
                detail,
            },
            Class::Status(409) => ServiceError::Conflict {
                vault,
                what,
                detail,
            },
            Class::Status(status) if (400..500).contains(&status) => ServiceError::Rejected {
                vault,
                what,
                status,
                detail,
            },
            Class::Status(status) if repeat == Repeat::OnlyIfNotApplied => {
                ServiceError::OutcomeUnknown {
                    vault,
                    what,
                    detail: format!("HTTP {status}{detail}"),
                }
            }
            Class::Unavailable | Class::Status(_) | Class::Other => ServiceError::Other {
                vault,
                what,
                detail: failure.summary(),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Throttled,
    Unavailable,
    NotConnected,
    Transport,
    Credential,
    Status(u16),
    Other,
}

/// What one failed attempt said.
#[derive(Debug)]
struct Failure {
    class: Class,
    retry_after: Option<Duration>,
    /// ": <service code>: <service message>" when the service said why, else "".
    detail: String,
}

impl Failure {
    fn of(error: &azure_core::Error) -> Failure {
        match error.kind() {
            ErrorKind::HttpResponse {
                status,
                error_code,
                raw_response,
            } => {
                let code = u16::from(*status);
                let retry_after = raw_response
                    .as_ref()
                    .and_then(|r| r.headers().get_optional_str(&RETRY_AFTER))
                    .and_then(parse_retry_after);
                let message = raw_response
                    .as_ref()
                    .and_then(|r| service_message(r.body().as_ref()));
                let detail = match (message, error_code) {
                    (Some(m), _) => format!(": {m}"),
                    (None, Some(code)) => format!(": {code}"),
                    (None, None) => String::new(),
                };
                let class = match *status {
                    StatusCode::TooManyRequests => Class::Throttled,
                    StatusCode::ServiceUnavailable => Class::Unavailable,
                    _ => Class::Status(code),
                };
                Failure {
                    class,
                    retry_after,
                    detail,
                }
            }
            ErrorKind::Connection => Failure::plain(Class::NotConnected, error),
            ErrorKind::Io => Failure::plain(Class::Transport, error),
            ErrorKind::Credential => Failure::plain(Class::Credential, error),
            _ => Failure::plain(Class::Other, error),
        }
    }

    fn plain(class: Class, error: &azure_core::Error) -> Failure {
        Failure {
            class,
            retry_after: None,
            detail: one_line(&error.to_string()),
        }
    }

    fn timeout() -> Failure {
        Failure {
            class: Class::Transport,
            retry_after: None,
            detail: format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs()),
        }
    }

    fn summary(&self) -> String {
        match self.class {
            Class::Throttled => format!("throttled (HTTP 429{})", self.detail),
            Class::Unavailable => format!("service unavailable (HTTP 503{})", self.detail),
            Class::Status(code) => format!("HTTP {code}{}", self.detail),
            _ => self.detail.clone(),
        }
    }
}

/// `error.code: error.message` from a Key Vault error body, when there is one.
fn service_message(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let error = value.get("error")?;
    let message = error.get("message").and_then(|m| m.as_str());
    let code = error.get("code").and_then(|c| c.as_str());
    match (code, message) {
        (Some(c), Some(m)) => Some(one_line(&format!("{c}: {m}"))),
        (None, Some(m)) => Some(one_line(m)),
        (Some(c), None) => Some(c.to_owned()),
        (None, None) => None,
    }
}

fn one_line(text: &str) -> String {
    let joined: Vec<&str> = text.split_whitespace().collect();
    let mut line = joined.join(" ");
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

    #[test]
    fn reads_key_vault_error_bodies() {
        let body =
            br#"{"error":{"code":"Forbidden","message":"Caller is not authorized.\nInner"}}"#;
        assert_eq!(
            service_message(body).as_deref(),
            Some("Forbidden: Caller is not authorized. Inner")
        );
        assert_eq!(service_message(b"<html>"), None);
        assert_eq!(one_line(&"x".repeat(500)).len(), 403);
    }
}
