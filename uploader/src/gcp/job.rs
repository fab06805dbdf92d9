//! Import jobs: reading one, checking it can wrap for the ceremony (HSM protection, ACTIVE,
//! not expired, a known method whose RSA size matches its public key), and the small JSON
//! `fetch-kek` writes beside its public key.
use byok_ceremony::byok::kek::Kek;
use google_cloud_kms_v1::model::ImportJob;
use serde::{Deserialize, Serialize};

use crate::clock;
use crate::gcp::client::{Gcp, GcpError};
use crate::gcp::methods::{self, Method, MethodError};

pub const FORMAT: &str = "byok-upload gcp import job v1";

/// `JOB.import-job.json`: our own file, parsed strictly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobRecord {
    pub format: String,
    /// projects/P/locations/L/keyRings/R/importJobs/J
    pub name: String,
    pub import_method: String,
    pub protection_level: String,
    pub state: String,
    pub create_time: String,
    /// Google refuses the job after this (3 days after creation).
    pub expire_time: String,
    /// SHA-256 of the job's public key as SubjectPublicKeyInfo DER (= the manifest's KEK fingerprint).
    pub public_key_sha256: String,
    pub public_key_file: String,
}

impl JobRecord {
    pub fn to_json(&self) -> Vec<u8> {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text.into_bytes()
    }

    pub fn parse(bytes: &[u8]) -> Result<JobRecord, String> {
        let record: JobRecord = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if record.format != FORMAT {
            return Err(format!("format {:?} is not {FORMAT:?}", record.format));
        }
        Ok(record)
    }
}

/// Why an import job cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("{0}")]
    Service(GcpError),
    #[error(
        "{0:?} is not an import job name: write projects/PROJECT/locations/LOCATION/keyRings/RING/importJobs/JOB"
    )]
    BadName(String),
    #[error(
        "there is no import job {0}: create it with `byok-upload gcp fetch-kek --create` (or `gcloud kms import-jobs create`), or check the name"
    )]
    NotFound(String),
    #[error(
        "the import job {name} has protection level {level}, not HSM: the ceremony's key must stay in an HSM; create an import job with --protection-level hsm"
    )]
    NotHsm { name: String, level: String },
    #[error("the import job {name} is {state}, not ACTIVE: {advice}")]
    NotActive {
        name: String,
        state: String,
        advice: &'static str,
    },
    #[error(
        "the import job {name} expired at {at} ({until}): import jobs last 3 days; create a new one with `byok-upload gcp fetch-kek --create` and wrap the key again at the station"
    )]
    Expired {
        name: String,
        at: String,
        until: String,
    },
    #[error("the import job {name}: {source}")]
    Method { name: String, source: MethodError },
    #[error(
        "the import job {0} is ACTIVE but came without its public key: run byok-upload again; if it persists, check it with `gcloud kms import-jobs describe`"
    )]
    NoPublicKey(String),
    #[error("the import job's public key is not usable by the station: {0}")]
    Kek(String),
    #[error(
        "the import job's public key is RSA-{got}, but its method {method} needs RSA-{wanted}: do not use this job; report it"
    )]
    WrongSize {
        got: usize,
        wanted: usize,
        method: String,
    },
}

/// An import job that can wrap.
#[derive(Debug)]
pub struct CheckedJob {
    pub name: String,
    pub method: Method,
    pub kek: Kek,
    pub protection_level: String,
    pub state: String,
    pub create_time: i64,
    pub expire_time: i64,
}

/// Checks `projects/P/locations/L/keyRings/R/importJobs/J`.
pub fn check_job_name(name: &str) -> Result<(), JobError> {
    let parts: Vec<&str> = name.split('/').collect();
    let ok = parts.len() == 8
        && parts[0] == "projects"
        && parts[2] == "locations"
        && parts[4] == "keyRings"
        && parts[6] == "importJobs"
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        });
    if ok {
        Ok(())
    } else {
        Err(JobError::BadName(name.to_owned()))
    }
}

/// Reads the job (a safe read, retried).
pub async fn get(gcp: &Gcp, name: &str) -> Result<ImportJob, JobError> {
    let client = gcp.client();
    gcp.call("read the import job", true, || {
        client.get_import_job().set_name(name).send()
    })
    .await
    .map_err(|e| match e {
        GcpError::NotFound { .. } => JobError::NotFound(name.to_owned()),
        other => JobError::Service(other),
    })
}

/// The state, protection level or method as Google names them.
pub fn enum_name(name: Option<&str>) -> String {
    name.unwrap_or("UNSPECIFIED").to_owned()
}

/// Refuses a job that cannot wrap for an HSM import now.
pub fn check(job: &ImportJob) -> Result<CheckedJob, JobError> {
    let name = job.name.clone();
    let level = enum_name(job.protection_level.name());
    if level != "HSM" {
        return Err(JobError::NotHsm { name, level });
    }
    let state = enum_name(job.state.name());
    let expire_time = job.expire_time.as_ref().map(|t| t.seconds());
    if let Some(at) = expire_time
        && (state == "EXPIRED" || at <= clock::now())
    {
        return Err(JobError::Expired {
            name,
            at: clock::rfc3339(at),
            until: clock::until(at),
        });
    }
    match state.as_str() {
        "ACTIVE" => {}
        "EXPIRED" => {
            return Err(JobError::NotActive {
                name,
                state,
                advice: "import jobs last 3 days; create a new one with `byok-upload gcp fetch-kek --create` and wrap the key again at the station",
            });
        }
        _ => {
            return Err(JobError::NotActive {
                name,
                state,
                advice: "the HSM is still generating its key; wait a minute and run byok-upload again",
            });
        }
    }
    let method_name = enum_name(job.import_method.name());
    let method = methods::method(&method_name).map_err(|source| JobError::Method {
        name: name.clone(),
        source,
    })?;
    let pem = job
        .public_key
        .as_ref()
        .map(|k| k.pem.as_str())
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| JobError::NoPublicKey(name.clone()))?;
    let kek = Kek::from_bytes(pem.as_bytes()).map_err(|e| JobError::Kek(e.to_string()))?;
    if kek.bits() != method.bits {
        return Err(JobError::WrongSize {
            got: kek.bits(),
            wanted: method.bits,
            method: method.name.to_owned(),
        });
    }
    Ok(CheckedJob {
        name,
        method,
        kek,
        protection_level: level,
        state,
        create_time: job.create_time.as_ref().map_or(0, |t| t.seconds()),
        expire_time: expire_time.unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_names() {
        assert!(
            check_job_name("projects/p/locations/europe-west1/keyRings/r/importJobs/j-1").is_ok()
        );
        assert!(check_job_name("projects/p/locations/l/keyRings/r/cryptoKeys/k").is_err());
        assert!(check_job_name("projects/p/locations/l/keyRings/r/importJobs/").is_err());
        assert!(check_job_name("projects/p/../keyRings/r/importJobs/j/x").is_err());
    }
}
