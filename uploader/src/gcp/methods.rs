//! Cloud KMS import methods and key version algorithms, and which go with the ceremony's key
//! (googleapis `google/cloud/kms/v1/resources.proto`; cloud.google.com/kms/docs/key-wrapping).
//! RSA_OAEP_*_AES_256 is CKM_RSA_AES_KEY_WRAP: RSA-OAEP (hash and MGF1 the same, empty label)
//! of an AES-256 key, then RFC 5649 of the key material. RSA_OAEP_*_SHA256 alone carries the
//! material under RSA-OAEP, which an RSA private key is too long for.
use byok_ceremony::byok::curve::EcCurve;
use byok_ceremony::hsm_types::wrap::OaepHash;

use crate::preflight::Target;

/// An import method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Method {
    pub name: &'static str,
    pub bits: usize,
    pub oaep: OaepHash,
    pub with_kwp: bool,
}

pub const METHODS: [Method; 6] = [
    Method {
        name: "RSA_OAEP_3072_SHA256_AES_256",
        bits: 3072,
        oaep: OaepHash::Sha256,
        with_kwp: true,
    },
    Method {
        name: "RSA_OAEP_4096_SHA256_AES_256",
        bits: 4096,
        oaep: OaepHash::Sha256,
        with_kwp: true,
    },
    Method {
        name: "RSA_OAEP_3072_SHA1_AES_256",
        bits: 3072,
        oaep: OaepHash::Sha1,
        with_kwp: true,
    },
    Method {
        name: "RSA_OAEP_4096_SHA1_AES_256",
        bits: 4096,
        oaep: OaepHash::Sha1,
        with_kwp: true,
    },
    Method {
        name: "RSA_OAEP_3072_SHA256",
        bits: 3072,
        oaep: OaepHash::Sha256,
        with_kwp: false,
    },
    Method {
        name: "RSA_OAEP_4096_SHA256",
        bits: 4096,
        oaep: OaepHash::Sha256,
        with_kwp: false,
    },
];

/// The recommended method (Google's documentation).
pub const DEFAULT_METHOD: &str = "RSA_OAEP_3072_SHA256_AES_256";

/// What a key version algorithm holds and the key purpose it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Algorithm {
    pub target: Target,
    /// RSA size, for RSA algorithms.
    pub rsa_bits: Option<u32>,
    pub purpose: &'static str,
}

/// Why a method or algorithm is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MethodError {
    #[error(
        "{0:?} is not an import method byok-upload uses: choose RSA_OAEP_3072_SHA256_AES_256 (recommended), RSA_OAEP_4096_SHA256_AES_256, RSA_OAEP_3072_SHA1_AES_256, RSA_OAEP_4096_SHA1_AES_256, RSA_OAEP_3072_SHA256 or RSA_OAEP_4096_SHA256"
    )]
    UnknownMethod(String),
    #[error(
        "{0:?} is not an algorithm a key ceremony can import: use GOOGLE_SYMMETRIC_ENCRYPTION, AES_{{128,256}}_{{GCM,CBC,CTR}}, RSA_SIGN_PSS_*/RSA_SIGN_PKCS1_*/RSA_DECRYPT_OAEP_* with the key's size, EC_SIGN_P256_SHA256, EC_SIGN_P384_SHA384 or EC_SIGN_SECP256K1_SHA256"
    )]
    UnknownAlgorithm(String),
    #[error(
        "--algorithm {algorithm} is for {wants}, but the ceremony's key is {have}: choose an algorithm for {have}"
    )]
    TargetMismatch {
        algorithm: String,
        wants: String,
        have: String,
    },
    #[error(
        "the import method {0} wraps the key material under RSA-OAEP alone, which an RSA private key is too long for: use an import job with RSA_OAEP_3072_SHA256_AES_256"
    )]
    TooLong(String),
}

pub fn method(name: &str) -> Result<Method, MethodError> {
    METHODS
        .into_iter()
        .find(|m| m.name == name)
        .ok_or_else(|| MethodError::UnknownMethod(name.to_owned()))
}

