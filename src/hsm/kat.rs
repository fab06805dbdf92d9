//! Known-answer test of a token's RFC 5649 (AES key wrap with padding) mechanism.
//!
//! 0x210A means different things on different HSMs, and even 0x210B deserves proof, so before
//! a token wraps a real key it wraps keys of known value with a KEK of known value, and the
//! outputs are compared with RFC 5649's answers (vectors in docs/byok-facts). The test keys are
//! session objects, destroyed on every path.
#![forbid(unsafe_code)]

use aes_kw::KwpAes192;
use aes_kw::cipher::KeyInit;
use cryptoki::object::{Attribute, KeyType, ObjectClass};
use cryptoki_sys::CK_MECHANISM_TYPE;

use super::HsmError;
use super::ffi::RawWrapParams;
use super::mechanisms;
use super::module::HsmSession;
use super::objects::DestroyOnDrop;
use crate::hsm_types::wrap::{KatReport, KwpBehaviour};

/// The RFC 5649 test KEK (192-bit).
const KAT_KEK: [u8; 24] = hex_literal(b"5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8");

struct Vector {
    plaintext: &'static [u8],
    rfc5649: &'static [u8],
}

const VECTORS: [Vector; 2] = [
    Vector {
        plaintext: &hex_literal::<20>(b"c37b7e6492584340bed12207808941155068f738"),
        rfc5649: &hex_literal::<32>(
            b"138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a",
        ),
    },
    Vector {
        plaintext: &hex_literal::<7>(b"466f7250617369"),
        rfc5649: &hex_literal::<16>(b"afbeb0f07dfbf5419200f2ccb50bb24f"),
    },
];

/// Runs the RFC 5649 known-answer vectors through `mechanism` on the token.
pub fn run(session: &HsmSession<'_>, mechanism: CK_MECHANISM_TYPE) -> Result<KatReport, HsmError> {
    let s = session.session();
    let kek = DestroyOnDrop::new(
        s,
        s.create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(false),
            Attribute::Wrap(true),
            Attribute::Value(KAT_KEK.to_vec()),
            Attribute::Label(b"byok-ceremony known-answer KEK".to_vec()),
        ])
        .map_err(HsmError::p11("create the known-answer test KEK"))?,
    );
    let mut exact = 0;
    let mut zero_padded = 0;
    for v in &VECTORS {
        let key = DestroyOnDrop::new(
            s,
            s.create_object(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::GENERIC_SECRET),
                Attribute::Token(false),
                Attribute::Sensitive(false),
                Attribute::Extractable(true),
                Attribute::Value(v.plaintext.to_vec()),
                Attribute::Label(b"byok-ceremony known-answer key".to_vec()),
            ])
            .map_err(HsmError::p11("create a known-answer test key"))?,
        );
        let wrapped = session
            .hsm()
            .raw()
            .wrap_key(
                s.handle(),
                mechanism,
                RawWrapParams::None,
                kek.handle().handle(),
                key.handle().handle(),
            )
            .map_err(HsmError::raw("wrap a known-answer test key"))?;
        key.destroy()?;
        if wrapped == v.rfc5649 {
            exact += 1;
        } else if wrapped == zero_padded_answer(v.plaintext)? {
            zero_padded += 1;
        }
    }
    kek.destroy()?;
    // Every vector must agree on one behaviour; a mixture is a token we do not understand.
    let behaviour = if exact == VECTORS.len() {
        KwpBehaviour::Rfc5649
    } else if zero_padded == VECTORS.len() {
        KwpBehaviour::ZeroPadsThenRfc5649
    } else {
        KwpBehaviour::Unrecognised
    };
    Ok(KatReport {
        mechanism: mechanisms::name(mechanism),
        mechanism_number: mechanism,
        behaviour,
        vectors: VECTORS.len(),
    })
}

/// What a token that zero-pads to a multiple of 8 and then applies RFC 5649 returns, computed
/// in software with the test KEK (the vectors' lengths are not multiples of 8, so this always
/// differs from the true answer).
fn zero_padded_answer(plaintext: &[u8]) -> Result<Vec<u8>, HsmError> {
    let mut padded = plaintext.to_vec();
    padded.resize(plaintext.len().div_ceil(8) * 8, 0);
    let kw = KwpAes192::new_from_slice(&KAT_KEK).map_err(|e| HsmError::Malformed {
        what: "known-answer KEK",
        detail: e.to_string(),
    })?;
    let mut buf = vec![0u8; padded.len() + 16];
    let out = kw
        .wrap_key(&padded, &mut buf)
        .map_err(|e| HsmError::Malformed {
            what: "known-answer computation",
            detail: e.to_string(),
        })?;
    Ok(out.to_vec())
}

/// Decodes a hex literal at compile time, so the vectors read as in the RFC.
const fn hex_literal<const N: usize>(hex: &[u8]) -> [u8; N] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a lowercase hex digit"),
        }
    }
    assert!(hex.len() == 2 * N, "hex literal has the wrong length");
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = (nibble(hex[2 * i]) << 4) | nibble(hex[2 * i + 1]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_have_rfc_lengths() {
        for v in &VECTORS {
            let padded = v.plaintext.len().div_ceil(8) * 8;
            assert_eq!(v.rfc5649.len(), padded.max(8) + 8);
        }
        assert_eq!(KAT_KEK[0], 0x58);
    }

    #[test]
    fn zero_padding_answer_matches_the_independently_checked_vector() {
        let z = zero_padded_answer(VECTORS[0].plaintext).expect("computes");
        assert_eq!(
            hex::encode(z),
            "cf1e485360e1a8126f524d01771677f9400edb4d074f14116988d71e1588e367"
        );
        // Lengths that are not multiples of 8 make the zero-padded answer differ from RFC 5649.
        for v in &VECTORS {
            assert_ne!(
                zero_padded_answer(v.plaintext).expect("computes"),
                v.rfc5649
            );
        }
    }
}
