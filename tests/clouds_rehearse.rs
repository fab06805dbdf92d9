//! Every wrapping algorithm Google Cloud KMS and AWS KMS accept, with every key type a ceremony
//! makes: `rehearse --cloud gcp|aws` with a test wrapping key, on the token it picks by itself.
//! Each accepted output is unwrapped here, with code of this test only (rsa, aes-kw and the
//! curve crates directly, not the tool's verifier), and must be byte for byte the key the HSM
//! holds: a PKCS#8 with nothing after it whose public key is the manifest's, or the 32 raw
//! bytes of the AES key whose check value is the HSM's. Each combination a cloud (or PKCS#11)
//! refuses is refused before the HSM does anything, naming the rule and the fix.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use aes::cipher::{BlockCipherEncrypt, KeyInit};
use byok_ceremony::manifest::Manifest;
use pkcs8::{DecodePrivateKey, DecodePublicKey};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_byok-ceremony"))
}

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

/// The test wrapping keys: 2048 and 3072 bits from the independent implementation's data, 4096
/// bits made with `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096`.
fn kek(bits: usize) -> (PathBuf, PathBuf) {
    match bits {
        2048 | 3072 => (
            data(&format!("independent/kek-{bits}.public.pem")),
            data(&format!("independent/kek-{bits}.private.pem")),
        ),
        _ => (
            data("clouds/kek-4096.public.pem"),
            data("clouds/kek-4096.private.pem"),
        ),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Key {
    Rsa(u32),
    Ec(&'static str),
    Aes256,
}

const KEYS: [Key; 8] = [
    Key::Rsa(2048),
    Key::Rsa(3072),
    Key::Rsa(4096),
    Key::Ec("P-256"),
    Key::Ec("P-384"),
    Key::Ec("P-521"),
    Key::Ec("P-256K"),
    Key::Aes256,
];

impl Key {
    fn args(self) -> Vec<String> {
        let v: Vec<&str> = match self {
            Key::Rsa(2048) => vec!["--key-type", "RSA-HSM", "--key-size", "2048"],
            Key::Rsa(3072) => vec!["--key-type", "RSA-HSM", "--key-size", "3072"],
            Key::Rsa(_) => vec!["--key-type", "RSA-HSM", "--key-size", "4096"],
            Key::Ec(curve) => vec!["--key-type", "EC-HSM", "--curve", curve],
            Key::Aes256 => vec!["--key-type", "oct-HSM", "--key-size", "256"],
        };
        v.into_iter().map(String::from).collect()
    }
}

#[derive(Debug, Clone, Copy)]
struct Alg {
    cloud: &'static str,
    name: &'static str,
    sha256: bool,
    /// The key under RSA-OAEP alone (no RFC 5649 part).
    plain: bool,
    kek_bits: usize,
}

const fn alg(
    cloud: &'static str,
    name: &'static str,
    sha256: bool,
    plain: bool,
    kek_bits: usize,
) -> Alg {
    Alg {
        cloud,
        name,
        sha256,
        plain,
        kek_bits,
    }
}

/// The clouds' algorithms, each with a wrapping key of a size it takes (Cloud KMS's methods fix
/// it; AWS takes 2048, 3072 or 4096).
const ALGS: [Alg; 10] = [
    alg("gcp", "RSA_OAEP_3072_SHA1_AES_256", false, false, 3072),
    alg("gcp", "RSA_OAEP_4096_SHA1_AES_256", false, false, 4096),
    alg("gcp", "RSA_OAEP_3072_SHA256_AES_256", true, false, 3072),
    alg("gcp", "RSA_OAEP_4096_SHA256_AES_256", true, false, 4096),
    alg("gcp", "RSA_OAEP_3072_SHA256", true, true, 3072),
    alg("gcp", "RSA_OAEP_4096_SHA256", true, true, 4096),
    alg("aws", "RSA_AES_KEY_WRAP_SHA_1", false, false, 2048),
    alg("aws", "RSA_AES_KEY_WRAP_SHA_256", true, false, 3072),
    alg("aws", "RSAES_OAEP_SHA_1", false, true, 4096),
    alg("aws", "RSAES_OAEP_SHA_256", true, true, 2048),
];

/// What the clouds' documentation says each accepts (byok-facts.md), written out here rather
/// than asked of the tool: the key under RSA-OAEP alone only for AES (an RSA key is too long,
/// and PKCS#11 wraps only secret keys with CKM_RSA_PKCS_OAEP); no P-521 in Cloud KMS.
///
/// And one the test tokens cannot do: secp256k1 with a SHA-256 wrap (kryoptic, which wraps with
/// SHA-256, makes no secp256k1 key; SoftHSM2 2.7.0, which does, wraps with SHA-1 only): the
/// rehearsal says so for each token, and what to do.
fn refusal(a: Alg, key: Key) -> Option<&'static str> {
    match key {
        Key::Ec("P-521") if a.cloud == "gcp" => Some("no P-521"),
        Key::Rsa(_) if a.plain => Some("too long for one RSA block"),
        Key::Ec(_) if a.plain => Some("secret keys only"),
        Key::Ec("P-256K") if a.sha256 => Some("no software token found that can make this key"),
        _ => None,
    }
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the binary runs")
}

fn rehearse(a: Alg, key: Key, dir: &Path) -> Output {
    let (public, private) = kek(a.kek_bits);
    let mut cmd = bin();
    cmd.args(["rehearse", "--name", "t", "--cloud", a.cloud])
        .args(key.args())
        .arg("--out")
        .arg(dir)
        .arg("--kek")
        .arg(public)
        .arg("--kek-private")
        .arg(private);
    if a.cloud == "gcp" {
        cmd.args(["--import-method", a.name]);
    } else {
        cmd.args(["--wrapping-algorithm", a.name])
            .arg("--import-token")
            .arg(data("clouds/import-token.bin"));
    }
    run(&mut cmd)
}

fn oaep_decrypt(private: &rsa::PrivateKey, sha256: bool, block: &[u8]) -> Vec<u8> {
    let out = if sha256 {
        private.oaep_decrypt::<sha2::Sha256>(block)
    } else {
        private.oaep_decrypt::<sha1::Sha1>(block)
    };
    out.expect("the RSA block opens with the algorithm's OAEP hash")
}

/// The key material, as the cloud will unwrap it.
fn unwrap(a: Alg, wrapped: &[u8]) -> Vec<u8> {
    let pem = std::fs::read_to_string(kek(a.kek_bits).1).expect("private key");
    let private = rsa::PrivateKey::from_pkcs8_pem(&pem).expect("test KEK");
    let k = a.kek_bits / 8;
    if a.plain {
        assert_eq!(wrapped.len(), k, "{}: one RSA block", a.name);
        return oaep_decrypt(&private, a.sha256, wrapped);
    }
    let (rsa_part, kwp) = wrapped.split_at(k);
    let aes_key = oaep_decrypt(&private, a.sha256, rsa_part);
    assert_eq!(aes_key.len(), 32, "an AES-256 key under RSA-OAEP");
    let kw = aes_kw::KwpAes256::new_from_slice(&aes_key).expect("AES-256");
    let mut buf = vec![0u8; kwp.len()];
    let n = kw
        .unwrap_key(kwp, &mut buf)
        .expect("RFC 5649 integrity check")
        .len();
    buf.truncate(n);
    buf
}

/// The whole of `material` is one PKCS#8 key of the curve crate `$curve` whose public key is
/// the SPKI PEM `$pem`.
macro_rules! same_ec_key {
    ($curve:ident, $material:expr, $pem:expr, $what:expr) => {{
        let k = $curve::SecretKey::from_pkcs8_der($material).expect("exactly one PKCS#8 EC key");
        let expected = $curve::PublicKey::from_public_key_pem($pem).expect("SPKI");
        assert_eq!(k.public_key(), expected, "{}", $what);
    }};
}

/// The material is exactly the HSM's key: the whole of it parses (no trailing byte) and gives
/// the manifest's public key, or it is the 32 bytes whose check value the HSM reported.
fn assert_is_the_hsm_key(key: Key, material: &[u8], m: &Manifest, what: &str) {
    let pem = || {
        m.public_key_pem
            .as_deref()
            .expect("public key in the manifest")
    };
    match key {
        Key::Rsa(bits) => {
            let k = rsa::PrivateKey::from_pkcs8_der(material).expect("exactly one PKCS#8 RSA key");
            let expected = rsa::PublicKey::from_public_key_pem(pem()).expect("SPKI");
            assert_eq!(k.to_public_key(), expected, "{what}");
            assert_eq!(
                rsa::traits::PublicKeyParts::size(&expected) * 8,
                bits as usize
            );
        }
        Key::Ec("P-256") => same_ec_key!(p256, material, pem(), what),
        Key::Ec("P-384") => same_ec_key!(p384, material, pem(), what),
        Key::Ec("P-521") => same_ec_key!(p521, material, pem(), what),
        Key::Ec(_) => same_ec_key!(k256, material, pem(), what),
        Key::Aes256 => {
            assert_eq!(
                material.len(),
                32,
                "{what}: the raw AES-256 key and nothing else"
            );
            let mut block = aes::Block::default();
            aes::Aes256::new_from_slice(material)
                .expect("AES-256")
                .encrypt_block(&mut block);
            assert_eq!(
                Some(hex::encode(&block[..3])),
                m.oct_check_value,
                "{what}: the HSM's AES key (CKA_CHECK_VALUE)"
            );
        }
    }
}

fn check_accepted(a: Alg, key: Key, dir: &Path, out: &Output) {
    let what = format!("{} {} {key:?}", a.cloud, a.name);
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = Manifest::parse(&std::fs::read(dir.join("t.manifest.json")).expect("manifest"))
        .expect("strict manifest");
    let [o] = m.outputs.as_slice() else {
        panic!("{what}: one output, got {:?}", m.outputs)
    };
    assert_eq!((o.cloud.id(), o.algorithm.as_str()), (a.cloud, a.name));
    assert_eq!(o.file, format!("t.{}.wrapped", a.cloud));
    assert!(
        m.byok_sha256.is_none() && m.kid.is_none(),
        "no Azure output"
    );
    let wrapped = std::fs::read(dir.join(&o.file)).expect("wrapped file");
    assert_eq!(
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&wrapped)),
        o.sha256
    );
    // The token it picked proved the requested hash: never SoftHSM2 2.7.0's native wrap for
    // SHA-256 (it wraps with SHA-1 whatever it is asked).
    let kat = m.wrap.path_kat();
    assert_eq!(
        kat.oaep_hash.name(),
        if a.sha256 { "SHA-256" } else { "SHA-1" }
    );
    assert_eq!(
        m.wrap.name(),
        if a.plain { "plain_oaep" } else { m.wrap.name() }
    );
    if a.cloud == "aws" {
        let token = std::fs::read(dir.join("t.aws.import-token.bin")).expect("token copy");
        assert_eq!(
            token,
            std::fs::read(data("clouds/import-token.bin")).expect("token")
        );
    }
    let material = unwrap(a, &wrapped);
    assert_is_the_hsm_key(key, &material, &m, &what);
}

