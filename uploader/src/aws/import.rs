//! `byok-upload aws import`: the local checks (manifest, wrapped key material, import token
//! and its parameters, their 24-hour validity, the algorithm and key spec), then
//! ImportKeyMaterial, and the proof: the key is Enabled and, for an asymmetric key, the public
//! key KMS returns is the manifest's.
use std::path::Path;

use aws_sdk_kms::primitives::{Blob, DateTime};
use aws_sdk_kms::types::ExpirationModelType;
use byok_ceremony::byok::fingerprint::Fingerprint;
use sha2::{Digest, Sha256};

use crate::aws::client::{AwsError, Kms};
use crate::aws::combos::{self, ComboError};
use crate::aws::key::{KeyError, describe};
use crate::aws::parameters::ImportParameters;
use crate::ceremony_output::{self, CeremonyOutputError, rsa_bits, wrapped_length_fits};
use crate::clock;
use crate::preflight::read_limited;
use crate::public_key::canonical_spki;

/// Longest validity AWS accepts for KEY_MATERIAL_EXPIRES.
const MAX_VALID_TO_SECS: i64 = 365 * 24 * 3600;
/// An import token this close to ParametersValidTo may expire in flight: refuse it.
const TOKEN_MARGIN_SECS: i64 = 120;

/// ImportKeyMaterial's expiration model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiration {
    /// KEY_MATERIAL_DOES_NOT_EXPIRE
    Never,
    /// KEY_MATERIAL_EXPIRES at this Unix time (at most 365 days ahead).
    At(i64),
}

/// The files and choices of one import.
#[derive(Debug)]
pub struct AwsImportRequest<'a> {
    pub manifest: &'a Path,
    pub encrypted_key_material: &'a Path,
    pub import_token: &'a Path,
    pub parameters: &'a Path,
    /// `--key-id`, when given: must be the key the parameters were fetched for.
    pub key_id: Option<&'a str>,
    pub expiration: Expiration,
    pub expect: Option<[u8; 32]>,
    pub allow_rehearsal: bool,
}

/// What the import achieved.
#[derive(Debug)]
pub struct AwsImported {
    pub arn: String,
    pub proof: String,
    pub warnings: Vec<String>,
}

/// Why the import was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AwsImportError {
    #[error("{0}")]
    Output(#[from] CeremonyOutputError),
    #[error(
        "{path} is not the import parameters `byok-upload aws fetch-kek` writes ({reason}): use the KEY.import-parameters.json written with the token"
    )]
    Parameters { path: String, reason: String },
    #[error(
        "the import token {path} is not the one these parameters were fetched with (SHA-256 {actual}, the parameters say {recorded}): use the token from the same fetch-kek"
    )]
    TokenMismatch {
        path: String,
        actual: String,
        recorded: String,
    },
    #[error(
        "the import token expired (ParametersValidTo {valid_to}, {until}); AWS refuses it: run `byok-upload aws fetch-kek` again and wrap the key for the new wrapping key at the station"
    )]
    Expired { valid_to: String, until: String },
    #[error(
        "the ceremony wrapped the key for the wrapping key with SHA-256 {manifest}, but these parameters are for {parameters}: use the parameters and token fetched with the wrapping key the ceremony used"
    )]
    KekMismatch {
        manifest: String,
        parameters: String,
    },
    #[error(
        "{path} is {len} bytes, which {algorithm} under an RSA-{bits} wrapping key cannot produce ({shape}): use the encrypted key material the ceremony wrote for these parameters"
    )]
    WrongLength {
        path: String,
        len: usize,
        algorithm: String,
        bits: usize,
        shape: String,
    },
    #[error(
        "--key-id {given} is not the key these parameters were fetched for ({arn}): an import token works only for its own key"
    )]
    KeyMismatch { given: String, arn: String },
    #[error("{0}")]
    Combination(#[from] ComboError),
    #[error(
        "--valid-to {0} is not between now and 365 days from now, as AWS requires for KEY_MATERIAL_EXPIRES"
    )]
    BadValidTo(String),
    #[error("{0}")]
    Key(#[from] KeyError),
    #[error(
        "the KMS key {arn} is now {found}, but the parameters were fetched when it was {recorded}: it is not the same key"
    )]
    KeySpecChanged {
        arn: String,
        found: String,
        recorded: String,
    },
    #[error("{0}")]
    Service(AwsError),
    #[error("AWS KMS refused the key material: {detail}. {advice}")]
    Refused {
        detail: String,
        advice: &'static str,
    },
    #[error(
        "AWS accepted the key material but the key {arn} is {state}, not Enabled: check it with `aws kms describe-key --key-id {arn}`"
    )]
    NotEnabled { arn: String, state: String },
    #[error(
        "THE IMPORTED KEY IS NOT THE CEREMONY'S: AWS KMS returns the public key with SHA-256 {actual}, the manifest records {expected}. Disable the key at once (`aws kms disable-key --key-id {arn}`) and investigate"
    )]
    PublicKeyMismatch {
        arn: String,
        actual: String,
        expected: String,
    },
    #[error(
        "AWS KMS returned no usable public key for {arn} ({reason}): check it with `aws kms get-public-key --key-id {arn}`"
    )]
    BadPublicKey { arn: String, reason: String },
}

