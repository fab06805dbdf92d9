//! The answers file of a headless ceremony (TOML): `Answers::parse`.
#![forbid(unsafe_code)]
#![no_main]

use std::path::Path;

use byok_ceremony::ceremony::answers::Answers;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Answers::parse(text, Path::new("/ceremony/room"));
    }
});
