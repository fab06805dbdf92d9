//! The real binary, end to end: `rehearse --headless` on both software tokens, then
//! `verify-byok` on its output, and the refusals a careful operator relies on.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use byok_ceremony::hsm::throwaway::SoftToken;
use byok_ceremony::manifest::Manifest;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_byok-ceremony"))
}

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

fn module(kind: SoftToken) -> PathBuf {
    kind.find_module()
        .unwrap_or_else(|| panic!("{} missing: run scripts/test.sh", kind.name()))
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("the binary runs");
    eprintln!(
        "--- stdout\n{}--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn out_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("rehearse-cli-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temp dir")
}

/// The test KEK made by the independent implementation (tools/independent-byok).
const KEK_PUBLIC: &str = "independent/kek-2048.public.pem";
const KEK_PRIVATE: &str = "independent/kek-2048.private.pem";
const KID: &str =
    "https://contoso-test.vault.azure.net/keys/test-kek/0123456789abcdef0123456789abcdef";

#[test]
fn rehearsal_with_a_given_kek_verifies_with_verify_byok_on_both_tokens() {
    for kind in [SoftToken::Kryoptic, SoftToken::SoftHsm2] {
        let dir = out_dir();
        let out = run(bin()
            .args([
                "rehearse",
                "--headless",
                "--name",
                "t",
                "--key-type",
                "EC-HSM",
            ])
            .args(["--curve", "P-256", "--kid", KID])
            .arg("--out")
            .arg(dir.path())
            .arg("--module")
            .arg(module(kind))
            .arg("--kek")
            .arg(data(KEK_PUBLIC))
            .arg("--kek-private")
            .arg(data(KEK_PRIVATE)));
        assert!(out.status.success(), "{kind:?} rehearsal failed");
        let manifest =
            Manifest::parse(&std::fs::read(dir.path().join("t.manifest.json")).expect("manifest"))
                .expect("strict manifest parse");
        assert_eq!(manifest.kid, KID);
        assert_eq!(manifest.kty, "EC-HSM");
        assert_eq!(manifest.crv.as_deref(), Some("P-256"));
        let byok = std::fs::read(dir.path().join("t.byok")).expect("byok");
        assert_eq!(
            manifest.byok_sha256,
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&byok))
        );
        assert_eq!(
            manifest.rehearsal_grade_reasons.is_empty(),
            kind == SoftToken::Kryoptic
        );
        let pem = dir.path().join("target.pem");
        std::fs::write(&pem, manifest.public_key_pem.expect("public key")).expect("write pem");

        let mut verify = bin();
        verify
            .arg("verify-byok")
            .arg(dir.path().join("t.byok"))
            .arg("--kek")
            .arg(data(KEK_PUBLIC))
            .args(["--kid", KID])
            .arg("--kek-private")
            .arg(data(KEK_PRIVATE))
            .arg("--public-key")
            .arg(&pem);
        if kind == SoftToken::SoftHsm2 {
            // Strict by default: SoftHSM2's zero padding is a problem...
            let strict = run(&mut verify);
            assert_eq!(
                strict.status.code(),
                Some(1),
                "zero padding must fail strict verification"
            );
            assert!(String::from_utf8_lossy(&strict.stdout).contains("trailing zero bytes"));
            // ...and a warning when the operator accepts rehearsal-grade output.
            verify.arg("--allow-zero-padding");
        }
        let ok = run(&mut verify);
        assert!(
            ok.status.success(),
            "{kind:?}: verify-byok rejected a good file"
        );
        assert!(String::from_utf8_lossy(&ok.stdout).contains("OK:"));
    }
}

#[test]
fn default_rehearsal_prefers_the_byte_exact_token_and_never_overwrites() {
    let dir = out_dir();
    let rehearse = || {
        let mut c = bin();
        c.args(["rehearse", "--headless", "--key-type", "oct-HSM", "--out"])
            .arg(dir.path())
            .env("BYOK_KRYOPTIC_MODULE", module(SoftToken::Kryoptic));
        c
    };
    let first = run(&mut rehearse());
    assert!(first.status.success());
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        stdout.contains("kryoptic"),
        "the byte-exact token was not chosen"
    );
    assert!(stdout.contains("check value matches"));
    let path = dir.path().join("rehearsal-aes256.byok");
    let before = std::fs::read(&path).expect("byok");

    let second = run(&mut rehearse());
    assert_eq!(second.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&second.stderr).contains("never overwrites"));
    assert_eq!(
        std::fs::read(&path).expect("byok"),
        before,
        "the output was touched"
    );
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "rehearsal-aes256.audit.jsonl",
            "rehearsal-aes256.byok",
            "rehearsal-aes256.manifest.json",
            "rehearsal-aes256.provisioning-record.json"
        ],
        "exactly the contract's outputs and the record"
    );
    // The rehearsal's log is a real ceremony log: it verifies, signatures and artifacts too.
    let audit = run(bin()
        .args(["audit", "verify"])
        .arg(dir.path().join("rehearsal-aes256.audit.jsonl"))
        .arg("--record")
        .arg(dir.path().join("rehearsal-aes256.provisioning-record.json"))
        .arg("--media")
        .arg(dir.path()));
    assert!(
        audit.status.success(),
        "the rehearsal's log does not verify"
    );
}

