//! The guided terminal UI: the people in the room see where they are, what to do next and
//! what the tool has just verified.
//!
//! State, input handling and drawing live apart: [`app::App`] holds what is on screen and
//! turns keys into the runner's [`Action`](crate::ceremony::runner::Action)s, [`screens`]
//! draws an `App` (and nothing else), and [`terminal`] runs the loop. The runner (HSM, media,
//! audit log) runs on a worker thread behind [`people::TuiPeople`], the UI's side of the
//! runner's `People` seam; the UI thread sleeps on one channel until a key, a result or the
//! clock's tick arrives.
//!
//! Secrets are never drawn: a share being typed lives only in the input handler's
//! `Zeroizing<String>` and the screen shows a count of bullets; the terminal is cleared after
//! each share.
pub mod app;
pub mod people;
pub mod picker;
pub mod provision;
pub mod replay;
pub mod screens;
pub mod share_entry;
pub mod terminal;
pub mod theme;
pub mod widgets;

pub use terminal::run;
