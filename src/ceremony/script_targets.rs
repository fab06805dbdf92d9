//! A script's clouds: `[[targets]]` (azure, gcp, aws; at most one of each), or the `[kek]`
//! section of scripts written before, which is one Azure target. Each target is checked against
//! the key the script makes, so what a cloud would refuse is refused here, before anything runs.
use serde::Deserialize;
use toml::Spanned;

use crate::byok::kek::Kid;
use crate::cloud::{self, Algorithm, Cloud, CloudTarget};
use crate::hsm_types::key::TargetSpec;

/// `[kek]`: the Azure KEK of a single-cloud script.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKek {
    file: Spanned<String>,
    json: Option<Spanned<String>>,
    expected_kid: Option<Spanned<String>>,
    expected_fingerprint: Option<Spanned<String>>,
}

/// One `[[targets]]` entry; which fields a cloud takes is checked after parsing, so a field of
/// another cloud is named in the error.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCloudTarget {
    cloud: Spanned<String>,
    /// The wrapping public key's file on the KEK medium.
    kek: Spanned<String>,
    fingerprint: Option<Spanned<String>>,
    // Azure
    kek_json: Option<Spanned<String>>,
    kid: Option<Spanned<String>>,
    // Google Cloud
    import_job: Option<Spanned<String>>,
    import_method: Option<Spanned<String>>,
    protection_level: Option<Spanned<String>>,
    job_created: Option<Spanned<String>>,
    // AWS
    key: Option<Spanned<String>>,
    wrapping_algorithm: Option<Spanned<String>>,
    wrapping_key_spec: Option<Spanned<String>>,
    import_token: Option<Spanned<String>>,
    parameters_valid_to: Option<Spanned<String>>,
}

/// An error at a byte offset of the script (the caller turns it into a line).
pub(super) type At = (usize, String);

fn at<T>(s: &Spanned<T>, message: impl Into<String>) -> At {
    (s.span().start, message.into())
}

/// The targets of a script: exactly one of `[kek]` and `[[targets]]`. `start` is where to point
/// when neither is there. Returns the targets and whether the script listed them itself.
pub(super) fn parse(
    kek: Option<&RawKek>,
    targets: &[RawCloudTarget],
    key: TargetSpec,
    key_at: usize,
) -> Result<(Vec<CloudTarget>, bool), At> {
    match (kek, targets.is_empty()) {
        (Some(k), true) => {
            let t = legacy(k)?;
            check_azure_oct(&t, key, key_at)?;
            Ok((vec![t], false))
        }
        (Some(k), false) => Err(at(
            &k.file,
            "a script names its clouds either with [kek] (Azure only) or with [[targets]], not both; move the KEK into an azure [[targets]] entry",
        )),
        (None, true) => Err((
            key_at,
            "the script names no KEK: add [[targets]] (azure, gcp, aws) or a [kek] section".into(),
        )),
        (None, false) => {
            let mut out: Vec<CloudTarget> = Vec::new();
            for raw in targets {
                let t = entry(raw, key)?;
                if out.iter().any(|o| o.cloud == t.cloud) {
                    return Err(at(
                        &raw.cloud,
                        format!(
                            "a second {} target: a ceremony wraps once per cloud; remove one",
                            t.cloud
                        ),
                    ));
                }
                if t.cloud == Cloud::Azure {
                    check_azure_oct(&t, key, raw.cloud.span().start)?;
                }
                out.push(t);
            }
            Ok((out, true))
        }
    }
}

fn legacy(k: &RawKek) -> Result<CloudTarget, At> {
    check_file_name(&k.file)?;
    if let Some(j) = &k.json {
        check_file_name(j)?;
    }
    Ok(CloudTarget {
        cloud: Cloud::Azure,
        algorithm: Algorithm::default_for(Cloud::Azure),
        kek_file: k.file.get_ref().clone(),
        kek_json: k.json.as_ref().map(|j| j.get_ref().clone()),
        expected_kid: k.expected_kid.as_ref().map(kid).transpose()?,
        expected_fingerprint: k
            .expected_fingerprint
            .as_ref()
            .map(fingerprint)
            .transpose()?,
        resource: None,
        kek_bits: None,
        import_token: None,
        job_created: None,
        valid_to: None,
    })
}

