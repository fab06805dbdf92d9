//! Split a PIN into N shares, any M of which rebuild it: Shamir's scheme over GF(256), byte by
//! byte, through vsss-rs (constant-time field arithmetic, uniform coefficients).
//!
//! What is shared is `PIN bytes || check`, where `check` is the first 4 bytes of
//! SHA-256("byok-ceremony pin check v1" || group || split id || PIN bytes). The check never
//! leaves the shares: it is not in the public record, so it gives an outsider nothing to
//! brute-force. Combining recomputes it, so a wrong set of shares (fewer than M forced
//! together, a share whose value was altered, shares of two splits that claim the same id)
//! is reported as a wrong PIN *before* the token is asked, and no login try is burnt.
//!
//! Fewer than M shares are refused outright (every share carries M). Were they combined
//! anyway, Shamir's scheme makes every PIN equally likely: M-1 shares say nothing about it.
use sha2::{Digest, Sha256};
use vsss_rs::{Gf256, IdentifierGf256};
use zeroize::Zeroizing;

use super::pin::PinSecret;
use super::share::{PinGroup, Share, ShareError, SplitId};

/// Most shares a split may have.
pub const MAX_SHARES: u8 = 16;
/// Bytes of the PIN check appended to the shared secret.
pub const CHECK_LEN: usize = 4;
const CHECK_DOMAIN: &[u8] = b"byok-ceremony pin check v1";

/// Production ceremonies need 2 <= M; a rehearsal may use M = 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitPolicy {
    Production,
    Rehearsal,
}

/// Why a PIN could not be split, or shares could not be combined.
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    #[error(
        "a threshold of {0} lets a single custodian use the HSM; production needs M >= 2 (M = 1 is allowed only in a rehearsal script)"
    )]
    ThresholdTooLow(u8),
    #[error("the threshold must be at least 1")]
    ThresholdZero,
    #[error(
        "the threshold M = {m} is larger than the number of custodians N = {n}; lower M or add custodians"
    )]
    ThresholdAboveShares { m: u8, n: u8 },
    #[error(
        "{0} shares is more than the {MAX_SHARES} byok-ceremony supports; use fewer custodians"
    )]
    TooManyShares(usize),
    #[error(
        "the operating system's random generator failed ({0}); do not run a ceremony on this machine"
    )]
    Random(getrandom::Error),
    #[error("the secret-sharing library refused: {0}; report this")]
    Shamir(String),
    #[error(
        "the random pool for the split ran short; no shares were made: report this (the secret-sharing library changed)"
    )]
    RandomPoolExhausted,
    #[error("a share could not be made: {0}")]
    Share(#[from] ShareError),
    #[error("no shares were presented")]
    NoShares,
    #[error(
        "{have} of the {need} shares needed for the {group} are present; {missing} more custodian(s) must present theirs",
        missing = need - have
    )]
    NotEnoughShares {
        group: PinGroup,
        have: usize,
        need: usize,
    },
    #[error(
        "share {index} belongs to split {other}, the others to split {first}: it is from another provisioning (an older split, or another token); that custodian must bring the share of split {first}"
    )]
    MixedSplits {
        index: u8,
        first: SplitId,
        other: SplitId,
    },
    #[error(
        "share {index} is for the {other}, the others for the {first}; present shares of one PIN"
    )]
    MixedGroups {
        index: u8,
        first: PinGroup,
        other: PinGroup,
    },
    #[error(
        "share {index} says M = {m}, N = {n}, unlike the others of its split; it is corrupt or forged"
    )]
    InconsistentHeader { index: u8, m: u8, n: u8 },
    #[error("share number {0} was presented twice; each custodian presents their own share once")]
    Duplicate(u8),
    #[error("the shares have different lengths; at least one is corrupt or forged")]
    LengthMismatch,
    #[error(
        "the shares rebuilt a PIN that fails its check value: at least one share is not the one handed out (altered, forged, or fewer than M combined); the token was not asked, no login try was used"
    )]
    WrongPin,
}

/// The result of splitting: the shares, each to go to one custodian.
#[derive(Debug)]
pub struct Split {
    pub split_id: SplitId,
    pub group: PinGroup,
    pub threshold: u8,
    pub shares: Vec<Share>,
}

/// Checks M and N against the policy: 1 <= M <= N <= 16, and M >= 2 in production.
pub fn check_params(threshold: u8, shares: usize, policy: SplitPolicy) -> Result<u8, SplitError> {
    if shares > usize::from(MAX_SHARES) {
        return Err(SplitError::TooManyShares(shares));
    }
    let n = shares as u8;
    if threshold == 0 {
        return Err(SplitError::ThresholdZero);
    }
    if threshold > n {
        return Err(SplitError::ThresholdAboveShares { m: threshold, n });
    }
    if threshold < 2 && policy == SplitPolicy::Production {
        return Err(SplitError::ThresholdTooLow(threshold));
    }
    Ok(n)
}

