//! The `gcp` and `aws` subcommands of the byok-upload binary: parse, call the library, print,
//! exit codes (the same as the Azure commands: 0 success, 1 a check failed or the cloud
//! refused, 2 bad usage, 3 the operation could not run).
pub mod aws;
pub mod gcp;

use std::process::ExitCode;

use byok_ceremony::byok::fingerprint::{Fingerprint, pgp_words_for};
use byok_upload::read_aloud::{READ_ALOUD, fingerprint_lines};

pub fn fail(code: u8, message: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}

pub fn warn_all(warnings: &[String]) {
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
}

/// The fingerprint lines and the read-aloud reminder, as the Azure fetch-kek prints them.
pub fn print_fingerprint(fingerprint: &Fingerprint) {
    for line in fingerprint_lines(fingerprint) {
        println!("{line}");
    }
    println!("{READ_ALOUD}");
}

/// The checked hash of the wrapped file, as the Azure import prints the .byok file's.
pub fn print_wrapped_hash(what: &str, sha256: &[u8; 32], typed: bool) {
    println!(
        "checked: the {what}'s SHA-256 is {}{}",
        hex::encode(sha256),
        if typed { ", as typed" } else { "" }
    );
    println!("  SHA-256 words: {}", pgp_words_for(sha256).join(" "));
}
