//! `byok-upload import`: after the local checks ([`crate::preflight`]), check the KEK in the
//! vault, import the .byok file as `key_hsm`, and prove that what Azure now holds is the
//! ceremony's key: the public key for RSA and EC, the AES check value for oct.
use std::collections::HashMap;

use azure_core::time::OffsetDateTime;
use azure_security_keyvault_keys::models::{
    EncryptionAlgorithm, ImportKeyParameters, JsonWebKey, Key, KeyAttributes,
    KeyClientEncryptOptions, KeyClientGetKeyOptions, KeyOperationParameters, KeyReleasePolicy,
    KeyType,
};
use byok_ceremony::byok::fingerprint::Fingerprint;
use byok_ceremony::byok::kek::Kid;

use crate::kek_check::{KekCheckError, check_kek, kty_name};
use crate::preflight::{Checked, Target};
use crate::public_key::{sdk_curve, spki_from_jwk};
use crate::service::{Repeat, Service, ServiceError};
use crate::vault_url::VaultUrl;

/// What the key is created with, besides the file.
#[derive(Debug, Default, Clone)]
pub struct KeySettings {
    pub name: String,
    pub ops: Option<Vec<String>>,
    pub exportable: bool,
    /// The release policy JSON (required by Azure for exportable keys).
    pub release_policy: Option<Vec<u8>>,
    pub not_before: Option<OffsetDateTime>,
    pub expires: Option<OffsetDateTime>,
    pub tags: Vec<(String, String)>,
    /// Add a version to an existing key of this name instead of refusing.
    pub allow_new_version: bool,
    /// Prove an AES key by its check value (one encrypt of a zero block).
    pub oct_check: bool,
}

/// What an import achieved.
#[derive(Debug)]
pub struct Imported {
    pub kid: String,
    /// What was compared, for the operator.
    pub proof: String,
}

/// Why an import failed, and what state it left.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(
        "the KEK {kid} is not in {vault}: no key has that name and version there (wrong vault, KEK version missing, or the KEK was deleted). Nothing was imported. Check with `az keyvault key list-versions --id {kid_base}`"
    )]
    KekNotFound {
        kid: String,
        kid_base: String,
        vault: String,
    },
    #[error("{0}. Nothing was imported.")]
    Kek(#[from] KekCheckError),
    #[error(
        "the KEK in the vault has fingerprint {vault_fp}, but the ceremony wrapped for {manifest_fp}: this .byok was made for another KEK. Nothing was imported"
    )]
    KekFingerprint {
        vault_fp: String,
        manifest_fp: String,
    },
    #[error(
        "the vault answered for the KEK with kid {returned}, not {requested}: nothing was imported; check the vault URL"
    )]
    KekKidMismatch { requested: String, returned: String },
    #[error(
        "a key named {name} already exists ({kid}); importing would add a new version to it. Nothing was imported: choose another --name, or pass --allow-new-version if a new version is really wanted"
    )]
    NameTaken { name: String, kid: String },
    #[error("{0}. Nothing was imported.")]
    Before(ServiceError),
    #[error("{source}. Nothing was imported.")]
    Refused { source: ServiceError },
    #[error(
        "{source}. The import may or may not have happened: run `az keyvault key list-versions --vault-name VAULT --name {name}` (or `--hsm-name`); if a version was created just now, check it against the manifest with `byok-upload import` output or `az keyvault key show --id KID`, and disable or delete it if it must not be used"
    )]
    OutcomeUnknown { source: ServiceError, name: String },
    #[error(
        "Azure answered the import without a valid kid ({0}); check the key with `az keyvault key list-versions`"
    )]
    BadAnswer(String),
    #[error(
        "THE IMPORTED KEY IS NOT THE CEREMONY'S: {kid} has {what} {actual}, the manifest records {expected}. Disable it now: `az keyvault key set-attributes --id {kid} --enabled false`, then investigate"
    )]
    Mismatch {
        kid: String,
        what: &'static str,
        actual: String,
        expected: String,
    },
    #[error(
        "{kid} was imported, but its AES check value could not be computed ({source}). Check it yourself or disable it: `az keyvault key set-attributes --id {kid} --enabled false`"
    )]
    OctCheck { kid: String, source: ServiceError },
    #[error("could not encode the import request: {0}; report this as a bug")]
    Encode(String),
}

