//! `byok-ceremony rehearse --headless`: the whole ceremony on a throwaway software token, as a
//! thin layer over `run`.
//!
//! It picks a software token (one whose RFC 5649 known-answer test is byte-exact when there is
//! one), provisions it 2-of-3 with ceremony-scripts/provisioning-rehearsal.toml, makes a
//! simulated Key Vault KEK unless one is given, and runs ceremony-scripts/rehearsal.toml with
//! demo custodians through the same runner a real ceremony uses. `NAME.byok`,
//! `NAME.manifest.json`, `NAME.audit.jsonl` (and the token's provisioning record, so the log's
//! signatures can be checked) land in the output directory, never over an existing file.
//! With a KEK private key at hand, the output is unwrapped in software and compared with the
//! HSM's key.
#![forbid(unsafe_code)]

mod clouds;
pub mod room;

pub use clouds::CloudChoice;

use std::path::{Path, PathBuf};

use crate::byok::fingerprint::Fingerprint;
use crate::byok::kek::Kek;
use crate::byok::simulated_kek::SimulatedKek;
use crate::byok::verify::{VerifyInputs, verify_byok};
use crate::ceremony::answers::Answers;
use crate::ceremony::machine::Phase;
use crate::ceremony::runner;
use crate::cloud::{Algorithm, Cloud, Envelope};
use crate::hsm::HsmError;
use crate::hsm::target;
use crate::hsm::throwaway::{SoftToken, ThrowawayToken, installed_modules};
use crate::hsm::wrap::{self, WrapPath};
use crate::hsm_types::key::{TargetRequest, TargetSpec};
use crate::hsm_types::wrap::OaepHash;
use crate::manifest::Manifest;
use crate::media::atomic::{WriteError, sha256_file, write_new};
use crate::quorum::provision::{ProvisionOptions, provision};
use crate::quorum::script::{ProvisioningScript, TokenPlan};

const REHEARSAL_SCRIPT: &str = include_str!("../../ceremony-scripts/rehearsal.toml");
const REHEARSAL_PROVISIONING: &str =
    include_str!("../../ceremony-scripts/provisioning-rehearsal.toml");
/// The rehearsal token's label (provisioning and ceremony script agree on it).
const TOKEN_LABEL: &str = "byok-rehearsal";

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
    /// The release's SHA256SUMS file, for the preflight's check of the tool's own hash.
    pub sums: Option<PathBuf>,
    /// A specific software-token module; otherwise the best one installed.
    pub module: Option<PathBuf>,
    /// The clouds to wrap for (`--cloud`); empty: Azure alone, as ever.
    pub clouds: Vec<CloudChoice>,
}

impl RehearseOptions {
    /// True when the rehearsal is not Azure alone: its script lists `[[targets]]`.
    fn lists_targets(&self) -> bool {
        !(self.clouds.is_empty()
            || self.clouds.len() == 1 && self.clouds[0].cloud() == Cloud::Azure)
    }
}

/// What a rehearsal produced.
#[derive(Debug)]
pub struct RehearsalOutcome {
    /// Every file written for a cloud, with its SHA-256 (the manifest's `outputs`).
    pub outputs: Vec<(Cloud, PathBuf, [u8; 32])>,
    /// The `.byok`, when Azure is a target.
    pub byok_path: Option<PathBuf>,
    pub manifest_path: PathBuf,
    pub log_path: PathBuf,
    pub record_path: PathBuf,
    pub byok_sha256: Option<[u8; 32]>,
    pub log_head: String,
    /// Each cloud's wrapping key, in the script's order.
    pub kek_fingerprints: Vec<(Cloud, Fingerprint)>,
    pub token: SoftToken,
    pub manifest: Manifest,
    /// What the software unwraps proved, when the KEKs' private keys were at hand.
    pub software_checks: Vec<String>,
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
    #[error("{0}")]
    Run(#[from] runner::RunError),
    #[error("provisioning the rehearsal token failed: {0}")]
    Provision(String),
    #[error(
        "no software token found that can make this key and wrap it for every cloud asked ({0}): use another key type or algorithm, or build SoftHSM2 2.7.0 with scripts/build-softhsm.sh, install SoftHSM2 (`apt-get install softhsm2`), or build kryoptic with scripts/build-kryoptic.sh"
    )]
    NoToken(String),
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
    #[error("could not prepare the rehearsal: {0}")]
    Setup(String),
}

