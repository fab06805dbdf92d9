//! The runner: feeds people's inputs and the adapters' results to the machine as events,
//! appends every event to the audit log (fsynced) before running the effects it triggers,
//! and executes those effects through the adapters (HSM, quorum, KEK medium, output media).
//!
//! People's inputs come through one seam, the [`People`] trait: the runner shows it a
//! [`View`] (the machine's state and the facts read from the log) and it answers with the
//! next human [`Action`]. An answers file is one implementation ([`Headless`]); the terminal
//! UI (`crate::tui`) is another.
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
use crate::byok::verify::{VerifyInputs, verify_byok};
use crate::hsm::module::{Hsm, HsmSession};
use crate::hsm::signer::HsmAuditSigner;
use crate::hsm::target;
use crate::hsm::trusted_kek;
use crate::hsm::wrap::{self, WrapPlan};
use crate::hsm_types::key::TargetRequest;
use crate::hsm_types::wrap::OaepHash;
use crate::media::atomic::{WriteError, sha256_file, write_new_or_identical};
use crate::quorum::login::{LoginPolicy, QuorumLogin, login_protected};
use crate::quorum::record::ProvisioningRecord;
use crate::quorum::share::PinGroup;
use crate::quorum::share_file;

/// Fault injection for crash tests: when this variable names an event kind, the runner stops
/// dead (as if the power failed) right after that event is safely in the log. Tests kill the
/// process there with a real SIGKILL. Compiled into debug builds (the tests') only: a release
/// binary ignores it, so a production station can never be parked by its environment.
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
    #[error(
        "the ceremony was left in phase \"{phase}\": start it again to resume or abort",
        phase = .0.title()
    )]
    Interrupted(Phase),
}

/// Where the media are mounted: the KEK's, the output's and an optional second copy's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub kek: PathBuf,
    pub out: PathBuf,
    pub second: Option<PathBuf>,
    /// Where other media are mounted, for the KEK screen's picker (`/media`, `/mnt`, ...).
    pub roots: Vec<PathBuf>,
}

impl Media {
    pub fn of(answers: &Answers) -> Media {
        Media {
            kek: answers.kek_media.clone(),
            out: answers.media.clone(),
            second: answers.second_media.clone(),
            roots: Vec::new(),
        }
    }
}

/// What the people in the room see: the machine's state, the facts the log has gathered,
/// and the script. Holds no secret.
#[derive(Debug, Clone)]
pub struct View {
    pub state: State,
    pub facts: Facts,
    pub script: Arc<CeremonyScript>,
    pub media: Media,
    /// Hash of the newest log entry, and the number of entries.
    pub log_head: String,
    pub log_len: u64,
    /// The kind of the newest event (for example "share_rejected").
    pub last_event: Option<&'static str>,
    /// The latest preflight results.
    pub checks: Vec<Check>,
    /// A line for people about the newest event: why a share was refused, who confirmed.
    pub notice: Option<String>,
    /// While the KEK is loaded: the media that could hold it, the configured one first.
    pub kek_media: Vec<crate::media::discover::KekMedium>,
}

impl View {
    /// The quorum's threshold.
    pub fn threshold(&self) -> usize {
        match self.script.quorum {
            QuorumMode::SplitPin { threshold } | QuorumMode::HsmNative { threshold, .. } => {
                usize::from(threshold)
            }
        }
    }
}

/// The next thing a person does. The administrator closes, aborts and records deviations;
/// the witness acknowledges them (the runner fills in who).
pub enum Action {
    CheckIn(String),
    CloseAttendance,
    /// A custodian's share as typed (or read from their file); zeroized when dropped.
    PresentShare {
        custodian: String,
        text: Zeroizing<String>,
    },
    /// A custodian could not present a share (unreadable file): recorded as a rejection.
    ShareUnavailable {
        custodian: String,
        reason: String,
    },
    /// HSM-native quorum: a custodian authenticated at the HSM (PED key, card).
    HsmAuthenticated(String),
    /// A custodian compared the fingerprint read aloud from the online side: it matches.
    ConfirmKek(String),
    RejectKek {
        custodian: String,
        reason: String,
    },
    SignOff(String),
    Close,
    RecordDeviation(String),
    AcknowledgeDeviation(usize),
    /// Run the failed step of the current phase again (after mounting a medium, say).
    Retry,
    /// Load the KEK from this medium instead (the KEK screen's picker).
    LoadKekFrom(PathBuf),
    Abort(String),
}

impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // Never the share text.
            Action::PresentShare { custodian, .. } => f
                .debug_struct("PresentShare")
                .field("custodian", custodian)
                .finish_non_exhaustive(),
            Action::CheckIn(n) => f.debug_tuple("CheckIn").field(n).finish(),
            Action::CloseAttendance => f.write_str("CloseAttendance"),
            Action::ShareUnavailable { custodian, reason } => f
                .debug_struct("ShareUnavailable")
                .field("custodian", custodian)
                .field("reason", reason)
                .finish(),
            Action::HsmAuthenticated(n) => f.debug_tuple("HsmAuthenticated").field(n).finish(),
            Action::ConfirmKek(n) => f.debug_tuple("ConfirmKek").field(n).finish(),
            Action::RejectKek { custodian, reason } => f
                .debug_struct("RejectKek")
                .field("custodian", custodian)
                .field("reason", reason)
                .finish(),
            Action::SignOff(n) => f.debug_tuple("SignOff").field(n).finish(),
            Action::Close => f.write_str("Close"),
            Action::RecordDeviation(t) => f.debug_tuple("RecordDeviation").field(t).finish(),
            Action::AcknowledgeDeviation(n) => {
                f.debug_tuple("AcknowledgeDeviation").field(n).finish()
            }
            Action::Retry => f.write_str("Retry"),
            Action::LoadKekFrom(dir) => f.debug_tuple("LoadKekFrom").field(dir).finish(),
            Action::Abort(r) => f.debug_tuple("Abort").field(r).finish(),
        }
    }
}

/// The people's side of the ceremony: the seam between the runner and whoever answers for
/// the people in the room (an answers file, the terminal UI).
pub trait People {
    /// The next human action for `view`. `problem` is what went wrong since the last action
    /// (a failed step, a refused action, a stalled phase); returning it as the error ends
    /// the run (the headless behaviour), answering with an action continues it.
    fn next(&mut self, view: &View, problem: Option<RunError>) -> Result<Action, RunError>;

    /// Called before a decisive effect (key generation, export) runs; a UI asks for a typed
    /// confirmation here. An error stops the run before the effect.
    fn approve(&mut self, _effect: &Effect, _view: &View) -> Result<(), RunError> {
        Ok(())
    }

    /// Called after every event is in the log, so a UI can show progress.
    fn observe(&mut self, _view: &View) {}
}

/// How the run ended.
#[derive(Debug)]
pub struct RunOutcome {
    pub state: State,
    pub log_path: PathBuf,
    pub head: String,
    /// Every file of the ceremony on the media (both copies, the log's copies too), with its
    /// SHA-256 (hex) as read back now: what the summary lists.
    pub files: Vec<(PathBuf, String)>,
}

pub struct Runner<'p> {
    script: Arc<CeremonyScript>,
    people: &'p mut dyn People,
    media: Media,
    /// The log is being mirrored to the output medium.
    mirroring: bool,
    last_event: Option<&'static str>,
    notice: Option<String>,
    checks: Vec<Check>,
    log: AuditLog,
    state: State,
    facts: Facts,
    record: Option<&'static ProvisioningRecord>,
    quorum: Option<QuorumLogin<'static>>,
    hsm: Option<&'static Hsm>,
    session: Option<HsmSession<'static>>,
    kek: Option<Kek>,
    /// The wrap path this process proved (its known-answer test is in the log).
    plan: Option<WrapPlan>,
    /// The steps whose instructions this process has logged as shown.
    instructions_shown: std::collections::BTreeSet<Phase>,
    stall_after: Option<String>,
}

impl std::fmt::Debug for Runner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("ceremony", &self.script.ceremony_id)
            .field("phase", &self.state.phase)
            .finish_non_exhaustive()
    }
}

/// A ceremony found already in the state directory: what the room is shown before choosing to
/// resume or abort it (or, closed, that there is nothing more to do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupted {
    pub ceremony_id: String,
    /// Where it stopped (Closed or Aborted: it is over).
    pub phase: Phase,
    /// The last entry: its event, who (if a person), and its UTC time.
    pub last_event: String,
    pub last_actor: Option<String>,
    pub last_utc: String,
    /// Who had checked in.
    pub present: Vec<String>,
    pub entries: u64,
}

