//! What is on screen and what the keys do. No drawing and no I/O here: keys become
//! [`Reply`]s for the runner, runner messages update the view.
use std::cell::Cell;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::people::{Finished, FromRunner, Reply};
use super::widgets;
use crate::ceremony::machine::{Effect, Phase, QuorumMode};
use crate::ceremony::runner::{Action, View};
use crate::ceremony::script::CeremonyScript;

pub use super::share_entry::{SHARE_CAPACITY, ShareEntry};

/// The screens, one per state of the ceremony (plus help, drawn over any of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Script,
    Preflight,
    Attendance,
    Shares,
    KekLoad,
    KekConfirm,
    Approve,
    Generation,
    Export,
    SignOff,
    Summary,
    Error,
    /// An earlier run of this ceremony is in the state directory: resume it, abort it, or
    /// (closed) see that it is over.
    Resume,
}

/// A line of typed text the screen is waiting for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// Type GENERATE or EXPORT.
    Approve(Effect),
    /// Type the ceremony id.
    Close,
    AbortReason,
    /// Type ABORT.
    AbortConfirm(String),
    Deviation,
    RejectKek(String),
    /// Type RESUME to continue an interrupted run.
    Resume,
    /// Type ABORT to abort an interrupted run.
    AbortInterrupted,
}

impl Prompt {
    pub fn label(&self, ceremony_id: &str) -> String {
        match self {
            Prompt::Approve(e) => format!("Type {} and press Enter", approve_word(e)),
            Prompt::Close => format!("Type the ceremony id ({ceremony_id}) to close"),
            Prompt::AbortReason => "Why is the ceremony aborted? (Enter when done)".into(),
            Prompt::AbortConfirm(_) => "Type ABORT to abort the ceremony".into(),
            Prompt::Deviation => "Describe the deviation (the witness acknowledges it)".into(),
            Prompt::RejectKek(c) => format!("Why does {c} reject the KEK?"),
            Prompt::Resume => "Type RESUME to continue the interrupted ceremony".into(),
            Prompt::AbortInterrupted => "Type ABORT to abort the interrupted ceremony".into(),
        }
    }
}

/// The word a decisive effect needs typed.
pub fn approve_word(effect: &Effect) -> &'static str {
    match effect {
        Effect::GenerateKey => "GENERATE",
        Effect::Export => "EXPORT",
        _ => "CONFIRM",
    }
}

/// The smallest terminal the ceremony is run in (the documented console size): below it every
/// screen says only how much to enlarge it, and no key but Ctrl-C is taken.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

/// What the last frame drawn could show, recorded while drawing and read when a key arrives:
/// a decision is taken only when everything it confirms was on the screen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shown {
    /// The terminal was below the minimum size: only the "enlarge" message was drawn.
    pub too_small: bool,
    /// The screen's whole content (what a decision on it confirms) fitted.
    pub complete: bool,
}

/// Pre-rendered pictures (QR codes) so that a frame only copies text. Each remembers the value
/// it encodes and is redrawn whenever the state's value changes (a rejected KEK replaced by the
/// right one must never leave the old key's QR beside the new fingerprint).
#[derive(Debug, Clone, Default)]
pub struct Pictures {
    pub kek_qr: Vec<String>,
    pub byok_qr: Vec<String>,
    pub head_qr: Vec<String>,
    kek_for: Option<String>,
    byok_for: Option<String>,
    head_for: Option<String>,
}

/// Redraws `lines` as the QR code of `value` when it is not already that one; clears it when
/// there is no value.
fn refresh_qr(lines: &mut Vec<String>, drawn_for: &mut Option<String>, value: Option<&str>) {
    if drawn_for.as_deref() == value {
        return;
    }
    *lines = value.map(widgets::qr_lines).unwrap_or_default();
    *drawn_for = value.map(str::to_owned);
}