fn check_value(group: PinGroup, split_id: SplitId, pin: &[u8]) -> [u8; CHECK_LEN] {
    let mut h = Sha256::new();
    h.update(CHECK_DOMAIN);
    h.update([group.code()]);
    h.update(split_id.0);
    h.update(pin);
    let digest = h.finalize();
    let mut out = [0u8; CHECK_LEN];
    out.copy_from_slice(&digest[..CHECK_LEN]);
    out
}

/// Splits `pin` into `shares` shares with threshold `threshold` under a fresh split id.
pub fn split_pin(
    pin: &PinSecret,
    group: PinGroup,
    threshold: u8,
    shares: usize,
    policy: SplitPolicy,
) -> Result<Split, SplitError> {
    let n = check_params(threshold, shares, policy)?;
    let split_id = SplitId::random().map_err(SplitError::Random)?;
    split_with_id(pin, group, split_id, threshold, n)
}

fn split_with_id(
    pin: &PinSecret,
    group: PinGroup,
    split_id: SplitId,
    threshold: u8,
    n: u8,
) -> Result<Split, SplitError> {
    let mut secret = Zeroizing::new(Vec::with_capacity(pin.bytes().len() + CHECK_LEN));
    secret.extend_from_slice(pin.bytes());
    secret.extend_from_slice(&check_value(group, split_id, pin.bytes()));
    let raw: Zeroizing<Vec<Vec<u8>>> = if threshold == 1 {
        // A degree-0 polynomial: every share is the secret (rehearsals only).
        Zeroizing::new(
            (1..=n)
                .map(|i| {
                    let mut v = Vec::with_capacity(secret.len() + 1);
                    v.push(i);
                    v.extend_from_slice(&secret);
                    v
                })
                .collect(),
        )
    } else {
        let mut rng = PreDrawnRng::new(pool_len(secret.len(), threshold))?;
        shamir(&secret, threshold, n, &mut rng)?
    };
    let mut shares = Vec::with_capacity(usize::from(n));
    for (i, share) in raw.iter().enumerate() {
        let index = i as u8 + 1;
        if share.first() != Some(&index) || share.len() != secret.len() + 1 {
            return Err(SplitError::Shamir(
                "shares came back out of order or of the wrong length".into(),
            ));
        }
        shares.push(Share::from_parts(
            group,
            split_id,
            threshold,
            n,
            index,
            Zeroizing::new(share[1..].to_vec()),
        )?);
    }
    let split = Split {
        split_id,
        group,
        threshold,
        shares,
    };
    // Check what was made, not what was asked for.
    let first: Vec<Share> = split
        .shares
        .iter()
        .take(usize::from(threshold))
        .cloned()
        .collect();
    if combine_pin(&first)? != *pin {
        return Err(SplitError::WrongPin);
    }
    Ok(split)
}

/// The random bytes a split of a `secret_len`-byte secret draws: vsss-rs draws one u32 per
/// coefficient, M - 1 coefficients per secret byte.
fn pool_len(secret_len: usize, threshold: u8) -> usize {
    secret_len * usize::from(threshold.saturating_sub(1)) * 4
}

/// The Shamir split itself, drawing from a pre-drawn pool; a split that would need more than
/// the pool holds fails rather than take zeros.
fn shamir(
    secret: &[u8],
    threshold: u8,
    n: u8,
    rng: &mut PreDrawnRng,
) -> Result<Zeroizing<Vec<Vec<u8>>>, SplitError> {
    let out = Gf256::split_bytes_with_participant_ids_iter(
        usize::from(threshold),
        usize::from(n),
        secret,
        &mut *rng,
        (1..=n).map(|i| IdentifierGf256(Gf256(i))),
    )
    .map(Zeroizing::new)
    .map_err(|e| SplitError::Shamir(format!("{e:?}")))?;
    if rng.overrun {
        return Err(SplitError::RandomPoolExhausted);
    }
    Ok(out)
}

/// Checks that `shares` belong together: one split, one group, one M and N, no duplicates,
/// equal lengths. Returns the threshold.
pub fn check_consistent(shares: &[Share]) -> Result<u8, SplitError> {
    let first = shares.first().ok_or(SplitError::NoShares)?;
    let mut seen = [false; 256];
    for s in shares {
        if s.split_id != first.split_id {
            return Err(SplitError::MixedSplits {
                index: s.index,
                first: first.split_id,
                other: s.split_id,
            });
        }
        if s.group != first.group {
            return Err(SplitError::MixedGroups {
                index: s.index,
                first: first.group,
                other: s.group,
            });
        }
        if (s.threshold, s.shares) != (first.threshold, first.shares) {
            return Err(SplitError::InconsistentHeader {
                index: s.index,
                m: s.threshold,
                n: s.shares,
            });
        }
        if std::mem::replace(&mut seen[usize::from(s.index)], true) {
            return Err(SplitError::Duplicate(s.index));
        }
        if s.value().len() != first.value().len() {
            return Err(SplitError::LengthMismatch);
        }
    }
    Ok(first.threshold)
}

