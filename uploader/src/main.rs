//! byok-upload command line: parse, dispatch, exit codes. The work lives in the library; the
//! Google Cloud and AWS subcommands are in [`cli`].
//!
//! Exit codes: 0 success (every check passed); 1 the operation ran and found a problem or
//! refused (a mismatch, a wrong vault, a refusal by the vault); 2 bad usage (clap); 3 the
//! operation could not run (unreadable input, no network, no valid credential).
#![forbid(unsafe_code)]

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use azure_core::time::OffsetDateTime;
use clap::{Args, Parser, Subcommand};

use byok_ceremony::byok::fingerprint::pgp_words_for;
use byok_upload::credential::{self, CredentialKind};
use byok_upload::expect::parse_expected;
use byok_upload::fetch_kek::{FetchKekError, fetch_kek};
use byok_upload::import::{ImportError, KeySettings, import};
use byok_upload::preflight::{PreflightError, PreflightInputs, check};
use byok_upload::read_aloud::{READ_ALOUD, fingerprint_lines};
use byok_upload::service::{Service, ServiceError};
use byok_upload::vault_url::{ServiceKind, VaultUrl};

/// Largest release policy read.
const MAX_POLICY_BYTES: u64 = 64 * 1024;

#[derive(Debug, Parser)]
#[command(
    name = "byok-upload",
    version,
    about = "Online half of byok-ceremony: fetch the wrapping key for the station, import the ceremony's wrapped key and prove the cloud holds it (Azure Key Vault / Managed HSM; `gcp`: Google Cloud KMS; `aws`: AWS KMS)",
    long_about = None
)]
struct Cli {
    /// Which Entra ID credential to use (Azure commands only; `gcp` uses Google Application
    /// Default Credentials, `aws` the aws-config default chain)
    #[arg(long, global = true, value_enum, default_value = "auto")]
    credential: CredentialKind,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Import a .byok file and check that Azure now holds the ceremony's key
    Import(ImportArgs),
    /// Download the KEK's public key and key-show JSON for the ceremony station
    FetchKek(FetchKekArgs),
    /// Google Cloud KMS: fetch an import job's wrapping key, import a wrapped key
    #[command(subcommand)]
    Gcp(cli::gcp::GcpCommand),
    /// AWS KMS: fetch the wrapping key and import token, import key material
    #[command(subcommand)]
    Aws(cli::aws::AwsCommand),
}

#[derive(Debug, Args)]
#[group(id = "target", required = true, multiple = false, args = ["vault", "hsm"])]
struct Target {
    /// Key Vault URL (https://NAME.vault.azure.net)
    #[arg(long)]
    vault: Option<String>,
    /// Managed HSM URL (https://NAME.managedhsm.azure.net); needed for oct-HSM keys
    #[arg(long)]
    hsm: Option<String>,
}

impl Target {
    fn parse(&self) -> Result<VaultUrl, String> {
        let parsed = match (&self.vault, &self.hsm) {
            (Some(url), _) => VaultUrl::parse(url, ServiceKind::KeyVault),
            (None, Some(url)) => VaultUrl::parse(url, ServiceKind::ManagedHsm),
            (None, None) => return Err("give --vault URL or --hsm URL".to_owned()),
        };
        parsed.map_err(|e| e.to_string())
    }
}