fn check_refused(a: Alg, key: Key, rule: &str, dir: &Path, out: &Output) {
    let what = format!("{} {} {key:?}", a.cloud, a.name);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{what} must be refused");
    assert!(err.contains(rule), "{what}: names the rule ({rule}): {err}");
    assert!(
        err.contains("use "),
        "{what}: says what to use instead: {err}"
    );
    assert!(
        !err.contains("preflight"),
        "{what}: refused before the ceremony starts: {err}"
    );
    let left: Vec<_> = std::fs::read_dir(dir).expect("dir").collect();
    assert!(left.is_empty(), "{what}: nothing written: {left:?}");
}

/// Runs the cases of `algs` two at a time (two cores), each in its own directory.
fn run_matrix(algs: &[Alg]) {
    let cases: Vec<(Alg, Key)> = algs
        .iter()
        .flat_map(|a| KEYS.iter().map(move |k| (*a, *k)))
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(&(a, key)) = cases.get(i) else { break };
                    let dir = tempfile::Builder::new()
                        .prefix("clouds-")
                        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
                        .expect("temp dir");
                    let out = rehearse(a, key, dir.path());
                    match refusal(a, key) {
                        Some(rule) => check_refused(a, key, rule, dir.path(), &out),
                        None => check_accepted(a, key, dir.path(), &out),
                    }
                }
            });
        }
    });
}

