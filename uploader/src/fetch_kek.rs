//! `byok-upload fetch-kek`: the online half of the start of a ceremony. Reads the KEK, refuses
//! one that is not an import-only RSA-HSM key, and writes its public key (SPKI PEM, as
//! `az keyvault key download` does) and its key bundle JSON (as `az keyvault key show`) for the
//! station, never overwriting anything.
use std::path::{Path, PathBuf};

use azure_security_keyvault_keys::models::{Key, KeyClientGetKeyOptions};
use byok_ceremony::byok::fingerprint::Fingerprint;
use byok_ceremony::byok::kek::Kid;
use byok_ceremony::media::atomic::{WriteError, write_new};

use crate::kek_check::{KekCheckError, check_kek};
use crate::service::{Repeat, Service, ServiceError};
use crate::vault_url::VaultUrl;

/// What was written and what to read aloud.
#[derive(Debug)]
pub struct Fetched {
    pub kid: String,
    pub bits: usize,
    pub fingerprint: Fingerprint,
    pub pem_path: PathBuf,
    pub json_path: PathBuf,
    pub warnings: Vec<String>,
}

/// Why the KEK could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchKekError {
    #[error(
        "there is no key {name} in {vault}: create the KEK with `az keyvault key create --vault-name VAULT --name {name} --kty RSA-HSM --size 3072 --ops import` (or --hsm-name for a Managed HSM), or check the name"
    )]
    NotFound { name: String, vault: String },
    #[error("{0}")]
    Service(ServiceError),
    #[error("{0}")]
    Kek(#[from] KekCheckError),
    #[error("the vault answered with the kid {kid}, which is not in {vault}: check the vault URL")]
    ForeignKid { kid: String, vault: String },
    #[error("{0}")]
    Output(#[from] WriteError),
    #[error("could not encode the KEK's PEM: {0}; report this as a bug")]
    Encode(String),
    #[error("--name {0:?} is not a Key Vault key name: use 1-127 letters, digits and '-'")]
    BadName(String),
}

/// The two output names for a KEK called `name`.
pub fn output_names(name: &str) -> (String, String) {
    (
        format!("{name}.public.pem"),
        format!("{name}.key-show.json"),
    )
}

/// Fetches, checks and writes the KEK.
pub async fn fetch_kek(
    service: &Service,
    vault: &VaultUrl,
    name: &str,
    version: Option<&str>,
    out: &Path,
) -> Result<Fetched, FetchKekError> {
    let name_ok = (1..=127).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !name_ok {
        return Err(FetchKekError::BadName(name.to_owned()));
    }
    let (pem_name, json_name) = output_names(name);
    // Refuse before any network traffic when an output is already there.
    if !out.is_dir() {
        return Err(WriteError::NoDirectory(out.to_owned()).into());
    }
    for file in [&pem_name, &json_name] {
        let path = out.join(file);
        if path.exists() {
            return Err(WriteError::Exists(path).into());
        }
    }
    let client = service.client();
    let key: Key = service
        .call("read the KEK", Repeat::Safe, || async move {
            let options = KeyClientGetKeyOptions {
                key_version: version.map(str::to_owned),
                ..Default::default()
            };
            client.get_key(name, Some(options)).await?.into_model()
        })
        .await
        .map_err(|e| match e {
            ServiceError::NotFound { .. } => FetchKekError::NotFound {
                name: name.to_owned(),
                vault: vault.to_string(),
            },
            other => FetchKekError::Service(other),
        })?;
    let checked = check_kek(&key)?;
    let kid = Kid::parse(&checked.kid).map_err(|e| KekCheckError::BadKid {
        kid: checked.kid.clone(),
        reason: e.to_string(),
    })?;
    if !vault.holds(kid.host()) || kid.name() != name {
        return Err(FetchKekError::ForeignKid {
            kid: checked.kid,
            vault: vault.to_string(),
        });
    }
    let pem = der::pem::encode_string(
        "PUBLIC KEY",
        der::pem::LineEnding::LF,
        checked.kek.spki_der(),
    )
    .map_err(|e| FetchKekError::Encode(e.to_string()))?;
    write_new(out, &pem_name, pem.as_bytes())?;
    if let Err(e) = write_new(out, &json_name, checked.json.as_bytes()) {
        // One file without the other is not a finished download: take the first back.
        let _ = std::fs::remove_file(out.join(&pem_name));
        return Err(e.into());
    }
    Ok(Fetched {
        kid: checked.kid,
        bits: checked.kek.bits(),
        fingerprint: checked.kek.fingerprint(),
        pem_path: out.join(pem_name),
        json_path: out.join(json_name),
        warnings: checked.kek.warnings().to_vec(),
    })
}
