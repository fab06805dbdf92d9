//! Property tests of split and combine: any M of N shares rebuild the PIN; M-1 shares are
//! refused (and, forced together, fail the PIN's check value); shares of another split,
//! duplicates and mistyped shares each give their own error.
use byok_ceremony::quorum::PinSecret;
use byok_ceremony::quorum::share::{PinGroup, Share, ShareError};
use byok_ceremony::quorum::split::{SplitError, SplitPolicy, combine_pin, split_pin};
use proptest::prelude::*;
use zeroize::Zeroizing;

fn pin(bytes: Vec<u8>) -> PinSecret {
    PinSecret::from_bytes(Zeroizing::new(bytes)).expect("pin length in range")
}

/// (N, M, PIN bytes, an ordering of the shares).
fn params() -> impl Strategy<Value = (usize, u8, Vec<u8>, Vec<usize>)> {
    (2usize..=16).prop_flat_map(|n| {
        (
            Just(n),
            2u8..=(n as u8),
            prop::collection::vec(any::<u8>(), 16..=32),
            Just((0..n).collect::<Vec<usize>>()).prop_shuffle(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_m_of_n_rebuild_the_pin((n, m, bytes, order) in params(), extra in 0usize..16) {
        let secret = pin(bytes);
        let split = split_pin(&secret, PinGroup::UserPin, m, n, SplitPolicy::Production).expect("split");
        prop_assert_eq!(split.shares.len(), n);
        // Any M of them, in any order, and any number more than M.
        let take = (usize::from(m) + extra).min(n);
        let chosen: Vec<Share> = order.iter().take(take).map(|&i| split.shares[i].clone()).collect();
        prop_assert_eq!(combine_pin(&chosen).expect("M shares rebuild"), secret);
    }

    #[test]
    fn m_minus_one_shares_fail((n, m, bytes, order) in params()) {
        let secret = pin(bytes);
        let split = split_pin(&secret, PinGroup::UserPin, m, n, SplitPolicy::Production).expect("split");
        let fewer: Vec<Share> = order.iter().take(usize::from(m) - 1).map(|&i| split.shares[i].clone()).collect();
        // Refused outright: every share says how many are needed.
        let refused = matches!(
            combine_pin(&fewer),
            Err(SplitError::NotEnoughShares { have, need, .. }) if have == usize::from(m) - 1 && need == usize::from(m)
        );
        prop_assert!(refused);
        // Forced (the shares re-labelled as if M - 1 were enough): Lagrange interpolation gives
        // some value, and the hidden check value says it is not the PIN.
        let forged: Vec<Share> = fewer
            .iter()
            .map(|s| {
                Share::from_parts(s.group, s.split_id, m - 1, s.shares, s.index, Zeroizing::new(s.value().to_vec()))
                    .expect("re-labelled share")
            })
            .collect();
        prop_assert!(matches!(combine_pin(&forged), Err(SplitError::WrongPin)));
    }

    #[test]
    fn another_splits_share_duplicates_and_typos_have_their_own_errors(
        (n, m, bytes, order) in params(),
        position in 5usize..60,
        replacement in 0usize..32,
    ) {
        let secret = pin(bytes);
        let a = split_pin(&secret, PinGroup::UserPin, m, n, SplitPolicy::Production).expect("split a");
        let b = split_pin(&secret, PinGroup::UserPin, m, n, SplitPolicy::Production).expect("split b");
        let mut chosen: Vec<Share> = order.iter().take(usize::from(m)).map(|&i| a.shares[i].clone()).collect();

        // Same PIN, same M and N, but another split: named as such, with both split ids.
        let mut mixed = chosen.clone();
        let last = mixed.len() - 1;
        mixed[last] = b.shares[order[last]].clone();
        let is_mixed = matches!(
            combine_pin(&mixed),
            Err(SplitError::MixedSplits { first, other, .. }) if first == a.split_id && other == b.split_id
        );
        prop_assert!(is_mixed);

        // The same share twice.
        let dup = chosen[0].clone();
        let dup_index = dup.index;
        chosen[last] = dup;
        let is_dup = matches!(combine_pin(&chosen), Err(SplitError::Duplicate(i)) if i == dup_index);
        prop_assert!(is_dup);

        // One wrong character: refused when read, before any combining.
        let text = a.shares[order[0]].to_text().expect("text").canonical().to_owned();
        let pos = position.min(text.len() - 1);
        let charset = byok_ceremony::quorum::bech32::CHARSET;
        let mut c = charset[replacement];
        if c == text.as_bytes()[pos] {
            c = charset[(replacement + 1) % 32];
        }
        let mut typo = text.into_bytes();
        typo[pos] = c;
        let typo = String::from_utf8(typo).expect("ascii");
        prop_assert!(matches!(Share::parse(&typo), Err(ShareError::Encoding(_))));
    }
}

#[test]
fn a_share_of_the_other_pin_is_named() {
    let secret = pin(vec![7; 20]);
    let user = split_pin(&secret, PinGroup::UserPin, 2, 3, SplitPolicy::Production).expect("user");
    let so = split_pin(&secret, PinGroup::SoPin, 2, 3, SplitPolicy::Production).expect("so");
    // Shares of two splits: the other split is named first.
    let mixed = vec![user.shares[0].clone(), so.shares[1].clone()];
    assert!(matches!(
        combine_pin(&mixed),
        Err(SplitError::MixedSplits { .. })
    ));
    // A share of the other PIN under the same split id (a forgery, or a mix-up of records):
    // the group is named, both of them.
    let other = &so.shares[1];
    let relabelled = Share::from_parts(
        PinGroup::SoPin,
        user.split_id,
        other.threshold,
        other.shares,
        other.index,
        Zeroizing::new(other.value().to_vec()),
    )
    .expect("share");
    let e = combine_pin(&[user.shares[0].clone(), relabelled]).expect_err("mixed PINs");
    assert!(
        matches!(
            e,
            SplitError::MixedGroups {
                index: 2,
                first: PinGroup::UserPin,
                other: PinGroup::SoPin
            }
        ),
        "{e}"
    );
    let text = e.to_string();
    assert!(text.contains(&PinGroup::SoPin.to_string()), "{text}");
    assert!(text.contains(&PinGroup::UserPin.to_string()), "{text}");
}