#[test]
fn every_google_cloud_import_method_with_every_key_type() {
    run_matrix(&ALGS[..6]);
}

#[test]
fn every_aws_wrapping_algorithm_with_every_key_type() {
    run_matrix(&ALGS[6..]);
}

#[test]
fn a_wrapping_key_whose_size_is_not_the_method_s_is_refused_before_the_hsm_works() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("dir");
    let (public, _) = kek(2048);
    let out = run(bin()
        .args([
            "rehearse",
            "--cloud",
            "gcp",
            "--import-method",
            "RSA_OAEP_4096_SHA256_AES_256",
        ])
        .arg("--out")
        .arg(dir.path())
        .arg("--kek")
        .arg(public));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("needs a 4096-bit wrapping key, and this one has 2048 bits"),
        "{err}"
    );
    assert!(std::fs::read_dir(dir.path()).expect("dir").next().is_none());
}

#[test]
fn the_aws_cli_s_base64_of_the_wrapping_key_is_read_like_its_der() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("dir");
    let out = run(bin()
        .args([
            "rehearse",
            "--name",
            "t",
            "--cloud",
            "aws",
            "--key-type",
            "oct-HSM",
        ])
        .args(["--wrapping-algorithm", "RSAES_OAEP_SHA_256"])
        .arg("--out")
        .arg(dir.path())
        .arg("--kek")
        .arg(data("clouds/kek-4096.public.b64"))
        .arg("--kek-private")
        .arg(data("clouds/kek-4096.private.pem"))
        .arg("--import-token")
        .arg(data("clouds/import-token.bin")));
    let a = alg("aws", "RSAES_OAEP_SHA_256", true, true, 4096);
    check_accepted(a, Key::Aes256, dir.path(), &out);
}