fn entry(raw: &RawCloudTarget, key: TargetSpec) -> Result<CloudTarget, At> {
    let cloud = Cloud::parse(raw.cloud.get_ref()).map_err(|e| at(&raw.cloud, e.to_string()))?;
    check_file_name(&raw.kek)?;
    // Fields that belong to the other clouds.
    let foreign: &[(&str, bool)] = match cloud {
        Cloud::Azure => &[
            ("import_job", raw.import_job.is_some()),
            ("import_method", raw.import_method.is_some()),
            ("protection_level", raw.protection_level.is_some()),
            ("job_created", raw.job_created.is_some()),
            ("key", raw.key.is_some()),
            ("wrapping_algorithm", raw.wrapping_algorithm.is_some()),
            ("wrapping_key_spec", raw.wrapping_key_spec.is_some()),
            ("import_token", raw.import_token.is_some()),
            ("parameters_valid_to", raw.parameters_valid_to.is_some()),
        ],
        Cloud::Gcp => &[
            ("kek_json", raw.kek_json.is_some()),
            ("kid", raw.kid.is_some()),
            ("key", raw.key.is_some()),
            ("wrapping_algorithm", raw.wrapping_algorithm.is_some()),
            ("wrapping_key_spec", raw.wrapping_key_spec.is_some()),
            ("import_token", raw.import_token.is_some()),
            ("parameters_valid_to", raw.parameters_valid_to.is_some()),
        ],
        Cloud::Aws => &[
            ("kek_json", raw.kek_json.is_some()),
            ("kid", raw.kid.is_some()),
            ("import_job", raw.import_job.is_some()),
            ("import_method", raw.import_method.is_some()),
            ("protection_level", raw.protection_level.is_some()),
            ("job_created", raw.job_created.is_some()),
        ],
    };
    if let Some((field, _)) = foreign.iter().find(|(_, present)| *present) {
        return Err(at(
            &raw.cloud,
            format!("`{field}` is not a field of {cloud} targets; remove it"),
        ));
    }
    let required = |f: &Option<Spanned<String>>, name: &str| -> Result<Spanned<String>, At> {
        f.clone().ok_or_else(|| {
            at(
                &raw.cloud,
                format!("the {cloud} target needs `{name}` (see docs/multi-cloud.md)"),
            )
        })
    };
    let mut t = CloudTarget {
        cloud,
        algorithm: Algorithm::default_for(cloud),
        kek_file: raw.kek.get_ref().clone(),
        kek_json: None,
        expected_kid: None,
        expected_fingerprint: raw.fingerprint.as_ref().map(fingerprint).transpose()?,
        resource: None,
        kek_bits: None,
        import_token: None,
        job_created: None,
        valid_to: None,
    };
    let algorithm_at;
    match cloud {
        Cloud::Azure => {
            if let Some(j) = &raw.kek_json {
                check_file_name(j)?;
            }
            t.kek_json = raw.kek_json.as_ref().map(|j| j.get_ref().clone());
            t.expected_kid = raw.kid.as_ref().map(kid).transpose()?;
            algorithm_at = raw.cloud.clone();
        }
        Cloud::Gcp => {
            let job = required(&raw.import_job, "import_job")?;
            check_import_job(&job)?;
            let method = required(&raw.import_method, "import_method")?;
            t.algorithm = algorithm(cloud, &method)?;
            let level = required(&raw.protection_level, "protection_level")?;
            if level.get_ref() != "HSM" {
                return Err(at(
                    &level,
                    "protection_level must be HSM: a key made in an HSM is imported with an HSM import job, and Cloud KMS requires the job's level to be the key's",
                ));
            }
            let created = required(&raw.job_created, "job_created")?;
            t.job_created = Some(time(&created)?);
            t.resource = Some(job.into_inner());
            algorithm_at = method;
        }
        Cloud::Aws => {
            let key_id = required(&raw.key, "key")?;
            check_aws_key(&key_id)?;
            let alg = required(&raw.wrapping_algorithm, "wrapping_algorithm")?;
            t.algorithm = algorithm(cloud, &alg)?;
            let spec = required(&raw.wrapping_key_spec, "wrapping_key_spec")?;
            t.kek_bits = Some(match spec.get_ref().as_str() {
                "RSA_2048" => 2048,
                "RSA_3072" => 3072,
                "RSA_4096" => 4096,
                other => {
                    return Err(at(
                        &spec,
                        format!(
                            "wrapping_key_spec \"{other}\" is not one AWS offers; use RSA_2048, RSA_3072 or RSA_4096"
                        ),
                    ));
                }
            });
            let token = required(&raw.import_token, "import_token")?;
            check_file_name(&token)?;
            t.import_token = Some(token.into_inner());
            let valid_to = required(&raw.parameters_valid_to, "parameters_valid_to")?;
            t.valid_to = Some(time(&valid_to)?);
            t.resource = Some(key_id.into_inner());
            algorithm_at = alg;
        }
    }
    cloud::check_key(t.algorithm, key).map_err(|e| at(&algorithm_at, e.to_string()))?;
    Ok(t)
}