#[derive(Debug, Args)]
struct ImportArgs {
    /// The .byok file the ceremony wrote
    #[arg(long)]
    byok: PathBuf,
    /// Its manifest (NAME.manifest.json)
    #[arg(long)]
    manifest: PathBuf,
    /// Name of the new key in the vault
    #[arg(long)]
    name: String,
    #[command(flatten)]
    target: Target,
    /// Allowed key operations, comma-separated (RSA: encrypt,decrypt,sign,verify,wrapKey,unwrapKey;
    /// EC: sign,verify; oct: encrypt,decrypt,wrapKey,unwrapKey) [default: Azure's for the key type]
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    ops: Option<Vec<String>>,
    /// Make the key exportable (Azure requires a release policy: --release-policy)
    #[arg(long, requires = "release_policy")]
    exportable: bool,
    /// Release policy JSON for an exportable key
    #[arg(long, requires = "exportable")]
    release_policy: Option<PathBuf>,
    /// Key not usable before this time (RFC 3339, e.g. 2030-01-01T00:00:00Z)
    #[arg(long, value_parser = parse_time)]
    not_before: Option<OffsetDateTime>,
    /// Key not usable after this time (RFC 3339)
    #[arg(long, value_parser = parse_time)]
    expires: Option<OffsetDateTime>,
    /// A tag NAME=VALUE (repeatable)
    #[arg(long = "tag", value_parser = parse_tag)]
    tags: Vec<(String, String)>,
    /// The .byok file's SHA-256 as shown by the ceremony: 32 PGP words or 64 hex digits
    #[arg(long)]
    expect_words: Option<String>,
    /// Allow a rehearsal manifest ("rehearsal": true) into a vault that is not a loopback test double
    #[arg(long)]
    allow_rehearsal: bool,
    /// Add a new version when a key of this name already exists (refused otherwise)
    #[arg(long)]
    allow_new_version: bool,
    /// oct keys: skip proving the key by its check value (one encrypt of a zero block)
    #[arg(long)]
    no_oct_check: bool,
}

#[derive(Debug, Args)]
struct FetchKekArgs {
    #[command(flatten)]
    target: Target,
    /// The KEK's name
    #[arg(long)]
    name: String,
    /// A specific KEK version [default: the current one]
    #[arg(long)]
    version: Option<String>,
    /// Directory for NAME.public.pem and NAME.key-show.json (never overwritten)
    #[arg(long)]
    out: PathBuf,
}

fn parse_time(text: &str) -> Result<OffsetDateTime, String> {
    azure_core::time::parse_rfc3339(text)
        .map_err(|_| format!("{text:?} is not an RFC 3339 time such as 2030-01-01T00:00:00Z"))
}

fn parse_tag(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() && name.len() <= 512 && value.len() <= 256 => {
            Ok((name.to_owned(), value.to_owned()))
        }
        _ => Err(format!(
            "{text:?} is not NAME=VALUE (name 1-512 characters, value up to 256)"
        )),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    match cli.command {
        Command::Import(args) => runtime.block_on(run_import(cli.credential, args)),
        Command::FetchKek(args) => runtime.block_on(run_fetch_kek(cli.credential, args)),
        Command::Gcp(command) => runtime.block_on(cli::gcp::run(command)),
        Command::Aws(command) => runtime.block_on(cli::aws::run(command)),
    }
}

fn fail(code: u8, message: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}

fn connect(kind: CredentialKind, vault: &VaultUrl) -> Result<Service, ExitCode> {
    let env = |name: &str| std::env::var(name).ok();
    let chosen = credential::choose(kind, &env).map_err(|e| fail(3, &e))?;
    eprintln!("credential: {}", chosen.description);
    Service::new(vault, chosen.credential).map_err(|e| fail(3, &e))
}

