//! The runner: feeds people's inputs and the adapters' results to the machine as events,
//! appends every event to the audit log (fsynced) before running the effects it triggers,
//! and executes those effects through the adapters (HSM, quorum, KEK medium, output media).
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::answers::{Answers, Recovery};
use super::facts::Facts;
use super::host;
use super::machine::{self, Check, Effect, Event, FileRecord, Phase, QuorumMode, Role, State};
use super::script::CeremonyScript;
use crate::audit::checkpoint;
use crate::audit::log::{AuditLog, Entry, LogError};
use crate::byok::format::ByokFile;
use crate::byok::kek::Kek;
use crate::hsm::module::{Hsm, HsmSession};
use crate::hsm::signer::HsmAuditSigner;
use crate::hsm::target::{self, TargetRequest};
use crate::hsm::wrap::{self, WrapPolicy};
use crate::media::atomic::{WriteError, sha256_file, write_new_or_identical};
use crate::quorum::login::{LoginPolicy, QuorumLogin, login_protected};
use crate::quorum::record::ProvisioningRecord;
use crate::quorum::share::PinGroup;
use crate::quorum::share_file;

/// Fault injection for crash tests: when this variable names an event kind, the runner stops
/// dead (as if the power failed) right after that event is safely in the log. Tests kill the
/// process there with a real SIGKILL.
pub const STALL_AFTER_ENV: &str = "BYOK_TEST_STALL_AFTER";

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Script(#[from] super::script::ScriptError),
    #[error("{0}")]
    Answers(#[from] super::answers::AnswersError),
    #[error("{0}")]
    Log(#[from] LogError),
    #[error("{0}")]
    Refused(#[from] machine::Refusal),
    #[error("{phase}: {reason}", phase = .phase.title())]
    Step { phase: Phase, reason: String },
    #[error(
        "an unfinished run of ceremony \"{0}\" exists (its log is in the state directory); choose --recover resume or --recover abort"
    )]
    Unfinished(String),
    #[error(
        "ceremony \"{0}\" already ran to its end; one ceremony id makes one key: give the new ceremony a new ceremony_id"
    )]
    AlreadyFinished(String),
    #[error(
        "the existing audit log does not verify: {0}; do not resume: hand the log to the auditor"
    )]
    LogDoesNotVerify(String),
    #[error("{0}")]
    Output(#[from] WriteError),
}

/// How the run ended.
#[derive(Debug)]
pub struct RunOutcome {
    pub state: State,
    pub log_path: PathBuf,
    pub head: String,
    pub files: Vec<PathBuf>,
}

pub struct Runner {
    script: CeremonyScript,
    answers: Answers,
    log: AuditLog,
    state: State,
    facts: Facts,
    record: Option<&'static ProvisioningRecord>,
    quorum: Option<QuorumLogin<'static>>,
    hsm: Option<&'static Hsm>,
    session: Option<HsmSession<'static>>,
    kek: Option<Kek>,
    stall_after: Option<String>,
    written: Vec<PathBuf>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("ceremony", &self.script.ceremony_id)
            .field("phase", &self.state.phase)
            .finish_non_exhaustive()
    }
}

/// Runs (or recovers and finishes) the ceremony `script` with `answers`, keeping its log in
/// `state_dir`.
pub fn run(
    script_path: &Path,
    answers: Answers,
    state_dir: &Path,
    recover: Option<Recovery>,
) -> Result<RunOutcome, RunError> {
    let script = CeremonyScript::load(script_path)?;
    std::fs::create_dir_all(state_dir).map_err(|source| LogError::Write {
        path: state_dir.to_owned(),
        source,
    })?;
    let log_path = state_dir.join(format!("{}.audit.jsonl", script.ceremony_id));
    let recover = recover.or(answers.on_unfinished);
    let mut runner = if log_path.exists() {
        Runner::reopen(script, answers, &log_path, recover)?
    } else {
        Runner::start(script, answers, &log_path)?
    };
    runner.drive()?;
    Ok(RunOutcome {
        head: runner.log.head().to_owned(),
        log_path: runner.log.path().to_owned(),
        state: runner.state,
        files: runner.written,
    })
}

