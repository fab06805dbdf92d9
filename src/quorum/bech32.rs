//! Bech32m (BIP-350): the checksummed text encoding that shares are typed in.
//!
//! The checksum is a BCH code over GF(32) that is guaranteed to detect any error affecting at
//! most 4 characters in a string of at most 90 characters, so every single wrong character and
//! every swap of two neighbours is caught (tests/quorum_share_checksum.rs proves both
//! exhaustively on a real share). Bech32m rather than the original Bech32 because Bech32 misses
//! the insertion or deletion of a `q` before a final `p`.
//!
//! Share data passes through here, so every buffer that holds it is zeroizing.
use zeroize::Zeroizing;

/// The 32 characters of the data part. No `1`, `b`, `i` or `o`: they are easy to misread.
pub const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
/// Separates the human-readable prefix from the data part.
pub const SEPARATOR: char = '1';
/// Longest string the detection guarantee covers (BIP-173).
pub const MAX_LEN: usize = 90;
const CHECKSUM_LEN: usize = 6;
const BECH32M_CONST: u32 = 0x2bc8_30a3;
const GENERATOR: [u32; 5] = [
    0x3b6a_57b2,
    0x2650_8e6d,
    0x1ea1_19fa,
    0x3d42_33dd,
    0x2a14_62b3,
];

/// What is wrong with a Bech32m string. Positions count from 1, separators and the prefix
/// included, spaces and dashes not; no error carries the characters themselves.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Bech32Error {
    #[error("it has no '1' between the prefix and the data")]
    NoSeparator,
    #[error(
        "character {0} is not one a share uses (shares never contain b, i, o, or 1 after the prefix)"
    )]
    BadCharacter(usize),
    #[error("it is too short to be a share: a line or group is missing")]
    TooShort,
    #[error("it is {0} characters long, more than the {MAX_LEN} a checksum can protect")]
    TooLong(usize),
    #[error(
        "its checksum does not match: a character is mistyped, or two neighbours are swapped; compare it group by group with the paper"
    )]
    Checksum,
    #[error("its last character carries stray bits: a character is missing or mistyped")]
    Padding,
}

fn polymod(values: impl IntoIterator<Item = u8>) -> u32 {
    let mut chk: u32 = 1;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GENERATOR.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

fn hrp_expand(hrp: &str) -> impl Iterator<Item = u8> + '_ {
    hrp.bytes()
        .map(|c| c >> 5)
        .chain(std::iter::once(0))
        .chain(hrp.bytes().map(|c| c & 31))
}

fn checksum(hrp: &str, data: &[u8]) -> [u8; CHECKSUM_LEN] {
    let pm = polymod(
        hrp_expand(hrp)
            .chain(data.iter().copied())
            .chain([0u8; CHECKSUM_LEN]),
    ) ^ BECH32M_CONST;
    let mut out = [0u8; CHECKSUM_LEN];
    for (i, o) in out.iter_mut().enumerate() {
        *o = ((pm >> (5 * (5 - i))) & 31) as u8;
    }
    out
}

/// Encodes 5-bit values `data` under the lowercase prefix `hrp`.
pub fn encode(hrp: &str, data: &[u8]) -> Result<Zeroizing<String>, Bech32Error> {
    let len = hrp.len() + 1 + data.len() + CHECKSUM_LEN;
    if len > MAX_LEN {
        return Err(Bech32Error::TooLong(len));
    }
    let mut out = Zeroizing::new(String::with_capacity(len));
    out.push_str(hrp);
    out.push(SEPARATOR);
    for v in data.iter().chain(checksum(hrp, data).iter()) {
        out.push(char::from(CHARSET[usize::from(*v & 31)]));
    }
    Ok(out)
}

/// Decodes a lowercase Bech32m string into its prefix and 5-bit data (checksum removed).
pub fn decode(s: &str) -> Result<(String, Zeroizing<Vec<u8>>), Bech32Error> {
    if s.len() > MAX_LEN {
        return Err(Bech32Error::TooLong(s.len()));
    }
    let sep = s.rfind(SEPARATOR).ok_or(Bech32Error::NoSeparator)?;
    let (hrp, rest) = (&s[..sep], &s[sep + 1..]);
    if hrp.is_empty() {
        return Err(Bech32Error::NoSeparator);
    }
    if let Some(pos) = hrp.bytes().position(|c| !(33..=126).contains(&c)) {
        return Err(Bech32Error::BadCharacter(pos + 1));
    }
    if rest.len() < CHECKSUM_LEN {
        return Err(Bech32Error::TooShort);
    }
    let mut data = Zeroizing::new(Vec::with_capacity(rest.len()));
    for (i, c) in rest.bytes().enumerate() {
        let v = CHARSET
            .iter()
            .position(|&x| x == c)
            .ok_or(Bech32Error::BadCharacter(sep + 2 + i))?;
        data.push(v as u8);
    }
    if polymod(hrp_expand(hrp).chain(data.iter().copied())) != BECH32M_CONST {
        return Err(Bech32Error::Checksum);
    }
    let keep = data.len() - CHECKSUM_LEN;
    data.truncate(keep);
    Ok((hrp.to_owned(), data))
}

/// Bytes to 5-bit values, zero-padding the last one.
pub fn to_base32(bytes: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity((bytes.len() * 8).div_ceil(5)));
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in bytes {
        acc = ((acc << 8) | u32::from(*b)) & 0xfff;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(((acc >> bits) & 31) as u8);
        }
    }
    if bits > 0 {
        out.push(((acc << (5 - bits)) & 31) as u8);
    }
    out
}

/// 5-bit values back to bytes; the padding must be shorter than 5 bits and zero.
pub fn from_base32(data: &[u8]) -> Result<Zeroizing<Vec<u8>>, Bech32Error> {
    let mut out = Zeroizing::new(Vec::with_capacity(data.len() * 5 / 8));
    let (mut acc, mut bits) = (0u32, 0u32);
    for v in data {
        acc = ((acc << 5) | u32::from(*v & 31)) & 0xfff;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    if bits >= 5 || acc & ((1 << bits) - 1) != 0 {
        return Err(Bech32Error::Padding);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // BIP-350 test vectors: valid Bech32m strings (lowercased).
    const VALID: [&str; 5] = [
        "a1lqfn3a",
        "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
        "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
        "?1v759aa",
        "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
    ];

    #[test]
    fn bip350_vectors_decode_and_reencode() {
        for v in VALID {
            let (hrp, data) = decode(v).unwrap_or_else(|e| panic!("{v}: {e}"));
            assert_eq!(encode(&hrp, &data).expect("encode").as_str(), v);
        }
    }

    #[test]
    fn bip350_invalid_vectors_are_refused() {
        // Bech32 (not m) checksum, empty prefix, bad character, too short.
        for v in [
            "a12uel5l",
            "1qzzfhee",
            "split1cheo2y9e2w",
            "li1dgmt3",
            "a1ue",
        ] {
            assert!(decode(v).is_err(), "{v} must be refused");
        }
    }

    #[test]
    fn base32_round_trips_and_checks_padding() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let five = to_base32(&bytes);
            assert_eq!(from_base32(&five).expect("round trip").as_slice(), bytes);
        }
        // One 5-bit value holds no whole byte and 5 bits of padding: refused.
        assert_eq!(from_base32(&[0]), Err(Bech32Error::Padding));
        // Non-zero padding bits are refused.
        assert_eq!(from_base32(&[0, 1]), Err(Bech32Error::Padding));
    }
}
