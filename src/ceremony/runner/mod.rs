//! The runner: feeds people's inputs and the adapters' results to the machine as events,
//! appends every event to the audit log (fsynced) before running the effects it triggers,
//! and executes those effects through the adapters (HSM, quorum, KEK medium, output media).
//!
//! People's inputs come through one seam, the [`People`] trait: the runner shows it a
//! [`View`] (the machine's state and the facts read from the log) and it answers with the
//! next human [`Action`]. An answers file is one implementation ([`Headless`]); the terminal
//! UI (`crate::tui`) is another.
use std::collections::BTreeMap;
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
use crate::cloud::{Cloud, CloudTarget};
use crate::hsm::module::{Hsm, HsmSession};
use crate::hsm::signer::HsmAuditSigner;
use crate::hsm::target;
use crate::hsm::trusted_kek;
use crate::hsm::wrap::{self, WrapPlan};
use crate::hsm_types::key::TargetRequest;
use crate::media::atomic::{WriteError, sha256_file, write_new_or_identical};
use crate::quorum::login::{LoginPolicy, QuorumLogin, login_protected};
use crate::quorum::record::ProvisioningRecord;
use crate::quorum::share::PinGroup;
use crate::quorum::share_file;

mod actions;
mod export;
mod headless;
mod hsm_steps;
mod interrupted;
mod opening;
mod preflight;

pub use headless::Headless;
pub use interrupted::{Interrupted, inspect};
use interrupted::{does_not_verify, fold};

/// Fault injection for crash tests: when this variable names an event kind, the runner stops
/// dead (as if the power failed) right after that event is safely in the log. Tests kill the
/// process there with a real SIGKILL. Compiled into debug builds (the tests') only: a release
/// binary ignores it, so a production station can never be parked by its environment.
pub const STALL_AFTER_ENV: &str = "BYOK_TEST_STALL_AFTER";
/// Like [`STALL_AFTER_ENV`], but the run goes on once a line (or end of input) arrives on
/// standard input: a test changes the world at an exact step (a medium that starts failing).
/// An event of a step is also named with it (`checkpoint_wrap`, `instruction_shown_export`). Debug builds only.
pub const PAUSE_AFTER_ENV: &str = "BYOK_TEST_PAUSE_AFTER";

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
        "the ceremony is {phase} but {undone} ({cause}); restart it with --recover resume (the guided UI offers r): the quorum logs in once more, only to finish the end",
        phase = .phase.title().to_lowercase()
    )]
    EndIncomplete {
        phase: Phase,
        undone: &'static str,
        cause: String,
    },
    #[error(
        "an unfinished run of ceremony \"{0}\" exists (its log is in the state directory); choose --recover resume or --recover abort"
    )]
    Unfinished(String),
    #[error(
        "ceremony \"{0}\" already ran to its end (the log's copies on the media are complete); one ceremony id makes one key: give the new ceremony a new ceremony_id"
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
    /// The release's SHA256SUMS file the preflight compares the tool's own hash with (`--sums`
    /// or the answers file's `sums`); without one the hash is only shown, to be read aloud.
    pub sums: Option<PathBuf>,
}

impl Media {
    pub fn of(answers: &Answers) -> Media {
        Media {
            kek: answers.kek_media.clone(),
            out: answers.media.clone(),
            second: answers.second_media.clone(),
            roots: Vec::new(),
            sums: answers.sums.clone(),
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
    /// The KEKs this process loaded, per target.
    keks: BTreeMap<Cloud, Kek>,
    /// AWS: the import token read with the KEK.
    import_tokens: BTreeMap<Cloud, Vec<u8>>,
    /// The wrap paths this process proved, per target (their known-answer tests are in the log).
    plans: BTreeMap<Cloud, WrapPlan>,
    /// The steps whose instructions this process has logged as shown.
    instructions_shown: std::collections::BTreeSet<Phase>,
    stall_after: Option<String>,
    pause_after: Option<String>,
}

impl std::fmt::Debug for Runner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("ceremony", &self.script.ceremony_id)
            .field("phase", &self.state.phase)
            .finish_non_exhaustive()
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
    let mut runner = if crate::media::atomic::exists_here(&log_path) {
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
            keks: BTreeMap::new(),
            import_tokens: BTreeMap::new(),
            plans: BTreeMap::new(),
            instructions_shown: std::collections::BTreeSet::new(),
            stall_after: if cfg!(debug_assertions) {
                std::env::var(STALL_AFTER_ENV).ok()
            } else {
                None
            },
            pause_after: if cfg!(debug_assertions) {
                std::env::var(PAUSE_AFTER_ENV).ok()
            } else {
                None
            },
        }
    }

