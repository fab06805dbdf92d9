//! `byok-upload aws fetch-kek` and `byok-upload aws import`.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use byok_upload::aws::client::{Connection, Kms};
use byok_upload::aws::fetch_kek::{FetchRequest, fetch_kek};
use byok_upload::aws::import::{AwsImportRequest, Expiration, check_locally, import};
use byok_upload::clock;
use byok_upload::expect::parse_expected;

use super::{fail, print_fingerprint, print_wrapped_hash, warn_all};

#[derive(Debug, Subcommand)]
pub enum AwsCommand {
    /// GetParametersForImport: write the wrapping public key (DER), the import token and their JSON for the station
    FetchKek(FetchArgs),
    /// ImportKeyMaterial, then check the key is Enabled and (asymmetric keys) its public key is the manifest's
    Import(ImportArgs),
}

/// Where and as whom: aws-config's default chain, as the aws CLI.
#[derive(Debug, Args)]
pub struct ConnectionArgs {
    /// AWS Region [default: AWS_REGION or the profile's region]
    #[arg(long)]
    region: Option<String>,
    /// Named profile from ~/.aws/config [default: AWS_PROFILE or "default"]
    #[arg(long)]
    profile: Option<String>,
    /// KMS endpoint URL (a VPC or FIPS endpoint) [default: AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL, or the Region's]
    #[arg(long)]
    endpoint_url: Option<String>,
}

