//! A rehearsal for Google Cloud, AWS, or several clouds at once (`rehearse --cloud`): one
//! simulated wrapping key per cloud (or the one given with `--kek`), placed on the rehearsal's
//! KEK medium as that cloud's tooling writes it, the script's `[[targets]]`, and each output
//! unwrapped in software and compared with the HSM's key.
use std::path::{Path, PathBuf};

use super::RehearseError;
use crate::byok::kek::Kek;
use crate::byok::simulated_kek::SimulatedKek;
use crate::cloud::check::{self, Expected};
use crate::cloud::{Algorithm, Cloud};
use crate::hsm_types::key::TargetSpec;
use crate::manifest::Manifest;

/// One cloud of a rehearsal.
#[derive(Debug, Clone)]
pub struct CloudChoice {
    pub algorithm: Algorithm,
    /// AWS: the import token file that goes with a given wrapping key.
    pub import_token: Option<PathBuf>,
    /// AWS: when the given wrapping key and token stop being valid (seconds since 1970).
    pub valid_to: Option<i64>,
}

impl CloudChoice {
    pub fn new(algorithm: Algorithm) -> CloudChoice {
        CloudChoice {
            algorithm,
            import_token: None,
            valid_to: None,
        }
    }

    pub fn cloud(&self) -> Cloud {
        self.algorithm.cloud
    }
}

/// A cloud's wrapping key on the KEK medium, with its private half when known.
pub(super) struct PlacedKek {
    pub choice: CloudChoice,
    pub kek: Kek,
    pub private: Option<rsa::PrivateKey>,
    /// The `[[targets]]` entry.
    pub entry: toml::Table,
}

/// The destinations a rehearsal names (nothing is ever imported from a rehearsal).
const GCP_JOB: &str =
    "projects/byok-rehearsal/locations/global/keyRings/rehearsal/importJobs/rehearsal-job";
const AWS_KEY: &str = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-4000-8000-000000000000";

/// Places a simulated wrapping key of the right size for `choice` on `medium`.
pub(super) fn simulated(
    choice: &CloudChoice,
    spec: TargetSpec,
    bits: usize,
    medium: &Path,
) -> Result<PlacedKek, RehearseError> {
    let kek_err = |e: &dyn std::fmt::Display| RehearseError::Kek(e.to_string());
    let bits = choice.algorithm.kek_bits.unwrap_or(bits);
    let managed_hsm = matches!(spec, TargetSpec::Aes { .. });
    let sim = SimulatedKek::generate(bits, managed_hsm).map_err(|e| kek_err(&e))?;
    let cloud = choice.cloud();
    let file = match cloud {
        Cloud::Azure => "kek.pem",
        Cloud::Gcp => "gcp-import-job.public.pem",
        Cloud::Aws => "aws-wrapping-key.der",
    };
    let bytes = match cloud {
        Cloud::Aws => sim.kek().spki_der().to_vec(),
        _ => sim.public_pem().as_bytes().to_vec(),
    };
    std::fs::write(medium.join(file), bytes).map_err(|e| kek_err(&e))?;
    let mut choice = choice.clone();
    if cloud == Cloud::Aws {
        // A rehearsal has no AWS behind it: the token stands in for GetParametersForImport's,
        // and says what it is to anyone who finds it.
        let token = medium.join("rehearsal-import-token.bin");
        std::fs::write(
            &token,
            b"byok-ceremony rehearsal: not an AWS import token; never imported\n",
        )
        .map_err(|e| kek_err(&e))?;
        choice.import_token = Some(token);
    }
    let entry = entry(&choice, file, sim.kek())?;
    Ok(PlacedKek {
        choice,
        kek: sim.kek().clone(),
        private: Some(sim.private_key().clone()),
        entry,
    })
}