/// Runs the rehearsal. Must be called before other threads exist (it points the software
/// token at its configuration through the environment).
pub fn rehearse(opts: &RehearseOptions) -> Result<RehearsalOutcome, RehearseError> {
    let name = opts
        .name
        .clone()
        .unwrap_or_else(|| format!("rehearsal-{}", opts.spec.short_name()));
    check_name(&name)?;
    if !opts.out_dir.is_dir() {
        return Err(WriteError::NoDirectory(opts.out_dir.clone()).into());
    }
    let placed = plan_clouds(opts)?;
    let mut outputs: Vec<PathBuf> = ["manifest.json", "audit.jsonl", "provisioning-record.json"]
        .map(|ext| opts.out_dir.join(format!("{name}.{ext}")))
        .to_vec();
    for p in &placed.clouds {
        let cloud = p.cloud();
        outputs.push(opts.out_dir.join(cloud.output_file(&name)));
        outputs.extend(cloud.token_file(&name).map(|f| opts.out_dir.join(f)));
    }
    // Refuse early, before any HSM work, when an output is already there.
    if let Some(existing) = outputs
        .iter()
        .find(|p| crate::media::atomic::exists_here(p))
    {
        return Err(WriteError::Exists(existing.clone()).into());
    }
    let out_dir =
        std::path::absolute(&opts.out_dir).map_err(|e| RehearseError::Setup(e.to_string()))?;

    let opened = room::Room::open()
        .map_err(|e| RehearseError::Setup(format!("no temporary directory: {e}")))?;
    for stale in &opened.removed_stale {
        crate::tell!(
            "removed {}: the temporary directory of an interrupted rehearsal",
            stale.display()
        );
    }
    let room = opened.room;
    let path = |rel: &str| room.path().join(rel);
    for d in ["kek-usb", "provisioning", "state", "token"] {
        std::fs::create_dir(path(d)).map_err(|e| RehearseError::Setup(e.to_string()))?;
    }
    let placed = placed.place(opts, &path("kek-usb"))?;

    let needs: Vec<Algorithm> = placed.iter().map(|p| p.choice.algorithm).collect();
    let (kind, module) = choose_token(opts.module.as_deref(), opts.spec, &needs)?;
    kind.use_new_store(&path("token"))?;
    provision_token(&module, &path("provisioning"))?;

    let script = if opts.lists_targets() {
        targets_script(&module, opts.spec, &name, &placed)?
    } else {
        let kid = placed[0].kek.kid().ok_or_else(|| {
            RehearseError::Kek(
                "the KEK has no kid: give --kid or the JSON of `az keyvault key show`".into(),
            )
        })?;
        if matches!(opts.spec, TargetSpec::Aes { .. }) && !kid.is_managed_hsm() {
            return Err(RehearseError::OctForKeyVault(kid.host().to_owned()));
        }
        rehearsal_script(&module, opts.spec, kid.url(), &name, opts.kek_has_json())?
    };
    std::fs::write(path("ceremony.toml"), script)
        .map_err(|e| RehearseError::Setup(e.to_string()))?;
    let answers = Answers {
        present: ["oscar", "wendy", "alice", "bob", "carol"]
            .map(String::from)
            .to_vec(),
        kek_media: path("kek-usb"),
        // The rehearsal plays the online side too: it reads out the fingerprints it made.
        kek_fingerprint_read_aloud: placed[0].kek.fingerprint().hex(),
        kek_fingerprints_by_cloud: placed
            .iter()
            .map(|p| (p.choice.cloud(), p.kek.fingerprint().hex()))
            .collect(),
        media: out_dir.clone(),
        second_media: None,
        sign_off: ["oscar", "wendy", "alice", "bob", "carol"]
            .map(String::from)
            .to_vec(),
        on_unfinished: None,
        sums: opts.sums.clone(),
        shares: ["alice", "bob"]
            .map(|c| (c.to_owned(), path(&format!("provisioning/{c}.share.txt"))))
            .to_vec(),
        deviations: Vec::new(),
    };
    let outcome = runner::run(&path("ceremony.toml"), answers, &path("state"), None)?;
    if outcome.state.phase != Phase::Closed {
        return Err(RehearseError::CheckFailed(format!(
            "the ceremony ended in phase \"{}\"",
            outcome.state.phase.title()
        )));
    }
    // The auditor needs the record to check the log's signatures.
    let record = std::fs::read(path("provisioning/provisioning-record.json"))
        .map_err(|e| RehearseError::Setup(e.to_string()))?;
    write_new(
        &out_dir,
        &format!("{name}.provisioning-record.json"),
        &record,
    )?;

    let manifest_path = out_dir.join(format!("{name}.manifest.json"));
    let manifest_bytes =
        std::fs::read(&manifest_path).map_err(|e| RehearseError::Setup(e.to_string()))?;
    let manifest =
        Manifest::parse(&manifest_bytes).map_err(|e| RehearseError::CheckFailed(e.to_string()))?;
    let software_checks = clouds::check_outputs(&out_dir, &placed, &manifest)?;
    let mut warnings: Vec<String> = placed
        .iter()
        .flat_map(|p| p.kek.warnings().iter().cloned())
        .collect();
    for p in placed.iter().filter(|p| p.private.is_none()) {
        warnings.push(format!(
            "no private key for the {} wrapping key: its output was not unwrapped in software (only {} can check it)",
            p.choice.cloud().title(),
            p.choice.cloud().title()
        ));
    }
    let mut files = Vec::new();
    for o in &manifest.outputs {
        let path = out_dir.join(&o.file);
        let hash = sha256_file(&path).map_err(|e| RehearseError::Setup(e.to_string()))?;
        files.push((o.cloud, path, hash));
        if let Some(token) = &o.import_token_file {
            let path = out_dir.join(token);
            let hash = sha256_file(&path).map_err(|e| RehearseError::Setup(e.to_string()))?;
            files.push((o.cloud, path, hash));
        }
    }
    let byok = files
        .iter()
        .find(|(c, p, _)| *c == Cloud::Azure && p.extension().is_some_and(|e| e == "byok"));
    Ok(RehearsalOutcome {
        byok_path: byok.map(|(_, p, _)| p.clone()),
        byok_sha256: byok.map(|(_, _, h)| *h),
        outputs: files,
        manifest_path,
        log_path: out_dir.join(format!("{name}.audit.jsonl")),
        record_path: out_dir.join(format!("{name}.provisioning-record.json")),
        log_head: outcome.head,
        kek_fingerprints: placed
            .iter()
            .map(|p| (p.choice.cloud(), p.kek.fingerprint()))
            .collect(),
        token: kind,
        manifest,
        software_checks,
        warnings,
    })
}

