//! The PKCS#11 parameters of an RSA-OAEP hash (the hash itself is `hsm_types::wrap::OaepHash`).
#![forbid(unsafe_code)]

use cryptoki_sys::{
    CK_MECHANISM_TYPE, CK_RSA_PKCS_MGF_TYPE, CKG_MGF1_SHA1, CKG_MGF1_SHA256, CKM_SHA_1, CKM_SHA256,
};

use crate::hsm_types::wrap::OaepHash;

/// The PKCS#11 hash mechanism (CK_RSA_PKCS_OAEP_PARAMS.hashAlg).
pub fn ck_hash(hash: OaepHash) -> CK_MECHANISM_TYPE {
    match hash {
        OaepHash::Sha1 => CKM_SHA_1,
        OaepHash::Sha256 => CKM_SHA256,
    }
}

/// The PKCS#11 mask generation function (CK_RSA_PKCS_OAEP_PARAMS.mgf).
pub fn ck_mgf(hash: OaepHash) -> CK_RSA_PKCS_MGF_TYPE {
    match hash {
        OaepHash::Sha1 => CKG_MGF1_SHA1,
        OaepHash::Sha256 => CKG_MGF1_SHA256,
    }
}