#[derive(Debug)]
pub struct App {
    pub script: Arc<CeremonyScript>,
    pub view: Option<View>,
    /// The runner waits for the people's next action.
    pub waiting: bool,
    pub problem: Option<String>,
    pub approve: Option<Effect>,
    pub started: bool,
    pub preflight_seen: bool,
    pub export_seen: bool,
    /// With several clouds: the wrapped key whose hash is shown, and those shown so far.
    pub output_shown: usize,
    pub outputs_seen: std::collections::BTreeSet<usize>,
    pub cursor: usize,
    pub prompt: Option<Prompt>,
    pub typed: String,
    pub hint: Option<String>,
    pub share: Option<ShareEntry>,
    pub help: bool,
    pub finished: Option<Result<Finished, String>>,
    /// "HH:MM:SS", refreshed by the clock's tick.
    pub clock: String,
    pub quit: bool,
    /// The terminal must be cleared before the next frame (after a share was typed).
    pub clear_requested: bool,
    /// An earlier run found in the state directory (shown before anything starts).
    pub interrupted: Option<crate::ceremony::runner::Interrupted>,
    /// The script screen was confirmed; an interrupted run's choice comes next.
    pub script_seen: bool,
    /// What the room chose for the interrupted run (the runner logs it).
    pub recover: Option<crate::ceremony::answers::Recovery>,
    pub pictures: Pictures,
    /// Colour or plain; set from the terminal by the run loop.
    pub theme: super::theme::Theme,
    /// Set by every frame drawn (see [`Shown`]); nothing is decided on a frame that hid part
    /// of what the decision is about.
    pub shown: Cell<Shown>,
}

impl App {
    pub fn new(script: Arc<CeremonyScript>) -> App {
        App {
            script,
            view: None,
            waiting: false,
            problem: None,
            approve: None,
            started: false,
            preflight_seen: false,
            export_seen: false,
            output_shown: 0,
            outputs_seen: std::collections::BTreeSet::new(),
            cursor: 0,
            prompt: None,
            typed: String::new(),
            hint: None,
            share: None,
            help: false,
            finished: None,
            clock: String::from("--:--:--"),
            quit: false,
            clear_requested: false,
            interrupted: None,
            script_seen: false,
            recover: None,
            pictures: Pictures::default(),
            theme: super::theme::Theme::PLAIN,
            shown: Cell::new(Shown::default()),
        }
    }

    /// The screen for the current state.
    pub fn screen(&self) -> Screen {
        if self.finished.is_some() {
            return match &self.finished {
                Some(Err(_)) => Screen::Error,
                _ => Screen::Summary,
            };
        }
        if !self.started {
            return if self.script_seen && self.interrupted.is_some() {
                Screen::Resume
            } else {
                Screen::Script
            };
        }
        if self.approve.is_some() {
            return Screen::Approve;
        }
        let Some(view) = &self.view else {
            return if self.problem.is_some() {
                Screen::Error
            } else {
                Screen::Preflight
            };
        };
        // The KEK screen shows its own problem beside the media to choose from.
        if self.problem.is_some() {
            return if view.state.phase == Phase::KekLoad {
                Screen::KekLoad
            } else {
                Screen::Error
            };
        }
        match view.state.phase {
            Phase::Opened | Phase::Preflight => Screen::Preflight,
            Phase::Attendance if !self.preflight_seen => Screen::Preflight,
            Phase::Attendance => Screen::Attendance,
            Phase::Quorum => Screen::Shares,
            Phase::KekLoad => Screen::KekLoad,
            Phase::KekConfirm => Screen::KekConfirm,
            Phase::KeyGeneration | Phase::Wrap => Screen::Generation,
            Phase::Export | Phase::Verification => Screen::Export,
            Phase::SignOff if !self.export_seen => Screen::Export,
            Phase::SignOff => Screen::SignOff,
            Phase::Closed | Phase::Aborted if view.state.awaits_final_login() => Screen::Shares,
            Phase::Closed | Phase::Aborted => Screen::Summary,
        }
    }

