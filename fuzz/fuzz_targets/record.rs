//! The provisioning record (`provisioning-record.json`): `ProvisioningRecord::parse` (strict
//! JSON, then consistency) and its round trip through `to_json`.
#![forbid(unsafe_code)]
#![no_main]

use byok_ceremony::quorum::ProvisioningRecord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = ProvisioningRecord::parse(data) {
        let json = record.to_json().expect("a parsed record writes");
        let again = ProvisioningRecord::parse(json.as_bytes()).expect("and reads back");
        assert_eq!(again, record);
    }
});
