//! A KEK modulus that anyone can factor protects nothing: refuse one with a small prime
//! factor (trial division by every prime below 2^16) or that is a perfect power, as the
//! well-kept RSA libraries do for public keys they are given.
use std::sync::OnceLock;

use num_bigint::BigUint;

/// Trial division bound: every prime below it is tried.
const SMALL_PRIME_BOUND: u32 = 1 << 16;

/// What is wrong with the modulus `n` (big-endian, no leading zeros), if anything.
pub(super) fn weakness(n: &[u8]) -> Option<String> {
    for &p in small_primes() {
        let rest = n.iter().fold(0u32, |r, &b| ((r << 8) | u32::from(b)) % p);
        if rest == 0 {
            return Some(format!("the modulus has the small prime factor {p}"));
        }
    }
    // With no prime factor below 2^16, a root a of n = a^k is above 2^16, so k is at most
    // bits/16; a composite k means a prime-power root too, so prime k suffice.
    let big = BigUint::from_bytes_be(n);
    let max_k = u32::try_from(n.len() * 8 / 16).unwrap_or(u32::MAX);
    small_primes()
        .iter()
        .take_while(|&&k| k <= max_k)
        .find(|&&k| big.nth_root(k).pow(k) == big)
        .map(|k| format!("the modulus is a perfect power (an integer to the power {k})"))
}

/// The primes below 2^16, by a sieve, once per process.
fn small_primes() -> &'static [u32] {
    static PRIMES: OnceLock<Vec<u32>> = OnceLock::new();
    PRIMES.get_or_init(|| {
        let n = SMALL_PRIME_BOUND as usize;
        let mut composite = vec![false; n];
        let mut primes = Vec::new();
        for i in 2..n {
            if !composite[i] {
                primes.push(i as u32);
                let mut j = i * i;
                while j < n {
                    composite[j] = true;
                    j += i;
                }
            }
        }
        primes
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn be(n: &BigUint) -> Vec<u8> {
        n.to_bytes_be()
    }

    #[test]
    fn the_primes_below_two_to_the_sixteen() {
        let p = small_primes();
        assert_eq!(p.len(), 6542);
        assert_eq!(p[..5], [2, 3, 5, 7, 11]);
        assert_eq!(p.last(), Some(&65521));
    }

    /// The example: n = 3 * (2^2046 + 1), 2048 bits, odd.
    #[test]
    fn a_small_factor_is_found() {
        let n: BigUint = BigUint::from(3u32) * ((BigUint::from(1u32) << 2046) + 1u32);
        assert_eq!(n.bits(), 2048);
        let why = weakness(&be(&n)).expect("weak");
        assert!(why.contains("small prime factor 3"), "{why}");
        // The largest prime below 2^16 times two large primes (2^127-1, 2^89-1).
        let n: BigUint = BigUint::from(65521u32)
            * ((BigUint::from(1u32) << 127) - 1u32)
            * ((BigUint::from(1u32) << 89) - 1u32);
        assert!(weakness(&be(&n)).expect("weak").contains("factor 65521"));
    }

    #[test]
    fn a_perfect_power_is_found() {
        // (2^61 - 1)^2 and (2^127 - 1)^3: prime roots above 2^16.
        let m61: BigUint = (BigUint::from(1u32) << 61) - 1u32;
        let why = weakness(&be(&m61.pow(2))).expect("square");
        assert!(why.contains("power 2"), "{why}");
        let m127: BigUint = (BigUint::from(1u32) << 127) - 1u32;
        assert!(
            weakness(&be(&m127.pow(3)))
                .expect("cube")
                .contains("power 3")
        );
    }

    #[test]
    fn a_real_modulus_passes() {
        // A product of two distinct large primes: 2^127-1 and 2^89-1 (Mersenne primes).
        let n: BigUint =
            ((BigUint::from(1u32) << 127) - 1u32) * ((BigUint::from(1u32) << 89) - 1u32);
        assert_eq!(weakness(&be(&n)), None);
    }
}
