//! What verify-byok finds inside an unwrapped `.byok`: `classify_plaintext` (a raw AES key, or
//! a PKCS#8 RSA or EC private key, possibly zero-padded) and the public facts it derives.
#![forbid(unsafe_code)]
#![no_main]

use byok_ceremony::byok::verify::classify_plaintext;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = classify_plaintext(data) {
        assert!(key.trailing_zero_bytes < data.len().max(1));
        let _ = key.describe();
    }
});