impl RehearseOptions {
    fn kek_has_json(&self) -> bool {
        matches!(&self.kek, KekSource::Given { json: Some(_), .. })
    }
}

fn check_name(name: &str) -> Result<(), RehearseError> {
    let ok = !name.is_empty()
        && name.len() <= 64
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

/// The clouds of a rehearsal, before their keys are placed (the output names are known first,
/// so that an existing output is refused before anything is made).
struct Planned {
    clouds: Vec<CloudChoice>,
}

fn plan_clouds(opts: &RehearseOptions) -> Result<Planned, RehearseError> {
    let clouds = if opts.clouds.is_empty() {
        vec![CloudChoice::new(Algorithm::default_for(Cloud::Azure))]
    } else {
        opts.clouds.clone()
    };
    if clouds.len() > 1 && matches!(opts.kek, KekSource::Given { .. }) {
        return Err(RehearseError::Kek(
            "--kek gives one wrapping key, for one cloud: rehearse several clouds with simulated keys (no --kek)".into(),
        ));
    }
    for (i, c) in clouds.iter().enumerate() {
        if clouds[..i].iter().any(|d| d.cloud() == c.cloud()) {
            return Err(RehearseError::Kek(format!(
                "--cloud {} is given twice: a ceremony wraps once per cloud",
                c.cloud()
            )));
        }
        crate::cloud::check_key(c.algorithm, opts.spec)
            .map_err(|e| RehearseError::Kek(e.to_string()))?;
    }
    Ok(Planned { clouds })
}

impl Planned {
    /// Puts each cloud's wrapping key on the rehearsal's "KEK medium", with its private key
    /// when one is known (simulated, or given for a test KEK).
    fn place(
        &self,
        opts: &RehearseOptions,
        medium: &Path,
    ) -> Result<Vec<clouds::PlacedKek>, RehearseError> {
        let lists = opts.lists_targets();
        let mut placed = Vec::new();
        for choice in &self.clouds {
            let p = match &opts.kek {
                KekSource::Simulated { .. } | KekSource::Given { .. } if !lists => {
                    let (kek, private) = place_kek(&opts.kek, opts.spec, medium)?;
                    clouds::PlacedKek {
                        choice: choice.clone(),
                        kek,
                        private,
                        entry: toml::Table::new(),
                    }
                }
                KekSource::Simulated { bits } => {
                    clouds::simulated(choice, opts.spec, *bits, medium)?
                }
                KekSource::Given {
                    public,
                    json,
                    kid,
                    private,
                } => {
                    if choice.cloud() != Cloud::Azure && (json.is_some() || kid.is_some()) {
                        return Err(RehearseError::Kek(
                            "--kek-json and --kid name an Azure KEK; a Google Cloud or AWS wrapping key needs neither".into(),
                        ));
                    }
                    clouds::given(choice, public, load_private(private.as_deref())?, medium)?
                }
            };
            crate::cloud::check_kek_bits(choice.algorithm, None, p.kek.bits())
                .map_err(|e| RehearseError::Kek(format!("{}: {e}", choice.cloud().title())))?;
            placed.push(p);
        }
        Ok(placed)
    }
}

/// Puts the Azure KEK on the rehearsal's "KEK medium" and returns it, with its private key when
/// one is known (simulated, or given for a test KEK).
fn place_kek(
    source: &KekSource,
    spec: TargetSpec,
    medium: &Path,
) -> Result<(Kek, Option<rsa::PrivateKey>), RehearseError> {
    let kek_err = |e: &dyn std::fmt::Display| RehearseError::Kek(e.to_string());
    match source {
        KekSource::Simulated { bits } => {
            // oct keys import into Managed HSM only, so their simulated KEK lives there too.
            let managed_hsm = matches!(spec, TargetSpec::Aes { .. });
            let sim = SimulatedKek::generate(*bits, managed_hsm).map_err(|e| kek_err(&e))?;
            std::fs::write(medium.join("kek.pem"), sim.public_pem()).map_err(|e| kek_err(&e))?;
            Ok((sim.kek().clone(), Some(sim.private_key().clone())))
        }
        KekSource::Given {
            public,
            json,
            kid,
            private,
        } => {
            let kek =
                Kek::load(public, json.as_deref(), kid.as_deref()).map_err(|e| kek_err(&e))?;
            std::fs::copy(public, medium.join("kek.pem")).map_err(|e| kek_err(&e))?;
            if let Some(j) = json {
                std::fs::copy(j, medium.join("kek.json")).map_err(|e| kek_err(&e))?;
            }
            Ok((kek, load_private(private.as_deref())?))
        }
    }
}

/// A test KEK's private key (`--kek-private`), when one is given.
fn load_private(path: Option<&Path>) -> Result<Option<rsa::PrivateKey>, RehearseError> {
    path.map(crate::byok::simulated_kek::load_private_key)
        .transpose()
        .map_err(|e| RehearseError::Kek(e.to_string()))
}

/// Provisions the fresh token 2-of-3 with the shipped rehearsal provisioning script.
fn provision_token(module: &Path, out: &Path) -> Result<(), RehearseError> {
    let mut script = ProvisioningScript::parse(REHEARSAL_PROVISIONING)
        .map_err(|e| RehearseError::Provision(e.to_string()))?;
    script.module = module.to_owned();
    script.token = TokenPlan::Initialise {
        label: TOKEN_LABEL.into(),
        slot_id: None,
    };
    provision(
        &script,
        &ProvisionOptions {
            out_dir: out.to_owned(),
            current_pins: None,
        },
    )
    .map(|_| ())
    .map_err(|e| RehearseError::Provision(e.to_string()))
}

/// The shipped rehearsal script with this rehearsal's module, target, KEK and name.
fn rehearsal_script(
    module: &Path,
    spec: TargetSpec,
    kid: &str,
    name: &str,
    with_json: bool,
) -> Result<String, RehearseError> {
    let setup = |e: &dyn std::fmt::Display| RehearseError::Setup(format!("rehearsal script: {e}"));
    let mut doc: toml::Table = toml::from_str(REHEARSAL_SCRIPT).map_err(|e| setup(&e))?;
    let table = |doc: &mut toml::Table, key: &str| -> Result<toml::Table, RehearseError> {
        doc.get(key)
            .and_then(toml::Value::as_table)
            .cloned()
            .ok_or_else(|| setup(&format!("no [{key}] table")))
    };
    doc.insert("ceremony_id".into(), name.into());
    let mut hsm = table(&mut doc, "hsm")?;
    hsm.insert("module".into(), module.display().to_string().into());
    hsm.insert("label".into(), TOKEN_LABEL.into());
    doc.insert("hsm".into(), hsm.into());
    let mut target = table(&mut doc, "target")?;
    target.insert("kty".into(), spec.kty().into());
    target.remove("size");
    target.remove("curve");
    match spec {
        TargetSpec::Rsa { bits } | TargetSpec::Aes { bits } => {
            target.insert("size".into(), i64::from(bits).into());
        }
        TargetSpec::Ec { curve } => {
            target.insert("curve".into(), curve.azure_name().into());
        }
    }
    doc.insert("target".into(), target.into());
    let mut kek = table(&mut doc, "kek")?;
    kek.insert("expected_kid".into(), kid.into());
    if with_json {
        kek.insert("json".into(), "kek.json".into());
    }
    doc.insert("kek".into(), kek.into());
    let mut outputs = table(&mut doc, "outputs")?;
    outputs.insert("name".into(), name.into());
    doc.insert("outputs".into(), outputs.into());
    toml::to_string(&doc).map_err(|e| setup(&e))
}

/// The shipped rehearsal script with this rehearsal's module, target and name, and the
/// `[[targets]]` of its clouds in place of its Azure `[kek]`.
fn targets_script(
    module: &Path,
    spec: TargetSpec,
    name: &str,
    placed: &[clouds::PlacedKek],
) -> Result<String, RehearseError> {
    const KID: &str = "https://rehearsal-vault.vault.azure.net/keys/rehearsal-kek/00000000000000000000000000000000";
    let text = rehearsal_script(module, spec, KID, name, false)?;
    let setup = |e: &dyn std::fmt::Display| RehearseError::Setup(format!("rehearsal script: {e}"));
    let mut doc: toml::Table = toml::from_str(&text).map_err(|e| setup(&e))?;
    doc.remove("kek");
    let entries: Vec<toml::Value> = placed.iter().map(|p| p.entry.clone().into()).collect();
    doc.insert("targets".into(), entries.into());
    toml::to_string(&doc).map_err(|e| setup(&e))
}

/// Picks the token: the given module, or the best installed one that can make the key. Each
/// candidate is probed on a throwaway token of its own and ranked by its wrap's known-answer
/// test: a native CKM_RSA_AES_KEY_WRAP that passes, then a byte-exact two-step wrap, and only
/// then a zero-padding one (rehearsal-grade). The first native pass ends the search.
fn choose_token(
    module: Option<&Path>,
    spec: TargetSpec,
    needs: &[Algorithm],
) -> Result<(SoftToken, PathBuf), RehearseError> {
    if let Some(path) = module {
        let kind =
            SoftToken::detect(path).ok_or_else(|| RehearseError::UnknownModule(path.to_owned()))?;
        return Ok((kind, path.to_owned()));
    }
    let mut best: Option<(WrapRank, SoftToken, PathBuf)> = None;
    let mut why_not = Vec::new();
    for (kind, path) in installed_modules() {
        let rank = match probe(kind, &path, spec, needs) {
            Ok(Ok(rank)) => rank,
            Ok(Err(alg)) => {
                why_not.push(format!(
                    "{} ({}): no wrap path passed its known-answer test for {} (OAEP {})",
                    kind.name(),
                    path.display(),
                    alg.name,
                    alg.oaep
                ));
                continue;
            }
            Err(e) => {
                why_not.push(format!(
                    "{} ({}): cannot make a {spec} key: {e}",
                    kind.name(),
                    path.display()
                ));
                continue;
            }
        };
        if rank == WrapRank::Native {
            return Ok((kind, path));
        }
        if best.as_ref().is_none_or(|(b, ..)| rank < *b) {
            best = Some((rank, kind, path));
        }
    }
    best.map(|(_, kind, path)| (kind, path))
        .ok_or(RehearseError::NoToken(if why_not.is_empty() {
            "none is installed".into()
        } else {
            why_not.join("; ")
        }))
}

/// How good a token's wrap is for a rehearsal, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum WrapRank {
    Native,
    TwoStepExact,
    ZeroPadding,
}

