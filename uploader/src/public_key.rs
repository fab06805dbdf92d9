//! Public keys in one canonical form (SubjectPublicKeyInfo DER, EC points uncompressed), so the
//! key Azure returns as a JWK and the key the ceremony recorded as PEM compare byte for byte.
use azure_security_keyvault_keys::models::{CurveName, JsonWebKey, KeyType};
use byok_ceremony::byok::curve::EcCurve;
use pkcs8::{DecodePublicKey, EncodePublicKey};
use rsa::BoxedUint;
use rsa::PublicKey as RsaPublicKey;

/// Why a public key could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PublicKeyError {
    #[error(
        "the manifest's public_key_pem is not a valid RSA or EC public key ({0}): use the manifest written by the ceremony, unmodified"
    )]
    BadManifestPem(String),
    #[error(
        "Azure's answer has no usable public key ({0}): check the key with `az keyvault key show --id KID`"
    )]
    BadJwk(String),
}

/// Canonical SPKI DER of a `BEGIN PUBLIC KEY` PEM (RSA or one of Azure's EC curves).
pub fn spki_from_pem(pem: &str) -> Result<Vec<u8>, PublicKeyError> {
    let bad = |e: &dyn std::fmt::Display| PublicKeyError::BadManifestPem(e.to_string());
    let (label, der) = der::pem::decode_vec(pem.trim().as_bytes()).map_err(|e| bad(&e))?;
    if label != "PUBLIC KEY" {
        return Err(bad(&format!("a {label} block, not PUBLIC KEY")));
    }
    canonical_spki(&der).map_err(|e| bad(&e))
}

/// Canonical SPKI DER of an RSA or EC SubjectPublicKeyInfo DER (as AWS GetPublicKey returns).
pub fn canonical_spki(der: &[u8]) -> Result<Vec<u8>, String> {
    if let Ok(key) = RsaPublicKey::from_public_key_der(der) {
        return key
            .to_public_key_der()
            .map(|d| d.into_vec())
            .map_err(|e| e.to_string());
    }
    for curve in EcCurve::ALL {
        if let Ok(spki) = ec_from_spki(curve, der) {
            return Ok(spki);
        }
    }
    Err("neither RSA nor an EC key on P-256, P-384, P-521 or P-256K".to_owned())
}

/// Canonical SPKI DER of an RSA or EC JWK (`n`/`e`, or `crv`/`x`/`y`).
pub fn spki_from_jwk(jwk: &JsonWebKey) -> Result<Vec<u8>, PublicKeyError> {
    let bad = |e: &dyn std::fmt::Display| PublicKeyError::BadJwk(e.to_string());
    match &jwk.kty {
        Some(KeyType::Rsa | KeyType::RsaHsm) => {
            let (Some(n), Some(e)) = (&jwk.n, &jwk.e) else {
                return Err(bad(&"an RSA key without n or e"));
            };
            rsa_spki(n, e).map_err(|e| bad(&e))
        }
        Some(KeyType::Ec | KeyType::EcHsm) => {
            let (Some(crv), Some(x), Some(y)) = (&jwk.crv, &jwk.x, &jwk.y) else {
                return Err(bad(&"an EC key without crv, x or y"));
            };
            let curve = curve_of(crv).ok_or_else(|| bad(&format!("unknown curve {crv:?}")))?;
            let size = curve.field_bytes();
            if x.len() > size || y.len() > size {
                return Err(bad(&"EC coordinates longer than the curve's field"));
            }
            let mut point = vec![0x04];
            for coordinate in [x, y] {
                point.extend(std::iter::repeat_n(0u8, size - coordinate.len()));
                point.extend_from_slice(coordinate);
            }
            ec_from_sec1(curve, &point).map_err(|e| bad(&e))
        }
        other => Err(bad(&format!("key type {other:?} has no public key"))),
    }
}

/// Azure's curve name for an SDK curve.
pub fn curve_of(crv: &CurveName) -> Option<EcCurve> {
    match crv {
        CurveName::P256 => Some(EcCurve::P256),
        CurveName::P384 => Some(EcCurve::P384),
        CurveName::P521 => Some(EcCurve::P521),
        CurveName::P256K => Some(EcCurve::P256K),
        _ => None,
    }
}

/// The SDK's curve for one of Azure's curve names.
pub fn sdk_curve(curve: EcCurve) -> CurveName {
    match curve {
        EcCurve::P256 => CurveName::P256,
        EcCurve::P384 => CurveName::P384,
        EcCurve::P521 => CurveName::P521,
        EcCurve::P256K => CurveName::P256K,
    }
}

