//! A typed share: `Share::parse` (case, spaces and dashes ignored, Bech32m checksum) and
//! `bech32::decode`. A share's text is unique: what parses writes back as the same
//! characters, and Bech32m data re-encodes to the same string.
#![forbid(unsafe_code)]
#![no_main]

use byok_ceremony::quorum::Share;
use byok_ceremony::quorum::bech32;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((hrp, values)) = bech32::decode(text) {
        let again = bech32::encode(&hrp, &values).expect("what decodes encodes");
        assert_eq!(again.as_str(), text, "Bech32m round trip");
        let _ = bech32::from_base32(&values);
    }
    if let Ok(share) = Share::parse(text) {
        let typed: String = text
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '\t' | '\r' | '\n'))
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let written = share.to_text().expect("a parsed share writes");
        assert_eq!(written.canonical(), typed, "one text per share");
        let again = Share::parse(&written.grouped()).expect("the grouped form parses");
        assert_eq!(
            (
                again.group,
                again.split_id,
                again.threshold,
                again.shares,
                again.index
            ),
            (
                share.group,
                share.split_id,
                share.threshold,
                share.shares,
                share.index
            )
        );
        assert_eq!(again.value(), share.value());
    }
});
