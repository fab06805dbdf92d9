//! The RSA algorithm identifiers the tool reads (KEKs, SubjectPublicKeyInfo) and writes (the
//! target's public key). EC keys are identified in `curve`.
use der::asn1::ObjectIdentifier;

/// rsaEncryption (PKCS#1): the algorithm of an RSA public key.
pub const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// RSASSA-PSS: an RSA key restricted to signatures (refused as a KEK).
pub const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