async fn run_import(kind: CredentialKind, args: ImportArgs) -> ExitCode {
    let vault = match args.target.parse() {
        Ok(v) => v,
        Err(e) => return fail(2, &e),
    };
    let expect = match args.expect_words.as_deref().map(parse_expected).transpose() {
        Ok(e) => e,
        Err(e) => return fail(2, &e),
    };
    if has_duplicate_tags(&args.tags) {
        return fail(2, &"a --tag NAME is given twice: give each tag once");
    }
    let release_policy = match args.release_policy.as_deref().map(read_policy).transpose() {
        Ok(p) => p,
        Err(e) => return fail(3, &e),
    };
    let inputs = PreflightInputs {
        byok: &args.byok,
        manifest: &args.manifest,
        name: &args.name,
        vault: &vault,
        ops: args.ops.as_deref(),
        expect,
        allow_rehearsal: args.allow_rehearsal,
        oct_check: !args.no_oct_check,
    };
    let checked = match check(&inputs) {
        Ok(c) => c,
        Err(e @ (PreflightError::Read { .. } | PreflightError::TooLarge { .. })) => {
            return fail(3, &e);
        }
        Err(e) => return fail(1, &e),
    };
    for warning in &checked.warnings {
        eprintln!("warning: {warning}");
    }
    println!(
        "checked: the .byok file's SHA-256 {} matches the manifest{}",
        hex::encode(checked.byok_sha256),
        if expect.is_some() {
            " and the typed hash"
        } else {
            ""
        }
    );
    println!(
        "  SHA-256 words: {}",
        pgp_words_for(&checked.byok_sha256).join(" ")
    );
    println!("checked: its KEK {} is named in {vault}", checked.kid);
    let service = match connect(kind, &vault) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let settings = KeySettings {
        name: args.name,
        ops: args.ops,
        exportable: args.exportable,
        release_policy,
        not_before: args.not_before,
        expires: args.expires,
        tags: args.tags,
        allow_new_version: args.allow_new_version,
        oct_check: !args.no_oct_check,
    };
    match import(&service, &vault, &checked, &settings).await {
        Ok(imported) => {
            println!("imported: {}", imported.kid);
            println!("verified: {}", imported.proof);
            println!("kid: {}", imported.kid);
            ExitCode::SUCCESS
        }
        Err(e) => {
            let code = match &e {
                ImportError::Before(s) | ImportError::Refused { source: s }
                    if is_environment(s) =>
                {
                    3
                }
                ImportError::OutcomeUnknown { .. } => 3,
                _ => 1,
            };
            fail(code, &e)
        }
    }
}

async fn run_fetch_kek(kind: CredentialKind, args: FetchKekArgs) -> ExitCode {
    let vault = match args.target.parse() {
        Ok(v) => v,
        Err(e) => return fail(2, &e),
    };
    let service = match connect(kind, &vault) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match fetch_kek(
        &service,
        &vault,
        &args.name,
        args.version.as_deref(),
        &args.out,
    )
    .await
    {
        Ok(fetched) => {
            println!(
                "KEK: {} (RSA-{}, key_ops [\"import\"])",
                fetched.kid, fetched.bits
            );
            println!("  public key: {}", fetched.pem_path.display());
            println!("  key show JSON: {}", fetched.json_path.display());
            for line in fingerprint_lines(&fetched.fingerprint) {
                println!("{line}");
            }
            for warning in &fetched.warnings {
                eprintln!("warning: {warning}");
            }
            println!("{READ_ALOUD}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let code = match &e {
                FetchKekError::Service(s) if is_environment(s) => 3,
                _ => 1,
            };
            fail(code, &e)
        }
    }
}

/// Failures of the surroundings (network, credential, permissions), not of the inputs.
fn is_environment(error: &ServiceError) -> bool {
    matches!(
        error,
        ServiceError::Network { .. }
            | ServiceError::Credential { .. }
            | ServiceError::Unauthorized { .. }
            | ServiceError::Forbidden { .. }
            | ServiceError::Throttled { .. }
            | ServiceError::Other { .. }
            | ServiceError::Setup { .. }
    )
}

fn has_duplicate_tags(tags: &[(String, String)]) -> bool {
    tags.iter()
        .enumerate()
        .any(|(i, (name, _))| tags[..i].iter().any(|(n, _)| n == name))
}

fn read_policy(path: &std::path::Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_POLICY_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read the release policy {}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_POLICY_BYTES {
        return Err(format!(
            "the release policy {} is larger than 64 KiB: check the file",
            path.display()
        ));
    }
    serde_json::from_slice::<serde_json::Value>(&bytes).map_err(|e| {
        format!(
            "the release policy {} is not JSON ({e}): see `az keyvault key create --policy`",
            path.display()
        )
    })?;
    Ok(bytes)
}
