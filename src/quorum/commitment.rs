//! Salted commitments to shares, published in the provisioning record.
//!
//! `commitment = SHA-256("byok-ceremony share commitment v1" || salt || group || split id ||
//! M || N || index || value)` with a fresh 16-byte salt per share.
//!
//! Why salted rather than a plain hash of the share: a plain hash is only as hiding as the
//! share is unpredictable, and is the same wherever the same value appears. With a salt,
//! (1) equal share values (every share of a rehearsal's M = 1 split *is* the secret) give
//! unrelated commitments, so the record does not reveal that they are equal; (2) nothing can
//! be precomputed, and commitments cannot be linked across records or tokens; (3) hashing the
//! header binds the share to its split, group and index, so a share cannot be relabelled to
//! pass as another custodian's. Shares carry at least 128 bits of randomness (see `pin`), so
//! the record gives nothing to brute-force.
use sha2::{Digest, Sha256};

use super::share::Share;
use super::split::ct_eq;

pub const SALT_LEN: usize = 16;
const DOMAIN: &[u8] = b"byok-ceremony share commitment v1";

/// A share's salt and commitment (both public).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commitment {
    pub salt: [u8; SALT_LEN],
    pub digest: [u8; 32],
}

/// Commits to `share` under a fresh random salt.
pub fn commit(share: &Share) -> Result<Commitment, getrandom::Error> {
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt)?;
    Ok(Commitment {
        salt,
        digest: digest(share, &salt),
    })
}

/// The commitment of `share` under `salt`.
pub fn digest(share: &Share, salt: &[u8; SALT_LEN]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(salt);
    h.update([share.group.code()]);
    h.update(share.split_id.0);
    h.update([share.threshold, share.shares, share.index]);
    h.update(share.value());
    h.finalize().into()
}

/// Whether `share` is the one committed to (constant time in the share's value).
pub fn matches(share: &Share, commitment: &Commitment) -> bool {
    ct_eq(&digest(share, &commitment.salt), &commitment.digest)
}

#[cfg(test)]
mod tests {
    use super::super::share::PinGroup;
    use super::*;
    use crate::quorum::share::SplitId;
    use zeroize::Zeroizing;

    #[test]
    fn salts_make_equal_values_unlinkable_and_headers_are_bound() {
        let make = |index| {
            Share::from_parts(
                PinGroup::UserPin,
                SplitId([7; 6]),
                1,
                2,
                index,
                Zeroizing::new(vec![5; 24]),
            )
            .expect("share")
        };
        let (a, b) = (make(1), make(2));
        let (ca, cb) = (commit(&a).expect("c"), commit(&a).expect("c"));
        assert_ne!(ca.digest, cb.digest, "same share, different salts");
        assert!(matches(&a, &ca) && matches(&a, &cb));
        assert!(!matches(&b, &ca), "same value, other index");
    }
}
