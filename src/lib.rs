//! byok-ceremony: an air-gapped key ceremony for Azure Key Vault BYOK.
//!
//! `byok` knows the Azure side (KEK, file format, software verification), `hsm` drives any
//! PKCS#11 HSM, `media` writes outputs safely, `rehearse` runs a whole ceremony on a throwaway
//! software token, and `cli` holds the command implementations behind `main.rs`.
//!
//! `unsafe` (issue 14): every module but `hsm::ffi` starts with `#![forbid(unsafe_code)]`,
//! which no `allow` below it can lift. The crate root cannot forbid (ffi is inside it), so it
//! and `hsm/mod.rs` rely on the workspace's `deny`; tests/architecture.rs checks that each
//! module is covered and that these two files contain no `unsafe` at all.
/// `println!` for command output that may go to a pipe: when the reader has gone (`| head`),
/// the rest is dropped instead of panicking, and the command still finishes its work and
/// returns its exit code. (Rust ignores SIGPIPE, so a closed pipe is an EPIPE write error.)
#[macro_export]
macro_rules! say {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout());
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let text = format!($($arg)*);
        let _ = writeln!(std::io::stdout(), "{}", $crate::text::shown_lines(&text));
    }};
}

/// `eprintln!` for messages that may echo text from files (a kid, a name, a label): control
/// characters are shown as `\u{..}`, never passed to the terminal (issue 13).
#[macro_export]
macro_rules! tell {
    ($($arg:tt)*) => {{
        let text = format!($($arg)*);
        eprintln!("{}", $crate::text::shown_lines(&text));
    }};
}

pub mod audit;
pub mod byok;
pub mod ceremony;
pub mod cli;
pub mod cloud;
pub mod hsm;
pub mod hsm_types;
pub mod manifest;
pub mod media;
pub mod preflight;
pub mod quorum;
pub mod rehearse;
pub mod strict_toml;
pub mod text;
pub mod tui;