/// Reads an algorithm name.
pub fn algorithm(name: &str) -> Result<Algorithm, MethodError> {
    let unknown = || MethodError::UnknownAlgorithm(name.to_owned());
    let ec = |curve| Algorithm {
        target: Target::Ec(curve),
        rsa_bits: None,
        purpose: "ASYMMETRIC_SIGN",
    };
    match name {
        "GOOGLE_SYMMETRIC_ENCRYPTION" => {
            return Ok(Algorithm {
                target: Target::Oct { bits: 256 },
                rsa_bits: None,
                purpose: "ENCRYPT_DECRYPT",
            });
        }
        "EC_SIGN_P256_SHA256" => return Ok(ec(EcCurve::P256)),
        "EC_SIGN_P384_SHA384" => return Ok(ec(EcCurve::P384)),
        "EC_SIGN_SECP256K1_SHA256" => return Ok(ec(EcCurve::P256K)),
        _ => {}
    }
    if let Some(rest) = name.strip_prefix("AES_") {
        let (bits, mode) = rest.split_once('_').ok_or_else(unknown)?;
        let bits: u32 = match bits {
            "128" => 128,
            "256" => 256,
            _ => return Err(unknown()),
        };
        if !matches!(mode, "GCM" | "CBC" | "CTR") {
            return Err(unknown());
        }
        return Ok(Algorithm {
            target: Target::Oct { bits },
            rsa_bits: None,
            purpose: "RAW_ENCRYPTION",
        });
    }
    let purpose = if name.starts_with("RSA_SIGN_PSS_")
        || name.starts_with("RSA_SIGN_PKCS1_")
        || name.starts_with("RSA_SIGN_RAW_PKCS1_")
    {
        "ASYMMETRIC_SIGN"
    } else if name.starts_with("RSA_DECRYPT_OAEP_") {
        "ASYMMETRIC_DECRYPT"
    } else {
        return Err(unknown());
    };
    let bits = name
        .split('_')
        .find_map(|part| match part {
            "2048" => Some(2048),
            "3072" => Some(3072),
            "4096" => Some(4096),
            _ => None,
        })
        .ok_or_else(unknown)?;
    Ok(Algorithm {
        target: Target::Rsa,
        rsa_bits: Some(bits),
        purpose,
    })
}

fn describe(target: Target, rsa_bits: Option<u32>) -> String {
    match target {
        Target::Oct { bits } => format!("AES-{bits}"),
        Target::Rsa => format!("RSA-{}", rsa_bits.map_or("?".to_owned(), |b| b.to_string())),
        Target::Ec(curve) => format!("EC {curve}"),
    }
}

/// Refuses an algorithm that is not for the ceremony's key, and a method that cannot carry it.
pub fn check(
    name: &str,
    algorithm: Algorithm,
    method: Method,
    target: Target,
    rsa_bits: Option<u32>,
) -> Result<(), MethodError> {
    let same = match (algorithm.target, target) {
        (Target::Rsa, Target::Rsa) => algorithm.rsa_bits == rsa_bits,
        (a, b) => a == b,
    };
    if !same {
        return Err(MethodError::TargetMismatch {
            algorithm: name.to_owned(),
            wants: describe(algorithm.target, algorithm.rsa_bits),
            have: describe(target, rsa_bits),
        });
    }
    if target == Target::Rsa && !method.with_kwp {
        return Err(MethodError::TooLong(method.name.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_and_methods() {
        let rsa = algorithm("RSA_SIGN_PSS_3072_SHA256").expect("known");
        assert_eq!((rsa.rsa_bits, rsa.purpose), (Some(3072), "ASYMMETRIC_SIGN"));
        let kwp = method(DEFAULT_METHOD).expect("known");
        let plain = method("RSA_OAEP_3072_SHA256").expect("known");
        assert!(check("R", rsa, kwp, Target::Rsa, Some(3072)).is_ok());
        assert!(check("R", rsa, kwp, Target::Rsa, Some(2048)).is_err());
        assert!(matches!(
            check("R", rsa, plain, Target::Rsa, Some(3072)),
            Err(MethodError::TooLong(_))
        ));
        let ec = algorithm("EC_SIGN_P384_SHA384").expect("known");
        assert!(check("E", ec, plain, Target::Ec(EcCurve::P384), None).is_ok());
        assert!(check("E", ec, plain, Target::Ec(EcCurve::P256), None).is_err());
        let aes = algorithm("AES_128_GCM").expect("known");
        assert_eq!(aes.target, Target::Oct { bits: 128 });
        assert!(algorithm("HMAC_SHA256").is_err());
        assert!(algorithm("EC_SIGN_ED25519").is_err());
        assert!(method("RSA_OAEP_2048_SHA1_AES_256").is_err());
    }
}
