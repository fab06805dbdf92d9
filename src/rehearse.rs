//! `byok-ceremony rehearse --headless`: the whole ceremony on a throwaway software token.
//!
//! It creates a disposable token, generates the target inside it, wraps it for the KEK (a
//! simulated Key Vault KEK unless one is given), checks the result by unwrapping it in
//! software when a KEK private key is at hand, and writes `NAME.byok` and
//! `NAME.manifest.json` without ever overwriting. Later issues put quorum, the audit log and
//! media export on this same path.
use std::path::{Path, PathBuf};

use crate::byok::fingerprint::Fingerprint;
use crate::byok::format::ByokFile;
use crate::byok::kek::Kek;
use crate::byok::simulated_kek::SimulatedKek;
use crate::byok::verify::{VerifyInputs, verify_byok};
use crate::hsm::HsmError;
use crate::hsm::target::{self, GeneratedTarget, TargetRequest, TargetSpec};
use crate::hsm::throwaway::{SoftToken, ThrowawayToken};
use crate::hsm::wrap::{self, WrapPlan, WrapPolicy};
use crate::manifest::{HsmRecord, MANIFEST_VERSION, Manifest, ToolIdentity};
use crate::media::atomic::{WriteError, write_new};

/// Where the KEK comes from.
#[derive(Debug, Clone)]
pub enum KekSource {
    /// Make a simulated Key Vault KEK of this many bits and verify by unwrapping with it.
    Simulated { bits: usize },
    /// A real (or test) KEK public key, optionally its `az keyvault key show` JSON, a kid, and
    /// for test KEKs the private key so that the output can be unwrapped and checked.
    Given {
        public: PathBuf,
        json: Option<PathBuf>,
        kid: Option<String>,
        private: Option<PathBuf>,
    },
}

#[derive(Debug, Clone)]
pub struct RehearseOptions {
    pub out_dir: PathBuf,
    pub name: Option<String>,
    pub kek: KekSource,
    pub spec: TargetSpec,
    /// A specific software-token module; otherwise the best one installed.
    pub module: Option<PathBuf>,
}

/// What a rehearsal produced.
#[derive(Debug)]
pub struct RehearsalOutcome {
    pub byok_path: PathBuf,
    pub manifest_path: PathBuf,
    pub byok_sha256: [u8; 32],
    pub kek_fingerprint: Fingerprint,
    pub token: SoftToken,
    pub manifest: Manifest,
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RehearseError {
    #[error("{0}")]
    Hsm(#[from] HsmError),
    #[error("{0}")]
    Kek(String),
    #[error("{0}")]
    Output(#[from] WriteError),
    #[error(
        "no software token found: install SoftHSM2 (`apt-get install softhsm2`) or build kryoptic with scripts/build-kryoptic.sh"
    )]
    NoToken,
    #[error(
        "{0} is not a software token byok-ceremony can set up (SoftHSM2 or kryoptic); rehearsals run on throwaway tokens only"
    )]
    UnknownModule(PathBuf),
    #[error(
        "oct-HSM (AES) keys import into Managed HSM only, but the KEK's kid is on {0}; use a Managed HSM KEK"
    )]
    OctForKeyVault(String),
    #[error("the rehearsal output failed its software check:\n{0}")]
    CheckFailed(String),
    #[error(
        "the name \"{0}\" cannot be used for output files; use letters, digits, '-', '_' and '.' only"
    )]
    BadName(String),
    #[error("could not encode the {what}: {detail}")]
    Encode { what: &'static str, detail: String },
}

