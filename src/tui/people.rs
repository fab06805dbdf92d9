//! The UI's side of the runner's `People` seam: the runner (on its worker thread) sends what
//! it shows and asks, and blocks until the UI answers.
use std::sync::mpsc::{Receiver, Sender};

use crate::ceremony::machine::{Effect, Phase};
use crate::ceremony::runner::{Action, People, RunError, View};

/// What the runner tells the UI.
#[derive(Debug)]
pub enum FromRunner {
    /// An event is in the log: show the new state.
    Update(Box<View>),
    /// The runner waits for the people's next action; `problem` is what just went wrong.
    Ask {
        view: Box<View>,
        problem: Option<String>,
    },
    /// The people's last action broke a rule of the ceremony and was refused (nothing was
    /// logged or done); the runner waits for the next action. Shown as a line, not a stop.
    Refused { view: Box<View>, rule: String },
    /// A decisive effect waits for a typed confirmation.
    Approve { view: Box<View>, effect: Effect },
    /// The run ended: a summary, or why it stopped.
    Finished(Result<Finished, String>),
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub phase: Phase,
    pub log_path: String,
    pub head: String,
    pub files: Vec<(String, String)>,
}

/// What the UI answers.
#[derive(Debug)]
pub enum Reply {
    Act(Action),
    Approved,
    /// The room stopped at a typed confirmation (Esc): the effect does not run.
    Declined,
}

/// Everything that wakes the UI thread.
#[derive(Debug)]
pub enum Wake {
    Runner(FromRunner),
    Input(crossterm::event::Event),
    /// The input thread stopped (the terminal went away).
    InputClosed,
}

/// The runner's end of the channels.
#[derive(Debug)]
pub struct TuiPeople {
    to_ui: Sender<Wake>,
    replies: Receiver<Reply>,
}

impl TuiPeople {
    pub fn new(to_ui: Sender<Wake>, replies: Receiver<Reply>) -> TuiPeople {
        TuiPeople { to_ui, replies }
    }

    fn send(&self, msg: FromRunner, phase: Phase) -> Result<(), RunError> {
        self.to_ui
            .send(Wake::Runner(msg))
            .map_err(|_| RunError::Interrupted(phase))
    }
}

impl People for TuiPeople {
    fn next(&mut self, view: &View, problem: Option<RunError>) -> Result<Action, RunError> {
        let phase = view.state.phase;
        let message = match problem {
            Some(RunError::Refused(r)) => FromRunner::Refused {
                view: Box::new(view.clone()),
                rule: r.rule,
            },
            problem => FromRunner::Ask {
                view: Box::new(view.clone()),
                problem: problem.map(|p| p.to_string()),
            },
        };
        self.send(message, phase)?;
        loop {
            match self.replies.recv() {
                Ok(Reply::Act(action)) => return Ok(action),
                Ok(Reply::Approved | Reply::Declined) => continue,
                Err(_) => return Err(RunError::Interrupted(phase)),
            }
        }
    }

    fn approve(&mut self, effect: &Effect, view: &View) -> Result<(), RunError> {
        let phase = view.state.phase;
        self.send(
            FromRunner::Approve {
                view: Box::new(view.clone()),
                effect: effect.clone(),
            },
            phase,
        )?;
        loop {
            match self.replies.recv() {
                Ok(Reply::Approved) => return Ok(()),
                Ok(Reply::Declined) => {
                    let word = crate::tui::app::approve_word(effect);
                    return Err(RunError::Step {
                        phase,
                        reason: format!(
                            "{word} was not typed: the room stopped before this step, and nothing was done; r asks again, a aborts"
                        ),
                    });
                }
                // An action typed while a confirmation is pending is not for this step.
                Ok(Reply::Act(_)) => continue,
                Err(_) => return Err(RunError::Interrupted(phase)),
            }
        }
    }

    fn observe(&mut self, view: &View) {
        // A UI that has gone away is noticed at the next question.
        let _ = self
            .to_ui
            .send(Wake::Runner(FromRunner::Update(Box::new(view.clone()))));
    }
}
