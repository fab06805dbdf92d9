//! The ceremony script (TOML): `CeremonyScript::parse` and the machine configuration made
//! from it.
#![forbid(unsafe_code)]
#![no_main]

use byok_ceremony::ceremony::script::CeremonyScript;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(script) = CeremonyScript::parse(text)
    {
        let _ = script.machine_config();
    }
});