/// Runs the rehearsal. Must be called before other threads exist (it points the software
/// token at its configuration through the environment).
pub fn rehearse(opts: &RehearseOptions) -> Result<RehearsalOutcome, RehearseError> {
    let name = opts
        .name
        .clone()
        .unwrap_or_else(|| format!("rehearsal-{}", opts.spec.short_name()));
    check_name(&name)?;
    let byok_name = format!("{name}.byok");
    let manifest_name = format!("{name}.manifest.json");
    // Refuse early, before any HSM work, when an output is already there.
    for n in [&byok_name, &manifest_name] {
        let p = opts.out_dir.join(n);
        if p.exists() {
            return Err(WriteError::Exists(p).into());
        }
    }
    if !opts.out_dir.is_dir() {
        return Err(WriteError::NoDirectory(opts.out_dir.clone()).into());
    }

    let (kek, simulated) = load_kek(&opts.kek, opts.spec)?;
    let kid = kek.kid().map(|k| k.url().to_owned()).ok_or_else(|| {
        RehearseError::Kek(
            "the KEK has no kid: give --kid or the JSON of `az keyvault key show`".into(),
        )
    })?;
    if matches!(opts.spec, TargetSpec::Aes { .. }) && !kek.kid().is_some_and(|k| k.is_managed_hsm())
    {
        return Err(RehearseError::OctForKeyVault(
            kek.kid().map(|k| k.host().to_owned()).unwrap_or_default(),
        ));
    }
    let mut warnings: Vec<String> = kek.warnings().to_vec();

    let (token, plan) = choose_token(opts.module.as_deref(), &name)?;
    let session = token.login()?;
    let identity = token.hsm().token_identity(token.slot())?;
    let library = token.hsm().library_description()?;
    let generated = target::generate(
        &session,
        &TargetRequest {
            spec: opts.spec,
            label: format!("byok-{name}"),
            token_object: false,
        },
    )?;
    let ciphertext = wrap::wrap(&session, &plan, &kek, generated.key)?;
    let generator = format!(
        "byok-ceremony {}; {} {} firmware {}",
        env!("CARGO_PKG_VERSION"),
        identity.manufacturer,
        identity.model,
        identity.firmware
    );
    let byok = ByokFile {
        kid: kid.clone(),
        ciphertext,
        generator,
    };
    let byok_bytes = byok.to_json_bytes();

    let software_check = match (&simulated, private_key_for(&opts.kek)?) {
        (Some(sim), _) => Some(check_output(
            &byok_bytes,
            &kek,
            sim.private_key(),
            &generated,
        )?),
        (None, Some(private)) => Some(check_output(&byok_bytes, &kek, &private, &generated)?),
        (None, None) => {
            warnings.push(
                "no KEK private key: the output was not unwrapped in software (only Azure can check it)"
                    .into(),
            );
            None
        }
    };
    let reasons =
        rehearsal_grade_reasons(&plan, token.kind(), software_check.as_ref(), &mut warnings);
    target::destroy(&session, &generated)?;

    let manifest = Manifest {
        manifest_version: MANIFEST_VERSION,
        byok_file: byok_name.clone(),
        byok_sha256: hex::encode(sha2_256(&byok_bytes)),
        kid,
        kty: opts.spec.kty().into(),
        key_size: match opts.spec {
            TargetSpec::Rsa { bits } | TargetSpec::Aes { bits } => Some(bits),
            TargetSpec::Ec { .. } => None,
        },
        crv: match opts.spec {
            TargetSpec::Ec { curve } => Some(curve.azure_name().into()),
            _ => None,
        },
        public_key_pem: generated
            .public_spki_der
            .as_deref()
            .map(spki_pem)
            .transpose()?,
        oct_check_value: generated.check_value.as_deref().map(hex::encode),
        kek_fingerprint_sha256: kek.fingerprint().hex(),
        kek_bits: kek.bits(),
        tool: ToolIdentity::this(),
        hsm: HsmRecord {
            module: token.hsm().path().display().to_string(),
            library,
            token: identity,
        },
        key_attributes: generated.attributes.clone(),
        wrap: plan.method(),
        rehearsal: true,
        rehearsal_grade_reasons: reasons,
        software_check: software_check.map(|c| c.summary),
        ceremony_id: None,
        audit_log_head_sha256: None,
    };
    let manifest_json = manifest.to_json().map_err(|e| RehearseError::Encode {
        what: "manifest",
        detail: e.to_string(),
    })?;

    let byok_sha256 = write_new(&opts.out_dir, &byok_name, &byok_bytes)?;
    if let Err(e) = write_new(&opts.out_dir, &manifest_name, manifest_json.as_bytes()) {
        // A .byok without its manifest is not a finished rehearsal: take it back.
        let _ = std::fs::remove_file(opts.out_dir.join(&byok_name));
        return Err(e.into());
    }
    Ok(RehearsalOutcome {
        byok_path: opts.out_dir.join(byok_name),
        manifest_path: opts.out_dir.join(manifest_name),
        byok_sha256,
        kek_fingerprint: kek.fingerprint(),
        token: token.kind(),
        manifest,
        warnings,
    })
}

fn check_name(name: &str) -> Result<(), RehearseError> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(RehearseError::BadName(name.to_owned()))
    }
}

fn load_kek(
    source: &KekSource,
    spec: TargetSpec,
) -> Result<(Kek, Option<SimulatedKek>), RehearseError> {
    match source {
        KekSource::Simulated { bits } => {
            // oct keys import into Managed HSM only, so their simulated KEK lives there too.
            let managed_hsm = matches!(spec, TargetSpec::Aes { .. });
            let sim = SimulatedKek::generate(*bits, managed_hsm)
                .map_err(|e| RehearseError::Kek(e.to_string()))?;
            Ok((sim.kek().clone(), Some(sim)))
        }
        KekSource::Given {
            public, json, kid, ..
        } => {
            let kek = Kek::load(public, json.as_deref(), kid.as_deref())
                .map_err(|e| RehearseError::Kek(e.to_string()))?;
            Ok((kek, None))
        }
    }
}

fn private_key_for(source: &KekSource) -> Result<Option<rsa::PrivateKey>, RehearseError> {
    match source {
        KekSource::Given {
            private: Some(path),
            ..
        } => crate::byok::simulated_kek::load_private_key(path)
            .map(Some)
            .map_err(|e| RehearseError::Kek(e.to_string())),
        _ => Ok(None),
    }
}

