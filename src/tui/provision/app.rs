//! What the provisioning screens show and what the keys do. No drawing and no I/O here: keys
//! become [`Reply`]s for the worker, worker messages update the state.
use std::path::PathBuf;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::handout::{HandOutTurn, Outcome, Stage};
use super::old_quorum::{OldQuorum, RESPLIT_WORD};
use super::people::{FromWorker, Reply, Summary};
use crate::quorum::provision::{ProvisionStep, TokenToChange};
use crate::quorum::script::{ProvisioningScript, TokenPlan};

/// The word typed before the token is changed.
pub const CONFIRM_WORD: &str = "PROVISION";

/// The screens, in the order the people meet them (plus help, drawn over any of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Script,
    Attendance,
    /// Re-split only: the old quorum presents its shares.
    Shares,
    Confirm,
    Working,
    HandOut,
    Summary,
    Stopped,
}

impl Screen {
    /// The numbered steps shown in the header.
    pub const STEPS: [Screen; 6] = [
        Screen::Script,
        Screen::Attendance,
        Screen::Confirm,
        Screen::Working,
        Screen::HandOut,
        Screen::Summary,
    ];

    /// The numbered steps of a re-split: the old quorum's shares come before the confirmation.
    pub const RESPLIT_STEPS: [Screen; 7] = [
        Screen::Script,
        Screen::Attendance,
        Screen::Shares,
        Screen::Confirm,
        Screen::Working,
        Screen::HandOut,
        Screen::Summary,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Screen::Script => "The script",
            Screen::Attendance => "Attendance",
            Screen::Shares => "Old shares",
            Screen::Confirm => "Confirm the token",
            Screen::Working => "The HSM works",
            Screen::HandOut => "Hand-out",
            Screen::Summary => "Summary",
            Screen::Stopped => "Stopped",
        }
    }

    /// 1-based step number, None for Stopped.
    pub fn step_number(self) -> Option<usize> {
        Screen::STEPS.iter().position(|s| *s == self).map(|i| i + 1)
    }
}

#[derive(Debug)]
pub struct ProvisionApp {
    pub script: Arc<ProvisioningScript>,
    pub script_path: String,
    pub script_sha256: String,
    pub out_dir: PathBuf,
    /// Every custodian, in the order of first appearance (user PIN, then SO PIN): the order
    /// of the hand-out.
    pub custodians: Vec<String>,
    pub present: Vec<String>,
    pub cursor: usize,
    /// The script was read and attendance is open.
    pub attendance_open: bool,
    /// Attendance is closed: the worker runs.
    pub started: bool,
    /// The worker waits for the typed confirmation to change this token.
    pub approve: Option<TokenToChange>,
    /// The confirmation was typed: from here on the token may have been changed.
    pub approved: bool,
    /// The confirmation word being typed (not a secret).
    pub typed: String,
    /// The step of the HSM work that runs now.
    pub step: Option<ProvisionStep>,
    pub turn: Option<HandOutTurn>,
    pub handed_out: Vec<String>,
    pub finished: Option<Result<Summary, String>>,
    pub hint: Option<String>,
    pub help: bool,
    /// "HH:MM:SS", refreshed by the clock's tick.
    pub clock: String,
    pub quit: bool,
    /// The terminal must be cleared (screen and scrollback) before the next frame: a share
    /// was on it.
    pub clear_requested: bool,
    /// Colour where the terminal has it; the text is the same without.
    pub theme: crate::tui::theme::Theme,
    /// A re-split: the old quorum that presents its shares (None: provisioning).
    pub resplit: Option<OldQuorum>,
}

impl ProvisionApp {
    pub fn new(
        script: Arc<ProvisioningScript>,
        script_path: String,
        script_sha256: String,
        out_dir: PathBuf,
    ) -> ProvisionApp {
        let mut custodians = script.user_pin.custodians.clone();
        for c in script.so_pin.iter().flat_map(|g| &g.custodians) {
            if !custodians.contains(c) {
                custodians.push(c.clone());
            }
        }
        ProvisionApp {
            script,
            script_path,
            script_sha256,
            out_dir,
            custodians,
            present: Vec::new(),
            cursor: 0,
            attendance_open: false,
            started: false,
            approve: None,
            approved: false,
            typed: String::new(),
            step: None,
            turn: None,
            handed_out: Vec::new(),
            finished: None,
            hint: None,
            help: false,
            clock: String::from("--:--:--"),
            quit: false,
            clear_requested: false,
            theme: crate::tui::theme::Theme::PLAIN,
            resplit: None,
        }
    }