/// SPKI DER of an RSA public key given as big-endian `n` and `e`.
pub fn rsa_spki(n: &[u8], e: &[u8]) -> Result<Vec<u8>, String> {
    let n = strip_zeros(n);
    let e = strip_zeros(e);
    let bits = |len: usize| u32::try_from(len * 8).map_err(|_| "too long".to_owned());
    let modulus = BoxedUint::from_be_slice(n, bits(n.len())?).map_err(|e| format!("{e:?}"))?;
    let exponent = BoxedUint::from_be_slice(e, bits(e.len())?).map_err(|e| format!("{e:?}"))?;
    let key = RsaPublicKey::new(modulus, exponent).map_err(|e| e.to_string())?;
    key.to_public_key_der()
        .map(|d| d.into_vec())
        .map_err(|e| e.to_string())
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

fn ec_from_spki(curve: EcCurve, der: &[u8]) -> Result<Vec<u8>, String> {
    let doc = match curve {
        EcCurve::P256 => p256::PublicKey::from_public_key_der(der).map(|k| k.to_public_key_der()),
        EcCurve::P384 => p384::PublicKey::from_public_key_der(der).map(|k| k.to_public_key_der()),
        EcCurve::P521 => p521::PublicKey::from_public_key_der(der).map(|k| k.to_public_key_der()),
        EcCurve::P256K => k256::PublicKey::from_public_key_der(der).map(|k| k.to_public_key_der()),
    };
    doc.map_err(|e| e.to_string())?
        .map(|d| d.into_vec())
        .map_err(|e| e.to_string())
}

fn ec_from_sec1(curve: EcCurve, point: &[u8]) -> Result<Vec<u8>, String> {
    let doc = match curve {
        EcCurve::P256 => p256::PublicKey::from_sec1_bytes(point).map(|k| k.to_public_key_der()),
        EcCurve::P384 => p384::PublicKey::from_sec1_bytes(point).map(|k| k.to_public_key_der()),
        EcCurve::P521 => p521::PublicKey::from_sec1_bytes(point).map(|k| k.to_public_key_der()),
        EcCurve::P256K => k256::PublicKey::from_sec1_bytes(point).map(|k| k.to_public_key_der()),
    };
    doc.map_err(|e| format!("the point is not on {curve}: {e}"))?
        .map(|d| d.into_vec())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pkcs8::LineEnding;

    fn p256_key() -> p256::PublicKey {
        p256::SecretKey::from_slice(&[0x22u8; 32])
            .expect("scalar")
            .public_key()
    }

    #[test]
    fn ec_jwk_and_pem_agree() {
        use p256::elliptic_curve::sec1::ToSec1Point;
        let key = p256_key();
        let pem = key.to_public_key_pem(LineEnding::LF).expect("pem");
        let point = key.to_sec1_point(false);
        let bytes = point.as_bytes();
        let mut jwk = JsonWebKey {
            kty: Some(KeyType::EcHsm),
            crv: Some(CurveName::P256),
            x: Some(bytes[1..33].to_vec()),
            y: Some(bytes[33..].to_vec()),
            ..Default::default()
        };
        assert_eq!(spki_from_jwk(&jwk), spki_from_pem(&pem));
        jwk.crv = Some(CurveName::P384);
        assert!(spki_from_jwk(&jwk).is_err(), "wrong curve");
    }

    #[test]
    fn rsa_jwk_and_pem_agree() {
        let pem = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/data/independent/target-rsa-2048.public.pem"
        ))
        .expect("test data");
        let der = spki_from_pem(&pem).expect("rsa pem");
        let key = RsaPublicKey::from_public_key_der(&der).expect("rsa");
        use rsa::traits::PublicKeyParts;
        let mut jwk = JsonWebKey {
            kty: Some(KeyType::RsaHsm),
            n: Some(key.n_bytes().into_vec()),
            e: Some(key.e_bytes().into_vec()),
            ..Default::default()
        };
        assert_eq!(spki_from_jwk(&jwk).expect("jwk"), der);
        jwk.n = None;
        assert!(spki_from_jwk(&jwk).is_err());
    }

    #[test]
    fn bad_pems() {
        assert!(spki_from_pem("junk").is_err());
        let cert = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
        assert!(
            spki_from_pem(cert)
                .expect_err("label")
                .to_string()
                .contains("CERTIFICATE")
        );
    }
}