/// Rebuilds the PIN from at least M shares of one split, and checks it.
pub fn combine_pin(shares: &[Share]) -> Result<PinSecret, SplitError> {
    let threshold = check_consistent(shares)?;
    let first = &shares[0];
    if shares.len() < usize::from(threshold) {
        return Err(SplitError::NotEnoughShares {
            group: first.group,
            have: shares.len(),
            need: usize::from(threshold),
        });
    }
    let used = &shares[..usize::from(threshold)];
    let secret = if threshold == 1 {
        Zeroizing::new(first.value().to_vec())
    } else {
        let points: Zeroizing<Vec<Vec<u8>>> = Zeroizing::new(
            used.iter()
                .map(|s| {
                    let mut v = Vec::with_capacity(s.value().len() + 1);
                    v.push(s.index);
                    v.extend_from_slice(s.value());
                    v
                })
                .collect(),
        );
        Gf256::combine_bytes(points.as_slice())
            .map(Zeroizing::new)
            .map_err(|e| SplitError::Shamir(format!("{e:?}")))?
    };
    let Some(pin_len) = secret.len().checked_sub(CHECK_LEN) else {
        return Err(SplitError::WrongPin);
    };
    let (pin, check) = secret.split_at(pin_len);
    let expected = check_value(first.group, first.split_id, pin);
    if !ct_eq(check, &expected) {
        return Err(SplitError::WrongPin);
    }
    PinSecret::from_bytes(Zeroizing::new(pin.to_vec())).map_err(|_| SplitError::WrongPin)
}

/// Constant-time equality of two byte strings of public length.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Random bytes drawn from the OS generator up front (where failure can be reported), then
/// served to vsss-rs, whose generator interface cannot fail. Running short is recorded and
/// turned into an error, never into a weak split.
struct PreDrawnRng {
    pool: Zeroizing<Vec<u8>>,
    pos: usize,
    overrun: bool,
}

impl PreDrawnRng {
    fn new(len: usize) -> Result<Self, SplitError> {
        let mut pool = Zeroizing::new(vec![0u8; len]);
        getrandom::fill(pool.as_mut_slice()).map_err(SplitError::Random)?;
        Ok(PreDrawnRng {
            pool,
            pos: 0,
            overrun: false,
        })
    }

    fn take(&mut self, dst: &mut [u8]) {
        match self.pool.get(self.pos..self.pos + dst.len()) {
            Some(src) => {
                dst.copy_from_slice(src);
                self.pos += dst.len();
            }
            None => {
                self.overrun = true;
                dst.fill(0);
            }
        }
    }
}

impl getrandom::rand_core::TryRng for PreDrawnRng {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.take(&mut b);
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.take(&mut b);
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        self.take(dst);
        Ok(())
    }
}

impl getrandom::rand_core::TryCryptoRng for PreDrawnRng {}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin() -> PinSecret {
        PinSecret::from_bytes(Zeroizing::new((1u8..=20).collect())).expect("pin")
    }

    #[test]
    fn policy_limits() {
        use SplitPolicy::*;
        assert!(matches!(
            check_params(1, 3, Production),
            Err(SplitError::ThresholdTooLow(1))
        ));
        assert_eq!(check_params(1, 3, Rehearsal).expect("rehearsal M=1"), 3);
        assert!(matches!(
            check_params(4, 3, Rehearsal),
            Err(SplitError::ThresholdAboveShares { .. })
        ));
        assert!(matches!(
            check_params(2, 17, Production),
            Err(SplitError::TooManyShares(17))
        ));
        assert!(matches!(
            check_params(0, 3, Rehearsal),
            Err(SplitError::ThresholdZero)
        ));
        assert_eq!(check_params(16, 16, Production).expect("16 of 16"), 16);
    }

    #[test]
    fn the_random_pool_is_used_exactly() {
        // The pool the split draws is exactly what vsss-rs takes: all of it, and one u32 less
        // makes the split fail (never a coefficient of zeros).
        let secret = [0x5au8; 24];
        for threshold in [2u8, 3, 5] {
            let need = pool_len(secret.len(), threshold);
            let mut exact = PreDrawnRng::new(need).expect("pool");
            shamir(&secret, threshold, 5, &mut exact).expect("split");
            assert_eq!(
                exact.pos, need,
                "M = {threshold}: part of the pool was not used"
            );
            assert!(!exact.overrun);
            let mut short = PreDrawnRng::new(need - 4).expect("pool");
            assert!(
                matches!(
                    shamir(&secret, threshold, 5, &mut short),
                    Err(SplitError::RandomPoolExhausted)
                ),
                "M = {threshold}: a short pool was not caught"
            );
        }
    }

    #[test]
    fn rehearsal_single_share_rebuilds() {
        let split =
            split_pin(&pin(), PinGroup::SoPin, 1, 2, SplitPolicy::Rehearsal).expect("split");
        for s in &split.shares {
            assert_eq!(
                combine_pin(std::slice::from_ref(s)).expect("one share"),
                pin()
            );
        }
    }
}