impl Interrupted {
    pub fn is_over(&self) -> bool {
        matches!(self.phase, Phase::Closed | Phase::Aborted)
    }
}

/// Reads (without changing it) the log an earlier run of `script_path` left in `state_dir`,
/// checks its chain and replays it through the machine; None when there is none.
pub fn inspect(script_path: &Path, state_dir: &Path) -> Result<Option<Interrupted>, RunError> {
    let script = CeremonyScript::load(script_path)?;
    let log_path = state_dir.join(format!("{}.audit.jsonl", script.ceremony_id));
    if std::fs::symlink_metadata(&log_path).is_err() {
        return Ok(None);
    }
    // The reader resuming uses, without the cut: a torn last line is left as it is.
    let (entries, _) =
        crate::audit::log::read_verified::<Event>(&log_path).map_err(does_not_verify)?;
    let mut state = State::new();
    for e in &entries {
        state = fold(&state, e)?;
    }
    let Some(last) = entries.last() else {
        return Ok(None);
    };
    Ok(Some(Interrupted {
        ceremony_id: script.ceremony_id.clone(),
        phase: state.phase,
        last_event: last.event.kind().replace('_', " "),
        last_actor: last.actor.clone(),
        last_utc: last.utc.clone(),
        present: state.present.iter().cloned().collect(),
        entries: last.seq + 1,
    }))
}

/// The state after `entry`, or why the machine refuses it (then the log is not resumed).
fn fold(state: &State, entry: &Entry) -> Result<State, RunError> {
    machine::step(state, &entry.event)
        .map(|(next, _)| next)
        .map_err(|r| RunError::LogDoesNotVerify(format!("entry {}: {r}", entry.seq)))
}

/// A log whose lines or chain do not verify is not resumed: it goes to the auditor.
fn does_not_verify(e: LogError) -> RunError {
    match e {
        LogError::Corrupt { .. } => RunError::LogDoesNotVerify(e.to_string()),
        other => RunError::Log(other),
    }
}

/// Runs (or recovers and finishes) the ceremony `script` with `answers`, keeping its log in
/// `state_dir`: the headless run.
pub fn run(
    script_path: &Path,
    answers: Answers,
    state_dir: &Path,
    recover: Option<Recovery>,
) -> Result<RunOutcome, RunError> {
    let recover = recover.or(answers.on_unfinished);
    let media = Media::of(&answers);
    let mut people = Headless::new(answers);
    run_with(script_path, &mut people, media, state_dir, recover)
}

/// Runs (or recovers and finishes) the ceremony `script` with `people` answering for the
/// room, keeping its log in `state_dir`.
pub fn run_with(
    script_path: &Path,
    people: &mut dyn People,
    media: Media,
    state_dir: &Path,
    recover: Option<Recovery>,
) -> Result<RunOutcome, RunError> {
    let script = CeremonyScript::load(script_path)?;
    std::fs::create_dir_all(state_dir).map_err(|source| LogError::Write {
        path: state_dir.to_owned(),
        source,
    })?;
    let log_path = state_dir.join(format!("{}.audit.jsonl", script.ceremony_id));
    let mut runner = if log_path.exists() {
        Runner::reopen(script, people, media, &log_path, recover)?
    } else {
        Runner::start(script, people, media, &log_path)?
    };
    let driven = runner.drive();
    // Whatever the outcome: log out and finalise the module, so the token's login ends here.
    runner.close_hsm();
    driven?;
    let files = runner.outputs_on_media();
    Ok(RunOutcome {
        head: runner.log.head().to_owned(),
        log_path: runner.log.path().to_owned(),
        state: runner.state,
        files,
    })
}