/// Runs the online part of the import.
pub async fn import(
    service: &Service,
    vault: &VaultUrl,
    checked: &Checked,
    settings: &KeySettings,
) -> Result<Imported, ImportError> {
    check_kek_in_vault(service, vault, checked).await?;
    refuse_existing_name(service, settings).await?;
    let parameters = import_parameters(checked, settings);
    let client = service.client();
    let name = settings.name.as_str();
    let key: Key = service
        .call("import the key", Repeat::OnlyIfNotApplied, || {
            let body = parameters.clone().try_into();
            async move { client.import_key(name, body?, None).await?.into_model() }
        })
        .await
        .map_err(|source| match source {
            ServiceError::OutcomeUnknown { .. } => ImportError::OutcomeUnknown {
                source,
                name: settings.name.clone(),
            },
            source => ImportError::Refused { source },
        })?;
    prove(service, vault, checked, settings, &key).await
}

async fn check_kek_in_vault(
    service: &Service,
    vault: &VaultUrl,
    checked: &Checked,
) -> Result<(), ImportError> {
    let kid = &checked.kid;
    let client = service.client();
    let key: Key = service
        .call("read the KEK", Repeat::Safe, || async move {
            let options = KeyClientGetKeyOptions {
                key_version: Some(kid.version().to_owned()),
                ..Default::default()
            };
            client
                .get_key(kid.name(), Some(options))
                .await?
                .into_model()
        })
        .await
        .map_err(|e| match e {
            ServiceError::NotFound { .. } => ImportError::KekNotFound {
                kid: kid.url().to_owned(),
                kid_base: format!("https://{}/keys/{}", kid.host(), kid.name()),
                vault: vault.to_string(),
            },
            other => ImportError::Before(other),
        })?;
    let found = check_kek(&key)?;
    if found.kid != kid.url() {
        return Err(ImportError::KekKidMismatch {
            requested: kid.url().to_owned(),
            returned: found.kid,
        });
    }
    let fingerprint = found.kek.fingerprint();
    if fingerprint != checked.kek_fingerprint {
        return Err(ImportError::KekFingerprint {
            vault_fp: fingerprint.hex_groups(),
            manifest_fp: checked.kek_fingerprint.hex_groups(),
        });
    }
    Ok(())
}

async fn refuse_existing_name(
    service: &Service,
    settings: &KeySettings,
) -> Result<(), ImportError> {
    if settings.allow_new_version {
        return Ok(());
    }
    let client = service.client();
    let name = settings.name.as_str();
    let existing = service
        .call(
            "look for an existing key of that name",
            Repeat::Safe,
            || async move { client.get_key(name, None).await?.into_model() },
        )
        .await;
    match existing {
        Ok(key) => Err(ImportError::NameTaken {
            name: settings.name.clone(),
            kid: kid_of(&key).unwrap_or_else(|| settings.name.clone()),
        }),
        Err(ServiceError::NotFound { .. }) => Ok(()),
        Err(other) => Err(ImportError::Before(other)),
    }
}

fn import_parameters(checked: &Checked, settings: &KeySettings) -> ImportKeyParameters {
    let jwk = JsonWebKey {
        kty: Some(match checked.target {
            Target::Rsa => KeyType::RsaHsm,
            Target::Ec(_) => KeyType::EcHsm,
            Target::Oct { .. } => KeyType::OctHsm,
        }),
        crv: match checked.target {
            Target::Ec(curve) => Some(sdk_curve(curve)),
            _ => None,
        },
        key_ops: settings.ops.clone(),
        t: Some(checked.byok_bytes.clone()),
        ..Default::default()
    };
    let attributes = KeyAttributes {
        enabled: Some(true),
        exportable: settings.exportable.then_some(true),
        not_before: settings.not_before,
        expires: settings.expires,
        ..Default::default()
    };
    let release_policy = settings
        .release_policy
        .as_ref()
        .map(|policy| KeyReleasePolicy {
            content_type: Some("application/json; charset=utf-8".to_owned()),
            encoded_policy: Some(policy.clone()),
            ..Default::default()
        });
    ImportKeyParameters {
        hsm: Some(true),
        key: Some(jwk),
        key_attributes: Some(attributes),
        release_policy,
        tags: (!settings.tags.is_empty())
            .then(|| settings.tags.iter().cloned().collect::<HashMap<_, _>>()),
    }
}

fn kid_of(key: &Key) -> Option<String> {
    key.key.as_ref().and_then(|k| k.kid.clone())
}

