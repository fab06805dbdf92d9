//! Disposable software tokens (SoftHSM2, kryoptic) for rehearsals and tests.
//!
//! Each throwaway token lives in its own temporary directory with its own configuration file,
//! named through the token's environment variable before the module is loaded. Its PINs are
//! random, held only in zeroizing memory, and die with it.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use cryptoki::session::UserType;
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use serde::Serialize;
use zeroize::Zeroizing;

use super::HsmError;
use super::ffi::set_token_config_env;
use super::module::{Hsm, HsmSession};

/// The software tokens byok-ceremony knows how to set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SoftToken {
    SoftHsm2,
    Kryoptic,
}

/// Where Debian and our own build script put the modules.
const SOFTHSM2_PATHS: [&str; 3] = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
];
/// Environment variable naming a kryoptic module built by scripts/build-kryoptic.sh.
pub const KRYOPTIC_MODULE_ENV: &str = "BYOK_KRYOPTIC_MODULE";
/// Environment variable naming the SoftHSM2 2.7.0 module built by scripts/build-softhsm.sh.
pub const SOFTHSM_BUILT_MODULE_ENV: &str = "BYOK_SOFTHSM_MODULE";
/// Where scripts/build-softhsm.sh installs its module, under the target directory.
const SOFTHSM_BUILT_REL: &str = "tools/softhsm-2.7.0/lib/softhsm/libsofthsm2.so";
/// Where scripts/build-kryoptic.sh installs its module, under the target directory.
const KRYOPTIC_BUILT_REL: &str = "tools/kryoptic/libkryoptic_pkcs11.so";
const KRYOPTIC_SLOT: u64 = 42;

impl SoftToken {
    /// Recognises a software token from its module's file name.
    pub fn detect(module: &Path) -> Option<SoftToken> {
        let name = module.file_name()?.to_string_lossy().to_lowercase();
        if name.contains("softhsm") {
            Some(SoftToken::SoftHsm2)
        } else if name.contains("kryoptic") {
            Some(SoftToken::Kryoptic)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SoftToken::SoftHsm2 => "SoftHSM2",
            SoftToken::Kryoptic => "kryoptic",
        }
    }

    /// The installed module, if any: the usual Debian paths for SoftHSM2 (the distro's
    /// package); for kryoptic the environment variable, then the build script's output next to
    /// this binary's target dir.
    pub fn find_module(self) -> Option<PathBuf> {
        match self {
            SoftToken::SoftHsm2 => SOFTHSM2_PATHS
                .iter()
                .map(PathBuf::from)
                .find(|p| p.is_file()),
            SoftToken::Kryoptic => built_module(KRYOPTIC_MODULE_ENV, KRYOPTIC_BUILT_REL),
        }
    }

    /// The SoftHSM2 2.7.0 built by scripts/build-softhsm.sh, if it is: the environment
    /// variable, then the build script's output next to this binary's target dir.
    pub fn find_built_softhsm() -> Option<PathBuf> {
        built_module(SOFTHSM_BUILT_MODULE_ENV, SOFTHSM_BUILT_REL)
    }

    /// Writes a configuration for a fresh, empty token store in `dir` and points this
    /// process at it (the module must be loaded afterwards). Same threading contract as
    /// `ffi::set_token_config_env`.
    pub fn use_new_store(self, dir: &Path) -> Result<(), HsmError> {
        let config = self
            .write_config(dir)
            .map_err(|source| HsmError::TokenDir {
                path: dir.display().to_string(),
                source,
            })?;
        set_token_config_env(self.env_var(), config.as_os_str());
        Ok(())
    }

    fn env_var(self) -> &'static str {
        match self {
            SoftToken::SoftHsm2 => "SOFTHSM2_CONF",
            SoftToken::Kryoptic => "KRYOPTIC_CONF",
        }
    }

    fn write_config(self, dir: &Path) -> std::io::Result<PathBuf> {
        let (name, text) = match self {
            SoftToken::SoftHsm2 => {
                let tokens = dir.join("tokens");
                std::fs::create_dir(&tokens)?;
                (
                    "softhsm2.conf",
                    format!(
                        "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                        tokens.display()
                    ),
                )
            }
            SoftToken::Kryoptic => (
                "kryoptic.conf",
                format!(
                    "[[slots]]\nslot = {KRYOPTIC_SLOT}\ndbtype = \"sqlite\"\ndbargs = \"{}\"\n",
                    dir.join("token.sql").display()
                ),
            ),
        };
        let path = dir.join(name);
        std::fs::write(&path, text)?;
        Ok(path)
    }
}

/// The software-token modules on this machine, in the order a rehearsal tries them: SoftHSM2
/// 2.7.0 as built by scripts/build-softhsm.sh (native CKM_RSA_AES_KEY_WRAP), kryoptic
/// (byte-exact two-step), then the distro's SoftHSM2 (2.6.1 zero-pads: rehearsal-grade).
pub fn installed_modules() -> Vec<(SoftToken, PathBuf)> {
    [
        (SoftToken::SoftHsm2, SoftToken::find_built_softhsm()),
        (SoftToken::Kryoptic, SoftToken::Kryoptic.find_module()),
        (SoftToken::SoftHsm2, SoftToken::SoftHsm2.find_module()),
    ]
    .into_iter()
    .filter_map(|(kind, path)| path.map(|p| (kind, p)))
    .collect()
}

