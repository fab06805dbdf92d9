//! A custodian's share file (`NAME.share.txt`, read by headless ceremonies and `--share`):
//! `share_file::share_in` for each PIN group, as `quorum::outputs::read_share` does after
//! reading the file.
#![forbid(unsafe_code)]
#![no_main]

use byok_ceremony::quorum::PinGroup;
use byok_ceremony::quorum::share_file;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for group in [PinGroup::UserPin, PinGroup::SoPin] {
        if let Ok(share) = share_file::share_in(text, group) {
            assert_eq!(share.group, group);
            let _ = share_file::share_text_in(text, group).expect("found twice");
        }
    }
});
