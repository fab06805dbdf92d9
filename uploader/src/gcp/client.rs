//! The Cloud KMS client: Google Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS,
//! gcloud's `application-default login` file, or the metadata server), the SDK's own retries
//! off in favour of [`crate::attempts`], and one clear error per kind of failure.
use std::future::Future;

use google_cloud_gax::error::Error as GaxError;
use google_cloud_gax::error::rpc::Code;
use google_cloud_gax::retry_policy::NeverRetry;
use google_cloud_kms_v1::client::KeyManagementService;

use crate::attempts::{self, Failure, GaveUp, Kind, one_line};
use crate::retry::{Backoff, parse_retry_after};

/// Cloud KMS's public endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://cloudkms.googleapis.com";

/// Why a Cloud KMS request failed, with what to do next.
#[derive(Debug, thiserror::Error)]
pub enum GcpError {
    #[error(
        "could not set up the Cloud KMS client for {endpoint} ({detail}): sign in with `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a credentials file"
    )]
    Setup { endpoint: String, detail: String },
    #[error(
        "no usable Google credentials while trying to {what} ({detail}): run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS"
    )]
    Credential { what: String, detail: String },
    #[error(
        "Cloud KMS is still throttling requests after {attempts} attempts to {what}: nothing was changed; wait a few minutes and run byok-upload again"
    )]
    Throttled { what: String, attempts: u32 },
    #[error("Cloud KMS has no such resource when trying to {what} ({detail})")]
    NotFound { what: String, detail: String },
    #[error(
        "the identity may not {what} ({detail}): grant it roles/cloudkms.importer, roles/cloudkms.viewer and roles/cloudkms.publicKeyViewer on the key ring, then run byok-upload again"
    )]
    PermissionDenied { what: String, detail: String },
    #[error("Cloud KMS refused to {what} ({code}: {detail})")]
    Rejected {
        what: String,
        code: String,
        detail: String,
    },
    #[error(
        "could not reach Cloud KMS to {what} ({detail}): check --endpoint, DNS, proxy and firewall, then run byok-upload again"
    )]
    Network { what: String, detail: String },
    #[error(
        "the request to {what} failed in a way that does not tell whether Cloud KMS applied it ({detail})"
    )]
    OutcomeUnknown { what: String, detail: String },
}

impl GcpError {
    /// Failures of the surroundings (network, credentials, permissions): exit code 3.
    pub fn is_environment(&self) -> bool {
        matches!(
            self,
            GcpError::Setup { .. }
                | GcpError::Credential { .. }
                | GcpError::Throttled { .. }
                | GcpError::PermissionDenied { .. }
                | GcpError::Network { .. }
                | GcpError::OutcomeUnknown { .. }
        )
    }

    /// The gRPC status name (e.g. "FAILED_PRECONDITION"), when the service sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            GcpError::Rejected { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// What one failed call said.
#[derive(Debug)]
pub struct Said {
    kind: Kind,
    code: Option<Code>,
    credential: bool,
    connect: bool,
    detail: String,
}

impl std::fmt::Display for Said {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

/// A Cloud KMS client.
pub struct Gcp {
    client: KeyManagementService,
    pub endpoint: String,
    backoff: Backoff,
}

impl std::fmt::Debug for Gcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gcp")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Gcp {
    /// Builds the client with Application Default Credentials. `endpoint` replaces the public
    /// endpoint (a Private Service Connect endpoint, or a test double).
    pub async fn connect(endpoint: Option<&str>) -> Result<Gcp, GcpError> {
        let endpoint = endpoint
            .unwrap_or(DEFAULT_ENDPOINT)
            .trim_end_matches('/')
            .to_owned();
        let client = KeyManagementService::builder()
            .with_endpoint(endpoint.clone())
            .with_retry_policy(NeverRetry)
            .build()
            .await
            .map_err(|e| GcpError::Setup {
                endpoint: endpoint.clone(),
                detail: one_line(&e.to_string()),
            })?;
        Ok(Gcp {
            client,
            endpoint,
            backoff: Backoff::default(),
        })
    }

    pub fn client(&self) -> &KeyManagementService {
        &self.client
    }

    /// Runs one request with the shared retry rules; `safe` for reads, not for imports (each
    /// ImportCryptoKeyVersion makes a new key version).
    pub async fn call<T, F, Fut>(
        &self,
        what: &str,
        safe: bool,
        mut request: F,
    ) -> Result<T, GcpError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, GaxError>>,
    {
        let result = attempts::run(
            &self.backoff,
            what,
            safe,
            |s: &Said| s.kind,
            || {
                let fut = request();
                async move { fut.await.map_err(|e| said(&e)) }
            },
        )
        .await;
        result.map_err(|gave_up| error(what, safe, gave_up))
    }
}

fn said(error: &GaxError) -> Said {
    let retry_after = error
        .http_headers()
        .and_then(|h| h.get("retry-after"))
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let code = error.status().map(|s| s.code);
    let http = error.http_status_code();
    let kind = match (code, http) {
        (Some(Code::ResourceExhausted), _) | (_, Some(429)) => Kind::Throttled { retry_after },
        (Some(Code::Unavailable | Code::Internal | Code::DeadlineExceeded), _) => Kind::Ambiguous,
        (_, Some(s)) if s >= 500 => Kind::Ambiguous,
        _ if error.is_connect() => Kind::NotConnected,
        _ if error.is_timeout() || error.is_io() || error.is_transport() => Kind::Ambiguous,
        _ => Kind::Final,
    };
    let detail = match error.status() {
        Some(status) => one_line(&status.message),
        None => one_line(&error.to_string()),
    };
    Said {
        kind,
        code,
        credential: error.is_authentication(),
        connect: error.is_connect(),
        detail,
    }
}

fn error(what: &str, safe: bool, gave_up: GaveUp<Said>) -> GcpError {
    let what = what.to_owned();
    let said = match gave_up.failure {
        Failure::TimedOut if safe => {
            return GcpError::Network {
                what,
                detail: format!("no answer within {} s", attempts::ATTEMPT_TIMEOUT.as_secs()),
            };
        }
        Failure::TimedOut => {
            return GcpError::OutcomeUnknown {
                what,
                detail: format!("no answer within {} s", attempts::ATTEMPT_TIMEOUT.as_secs()),
            };
        }
        Failure::Error(said) => said,
    };
    let detail = said.detail;
    if said.credential {
        return GcpError::Credential { what, detail };
    }
    match (gave_up.kind, said.code) {
        (Kind::Throttled { .. }, _) => GcpError::Throttled {
            what,
            attempts: gave_up.attempts,
        },
        (_, Some(Code::NotFound)) => GcpError::NotFound { what, detail },
        (_, Some(Code::PermissionDenied)) => GcpError::PermissionDenied { what, detail },
        (_, Some(Code::Unauthenticated)) => GcpError::Credential { what, detail },
        (Kind::NotConnected, _) => GcpError::Network { what, detail },
        (Kind::Ambiguous, _) if !safe => GcpError::OutcomeUnknown { what, detail },
        (Kind::Ambiguous, None) => GcpError::Network { what, detail },
        (_, Some(code)) => GcpError::Rejected {
            what,
            code: code.name().to_owned(),
            detail,
        },
        (_, None) if said.connect => GcpError::Network { what, detail },
        (_, None) => GcpError::Rejected {
            what,
            code: "UNKNOWN".to_owned(),
            detail,
        },
    }
}