    /// A message from the runner.
    pub fn on_runner(&mut self, msg: FromRunner) {
        match msg {
            FromRunner::Update(view) => self.set_view(*view),
            FromRunner::Ask { view, problem } => {
                self.set_view(*view);
                self.waiting = true;
                self.problem = problem;
            }
            FromRunner::Refused { view, rule } => {
                // A key pressed too early (closing attendance before enough people): a line
                // saying why, the screen stays.
                self.set_view(*view);
                self.waiting = true;
                self.problem = None;
                self.hint = Some(format!("not done: {rule}"));
            }
            FromRunner::Approve { view, effect } => {
                self.set_view(*view);
                self.prompt = Some(Prompt::Approve(effect.clone()));
                self.typed.clear();
                self.approve = Some(effect);
            }
            FromRunner::Finished(result) => {
                self.waiting = false;
                self.finished = Some(result);
                self.refresh_pictures();
            }
        }
    }

    pub fn set_view(&mut self, view: View) {
        let old_phase = self.view.as_ref().map(|v| v.state.phase);
        if old_phase != Some(view.state.phase) {
            self.cursor = 0;
            // Back from a rejected KEK: the medium it came from is not offered first; the
            // next one holding the script's file is.
            if old_phase == Some(Phase::KekConfirm) && view.state.phase == Phase::KekLoad {
                let rejected = self
                    .view
                    .as_ref()
                    .and_then(|v| v.facts.kek_file.as_deref())
                    .map(std::path::Path::new)
                    .and_then(std::path::Path::parent)
                    .map(std::path::Path::to_path_buf);
                if let Some(i) = view
                    .kek_media
                    .iter()
                    .position(|m| m.has_script_file && Some(&m.dir) != rejected.as_ref())
                {
                    self.cursor = i;
                }
            }
        }
        self.view = Some(view);
        self.refresh_pictures();
    }

    /// Redraws each QR code whose value changed: the KEK fingerprint and the .byok hash from
    /// the state, and the log head only once it is final (the closing screen), since it is
    /// what people note on paper.
    fn refresh_pictures(&mut self) {
        let state = self.view.as_ref().map(|v| &v.state);
        let head = match &self.finished {
            Some(Ok(f)) => Some(f.head.as_str()),
            _ => None,
        };
        let p = &mut self.pictures;
        refresh_qr(
            &mut p.kek_qr,
            &mut p.kek_for,
            state.and_then(|s| s.kek_fingerprint.as_deref()),
        );
        let shown = self
            .view
            .as_ref()
            .and_then(|v| super::outputs::shown(v, self.output_shown))
            .map(|(o, ..)| o.sha256);
        refresh_qr(
            &mut p.byok_qr,
            &mut p.byok_for,
            shown
                .as_deref()
                .or(state.and_then(|s| s.byok_sha256.as_deref())),
        );
        refresh_qr(&mut p.head_qr, &mut p.head_for, head);
    }

