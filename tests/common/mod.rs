//! Shared set-up for tests that need real PKCS#11 tokens.
//!
//! One SoftHSM2 and one kryoptic throwaway token per test binary, both created before any test
//! uses either (creating a token sets its configuration variable in the process environment,
//! which must not race with a module reading it). Tests lock a token while they use it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};

use byok_ceremony::byok::simulated_kek::SimulatedKek;
use byok_ceremony::hsm::throwaway::{KRYOPTIC_MODULE_ENV, SoftToken, ThrowawayToken};

pub struct Tokens {
    pub softhsm2: Mutex<ThrowawayToken>,
    pub kryoptic: Mutex<ThrowawayToken>,
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
        Tokens {
            softhsm2: Mutex::new(make(SoftToken::SoftHsm2)),
            kryoptic: Mutex::new(make(SoftToken::Kryoptic)),
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
