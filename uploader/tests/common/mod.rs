//! Shared by the integration tests: the test CA, the Key Vault, Cloud KMS and AWS KMS test
//! doubles, software-made ceremony outputs, and running the real byok-upload binary.
#![allow(dead_code)]

pub mod aws_double;
pub mod ca;
pub mod double;
pub mod fixtures;
pub mod gcp_double;
pub mod https;

use std::ffi::OsStr;
use std::process::{Command, Output};

use double::Double;

/// The byok-upload binary with a clean environment: only what the double needs (its CA root
/// through SSL_CERT_FILE, its token endpoint through AZURE_AUTHORITY_HOST, the test client
/// secret), so no proxy or real credential of the machine can leak into a test.
pub fn upload<I, S>(double: &Double, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    upload_with_env(double.env(), args)
}

pub fn upload_with_env<I, S>(env: Vec<(String, String)>, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(env!("CARGO_BIN_EXE_byok-upload"));
    command.env_clear().args(args);
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let out = command.output().expect("byok-upload runs");
    eprintln!(
        "--- status {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The kid printed on byok-upload import's `kid:` line.
pub fn printed_kid(out: &Output) -> String {
    stdout(out)
        .lines()
        .find_map(|l| l.strip_prefix("kid: "))
        .expect("a kid: line")
        .to_owned()
}