/// Compares what Azure holds now with the manifest.
async fn prove(
    service: &Service,
    vault: &VaultUrl,
    checked: &Checked,
    settings: &KeySettings,
    key: &Key,
) -> Result<Imported, ImportError> {
    let jwk = key
        .key
        .as_ref()
        .ok_or_else(|| ImportError::BadAnswer("no key in the answer".to_owned()))?;
    let kid_text = jwk
        .kid
        .clone()
        .ok_or_else(|| ImportError::BadAnswer("no kid".to_owned()))?;
    let kid = Kid::parse(&kid_text).map_err(|e| ImportError::BadAnswer(e.to_string()))?;
    if !vault.holds(kid.host()) || kid.name() != settings.name {
        return Err(ImportError::BadAnswer(format!(
            "{kid_text} is not key {} in {vault}",
            settings.name
        )));
    }
    let mismatch = |what, actual: String, expected: String| ImportError::Mismatch {
        kid: kid_text.clone(),
        what,
        actual,
        expected,
    };
    let expected_kty = match checked.target {
        Target::Rsa => KeyType::RsaHsm,
        Target::Ec(_) => KeyType::EcHsm,
        Target::Oct { .. } => KeyType::OctHsm,
    };
    if jwk.kty.as_ref() != Some(&expected_kty) {
        return Err(mismatch(
            "key type",
            jwk.kty.as_ref().map(kty_name).unwrap_or_default(),
            kty_name(&expected_kty),
        ));
    }
    match (&checked.expected_spki, checked.target) {
        (Some(expected), Target::Rsa | Target::Ec(_)) => {
            let actual = spki_from_jwk(jwk).map_err(|e| ImportError::BadAnswer(e.to_string()))?;
            if &actual != expected {
                return Err(mismatch(
                    "public key SHA-256",
                    Fingerprint::of(&actual).hex(),
                    Fingerprint::of(expected).hex(),
                ));
            }
            Ok(Imported {
                kid: kid_text,
                proof: format!(
                    "its public key equals the manifest's (SHA-256 {})",
                    Fingerprint::of(expected).hex_groups()
                ),
            })
        }
        (_, Target::Oct { bits }) if settings.oct_check => {
            let expected = checked.oct_check_value.clone().unwrap_or_default();
            let actual = oct_check_value(service, &kid, bits)
                .await
                .map_err(|source| ImportError::OctCheck {
                    kid: kid_text.clone(),
                    source,
                })?;
            if actual != expected {
                return Err(mismatch(
                    "AES check value",
                    hex::encode(actual),
                    hex::encode(expected),
                ));
            }
            Ok(Imported {
                kid: kid_text,
                proof: format!(
                    "its AES check value (AES of a zero block, first 3 bytes) equals the manifest's ({})",
                    hex::encode(expected)
                ),
            })
        }
        _ => Ok(Imported {
            kid: kid_text,
            proof: "Azure returns no key material for an AES key and --no-oct-check was given: only the key type was compared; the key's identity is NOT proven".to_owned(),
        }),
    }
}

/// PKCS#11's CKA_CHECK_VALUE of the imported AES key: the first 3 bytes of AES-CBC with a zero
/// IV over one zero block, which is AES-ECB of that block.
async fn oct_check_value(service: &Service, kid: &Kid, bits: u32) -> Result<Vec<u8>, ServiceError> {
    let algorithm = match bits {
        128 => EncryptionAlgorithm::A128Cbc,
        192 => EncryptionAlgorithm::A192Cbc,
        _ => EncryptionAlgorithm::A256Cbc,
    };
    let parameters = KeyOperationParameters {
        algorithm: Some(algorithm),
        iv: Some(vec![0u8; 16]),
        value: Some(vec![0u8; 16]),
        ..Default::default()
    };
    let client = service.client();
    let result = service
        .call("compute the AES check value", Repeat::Safe, || {
            let body = parameters.clone().try_into();
            async move {
                let options = KeyClientEncryptOptions {
                    key_version: Some(kid.version().to_owned()),
                    ..Default::default()
                };
                client
                    .encrypt(kid.name(), body?, Some(options))
                    .await?
                    .into_model()
            }
        })
        .await?;
    let block = result.result.unwrap_or_default();
    Ok(block.get(..3).map(<[u8]>::to_vec).unwrap_or_default())
}