    /// People listed on a screen, for the cursor: the roster (attendance), the custodians
    /// who may still present (shares), the custodians present (KEK), or everyone present
    /// (sign-off).
    pub fn choices(&self) -> Vec<String> {
        let Some(view) = &self.view else {
            return Vec::new();
        };
        let s = &view.state;
        match self.screen() {
            Screen::Attendance => roster(&self.script),
            Screen::Shares => s
                .custodians_present()
                .into_iter()
                .filter(|c| !s.shares_from.contains(c))
                .collect(),
            Screen::KekConfirm => s.custodians_present(),
            Screen::KekLoad => view
                .kek_media
                .iter()
                .map(|m| m.dir.display().to_string())
                .collect(),
            Screen::SignOff => roster(&self.script)
                .into_iter()
                .filter(|n| s.present.contains(n))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn selected(&self) -> Option<String> {
        self.choices().get(self.cursor).cloned()
    }

    /// Whether the last frame showed everything a decision on this screen confirms; if not,
    /// says so in the hint.
    fn decision_visible(&mut self) -> bool {
        if self.shown.get().complete {
            return true;
        }
        self.hint = Some(format!(
            "not all of this step is on the screen: enlarge the terminal (at least {MIN_WIDTH}x{MIN_HEIGHT}; more for long lists), then decide"
        ));
        false
    }

    /// Shows the next cloud's wrapped key (hash, words, QR), noting the one shown until now.
    fn show_next_output(&mut self) {
        let Some(view) = &self.view else { return };
        let n = super::outputs::outputs(view).len();
        if n < 2 {
            return;
        }
        // Seen only when the whole of it was on the screen (hex, words and QR code).
        if self.shown.get().complete {
            self.outputs_seen.insert(self.output_shown % n);
        }
        self.output_shown = (self.output_shown + 1) % n;
        // A reminder about the one shown before is out of date.
        self.hint = None;
        self.refresh_pictures();
    }

    /// Sends an action if the runner waits for one and the screen showed all it is about.
    fn act(&mut self, action: Action) -> Option<Reply> {
        if !self.waiting {
            self.hint = Some("the tool is still working; wait for it".into());
            return None;
        }
        // What a typed reason (abort, deviation, rejection) or a retry is about is on the prompt
        // line, always drawn at the minimum size; every other action confirms the screen's
        // content, which must have been shown whole.
        let about_the_prompt = matches!(
            action,
            Action::Abort(_)
                | Action::RecordDeviation(_)
                | Action::AcknowledgeDeviation(_)
                | Action::RejectKek { .. }
                | Action::Retry
        );
        if !about_the_prompt && !self.decision_visible() {
            return None;
        }
        self.waiting = false;
        self.problem = None;
        self.hint = None;
        Some(Reply::Act(action))
    }

    /// A key press: maybe a reply for the runner.
    pub fn on_key(&mut self, key: KeyEvent) -> Option<Reply> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            // Emergency exit: the log stays; start again to resume or abort.
            self.share = None;
            self.quit = true;
            return None;
        }
        if self.shown.get().too_small {
            // The screen shows only "enlarge the terminal": no key can mean a decision.
            return None;
        }
        if self.share.is_some() {
            return self.on_share_key(key);
        }
        if self.prompt.is_some() {
            return self.on_prompt_key(key);
        }
        if self.help {
            if matches!(key.code, KeyCode::Esc | KeyCode::Char('?') | KeyCode::Enter) {
                self.help = false;
            }
            return None;
        }
        let screen = self.screen();
        match key.code {
            KeyCode::Char('?') => {
                self.help = true;
                return None;
            }
            KeyCode::Up => {
                self.cursor = self.cursor.saturating_sub(1);
                return None;
            }
            KeyCode::Down => {
                let n = self.choices().len();
                if self.cursor + 1 < n {
                    self.cursor += 1;
                }
                return None;
            }
            _ => {}
        }
        let in_ceremony = self.started && self.finished.is_none() && self.waiting;
        match (screen, key.code) {
            // Opening the ceremony confirms the script (its hash against the signed copy); an
            // earlier run of it is put before the room next.
            (Screen::Script, KeyCode::Enter) => {
                if self.decision_visible() {
                    if self.interrupted.is_some() {
                        self.script_seen = true;
                    } else {
                        self.started = true;
                    }
                }
                None
            }
            (Screen::Resume, KeyCode::Char('q')) => {
                self.quit = true;
                None
            }
            (Screen::Resume, KeyCode::Char('r'))
                if self.interrupted.as_ref().is_some_and(|i| !i.is_over()) =>
            {
                self.open_prompt(Prompt::Resume);
                None
            }
            // An end left incomplete can only be finished: it is over already.
            (Screen::Resume, KeyCode::Char('a'))
                if self
                    .interrupted
                    .as_ref()
                    .is_some_and(|i| !i.is_over() && i.end_left_undone.is_none()) =>
            {
                self.open_prompt(Prompt::AbortInterrupted);
                None
            }
            (Screen::Script, KeyCode::Char('q')) if !self.started => {
                self.quit = true;
                None
            }
            // Quitting before the runner finished would lose the closing checkpoint.
            (Screen::Summary, KeyCode::Char('q')) if self.finished.is_some() => {
                self.quit = true;
                None
            }
            (Screen::Error, KeyCode::Char('q')) if self.finished.is_some() => {
                self.quit = true;
                None
            }
            (Screen::Preflight, KeyCode::Enter) if self.waiting => {
                self.preflight_seen = self.decision_visible();
                None
            }
            (Screen::Export | Screen::SignOff, KeyCode::Tab) => {
                self.show_next_output();
                None
            }
            (Screen::Export, KeyCode::Enter) if self.waiting => {
                if !self.decision_visible() {
                    return None;
                }
                // With several clouds, every wrapped key's hash must have been on the screen,
                // whole: each is read to its own cloud's online side.
                let n = super::outputs::outputs(self.view.as_ref()?).len();
                self.outputs_seen.insert(self.output_shown % n.max(1));
                if (0..n).any(|i| !self.outputs_seen.contains(&i)) {
                    self.hint = Some(
                        "read each wrapped key's hash to its cloud (Tab: next) before going on"
                            .into(),
                    );
                    return None;
                }
                self.export_seen = true;
                None
            }
            (Screen::Attendance, KeyCode::Enter | KeyCode::Char(' ')) => {
                let name = self.selected()?;
                if self.view.as_ref()?.state.present.contains(&name) {
                    self.hint = Some(format!("{name} has already checked in"));
                    return None;
                }
                self.act(Action::CheckIn(name))
            }
            (Screen::Attendance, KeyCode::Char('c')) => self.act(Action::CloseAttendance),
            (Screen::Shares, KeyCode::Enter) => {
                let custodian = self.selected()?;
                if matches!(self.script.quorum, QuorumMode::HsmNative { .. }) {
                    return self.act(Action::HsmAuthenticated(custodian));
                }
                if !self.waiting {
                    return None;
                }
                self.share = Some(ShareEntry::new(custodian));
                None
            }
            (Screen::KekLoad, KeyCode::Enter) => {
                let view = self.view.as_ref()?;
                let medium = view.kek_media.get(self.cursor)?;
                if !medium.has_script_file {
                    let file = view
                        .state
                        .kek_target()
                        .and_then(|t| view.script.target_for(t.cloud))
                        .map(|t| t.kek_file.clone())
                        .unwrap_or_default();
                    self.hint = Some(format!(
                        "{file} is not on that medium: choose one that holds it, or mount it and press r"
                    ));
                    return None;
                }
                let dir = medium.dir.clone();
                self.act(Action::LoadKekFrom(dir))
            }
            (Screen::KekConfirm, KeyCode::Char('y')) => {
                let c = self.selected()?;
                if self.view.as_ref()?.state.kek_confirmed_by.contains(&c) {
                    self.hint = Some(format!("{c} has already confirmed"));
                    return None;
                }
                self.act(Action::ConfirmKek(c))
            }
            (Screen::KekConfirm, KeyCode::Char('n')) => {
                let c = self.selected()?;
                self.open_prompt(Prompt::RejectKek(c));
                None
            }
            (Screen::SignOff, KeyCode::Enter | KeyCode::Char(' ')) => {
                let name = self.selected()?;
                if self.view.as_ref()?.state.signed_off_by.contains(&name) {
                    self.hint = Some(format!("{name} has already signed off"));
                    return None;
                }
                self.act(Action::SignOff(name))
            }
            (Screen::SignOff, KeyCode::Char('c')) if self.waiting => {
                self.open_prompt(Prompt::Close);
                None
            }
            (Screen::Error | Screen::KekLoad | Screen::Preflight, KeyCode::Char('r'))
                if in_ceremony =>
            {
                self.act(Action::Retry)
            }
            // The station failed a check and the room fixed it: run the checks again.
            (Screen::Attendance, KeyCode::Char('r'))
                if in_ceremony
                    && self
                        .view
                        .as_ref()
                        .is_some_and(|v| !v.state.station_failures.is_empty()) =>
            {
                self.act(Action::Retry)
            }
            (Screen::Error, KeyCode::Esc) if self.finished.is_none() => {
                self.problem = None;
                None
            }
            (_, KeyCode::Char('d')) if in_ceremony => {
                self.open_prompt(Prompt::Deviation);
                None
            }
            (_, KeyCode::Char('w')) if in_ceremony => {
                let n = self
                    .view
                    .as_ref()?
                    .state
                    .deviations
                    .iter()
                    .position(|d| d.acknowledged_by.is_none());
                match n {
                    Some(n) => self.act(Action::AcknowledgeDeviation(n)),
                    None => {
                        self.hint = Some("no deviation awaits the witness".into());
                        None
                    }
                }
            }
            (_, KeyCode::Char('a')) if in_ceremony => {
                self.open_prompt(Prompt::AbortReason);
                None
            }
            _ => None,
        }
    }

