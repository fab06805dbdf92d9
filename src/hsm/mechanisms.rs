//! Mechanism numbers the ceremony cares about, including those cryptoki 0.12 lacks.
#![forbid(unsafe_code)]

use cryptoki_sys::CK_MECHANISM_TYPE;

pub const CKM_RSA_PKCS_OAEP: CK_MECHANISM_TYPE = 0x0009;
pub const CKM_RSA_AES_KEY_WRAP: CK_MECHANISM_TYPE = 0x1054;
pub const CKM_AES_KEY_WRAP: CK_MECHANISM_TYPE = 0x2109;
/// RFC 5649 on some tokens, PKCS#7 padding + RFC 3394 on others, zero padding + RFC 5649 on
/// SoftHSM2 2.6.1: never trusted without a known-answer test.
pub const CKM_AES_KEY_WRAP_PAD: CK_MECHANISM_TYPE = 0x210A;
/// RFC 5649 by definition (PKCS#11 3.0).
pub const CKM_AES_KEY_WRAP_KWP: CK_MECHANISM_TYPE = 0x210B;
pub const CKM_RSA_PKCS_KEY_PAIR_GEN: CK_MECHANISM_TYPE = 0x0000;
pub const CKM_EC_KEY_PAIR_GEN: CK_MECHANISM_TYPE = 0x1040;
pub const CKM_AES_KEY_GEN: CK_MECHANISM_TYPE = 0x1080;

/// A human name for a mechanism number, for logs and manifests.
pub fn name(mechanism: CK_MECHANISM_TYPE) -> String {
    match mechanism {
        CKM_RSA_PKCS_OAEP => "CKM_RSA_PKCS_OAEP".into(),
        CKM_RSA_AES_KEY_WRAP => "CKM_RSA_AES_KEY_WRAP".into(),
        CKM_AES_KEY_WRAP => "CKM_AES_KEY_WRAP".into(),
        CKM_AES_KEY_WRAP_PAD => "CKM_AES_KEY_WRAP_PAD".into(),
        CKM_AES_KEY_WRAP_KWP => "CKM_AES_KEY_WRAP_KWP".into(),
        other => format!("0x{other:X}"),
    }
}
