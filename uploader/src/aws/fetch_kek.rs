//! `byok-upload aws fetch-kek`: check that the KMS key is waiting for external key material
//! (Origin EXTERNAL), refuse a wrapping algorithm AWS would refuse for its key spec, call
//! GetParametersForImport and write the wrapping public key (SPKI DER, as the station loads
//! it), the import token and the JSON describing them, never overwriting anything.
use std::path::{Path, PathBuf};

use aws_sdk_kms::types::{AlgorithmSpec, WrappingKeySpec};
use byok_ceremony::byok::fingerprint::Fingerprint;
use byok_ceremony::byok::kek::Kek;
use byok_ceremony::media::atomic::WriteError;
use sha2::{Digest, Sha256};

use crate::aws::client::{AwsError, Kms};
use crate::aws::combos::{self, ComboError};
use crate::aws::key::{KeyError, describe};
use crate::aws::parameters::{FORMAT, ImportParameters, output_names};
use crate::clock;
use crate::write_set::{refuse_existing, write_all};

/// What to fetch.
#[derive(Debug, Clone)]
pub struct FetchRequest {
    pub key_id: String,
    pub wrapping_algorithm: String,
    pub wrapping_key_spec: String,
}

/// What was written and what to read aloud.
#[derive(Debug)]
pub struct Fetched {
    pub parameters: ImportParameters,
    pub fingerprint: Fingerprint,
    pub paths: Vec<PathBuf>,
    pub warnings: Vec<String>,
}

/// Why the wrapping key could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum AwsFetchError {
    #[error("{0}")]
    Service(#[from] AwsError),
    #[error("{0}")]
    Key(#[from] KeyError),
    #[error("{0}")]
    Combination(#[from] ComboError),
    #[error(
        "AWS KMS answered GetParametersForImport without {0}: run byok-upload again; if it persists, use `aws kms get-parameters-for-import` and report it"
    )]
    Incomplete(&'static str),
    #[error(
        "the wrapping key AWS returned is not usable by the station ({0}): run byok-upload again; if it persists, report it"
    )]
    Kek(String),
    #[error(
        "the wrapping key AWS returned is RSA-{got}, not the {asked} that was asked for: run byok-upload again"
    )]
    WrongSize { got: usize, asked: String },
    #[error(
        "these import parameters are valid only until {valid_to} ({until}): the clock of this machine or of AWS is wrong; check it and run byok-upload again"
    )]
    AlreadyExpired { valid_to: String, until: String },
    #[error("{0}")]
    Output(#[from] WriteError),
}

impl AwsFetchError {
    pub fn exit_code(&self) -> u8 {
        match self {
            AwsFetchError::Service(e) | AwsFetchError::Key(KeyError::Service(e))
                if e.is_environment() =>
            {
                3
            }
            _ => 1,
        }
    }
}

/// Fetches and writes the import parameters.
pub async fn fetch_kek(
    kms: &Kms,
    request: &FetchRequest,
    out: &Path,
) -> Result<Fetched, AwsFetchError> {
    let wrapping = combos::wrapping(&request.wrapping_algorithm)?;
    let asked_bits = combos::wrapping_key_bits(&request.wrapping_key_spec)?;
    if !out.is_dir() {
        return Err(WriteError::NoDirectory(out.to_owned()).into());
    }
    let key = describe(kms, &request.key_id).await?;
    combos::check_combination(wrapping, &request.wrapping_key_spec, &key.key_spec)?;
    let names = output_names(&key.key_id);
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    // Refuse before asking for parameters: each GetParametersForImport invalidates nothing,
    // but a refused run should leave no trace.
    refuse_existing(out, &name_refs)?;
    let client = kms.client();
    let key_id = key.key_id.clone();
    let answer = kms
        .call("get the parameters for import", || {
            client
                .get_parameters_for_import()
                .key_id(&key_id)
                .wrapping_algorithm(AlgorithmSpec::from(wrapping.name))
                .wrapping_key_spec(WrappingKeySpec::from(request.wrapping_key_spec.as_str()))
                .send()
        })
        .await?;
    let public_der = answer
        .public_key()
        .ok_or(AwsFetchError::Incomplete("PublicKey"))?
        .as_ref()
        .to_vec();
    let token = answer
        .import_token()
        .ok_or(AwsFetchError::Incomplete("ImportToken"))?
        .as_ref()
        .to_vec();
    let valid_to = answer
        .parameters_valid_to()
        .ok_or(AwsFetchError::Incomplete("ParametersValidTo"))?
        .secs();
    if valid_to <= clock::now() {
        return Err(AwsFetchError::AlreadyExpired {
            valid_to: clock::rfc3339(valid_to),
            until: clock::until(valid_to),
        });
    }
    // The station's own loader: what it refuses must not be written.
    let kek = Kek::from_bytes(&public_der).map_err(|e| AwsFetchError::Kek(e.to_string()))?;
    if kek.bits() != asked_bits {
        return Err(AwsFetchError::WrongSize {
            got: kek.bits(),
            asked: request.wrapping_key_spec.clone(),
        });
    }
    let [der_name, token_name, json_name] = names;
    let parameters = ImportParameters {
        format: FORMAT.to_owned(),
        key_arn: key.arn.clone(),
        key_id: key.key_id.clone(),
        region: kms.region.clone(),
        key_spec: key.key_spec.clone(),
        wrapping_algorithm: wrapping.name.to_owned(),
        wrapping_key_spec: request.wrapping_key_spec.clone(),
        parameters_valid_to: clock::rfc3339(valid_to),
        wrapping_key_sha256: kek.fingerprint().hex(),
        import_token_sha256: hex::encode(Sha256::digest(&token)),
        wrapping_key_file: der_name.clone(),
        import_token_file: token_name.clone(),
    };
    let json = parameters.to_json();
    let paths = write_all(
        out,
        &[
            (der_name.as_str(), kek.spki_der()),
            (token_name.as_str(), &token),
            (json_name.as_str(), &json),
        ],
    )?;
    let mut warnings = kek.warnings().to_vec();
    warnings.extend(key.warnings);
    Ok(Fetched {
        parameters,
        fingerprint: kek.fingerprint(),
        paths,
        warnings,
    })
}