    /// The guided re-split: the same screens, the old quorum's shares before the
    /// confirmation. Attendance lists the new custodians, then holders of an old share who
    /// are not among them.
    pub fn for_resplit(
        script: Arc<ProvisioningScript>,
        script_path: String,
        script_sha256: String,
        out_dir: PathBuf,
        old: OldQuorum,
    ) -> ProvisionApp {
        let mut app = ProvisionApp::new(script, script_path, script_sha256, out_dir);
        for holder in &old.holders {
            if !app.custodians.contains(holder) {
                app.custodians.push(holder.clone());
            }
        }
        app.resplit = Some(old);
        app
    }

    /// The numbered steps shown in the header.
    pub fn steps(&self) -> &'static [Screen] {
        if self.resplit.is_some() {
            &Screen::RESPLIT_STEPS
        } else {
            &Screen::STEPS
        }
    }

    /// 1-based step number of `screen` in this flow, None for Stopped.
    pub fn step_number(&self, screen: Screen) -> Option<usize> {
        self.steps()
            .iter()
            .position(|s| *s == screen)
            .map(|i| i + 1)
    }

    /// The word typed before the token is changed.
    pub fn confirm_word(&self) -> &'static str {
        if self.resplit.is_some() {
            RESPLIT_WORD
        } else {
            CONFIRM_WORD
        }
    }

    pub fn screen(&self) -> Screen {
        match &self.finished {
            Some(Ok(_)) => return Screen::Summary,
            Some(Err(_)) => return Screen::Stopped,
            None => {}
        }
        if !self.started {
            return if self.attendance_open {
                Screen::Attendance
            } else {
                Screen::Script
            };
        }
        let taking_shares = !self.approved && self.resplit.as_ref().is_some_and(|r| r.opened);
        if self.approve.is_some() {
            Screen::Confirm
        } else if self.turn.is_some() {
            Screen::HandOut
        } else if taking_shares {
            Screen::Shares
        } else {
            Screen::Working
        }
    }

    /// The token's name for the header: the new label, or how the adopted token is selected.
    pub fn token_name(&self) -> String {
        match &self.script.token {
            TokenPlan::Initialise { label, .. } => format!("\"{label}\""),
            TokenPlan::Adopt { selector } => selector.to_string(),
        }
    }

    /// Which PINs `name` guards, for the attendance list.
    pub fn guards(&self, name: &str) -> String {
        if let Some(old) = &self.resplit {
            let mut what = Vec::new();
            if old.holds(name) {
                what.push("holds an old share");
            }
            if self.script.user_pin.custodians.iter().any(|c| c == name) {
                what.push("receives a new share");
            }
            return what.join(", ");
        }
        let mut pins = Vec::new();
        if self.script.user_pin.custodians.iter().any(|c| c == name) {
            pins.push("user PIN");
        }
        if let Some(so) = &self.script.so_pin {
            if so.custodians.iter().any(|c| c == name) {
                pins.push("SO PIN");
            }
        }
        pins.join(", ")
    }

    /// The worker waits for the people (a confirmation or a hand-out), or has finished: the
    /// only times quitting leaves the token in a known state.
    pub fn may_quit(&self) -> bool {
        !self.started
            || self.finished.is_some()
            || self.approve.is_some()
            || self.turn.is_some()
            || self.resplit.as_ref().is_some_and(|r| r.wanted.is_some())
    }

    /// A message from the worker.
    pub fn on_worker(&mut self, msg: FromWorker) {
        match msg {
            FromWorker::Approve(token) => {
                self.approve = Some(token);
                self.typed.clear();
            }
            FromWorker::Progress(step) => self.step = Some(step),
            FromWorker::HandOut(turn) => {
                self.help = false;
                self.hint = None;
                self.turn = Some(HandOutTurn::new(turn));
            }
            FromWorker::ShareWanted(so_far) => {
                if let Some(old) = self.resplit.as_mut() {
                    old.want(so_far);
                }
            }
            FromWorker::ShareChecked(check) => {
                if let Some(old) = self.resplit.as_mut() {
                    old.checked(check);
                }
            }
            FromWorker::Finished(result) => {
                // Nothing of a share may stay behind, whatever happened.
                if self.turn.take().is_some() {
                    self.clear_requested = true;
                }
                if let Some(old) = self.resplit.as_mut() {
                    old.wanted = None;
                    if old.entry.take().is_some() {
                        self.clear_requested = true;
                    }
                }
                self.approve = None;
                self.finished = Some(result);
            }
        }
    }

    /// A key press: maybe a reply for the worker.
    pub fn on_key(&mut self, key: KeyEvent) -> Option<Reply> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.emergency_exit();
            return None;
        }
        if self.help {
            // Help closes first: Esc here must never also decline or hide something.
            if matches!(key.code, KeyCode::Esc | KeyCode::Char('?') | KeyCode::Enter) {
                self.help = false;
            }
            return None;
        }
        if self.approve.is_some() {
            return self.on_confirm_key(key);
        }
        if self.turn.is_some() {
            return self.on_turn_key(key);
        }
        let typing_share = self.resplit.as_ref().is_some_and(|r| r.entry.is_some());
        if self.screen() == Screen::Shares
            && (typing_share || !matches!(key.code, KeyCode::Char('?' | 'q')))
        {
            return self.on_shares_key(key);
        }
        if key.code == KeyCode::Char('?') {
            self.help = true;
            return None;
        }
        match (self.screen(), key.code) {
            (Screen::Script, KeyCode::Enter) => self.attendance_open = true,
            (
                Screen::Script | Screen::Attendance | Screen::Summary | Screen::Stopped,
                KeyCode::Char('q'),
            ) => {
                self.quit = true;
            }
            // Leaving while the old shares are taken: the token was not touched.
            (Screen::Shares, KeyCode::Char('q')) if self.may_quit() => self.quit = true,
            (Screen::Attendance, KeyCode::Up) => self.cursor = self.cursor.saturating_sub(1),
            (Screen::Attendance, KeyCode::Down) => {
                self.cursor = (self.cursor + 1).min(self.custodians.len().saturating_sub(1));
            }
            (Screen::Attendance, KeyCode::Enter | KeyCode::Char(' ')) => self.check_in(),
            (Screen::Attendance, KeyCode::Char('c')) => self.close_attendance(),
            (Screen::Attendance, KeyCode::Esc) => self.attendance_open = false,
            (Screen::Working, _) => {
                self.hint = Some("the HSM is working; wait for it".into());
            }
            _ => {}
        }
        None
    }

    fn emergency_exit(&mut self) {
        if !self.may_quit() {
            self.hint = Some(
                "the HSM is working: wait until this step ends (quitting now could leave the token half-changed)"
                    .into(),
            );
            return;
        }
        if self.turn.take().is_some() {
            self.clear_requested = true;
        }
        if self
            .resplit
            .as_mut()
            .is_some_and(|r| r.entry.take().is_some())
        {
            self.clear_requested = true;
        }
        self.quit = true;
    }

    fn on_shares_key(&mut self, key: KeyEvent) -> Option<Reply> {
        let old = self.resplit.as_mut()?;
        let (reply, hint) = old.on_key(key, &self.present, &mut self.clear_requested);
        if hint.is_some() || reply.is_some() {
            self.hint = hint;
        }
        reply
    }

    fn check_in(&mut self) {
        let Some(name) = self.custodians.get(self.cursor).cloned() else {
            return;
        };
        if self.present.contains(&name) {
            self.hint = Some(format!("{name} has already checked in"));
            return;
        }
        self.present.push(name);
        self.hint = None;
        // The next one down, so check-in is Enter, Enter, Enter.
        if self.cursor + 1 < self.custodians.len() {
            self.cursor += 1;
        }
    }

    fn close_attendance(&mut self) {
        if let Some(old) = &self.resplit {
            return self.close_resplit_attendance(old.holders.clone(), old.files.len());
        }
        let missing: Vec<&str> = self
            .custodians
            .iter()
            .filter(|c| !self.present.contains(c))
            .map(String::as_str)
            .collect();
        if missing.is_empty() {
            self.started = true;
            self.hint = None;
        } else {
            self.hint = Some(format!(
                "{} not checked in: every custodian receives their share in person",
                missing.join(", ")
            ));
        }
    }

    /// A re-split goes on when every new custodian is here (each receives their new share in
    /// person) and enough holders of an old share to make up the old quorum with the share
    /// files given.
    fn close_resplit_attendance(&mut self, holders: Vec<String>, files: usize) {
        let Some(needed) = self.resplit.as_ref().map(|r| usize::from(r.threshold)) else {
            return;
        };
        let missing: Vec<&str> = self
            .script
            .user_pin
            .custodians
            .iter()
            .filter(|c| !self.present.contains(c))
            .map(String::as_str)
            .collect();
        let holding = holders.iter().filter(|h| self.present.contains(h)).count();
        self.hint = if !missing.is_empty() {
            Some(format!(
                "{} not checked in: every new custodian receives their share in person",
                missing.join(", ")
            ))
        } else if holding + files < needed {
            Some(format!(
                "{holding} holder(s) of an old share checked in{}; {needed} old shares are needed",
                if files > 0 {
                    format!(" and {files} share file(s) given")
                } else {
                    String::new()
                }
            ))
        } else {
            self.started = true;
            None
        };
    }

    fn on_confirm_key(&mut self, key: KeyEvent) -> Option<Reply> {
        match key.code {
            KeyCode::Char('?') if self.typed.is_empty() => self.help = true,
            KeyCode::Char(c) if self.typed.len() < 40 => self.typed.push(c),
            KeyCode::Backspace => {
                self.typed.pop();
            }
            // Stopping is the safe way out: nothing has been changed or written yet.
            KeyCode::Esc => {
                self.approve = None;
                self.typed.clear();
                return Some(Reply::Declined);
            }
            KeyCode::Enter => {
                let typed = std::mem::take(&mut self.typed);
                let word = self.confirm_word();
                if typed.trim() == word {
                    self.approve = None;
                    self.approved = true;
                    self.hint = None;
                    return Some(Reply::Approved);
                }
                self.hint = Some(format!("that is not {word}; type it exactly"));
            }
            _ => {}
        }
        None
    }

    fn on_turn_key(&mut self, key: KeyEvent) -> Option<Reply> {
        let turn = self.turn.as_mut()?;
        let outcome = match (turn.stage, key.code) {
            (Stage::Called, KeyCode::Char('?')) => {
                self.help = true;
                Outcome::Nothing
            }
            (Stage::Called, KeyCode::Enter) => {
                turn.reveal();
                Outcome::Nothing
            }
            (Stage::Shown, KeyCode::Enter) => turn.copied(),
            (Stage::Shown, KeyCode::Esc) | (Stage::Check, KeyCode::Esc) => turn.back(),
            (Stage::Check, KeyCode::Char(c)) => {
                turn.push(c);
                Outcome::Nothing
            }
            (Stage::Check, KeyCode::Backspace) => {
                turn.pop();
                Outcome::Nothing
            }
            (Stage::Check, KeyCode::Enter) => turn.check(),
            _ => Outcome::Nothing,
        };
        self.hint = None;
        match outcome {
            Outcome::Nothing => None,
            Outcome::Hidden => {
                self.clear_requested = true;
                None
            }
            Outcome::Mismatch => {
                self.hint = Some(
                    "that is not how your share ends: check your copy (Esc shows the share again)"
                        .into(),
                );
                None
            }
            Outcome::Done => {
                if let Some(done) = self.turn.take() {
                    self.handed_out.push(done.turn.custodian.clone());
                }
                self.clear_requested = true;
                Some(Reply::HandedOut)
            }
        }
    }
}
