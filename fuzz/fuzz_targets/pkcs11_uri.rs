//! `Pkcs11Uri::parse`: the `[hsm] module`/`uri` of scripts (RFC 7512 PKCS#11 URIs).
#![forbid(unsafe_code)]
#![no_main]

use byok_ceremony::hsm_types::uri::Pkcs11Uri;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Pkcs11Uri::parse(text);
    }
});
