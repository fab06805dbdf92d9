//! The RSA-OAEP hash a wrap asks for.
//!
//! Azure's BYOK is SHA-1 (with MGF1-SHA-1, empty label). Google Cloud and AWS also take SHA-256.
//! The hash a token is asked for is not always the hash it uses (SoftHSM2 2.7.0's native
//! CKM_RSA_AES_KEY_WRAP wraps with SHA-1 whatever it is asked; byok-facts.md), so every wrap
//! path is proven for the requested hash by `wrap_kat` before it is trusted.
use cryptoki_sys::{
    CK_MECHANISM_TYPE, CK_RSA_PKCS_MGF_TYPE, CKG_MGF1_SHA1, CKG_MGF1_SHA256, CKM_SHA_1, CKM_SHA256,
};
use serde::{Deserialize, Serialize};

/// OAEP's hash, used for MGF1 as well (the only combination the clouds accept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OaepHash {
    #[serde(rename = "sha-1")]
    Sha1,
    #[serde(rename = "sha-256")]
    Sha256,
}

impl OaepHash {
    /// As people and the clouds' documents write it.
    pub fn name(self) -> &'static str {
        match self {
            OaepHash::Sha1 => "SHA-1",
            OaepHash::Sha256 => "SHA-256",
        }
    }

    /// The PKCS#11 hash mechanism (CK_RSA_PKCS_OAEP_PARAMS.hashAlg).
    pub fn ck_hash(self) -> CK_MECHANISM_TYPE {
        match self {
            OaepHash::Sha1 => CKM_SHA_1,
            OaepHash::Sha256 => CKM_SHA256,
        }
    }

    /// The PKCS#11 mask generation function (CK_RSA_PKCS_OAEP_PARAMS.mgf).
    pub fn ck_mgf(self) -> CK_RSA_PKCS_MGF_TYPE {
        match self {
            OaepHash::Sha1 => CKG_MGF1_SHA1,
            OaepHash::Sha256 => CKG_MGF1_SHA256,
        }
    }

    /// The other hash: what a token that ignores the request probably used instead.
    pub fn other(self) -> OaepHash {
        match self {
            OaepHash::Sha1 => OaepHash::Sha256,
            OaepHash::Sha256 => OaepHash::Sha1,
        }
    }
}

impl std::fmt::Display for OaepHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
