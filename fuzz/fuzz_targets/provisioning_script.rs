//! The provisioning script (TOML): `ProvisioningScript::parse` and its split policy.
#![forbid(unsafe_code)]
#![no_main]

use byok_ceremony::quorum::script::ProvisioningScript;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(script) = ProvisioningScript::parse(text)
    {
        let _ = script.policy();
    }
});