/// Places a given wrapping key (and AWS token) on `medium`.
pub(super) fn given(
    choice: &CloudChoice,
    public: &Path,
    private: Option<rsa::PrivateKey>,
    medium: &Path,
) -> Result<PlacedKek, RehearseError> {
    let kek_err = |e: &dyn std::fmt::Display| RehearseError::Kek(e.to_string());
    let kek = Kek::load(public, None, None).map_err(|e| kek_err(&e))?;
    let file = format!("{}-wrapping-key", choice.cloud());
    std::fs::copy(public, medium.join(&file)).map_err(|e| kek_err(&e))?;
    let entry = entry(choice, &file, &kek)?;
    if let Some(token) = &choice.import_token {
        std::fs::copy(token, medium.join("rehearsal-import-token.bin")).map_err(|e| kek_err(&e))?;
    }
    Ok(PlacedKek {
        choice: choice.clone(),
        kek,
        private,
        entry,
    })
}

/// The script's `[[targets]]` entry for a placed key.
fn entry(choice: &CloudChoice, file: &str, kek: &Kek) -> Result<toml::Table, RehearseError> {
    let now = crate::ceremony::host::unix_now();
    let rfc3339 = |secs: i64| {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64);
        crate::audit::time::rfc3339(t)
    };
    let mut t = toml::Table::new();
    t.insert("cloud".into(), choice.cloud().id().into());
    t.insert("kek".into(), file.into());
    match choice.cloud() {
        Cloud::Azure => {
            let kid = kek.kid().ok_or_else(|| {
                RehearseError::Kek(
                    "the KEK has no kid: give --kid or the JSON of `az keyvault key show`".into(),
                )
            })?;
            t.insert("kid".into(), kid.url().into());
        }
        Cloud::Gcp => {
            t.insert("import_job".into(), GCP_JOB.into());
            t.insert("import_method".into(), choice.algorithm.name.into());
            t.insert("protection_level".into(), "HSM".into());
            t.insert("job_created".into(), rfc3339(now).into());
        }
        Cloud::Aws => {
            if choice.import_token.is_none() {
                return Err(RehearseError::Kek(
                    "an AWS wrapping key goes with its import token: give --import-token FILE (written by byok-upload aws fetch-kek)".into(),
                ));
            }
            t.insert("key".into(), AWS_KEY.into());
            t.insert("wrapping_algorithm".into(), choice.algorithm.name.into());
            t.insert(
                "wrapping_key_spec".into(),
                format!("RSA_{}", kek.bits()).into(),
            );
            t.insert("import_token".into(), "rehearsal-import-token.bin".into());
            t.insert(
                "parameters_valid_to".into(),
                rfc3339(choice.valid_to.unwrap_or(now + 24 * 3600)).into(),
            );
        }
    }
    Ok(t)
}

/// Unwraps each output with its KEK's private key and compares it with the HSM's key; one line
/// per cloud.
pub(super) fn check_outputs(
    out_dir: &Path,
    placed: &[PlacedKek],
    manifest: &Manifest,
) -> Result<Vec<String>, RehearseError> {
    let failed = |e: String| RehearseError::CheckFailed(e);
    let spki = match &manifest.public_key_pem {
        Some(pem) => Some(
            der::pem::decode_vec(pem.as_bytes())
                .map_err(|e| failed(e.to_string()))?
                .1,
        ),
        None => None,
    };
    let mut lines = Vec::new();
    for p in placed {
        let Some(private) = &p.private else { continue };
        let cloud = p.choice.cloud();
        let output = manifest
            .outputs
            .iter()
            .find(|o| o.cloud == cloud)
            .ok_or_else(|| failed(format!("the manifest lists no output for {cloud}")))?;
        if cloud == Cloud::Azure {
            let line = super::check_output(&out_dir.join(&output.file), &p.kek, private, manifest)?;
            lines.push(format!("{}: {line}", cloud.title()));
            continue;
        }
        let bytes = std::fs::read(out_dir.join(&output.file)).map_err(|e| failed(e.to_string()))?;
        let expected = match &spki {
            Some(der) => Expected::PublicSpkiDer(der),
            None => Expected::CheckValue(manifest.oct_check_value.as_deref()),
        };
        let key = check::check(&bytes, p.choice.algorithm, private, expected)
            .map_err(|e| failed(format!("{}: {e}", output.file)))?;
        lines.push(format!(
            "{}: {} unwrapped in software with the wrapping key's private half ({}): {}, byte-exact and the HSM's",
            cloud.title(),
            output.file,
            p.choice.algorithm.name,
            key.describe()
        ));
    }
    Ok(lines)
}
