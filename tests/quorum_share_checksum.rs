//! The share checksum, exhaustively on real shares: every single wrong character (any
//! printable ASCII character, at every position) and every swap of two different neighbours
//! is refused. Case changes, spaces and dashes are accepted (they are not errors).
//!
//! Insertions and deletions are not covered by Bech32m's guarantee (it detects them with
//! probability about 1 - 2^-30); they are checked on a fixed share so the test is
//! deterministic, and all of them are caught there too.
use byok_ceremony::quorum::PinSecret;
use byok_ceremony::quorum::share::{PinGroup, Share, SplitId};
use byok_ceremony::quorum::split::{SplitPolicy, split_pin};
use zeroize::Zeroizing;

fn real_share() -> String {
    let mut pin = Zeroizing::new(vec![0u8; 20]);
    getrandom::fill(pin.as_mut_slice()).expect("random");
    let pin = PinSecret::from_bytes(pin).expect("pin");
    let split = split_pin(&pin, PinGroup::UserPin, 3, 5, SplitPolicy::Production).expect("split");
    split.shares[3]
        .to_text()
        .expect("text")
        .canonical()
        .to_owned()
}

fn fixed_share() -> String {
    Share::from_parts(
        PinGroup::SoPin,
        SplitId([0x5a, 0x01, 0xc3, 0x77, 0x00, 0xfe]),
        2,
        3,
        2,
        Zeroizing::new(
            (0u8..24)
                .map(|i| i.wrapping_mul(97).wrapping_add(13))
                .collect(),
        ),
    )
    .expect("share")
    .to_text()
    .expect("text")
    .canonical()
    .to_owned()
}

/// Every single-character substitution that is a real change, and every neighbour swap.
fn assert_substitutions_and_swaps_refused(share: &str) {
    let original = Share::parse(share).expect("the untouched share parses");
    let bytes = share.as_bytes();
    let mut substitutions = 0;
    for i in 0..bytes.len() {
        for c in 0x21u8..=0x7e {
            // Not an error: the same character in either case, or a separator that is ignored.
            if c.eq_ignore_ascii_case(&bytes[i]) || c == b'-' {
                continue;
            }
            let mut typo = bytes.to_vec();
            typo[i] = c;
            let typo = String::from_utf8(typo).expect("ascii");
            assert!(
                Share::parse(&typo).is_err(),
                "substituting position {i} with {:?} was not caught",
                char::from(c)
            );
            substitutions += 1;
        }
    }
    let mut swaps = 0;
    for i in 0..bytes.len() - 1 {
        if bytes[i] == bytes[i + 1] {
            continue;
        }
        let mut typo = bytes.to_vec();
        typo.swap(i, i + 1);
        let typo = String::from_utf8(typo).expect("ascii");
        assert!(Share::parse(&typo).is_err(), "swap at {i} was not caught");
        swaps += 1;
    }
    // Case, spaces and dashes are free.
    let relaxed = share.to_ascii_uppercase().replace("BYOK1", "byok1-");
    let back = Share::parse(&relaxed).expect("case and dashes are accepted");
    assert_eq!(back.value(), original.value());
    assert!(
        substitutions > 5000 && swaps > 40,
        "{substitutions} {swaps}"
    );
    eprintln!(
        "{} characters: {substitutions} substitutions and {swaps} swaps all refused",
        share.len()
    );
}

#[test]
fn every_single_substitution_and_neighbour_swap_is_caught_on_a_real_share() {
    let share = real_share();
    assert!(
        share.len() <= 90,
        "the checksum guarantee holds up to 90 characters"
    );
    assert_substitutions_and_swaps_refused(&share);
}

#[test]
fn every_substitution_swap_insertion_and_deletion_is_caught_on_a_fixed_share() {
    let share = fixed_share();
    assert_substitutions_and_swaps_refused(&share);
    let bytes = share.as_bytes();
    for i in 0..bytes.len() {
        let mut typo = bytes.to_vec();
        typo.remove(i);
        let typo = String::from_utf8(typo).expect("ascii");
        assert!(Share::parse(&typo).is_err(), "deleting {i} was not caught");
        for c in byok_ceremony::quorum::bech32::CHARSET.iter().chain(b"1") {
            let mut typo = bytes.to_vec();
            typo.insert(i, *c);
            let typo = String::from_utf8(typo).expect("ascii");
            assert!(
                Share::parse(&typo).is_err(),
                "inserting {:?} at {i} was not caught",
                char::from(*c)
            );
        }
    }
}

#[test]
fn the_example_share_in_the_docs_is_valid() {
    // docs/custodian-guide.md shows this share; keep them in step.
    let share = fixed_share();
    let grouped = Share::parse(&share)
        .expect("parses")
        .to_text()
        .expect("text")
        .grouped()
        .to_string();
    let guide = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/custodian-guide.md"
    ))
    .expect("the custodian guide exists");
    assert!(
        guide.contains(&grouped),
        "the guide's example share must be {grouped}"
    );
}