/// A module a build script made: named by `env`, else at `rel` under the target directory this
/// binary runs from (target/{debug,release}/byok-ceremony, or target/debug/deps/TEST).
fn built_module(env: &str, rel: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .skip(1)
        .take(3)
        .map(|d| d.join(rel))
        .find(|p| p.is_file())
}

/// A freshly initialised software token with random PINs, gone when dropped.
#[derive(Debug)]
pub struct ThrowawayToken {
    // Field order matters: the module is finalised before its directory is removed.
    hsm: Hsm,
    slot: Slot,
    kind: SoftToken,
    label: String,
    user_pin: AuthPin,
    so_pin: AuthPin,
    _dir: tempfile::TempDir,
}

impl ThrowawayToken {
    /// Creates the token under `base` (the system temp dir when None).
    ///
    /// Sets the token's configuration variable in this process's environment: call it before
    /// other threads exist, or while they wait (see `ffi::set_token_config_env`).
    pub fn create(
        kind: SoftToken,
        module: &Path,
        label: &str,
        base: Option<&Path>,
    ) -> Result<ThrowawayToken, HsmError> {
        let dir = match base {
            Some(b) => tempfile::Builder::new().prefix("byok-token-").tempdir_in(b),
            None => tempfile::Builder::new().prefix("byok-token-").tempdir(),
        }
        .map_err(|source| HsmError::TokenDir {
            path: base.map_or_else(|| "the temp dir".into(), |b| b.display().to_string()),
            source,
        })?;
        kind.use_new_store(dir.path())?;
        let hsm = Hsm::load(module)?;
        let slot = free_slot(&hsm, kind)?;
        let so_pin = random_pin()?;
        let user_pin = random_pin()?;
        hsm.context()
            .init_token(slot, &so_pin, label)
            .map_err(HsmError::p11("initialise the throwaway token"))?;
        // SoftHSM2 moves a freshly initialised token to a new slot id; find it by label.
        let slot = hsm.find_token(&crate::hsm_types::token::TokenSelector::Label(
            label.to_owned(),
        ))?;
        {
            let session = hsm
                .context()
                .open_rw_session(slot)
                .map_err(HsmError::p11("open a session on the throwaway token"))?;
            session
                .login(UserType::So, Some(&so_pin))
                .map_err(HsmError::p11("log in as security officer"))?;
            session
                .init_pin(&user_pin)
                .map_err(HsmError::p11("set the user PIN"))?;
            session
                .logout()
                .map_err(HsmError::p11("log the security officer out"))?;
        }
        Ok(ThrowawayToken {
            hsm,
            slot,
            kind,
            label: label.to_owned(),
            user_pin,
            so_pin,
            _dir: dir,
        })
    }

    pub fn hsm(&self) -> &Hsm {
        &self.hsm
    }

    pub fn slot(&self) -> Slot {
        self.slot
    }

    pub fn kind(&self) -> SoftToken {
        self.kind
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// Opens a session logged in as the user.
    pub fn login(&self) -> Result<HsmSession<'_>, HsmError> {
        let session = self.hsm.open_session(self.slot)?;
        session.login_user(&self.user_pin)?;
        Ok(session)
    }

    /// Opens a session logged in as the security officer (only the SO can mark a key
    /// CKA_TRUSTED). Log it out before the user logs in: PKCS#11 has one login per token.
    pub fn login_so(&self) -> Result<HsmSession<'_>, HsmError> {
        let session = self.hsm.open_session(self.slot)?;
        session
            .session()
            .login(UserType::So, Some(&self.so_pin))
            .map_err(HsmError::p11("log in as security officer"))?;
        Ok(session)
    }
}

fn free_slot(hsm: &Hsm, kind: SoftToken) -> Result<Slot, HsmError> {
    let slots = hsm
        .context()
        .get_slots_with_token()
        .map_err(HsmError::p11("list its slots"))?;
    for slot in slots {
        let info = hsm
            .context()
            .get_token_info(slot)
            .map_err(HsmError::p11("describe a slot"))?;
        if !info.token_initialized() && (kind != SoftToken::Kryoptic || slot.id() == KRYOPTIC_SLOT)
        {
            return Ok(slot);
        }
    }
    Err(HsmError::Unsupported(format!(
        "{} offers no uninitialised slot for a throwaway token; check its configuration",
        kind.name()
    )))
}

/// A random PIN of 32 hex characters from the OS generator: long enough for any soft token's
/// limits and typable if someone ever had to (nobody does: it dies with the token).
fn random_pin() -> Result<AuthPin, HsmError> {
    let mut bytes = Zeroizing::new([0u8; 16]);
    getrandom::fill(bytes.as_mut()).map_err(|e| {
        HsmError::Unsupported(format!(
            "the operating system's random generator failed ({e}); do not run a ceremony on this machine"
        ))
    })?;
    let pin = Zeroizing::new(hex::encode(bytes.as_ref()));
    Ok(AuthPin::from(pin.as_str()))
}