/// The token's rank; the first algorithm for which no wrap path passes its known-answer test (SoftHSM2 2.7.0 for SHA-256: its native mechanism
/// wraps with SHA-1 whatever is asked, and its RSA-OAEP takes SHA-1 only). The rank is the
/// worst of the algorithms'.
fn probe(
    kind: SoftToken,
    module: &Path,
    spec: TargetSpec,
    needs: &[Algorithm],
) -> Result<Result<WrapRank, Algorithm>, HsmError> {
    let token = ThrowawayToken::create(kind, module, "byok probe", None)?;
    let session = token.login()?;
    let mut worst = WrapRank::Native;
    let mut surveyed: Vec<(OaepHash, Envelope, Option<WrapRank>)> = Vec::new();
    for alg in needs {
        let known = surveyed
            .iter()
            .find(|(h, e, _)| *h == alg.oaep && *e == alg.envelope)
            .map(|(.., r)| *r);
        let rank = match known {
            Some(r) => r,
            None => {
                let survey = wrap::survey_for(&session, alg.oaep, alg.envelope)?;
                let r = match (&survey.exact, &survey.zero_padding) {
                    (Some(plan), _)
                        if plan.path != WrapPath::Native
                            && !matches!(plan.path, WrapPath::PlainOaep) =>
                    {
                        Some(WrapRank::TwoStepExact)
                    }
                    (Some(_), _) => Some(WrapRank::Native),
                    (None, Some(_)) => Some(WrapRank::ZeroPadding),
                    (None, None) => None,
                };
                surveyed.push((alg.oaep, alg.envelope, r));
                r
            }
        };
        match rank {
            Some(r) => worst = worst.max(r),
            None => return Ok(Err(*alg)),
        }
    }
    let made = target::generate(
        &session,
        &TargetRequest {
            spec,
            label: "byok probe target".into(),
            token_object: false,
            wrap_with_trusted: false,
        },
    )?;
    target::destroy(&session, &made)?;
    Ok(Ok(worst))
}

