//! Shared set-up for tests that need real PKCS#11 tokens.
//!
//! One throwaway token of each real module per test binary: SoftHSM2 2.7.0 (built by
//! scripts/build-softhsm.sh: native CKM_RSA_AES_KEY_WRAP), the distro's SoftHSM2 2.6.1 (zero-pads)
//! and kryoptic (byte-exact two-step), all created before any test uses one (creating a token sets
//! its configuration variable in the process environment, which must not race with a module
//! reading it). Tests lock a token while they use it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};

use byok_ceremony::byok::simulated_kek::SimulatedKek;
use byok_ceremony::hsm::throwaway::{
    KRYOPTIC_MODULE_ENV, SOFTHSM_BUILT_MODULE_ENV, SoftToken, ThrowawayToken,
};

pub struct Tokens {
    /// The distro's SoftHSM2 (2.6.1 on Debian bookworm).
    pub softhsm2: Mutex<ThrowawayToken>,
    pub kryoptic: Mutex<ThrowawayToken>,
    /// SoftHSM2 2.7.0 as scripts/build-softhsm.sh builds it.
    pub native: Mutex<ThrowawayToken>,
}

/// The SoftHSM2 2.7.0 module, or a panic that says how to get it.
pub fn native_module() -> PathBuf {
    SoftToken::find_built_softhsm().unwrap_or_else(|| {
        panic!(
            "SoftHSM2 2.7.0 is not built: run scripts/test.sh, or scripts/build-softhsm.sh and set {SOFTHSM_BUILT_MODULE_ENV}"
        )
    })
}

/// The module of `kind`, or a panic that says how to get it: a missing token must fail the
/// suite, never skip it silently.
pub fn module(kind: SoftToken) -> PathBuf {
    kind.find_module().unwrap_or_else(|| match kind {
        SoftToken::SoftHsm2 => panic!("SoftHSM2 is not installed: run scripts/test.sh (it installs softhsm2)"),
        SoftToken::Kryoptic => panic!(
            "the kryoptic test token is not built: run scripts/test.sh, or scripts/build-kryoptic.sh and set {KRYOPTIC_MODULE_ENV}"
        ),
    })
}

pub fn tokens() -> &'static Tokens {
    static TOKENS: OnceLock<Tokens> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let make = |kind: SoftToken| {
            ThrowawayToken::create(
                kind,
                &module(kind),
                &format!("test {}", kind.name()),
                Some(&base),
            )
            .unwrap_or_else(|e| panic!("cannot create a {} token: {e}", kind.name()))
        };
        let native = ThrowawayToken::create(
            SoftToken::SoftHsm2,
            &native_module(),
            "test SoftHSM2 2.7.0",
            Some(&base),
        )
        .unwrap_or_else(|e| panic!("cannot create a SoftHSM2 2.7.0 token: {e}"));
        Tokens {
            softhsm2: Mutex::new(make(SoftToken::SoftHsm2)),
            kryoptic: Mutex::new(make(SoftToken::Kryoptic)),
            native: Mutex::new(native),
        }
    })
}

pub fn token(kind: SoftToken) -> MutexGuard<'static, ThrowawayToken> {
    let t = tokens();
    let m = match kind {
        SoftToken::SoftHsm2 => &t.softhsm2,
        SoftToken::Kryoptic => &t.kryoptic,
    };
    // A test that panicked while holding the token leaves it usable for the others.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The SoftHSM2 2.7.0 token (native CKM_RSA_AES_KEY_WRAP).
pub fn native_token() -> MutexGuard<'static, ThrowawayToken> {
    tokens()
        .native
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One simulated Key Vault KEK per test binary (RSA key generation is slow).
pub fn kek() -> &'static SimulatedKek {
    static KEK: OnceLock<SimulatedKek> = OnceLock::new();
    KEK.get_or_init(|| SimulatedKek::generate(2048, false).expect("simulated KEK"))
}

/// A Managed HSM KEK, for oct targets.
pub fn managed_hsm_kek() -> &'static SimulatedKek {
    static KEK: OnceLock<SimulatedKek> = OnceLock::new();
    KEK.get_or_init(|| SimulatedKek::generate(2048, true).expect("simulated KEK"))
}

/// The test shim module (tests/p11shim/p11shim.c), compiled once per test binary with the
/// machine's C compiler: a PKCS#11 module that forwards to the real module named by
/// `P11SHIM_MODULE` and misbehaves on demand (see the C file). Its file name carries "softhsm2"
/// so that a rehearsal configures it like the SoftHSM2 it wraps.
pub fn shim_module() -> PathBuf {
    static SHIM: OnceLock<PathBuf> = OnceLock::new();
    SHIM.get_or_init(|| compile_c("tests/p11shim/p11shim.c", "p11shim", "libsofthsm2-shim"))
        .clone()
}

/// The I/O fault library (tests/iofault/iofault.c), for LD_PRELOAD: fails the N-th write,
/// fsync or fdatasync under one directory (see the C file).
pub fn iofault_library() -> PathBuf {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| compile_c("tests/iofault/iofault.c", "iofault", "libiofault"))
        .clone()
}

/// Compiles the C file `src` (relative to the crate) into a shared library `name.so` under the
/// test temp dir, once per test binary.
fn compile_c(src: &str, dir: &str, name: &str) -> PathBuf {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(src);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(dir);
    std::fs::create_dir_all(&dir).expect("build dir");
    let out = dir.join(format!("{name}.so"));
    // Another test binary may be compiling it too: build under a name of our own, then
    // rename over (atomic).
    let tmp = dir.join(format!("{name}.{}.so", std::process::id()));
    let status = std::process::Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-Wall", "-o"])
        .arg(&tmp)
        .arg(&src)
        .args(["-ldl", "-lpthread"])
        .status()
        .expect("run cc (gcc is on every machine of this kind)");
    assert!(status.success(), "compiling {} failed", src.display());
    std::fs::rename(&tmp, &out).expect("install the library");
    out
}

/// Puts `ciphertext` in a .byok for `kek` and checks it with the test KEK's private key:
/// well-formed, unwrapping to a key whose public half is `expected_spki` (when given).
pub fn check_wrapped(
    kek: &SimulatedKek,
    ciphertext: Vec<u8>,
    expected_spki: Option<&[u8]>,
    allow_zero_padding: bool,
) -> byok_ceremony::byok::verify::VerifyReport {
    use byok_ceremony::byok::format::ByokFile;
    use byok_ceremony::byok::verify::{VerifyInputs, verify_byok};
    let file = ByokFile {
        kid: kek.kek().kid().expect("kid").url().to_owned(),
        ciphertext,
        generator: "test".into(),
    };
    verify_byok(
        &file.to_json_bytes(),
        &VerifyInputs {
            kek: kek.kek(),
            kid: None,
            kek_private: Some(kek.private_key()),
            expected_public_spki_der: expected_spki,
            allow_zero_padding,
        },
    )
}