/// Picks the token: the given module, or the best installed one, preferring a token whose
/// RFC 5649 known-answer test passes (byte-exact output) over one that zero-pads.
fn choose_token(
    module: Option<&Path>,
    name: &str,
) -> Result<(ThrowawayToken, WrapPlan), RehearseError> {
    let policy = WrapPolicy {
        allow_zero_padding: true,
    };
    let label = format!("rehearsal {}", &name[..name.len().min(20)]);
    if let Some(path) = module {
        let kind =
            SoftToken::detect(path).ok_or_else(|| RehearseError::UnknownModule(path.to_owned()))?;
        let token = ThrowawayToken::create(kind, path, &label, None)?;
        let plan = wrap::plan(&token.login()?, policy)?;
        return Ok((token, plan));
    }
    let mut fallback = None;
    for kind in [SoftToken::Kryoptic, SoftToken::SoftHsm2] {
        let Some(path) = kind.find_module() else {
            continue;
        };
        let token = ThrowawayToken::create(kind, &path, &label, None)?;
        let plan = match wrap::plan(&token.login()?, policy) {
            Ok(plan) => plan,
            Err(_) if fallback.is_some() => continue,
            Err(e) => return Err(e.into()),
        };
        if !plan.zero_pads() {
            return Ok((token, plan));
        }
        if fallback.is_none() {
            fallback = Some((token, plan));
        }
    }
    fallback.ok_or(RehearseError::NoToken)
}

/// What the software unwrap found.
#[derive(Debug)]
struct SoftwareCheck {
    summary: String,
    trailing_zero_bytes: usize,
}

/// Why this particular output is only fit for rehearsal. A zero-padding token pads only keys
/// whose length is not a multiple of 8, so the software check decides for this file.
fn rehearsal_grade_reasons(
    plan: &WrapPlan,
    token: SoftToken,
    check: Option<&SoftwareCheck>,
    warnings: &mut Vec<String>,
) -> Vec<String> {
    if !plan.zero_pads() {
        return Vec::new();
    }
    let token = token.name();
    match check {
        Some(c) if c.trailing_zero_bytes > 0 => vec![format!(
            "{token} zero-pads the key before RFC 5649 (known-answer test): this file's PKCS#8 is followed by {} zero bytes",
            c.trailing_zero_bytes
        )],
        Some(_) => {
            warnings.push(format!(
                "{token} zero-pads before RFC 5649, but this key's length is a multiple of 8: this file is exact"
            ));
            Vec::new()
        }
        None => vec![format!(
            "{token} zero-pads the key before RFC 5649 (known-answer test), and without the KEK private key this file could not be checked"
        )],
    }
}

/// Unwraps the output in software and compares the recovered key with what the HSM reported.
fn check_output(
    byok_bytes: &[u8],
    kek: &Kek,
    private: &rsa::PrivateKey,
    generated: &GeneratedTarget,
) -> Result<SoftwareCheck, RehearseError> {
    let report = verify_byok(
        byok_bytes,
        &VerifyInputs {
            kek,
            kid: None,
            kek_private: Some(private),
            expected_public_spki_der: generated.public_spki_der.as_deref(),
            allow_zero_padding: true,
        },
    );
    if !report.is_ok() {
        return Err(RehearseError::CheckFailed(report.problems.join("\n")));
    }
    let recovered = report
        .recovered
        .as_ref()
        .ok_or_else(|| RehearseError::CheckFailed("the verifier recovered no key".into()))?;
    if let (Some(hsm_kcv), Some(sw_kcv)) = (&generated.check_value, &recovered.oct_check_value) {
        if hsm_kcv.as_slice() != sw_kcv.as_slice() {
            return Err(RehearseError::CheckFailed(format!(
                "the unwrapped AES key's check value {} differs from the HSM's {}",
                hex::encode(sw_kcv),
                hex::encode(hsm_kcv)
            )));
        }
    }
    let what = match generated.spec {
        TargetSpec::Aes { .. } if generated.check_value.is_some() => {
            "check value matches the HSM's"
        }
        TargetSpec::Aes { .. } => "key unwrapped (the token reports no check value to compare)",
        _ => "public key matches the HSM's",
    };
    let padding = match recovered.trailing_zero_bytes {
        0 => String::new(),
        n => format!("; {n} trailing zero bytes after the PKCS#8"),
    };
    Ok(SoftwareCheck {
        summary: format!("unwrapped in software with the KEK private key: {what}{padding}"),
        trailing_zero_bytes: recovered.trailing_zero_bytes,
    })
}

fn sha2_256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

fn spki_pem(der: &[u8]) -> Result<String, RehearseError> {
    der::pem::encode_string("PUBLIC KEY", der::pem::LineEnding::LF, der).map_err(|e| {
        RehearseError::Encode {
            what: "public key PEM",
            detail: e.to_string(),
        }
    })
}
