//! The real binary, end to end: `rehearse --headless` on the three software tokens (SoftHSM2
//! 2.7.0 native, kryoptic two-step, SoftHSM2 2.6.1 zero-padding), then `verify-byok` on its
//! output, the token a rehearsal picks by itself, and the refusals a careful operator relies on.
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

/// The three test tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// SoftHSM2 2.7.0 from scripts/build-softhsm.sh: native CKM_RSA_AES_KEY_WRAP.
    Native,
    Kryoptic,
    /// The distro's SoftHSM2 2.6.1: zero-pads.
    SoftHsm261,
}

fn module(token: Token) -> PathBuf {
    let found = match token {
        Token::Native => SoftToken::find_built_softhsm(),
        Token::Kryoptic => SoftToken::Kryoptic.find_module(),
        Token::SoftHsm261 => SoftToken::SoftHsm2.find_module(),
    };
    found.unwrap_or_else(|| panic!("{token:?} missing: run scripts/test.sh"))
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
fn rehearsal_with_a_given_kek_verifies_with_verify_byok_on_every_token() {
    for kind in [Token::Native, Token::Kryoptic, Token::SoftHsm261] {
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
        assert_eq!(manifest.kid.as_deref(), Some(KID));
        assert_eq!(manifest.kty, "EC-HSM");
        assert_eq!(manifest.crv.as_deref(), Some("P-256"));
        let byok = std::fs::read(dir.path().join("t.byok")).expect("byok");
        assert_eq!(
            manifest.byok_sha256,
            Some(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&byok)))
        );
        assert_eq!(
            manifest.rehearsal_grade_reasons.is_empty(),
            kind != Token::SoftHsm261
        );
        assert_eq!(
            manifest.wrap.name(),
            if kind == Token::Native {
                "native"
            } else {
                "two_step"
            }
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
        if kind == Token::SoftHsm261 {
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

/// Without --module a rehearsal prefers, in order: a native CKM_RSA_AES_KEY_WRAP that passes
/// its known-answer test (SoftHSM2 2.7.0), a byte-exact two-step wrap (kryoptic), and only then
/// a zero-padding token (SoftHSM2 2.6.1, rehearsal-grade). A build script's module is hidden
/// from the binary by naming a missing file in its environment variable.
#[test]
fn a_rehearsal_without_module_prefers_native_then_byte_exact_then_zero_padding() {
    use byok_ceremony::hsm::throwaway::{KRYOPTIC_MODULE_ENV, SOFTHSM_BUILT_MODULE_ENV};
    let missing = "/nonexistent/module.so";
    let cases = [
        (
            module(Token::Native),
            module(Token::Kryoptic),
            "native",
            "2.7",
            false,
        ),
        (
            missing.into(),
            module(Token::Kryoptic),
            "two_step",
            "Kryoptic",
            false,
        ),
        (missing.into(), missing.into(), "two_step", "SoftHSM", true),
    ];
    for (softhsm, kryoptic, method, library, rehearsal_grade) in cases {
        let dir = out_dir();
        let out = run(bin()
            .args([
                "rehearse",
                "--headless",
                "--key-type",
                "EC-HSM",
                "--curve",
                "P-256",
            ])
            .arg("--out")
            .arg(dir.path())
            .env(SOFTHSM_BUILT_MODULE_ENV, &softhsm)
            .env(KRYOPTIC_MODULE_ENV, &kryoptic));
        assert!(out.status.success(), "{method} {library}");
        let manifest = Manifest::parse(
            &std::fs::read(dir.path().join("rehearsal-ec-p256.manifest.json")).expect("manifest"),
        )
        .expect("manifest");
        assert_eq!(manifest.wrap.name(), method, "{library}");
        assert!(
            manifest.hsm.library.contains(library),
            "{}",
            manifest.hsm.library
        );
        assert_eq!(
            !manifest.rehearsal_grade_reasons.is_empty(),
            rehearsal_grade
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        // The summary names the token and the method.
        assert!(
            stdout.contains(&format!("token:     {}", manifest.hsm.library)),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("wrap:      {}", manifest.wrap.describe())),
            "{stdout}"
        );
        assert_eq!(
            stdout.contains("REHEARSAL-GRADE"),
            rehearsal_grade,
            "{stdout}"
        );
        // The PKCS#8 of a P-256 key always needs padding to a multiple of 8: the software
        // unwrap finds no trailing byte but on the zero-padding token.
        assert_eq!(
            stdout.contains("trailing zero bytes"),
            rehearsal_grade,
            "{stdout}"
        );
        assert!(stdout.contains("public key matches the HSM's"), "{stdout}");
    }
}

#[test]
fn default_rehearsal_is_native_and_never_overwrites() {
    let dir = out_dir();
    let rehearse = || {
        let mut c = bin();
        c.args(["rehearse", "--headless", "--key-type", "oct-HSM", "--out"])
            .arg(dir.path());
        c
    };
    let first = run(&mut rehearse());
    assert!(first.status.success());
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        stdout.contains("native CKM_RSA_AES_KEY_WRAP"),
        "the native token was not chosen"
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

/// Without the KEK's private key, `verify-byok` can check only the file's structure, kid and
/// length: against another KEK of the same size it passes just the same, so it must say that
/// this is all it checked, never that the file is correct for the KEK.
#[test]
fn verify_byok_says_exactly_what_it_checked() {
    use byok_ceremony::byok::simulated_kek::SimulatedKek;
    let dir = out_dir();
    let other = SimulatedKek::generate(2048, false).expect("another KEK");
    let other_pem = dir.path().join("other-kek.pem");
    std::fs::write(&other_pem, other.public_pem()).expect("write");
    let kid =
        "https://independent-test.vault.azure.net/keys/kek-2048/f2cd2c4345a5ee31c5fe5cbbb33f4f4a";
    for kek in [data(KEK_PUBLIC), other_pem] {
        let out = run(bin()
            .arg("verify-byok")
            .arg(data("independent/rsa-2048.kek-2048.byok"))
            .arg("--kek")
            .arg(&kek)
            .args(["--kid", kid]));
        assert_eq!(out.status.code(), Some(0));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("OK (structure only)"), "{stdout}");
        assert!(
            stdout.contains("the wrap itself was not checked"),
            "{stdout}"
        );
        assert!(!stdout.contains("correct .byok"), "{stdout}");
    }
    let out = run(bin()
        .arg("verify-byok")
        .arg(data("independent/rsa-2048.kek-2048.byok"))
        .arg("--kek")
        .arg(data(KEK_PUBLIC))
        .args(["--kid", kid])
        .arg("--kek-private")
        .arg(data(KEK_PRIVATE)));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("unwraps with the KEK's private key"),
        "{stdout}"
    );
}

/// The rooms (`byok-rehearsal-*`) left in `tmp`.
fn rooms_in(tmp: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(tmp)
        .expect("list tmp")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("byok-rehearsal-"))
        })
        .collect()
}

