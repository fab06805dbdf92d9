//! Certificate authentication to Entra ID without OpenSSL: a signed client assertion (RFC 7523,
//! RS256 with the certificate's `x5t` thumbprint) handed to the SDK's
//! `ClientAssertionCredential`, which exchanges it for a token.
//!
//! The certificate file is PEM holding the unencrypted RSA private key (PKCS#8 or PKCS#1) and
//! the certificate registered on the application, as `az ad sp create-for-rbac --create-cert`
//! writes it. The private key never leaves this struct and is not shown by Debug.
use std::fmt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use azure_core::http::ClientMethodOptions;
use azure_identity::ClientAssertion;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pkcs8::{DecodePrivateKey, EncodePublicKey};
use rsa::PrivateKey as RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// How long a signed assertion is valid (the SDK's own certificate credential uses the same).
const ASSERTION_LIFETIME_SECS: u64 = 300;
const PUBLIC_CLOUD_AUTHORITY: &str = "https://login.microsoftonline.com";
/// Largest certificate file read: a PEM key and a short chain are a few KiB.
const MAX_PEM_BYTES: u64 = 256 * 1024;

/// Why the certificate file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error(
        "cannot read the certificate file {path}: {source}; check AZURE_CLIENT_CERTIFICATE_PATH"
    )]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{path} is not a PEM file (a PFX/PKCS#12 file?): convert it with `openssl pkcs12 -in cert.pfx -out cert.pem -nodes` onto protected storage"
    )]
    NotPem { path: String },
    #[error("{path} has no {what} block: it must hold the RSA private key and its certificate")]
    Missing { path: String, what: &'static str },
    #[error(
        "{path} holds an encrypted private key: decrypt it onto protected storage (`openssl pkey -in key.pem -out plain.pem`)"
    )]
    Encrypted { path: String },
    #[error(
        "{path}: the private key is not a valid RSA key ({detail}); only RSA certificates are supported"
    )]
    BadKey { path: String, detail: String },
    #[error(
        "{path}: the certificate is not the one of this private key: put the key and its own certificate in the file"
    )]
    KeyMismatch { path: String },
}

/// Makes signed client assertions for one application.
pub struct CertificateAssertion {
    client_id: String,
    audience: String,
    header: String,
    thumbprint: [u8; 20],
    signer: SigningKey<Sha256>,
}

impl fmt::Debug for CertificateAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAssertion")
            .field("client_id", &self.client_id)
            .field("audience", &self.audience)
            .field("thumbprint", &self.thumbprint_hex())
            .finish_non_exhaustive()
    }
}

impl CertificateAssertion {
    /// Loads the PEM at `path`. `authority` is AZURE_AUTHORITY_HOST when set (the SDK sends the
    /// token request there, and the assertion's audience must name that endpoint).
    pub fn load(
        path: &Path,
        tenant: &str,
        client_id: &str,
        authority: Option<&str>,
    ) -> Result<CertificateAssertion, CertificateError> {
        let shown = path.display().to_string();
        let text = read_pem_text(path, &shown)?;
        let mut key: Option<RsaPrivateKey> = None;
        let mut certificate: Option<Vec<u8>> = None;
        for block in pem_blocks(&text) {
            let (label, der) =
                der::pem::decode_vec(block.as_bytes()).map_err(|_| CertificateError::NotPem {
                    path: shown.clone(),
                })?;
            let der = Zeroizing::new(der);
            let bad_key = |detail: String| CertificateError::BadKey {
                path: shown.clone(),
                detail,
            };
            match label {
                "PRIVATE KEY" if key.is_none() => {
                    key = Some(
                        RsaPrivateKey::from_pkcs8_der(&der).map_err(|e| bad_key(e.to_string()))?,
                    );
                }
                "RSA PRIVATE KEY" if key.is_none() => {
                    key = Some(
                        RsaPrivateKey::from_pkcs1_der(&der).map_err(|e| bad_key(e.to_string()))?,
                    );
                }
                "ENCRYPTED PRIVATE KEY" => {
                    return Err(CertificateError::Encrypted { path: shown });
                }
                "CERTIFICATE" if certificate.is_none() => certificate = Some(der.to_vec()),
                _ => {}
            }
        }
        let key = key.ok_or_else(|| CertificateError::Missing {
            path: shown.clone(),
            what: "PRIVATE KEY",
        })?;
        let certificate = certificate.ok_or_else(|| CertificateError::Missing {
            path: shown.clone(),
            what: "CERTIFICATE",
        })?;
        // The certificate carries its SubjectPublicKeyInfo verbatim: it must be this key's.
        let spki =
            key.to_public_key()
                .to_public_key_der()
                .map_err(|e| CertificateError::BadKey {
                    path: shown.clone(),
                    detail: e.to_string(),
                })?;
        if !certificate
            .windows(spki.as_bytes().len())
            .any(|w| w == spki.as_bytes())
        {
            return Err(CertificateError::KeyMismatch { path: shown });
        }
        let thumbprint: [u8; 20] = Sha1::digest(&certificate).into();
        let header = serde_json::json!({
            "alg": "RS256",
            "typ": "JWT",
            "x5t": URL_SAFE_NO_PAD.encode(thumbprint),
        });
        let authority = authority.unwrap_or(PUBLIC_CLOUD_AUTHORITY);
        Ok(CertificateAssertion {
            client_id: client_id.to_owned(),
            audience: format!(
                "{}/{tenant}/oauth2/v2.0/token",
                authority.trim_end_matches('/')
            ),
            header: URL_SAFE_NO_PAD.encode(header.to_string()),
            thumbprint,
            signer: SigningKey::<Sha256>::new(key),
        })
    }