impl AwsImportError {
    pub fn exit_code(&self) -> u8 {
        match self {
            AwsImportError::Output(e) => e.exit_code(),
            AwsImportError::Service(e) | AwsImportError::Key(KeyError::Service(e))
                if e.is_environment() =>
            {
                3
            }
            _ => 1,
        }
    }
}

/// The local checks, before any request. Returns the checked pieces.
pub fn check_locally(
    request: &AwsImportRequest<'_>,
) -> Result<(ceremony_output::CeremonyOutput, ImportParameters, Vec<u8>), AwsImportError> {
    let output = ceremony_output::read(
        byok_ceremony::cloud::Cloud::Aws,
        request.manifest,
        request.encrypted_key_material,
        request.expect,
        request.allow_rehearsal,
    )?;
    let bytes = read_limited(request.parameters).map_err(CeremonyOutputError::from)?;
    let parameters =
        ImportParameters::parse(&bytes).map_err(|reason| AwsImportError::Parameters {
            path: request.parameters.display().to_string(),
            reason,
        })?;
    let token = read_limited(request.import_token).map_err(CeremonyOutputError::from)?;
    let actual = hex::encode(Sha256::digest(&token));
    if !actual.eq_ignore_ascii_case(&parameters.import_token_sha256) {
        return Err(AwsImportError::TokenMismatch {
            path: request.import_token.display().to_string(),
            actual,
            recorded: parameters.import_token_sha256.clone(),
        });
    }
    let valid_to = clock::parse(&parameters.parameters_valid_to).ok_or_else(|| {
        AwsImportError::Parameters {
            path: request.parameters.display().to_string(),
            reason: format!(
                "parameters_valid_to {:?} is not an RFC 3339 time",
                parameters.parameters_valid_to
            ),
        }
    })?;
    if valid_to <= clock::now() + TOKEN_MARGIN_SECS {
        return Err(AwsImportError::Expired {
            valid_to: parameters.parameters_valid_to.clone(),
            until: clock::until(valid_to),
        });
    }
    let recorded = Fingerprint::from_hex(&parameters.wrapping_key_sha256).map_err(|_| {
        AwsImportError::Parameters {
            path: request.parameters.display().to_string(),
            reason: "wrapping_key_sha256 is not a SHA-256 in hex".to_owned(),
        }
    })?;
    if recorded != output.kek_fingerprint {
        return Err(AwsImportError::KekMismatch {
            manifest: output.kek_fingerprint.hex(),
            parameters: recorded.hex(),
        });
    }
    let wrapping = combos::wrapping(&parameters.wrapping_algorithm)?;
    let bits = combos::wrapping_key_bits(&parameters.wrapping_key_spec)?;
    if !wrapped_length_fits(output.wrapped.len(), bits / 8, wrapping.with_kwp) {
        let shape = if wrapping.with_kwp {
            format!(
                "{} bytes of RSA-OAEP, then whole 8-byte blocks of RFC 5649, at least 16",
                bits / 8
            )
        } else {
            format!("exactly {} bytes", bits / 8)
        };
        return Err(AwsImportError::WrongLength {
            path: request.encrypted_key_material.display().to_string(),
            len: output.wrapped.len(),
            algorithm: wrapping.name.to_owned(),
            bits,
            shape,
        });
    }
    combos::check_combination(
        wrapping,
        &parameters.wrapping_key_spec,
        &parameters.key_spec,
    )?;
    combos::check_target(&parameters.key_spec, output.target, rsa_bits(&output))?;
    if let Some(given) = request.key_id
        && given != parameters.key_id
        && given != parameters.key_arn
    {
        return Err(AwsImportError::KeyMismatch {
            given: given.to_owned(),
            arn: parameters.key_arn.clone(),
        });
    }
    if let Expiration::At(at) = request.expiration
        && (at <= clock::now() || at > clock::now() + MAX_VALID_TO_SECS)
    {
        return Err(AwsImportError::BadValidTo(clock::rfc3339(at)));
    }
    Ok((output, parameters, token))
}