/// Issue 13, item 8: Ctrl-C during a rehearsal removes its private room (token store, share
/// files, log); a room left by a run killed outright is removed by the next rehearsal.
#[test]
fn an_interrupted_rehearsal_leaves_nothing_behind() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = out_dir();
    let out = out_dir();
    let mut child = bin()
        .env("TMPDIR", tmp.path())
        .args(["rehearse", "--module"])
        .arg(module(Token::Native))
        .arg("--out")
        .arg(out.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("rehearse runs");
    // Wait until the room holds the provisioning's share files, then press Ctrl-C.
    let mut seen = None;
    for _ in 0..3000 {
        if let Some(room) = rooms_in(tmp.path()).into_iter().next() {
            let shares = std::fs::read_dir(room.join("provisioning"))
                .map(|d| d.count())
                .unwrap_or(0);
            if shares > 0 {
                let mode = std::fs::metadata(&room).expect("room").permissions().mode();
                assert_eq!(mode & 0o777, 0o700, "the room is private");
                seen = Some(room);
                break;
            }
        }
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let room = seen.expect("the rehearsal's room with share files appeared");
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let result = child.wait_with_output().expect("ends");
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(!room.exists(), "the room was left behind");
    assert!(rooms_in(tmp.path()).is_empty());

    // A room whose owner is gone (a SIGKILL, a power cut) is removed by the next run.
    let stale = tmp.path().join("byok-rehearsal-killed");
    std::fs::create_dir(&stale).expect("stale room");
    let mut gone = Command::new("true").spawn().expect("true");
    let dead = gone.id();
    gone.wait().expect("wait");
    std::fs::write(stale.join("owner.pid"), dead.to_string()).expect("owner");
    std::fs::write(stale.join("alice.share.txt"), "a share").expect("share");
    let next = run(bin()
        .env("TMPDIR", tmp.path())
        .args(["rehearse", "--module"])
        .arg(module(Token::Native))
        .arg("--out")
        .arg(out_dir().path()));
    assert!(next.status.success());
    assert!(!stale.exists(), "the stale room is gone");
    assert!(String::from_utf8_lossy(&next.stderr).contains("an interrupted rehearsal"));
    assert!(rooms_in(tmp.path()).is_empty());
}
