//! Ceremony scripts: every shipped example parses, and malformed scripts are refused before
//! anything runs, with the line at fault.
use std::path::Path;

use byok_ceremony::ceremony::script::{CeremonyScript, ScriptError};

fn shipped(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("ceremony-scripts")
            .join(name),
    )
    .expect("shipped script")
}

#[test]
fn every_shipped_ceremony_script_is_valid() {
    for name in [
        "azure-keyvault-rsa3072.toml",
        "managed-hsm-aes256.toml",
        "ec-p384.toml",
        "rehearsal.toml",
    ] {
        let s = CeremonyScript::parse(&shipped(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!s.custodians.is_empty(), "{name}");
    }
}

/// Replaces `from` with `to` in the RSA example and returns the refusal.
fn refusal(from: &str, to: &str) -> (usize, String) {
    let text = shipped("azure-keyvault-rsa3072.toml");
    assert!(text.contains(from), "fixture drifted: {from}");
    let bad = text.replacen(from, to, 1);
    match CeremonyScript::parse(&bad) {
        Err(ScriptError::Syntax { line, message, .. })
        | Err(ScriptError::Invalid { line, message }) => (line, message),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("accepted a script with {to:?}"),
    }
}

fn line_of(needle: &str) -> usize {
    shipped("azure-keyvault-rsa3072.toml")
        .lines()
        .position(|l| l.contains(needle))
        .expect("needle")
        + 1
}

#[test]
fn an_unknown_field_is_refused_with_its_line() {
    let (line, message) = refusal(
        "keep_in_hsm = true",
        "keep_in_hsm = true\ncolour = \"blue\"",
    );
    assert_eq!(line, line_of("keep_in_hsm = true") + 1);
    assert!(message.contains("colour"), "{message}");
}

#[test]
fn a_threshold_above_the_custodian_count_is_refused() {
    let (line, message) = refusal("threshold = 3", "threshold = 6");
    assert_eq!(line, line_of("threshold = 3"));
    assert!(message.contains("M <= N"), "{message}");
}

#[test]
fn production_needs_at_least_two_custodians_in_the_quorum() {
    let (_, message) = refusal("threshold = 3", "threshold = 1");
    assert!(message.contains("M >= 2"), "{message}");
}

#[test]
fn oct_for_a_key_vault_kek_is_refused() {
    let (line, message) = refusal(
        "kty = \"RSA-HSM\"\nsize = 3072",
        "kty = \"oct-HSM\"\nsize = 256",
    );
    assert_eq!(line, line_of("kty = \"RSA-HSM\""));
    assert!(message.contains("Managed HSM"), "{message}");
}

#[test]
fn a_person_with_two_roles_is_refused() {
    let (line, message) = refusal("witness = \"Wendy Witness\"", "witness = \"carol\"");
    assert!(message.contains("two roles"), "{message}");
    // The second appearance is the one named.
    assert_eq!(line, line_of("custodians = [\"carol\""));
}

#[test]
fn wrong_types_bad_names_and_unknown_phases_are_refused() {
    let (line, message) = refusal("size = 3072", "size = \"big\"");
    assert_eq!(line, line_of("size = 3072"));
    assert!(!message.is_empty());
    let (_, message) = refusal(
        "name = \"contoso-payments-rsa3072\"",
        "name = \"../escape\"",
    );
    assert!(message.contains("outputs.name"), "{message}");
    let (_, message) = refusal("phase = \"export\"", "phase = \"celebrate\"");
    assert!(message.contains("celebrate"), "{message}");
    let (_, message) = refusal(
        "kty = \"RSA-HSM\"\nsize = 3072",
        "kty = \"RSA-HSM\"\nsize = 1024",
    );
    assert!(message.contains("2048, 3072 or 4096"), "{message}");
    let (_, message) = refusal("file = \"kek.pem\"", "file = \"../kek.pem\"");
    assert!(message.contains("plain file name"), "{message}");
    let (_, message) = refusal(
        "uri = \"pkcs11:token=byok-2026;serial=1234567890\"",
        "uri = \"pkcs11:token=x?pin-value=1234\"",
    );
    assert!(message.contains("PIN"), "{message}");
}

/// The shipped production ceremonies that rebuild the PIN from shares name exactly the
/// custodians and threshold of the shipped provisioning script: a team that copies both gets a
/// record the ceremony accepts.
#[test]
fn the_shipped_ceremonies_match_the_shipped_provisioning() {
    use byok_ceremony::ceremony::machine::QuorumMode;
    use byok_ceremony::quorum::script::ProvisioningScript;
    let provisioning =
        ProvisioningScript::parse(&shipped("provisioning-3of5.toml")).expect("provisioning");
    for name in ["azure-keyvault-rsa3072.toml", "managed-hsm-aes256.toml"] {
        let s = CeremonyScript::parse(&shipped(name)).expect("script");
        assert_eq!(s.custodians, provisioning.user_pin.custodians, "{name}");
        assert_eq!(
            s.quorum,
            QuorumMode::SplitPin {
                threshold: provisioning.user_pin.threshold
            },
            "{name}"
        );
    }
    let rehearsal = ProvisioningScript::parse(&shipped("provisioning-rehearsal.toml"))
        .expect("rehearsal provisioning");
    let s = CeremonyScript::parse(&shipped("rehearsal.toml")).expect("rehearsal");
    assert_eq!(s.custodians, rehearsal.user_pin.custodians);
}

/// Issue 13, items 5 and 6: control characters in any name, label, purpose or instruction
/// are refused at parse time, and one person cannot hold two roles by spelling.
#[test]
fn hostile_text_and_lookalike_names_are_refused() {
    let esc = "\\u001b[2J";
    for (from, to, needle) in [
        (
            "purpose = \"Create",
            format!("purpose = \"{esc}Create"),
            "control character U+001B",
        ),
        (
            "instruction = \"Each person",
            "instruction = \"\\u0007Each person".to_owned(),
            "control character U+0007",
        ),
        (
            "witness = \"Wendy Witness\"",
            format!("witness = \"Wendy{esc}\""),
            "control character",
        ),
        (
            "custodians = [\"carol\"",
            "custodians = [\"car\\u200Bol\"".to_owned(),
            "invisible",
        ),
        (
            "witness = \"Wendy Witness\"",
            "witness = \"alice admin\"".to_owned(),
            "same person",
        ),
        (
            "witness = \"Wendy Witness\"",
            "witness = \"Wendy Witness \"".to_owned(),
            "starts or ends with a space",
        ),
        (
            "witness = \"Wendy Witness\"",
            "witness = \"Wendy\\u00A0Witness\"".to_owned(),
            "space other than a plain one",
        ),
        (
            "custodians = [\"carol\", \"dave\"",
            "custodians = [\"carol\", \"Carol\"".to_owned(),
            "same person",
        ),
        (
            "auditor = \"Aaron Auditor\"",
            "auditor = \"Aaron Audit\\u043Er\"".to_owned(),
            "mixes writing systems",
        ),
        (
            "auditor = \"Aaron Auditor\"",
            format!("auditor = \"{}\"", "A".repeat(65)),
            "at most 64",
        ),
        (
            "purpose = \"Create",
            format!("purpose = \"{}", "p".repeat(1001)),
            "at most 1000",
        ),
    ] {
        let (_, message) = refusal(from, &to);
        assert!(message.contains(needle), "{to:?}: {message}");
        assert!(
            !message.chars().any(|c| c.is_control()),
            "the refusal itself must not echo control characters: {message:?}"
        );
    }
}