#[test]
fn an_unknown_or_retired_algorithm_is_refused_with_the_cloud_s_list() {
    for (flags, says) in [
        (
            vec![
                "--cloud",
                "gcp",
                "--import-method",
                "RSA_OAEP_2048_SHA256_AES_256",
            ],
            "RSA_OAEP_3072_SHA256_AES_256",
        ),
        (
            vec!["--cloud", "aws", "--wrapping-algorithm", "RSAES_PKCS1_V1_5"],
            "since 2023",
        ),
        (
            vec![
                "--cloud",
                "azure",
                "--wrapping-algorithm",
                "RSA_AES_KEY_WRAP_SHA_1",
            ],
            "give it with --cloud aws",
        ),
    ] {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("dir");
        let out = run(bin()
            .arg("rehearse")
            .args(&flags)
            .arg("--out")
            .arg(dir.path()));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {err}");
        assert!(err.contains(says), "{flags:?}: {err}");
    }
}

/// `rehearse --cloud azure,gcp,aws`: one key for the three clouds, each checked in software by
/// the rehearsal; the log verifies with every output on the medium, and the auditor's report
/// names each cloud, its wrapping key's fingerprint and its file's hash.
#[test]
fn a_three_cloud_rehearsal_verifies_and_its_report_names_every_cloud() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("dir");
    let out = run(bin()
        .args(["rehearse", "--name", "t", "--cloud", "azure,gcp,aws"])
        .args(["--key-type", "EC-HSM", "--curve", "P-384"])
        .arg("--out")
        .arg(dir.path()));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for cloud in ["Azure Key Vault", "Google Cloud KMS", "AWS KMS"] {
        assert!(
            text.contains(&format!("check: {cloud}:")),
            "{cloud} unchecked: {text}"
        );
    }
    let m = Manifest::parse(&std::fs::read(dir.path().join("t.manifest.json")).expect("m"))
        .expect("manifest");
    let files: Vec<&str> = m.outputs.iter().map(|o| o.file.as_str()).collect();
    assert_eq!(files, ["t.byok", "t.gcp.wrapped", "t.aws.wrapped"]);
    let log = dir.path().join("t.audit.jsonl");
    let record = dir.path().join("t.provisioning-record.json");
    let verify = run(bin()
        .args(["audit", "verify"])
        .arg(&log)
        .arg("--record")
        .arg(&record)
        .arg("--media")
        .arg(dir.path()));
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    assert!(String::from_utf8_lossy(&verify.stdout).contains("artifacts verified: 5"));
    let report = dir.path().join("report.md");
    let made = run(bin()
        .args(["audit", "report", "--format", "md", "--output"])
        .arg(&report)
        .arg(&log)
        .arg("--record")
        .arg(&record)
        .arg("--media")
        .arg(dir.path()));
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let md = std::fs::read_to_string(&report).expect("report");
    for o in &m.outputs {
        let title = o.cloud.title();
        assert!(md.contains(&format!("| Cloud: {title} |")), "{title}: {md}");
        assert!(
            md.contains(&format!("### KEK fingerprint, {title}")),
            "{title}"
        );
        let groups = byok_ceremony::tui::widgets::hex_groups;
        assert!(md.contains(&groups(&o.sha256)), "{}'s hash", o.file);
        assert!(
            md.contains(&groups(&o.kek_fingerprint_sha256)),
            "{title}'s KEK"
        );
    }
}
