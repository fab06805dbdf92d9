//! A test certificate authority made at test time: its root (given to byok-upload through
//! SSL_CERT_FILE), a server certificate for 127.0.0.1, and client certificates for the
//! certificate credential.
use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData, SignatureAlgorithm,
};

/// An RSA public key for rcgen: the RSAPublicKey DER inside an SPKI.
struct RsaPublic(Vec<u8>);

impl PublicKeyData for RsaPublic {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pub root_pem: String,
    /// The root in a file of its own, for SSL_CERT_FILE.
    pub root_file: PathBuf,
    _dir: tempfile::TempDir,
}

/// A server certificate chain and key, DER.
pub struct ServerIdentity {
    pub cert_der: Vec<u8>,
    pub key_der: Vec<u8>,
}

impl TestCa {
    pub fn new() -> TestCa {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(
            DnType::CommonName,
            "byok-upload test CA (made at test time)",
        );
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let root = params.self_signed(&key).expect("self-signed root");
        let root_pem = root.pem();
        let dir = tempfile::tempdir().expect("temp dir");
        let root_file = dir.path().join("test-ca.pem");
        std::fs::write(&root_file, &root_pem).expect("write root");
        TestCa {
            issuer: Issuer::new(params, key),
            root_pem,
            root_file,
            _dir: dir,
        }
    }

    /// A TLS server certificate for the IP address 127.0.0.1.
    pub fn server_identity(&self) -> ServerIdentity {
        let key = KeyPair::generate().expect("server key");
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, "Key Vault test double");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let cert = params.signed_by(&key, &self.issuer).expect("server cert");
        ServerIdentity {
            cert_der: cert.der().to_vec(),
            key_der: key.serialize_der(),
        }
    }

    /// A client-authentication certificate (PEM) for an RSA public key (SPKI DER).
    pub fn client_certificate_pem(&self, spki_der: &[u8]) -> String {
        let spki =
            <spki::SubjectPublicKeyInfoRef<'_> as der::Decode>::from_der(spki_der).expect("spki");
        let public = RsaPublic(spki.subject_public_key.raw_bytes().to_vec());
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, "byok-upload test application");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params
            .signed_by(&public, &self.issuer)
            .expect("client cert")
            .pem()
    }
}
