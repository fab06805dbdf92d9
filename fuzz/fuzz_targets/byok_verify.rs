//! verify-byok's checks: `verify_byok` against the test KEK `independent/kek-2048` with its
//! private key (rehearsal/test KEK only), so a file that gets past the structure is unwrapped
//! (RSA-OAEP-SHA-1, RFC 5649) and its PKCS#8 classified. The first input byte picks the options
//! (zero padding allowed, the kid given explicitly), the rest is the file.
#![forbid(unsafe_code)]
#![no_main]

use std::sync::OnceLock;

use byok_ceremony::byok::simulated_kek::SimulatedKek;
use byok_ceremony::byok::verify::{VerifyInputs, verify_byok};
use byok_ceremony_fuzz::KEK_2048_KID;
use libfuzzer_sys::fuzz_target;

fn kek() -> &'static SimulatedKek {
    static KEK: OnceLock<SimulatedKek> = OnceLock::new();
    KEK.get_or_init(|| {
        let pem = include_str!("../../tests/data/independent/kek-2048.private.pem");
        SimulatedKek::from_private_pem(pem, KEK_2048_KID).expect("test KEK")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&options, file)) = data.split_first() else {
        return;
    };
    let kek = kek();
    let mut inputs = VerifyInputs::new(kek.kek());
    inputs.kek_private = Some(kek.private_key());
    inputs.allow_zero_padding = options & 1 != 0;
    if options & 2 != 0 {
        inputs.kid = Some(KEK_2048_KID);
    }
    let report = verify_byok(file, &inputs);
    if report.is_ok() {
        assert!(report.recovered.is_some(), "a file that verifies has a key");
    }
    if let Some(key) = &report.recovered {
        let _ = key.describe();
    }
});
