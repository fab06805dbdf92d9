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
        "three-clouds.toml",
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

/// Replaces `from` with `to` in the three-cloud example and returns the refusal's message.
fn clouds_refusal(from: &str, to: &str) -> String {
    let text = shipped("three-clouds.toml");
    assert!(text.contains(from), "fixture drifted: {from}");
    match CeremonyScript::parse(&text.replacen(from, to, 1)) {
        Err(ScriptError::Syntax { message, .. }) | Err(ScriptError::Invalid { message, .. }) => {
            message
        }
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("accepted a script with {to:?}"),
    }
}

#[test]
fn the_three_cloud_example_names_its_clouds_in_order_with_their_algorithms() {
    use byok_ceremony::cloud::Cloud;
    let s = CeremonyScript::parse(&shipped("three-clouds.toml")).expect("valid");
    let clouds: Vec<(Cloud, &str)> = s
        .targets
        .iter()
        .map(|t| (t.cloud, t.algorithm.name))
        .collect();
    assert_eq!(
        clouds,
        [
            (Cloud::Azure, "CKM_RSA_AES_KEY_WRAP"),
            (Cloud::Gcp, "RSA_OAEP_3072_SHA256_AES_256"),
            (Cloud::Aws, "RSA_AES_KEY_WRAP_SHA_256")
        ]
    );
    assert!(s.lists_targets);
    let config = s.machine_config();
    assert_eq!(config.targets.len(), 3, "the log pins the targets");
    assert_eq!(s.targets[2].kek_bits, Some(3072));
    assert_eq!(
        s.targets[2].token_file(&s.output_name).as_deref(),
        Some("contoso-payments-3clouds.aws.import-token.bin")
    );
    // A [kek] script keeps its log as it was: no targets pinned.
    let one = CeremonyScript::parse(&shipped("azure-keyvault-rsa3072.toml")).expect("valid");
    assert!(!one.lists_targets && one.machine_config().targets.is_empty());
}

#[test]
fn what_a_cloud_would_refuse_is_refused_when_the_script_is_read() {
    let cases = [
        // An RSA key under the key-only RSA-OAEP method.
        (
            "import_method = \"RSA_OAEP_3072_SHA256_AES_256\"",
            "import_method = \"RSA_OAEP_3072_SHA256\"",
            "use RSA_OAEP_3072_SHA256_AES_256",
        ),
        (
            "wrapping_algorithm = \"RSA_AES_KEY_WRAP_SHA_256\"",
            "wrapping_algorithm = \"RSAES_OAEP_SHA_256\"",
            "use RSA_AES_KEY_WRAP_SHA_256",
        ),
        (
            "wrapping_algorithm = \"RSA_AES_KEY_WRAP_SHA_256\"",
            "wrapping_algorithm = \"RSAES_PKCS1_V1_5\"",
            "since 2023",
        ),
        (
            "protection_level = \"HSM\"",
            "protection_level = \"SOFTWARE\"",
            "must be HSM",
        ),
        (
            "wrapping_key_spec = \"RSA_3072\"",
            "wrapping_key_spec = \"RSA_1024\"",
            "RSA_2048, RSA_3072 or RSA_4096",
        ),
        (
            "job_created = \"2026-12-07T08:00:00Z\"",
            "job_created = \"7 Dec 2026\"",
            "RFC 3339",
        ),
        (
            "cloud = \"aws\"",
            "cloud = \"oci\"",
            "use azure, gcp or aws",
        ),
        (
            "cloud = \"aws\"",
            "cloud = \"gcp\"",
            "`key` is not a field of gcp targets",
        ),
        (
            "cloud = \"aws\"\nkey",
            "cloud = \"azure\"\nkey",
            "not a field of azure targets",
        ),
        (
            "kek = \"kek.pem\"",
            "kek = \"../kek.pem\"",
            "plain file name",
        ),
        (
            "import_job = \"projects/contoso-payments/",
            "import_job = \"contoso-payments/",
            "projects/P/locations/L/keyRings/R/importJobs/J",
        ),
        (
            "kid = \"https://contoso-payments.vault.azure.net/",
            "fingerprint = \"abc\"\nkid = \"https://contoso-payments.vault.azure.net/",
            "64 hex digits",
        ),
        (
            "parameters_valid_to = \"2026-12-08T07:30:00Z\"\n",
            "",
            "the aws target needs `parameters_valid_to`",
        ),
    ];
    for (from, to, says) in cases {
        let message = clouds_refusal(from, to);
        assert!(message.contains(says), "{to:?}: {message}");
    }
}

#[test]
fn the_targets_and_a_kek_section_do_not_mix_and_each_cloud_comes_once() {
    let message = clouds_refusal(
        "[[targets]]\ncloud = \"azure\"",
        "[kek]\nfile = \"kek.pem\"\n\n[[targets]]\ncloud = \"azure\"",
    );
    assert!(message.contains("not both"), "{message}");
    let message = clouds_refusal(
        "[outputs]",
        "[[targets]]\ncloud = \"azure\"\nkek = \"other.pem\"\nkid = \"https://other.vault.azure.net/keys/k/0123456789abcdef0123456789abcdef\"\n\n[outputs]",
    );
    assert!(message.contains("a second azure target"), "{message}");
    // A P-521 key has no place in Cloud KMS.
    let text = shipped("three-clouds.toml").replace(
        "kty = \"RSA-HSM\"\nsize = 3072",
        "kty = \"EC-HSM\"\ncurve = \"P-521\"",
    );
    let err = CeremonyScript::parse(&text).expect_err("P-521 for Google");
    assert!(err.to_string().contains("no P-521"), "{err}");
}