fn check_azure_oct(t: &CloudTarget, key: TargetSpec, key_at: usize) -> Result<(), At> {
    if !matches!(key, TargetSpec::Aes { .. }) {
        return Ok(());
    }
    match &t.expected_kid {
        Some(k) if k.is_managed_hsm() => Ok(()),
        Some(_) => Err((
            key_at,
            "oct-HSM keys import into Managed HSM only, but the Azure KEK's kid is a Key Vault; use a Managed HSM KEK".into(),
        )),
        None => Err((
            key_at,
            "oct-HSM keys import into Managed HSM only: give the Azure target the Managed HSM KEK's kid".into(),
        )),
    }
}

fn algorithm(cloud: Cloud, name: &Spanned<String>) -> Result<Algorithm, At> {
    Algorithm::find(cloud, name.get_ref()).map_err(|e| at(name, e.to_string()))
}

fn time(s: &Spanned<String>) -> Result<i64, At> {
    cloud::parse_utc(s.get_ref()).map_err(|e| at(s, e.to_string()))
}

fn kid(k: &Spanned<String>) -> Result<Kid, At> {
    Kid::parse(k.get_ref()).map_err(|e| at(k, e.to_string()))
}

fn fingerprint(f: &Spanned<String>) -> Result<String, At> {
    let hex: String = f.get_ref().chars().filter(|c| !c.is_whitespace()).collect();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(at(
            f,
            "the fingerprint is 64 hex digits (SHA-256 of the KEK's SPKI)",
        ));
    }
    Ok(hex.to_lowercase())
}

fn check_file_name(name: &Spanned<String>) -> Result<(), At> {
    let n = name.get_ref();
    if n.is_empty() || n.contains('/') || n.contains('\\') || n.starts_with('.') {
        Err(at(
            name,
            format!("\"{n}\" must be a plain file name on the KEK medium (no directories)"),
        ))
    } else {
        crate::text::check_text("file name", n, 255, false).map_err(|e| at(name, e.to_string()))
    }
}

/// `projects/P/locations/L/keyRings/R/importJobs/J`, each part plain.
fn check_import_job(job: &Spanned<String>) -> Result<(), At> {
    let parts: Vec<&str> = job.get_ref().split('/').collect();
    let shape = parts.len() == 8
        && parts[0] == "projects"
        && parts[2] == "locations"
        && parts[4] == "keyRings"
        && parts[6] == "importJobs"
        && [1, 3, 5, 7].iter().all(|&i| plain(parts[i]));
    if shape {
        Ok(())
    } else {
        Err(at(
            job,
            "import_job is the job's full name, projects/P/locations/L/keyRings/R/importJobs/J",
        ))
    }
}

/// A key ID (a UUID) or ARN (`arn:aws:kms:REGION:ACCOUNT:key/ID`), or an alias ARN/name.
fn check_aws_key(key: &Spanned<String>) -> Result<(), At> {
    let k = key.get_ref();
    let ok = !k.is_empty()
        && k.len() <= 2048
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '/' | '.'));
    if ok {
        Ok(())
    } else {
        Err(at(
            key,
            "key is the KMS key's ID or ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)",
        ))
    }
}

fn plain(part: &str) -> bool {
    !part.is_empty()
        && part.len() <= 63
        && part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}
