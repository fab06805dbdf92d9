//! Command implementations that read files and print results; `main.rs` only parses and
//! dispatches.
pub mod verify_byok;
