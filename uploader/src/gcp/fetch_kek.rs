//! `byok-upload gcp fetch-kek`: read (or, with `--create`, create) an HSM import job, wait
//! until its HSM has made the wrapping key, check it, and write its public key PEM and a
//! small JSON describing the job for the station, never overwriting anything.
use std::path::{Path, PathBuf};
use std::time::Duration;

use byok_ceremony::byok::fingerprint::Fingerprint;
use byok_ceremony::media::atomic::WriteError;
use google_cloud_kms_v1::model::import_job::ImportMethod;
use google_cloud_kms_v1::model::{ImportJob, ProtectionLevel};

use crate::clock;
use crate::gcp::client::Gcp;
use crate::gcp::job::{self, FORMAT, JobError, JobRecord, check_job_name, enum_name};
use crate::gcp::methods::{self, MethodError};
use crate::write_set::{refuse_existing, write_all};

/// How long to wait for a new job's HSM key.
const GENERATION_WAIT: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_secs(1);
/// Warn when the job has less than this left: the ceremony and the import must fit in it.
const SHORT_LIFETIME_SECS: i64 = 24 * 3600;

/// What to fetch.
#[derive(Debug, Clone)]
pub struct GcpFetchRequest {
    /// projects/P/locations/L/keyRings/R/importJobs/J
    pub job: String,
    /// Create the job when it does not exist.
    pub create: bool,
    /// The import method for a new job (and, when given, the one an existing job must have).
    pub import_method: Option<String>,
}

/// What was written and what to read aloud.
#[derive(Debug)]
pub struct Fetched {
    pub record: JobRecord,
    pub created: bool,
    pub fingerprint: Fingerprint,
    pub paths: Vec<PathBuf>,
    pub warnings: Vec<String>,
}

/// Why the import job's key could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum GcpFetchError {
    #[error("{0}")]
    Job(#[from] JobError),
    #[error("{0}")]
    Method(#[from] MethodError),
    #[error(
        "the import job {name} uses {found}, not the --import-method {asked}: an import job's method cannot change; choose another job name or drop --import-method"
    )]
    MethodDiffers {
        name: String,
        found: String,
        asked: String,
    },
    #[error(
        "the import job {0} was still generating its key after 2 minutes: run byok-upload again later (without --create)"
    )]
    StillGenerating(String),
    #[error("{0}")]
    Output(#[from] WriteError),
}

impl GcpFetchError {
    pub fn exit_code(&self) -> u8 {
        match self {
            GcpFetchError::Job(JobError::Service(e)) if e.is_environment() => 3,
            _ => 1,
        }
    }
}

/// The two output names for a job.
pub fn output_names(job: &str) -> [String; 2] {
    let id = job.rsplit('/').next().unwrap_or(job);
    [format!("{id}.public.pem"), format!("{id}.import-job.json")]
}

/// Fetches (or creates), checks and writes the import job's key.
pub async fn fetch_kek(
    gcp: &Gcp,
    request: &GcpFetchRequest,
    out: &Path,
) -> Result<Fetched, GcpFetchError> {
    check_job_name(&request.job)?;
    let asked = request
        .import_method
        .as_deref()
        .map(methods::method)
        .transpose()?;
    let names = output_names(&request.job);
    refuse_existing(out, &[names[0].as_str(), names[1].as_str()])?;
    let mut created = false;
    let mut found = match job::get(gcp, &request.job).await {
        Ok(found) => found,
        Err(JobError::NotFound(_)) if request.create => {
            created = true;
            create(
                gcp,
                &request.job,
                asked.map_or(methods::DEFAULT_METHOD, |m| m.name),
            )
            .await?
        }
        Err(e) => return Err(e.into()),
    };
    let started = tokio::time::Instant::now();
    while enum_name(found.state.name()) == "PENDING_GENERATION" {
        if started.elapsed() > GENERATION_WAIT {
            return Err(GcpFetchError::StillGenerating(request.job.clone()));
        }
        tokio::time::sleep(POLL).await;
        found = job::get(gcp, &request.job).await?;
    }
    let checked = job::check(&found)?;
    if let Some(asked) = asked
        && asked.name != checked.method.name
    {
        return Err(GcpFetchError::MethodDiffers {
            name: checked.name,
            found: checked.method.name.to_owned(),
            asked: asked.name.to_owned(),
        });
    }
    let [pem_name, json_name] = names;
    let pem = der::pem::encode_string(
        "PUBLIC KEY",
        der::pem::LineEnding::LF,
        checked.kek.spki_der(),
    )
    .map_err(|e| JobError::Kek(e.to_string()))?;
    let record = JobRecord {
        format: FORMAT.to_owned(),
        name: checked.name.clone(),
        import_method: checked.method.name.to_owned(),
        protection_level: checked.protection_level.clone(),
        state: checked.state.clone(),
        create_time: clock::rfc3339(checked.create_time),
        expire_time: clock::rfc3339(checked.expire_time),
        public_key_sha256: checked.kek.fingerprint().hex(),
        public_key_file: pem_name.clone(),
    };
    let json = record.to_json();
    let paths = write_all(
        out,
        &[
            (pem_name.as_str(), pem.as_bytes()),
            (json_name.as_str(), &json),
        ],
    )?;
    let mut warnings = checked.kek.warnings().to_vec();
    if checked.expire_time - clock::now() < SHORT_LIFETIME_SECS {
        warnings.push(format!(
            "the import job expires {} ({}): the ceremony and the import must both happen before then",
            record.expire_time,
            clock::until(checked.expire_time)
        ));
    }
    Ok(Fetched {
        record,
        created,
        fingerprint: checked.kek.fingerprint(),
        paths,
        warnings,
    })
}

/// CreateImportJob with HSM protection. Not repeated after an ambiguous failure (a second
/// create of the same ID would fail with ALREADY_EXISTS, which says nothing wrong happened,
/// but the loop's rule for writes keeps it simple).
async fn create(gcp: &Gcp, name: &str, method: &str) -> Result<ImportJob, JobError> {
    let (parent, id) = name
        .rsplit_once("/importJobs/")
        .ok_or_else(|| JobError::BadName(name.to_owned()))?;
    let client = gcp.client();
    let job = ImportJob::new()
        .set_import_method(ImportMethod::from(method))
        .set_protection_level(ProtectionLevel::Hsm);
    gcp.call("create the import job", false, || {
        client
            .create_import_job()
            .set_parent(parent)
            .set_import_job_id(id)
            .set_import_job(job.clone())
            .send()
    })
    .await
    .map_err(JobError::Service)
}
