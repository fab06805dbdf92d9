//! The current PINs file of `provision --current-pins`: `CurrentPins::parse`.
#![forbid(unsafe_code)]
#![no_main]

use byok_ceremony::quorum::current_pins::CurrentPins;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = CurrentPins::parse(data);
});
