//! `byok-upload gcp fetch-kek` and `byok-upload gcp import`.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use byok_upload::clock;
use byok_upload::expect::parse_expected;
use byok_upload::gcp::client::Gcp;
use byok_upload::gcp::fetch_kek::{GcpFetchRequest, fetch_kek};
use byok_upload::gcp::import::{GcpImportRequest, check_locally, import};

use super::{fail, print_fingerprint, print_wrapped_hash, warn_all};

#[derive(Debug, Subcommand)]
pub enum GcpCommand {
    /// Read (or --create) an HSM import job: write its public key PEM and a JSON describing it for the station
    FetchKek(FetchArgs),
    /// Import the wrapped key as a new key version, then check (asymmetric keys) its public key is the manifest's
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// projects/PROJECT/locations/LOCATION/keyRings/RING/importJobs/JOB
    #[arg(long)]
    import_job: String,
    /// Create the import job (protection level HSM) when it does not exist
    #[arg(long)]
    create: bool,
    /// The import method of a new job (an existing job must have it when given) [default for --create: RSA_OAEP_3072_SHA256_AES_256]
    #[arg(long)]
    import_method: Option<String>,
    /// Directory for JOB.public.pem and JOB.import-job.json (never overwritten)
    #[arg(long)]
    out: PathBuf,
    /// Cloud KMS endpoint (a Private Service Connect endpoint) [default: https://cloudkms.googleapis.com]
    #[arg(long)]
    endpoint: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The ceremony's manifest (NAME.manifest.json)
    #[arg(long)]
    manifest: PathBuf,
    /// The raw wrapped key the ceremony wrote for Google Cloud (RSA-OAEP block, then RFC 5649)
    #[arg(long)]
    wrapped_key: PathBuf,
    /// projects/PROJECT/locations/LOCATION/keyRings/RING/cryptoKeys/KEY (created with --import-only --protection-level hsm)
    #[arg(long)]
    crypto_key: String,
    /// projects/PROJECT/locations/LOCATION/keyRings/RING/importJobs/JOB, whose key the ceremony wrapped for
    #[arg(long)]
    import_job: String,
    /// The key version algorithm, e.g. GOOGLE_SYMMETRIC_ENCRYPTION, RSA_SIGN_PSS_3072_SHA256, EC_SIGN_P256_SHA256
    #[arg(long)]
    algorithm: String,
    /// The wrapped key's SHA-256 as shown by the ceremony: 32 PGP words or 64 hex digits
    #[arg(long)]
    expect_words: Option<String>,
    /// Allow a rehearsal manifest ("rehearsal": true)
    #[arg(long)]
    allow_rehearsal: bool,
    /// Cloud KMS endpoint (a Private Service Connect endpoint) [default: https://cloudkms.googleapis.com]
    #[arg(long)]
    endpoint: Option<String>,
}

pub async fn run(command: GcpCommand) -> ExitCode {
    match command {
        GcpCommand::FetchKek(args) => run_fetch(args).await,
        GcpCommand::Import(args) => run_import(args).await,
    }
}

async fn connect(endpoint: Option<&str>) -> Result<Gcp, ExitCode> {
    let gcp = Gcp::connect(endpoint).await.map_err(|e| fail(3, &e))?;
    eprintln!(
        "credential: Google Application Default Credentials; endpoint {}",
        gcp.endpoint
    );
    Ok(gcp)
}

async fn run_fetch(args: FetchArgs) -> ExitCode {
    let gcp = match connect(args.endpoint.as_deref()).await {
        Ok(g) => g,
        Err(code) => return code,
    };
    let request = GcpFetchRequest {
        job: args.import_job,
        create: args.create,
        import_method: args.import_method,
    };
    match fetch_kek(&gcp, &request, &args.out).await {
        Ok(fetched) => {
            let r = &fetched.record;
            println!(
                "import job: {} ({}, protection level {}{})",
                r.name,
                r.import_method,
                r.protection_level,
                if fetched.created { ", created now" } else { "" }
            );
            for path in &fetched.paths {
                println!("  wrote: {}", path.display());
            }
            println!(
                "  expires: {} ({}); the import must happen before then",
                r.expire_time,
                clock::until(clock::parse(&r.expire_time).unwrap_or(0))
            );
            warn_all(&fetched.warnings);
            print_fingerprint(&fetched.fingerprint);
            ExitCode::SUCCESS
        }
        Err(e) => fail(e.exit_code(), &e),
    }
}

async fn run_import(args: ImportArgs) -> ExitCode {
    let expect = match args.expect_words.as_deref().map(parse_expected).transpose() {
        Ok(e) => e,
        Err(e) => return fail(2, &e),
    };
    let request = GcpImportRequest {
        manifest: &args.manifest,
        wrapped_key: &args.wrapped_key,
        crypto_key: &args.crypto_key,
        import_job: &args.import_job,
        algorithm: &args.algorithm,
        expect,
        allow_rehearsal: args.allow_rehearsal,
    };
    let output = match check_locally(&request) {
        Ok(output) => output,
        Err(e) => return fail(e.exit_code(), &e),
    };
    warn_all(&output.warnings);
    print_wrapped_hash("wrapped key", &output.wrapped_sha256, expect.is_some());
    let gcp = match connect(args.endpoint.as_deref()).await {
        Ok(g) => g,
        Err(code) => return code,
    };
    match import(&gcp, &request, &output).await {
        Ok(imported) => {
            warn_all(&imported.warnings);
            println!("imported: {}", imported.version);
            println!("verified: {}", imported.proof);
            println!("version: {}", imported.version);
            ExitCode::SUCCESS
        }
        Err(e) => fail(e.exit_code(), &e),
    }
}
