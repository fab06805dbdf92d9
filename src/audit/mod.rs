//! The tamper-evident audit log: the ceremony machine's event stream, hash-chained, fsynced,
//! with checkpoints signed inside the HSM.
#![forbid(unsafe_code)]

pub mod checkpoint;
pub mod log;
pub mod replay;
pub mod report;
pub mod time;
pub mod verify;
