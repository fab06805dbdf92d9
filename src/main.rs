//! byok-ceremony command line: parse, dispatch, exit codes. The work lives in the library.
//!
//! Exit codes: 0 success; 1 the operation ran and found a problem (a bad file, a failed
//! check); 2 bad usage (clap); 3 the operation could not run (missing HSM, unreadable input).
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use byok_ceremony::byok::fingerprint::pgp_words_for;
use byok_ceremony::hsm_types::key::TargetSpec;
use byok_ceremony::rehearse::{CloudChoice, KekSource, RehearseOptions, rehearse};

#[derive(Debug, Parser)]
#[command(
    name = "byok-ceremony",
    version,
    about = "Air-gapped key ceremony for Azure Key Vault BYOK: a PKCS#11 HSM makes the key and wraps it for the Key Vault KEK",
    long_about = None
)]
struct Cli {
    /// Without a command: list the ceremony scripts found and run the chosen one
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a whole rehearsal ceremony on a throwaway software token (SoftHSM2 or kryoptic)
    Rehearse(RehearseArgs),
    /// Check a .byok file against its KEK; with the KEK private key, unwrap and inspect it
    VerifyByok(VerifyArgs),
    /// Run a scripted ceremony with the guided terminal UI (headless with --answers FILE)
    Run(byok_ceremony::cli::run::RunArgs),
    /// The auditor's tools: verify a ceremony's log
    #[command(subcommand)]
    Audit(byok_ceremony::cli::audit::AuditCommand),
    /// Put a token under quorum control: new random PINs split among custodians (or --resplit)
    Provision(byok_ceremony::cli::provision::ProvisionArgs),
    /// Check this workstation (air gap, swap, core dumps, memory locking, the tool's own hash,
    /// read-only medium, clock); exit 0 only when every check passes
    #[command(long_about = byok_ceremony::cli::preflight::LONG_HELP)]
    Preflight(byok_ceremony::cli::preflight::PreflightArgs),
}