impl<'p> Runner<'p> {
    fn new(
        script: CeremonyScript,
        people: &'p mut dyn People,
        media: Media,
        log: AuditLog,
    ) -> Runner<'p> {
        Runner {
            script: Arc::new(script),
            people,
            media,
            mirroring: false,
            last_event: None,
            notice: None,
            checks: Vec::new(),
            log,
            state: State::new(),
            facts: Facts::default(),
            record: None,
            quorum: None,
            hsm: None,
            session: None,
            kek: None,
            plan: None,
            instructions_shown: std::collections::BTreeSet::new(),
            stall_after: if cfg!(debug_assertions) {
                std::env::var(STALL_AFTER_ENV).ok()
            } else {
                None
            },
        }
    }

    fn start(
        script: CeremonyScript,
        people: &'p mut dyn People,
        media: Media,
        log_path: &Path,
    ) -> Result<Runner<'p>, RunError> {
        let log = AuditLog::create(log_path)?;
        let mut runner = Runner::new(script, people, media, log);
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
        people: &'p mut dyn People,
        media: Media,
        log_path: &Path,
        recover: Option<Recovery>,
    ) -> Result<Runner<'p>, RunError> {
        let (log, entries) = AuditLog::reopen(log_path).map_err(does_not_verify)?;
        let mut runner = Runner::new(script, people, media, log);
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
                    // The key this run made must go: the quorum logs in once more for that
                    // (the people present their shares in `drive`).
                    runner.open_hsm()?;
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

    /// Folds the entries (their form and chain already verified by the log's reader) through
    /// the machine: the same code an auditor runs.
    fn replay(&mut self, entries: &[Entry]) -> Result<(), RunError> {
        for e in entries {
            self.state = fold(&self.state, e)?;
            self.facts.observe(&e.event, &e.hash);
            if let Event::PreflightCompleted { checks } = &e.event {
                self.checks = checks.clone();
            }
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
        self.mirror_log()?;
        self.state = next;
        self.facts.observe(&event, &entry.hash);
        // An instruction is shown beside the step, not as its news.
        if !matches!(event, Event::InstructionShown { .. }) {
            self.last_event = Some(event.kind());
            self.notice = notice_of(&event);
        }
        if let Event::PreflightCompleted { checks } = &event {
            self.checks = checks.clone();
        }
        if self.stall_after.as_deref() == Some(event.kind()) {
            eprintln!("STALLED after {}", event.kind());
            loop {
                std::thread::park();
            }
        }
        let view = self.view();
        self.people.observe(&view);
        for effect in effects {
            if matches!(effect, Effect::GenerateKey | Effect::Export) {
                let view = self.view();
                if let Err(e) = self.people.approve(&effect, &view) {
                    // The room stopped at the typed confirmation: on the record, then stop.
                    if let RunError::Step { reason, .. } = &e {
                        let phase = self.state.phase;
                        self.commit(
                            Event::StepFailed {
                                phase,
                                reason: reason.clone(),
                            },
                            true,
                        )?;
                    }
                    return Err(e);
                }
            }
            if let Some(result) = self.execute(&effect)? {
                self.commit(result, false)?;
            }
        }
        Ok(())
    }

    /// Mirrors the log to the output medium from the moment it is mounted: the audit media
    /// hold the record as it grows, not only at the end. (The mirror catches up with the whole
    /// log when it starts, so a medium mounted late, or after a crash, misses nothing.)
    fn mirror_log(&mut self) -> Result<(), RunError> {
        if self.mirroring || !self.media.out.is_dir() {
            return Ok(());
        }
        let name = format!("{}.audit.jsonl", self.script.output_name);
        self.log.mirror_to(&self.media.out.join(name))?;
        self.mirroring = true;
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

    /// What the people see now.
    fn view(&self) -> View {
        View {
            state: self.state.clone(),
            facts: self.facts.clone(),
            script: Arc::clone(&self.script),
            media: self.media.clone(),
            log_head: self.log.head().to_owned(),
            log_len: self.log.len(),
            last_event: self.last_event,
            checks: self.checks.clone(),
            notice: self.notice.clone(),
            kek_media: if self.state.phase == Phase::KekLoad {
                crate::media::discover::kek_media(
                    &self.media.kek,
                    &self.media.roots,
                    &self.script.kek_file,
                )
            } else {
                Vec::new()
            },
        }
    }

    /// An aborted run whose key is still in the HSM waits for the quorum to destroy it.
    fn awaits_people(&self) -> bool {
        !self.state.is_final()
            || (self.state.phase == Phase::Aborted
                && self.state.key_pending_destroy()
                && !self.state.logged_in)
    }

    /// The people's side: ask them for the next action until the ceremony ends.
    fn drive(&mut self) -> Result<(), RunError> {
        let mut problem: Option<RunError> = None;
        while self.awaits_people() {
            if problem.is_none() {
                problem = self.stalled();
            }
            self.show_instructions()?;
            let view = self.view();
            let action = self.people.next(&view, problem.take())?;
            match self.act(action) {
                Ok(()) => {}
                Err(e @ (RunError::Step { .. } | RunError::Refused(_))) => problem = Some(e),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Logs the script's instructions for every step reached so far that has not had them
    /// yet: the screens show a step's instructions whenever it is on screen.
    fn show_instructions(&mut self) -> Result<(), RunError> {
        if self.state.is_final() {
            return Ok(());
        }
        let due: Vec<(Phase, String)> = Phase::STEPS
            .iter()
            .filter(|p| **p <= self.state.phase && !self.instructions_shown.contains(p))
            .flat_map(|p| {
                instructions_for(&self.script, *p)
                    .into_iter()
                    .map(move |t| (*p, t))
            })
            .collect();
        for p in Phase::STEPS.iter().filter(|p| **p <= self.state.phase) {
            self.instructions_shown.insert(*p);
        }
        for (phase, text) in due {
            self.commit(Event::InstructionShown { phase, text }, false)?;
        }
        Ok(())
    }

    /// A phase the tool itself moves on from, still current when people are asked: the step
    /// failed (or never ran), and they choose what next.
    fn stalled(&self) -> Option<RunError> {
        let phase = self.state.phase;
        let last_failure = || self.state.failures.last().cloned();
        let reason = match phase {
            // The checks of the latest run only: a retried preflight does not repeat the old.
            Phase::Opened | Phase::Preflight => format!(
                "failed: {}",
                self.checks
                    .iter()
                    .filter(|c| !c.passed)
                    .map(|c| format!("{}: {}", c.name, c.detail))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Phase::KekLoad if self.last_event == Some("kek_rejected") => {
                return Some(RunError::Step {
                    phase: Phase::KekConfirm,
                    reason: "the custodians rejected the KEK: its fingerprint is not the one read aloud from the online side; check the KEK file and the online side".into(),
                });
            }
            Phase::KekLoad => last_failure().unwrap_or_default(),
            Phase::KeyGeneration | Phase::Wrap | Phase::Export | Phase::Verification => {
                last_failure().unwrap_or_else(|| {
                    "the step did not complete; restart to resume or abort".into()
                })
            }
            _ => return None,
        };
        Some(RunError::Step { phase, reason })
    }

    /// Turns a person's action into an event (and, for a retry, runs the step again).
    fn act(&mut self, action: Action) -> Result<(), RunError> {
        let admin = self.script.administrator.clone();
        let event = match action {
            Action::CheckIn(name) => Event::CheckedIn { name },
            Action::CloseAttendance => Event::AttendanceClosed { by: admin },
            Action::PresentShare { custodian, text } => {
                self.ensure_quorum()?;
                self.offer_share(&custodian, &text)
            }
            Action::ShareUnavailable { custodian, reason } => {
                Event::ShareRejected { custodian, reason }
            }
            Action::HsmAuthenticated(custodian) => Event::HsmAuthenticationPresented { custodian },
            Action::ConfirmKek(custodian) => Event::KekConfirmed { custodian },
            Action::RejectKek { custodian, reason } => Event::KekRejected { custodian, reason },
            Action::SignOff(name) => Event::SignedOff { name },
            Action::Close => Event::Closed { by: admin },
            Action::RecordDeviation(text) => Event::DeviationRecorded { by: admin, text },
            Action::AcknowledgeDeviation(deviation) => Event::DeviationAcknowledged {
                by: self.script.witness.clone(),
                deviation,
            },
            Action::Abort(reason) => Event::Aborted {
                by: admin,
                reason,
                after_crash: false,
            },
            // Logged as a choice of its own; the machine names the step, and the step's
            // result follows as its own event.
            Action::Retry => Event::RetryRequested {
                by: admin,
                phase: self.state.phase,
            },
            // A load from the medium people chose: the retry is logged, and the KEK's event
            // names the file it was read from.
            Action::LoadKekFrom(dir) => {
                if self.state.phase != Phase::KekLoad {
                    return Err(RunError::Refused(machine::Refusal {
                        phase: self.state.phase,
                        rule: "the KEK medium is chosen only while the KEK is loaded".into(),
                    }));
                }
                self.media.kek = dir;
                Event::RetryRequested {
                    by: admin,
                    phase: Phase::KekLoad,
                }
            }
        };
        self.commit(event, true)
    }

    /// Checks one share at once; the share text lives only in zeroizing memory.
    fn offer_share(&mut self, custodian: &str, text: &str) -> Event {
        let reject = |reason: String| Event::ShareRejected {
            custodian: custodian.to_owned(),
            reason,
        };
        if !self.state.present.contains(custodian) {
            return reject("that custodian did not check in".into());
        }
        let Some(quorum) = self.quorum.as_mut() else {
            return reject("no provisioning record is loaded".into());
        };
        // A share recorded for someone else is refused and not kept; the shares already
        // accepted stay (the machine still counts them).
        match quorum.offer_as(Some(custodian), text) {
            Ok(accepted) => Event::SharePresented {
                custodian: custodian.to_owned(),
                share_index: accepted.share_index,
                commitment_verified: true,
            },
            Err(e) => reject(e.to_string()),
        }
    }

    // ----- effects -----

    fn execute(&mut self, effect: &Effect) -> Result<Option<Event>, RunError> {
        let phase = self.state.phase;
        let result = match effect {
            Effect::RunPreflight => Ok(Some(self.preflight())),
            Effect::LogIn => self.log_in(),
            Effect::LoadKek => self.load_kek(),
            Effect::TestWrap => self.test_wrap(),
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
        let media_ok = self.media.out.is_dir();
        checks.push(Check {
            name: "output medium".into(),
            passed: media_ok,
            detail: if media_ok {
                format!("{} is mounted", self.media.out.display())
            } else {
                format!(
                    "{} is missing: mount the output medium",
                    self.media.out.display()
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
        let dir = &self.media.kek;
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
            file: Some(file.display().to_string()),
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
                wrap_with_trusted: self.script.wrap_with_trusted,
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
        use crate::hsm_types::key::TargetSpec;
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
        let id = self
            .state
            .key_id_hex
            .as_deref()
            .ok_or_else(|| RunError::Step {
                phase: Phase::Wrap,
                reason: "the log records no key for this ceremony; abort it".into(),
            })?;
        let key = target::find_by_id(&session, id)
            .map_err(|e| RunError::Step {
                phase: Phase::Wrap,
                reason: format!(
                    "{e}; the key this ceremony made is gone (a session key does not survive a crash): abort the ceremony"
                ),
            })?;
        let plan = self.plan.as_ref().ok_or_else(|| RunError::Step {
            phase: Phase::Wrap,
            reason: "the HSM's wrap was not proven in this run; retry the step".into(),
        })?;
        let ciphertext = if self.script.wrap_with_trusted {
            // Only the KEK the security officer imported as trusted can wrap this key, and it
            // must be the very KEK the custodians confirmed.
            let trusted = trusted_kek::find(&session, kek)
                .map_err(step(Phase::Wrap))?
                .ok_or_else(|| RunError::Step {
                    phase: Phase::Wrap,
                    reason: format!(
                        "the token holds no trusted KEK equal to the one confirmed (fingerprint {}): the security officer imports it at provisioning ([trusted_kek] in the provisioning script); abort, or re-provision and run again",
                        kek.fingerprint().hex_groups()
                    ),
                })?;
            wrap::wrap_with_trusted(&session, plan, kek, trusted, key)
        } else {
            wrap::wrap(&session, plan, kek, key)
        }
        .map_err(step(Phase::Wrap))?;
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
        // What leaves the room is checked first: format, header, kid and length for this KEK.
        // (Only the KEK's holder can check the wrap itself; the known-answer test stands in.)
        let mut inputs = VerifyInputs::new(kek);
        inputs.kid = Some(file.kid.as_str());
        let report = verify_byok(&bytes, &inputs);
        if !report.is_ok() {
            return Err(RunError::Step {
                phase: Phase::Wrap,
                reason: format!(
                    "the .byok the HSM produced fails its own check, so it is not exported: {}",
                    report.problems.join("; ")
                ),
            });
        }
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

    /// Proves the HSM's wrap paths with throwaway keys, for the OAEP hash Azure unwraps with.
    fn test_wrap(&mut self) -> Result<Option<Event>, RunError> {
        let session = self.session()?;
        let phase = self.state.phase;
        let survey = wrap::survey(&session, OaepHash::Sha1).map_err(step(phase))?;
        self.plan = survey.best().cloned();
        Ok(Some(Event::WrapTested {
            oaep_hash: survey.oaep,
            method: self.plan.as_ref().map(WrapPlan::method),
            failed: survey.failed,
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
        if self.script.second_copy && self.media.second.is_none() {
            return Err(RunError::Step {
                phase: Phase::Export,
                reason: "the script asks for a second copy: give second_media in the answers"
                    .into(),
            });
        }
        for dir in &self.output_media() {
            for (name, bytes) in &files {
                let hash = write_new_or_identical(dir, name, bytes).map_err(step(Phase::Export))?;
                if dir == &self.media.out {
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
        let dirs = self.output_media();
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
        let (Some(id), Some(label)) = (self.state.key_id_hex.clone(), self.state.key_label.clone())
        else {
            return Err(RunError::Step {
                phase: self.state.phase,
                reason: "the log records no key to destroy".into(),
            });
        };
        // A session key vanishes with a crashed session: then nothing is left to destroy.
        target::destroy_by_id(&session, &label, &id).map_err(step(self.state.phase))?;
        Ok(Some(Event::KeyDestroyed { label, id_hex: id }))
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
        for dir in self.output_media().iter().filter(|d| d.is_dir()) {
            write_new_or_identical(dir, &name, &bytes)?;
        }
        Ok(())
    }

    /// The output medium, and the second one when the script asks for a copy and it is given
    /// (export refuses to start without it).
    fn output_media(&self) -> Vec<PathBuf> {
        let mut media = vec![self.media.out.clone()];
        if self.script.second_copy {
            media.extend(self.media.second.clone());
        }
        media
    }

    /// The ceremony's files on each medium (the exported ones and the log's copy), whether
    /// this process or an earlier one wrote them, each with its SHA-256 as read back now.
    fn outputs_on_media(&self) -> Vec<(PathBuf, String)> {
        let media = self.output_media();
        let log_copy = format!("{}.audit.jsonl", self.script.output_name);
        let names: Vec<&str> = self
            .state
            .exported
            .iter()
            .map(|f| f.name.as_str())
            .chain(std::iter::once(log_copy.as_str()))
            .collect();
        let mut out = Vec::new();
        for dir in &media {
            for name in &names {
                let path = dir.join(name);
                if let Ok(hash) = sha256_file(&path) {
                    out.push((path, hex::encode(hash)));
                }
            }
        }
        out
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

    /// Ends the run's use of the HSM: C_Logout on the session that holds the login, then
    /// C_Finalize. (The module itself stays mapped for the process's life.)
    fn close_hsm(&mut self) {
        if let Some(session) = self.session.take() {
            let _ = session.session().logout();
            drop(session);
        }
        if let Some(hsm) = self.hsm.take() {
            let _ = hsm.context().clone().finalize();
        }
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

/// The script's instructions for `phase`, in the script's order.
pub fn instructions_for(script: &CeremonyScript, phase: Phase) -> Vec<String> {
    script
        .steps
        .iter()
        .filter(|(p, _)| p == phase_name(phase))
        .map(|(_, text)| text.clone())
        .collect()
}

/// The script's name for a phase.
pub fn phase_name(phase: Phase) -> &'static str {
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

/// A line for people about an event that needs one.
fn notice_of(event: &Event) -> Option<String> {
    match event {
        Event::SharePresented { custodian, .. } => {
            Some(format!("{custodian}'s share is valid and accepted."))
        }
        Event::ShareRejected { custodian, reason } => {
            Some(format!("{custodian}'s share was refused: {reason}"))
        }
        Event::LoginFailed { reason } => Some(format!(
            "The HSM refused the rebuilt PIN: {reason}. Present the shares again."
        )),
        Event::KekConfirmed { custodian } => Some(format!("{custodian} confirmed the KEK.")),
        Event::WrapTested {
            method: Some(method),
            ..
        } => Some(format!(
            "The HSM's wrap passed its known-answer test: {}.",
            method.describe()
        )),
        Event::KekRejected { custodian, reason } => {
            Some(format!("{custodian} rejected the KEK: {reason}"))
        }
        Event::SignedOff { name } => Some(format!("{name} signed off.")),
        Event::DeviationRecorded { text, .. } => Some(format!("Deviation recorded: {text}")),
        Event::StepFailed { reason, .. } => Some(reason.clone()),
        Event::RetryRequested { phase, .. } => Some(format!("Running again: {}.", phase.title())),
        _ => None,
    }
}

/// The headless people: an answers file says what each person does.
#[derive(Debug)]
pub struct Headless {
    answers: Answers,
    next_share: usize,
    asked: usize,
}

impl Headless {
    pub fn new(answers: Answers) -> Headless {
        Headless {
            answers,
            next_share: 0,
            asked: 0,
        }
    }

    fn quorum_action(&mut self, view: &View) -> Result<Action, RunError> {
        let s = &view.state;
        if let QuorumMode::HsmNative { threshold, .. } = view.script.quorum {
            return s
                .custodians_present()
                .into_iter()
                .take(usize::from(threshold))
                .find(|c| !s.shares_from.contains(c))
                .map(Action::HsmAuthenticated)
                .ok_or_else(|| RunError::Step {
                    phase: s.phase,
                    reason: "the HSM did not log in after the quorum authenticated".into(),
                });
        }
        let Some((custodian, file)) = self.answers.shares.get(self.next_share).cloned() else {
            return Err(RunError::Step {
                phase: Phase::Quorum,
                reason: format!(
                    "the quorum was not met: {} valid share(s) of {} needed",
                    s.shares_from.len(),
                    view.script.custodians.len().min(view.threshold())
                ),
            });
        };
        self.next_share += 1;
        Ok(match read_share(&file) {
            Ok(text) => Action::PresentShare { custodian, text },
            Err(reason) => Action::ShareUnavailable { custodian, reason },
        })
    }
}

impl People for Headless {
    fn next(&mut self, view: &View, problem: Option<RunError>) -> Result<Action, RunError> {
        if let Some(problem) = problem {
            return Err(problem);
        }
        let s = &view.state;
        self.asked += 1;
        if self.asked > 256 {
            return Err(RunError::Step {
                phase: s.phase,
                reason: "the answers file does not move the ceremony forward; check it against the script".into(),
            });
        }
        // At attendance, everyone checks in first: a deviation is recorded by a present
        // administrator and acknowledged by a present witness.
        let checking_in = s.phase == Phase::Attendance
            && self.answers.present.iter().any(|n| !s.present.contains(n));
        if !s.is_final() && !checking_in {
            // Deviations from the answers file are recorded by the administrator when their
            // phase comes, and acknowledged by the witness at once.
            let phase = phase_name(s.phase);
            if let Some((_, text)) = self
                .answers
                .deviations
                .iter()
                .find(|(p, t)| p == phase && !s.deviations.iter().any(|d| d.text == *t))
            {
                return Ok(Action::RecordDeviation(text.clone()));
            }
            if let Some(n) = s
                .deviations
                .iter()
                .position(|d| d.acknowledged_by.is_none())
            {
                return Ok(Action::AcknowledgeDeviation(n));
            }
        }
        match s.phase {
            Phase::Attendance => Ok(self
                .answers
                .present
                .iter()
                .find(|n| !s.present.contains(*n))
                .cloned()
                .map_or(Action::CloseAttendance, Action::CheckIn)),
            Phase::Quorum | Phase::Aborted => self.quorum_action(view),
            Phase::KekConfirm => {
                let read_aloud: String = self
                    .answers
                    .kek_fingerprint_read_aloud
                    .chars()
                    .filter(|c| c.is_ascii_hexdigit())
                    .collect::<String>()
                    .to_lowercase();
                let actual = s.kek_fingerprint.clone().unwrap_or_default();
                let custodian = s
                    .custodians_present()
                    .into_iter()
                    .find(|c| !s.kek_confirmed_by.contains(c))
                    .unwrap_or_default();
                Ok(if read_aloud == actual {
                    Action::ConfirmKek(custodian)
                } else {
                    Action::RejectKek {
                        custodian,
                        reason: "the fingerprint read aloud from the online side differs from the KEK loaded here".into(),
                    }
                })
            }
            Phase::SignOff => Ok(self
                .answers
                .sign_off
                .iter()
                .find(|n| !s.signed_off_by.contains(*n))
                .cloned()
                .map_or(Action::Close, Action::SignOff)),
            phase => Err(RunError::Step {
                phase,
                reason: "the step did not complete; restart to resume or abort".into(),
            }),
        }
    }
}