    /// The certificate's SHA-1 thumbprint in hex, as the Azure portal shows it.
    pub fn thumbprint_hex(&self) -> String {
        hex::encode_upper(self.thumbprint)
    }

    /// A fresh signed assertion valid for five minutes.
    pub fn sign_now(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let claims = serde_json::json!({
            "aud": self.audience,
            "iss": self.client_id,
            "sub": self.client_id,
            "jti": azure_core::Uuid::new_v4().to_string(),
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECS,
        });
        let signing_input = format!(
            "{}.{}",
            self.header,
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.signer.sign(signing_input.as_bytes()).to_vec();
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

#[async_trait::async_trait]
impl ClientAssertion for CertificateAssertion {
    async fn secret(&self, _: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        Ok(self.sign_now())
    }
}

fn read_pem_text(path: &Path, shown: &str) -> Result<Zeroizing<String>, CertificateError> {
    use std::io::Read;
    let read_error = |source| CertificateError::Read {
        path: shown.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_PEM_BYTES)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    match std::str::from_utf8(&bytes) {
        Ok(text) if text.contains("-----BEGIN ") => Ok(Zeroizing::new(text.to_owned())),
        _ => Err(CertificateError::NotPem {
            path: shown.to_owned(),
        }),
    }
}

/// The PEM blocks of a file, each from its BEGIN line to its END line.
fn pem_blocks(text: &str) -> Vec<&str> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start..];
        let Some(end) = after.find("-----END ") else {
            break;
        };
        let line_end = after[end..].find('\n').map_or(after.len(), |at| end + at);
        blocks.push(after[..line_end].trim_end_matches('\r'));
        rest = &after[line_end..];
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_pem_blocks() {
        let text = "junk\n-----BEGIN A-----\nAAAA\n-----END A-----\r\nx\n-----BEGIN B-----\nBB\n-----END B-----";
        let blocks = pem_blocks(text);
        assert_eq!(blocks.len(), 2);
        assert!(blocks[0].starts_with("-----BEGIN A") && blocks[0].ends_with("END A-----"));
        assert!(blocks[1].ends_with("END B-----"));
    }

    #[test]
    fn refuses_pfx_and_missing_parts() {
        let dir = tempfile::tempdir().expect("dir");
        let pfx = dir.path().join("c.pfx");
        std::fs::write(&pfx, [0x30, 0x82, 0x01, 0x00]).expect("write");
        let err = CertificateAssertion::load(&pfx, "t", "c", None).expect_err("pfx");
        assert!(err.to_string().contains("openssl pkcs12"), "{err}");
        let only_cert = dir.path().join("c.pem");
        std::fs::write(
            &only_cert,
            "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        let err = CertificateAssertion::load(&only_cert, "t", "c", None).expect_err("no key");
        assert!(err.to_string().contains("PRIVATE KEY"), "{err}");
    }
}