#[derive(Debug, Args)]
struct RehearseArgs {
    /// Accepted for scripts: `rehearse` always runs without the terminal UI (the guided UI
    /// is `run SCRIPT` on a provisioned token; see docs/ceremony-guide.md)
    #[arg(long)]
    headless: bool,
    /// Directory for NAME.byok and NAME.manifest.json (never overwritten)
    #[arg(long)]
    out: PathBuf,
    /// Output base name [default: rehearsal-<key type>]
    #[arg(long)]
    name: Option<String>,
    /// KEK public key: SPKI PEM or DER, PKCS#1 PEM, or `az keyvault key show` JSON.
    /// Without it a simulated Key Vault KEK is made and the output is unwrapped to check it
    #[arg(long)]
    kek: Option<PathBuf>,
    /// The KEK's `az keyvault key show` JSON, cross-checked against --kek
    #[arg(long, requires = "kek")]
    kek_json: Option<PathBuf>,
    /// The KEK's full versioned kid (https://VAULT/keys/NAME/VERSION)
    #[arg(long, requires = "kek")]
    kid: Option<String>,
    /// A test KEK's private key (PEM), to unwrap and check the output
    #[arg(long, requires = "kek")]
    kek_private: Option<PathBuf>,
    /// Size of the simulated KEK in bits
    #[arg(long, default_value_t = 2048, conflicts_with = "kek")]
    simulated_kek_bits: usize,
    /// Target key type
    #[arg(long, default_value = "RSA-HSM", value_parser = ["RSA-HSM", "EC-HSM", "oct-HSM"])]
    key_type: String,
    /// Key size in bits (RSA: 2048, 3072, 4096 [default 3072]; oct: 128, 192, 256 [default 256])
    #[arg(long)]
    key_size: Option<u32>,
    /// Curve for EC-HSM keys
    #[arg(long, value_parser = ["P-256", "P-384", "P-521", "P-256K"])]
    curve: Option<String>,
    /// PKCS#11 module of the software token to use [default: the best one installed: SoftHSM2
    /// 2.7.0 from scripts/build-softhsm.sh (native wrap), else kryoptic (byte-exact two-step), else
    /// the distro's SoftHSM2 (zero-pads: rehearsal-grade)]
    #[arg(long)]
    module: Option<PathBuf>,
    /// The release's SHA256SUMS file: the preflight compares the tool's own hash with its
    /// entry for byok-ceremony
    #[arg(long, value_name = "FILE")]
    sums: Option<PathBuf>,
    /// The clouds to wrap for, in order (comma-separated or repeated): one ceremony makes one
    /// key and wraps it for each. Several clouds need simulated wrapping keys (no --kek)
    #[arg(long, value_delimiter = ',', default_value = "azure", value_parser = ["azure", "gcp", "aws"])]
    cloud: Vec<String>,
    /// Google Cloud: the import job's method [default: RSA_OAEP_3072_SHA256_AES_256]; fixes
    /// the wrapping key's size, the OAEP hash, and whether RFC 5649 follows
    #[arg(long, value_name = "METHOD")]
    import_method: Option<String>,
    /// AWS: the wrapping algorithm [default: RSA_AES_KEY_WRAP_SHA_256]
    #[arg(long, value_name = "ALG")]
    wrapping_algorithm: Option<String>,
    /// AWS: the import token GetParametersForImport returned with --kek (copied beside the
    /// wrapped material)
    #[arg(long, value_name = "FILE", requires = "kek")]
    import_token: Option<PathBuf>,
    /// AWS: when --kek and --import-token stop being valid (ParametersValidTo, RFC 3339)
    /// [default: 24 hours from now]
    #[arg(long, value_name = "TIME", requires = "import_token")]
    parameters_valid_to: Option<String>,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The .byok file to check
    file: PathBuf,
    /// KEK public key (SPKI PEM/DER, PKCS#1 PEM) or `az keyvault key show` JSON
    #[arg(long)]
    kek: PathBuf,
    /// The KEK's `az keyvault key show` JSON, cross-checked against --kek
    #[arg(long)]
    kek_json: Option<PathBuf>,
    /// Expected kid (when the KEK file does not carry one, or to pin it)
    #[arg(long)]
    kid: Option<String>,
    /// KEK private key (PEM) of a rehearsal or test KEK: unwrap and inspect the key
    #[arg(long)]
    kek_private: Option<PathBuf>,
    /// Expected public key of the target (SPKI PEM), compared with the unwrapped key
    #[arg(long, requires = "kek_private")]
    public_key: Option<PathBuf>,
    /// Accept trailing zero bytes after the PKCS#8 (output of a zero-padding token) with a warning
    #[arg(long)]
    allow_zero_padding: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Every command that can hold a secret (a PIN share, a rebuilt PIN, a test KEK's private
    // key) hardens the process before it reads one: no core dump, memory locked in RAM. The
    // auditor's commands and verify-byok without a private key handle no secret.
    let touches_secrets = match &cli.command {
        None
        | Some(
            Command::Rehearse(_) | Command::Run(_) | Command::Provision(_) | Command::Preflight(_),
        ) => true,
        Some(Command::VerifyByok(args)) => args.kek_private.is_some(),
        Some(Command::Audit(_)) => false,
    };
    if touches_secrets {
        byok_ceremony::preflight::harden();
    }
    let Some(command) = cli.command else {
        return choose_and_run();
    };
    match command {
        Command::Preflight(args) => byok_ceremony::cli::preflight::run(&args),
        Command::Rehearse(args) => run_rehearse(args),
        Command::Run(args) => byok_ceremony::cli::run::run(args),
        Command::Audit(command) => byok_ceremony::cli::audit::run(command),
        Command::Provision(args) => byok_ceremony::cli::provision::run(args),
        Command::VerifyByok(args) => byok_ceremony::cli::verify_byok::run(
            &args.file,
            &byok_ceremony::cli::verify_byok::Inputs {
                kek: args.kek,
                kek_json: args.kek_json,
                kid: args.kid,
                kek_private: args.kek_private,
                public_key: args.public_key,
                allow_zero_padding: args.allow_zero_padding,
            },
        ),
    }
}

/// No command: list the ceremony scripts found and start the chosen one in the guided UI.
fn choose_and_run() -> ExitCode {
    use byok_ceremony::tui::picker::{Choice, choose};
    let scripts = byok_ceremony::cli::run::find_scripts();
    if scripts.is_empty() {
        byok_ceremony::tell!(
            "error: no ceremony script found in ceremony-scripts/ or on mounted media; mount the medium that holds it, or run `byok-ceremony run SCRIPT` (see --help)"
        );
        return ExitCode::from(2);
    }
    let provisioning: Vec<PathBuf> = scripts
        .iter()
        .filter(|s| s.kind == byok_ceremony::tui::picker::ScriptKind::Provisioning)
        .map(|s| s.path.clone())
        .collect();
    match choose(scripts) {
        Ok(Choice::Run(script)) if provisioning.contains(&script) => {
            byok_ceremony::cli::provision::run(
                byok_ceremony::cli::provision::ProvisionArgs::guided(script),
            )
        }
        Ok(Choice::Run(script)) => {
            byok_ceremony::cli::run::run(byok_ceremony::cli::run::RunArgs::guided(script))
        }
        Ok(Choice::Quit) => ExitCode::SUCCESS,
        Err(e) => {
            byok_ceremony::tell!(
                "error: the terminal could not be used ({e}); run `byok-ceremony run SCRIPT` instead"
            );
            ExitCode::from(3)
        }
    }
}

/// `--cloud` and its algorithm flags, as the rehearsal's clouds.
fn rehearse_clouds(
    clouds: &[String],
    import_method: Option<&str>,
    wrapping_algorithm: Option<&str>,
    import_token: Option<PathBuf>,
    valid_to: Option<&str>,
) -> Result<Vec<CloudChoice>, String> {
    use byok_ceremony::cloud::{Algorithm, Cloud, parse_utc};
    let mut out = Vec::new();
    let parsed: Vec<Cloud> = clouds
        .iter()
        .map(|c| Cloud::parse(c).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    if import_method.is_some() && !parsed.contains(&Cloud::Gcp) {
        return Err("--import-method is Google Cloud's: give it with --cloud gcp".into());
    }
    if wrapping_algorithm.is_some() && !parsed.contains(&Cloud::Aws) {
        return Err("--wrapping-algorithm is AWS's: give it with --cloud aws".into());
    }
    if import_token.is_some() && parsed != [Cloud::Aws] {
        return Err(
            "--import-token goes with an AWS wrapping key: give it with --cloud aws alone".into(),
        );
    }
    for cloud in parsed {
        let named = match cloud {
            Cloud::Gcp => import_method,
            Cloud::Aws => wrapping_algorithm,
            Cloud::Azure => None,
        };
        let algorithm = match named {
            Some(n) => Algorithm::find(cloud, n).map_err(|e| e.to_string())?,
            None => Algorithm::default_for(cloud),
        };
        let mut choice = CloudChoice::new(algorithm);
        if cloud == Cloud::Aws {
            choice.import_token = import_token.clone();
            choice.valid_to = valid_to
                .map(|t| parse_utc(t).map_err(|e| format!("--parameters-valid-to: {e}")))
                .transpose()?;
        }
        out.push(choice);
    }
    if out.len() == 1 && out[0].cloud() == Cloud::Azure {
        return Ok(Vec::new());
    }
    Ok(out)
}

fn run_rehearse(args: RehearseArgs) -> ExitCode {
    let spec = match TargetSpec::from_azure(&args.key_type, args.key_size, args.curve.as_deref()) {
        Ok(spec) => spec,
        Err(e) => {
            byok_ceremony::tell!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let kek = match args.kek {
        Some(public) => KekSource::Given {
            public,
            json: args.kek_json,
            kid: args.kid,
            private: args.kek_private,
        },
        None => KekSource::Simulated {
            bits: args.simulated_kek_bits,
        },
    };
    let clouds = match rehearse_clouds(
        &args.cloud,
        args.import_method.as_deref(),
        args.wrapping_algorithm.as_deref(),
        args.import_token,
        args.parameters_valid_to.as_deref(),
    ) {
        Ok(c) => c,
        Err(e) => {
            byok_ceremony::tell!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = RehearseOptions {
        out_dir: args.out,
        name: args.name,
        kek,
        spec,
        sums: args.sums,
        module: args.module,
        clouds,
    };
    match rehearse(&opts) {
        Ok(outcome) => {
            byok_ceremony::say!(
                "Rehearsal complete on a throwaway {} token (provisioned 2-of-3, demo custodians).",
                outcome.token.name()
            );
            byok_ceremony::say!(
                "  token:     {} ({})",
                outcome.manifest.hsm.library,
                outcome.manifest.hsm.module
            );
            byok_ceremony::say!("  wrap:      {}", outcome.manifest.wrap.describe());
            for (cloud, path, _) in &outcome.outputs {
                byok_ceremony::say!("  {:<9}  {}", format!("{cloud}:"), path.display());
            }
            byok_ceremony::say!("  manifest:  {}", outcome.manifest_path.display());
            byok_ceremony::say!("  audit log: {}", outcome.log_path.display());
            byok_ceremony::say!("  record:    {}", outcome.record_path.display());
            for (cloud, path, hash) in &outcome.outputs {
                let file = path.file_name().unwrap_or_default().to_string_lossy();
                if *cloud == byok_ceremony::cloud::Cloud::Azure && file.ends_with(".byok") {
                    byok_ceremony::say!("  .byok SHA-256: {}", hex::encode(hash));
                    byok_ceremony::say!("  .byok SHA-256 words: {}", pgp_words_for(hash).join(" "));
                } else {
                    byok_ceremony::say!("  {file} SHA-256: {}", hex::encode(hash));
                    byok_ceremony::say!(
                        "  {file} SHA-256 words: {}",
                        pgp_words_for(hash).join(" ")
                    );
                }
            }
            for (cloud, fingerprint) in &outcome.kek_fingerprints {
                let whose = if outcome.kek_fingerprints.len() > 1 {
                    format!("{} ", cloud.title())
                } else {
                    String::new()
                };
                byok_ceremony::say!("  {whose}KEK fingerprint: {}", fingerprint.hex_groups());
                byok_ceremony::say!(
                    "  {whose}KEK fingerprint words: {}",
                    fingerprint.pgp_words().join(" ")
                );
            }
            byok_ceremony::say!("  audit log head: {}", outcome.log_head);
            for check in &outcome.software_checks {
                byok_ceremony::say!("  check: {check}");
            }
            for reason in &outcome.manifest.rehearsal_grade_reasons {
                byok_ceremony::say!("  REHEARSAL-GRADE: {reason}");
            }
            for w in &outcome.warnings {
                byok_ceremony::say!("  warning: {w}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            byok_ceremony::tell!("error: {e}");
            ExitCode::from(1)
        }
    }
}
