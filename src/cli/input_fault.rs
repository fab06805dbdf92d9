//! Why a command could not check what it was given, and its exit code: 3 when an input could
//! not be read (missing, unreadable, not a regular file), 1 when it was read and is wrong (a
//! KEK that is not a KEK, a record that does not parse, a file too large to be what it says).
use std::process::ExitCode;

use crate::byok::kek::KekError;
use crate::byok::simulated_kek::SimulatedKekError;
use crate::media::input::InputError;

#[derive(Debug)]
pub enum InputFault {
    Unreadable(String),
    Invalid(String),
}

impl InputFault {
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code())
    }

    pub fn code(&self) -> u8 {
        match self {
            InputFault::Unreadable(_) => 3,
            InputFault::Invalid(_) => 1,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            InputFault::Unreadable(m) | InputFault::Invalid(m) => m,
        }
    }
}

impl std::fmt::Display for InputFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl From<InputError> for InputFault {
    fn from(e: InputError) -> Self {
        if e.unreadable() {
            InputFault::Unreadable(e.to_string())
        } else {
            InputFault::Invalid(e.to_string())
        }
    }
}

impl From<KekError> for InputFault {
    fn from(e: KekError) -> Self {
        match e {
            KekError::Input(inner) => inner.into(),
            KekError::Read { .. } => InputFault::Unreadable(e.to_string()),
            other => InputFault::Invalid(other.to_string()),
        }
    }
}

impl From<SimulatedKekError> for InputFault {
    fn from(e: SimulatedKekError) -> Self {
        match e {
            SimulatedKekError::Input(inner) => inner.into(),
            other => InputFault::Invalid(other.to_string()),
        }
    }
}
