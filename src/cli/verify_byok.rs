//! `byok-ceremony verify-byok`: one clear line per problem, exit 0 only for a correct file.
use crate::cli::input_fault::InputFault;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::byok::kek::Kek;
use crate::byok::simulated_kek::load_private_key;
use crate::byok::verify::{VerifyInputs, verify_byok};

/// What the command was given.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub kek: PathBuf,
    pub kek_json: Option<PathBuf>,
    pub kid: Option<String>,
    pub kek_private: Option<PathBuf>,
    pub public_key: Option<PathBuf>,
    pub allow_zero_padding: bool,
}

/// Runs the check and prints the verdict. Exit 0: correct as far as it could be checked;
/// 1: problems found; 3: could not run (an input could not be read).
pub fn run(file: &Path, inputs: &Inputs) -> ExitCode {
    match check(file, inputs) {
        Ok(lines) if lines.problems.is_empty() => {
            for w in &lines.warnings {
                crate::say!("warning: {w}");
            }
            for i in &lines.info {
                crate::say!("{i}");
            }
            // Say exactly what was proven: without the KEK's private key the wrap itself is
            // not checked, and a KEK of the same size would pass just the same.
            if lines.unwrapped {
                crate::say!(
                    "OK: {} unwraps with the KEK's private key to a well-formed key{}; its structure, kid and length fit this KEK",
                    file.display(),
                    if inputs.public_key.is_some() {
                        " whose public key is the one given"
                    } else {
                        ""
                    }
                );
            } else {
                crate::say!(
                    "OK (structure only): {} is a well-formed .byok whose header, kid and length fit this KEK; the wrap itself was not checked: only the KEK's holder (Azure, on import) can unwrap it",
                    file.display()
                );
            }
            ExitCode::SUCCESS
        }
        Ok(lines) => {
            for w in &lines.warnings {
                crate::say!("warning: {w}");
            }
            for p in &lines.problems {
                crate::say!("problem: {p}");
            }
            crate::say!(
                "FAILED: {} has {} problem(s); do not upload it",
                file.display(),
                lines.problems.len()
            );
            ExitCode::from(1)
        }
        Err(e) => {
            crate::tell!("error: {e}");
            e.exit_code()
        }
    }
}

/// The printed verdict.
#[derive(Debug, Default)]
pub struct Lines {
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
    pub info: Vec<String>,
    /// The key inside was unwrapped in software (a KEK private key was given).
    pub unwrapped: bool,
}

/// Reads the inputs and runs the verifier; `Err` when an input cannot be read (exit 3) or is
/// not what it should be (a KEK that is not one: exit 1).
pub fn check(file: &Path, inputs: &Inputs) -> Result<Lines, InputFault> {
    let bytes = crate::media::input::read_input(file, crate::media::input::BYOK)?;
    let kek = Kek::load(&inputs.kek, inputs.kek_json.as_deref(), None)?;
    let private = match &inputs.kek_private {
        Some(p) => Some(load_private_key(p)?),
        None => None,
    };
    let expected = match &inputs.public_key {
        Some(p) => Some(read_spki(p)?),
        None => None,
    };
    let report = verify_byok(
        &bytes,
        &VerifyInputs {
            kek: &kek,
            kid: inputs.kid.as_deref(),
            kek_private: private.as_ref(),
            expected_public_spki_der: expected.as_deref(),
            allow_zero_padding: inputs.allow_zero_padding,
        },
    );
    let mut lines = Lines {
        problems: report.problems.clone(),
        warnings: kek.warnings().to_vec(),
        info: Vec::new(),
        unwrapped: report.recovered.is_some(),
    };
    lines.warnings.extend(report.warnings.iter().cloned());
    if let Some(r) = &report.recovered {
        lines.info.push(format!("unwrapped: {}", r.describe()));
    }
    Ok(lines)
}

fn read_spki(path: &Path) -> Result<Vec<u8>, InputFault> {
    let text =
        crate::media::input::read_text_input(path, crate::media::input::KEK)?.ok_or_else(|| {
            InputFault::Invalid(format!(
                "the public key {} is not text; give a PEM file",
                path.display()
            ))
        })?;
    let (label, der) = der::pem::decode_vec(text.trim().as_bytes()).map_err(|e| {
        InputFault::Invalid(format!(
            "{} is not a PEM public key ({e}); give the target's SubjectPublicKeyInfo PEM (\"BEGIN PUBLIC KEY\")",
            path.display()
        ))
    })?;
    if label != "PUBLIC KEY" {
        return Err(InputFault::Invalid(format!(
            "{} holds a \"{label}\" PEM; give the target's SubjectPublicKeyInfo PEM (\"BEGIN PUBLIC KEY\")",
            path.display()
        )));
    }
    Ok(der)
}
