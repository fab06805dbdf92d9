//! DescribeKey, and whether the key can take imported key material: Origin EXTERNAL, a key
//! spec a ceremony makes, and a state that allows an import.
use crate::aws::client::{AwsError, Kms};

/// Why the KMS key cannot take the ceremony's key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Service(AwsError),
    #[error(
        "there is no KMS key {key} in {region}: create one for import with `aws kms create-key --origin EXTERNAL --key-spec SPEC --key-usage USAGE --region {region}`, or check --key-id and --region"
    )]
    NotFound { key: String, region: String },
    #[error(
        "the KMS key {arn} has Origin {origin}, not EXTERNAL: AWS imports key material only into a key created with `aws kms create-key --origin EXTERNAL`; create one and use its ID"
    )]
    NotExternal { arn: String, origin: String },
    #[error("the KMS key {arn} is {state}: {advice}")]
    State {
        arn: String,
        state: String,
        advice: &'static str,
    },
    #[error("AWS KMS described the key without {0}: run byok-upload again")]
    Incomplete(&'static str),
}

/// What byok-upload needs to know about the key.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    pub key_id: String,
    pub arn: String,
    pub key_spec: String,
    pub key_state: String,
    pub warnings: Vec<String>,
}

/// Describes `key` and refuses a key that cannot take imported material.
pub async fn describe(kms: &Kms, key: &str) -> Result<KeyInfo, KeyError> {
    let client = kms.client();
    let answer = kms
        .call("describe the KMS key", || {
            client.describe_key().key_id(key).send()
        })
        .await
        .map_err(|e| match e {
            AwsError::NotFound { .. } => KeyError::NotFound {
                key: key.to_owned(),
                region: kms.region.clone(),
            },
            other => KeyError::Service(other),
        })?;
    let metadata = answer
        .key_metadata()
        .ok_or(KeyError::Incomplete("KeyMetadata"))?;
    let arn = metadata.arn().unwrap_or(metadata.key_id()).to_owned();
    let origin = metadata
        .origin()
        .map(|o| o.as_str().to_owned())
        .ok_or(KeyError::Incomplete("Origin"))?;
    if origin != "EXTERNAL" {
        return Err(KeyError::NotExternal { arn, origin });
    }
    let key_state = metadata
        .key_state()
        .map(|s| s.as_str().to_owned())
        .ok_or(KeyError::Incomplete("KeyState"))?;
    let mut warnings = Vec::new();
    match key_state.as_str() {
        "PendingImport" => {}
        "Enabled" | "Disabled" => warnings.push(format!(
            "the KMS key {arn} already has key material ({key_state}); AWS accepts only the same key material again"
        )),
        "PendingDeletion" => {
            return Err(KeyError::State {
                arn,
                state: key_state,
                advice: "cancel the deletion (`aws kms cancel-key-deletion`) or use another key",
            });
        }
        _ => {
            return Err(KeyError::State {
                arn,
                state: key_state,
                advice: "only a key in PendingImport (or one being re-imported) can take key material; use another key",
            });
        }
    }
    let key_spec = metadata
        .key_spec()
        .map(|s| s.as_str().to_owned())
        .ok_or(KeyError::Incomplete("KeySpec"))?;
    Ok(KeyInfo {
        key_id: metadata.key_id().to_owned(),
        arn,
        key_spec,
        key_state,
        warnings,
    })
}