#[test]
fn bad_requests_are_refused_with_a_clear_line() {
    let dir = out_dir();
    let cases: [(&[&str], &str); 4] = [
        (
            &["--key-type", "RSA-HSM", "--key-size", "1024"],
            "2048, 3072 or 4096",
        ),
        (&["--key-type", "oct-HSM", "--kid", KID], "Managed HSM"),
        (&["--name", "../escape"], "cannot be used for output files"),
        (&["--module", "/usr/lib/libc.so.6"], "not a software token"),
    ];
    for (args, expected) in cases {
        let mut c = bin();
        c.args(["rehearse", "--headless", "--out"])
            .arg(dir.path())
            .args(args);
        if args.contains(&"--kid") {
            c.arg("--kek").arg(data(KEK_PUBLIC));
        }
        let out = run(&mut c);
        assert!(!out.status.success(), "{args:?} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("list").count(),
        0,
        "nothing written"
    );
    let missing = run(bin()
        .args(["rehearse", "--headless", "--out"])
        .arg(dir.path().join("does-not-exist")));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("does not exist"));
}

#[test]
fn verify_byok_prints_one_line_per_problem_and_fails() {
    let dir = out_dir();
    let good =
        std::fs::read_to_string(data("independent/rsa-2048.kek-2048.byok")).expect("good file");
    // Two problems at once: a wrong alg and a kid that is not the KEK's.
    let bad = good
        .replace("\"alg\":\"dir\"", "\"alg\":\"RSA-OAEP\"")
        .replace("independent-test.vault.azure.net", "other.vault.azure.net");
    let path = dir.path().join("bad.byok");
    std::fs::write(&path, bad).expect("write");
    let kid =
        "https://independent-test.vault.azure.net/keys/kek-2048/f2cd2c4345a5ee31c5fe5cbbb33f4f4a";
    let out = run(bin()
        .arg("verify-byok")
        .arg(&path)
        .arg("--kek")
        .arg(data(KEK_PUBLIC))
        .args(["--kid", kid]));
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let problems: Vec<_> = stdout
        .lines()
        .filter(|l| l.starts_with("problem: "))
        .collect();
    assert!(!problems.is_empty(), "{stdout}");
    assert!(stdout.contains("FAILED"));
    // The untouched file passes, unwrapped with the independent implementation's test KEK.
    let ok = run(bin()
        .arg("verify-byok")
        .arg(data("independent/rsa-2048.kek-2048.byok"))
        .arg("--kek")
        .arg(data(KEK_PUBLIC))
        .args(["--kid", kid])
        .arg("--kek-private")
        .arg(data(KEK_PRIVATE))
        .arg("--public-key")
        .arg(data("independent/target-rsa-2048.public.pem")));
    assert!(ok.status.success());
    // An unreadable input is exit 3, not a verdict.
    let missing = run(bin()
        .arg("verify-byok")
        .arg(dir.path().join("missing.byok"))
        .arg("--kek")
        .arg(data(KEK_PUBLIC)));
    assert_eq!(missing.status.code(), Some(3));
}

/// `byok-ceremony ... | head`: a reader that has gone is not a crash. The command finishes and
/// its exit code still tells the verdict.
#[test]
fn a_closed_stdout_does_not_panic_and_keeps_the_verdict() {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = bin()
        .arg("verify-byok")
        .arg(data("independent/rsa-2048.kek-2048.byok"))
        .arg("--kek")
        .arg(data(KEK_PUBLIC))
        .args([
            "--kid",
            "https://independent-test.vault.azure.net/keys/kek-2048/f2cd2c4345a5ee31c5fe5cbbb33f4f4a",
        ])
        .arg("--kek-private")
        .arg(data(KEK_PRIVATE))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Close the reading end before the first line is written.
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read");
    let status = child.wait().expect("wait");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(status.code(), Some(0), "{stderr}");
}