    fn open_prompt(&mut self, prompt: Prompt) {
        self.prompt = Some(prompt);
        self.typed.clear();
        self.hint = None;
    }

    fn on_share_key(&mut self, key: KeyEvent) -> Option<Reply> {
        let entry = self.share.as_mut()?;
        match key.code {
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => entry.push(c),
            KeyCode::Backspace => entry.pop(),
            KeyCode::Esc => {
                self.share = None;
                self.clear_requested = true;
            }
            KeyCode::Enter => {
                let entry = self.share.take()?;
                self.clear_requested = true;
                let (custodian, typed) = entry.into_parts();
                return self.act(Action::PresentShare {
                    custodian,
                    text: typed,
                });
            }
            _ => {}
        }
        None
    }

    fn on_prompt_key(&mut self, key: KeyEvent) -> Option<Reply> {
        let prompt = self.prompt.clone()?;
        match key.code {
            KeyCode::Char(c) => {
                if self.typed.len() < 400 {
                    self.typed.push(c);
                }
                None
            }
            KeyCode::Backspace => {
                self.typed.pop();
                None
            }
            KeyCode::Esc => {
                self.typed.clear();
                self.prompt = None;
                // A decisive step is never skipped, but the room may stop before it: nothing
                // is done, the refusal is logged, and the step can be asked for again (r).
                if matches!(prompt, Prompt::Approve(_)) {
                    self.approve = None;
                    self.hint = None;
                    return Some(Reply::Declined);
                }
                None
            }
            KeyCode::Enter => {
                let text = std::mem::take(&mut self.typed);
                let text = text.trim().to_owned();
                match prompt {
                    Prompt::Approve(effect) => {
                        if !self.decision_visible() {
                            self.typed = text;
                            return None;
                        }
                        if text == approve_word(&effect) {
                            self.prompt = None;
                            self.approve = None;
                            self.hint = None;
                            Some(Reply::Approved)
                        } else {
                            self.hint = Some(format!(
                                "that is not {}; type it exactly",
                                approve_word(&effect)
                            ));
                            None
                        }
                    }
                    Prompt::Close => {
                        if text == self.script.ceremony_id {
                            self.prompt = None;
                            self.act(Action::Close)
                        } else {
                            self.hint = Some("that is not the ceremony id".into());
                            None
                        }
                    }
                    Prompt::AbortReason if !text.is_empty() => {
                        self.prompt = Some(Prompt::AbortConfirm(text));
                        None
                    }
                    Prompt::AbortConfirm(reason) => {
                        if text == "ABORT" {
                            self.prompt = None;
                            self.act(Action::Abort(reason))
                        } else {
                            self.hint = Some("not aborted: type ABORT exactly".into());
                            self.prompt = None;
                            None
                        }
                    }
                    Prompt::Resume | Prompt::AbortInterrupted => {
                        use crate::ceremony::answers::Recovery;
                        let (word, choice) = if prompt == Prompt::Resume {
                            ("RESUME", Recovery::Resume)
                        } else {
                            ("ABORT", Recovery::Abort)
                        };
                        if text != word {
                            self.hint = Some(format!("nothing chosen: type {word} exactly"));
                            self.prompt = None;
                            return None;
                        }
                        if !self.decision_visible() {
                            return None;
                        }
                        // The runner logs the choice (resumed or aborted) by the administrator.
                        self.prompt = None;
                        self.recover = Some(choice);
                        self.started = true;
                        None
                    }
                    Prompt::Deviation if !text.is_empty() => {
                        self.prompt = None;
                        self.act(Action::RecordDeviation(text))
                    }
                    Prompt::RejectKek(custodian) if !text.is_empty() => {
                        self.prompt = None;
                        self.act(Action::RejectKek {
                            custodian,
                            reason: text,
                        })
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// Everyone named in the script, in role order.
pub fn roster(script: &CeremonyScript) -> Vec<String> {
    let mut names = vec![script.administrator.clone(), script.witness.clone()];
    names.extend(script.auditor.clone());
    names.extend(script.custodians.iter().cloned());
    names
}