    /// Applies an event: machine first (it may refuse), then the log, then its effects.
    fn commit(&mut self, event: Event, scripted: bool) -> Result<(), RunError> {
        let (next, effects) = machine::step(&self.state, &event)?;
        let role = self.role_of(&event);
        let entry = match self.log.append(&event, role, scripted) {
            Ok(entry) => entry,
            Err(copy @ LogError::Copy { .. }) if next.is_final() => {
                // The medium failed as the ceremony ended; the entry is in the workstation's
                // log. Sign the end there while the quorum is still logged in, so the restart
                // only completes the copy and needs no further login.
                self.state = next;
                for effect in &effects {
                    if let Effect::Checkpoint(gate) = effect {
                        if let Some(signed) = self.checkpoint(*gate)? {
                            let (after, _) = machine::step(&self.state, &signed)?;
                            let role = self.role_of(&signed);
                            self.log.append(&signed, role, false)?;
                            self.state = after;
                        }
                    }
                }
                return Err(copy.into());
            }
            Err(e) => return Err(e.into()),
        };
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
        let pause_here = self.pause_after.as_deref().is_some_and(|at| {
            // An event of a step is also named with it: "checkpoint_wrap".
            let step = match &event {
                Event::Checkpoint { gate, .. } => Some(*gate),
                Event::InstructionShown { phase, .. } => Some(*phase),
                _ => None,
            };
            at == event.kind()
                || step
                    .and_then(|p| serde_json::to_value(p).ok())
                    .and_then(|p| p.as_str().map(|p| format!("{}_{p}", event.kind())))
                    .is_some_and(|name| name == at)
        });
        if pause_here {
            eprintln!("PAUSED after {}", event.kind());
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
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
                match self.kek_target() {
                    Some(t) => crate::media::discover::kek_media(
                        &self.media.kek,
                        &self.media.roots,
                        &t.kek_file,
                    ),
                    None => Vec::new(),
                }
            } else {
                Vec::new()
            },
        }
    }

    /// An end left incomplete (an aborted run's key, an unsigned closing checkpoint) waits
    /// for the quorum to finish it.
    fn awaits_people(&self) -> bool {
        !self.state.is_final() || self.state.awaits_final_login()
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
        // Over, but a step of the end failed in this run (the closing checkpoint's signature,
        // the aborted key's destruction): never report that as done. A restart finishes it.
        if let Some(undone) = self.state.end_left_undone() {
            return Err(RunError::EndIncomplete {
                phase: self.state.phase,
                undone,
                cause: problem
                    .map_or_else(|| "the step did not complete".into(), |e| e.to_string()),
            });
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
                // A medium that fails the step often fails the log's copy too: say both.
                if let Err(log) = self.commit(
                    Event::StepFailed {
                        phase,
                        reason: reason.clone(),
                    },
                    false,
                ) {
                    return Err(RunError::Step {
                        phase,
                        reason: format!("{reason}; then logging that failed too: {log}"),
                    });
                }
                Err(RunError::Step { phase, reason })
            }
            Err(e) => Err(e),
        }
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
}

/// Reads a custodian's share file into zeroizing memory and takes the share out of it.
fn read_share(path: &Path) -> Result<Zeroizing<String>, String> {
    let bytes = crate::media::input::read_secret_input(path, crate::media::input::SHARE)
        .map_err(|e| e.to_string())?;
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
        Event::RetryRequested {
            phase: Phase::Attendance,
            ..
        } => Some("Running the preflight checks again.".into()),
        Event::RetryRequested { phase, .. } => Some(format!("Running again: {}.", phase.title())),
        _ => None,
    }
}