impl ConnectionArgs {
    fn connection(&self) -> Connection {
        Connection {
            region: self.region.clone(),
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// The KMS key (ID, ARN or alias/NAME), created with --origin EXTERNAL
    #[arg(long)]
    key_id: String,
    /// RSA_AES_KEY_WRAP_SHA_256 (recommended; needed for RSA keys), RSA_AES_KEY_WRAP_SHA_1, RSAES_OAEP_SHA_256 or RSAES_OAEP_SHA_1
    #[arg(long, default_value = "RSA_AES_KEY_WRAP_SHA_256")]
    wrapping_algorithm: String,
    /// RSA_2048, RSA_3072 or RSA_4096
    #[arg(long, default_value = "RSA_3072")]
    wrapping_key_spec: String,
    /// Directory for KEYID.wrapping-key.der, KEYID.import-token.bin and KEYID.import-parameters.json (never overwritten)
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    connection: ConnectionArgs,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The ceremony's manifest (NAME.manifest.json)
    #[arg(long)]
    manifest: PathBuf,
    /// The encrypted key material the ceremony wrote for AWS
    #[arg(long)]
    encrypted_key_material: PathBuf,
    /// The import token `aws fetch-kek` wrote (KEYID.import-token.bin)
    #[arg(long)]
    import_token: PathBuf,
    /// The import parameters `aws fetch-kek` wrote (KEYID.import-parameters.json)
    #[arg(long)]
    parameters: PathBuf,
    /// The KMS key; must be the parameters' key [default: the parameters' key]
    #[arg(long)]
    key_id: Option<String>,
    /// KEY_MATERIAL_DOES_NOT_EXPIRE or KEY_MATERIAL_EXPIRES (with --valid-to)
    #[arg(long, default_value = "KEY_MATERIAL_DOES_NOT_EXPIRE")]
    expiration_model: String,
    /// When the key material expires (RFC 3339, at most 365 days ahead); only with KEY_MATERIAL_EXPIRES
    #[arg(long)]
    valid_to: Option<String>,
    /// The encrypted key material's SHA-256 as shown by the ceremony: 32 PGP words or 64 hex digits
    #[arg(long)]
    expect_words: Option<String>,
    /// Allow a rehearsal manifest ("rehearsal": true)
    #[arg(long)]
    allow_rehearsal: bool,
    #[command(flatten)]
    connection: ConnectionArgs,
}

pub async fn run(command: AwsCommand) -> ExitCode {
    match command {
        AwsCommand::FetchKek(args) => run_fetch(args).await,
        AwsCommand::Import(args) => run_import(args).await,
    }
}

async fn connect(args: &ConnectionArgs) -> Result<Kms, ExitCode> {
    let kms = Kms::connect(&args.connection())
        .await
        .map_err(|e| fail(3, &e))?;
    eprintln!(
        "credential: {} (aws-config default chain), region {}",
        kms.credential, kms.region
    );
    Ok(kms)
}

async fn run_fetch(args: FetchArgs) -> ExitCode {
    let kms = match connect(&args.connection).await {
        Ok(k) => k,
        Err(code) => return code,
    };
    let request = FetchRequest {
        key_id: args.key_id,
        wrapping_algorithm: args.wrapping_algorithm,
        wrapping_key_spec: args.wrapping_key_spec,
    };
    match fetch_kek(&kms, &request, &args.out).await {
        Ok(fetched) => {
            let p = &fetched.parameters;
            println!("KMS key: {} ({}, Origin EXTERNAL)", p.key_arn, p.key_spec);
            println!(
                "wrapping key: {} {} ({})",
                p.wrapping_key_spec, p.wrapping_algorithm, p.wrapping_key_file
            );
            for path in &fetched.paths {
                println!("  wrote: {}", path.display());
            }
            println!(
                "  valid to: {} ({}); the import must happen before then",
                p.parameters_valid_to,
                clock::until(clock::parse(&p.parameters_valid_to).unwrap_or(0))
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
    let expiration = match (args.expiration_model.as_str(), args.valid_to.as_deref()) {
        ("KEY_MATERIAL_DOES_NOT_EXPIRE", None) => Expiration::Never,
        ("KEY_MATERIAL_EXPIRES", Some(text)) => match clock::parse(text) {
            Some(at) => Expiration::At(at),
            None => {
                return fail(
                    2,
                    &format!(
                        "--valid-to {text:?} is not an RFC 3339 time such as 2030-01-01T00:00:00Z"
                    ),
                );
            }
        },
        ("KEY_MATERIAL_DOES_NOT_EXPIRE", Some(_)) => {
            return fail(
                2,
                &"--valid-to needs --expiration-model KEY_MATERIAL_EXPIRES",
            );
        }
        ("KEY_MATERIAL_EXPIRES", None) => {
            return fail(
                2,
                &"--expiration-model KEY_MATERIAL_EXPIRES needs --valid-to TIME",
            );
        }
        (other, _) => {
            return fail(
                2,
                &format!(
                    "--expiration-model {other:?}: use KEY_MATERIAL_DOES_NOT_EXPIRE or KEY_MATERIAL_EXPIRES"
                ),
            );
        }
    };
    let request = AwsImportRequest {
        manifest: &args.manifest,
        encrypted_key_material: &args.encrypted_key_material,
        import_token: &args.import_token,
        parameters: &args.parameters,
        key_id: args.key_id.as_deref(),
        expiration,
        expect,
        allow_rehearsal: args.allow_rehearsal,
    };
    let (output, parameters, token) = match check_locally(&request) {
        Ok(checked) => checked,
        Err(e) => return fail(e.exit_code(), &e),
    };
    warn_all(&output.warnings);
    print_wrapped_hash(
        "encrypted key material",
        &output.wrapped_sha256,
        expect.is_some(),
    );
    println!(
        "checked: wrapped for the wrapping key with SHA-256 {} ({} {}), token valid to {}",
        parameters.wrapping_key_sha256,
        parameters.wrapping_key_spec,
        parameters.wrapping_algorithm,
        parameters.parameters_valid_to
    );
    let kms = match connect(&args.connection).await {
        Ok(k) => k,
        Err(code) => return code,
    };
    match import(&kms, &request, &output, &parameters, &token).await {
        Ok(imported) => {
            warn_all(&imported.warnings);
            println!("imported: {}", imported.arn);
            println!("verified: {}", imported.proof);
            println!("key: {}", imported.arn);
            ExitCode::SUCCESS
        }
        Err(e) => fail(e.exit_code(), &e),
    }
}
