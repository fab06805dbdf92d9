//! Which AWS KMS wrapping algorithm, wrapping key size and key spec go together, checked
//! before anything is fetched or sent, with the reason AWS would give (developer guide,
//! "importing key material": RSAES_OAEP_* carries the key material under RSA-OAEP alone, so
//! it cannot hold an RSA private key, nor a P-521 key under RSA_2048; RSA_AES_KEY_WRAP_* is
//! RSA-OAEP of an AES-256 key followed by RFC 5649 of the material; RSAES_PKCS1_V1_5 is gone).
use byok_ceremony::byok::curve::EcCurve;
use byok_ceremony::hsm_types::wrap::OaepHash;

use crate::preflight::Target;

/// A wrapping algorithm byok-upload accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wrapping {
    pub name: &'static str,
    pub oaep: OaepHash,
    /// RSA-OAEP of an AES-256 key, then RFC 5649 of the key material (CKM_RSA_AES_KEY_WRAP).
    pub with_kwp: bool,
}

pub const WRAPPINGS: [Wrapping; 4] = [
    Wrapping {
        name: "RSA_AES_KEY_WRAP_SHA_256",
        oaep: OaepHash::Sha256,
        with_kwp: true,
    },
    Wrapping {
        name: "RSA_AES_KEY_WRAP_SHA_1",
        oaep: OaepHash::Sha1,
        with_kwp: true,
    },
    Wrapping {
        name: "RSAES_OAEP_SHA_256",
        oaep: OaepHash::Sha256,
        with_kwp: false,
    },
    Wrapping {
        name: "RSAES_OAEP_SHA_1",
        oaep: OaepHash::Sha1,
        with_kwp: false,
    },
];

/// Why a combination is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ComboError {
    #[error(
        "{0:?} is not a wrapping algorithm byok-upload uses: choose RSA_AES_KEY_WRAP_SHA_256 (recommended), RSA_AES_KEY_WRAP_SHA_1, RSAES_OAEP_SHA_256 or RSAES_OAEP_SHA_1 (RSAES_PKCS1_V1_5 is no longer accepted by AWS)"
    )]
    UnknownWrapping(String),
    #[error("{0:?} is not a wrapping key spec: choose RSA_2048, RSA_3072 or RSA_4096")]
    UnknownWrappingKeySpec(String),
    #[error(
        "{wrapping} cannot carry the key material of a {key_spec} key ({why}): use RSA_AES_KEY_WRAP_SHA_256"
    )]
    TooLong {
        wrapping: String,
        key_spec: String,
        why: &'static str,
    },
    #[error(
        "the KMS key's spec is {0}, which a key ceremony does not make (HMAC, SM2 and ML-DSA keys are not supported): use a key created with --key-spec SYMMETRIC_DEFAULT, RSA_2048/3072/4096, ECC_NIST_P256/P384/P521 or ECC_SECG_P256K1 and --origin EXTERNAL"
    )]
    UnsupportedKeySpec(String),
    #[error(
        "the KMS key's spec is {key_spec} but the ceremony's key is {target}: import into a KMS key created with --key-spec {wanted}"
    )]
    TargetMismatch {
        key_spec: String,
        target: String,
        wanted: String,
    },
}

pub fn wrapping(name: &str) -> Result<Wrapping, ComboError> {
    WRAPPINGS
        .into_iter()
        .find(|w| w.name == name)
        .ok_or_else(|| ComboError::UnknownWrapping(name.to_owned()))
}

/// The RSA size of a wrapping key spec.
pub fn wrapping_key_bits(spec: &str) -> Result<usize, ComboError> {
    match spec {
        "RSA_2048" => Ok(2048),
        "RSA_3072" => Ok(3072),
        "RSA_4096" => Ok(4096),
        other => Err(ComboError::UnknownWrappingKeySpec(other.to_owned())),
    }
}

/// What a KMS key spec holds, in the ceremony's terms.
pub fn target_of_key_spec(key_spec: &str) -> Result<Target, ComboError> {
    Ok(match key_spec {
        "SYMMETRIC_DEFAULT" => Target::Oct { bits: 256 },
        "RSA_2048" => Target::Rsa,
        "RSA_3072" => Target::Rsa,
        "RSA_4096" => Target::Rsa,
        "ECC_NIST_P256" => Target::Ec(EcCurve::P256),
        "ECC_NIST_P384" => Target::Ec(EcCurve::P384),
        "ECC_NIST_P521" => Target::Ec(EcCurve::P521),
        "ECC_SECG_P256K1" => Target::Ec(EcCurve::P256K),
        other => return Err(ComboError::UnsupportedKeySpec(other.to_owned())),
    })
}