/// Imports and proves.
pub async fn import(
    kms: &Kms,
    request: &AwsImportRequest<'_>,
    output: &ceremony_output::CeremonyOutput,
    parameters: &ImportParameters,
    token: &[u8],
) -> Result<AwsImported, AwsImportError> {
    let key = describe(kms, &parameters.key_arn).await?;
    if key.key_spec != parameters.key_spec {
        return Err(AwsImportError::KeySpecChanged {
            arn: key.arn,
            found: key.key_spec,
            recorded: parameters.key_spec.clone(),
        });
    }
    let mut warnings = key.warnings.clone();
    let client = kms.client();
    let arn = key.arn.clone();
    kms.call("import the key material", || {
        let call = client
            .import_key_material()
            .key_id(&arn)
            .import_token(Blob::new(token.to_vec()))
            .encrypted_key_material(Blob::new(output.wrapped.clone()));
        let call = match request.expiration {
            Expiration::Never => {
                call.expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
            }
            Expiration::At(at) => call
                .expiration_model(ExpirationModelType::KeyMaterialExpires)
                .valid_to(DateTime::from_secs(at)),
        };
        call.send()
    })
    .await
    .map_err(refused)?;
    let after = describe(kms, &arn).await?;
    if after.key_state != "Enabled" {
        return Err(AwsImportError::NotEnabled {
            arn,
            state: after.key_state,
        });
    }
    let Some(expected) = &output.expected_spki else {
        warnings.push("AWS KMS shows no key material for a symmetric key: its acceptance of the import (checked against the token and wrapping key) is the only proof".to_owned());
        return Ok(AwsImported {
            arn,
            proof: "AWS KMS accepted the key material and the key is Enabled (a symmetric key has no public key to compare)".to_owned(),
            warnings,
        });
    };
    let answer = kms
        .call("read the imported public key", || {
            client.get_public_key().key_id(&arn).send()
        })
        .await
        .map_err(AwsImportError::Service)?;
    let der = answer
        .public_key()
        .map(|b| b.as_ref().to_vec())
        .ok_or_else(|| AwsImportError::BadPublicKey {
            arn: arn.clone(),
            reason: "no PublicKey in the answer".to_owned(),
        })?;
    let actual = canonical_spki(&der).map_err(|reason| AwsImportError::BadPublicKey {
        arn: arn.clone(),
        reason,
    })?;
    if &actual != expected {
        return Err(AwsImportError::PublicKeyMismatch {
            arn,
            actual: Fingerprint::of(&actual).hex(),
            expected: Fingerprint::of(expected).hex(),
        });
    }
    Ok(AwsImported {
        arn,
        proof: format!(
            "the key is Enabled and its public key equals the manifest's (SHA-256 {})",
            Fingerprint::of(expected).hex_groups()
        ),
        warnings,
    })
}

/// ImportKeyMaterial's refusals, with what to do about each.
fn refused(error: AwsError) -> AwsImportError {
    let advice = match error.code() {
        Some("ExpiredImportTokenException") => {
            "The import token expired: run `byok-upload aws fetch-kek` again and wrap the key for the new wrapping key"
        }
        Some("InvalidImportTokenException") => {
            "The token does not belong to this key: use the token fetched for it"
        }
        Some("IncorrectKeyMaterialException") => {
            "The key already holds other key material: AWS takes only the same material again; use a new KMS key"
        }
        Some("InvalidCiphertextException") => {
            "AWS could not unwrap it: the ceremony used another wrapping key or another OAEP hash than the parameters' algorithm (a token that ignores SHA-256 wraps with SHA-1); check the ceremony's known-answer test"
        }
        Some(_) => "Check the key and the files, then run byok-upload again",
        None => return AwsImportError::Service(error),
    };
    AwsImportError::Refused {
        detail: error.to_string(),
        advice,
    }
}