impl Runner {
    fn new(script: CeremonyScript, answers: Answers, log: AuditLog) -> Runner {
        Runner {
            script,
            answers,
            log,
            state: State::new(),
            facts: Facts::default(),
            record: None,
            quorum: None,
            hsm: None,
            session: None,
            kek: None,
            stall_after: std::env::var(STALL_AFTER_ENV).ok(),
            written: Vec::new(),
        }
    }

    fn start(
        script: CeremonyScript,
        answers: Answers,
        log_path: &Path,
    ) -> Result<Runner, RunError> {
        let log = AuditLog::create(log_path)?;
        let mut runner = Runner::new(script, answers, log);
        runner.open_hsm()?;
        let hsm = runner.hsm_ref()?;
        let session = runner.session()?;
        let genesis = Event::CeremonyOpened {
            config: runner.script.machine_config(),
            script_sha256: runner.script.sha256.clone(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            binary_sha256: host::binary_sha256(),
            host: host::host_name(),
            os: host::os_description(),
            hsm: hsm
                .token_identity(session.slot())
                .map_err(step(Phase::Opened))?,
            hsm_module: hsm.path().display().to_string(),
            hsm_library: hsm.library_description().map_err(step(Phase::Opened))?,
            rehearsal: runner.script.rehearsal,
        };
        runner.commit(genesis, false)?;
        Ok(runner)
    }

    fn reopen(
        script: CeremonyScript,
        answers: Answers,
        log_path: &Path,
        recover: Option<Recovery>,
    ) -> Result<Runner, RunError> {
        let (log, entries) = AuditLog::reopen(log_path)?;
        let mut runner = Runner::new(script, answers, log);
        // Replay the log through the machine: the same code an auditor runs.
        runner.replay(&entries)?;
        if runner.state.is_final() {
            return Err(RunError::AlreadyFinished(runner.script.ceremony_id.clone()));
        }
        match recover {
            None => Err(RunError::Unfinished(runner.script.ceremony_id.clone())),
            Some(Recovery::Abort) => {
                let by = runner.script.administrator.clone();
                runner.commit(
                    Event::Aborted {
                        by,
                        reason: "aborted after an interrupted run".into(),
                        after_crash: true,
                    },
                    true,
                )?;
                if runner.state.key_pending_destroy() {
                    // The key this run made must go: the quorum logs in once more for that.
                    runner.open_hsm()?;
                    runner.present_quorum()?;
                }
                Ok(runner)
            }
            Some(Recovery::Resume) => {
                runner.open_hsm()?;
                let by = runner.script.administrator.clone();
                runner.commit(Event::Resumed { by }, true)?;
                Ok(runner)
            }
        }
    }

    fn replay(&mut self, entries: &[Entry]) -> Result<(), RunError> {
        let mut prev = crate::audit::log::GENESIS_PREV.to_owned();
        for e in entries {
            if e.prev != prev || e.compute_hash()? != e.hash {
                return Err(RunError::LogDoesNotVerify(format!(
                    "entry {} breaks the hash chain",
                    e.seq
                )));
            }
            prev = e.hash.clone();
            let (next, _effects) = machine::step(&self.state, &e.event)
                .map_err(|r| RunError::LogDoesNotVerify(format!("entry {}: {r}", e.seq)))?;
            self.state = next;
            self.facts.observe(&e.event, &e.hash);
        }
        if let Some(Event::CeremonyOpened { script_sha256, .. }) = entries.first().map(|e| &e.event)
        {
            if *script_sha256 != self.script.sha256 {
                return Err(RunError::LogDoesNotVerify(
                    "the script changed since the ceremony started (its hash differs)".into(),
                ));
            }
        }
        Ok(())
    }

    /// Applies an event: machine first (it may refuse), then the log, then its effects.
    fn commit(&mut self, event: Event, scripted: bool) -> Result<(), RunError> {
        let (next, effects) = machine::step(&self.state, &event)?;
        let role = self.role_of(&event);
        let entry = self.log.append(&event, role, scripted)?;
        self.state = next;
        self.facts.observe(&event, &entry.hash);
        if self.stall_after.as_deref() == Some(event.kind()) {
            eprintln!("STALLED after {}", event.kind());
            loop {
                std::thread::park();
            }
        }
        for effect in effects {
            if let Some(result) = self.execute(&effect)? {
                self.commit(result, false)?;
            }
        }
        Ok(())
    }

    fn role_of(&self, event: &Event) -> Option<Role> {
        let Some(actor) = event.actor() else {
            return Some(Role::System);
        };
        let s = &self.script;
        if actor == s.administrator {
            Some(Role::Administrator)
        } else if actor == s.witness {
            Some(Role::Witness)
        } else if s.auditor.as_deref() == Some(actor) {
            Some(Role::Auditor)
        } else if s.custodians.iter().any(|c| c == actor) {
            Some(Role::Custodian)
        } else {
            None
        }
    }

    /// The people's side, headless: take the answers for whatever the machine waits for.
    fn drive(&mut self) -> Result<(), RunError> {
        let mut guard = 0;
        while !self.state.is_final() {
            guard += 1;
            if guard > 64 {
                return Err(RunError::Step {
                    phase: self.state.phase,
                    reason: "the answers file does not move the ceremony forward; check it against the script".into(),
                });
            }
            self.record_deviations()?;
            let admin = self.script.administrator.clone();
            match self.state.phase {
                Phase::Opened | Phase::Preflight => {
                    return Err(RunError::Step {
                        phase: self.state.phase,
                        reason: format!("failed: {}", self.state.failures.join("; ")),
                    });
                }
                Phase::Attendance => {
                    for name in self.answers.present.clone() {
                        if !self.state.present.contains(&name) {
                            self.commit(Event::CheckedIn { name }, true)?;
                        }
                    }
                    self.commit(Event::AttendanceClosed { by: admin }, true)?;
                }
                Phase::Quorum => self.present_quorum()?,
                Phase::KekLoad => {
                    // LoadKek ran as an effect; being here means it failed.
                    return Err(RunError::Step {
                        phase: Phase::KekLoad,
                        reason: self.state.failures.last().cloned().unwrap_or_default(),
                    });
                }
                Phase::KekConfirm => self.confirm_kek()?,
                Phase::SignOff => {
                    for name in self.answers.sign_off.clone() {
                        if !self.state.signed_off_by.contains(&name) {
                            self.commit(Event::SignedOff { name }, true)?;
                        }
                    }
                    self.commit(Event::Closed { by: admin }, true)?;
                }
                Phase::KeyGeneration | Phase::Wrap | Phase::Export | Phase::Verification => {
                    return Err(RunError::Step {
                        phase: self.state.phase,
                        reason: self.state.failures.last().cloned().unwrap_or_else(|| {
                            "the step did not complete; restart to resume or abort".into()
                        }),
                    });
                }
                Phase::Closed | Phase::Aborted => {}
            }
        }
        Ok(())
    }

    /// Deviations from the answers file are recorded by the administrator when their phase
    /// comes, and acknowledged by the witness at once.
    fn record_deviations(&mut self) -> Result<(), RunError> {
        let phase = phase_name(self.state.phase);
        let due: Vec<String> = self
            .answers
            .deviations
            .iter()
            .filter(|(p, _)| p == phase)
            .map(|(_, t)| t.clone())
            .collect();
        for text in due {
            if self.state.deviations.iter().any(|d| d.text == text) {
                continue;
            }
            let by = self.script.administrator.clone();
            self.commit(Event::DeviationRecorded { by, text }, true)?;
            let n = self.state.deviations.len() - 1;
            let by = self.script.witness.clone();
            self.commit(Event::DeviationAcknowledged { by, deviation: n }, true)?;
        }
        Ok(())
    }

    fn present_quorum(&mut self) -> Result<(), RunError> {
        match self.script.quorum {
            QuorumMode::HsmNative { threshold, .. } => {
                let custodians = self.state.custodians_present();
                for custodian in custodians.into_iter().take(usize::from(threshold)) {
                    self.commit(Event::HsmAuthenticationPresented { custodian }, true)?;
                }
            }
            QuorumMode::SplitPin { .. } => {
                self.ensure_quorum()?;
                for (custodian, file) in self.answers.shares.clone() {
                    if self.state.logged_in {
                        break;
                    }
                    let event = self.offer_share(&custodian, &file);
                    self.commit(event, true)?;
                }
                if !self.state.logged_in {
                    return Err(RunError::Step {
                        phase: Phase::Quorum,
                        reason: format!(
                            "the quorum was not met: {} valid share(s) of {} needed",
                            self.state.shares_from.len(),
                            self.script.custodians.len().min(usize::from(
                                match self.script.quorum {
                                    QuorumMode::SplitPin { threshold } => threshold,
                                    QuorumMode::HsmNative { threshold, .. } => threshold,
                                }
                            ))
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Checks one share at once; the share text lives only in zeroizing memory.
    fn offer_share(&mut self, custodian: &str, file: &Path) -> Event {
        let reject = |reason: String| Event::ShareRejected {
            custodian: custodian.to_owned(),
            reason,
        };
        if !self.state.present.contains(custodian) {
            return reject("that custodian did not check in".into());
        }
        let text = match read_share(file) {
            Ok(t) => t,
            Err(e) => return reject(e),
        };
        let Some(quorum) = self.quorum.as_mut() else {
            return reject("no provisioning record is loaded".into());
        };
        match quorum.offer(&text) {
            Ok(accepted) if accepted.custodian == custodian => Event::SharePresented {
                custodian: custodian.to_owned(),
                share_index: accepted.share_index,
                commitment_verified: true,
            },
            Ok(accepted) => {
                // Keep nothing from a share presented by the wrong person.
                self.quorum = self
                    .record
                    .and_then(|r| QuorumLogin::new(r, PinGroup::UserPin).ok());
                reject(format!(
                    "the share belongs to {}, not {custodian}: each custodian presents their own",
                    accepted.custodian
                ))
            }
            Err(e) => reject(e.to_string()),
        }
    }

    fn confirm_kek(&mut self) -> Result<(), RunError> {
        let read_aloud: String = self
            .answers
            .kek_fingerprint_read_aloud
            .chars()
            .filter(|c| c.is_ascii_hexdigit())
            .collect::<String>()
            .to_lowercase();
        let actual = self.state.kek_fingerprint.clone().unwrap_or_default();
        for custodian in self.state.custodians_present() {
            if self.state.phase != Phase::KekConfirm {
                break;
            }
            let event = if read_aloud == actual {
                Event::KekConfirmed { custodian }
            } else {
                Event::KekRejected {
                    custodian,
                    reason: "the fingerprint read aloud from the online side differs from the KEK loaded here".into(),
                }
            };
            self.commit(event, true)?;
        }
        if self.state.phase == Phase::KekLoad {
            return Err(RunError::Step {
                phase: Phase::KekConfirm,
                reason: "the custodians rejected the KEK: its fingerprint is not the one read aloud from the online side; check the KEK file and the online side".into(),
            });
        }
        Ok(())
    }

    // ----- effects -----

    fn execute(&mut self, effect: &Effect) -> Result<Option<Event>, RunError> {
        let phase = self.state.phase;
        let result = match effect {
            Effect::RunPreflight => Ok(Some(self.preflight())),
            Effect::LogIn => self.log_in(),
            Effect::LoadKek => self.load_kek(),
            Effect::GenerateKey => self.generate_key(),
            Effect::Wrap => self.wrap(),
            Effect::Export => self.export(),
            Effect::VerifyExport => self.verify_export(),
            Effect::DestroyKey => self.destroy_key(),
            Effect::Checkpoint(gate) => self.checkpoint(*gate),
            Effect::Finish => self.finish().map(|()| None),
        };
        match result {
            Ok(event) => Ok(event),
            Err(RunError::Step { reason, .. }) if !self.state.is_final() => {
                // Record what failed, then stop: the people decide (restart to resume or abort).
                self.commit(
                    Event::StepFailed {
                        phase,
                        reason: reason.clone(),
                    },
                    false,
                )?;
                Err(RunError::Step { phase, reason })
            }
            Err(e) => Err(e),
        }
    }

    fn preflight(&mut self) -> Event {
        let mut checks = vec![Check {
            name: "script".into(),
            passed: true,
            detail: format!("validated; SHA-256 {}", self.script.sha256),
        }];
        checks.push(host::network_check(self.script.rehearsal));
        let media_ok = self.answers.media.is_dir();
        checks.push(Check {
            name: "output medium".into(),
            passed: media_ok,
            detail: if media_ok {
                format!("{} is mounted", self.answers.media.display())
            } else {
                format!(
                    "{} is missing: mount the output medium",
                    self.answers.media.display()
                )
            },
        });
        checks.push(self.audit_key_check());
        if let QuorumMode::SplitPin { .. } = self.script.quorum {
            checks.push(match self.ensure_quorum() {
                Ok(()) => Check {
                    name: "provisioning record".into(),
                    passed: true,
                    detail: "matches the token".into(),
                },
                Err(e) => Check {
                    name: "provisioning record".into(),
                    passed: false,
                    detail: e.to_string(),
                },
            });
        }
        Event::PreflightCompleted { checks }
    }

    fn audit_key_check(&mut self) -> Check {
        // Only the public half is visible before the quorum logs in.
        let result = self.session().and_then(|s| {
            crate::quorum::audit_key::find(&s)
                .map(|_| ())
                .map_err(step(Phase::Preflight))
        });
        match result {
            Ok(_) => Check {
                name: "audit key".into(),
                passed: true,
                detail: "the token holds the ceremony audit key".into(),
            },
            Err(e) => Check {
                name: "audit key".into(),
                passed: false,
                detail: format!("{e}: provision the token with `byok-ceremony provision`"),
            },
        }
    }

    fn ensure_quorum(&mut self) -> Result<(), RunError> {
        if self.quorum.is_some() {
            return Ok(());
        }
        let path = self.script.record.clone().ok_or_else(|| RunError::Step {
            phase: self.state.phase,
            reason: "the script names no provisioning record".into(),
        })?;
        let bytes = std::fs::read(&path).map_err(|e| RunError::Step {
            phase: self.state.phase,
            reason: format!(
                "cannot read the provisioning record {}: {e}",
                path.display()
            ),
        })?;
        let record = ProvisioningRecord::parse(&bytes).map_err(step(self.state.phase))?;
        let hsm = self.hsm_ref()?;
        let session = self.session()?;
        let id = hsm
            .token_identity(session.slot())
            .map_err(step(self.state.phase))?;
        if record.token.serial != id.serial || record.token.label != id.label {
            return Err(RunError::Step {
                phase: self.state.phase,
                reason: format!(
                    "the provisioning record is for token \"{}\" (serial {}), not this one (\"{}\", serial {})",
                    record.token.label, record.token.serial, id.label, id.serial
                ),
            });
        }
        // The record lives as long as the process: the quorum borrows it throughout.
        let record: &'static ProvisioningRecord = Box::leak(Box::new(record));
        self.record = Some(record);
        self.quorum =
            Some(QuorumLogin::new(record, PinGroup::UserPin).map_err(step(self.state.phase))?);
        Ok(())
    }

    fn log_in(&mut self) -> Result<Option<Event>, RunError> {
        let session = self.session()?;
        let label = self
            .hsm_ref()?
            .token_identity(session.slot())
            .map_err(step(Phase::Quorum))?
            .label;
        let result = match self.script.quorum {
            QuorumMode::HsmNative { .. } => {
                login_protected(&session, PinGroup::UserPin, LoginPolicy::default()).map(|_| ())
            }
            QuorumMode::SplitPin { .. } => {
                let quorum = self.quorum.as_mut().ok_or_else(|| RunError::Step {
                    phase: Phase::Quorum,
                    reason: "no provisioning record".into(),
                })?;
                // Rebuilds the PIN, logs in, wipes shares and PIN on every path.
                let r = quorum.login(&session, LoginPolicy::default()).map(|_| ());
                self.quorum = self
                    .record
                    .and_then(|r| QuorumLogin::new(r, PinGroup::UserPin).ok());
                r
            }
        };
        Ok(Some(match result {
            Ok(()) => Event::LoggedIn { token_label: label },
            Err(e) => Event::LoginFailed {
                reason: e.to_string(),
            },
        }))
    }

    fn load_kek(&mut self) -> Result<Option<Event>, RunError> {
        let dir = &self.answers.kek_media;
        let file = dir.join(&self.script.kek_file);
        let json = self.script.kek_json.as_ref().map(|j| dir.join(j));
        let kid = self
            .script
            .expected_kid
            .as_ref()
            .map(|k| k.url().to_owned());
        let kek =
            Kek::load(&file, json.as_deref(), kid.as_deref()).map_err(step(Phase::KekLoad))?;
        let Some(kid) = kek.kid().map(|k| k.url().to_owned()) else {
            return Err(RunError::Step {
                phase: Phase::KekLoad,
                reason: "the KEK has no kid: set kek.expected_kid in the script or bring the `az keyvault key show` JSON".into(),
            });
        };
        let event = Event::KekLoaded {
            kid,
            fingerprint_sha256: kek.fingerprint().hex(),
            bits: kek.bits(),
            warnings: kek.warnings().to_vec(),
        };
        self.kek = Some(kek);
        Ok(Some(event))
    }

    fn generate_key(&mut self) -> Result<Option<Event>, RunError> {
        let session = self.session()?;
        let generated = target::generate(
            &session,
            &TargetRequest {
                spec: self.script.target,
                label: self.script.target_label.clone(),
                token_object: self.script.keep_in_hsm,
            },
        )
        .map_err(step(Phase::KeyGeneration))?;
        let pem = generated
            .public_spki_der
            .as_deref()
            .map(|der| der::pem::encode_string("PUBLIC KEY", der::pem::LineEnding::LF, der))
            .transpose()
            .map_err(|e| RunError::Step {
                phase: Phase::KeyGeneration,
                reason: e.to_string(),
            })?;
        let (key_size, crv) = self.facts_of_spec();
        Ok(Some(Event::KeyGenerated {
            kty: self.script.target.kty().into(),
            key_size,
            crv,
            attributes: generated.attributes.clone(),
            public_key_pem: pem,
            check_value: generated.check_value.as_deref().map(hex::encode),
        }))
    }

    fn facts_of_spec(&self) -> (Option<u32>, Option<String>) {
        use crate::hsm::target::TargetSpec;
        match self.script.target {
            TargetSpec::Rsa { bits } | TargetSpec::Aes { bits } => (Some(bits), None),
            TargetSpec::Ec { curve } => (None, Some(curve.azure_name().into())),
        }
    }

    fn wrap(&mut self) -> Result<Option<Event>, RunError> {
        let session = self.session()?;
        let kek = self.kek.as_ref().ok_or_else(|| RunError::Step {
            phase: Phase::Wrap,
            reason: "no KEK loaded".into(),
        })?;
        let key = target::find_by_id(&session, self.state.key_id_hex.as_deref().unwrap_or_default())
            .map_err(|e| RunError::Step {
                phase: Phase::Wrap,
                reason: format!(
                    "{e}; the key this ceremony made is gone (a session key does not survive a crash): abort the ceremony"
                ),
            })?;
        let plan = wrap::plan(
            &session,
            WrapPolicy {
                allow_zero_padding: self.script.allow_zero_padding,
            },
        )
        .map_err(step(Phase::Wrap))?;
        let ciphertext = wrap::wrap(&session, &plan, kek, key).map_err(step(Phase::Wrap))?;
        let id = self.facts.hsm.clone().unwrap_or_default();
        let file = ByokFile {
            kid: self.facts.kid.clone().unwrap_or_default(),
            ciphertext,
            generator: format!(
                "byok-ceremony {}; {} {} firmware {}",
                env!("CARGO_PKG_VERSION"),
                id.manufacturer,
                id.model,
                id.firmware
            ),
        };
        let bytes = file.to_json_bytes();
        Ok(Some(Event::Wrapped {
            byok_sha256: hex::encode(Sha256::digest(&bytes)),
            byok_json: String::from_utf8(bytes).map_err(|e| RunError::Step {
                phase: Phase::Wrap,
                reason: e.to_string(),
            })?,
            method: plan.method(),
            rehearsal_grade: plan.zero_pads(),
        }))
    }

    fn output_files(&self) -> Result<Vec<(String, Vec<u8>)>, RunError> {
        let name = &self.script.output_name;
        let byok = self.facts.byok_json.clone().ok_or_else(|| RunError::Step {
            phase: Phase::Export,
            reason: "no wrapped key in the log".into(),
        })?;
        let manifest = self
            .facts
            .manifest(&self.script, format!("{name}.byok"))
            .map_err(|reason| RunError::Step {
                phase: Phase::Export,
                reason,
            })?;
        Ok(vec![
            (format!("{name}.byok"), byok.into_bytes()),
            (format!("{name}.manifest.json"), manifest.into_bytes()),
        ])
    }

    fn export(&mut self) -> Result<Option<Event>, RunError> {
        let files = self.output_files()?;
        let mut records = Vec::new();
        let mut media = vec![self.answers.media.clone()];
        if self.script.second_copy {
            media.push(
                self.answers
                    .second_media
                    .clone()
                    .ok_or_else(|| RunError::Step {
                        phase: Phase::Export,
                        reason:
                            "the script asks for a second copy: give second_media in the answers"
                                .into(),
                    })?,
            );
        }
        for dir in &media {
            for (name, bytes) in &files {
                let hash = write_new_or_identical(dir, name, bytes).map_err(step(Phase::Export))?;
                self.written.push(dir.join(name));
                if dir == &self.answers.media {
                    records.push(FileRecord {
                        name: name.clone(),
                        sha256: hex::encode(hash),
                    });
                }
            }
        }
        Ok(Some(Event::Exported { files: records }))
    }

    fn verify_export(&mut self) -> Result<Option<Event>, RunError> {
        let mut dirs = vec![self.answers.media.clone()];
        if let (true, Some(second)) = (self.script.second_copy, &self.answers.second_media) {
            dirs.push(second.clone());
        }
        let mut files = Vec::new();
        for record in &self.state.exported {
            for dir in &dirs {
                let path = dir.join(&record.name);
                let hash = sha256_file(&path).map_err(|e| RunError::Step {
                    phase: Phase::Verification,
                    reason: format!("cannot read back {}: {e}", path.display()),
                })?;
                if hex::encode(hash) != record.sha256 {
                    return Err(RunError::Step {
                        phase: Phase::Verification,
                        reason: format!(
                            "{} reads back differently from what was written: the medium is faulty",
                            path.display()
                        ),
                    });
                }
            }
            files.push(record.clone());
        }
        Ok(Some(Event::Verified { files }))
    }

    fn destroy_key(&mut self) -> Result<Option<Event>, RunError> {
        let session = self.session()?;
        let id = self.state.key_id_hex.clone().unwrap_or_default();
        // A session key vanishes with a crashed session: then nothing is left to destroy.
        target::destroy_by_id(&session, &id).map_err(step(self.state.phase))?;
        Ok(Some(Event::KeyDestroyed {
            label: self.state.key_label.clone().unwrap_or_default(),
            id_hex: id,
        }))
    }

    fn checkpoint(&mut self, gate: Phase) -> Result<Option<Event>, RunError> {
        let session = self.session()?;
        let signer =
            HsmAuditSigner::find(&session, &self.script.ceremony_id).map_err(step(gate))?;
        let note = checkpoint::sign(
            &signer,
            &self.script.ceremony_id,
            self.log.len(),
            self.log.head(),
        )
        .map_err(step(gate))?;
        Ok(Some(Event::Checkpoint { gate, note }))
    }

    fn finish(&mut self) -> Result<(), RunError> {
        // The log's final copy travels with the outputs for the auditor.
        let name = format!("{}.audit.jsonl", self.script.output_name);
        let bytes = std::fs::read(self.log.path()).map_err(|source| LogError::Read {
            path: self.log.path().to_owned(),
            source,
        })?;
        if self.answers.media.is_dir() {
            write_new_or_identical(&self.answers.media, &name, &bytes)?;
            self.written.push(self.answers.media.join(name));
        }
        Ok(())
    }

    // ----- HSM plumbing -----

    fn open_hsm(&mut self) -> Result<(), RunError> {
        if self.hsm.is_some() {
            return Ok(());
        }
        let hsm = Hsm::load(&self.script.module).map_err(step(Phase::Opened))?;
        // The module stays loaded for the whole run; sessions borrow it.
        let hsm: &'static Hsm = Box::leak(Box::new(hsm));
        let slot = hsm
            .find_token(&self.script.token)
            .map_err(step(Phase::Opened))?;
        self.session = Some(hsm.open_session(slot).map_err(step(Phase::Opened))?);
        self.hsm = Some(hsm);
        Ok(())
    }

    fn hsm_ref(&self) -> Result<&'static Hsm, RunError> {
        self.hsm.ok_or_else(|| RunError::Step {
            phase: self.state.phase,
            reason: "the HSM is not open".into(),
        })
    }

    /// A session on the ceremony token. The first one stays open for the whole run, which
    /// keeps the login alive (PKCS#11 login state belongs to the application, not a session).
    fn session(&self) -> Result<HsmSession<'static>, RunError> {
        let hsm = self.hsm_ref()?;
        let slot = self
            .session
            .as_ref()
            .map(HsmSession::slot)
            .ok_or_else(|| RunError::Step {
                phase: self.state.phase,
                reason: "no HSM session".into(),
            })?;
        hsm.open_session(slot).map_err(step(self.state.phase))
    }
}

/// Reads a custodian's share file into zeroizing memory and takes the share out of it.
fn read_share(path: &Path) -> Result<Zeroizing<String>, String> {
    let bytes = Zeroizing::new(
        std::fs::read(path)
            .map_err(|e| format!("cannot read the share file {}: {e}", path.display()))?,
    );
    let text = std::str::from_utf8(&bytes).map_err(|_| "the share file is not text".to_owned())?;
    share_file::share_text_in(text, PinGroup::UserPin).map_err(|e| e.to_string())
}

fn step<E: std::fmt::Display>(phase: Phase) -> impl FnOnce(E) -> RunError {
    move |e| RunError::Step {
        phase,
        reason: e.to_string(),
    }
}

/// The script's name for a phase.
fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Opened | Phase::Preflight => "preflight",
        Phase::Attendance => "attendance",
        Phase::Quorum => "quorum",
        Phase::KekLoad => "kek_load",
        Phase::KekConfirm => "kek_confirm",
        Phase::KeyGeneration => "key_generation",
        Phase::Wrap => "wrap",
        Phase::Export => "export",
        Phase::Verification => "verification",
        Phase::SignOff => "sign_off",
        Phase::Closed | Phase::Aborted => "closed",
    }
}