/// The KMS key spec for the ceremony's target (`rsa_bits` for RSA).
pub fn key_spec_for(target: Target, rsa_bits: Option<u32>) -> String {
    match target {
        Target::Oct { .. } => "SYMMETRIC_DEFAULT".to_owned(),
        Target::Rsa => format!("RSA_{}", rsa_bits.unwrap_or(0)),
        Target::Ec(EcCurve::P256) => "ECC_NIST_P256".to_owned(),
        Target::Ec(EcCurve::P384) => "ECC_NIST_P384".to_owned(),
        Target::Ec(EcCurve::P521) => "ECC_NIST_P521".to_owned(),
        Target::Ec(EcCurve::P256K) => "ECC_SECG_P256K1".to_owned(),
    }
}

/// Refuses a wrapping that AWS would refuse for this key spec.
pub fn check_combination(
    wrapping: Wrapping,
    wrapping_key_spec: &str,
    key_spec: &str,
) -> Result<(), ComboError> {
    let bits = wrapping_key_bits(wrapping_key_spec)?;
    let target = target_of_key_spec(key_spec)?;
    if wrapping.with_kwp {
        return Ok(());
    }
    let too_long = |why| {
        Err(ComboError::TooLong {
            wrapping: wrapping.name.to_owned(),
            key_spec: key_spec.to_owned(),
            why,
        })
    };
    match target {
        Target::Rsa => too_long("an RSA private key is longer than one RSA-OAEP block"),
        Target::Ec(EcCurve::P521) if bits == 2048 => {
            too_long("a P-521 private key does not fit one RSA-OAEP block of a 2048-bit key")
        }
        _ => Ok(()),
    }
}

/// Refuses a KMS key whose spec is not the ceremony's key.
pub fn check_target(
    key_spec: &str,
    target: Target,
    rsa_bits: Option<u32>,
) -> Result<(), ComboError> {
    target_of_key_spec(key_spec)?;
    let wanted = key_spec_for(target, rsa_bits);
    let same = match target {
        // AWS imports only 256-bit symmetric keys into SYMMETRIC_DEFAULT.
        Target::Oct { bits } => key_spec == "SYMMETRIC_DEFAULT" && bits == 256,
        _ => key_spec == wanted,
    };
    if same {
        return Ok(());
    }
    let target = match target {
        Target::Oct { bits } => format!("AES-{bits}"),
        Target::Rsa => format!("RSA-{}", rsa_bits.unwrap_or(0)),
        Target::Ec(curve) => format!("EC {curve}"),
    };
    Err(ComboError::TargetMismatch {
        key_spec: key_spec.to_owned(),
        target,
        wanted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_aws_refuses() {
        let oaep = wrapping("RSAES_OAEP_SHA_256").expect("known");
        let kwp = wrapping("RSA_AES_KEY_WRAP_SHA_256").expect("known");
        assert!(check_combination(oaep, "RSA_3072", "RSA_2048").is_err());
        assert!(check_combination(kwp, "RSA_3072", "RSA_2048").is_ok());
        assert!(check_combination(oaep, "RSA_2048", "ECC_NIST_P521").is_err());
        assert!(check_combination(oaep, "RSA_3072", "ECC_NIST_P521").is_ok());
        assert!(check_combination(oaep, "RSA_2048", "SYMMETRIC_DEFAULT").is_ok());
        assert!(check_combination(kwp, "RSA_1024", "SYMMETRIC_DEFAULT").is_err());
        assert!(check_combination(kwp, "RSA_2048", "HMAC_256").is_err());
        assert!(wrapping("RSAES_PKCS1_V1_5").is_err());
    }

    #[test]
    fn key_spec_must_be_the_ceremonys_key() {
        assert!(check_target("RSA_2048", Target::Rsa, Some(2048)).is_ok());
        assert!(check_target("RSA_3072", Target::Rsa, Some(2048)).is_err());
        assert!(check_target("ECC_NIST_P256", Target::Ec(EcCurve::P384), None).is_err());
        assert!(check_target("SYMMETRIC_DEFAULT", Target::Oct { bits: 256 }, None).is_ok());
        assert!(check_target("SYMMETRIC_DEFAULT", Target::Oct { bits: 128 }, None).is_err());
    }
}
