//! A KEK made in software, standing in for a Key Vault KEK in rehearsals and tests.
//!
//! Unlike a real KEK, its private key is at hand, so a rehearsal can unwrap its own output and
//! prove it correct. Nothing made with a simulated KEK can ever be imported into Azure.

use std::fmt;
use std::path::Path;

use pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::PrivateKey as RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use zeroize::Zeroizing;

use crate::byok::kek::{ALLOWED_KEK_BITS, Kek, KekError, Kid};

/// The vault host of generated rehearsal kids: a syntactically valid Key Vault host, so the
/// rest of the tool treats it like a real one.
pub const REHEARSAL_VAULT_HOST: &str = "rehearsal-vault.vault.azure.net";
/// The host of generated rehearsal kids for a Managed HSM (the only home of AES targets).
pub const REHEARSAL_MANAGED_HSM_HOST: &str = "rehearsal-hsm.managedhsm.azure.net";
/// The key name of every generated rehearsal kid.
pub const REHEARSAL_KEK_NAME: &str = "rehearsal-kek";

#[derive(Debug, thiserror::Error)]
pub enum SimulatedKekError {
    #[error(transparent)]
    Input(#[from] crate::media::input::InputError),
    #[error(
        "a simulated KEK of {0} bits was asked for; Azure KEKs are 2048, 3072 or 4096 bits: pick one of those"
    )]
    UnsupportedSize(usize),
    #[error(
        "the operating system's random number generator failed ({0}): check the machine before holding a ceremony on it"
    )]
    Random(String),
    #[error("RSA key generation failed ({0}): try again; if it persists, report it")]
    Generate(String),
    #[error("encoding the simulated KEK failed ({0}): report this as a bug")]
    Encode(String),
    #[error(
        "the simulated KEK private key is not an unencrypted PKCS#8 or PKCS#1 RSA PEM ({0}): pass the file the rehearsal wrote"
    )]
    BadPrivatePem(String),
    #[error(transparent)]
    Kek(#[from] KekError),
}

/// A software RSA KEK with a Key Vault-shaped kid.
pub struct SimulatedKek {
    private_key: RsaPrivateKey,
    kek: Kek,
    public_pem: String,
    private_pem: Zeroizing<String>,
}

impl fmt::Debug for SimulatedKek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatedKek")
            .field("kek", &self.kek)
            .finish_non_exhaustive()
    }
}

impl SimulatedKek {
    /// Generates a fresh KEK of `bits` (2048, 3072 or 4096) from the OS random number generator,
    /// with kid `https://rehearsal-vault.vault.azure.net/keys/rehearsal-kek/<32 random hex>`,
    /// or on `rehearsal-hsm.managedhsm.azure.net` when `managed_hsm` (needed for AES targets).
    pub fn generate(bits: usize, managed_hsm: bool) -> Result<SimulatedKek, SimulatedKekError> {
        if !ALLOWED_KEK_BITS.contains(&bits) {
            return Err(SimulatedKekError::UnsupportedSize(bits));
        }
        let private_key = RsaPrivateKey::new(&mut getrandom::SysRng, bits)
            .map_err(|err| SimulatedKekError::Generate(err.to_string()))?;
        let kid = Kid::parse(&rehearsal_kid(managed_hsm)?)?;
        SimulatedKek::from_private_key(private_key, kid)
    }

    /// Loads a test KEK from its private key PEM (PKCS#8 "PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY").
    pub fn from_private_pem(pem: &str, kid: &str) -> Result<SimulatedKek, SimulatedKekError> {
        SimulatedKek::from_private_key(parse_private_pem(pem)?, Kid::parse(kid)?)
    }

