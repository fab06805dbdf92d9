//! KEK loading: `Kek::from_bytes` (PEM SPKI or PKCS#1, DER SPKI, `az keyvault key show` JSON or
//! a JWK, detected), `with_kid`, and `Kid::parse` of the input as text. The input is also given
//! as the `--kek-json` beside the test KEK's PEM (`Kek::load`), which cross-checks the two.
#![forbid(unsafe_code)]
#![no_main]

use byok_ceremony::byok::kek::{Kek, Kid};
use byok_ceremony_fuzz::{KEK_2048_KID, scratch_file};
use libfuzzer_sys::fuzz_target;

const KEK_PEM: &[u8] = include_bytes!("../../tests/data/kek/kek-2048.public.pem");

fuzz_target!(|data: &[u8]| {
    if let Ok(kek) = Kek::from_bytes(data) {
        assert!(matches!(kek.bits(), 2048 | 3072 | 4096), "{}", kek.bits());
        let _ = kek.fingerprint().hex_groups();
        // The canonical SPKI DER is itself a KEK file, and the same key.
        let again = Kek::from_bytes(kek.spki_der()).expect("the canonical DER loads");
        assert_eq!(again.spki_der(), kek.spki_der());
        let _ = kek.with_kid(KEK_2048_KID);
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(kid) = Kid::parse(text)
    {
        assert_eq!(kid.url(), text);
        let _ = kid.warnings();
        let _ = kid.is_managed_hsm();
    }
    let pem = scratch_file("kek.pem", KEK_PEM);
    let json = scratch_file("kek.json", data);
    let _ = Kek::load(&pem, Some(&json), None);
});
