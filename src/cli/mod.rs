//! Command implementations that read files and print results; `main.rs` only parses and
//! dispatches.
#![forbid(unsafe_code)]

pub mod audit;
pub mod input_fault;
pub mod preflight;
pub mod provision;
pub mod run;
pub mod verify_byok;