    fn from_private_key(
        private_key: RsaPrivateKey,
        kid: Kid,
    ) -> Result<SimulatedKek, SimulatedKekError> {
        let encode = |err: &dyn fmt::Display| SimulatedKekError::Encode(err.to_string());
        let public_key = private_key.to_public_key();
        let public_pem = public_key
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| encode(&e))?;
        let private_pem = private_key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| encode(&e))?;
        let kek = Kek::from_public_key(public_key, Some(kid))?;
        Ok(SimulatedKek {
            private_key,
            kek,
            public_pem,
            private_pem,
        })
    }

    /// The public side, exactly like a KEK loaded from Azure.
    pub fn kek(&self) -> &Kek {
        &self.kek
    }

    pub fn private_key(&self) -> &RsaPrivateKey {
        &self.private_key
    }

    /// SPKI PEM, as `az keyvault key download` would write it.
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }

    /// Unencrypted PKCS#8 PEM of the private key (zeroized when dropped).
    pub fn private_pem(&self) -> Zeroizing<String> {
        self.private_pem.clone()
    }
}

fn rehearsal_kid(managed_hsm: bool) -> Result<String, SimulatedKekError> {
    let mut version = [0u8; 16];
    getrandom::fill(&mut version).map_err(|err| SimulatedKekError::Random(err.to_string()))?;
    let host = if managed_hsm {
        REHEARSAL_MANAGED_HSM_HOST
    } else {
        REHEARSAL_VAULT_HOST
    };
    Ok(format!(
        "https://{host}/keys/{REHEARSAL_KEK_NAME}/{}",
        hex::encode(version)
    ))
}

/// Reads a simulated KEK's private key from a PEM file (PKCS#8 or PKCS#1, unencrypted).
pub fn load_private_key(path: &Path) -> Result<RsaPrivateKey, SimulatedKekError> {
    let bytes = crate::media::input::read_secret_input(path, crate::media::input::SMALL_SECRET)?;
    let pem = Zeroizing::new(
        std::str::from_utf8(&bytes)
            .map_err(|_| SimulatedKekError::BadPrivatePem("it is not text".into()))?
            .to_owned(),
    );
    parse_private_pem(&pem)
}

fn parse_private_pem(pem: &str) -> Result<RsaPrivateKey, SimulatedKekError> {
    let pem = pem.trim();
    RsaPrivateKey::from_pkcs8_pem(pem)
        .or_else(|pkcs8_err| RsaPrivateKey::from_pkcs1_pem(pem).map_err(|_| pkcs8_err.to_string()))
        .map_err(SimulatedKekError::BadPrivatePem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_a_valid_kek_and_reloads_it() {
        let simulated = SimulatedKek::generate(2048, false).expect("generate");
        let kek = simulated.kek();
        assert_eq!(kek.bits(), 2048);
        assert_eq!(kek.exponent_be(), [1, 0, 1]);
        let kid = kek.kid().expect("kid");
        assert_eq!(kid.host(), REHEARSAL_VAULT_HOST);
        assert_eq!(kid.name(), REHEARSAL_KEK_NAME);
        assert_eq!(kid.version().len(), 32);
        assert!(kek.warnings().is_empty(), "{:?}", kek.warnings());

        let from_public = Kek::from_bytes(simulated.public_pem().as_bytes()).expect("public PEM");
        assert_eq!(from_public.fingerprint(), kek.fingerprint());

        let reloaded =
            SimulatedKek::from_private_pem(&simulated.private_pem(), kid.url()).expect("reload");
        assert_eq!(reloaded.kek().spki_der(), kek.spki_der());
        assert_eq!(reloaded.private_key(), simulated.private_key());
        assert!(!format!("{simulated:?}").contains("PRIVATE"));
    }

    #[test]
    fn kids_are_random() {
        assert_ne!(
            rehearsal_kid(false).expect("kid"),
            rehearsal_kid(false).expect("kid")
        );
        let hsm = Kid::parse(&rehearsal_kid(true).expect("kid")).expect("valid");
        assert!(hsm.is_managed_hsm() && hsm.host_is_known());
    }

    #[test]
    fn rejects_unsupported_sizes_and_bad_input() {
        assert!(matches!(
            SimulatedKek::generate(1024, false),
            Err(SimulatedKekError::UnsupportedSize(1024))
        ));
        let err = SimulatedKek::from_private_pem(
            "not a pem",
            "https://a.vault.azure.net/keys/k/0123456789abcdef0123456789abcdef",
        )
        .expect_err("bad PEM");
        assert!(matches!(err, SimulatedKekError::BadPrivatePem(_)));
    }
}