/// Unwraps the output in software and compares the recovered key with the manifest's (the
/// HSM's) public key or check value.
fn check_output(
    byok: &Path,
    kek: &Kek,
    private: &rsa::PrivateKey,
    manifest: &Manifest,
) -> Result<String, RehearseError> {
    let bytes = std::fs::read(byok).map_err(|e| RehearseError::CheckFailed(e.to_string()))?;
    let expected = match &manifest.public_key_pem {
        Some(pem) => Some(
            der::pem::decode_vec(pem.as_bytes())
                .map_err(|e| RehearseError::CheckFailed(e.to_string()))?
                .1,
        ),
        None => None,
    };
    let report = verify_byok(
        &bytes,
        &VerifyInputs {
            kek,
            kid: None,
            kek_private: Some(private),
            expected_public_spki_der: expected.as_deref(),
            allow_zero_padding: true,
        },
    );
    if !report.is_ok() {
        return Err(RehearseError::CheckFailed(report.problems.join("\n")));
    }
    let recovered = report
        .recovered
        .ok_or_else(|| RehearseError::CheckFailed("the verifier recovered no key".into()))?;
    let what = match (&manifest.oct_check_value, recovered.oct_check_value) {
        (Some(hsm), Some(sw)) if *hsm == hex::encode(sw) => "check value matches the HSM's",
        (Some(hsm), Some(sw)) => {
            return Err(RehearseError::CheckFailed(format!(
                "the unwrapped AES key's check value {} differs from the HSM's {hsm}",
                hex::encode(sw)
            )));
        }
        (None, Some(_)) => "key unwrapped (the token reports no check value to compare)",
        _ => "public key matches the HSM's",
    };
    let padding = match recovered.trailing_zero_bytes {
        0 => String::new(),
        n => format!("; {n} trailing zero bytes after the PKCS#8 (rehearsal-grade)"),
    };
    Ok(format!(
        "unwrapped in software with the KEK private key: {what}{padding}"
    ))
}
