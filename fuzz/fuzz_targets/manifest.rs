//! The manifest (`NAME.manifest.json`): `Manifest::parse` (strict) and its round trip.
#![forbid(unsafe_code)]
#![no_main]

use byok_ceremony::manifest::Manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(manifest) = Manifest::parse(data) {
        let json = manifest.to_json().expect("a parsed manifest writes");
        let again = Manifest::parse(json.as_bytes()).expect("and reads back");
        assert_eq!(again, manifest);
    }
});
