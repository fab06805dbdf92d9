//! The elliptic curves Azure accepts for EC-HSM keys, with their Azure names and ASN.1 OIDs.
//!
//! Shared by the verifier (classifying an unwrapped PKCS#8) and the HSM code (key templates).

use std::fmt;
use std::str::FromStr;

use der::asn1::ObjectIdentifier;

/// `id-ecPublicKey` (RFC 5480): the PKCS#8 / SPKI algorithm of every EC key.
pub const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

// Named-curve OIDs (RFC 5480, SEC 2). Constants, so a typo fails the build, not a ceremony.
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const SECP521R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const SECP256K1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.10");

/// A curve name that is not one of Azure's EC-HSM curves.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CurveError {
    #[error(
        "unknown curve {0:?}: use one of P-256, P-384, P-521 or P-256K (Azure's EC-HSM curves)"
    )]
    UnknownName(String),
}

/// An EC-HSM curve supported by Azure Key Vault / Managed HSM BYOK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EcCurve {
    /// NIST P-256 (secp256r1, prime256v1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
    /// NIST P-521 (secp521r1).
    P521,
    /// secp256k1, which Azure calls "P-256K".
    P256K,
}

impl EcCurve {
    /// Every supported curve, in Azure's documentation order.
    pub const ALL: [EcCurve; 4] = [EcCurve::P256, EcCurve::P384, EcCurve::P521, EcCurve::P256K];

    /// The name Azure uses in `crv` and `az keyvault key import --curve`.
    pub fn azure_name(self) -> &'static str {
        match self {
            EcCurve::P256 => "P-256",
            EcCurve::P384 => "P-384",
            EcCurve::P521 => "P-521",
            EcCurve::P256K => "P-256K",
        }
    }

    /// The named-curve OID (RFC 5480 / SEC 2) found in PKCS#8 and SPKI parameters.
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            EcCurve::P256 => SECP256R1,
            EcCurve::P384 => SECP384R1,
            EcCurve::P521 => SECP521R1,
            EcCurve::P256K => SECP256K1,
        }
    }

    /// The curve with this named-curve OID, if Azure supports it.
    pub fn from_oid(oid: &ObjectIdentifier) -> Option<EcCurve> {
        EcCurve::ALL.into_iter().find(|curve| curve.oid() == *oid)
    }

    /// The curve's order size in bits (521 for P-521).
    pub fn bits(self) -> usize {
        match self {
            EcCurve::P256 | EcCurve::P256K => 256,
            EcCurve::P384 => 384,
            EcCurve::P521 => 521,
        }
    }

    /// Length in bytes of a private scalar / one affine coordinate.
    pub fn field_bytes(self) -> usize {
        self.bits().div_ceil(8)
    }
}

impl fmt::Display for EcCurve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.azure_name())
    }
}

impl FromStr for EcCurve {
    type Err = CurveError;

    /// Accepts Azure's names exactly ("P-256", ..., "P-256K"); the ceremony records them verbatim.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        EcCurve::ALL
            .into_iter()
            .find(|curve| curve.azure_name() == name)
            .ok_or_else(|| CurveError::UnknownName(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for curve in EcCurve::ALL {
            assert_eq!(curve.azure_name().parse::<EcCurve>(), Ok(curve));
            assert_eq!(curve.to_string(), curve.azure_name());
        }
    }

    #[test]
    fn oids_are_the_registered_ones() {
        assert_eq!(EcCurve::P256.oid().to_string(), "1.2.840.10045.3.1.7");
        assert_eq!(EcCurve::P384.oid().to_string(), "1.3.132.0.34");
        assert_eq!(EcCurve::P521.oid().to_string(), "1.3.132.0.35");
        assert_eq!(EcCurve::P256K.oid().to_string(), "1.3.132.0.10");
        for curve in EcCurve::ALL {
            assert_eq!(EcCurve::from_oid(&curve.oid()), Some(curve));
        }
        assert_eq!(EcCurve::from_oid(&ID_EC_PUBLIC_KEY), None);
    }

    #[test]
    fn sizes() {
        assert_eq!(EcCurve::P521.bits(), 521);
        assert_eq!(EcCurve::P521.field_bytes(), 66);
        assert_eq!(EcCurve::P256K.field_bytes(), 32);
    }

    #[test]
    fn unknown_names_are_rejected_with_the_choices() {
        let err = "secp256r1"
            .parse::<EcCurve>()
            .expect_err("not an Azure name");
        assert!(err.to_string().contains("P-256, P-384, P-521 or P-256K"));
        assert!(
            "p-256".parse::<EcCurve>().is_err(),
            "names are case-sensitive"
        );
    }
}
