//! The AWS KMS client: aws-config's default chain (environment, shared config and SSO
//! profiles, web identity, container and instance roles) for credentials and region, the SDK's
//! own retries off in favour of [`crate::attempts`], and one clear error per kind of failure.
use std::future::Future;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::attempts::{self, Failure, GaveUp, Kind, one_line};
use crate::retry::Backoff;

/// Where to connect, beyond what the default chain finds.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// `--region`; otherwise AWS_REGION or the profile's region.
    pub region: Option<String>,
    /// `--profile`; otherwise AWS_PROFILE or "default".
    pub profile: Option<String>,
    /// `--endpoint-url` (a VPC endpoint, FIPS endpoint or a test double); otherwise
    /// AWS_ENDPOINT_URL_KMS / AWS_ENDPOINT_URL or the region's public endpoint.
    pub endpoint_url: Option<String>,
}

/// Why an AWS KMS request failed, with what to do next.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error(
        "no AWS region is set: give --region, set AWS_REGION, or set region in the profile (`aws configure`)"
    )]
    NoRegion,
    #[error(
        "no AWS credentials were found ({0}): run `aws configure` or `aws sso login`, or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE"
    )]
    Credential(String),
    #[error(
        "AWS refused the credentials ({0}): check the access key ID, its secret and session token (or sign in again: `aws sso login`), and this machine's clock"
    )]
    CredentialRefused(String),
    #[error(
        "AWS KMS is still throttling requests after {attempts} attempts to {what}: nothing was changed; wait a few minutes and run byok-upload again"
    )]
    Throttled { what: String, attempts: u32 },
    #[error(
        "AWS KMS has no such key when trying to {what} ({detail}): check --key-id and --region"
    )]
    NotFound { what: String, detail: String },
    #[error(
        "the identity may not {what} ({detail}): its IAM or key policy needs kms:DescribeKey, kms:GetParametersForImport, kms:ImportKeyMaterial and kms:GetPublicKey on this key"
    )]
    AccessDenied { what: String, detail: String },
    #[error("AWS KMS refused to {what} ({detail})")]
    Rejected {
        what: String,
        code: String,
        detail: String,
    },
    #[error(
        "could not reach AWS KMS to {what} ({detail}): check the region, endpoint, DNS, proxy and firewall, then run byok-upload again"
    )]
    Network { what: String, detail: String },
    #[error("AWS KMS could not {what} ({detail}); run byok-upload again")]
    Other { what: String, detail: String },
}

impl AwsError {
    /// Failures of the surroundings (network, credentials, permissions): exit code 3.
    pub fn is_environment(&self) -> bool {
        matches!(
            self,
            AwsError::NoRegion
                | AwsError::Credential(_)
                | AwsError::CredentialRefused(_)
                | AwsError::Throttled { .. }
                | AwsError::AccessDenied { .. }
                | AwsError::Network { .. }
                | AwsError::Other { .. }
        )
    }

    /// The service's error code (e.g. "ExpiredImportTokenException"), when it sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Rejected { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// What one failed call said, reduced to what the loop and the messages need.
#[derive(Debug)]
pub struct Said {
    kind: Kind,
    code: Option<String>,
    status: Option<u16>,
    detail: String,
}

impl std::fmt::Display for Said {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

/// A KMS client for one region.
pub struct Kms {
    client: aws_sdk_kms::Client,
    pub region: String,
    /// How the credential was found (the access key ID and the provider; never a secret).
    pub credential: String,
    backoff: Backoff,
}

impl std::fmt::Debug for Kms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kms")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl Kms {
    /// Loads the default chain and checks, before any KMS request, that it yields a region
    /// and credentials.
    pub async fn connect(connection: &Connection) -> Result<Kms, AwsError> {
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).retry_config(RetryConfig::disabled());
        if let Some(region) = &connection.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(profile) = &connection.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &connection.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let config = loader.load().await;
        let region = config.region().ok_or(AwsError::NoRegion)?.to_string();
        let provider = config
            .credentials_provider()
            .ok_or_else(|| AwsError::Credential("no credential provider".to_owned()))?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| AwsError::Credential(one_line(&DisplayErrorContext(&e).to_string())))?;
        let credential = format!("AWS access key ID {}", credentials.access_key_id());
        Ok(Kms {
            client: aws_sdk_kms::Client::new(&config),
            region,
            credential,
            backoff: Backoff::default(),
        })
    }

    pub fn client(&self) -> &aws_sdk_kms::Client {
        &self.client
    }

    /// Runs one KMS operation with the shared retry rules. Every call byok-upload makes is
    /// safe to repeat: reads, GetParametersForImport (a new set each time; the last one
    /// fetched is the one written), and ImportKeyMaterial (KMS accepts the same key material
    /// into the same key again).
    pub async fn call<T, E, F, Fut>(&self, what: &str, mut request: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<
            Output = Result<
                T,
                SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
            >,
        >,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let result = attempts::run(
            &self.backoff,
            what,
            true,
            |said: &Said| said.kind,
            || {
                let fut = request();
                async move { fut.await.map_err(|e| said(&e)) }
            },
        )
        .await;
        result.map_err(|gave_up| error(what, gave_up))
    }
}

fn said<E>(error: &SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>) -> Said
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let text = one_line(&DisplayErrorContext(error).to_string());
    match error {
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            let code = context.err().code().map(str::to_owned);
            let message = context.err().message().map(one_line);
            let kind = match code.as_deref() {
                Some("ThrottlingException") => Kind::Throttled { retry_after: None },
                _ if status == 429 => Kind::Throttled { retry_after: None },
                Some("KMSInternalException" | "DependencyTimeoutException") => Kind::Ambiguous,
                _ if status >= 500 => Kind::Ambiguous,
                _ => Kind::Final,
            };
            let detail = match (&code, message) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c.clone(),
                (None, Some(m)) => format!("HTTP {status}: {m}"),
                (None, None) => format!("HTTP {status}"),
            };
            Said {
                kind,
                code,
                status: Some(status),
                detail,
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Said {
                kind: Kind::Ambiguous,
                code: None,
                status: None,
                detail: text,
            }
        }
        _ => Said {
            kind: Kind::Final,
            code: None,
            status: None,
            detail: text,
        },
    }
}

fn error(what: &str, gave_up: GaveUp<Said>) -> AwsError {
    let what = what.to_owned();
    let said = match gave_up.failure {
        Failure::TimedOut => {
            return AwsError::Network {
                what,
                detail: format!("no answer within {} s", attempts::ATTEMPT_TIMEOUT.as_secs()),
            };
        }
        Failure::Error(said) => said,
    };
    let detail = said.detail;
    match (gave_up.kind, said.code.as_deref(), said.status) {
        (Kind::Throttled { .. }, _, _) => AwsError::Throttled {
            what,
            attempts: gave_up.attempts,
        },
        (_, Some("NotFoundException"), _) => AwsError::NotFound { what, detail },
        (_, Some("AccessDeniedException"), _) | (_, _, Some(403)) => {
            AwsError::AccessDenied { what, detail }
        }
        (_, Some("UnrecognizedClientException" | "InvalidSignatureException"), _)
        | (_, _, Some(401)) => AwsError::CredentialRefused(detail),
        (Kind::Final, Some(code), _) => AwsError::Rejected {
            what,
            code: code.to_owned(),
            detail,
        },
        (_, _, None) => AwsError::Network { what, detail },
        _ => AwsError::Other { what, detail },
    }
}
