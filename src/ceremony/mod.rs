//! The ceremony engine: a strict script, a pure state machine, and the runner that executes
//! the machine's effects through adapters (HSM, quorum, media, audit log, clock).
#![forbid(unsafe_code)]

pub mod answers;
pub mod facts;
pub mod host;
pub mod machine;
pub mod runner;
pub mod script;
mod script_targets;
