//! New PINs: random bytes from the OS generator XORed with the token's own generator
//! (C_GenerateRandom), written as lowercase base32 so that any token accepts them as text.
//!
//! The XOR is at least as unpredictable as the better of the two sources, so neither a weak
//! token RNG nor a weak OS RNG alone can make the PIN guessable. A PIN carries 160 bits when
//! the token's PIN length allows (32 characters), never fewer than 128 (26 characters):
//! shorter PINs would let anyone holding the public provisioning record brute-force the share
//! commitments.
use std::fmt;

use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

use crate::hsm::{HsmError, HsmSession};

/// The characters of a generated PIN (RFC 4648 base32, lowercase).
pub const PIN_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
/// Fewest secret bytes a split PIN may carry (128 bits).
pub const MIN_SECRET_BYTES: usize = 16;
/// What a PIN carries when the token allows it (160 bits, 32 characters).
pub const PREFERRED_SECRET_BYTES: usize = 20;
/// Most secret bytes (256 bits); more would not fit a share's checksum range.
pub const MAX_SECRET_BYTES: usize = 32;

/// Why a PIN could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error(
        "the operating system's random generator failed ({0}); do not run a ceremony on this machine"
    )]
    OsRandom(getrandom::Error),
    #[error("could not get random bytes from the token: {0}")]
    TokenRandom(#[source] HsmError),
    #[error(
        "the token returned {got} random bytes instead of {wanted}; its generator is faulty: use another HSM"
    )]
    TokenRandomLength { got: usize, wanted: usize },
    #[error(
        "the token allows PINs of at most {max} characters, but a split PIN needs at least {need} (128 bits); use an HSM that accepts longer PINs"
    )]
    MaxTooShort { max: usize, need: usize },
    #[error(
        "the token demands PINs of at least {min} characters, more than byok-ceremony makes ({most}); use an HSM with a shorter minimum"
    )]
    MinTooLong { min: usize, most: usize },
    #[error(
        "a PIN secret of {0} bytes is outside {MIN_SECRET_BYTES}..={MAX_SECRET_BYTES}; the shares do not belong together"
    )]
    SecretLength(usize),
}

/// The token's PIN length limits, from C_GetTokenInfo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinLimits {
    pub min: usize,
    /// 0 when the token does not say.
    pub max: usize,
}

/// Characters of the PIN text for `secret_len` bytes.
pub fn text_len(secret_len: usize) -> usize {
    (secret_len * 8).div_ceil(5)
}

/// How many secret bytes fit the token's limits: 20 if allowed, else as many as the maximum
/// length holds (at least 16), or more when the minimum demands it.
pub fn secret_len_for(limits: PinLimits) -> Result<usize, PinError> {
    let max_text = if limits.max == 0 {
        usize::MAX
    } else {
        limits.max
    };
    let mut len = PREFERRED_SECRET_BYTES;
    while text_len(len) > max_text {
        len -= 1;
        if len < MIN_SECRET_BYTES {
            return Err(PinError::MaxTooShort {
                max: limits.max,
                need: text_len(MIN_SECRET_BYTES),
            });
        }
    }
    while text_len(len) < limits.min {
        len += 1;
        if len > MAX_SECRET_BYTES || text_len(len) > max_text {
            return Err(PinError::MinTooLong {
                min: limits.min,
                most: text_len(MAX_SECRET_BYTES).min(max_text),
            });
        }
    }
    Ok(len)
}

/// A PIN's secret bytes. Zeroized on drop; Debug is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct PinSecret(Zeroizing<Vec<u8>>);

impl fmt::Debug for PinSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PinSecret(<redacted>, {} bytes)", self.0.len())
    }
}

impl PinSecret {
    pub fn from_bytes(bytes: Zeroizing<Vec<u8>>) -> Result<PinSecret, PinError> {
        if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&bytes.len()) {
            return Err(PinError::SecretLength(bytes.len()));
        }
        Ok(PinSecret(bytes))
    }

    /// The XOR of two equally long random strings.
    pub fn mixed(os: &[u8], token: &[u8]) -> Result<PinSecret, PinError> {
        if os.len() != token.len() {
            return Err(PinError::TokenRandomLength {
                got: token.len(),
                wanted: os.len(),
            });
        }
        let mut out = Zeroizing::new(Vec::with_capacity(os.len()));
        out.extend(os.iter().zip(token).map(|(a, b)| a ^ b));
        PinSecret::from_bytes(out)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The PIN as the token sees it: lowercase base32 without padding.
    pub fn text(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(text_len(self.0.len())));
        for v in super::bech32::to_base32(&self.0).iter() {
            out.push(char::from(PIN_ALPHABET[usize::from(*v)]));
        }
        out
    }

    /// The PIN in cryptoki's zeroizing wrapper, for C_Login / C_SetPIN / C_InitPIN.
    pub fn auth_pin(&self) -> AuthPin {
        AuthPin::from(self.text().as_str())
    }
}

/// Makes a new PIN within the token's limits from the OS generator XOR the token's.
pub fn generate(session: &HsmSession<'_>, limits: PinLimits) -> Result<PinSecret, PinError> {
    let len = secret_len_for(limits)?;
    let mut os = Zeroizing::new(vec![0u8; len]);
    getrandom::fill(os.as_mut_slice()).map_err(PinError::OsRandom)?;
    let token = Zeroizing::new(session.random(len as u32).map_err(PinError::TokenRandom)?);
    PinSecret::mixed(&os, &token)
}

/// A PIN from the OS generator alone, for the moment before the token can give random bytes
/// (the temporary PINs of a token being initialised; they are replaced at once).
pub fn generate_os_only(len: usize) -> Result<PinSecret, PinError> {
    let mut os = Zeroizing::new(vec![0u8; len]);
    getrandom::fill(os.as_mut_slice()).map_err(PinError::OsRandom)?;
    PinSecret::from_bytes(os)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_fits_the_token_limits() {
        let l = |min, max| secret_len_for(PinLimits { min, max });
        assert_eq!(l(4, 255).expect("softhsm"), 20);
        assert_eq!(text_len(20), 32);
        assert_eq!(l(0, 0).expect("unknown max"), 20);
        assert_eq!(l(8, 30).expect("max 30"), 18);
        assert_eq!(text_len(18), 29);
        assert_eq!(l(8, 26).expect("max 26"), 16);
        assert!(matches!(l(4, 16), Err(PinError::MaxTooShort { .. })));
        assert_eq!(l(40, 255).expect("min 40"), 25);
        assert!(text_len(25) >= 40);
        assert!(matches!(l(60, 255), Err(PinError::MinTooLong { .. })));
    }

    #[test]
    fn text_is_base32_and_mixing_is_xor() {
        let pin = PinSecret::mixed(&[0xff; 20], &[0x0f; 20]).expect("pin");
        assert_eq!(pin.bytes(), &[0xf0; 20]);
        let text = pin.text();
        assert_eq!(text.len(), 32);
        assert!(text.bytes().all(|c| PIN_ALPHABET.contains(&c)));
        assert_eq!(&text[..8], "6dypb4hq");
        assert!(format!("{pin:?}").contains("redacted"));
        assert!(!format!("{pin:?}").contains(text.as_str()));
        assert!(PinSecret::mixed(&[0; 20], &[0; 19]).is_err());
        assert!(PinSecret::from_bytes(Zeroizing::new(vec![0; 8])).is_err());
    }
}
