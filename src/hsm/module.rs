//! Loading a PKCS#11 module, choosing a token and opening a logged-in session.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::{Slot, TokenInfo};
use cryptoki::types::AuthPin;
use cryptoki_sys::CK_MECHANISM_TYPE;

use super::HsmError;
use super::ffi::{self, RawModule};
use crate::hsm_types::token::{TokenIdentity, TokenSelector};

/// A loaded and initialised PKCS#11 module.
#[derive(Debug)]
pub struct Hsm {
    ctx: Pkcs11,
    raw: RawModule,
    path: PathBuf,
}

/// True when the token in `slot` is the one `selector` names.
fn selector_matches(selector: &TokenSelector, slot: Slot, info: &TokenInfo) -> bool {
    match selector {
        // PKCS#11 pads these fields with blanks; compare without the padding.
        TokenSelector::Label(l) => info.label().trim_end() == l,
        TokenSelector::Serial(s) => info.serial_number().trim_end() == s,
        TokenSelector::Uri(u) => {
            u.token
                .as_deref()
                .is_none_or(|t| info.label().trim_end() == t)
                && u.serial
                    .as_deref()
                    .is_none_or(|s| info.serial_number().trim_end() == s)
                && u.model
                    .as_deref()
                    .is_none_or(|m| info.model().trim_end() == m)
                && u.manufacturer
                    .as_deref()
                    .is_none_or(|m| info.manufacturer_id().trim_end() == m)
                && u.slot_id.is_none_or(|id| slot.id() == id)
        }
    }
}

/// The token's identity as its CK_TOKEN_INFO gives it.
fn identity_of(info: &TokenInfo) -> TokenIdentity {
    let v = |v: cryptoki::types::Version| format!("{}.{}", v.major(), v.minor());
    TokenIdentity {
        label: info.label().trim().to_owned(),
        manufacturer: info.manufacturer_id().trim().to_owned(),
        model: info.model().trim().to_owned(),
        serial: info.serial_number().trim().to_owned(),
        firmware: v(info.firmware_version()),
        hardware: v(info.hardware_version()),
        protected_authentication_path: info.protected_authentication_path(),
    }
}

impl Hsm {
    /// Loads the module at `path` and calls C_Initialize (OS locking: HSM work runs off the
    /// UI thread).
    pub fn load(path: &Path) -> Result<Self, HsmError> {
        let display = path.display().to_string();
        let (ctx, raw) = ffi::loading_module(|| {
            let ctx = Pkcs11::new(path).map_err(|source| HsmError::Load {
                path: display.clone(),
                source,
            })?;
            ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
                .map_err(|source| HsmError::Load {
                    path: display,
                    source,
                })?;
            let raw =
                RawModule::open(path).map_err(HsmError::raw("open the module for raw calls"))?;
            Ok::<_, HsmError>((ctx, raw))
        })?;
        Ok(Hsm {
            ctx,
            raw,
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn context(&self) -> &Pkcs11 {
        &self.ctx
    }

    /// Raw calls for mechanisms cryptoki lacks (see `ffi`).
    pub fn raw(&self) -> &RawModule {
        &self.raw
    }

    /// The library's own description, e.g. "SoftHSM 2.6".
    pub fn library_description(&self) -> Result<String, HsmError> {
        let info = self
            .ctx
            .get_library_info()
            .map_err(HsmError::p11("describe the library"))?;
        let v = info.library_version();
        Ok(format!(
            "{} {} {}.{}",
            info.manufacturer_id().trim(),
            info.library_description().trim(),
            v.major(),
            v.minor()
        ))
    }

    /// Exactly one initialised token must match; several is an error, never a guess.
    pub fn find_token(&self, selector: &TokenSelector) -> Result<Slot, HsmError> {
        let slots = self
            .ctx
            .get_slots_with_initialized_token()
            .map_err(HsmError::p11("list its tokens"))?;
        let mut found = Vec::new();
        for slot in slots {
            let info = self
                .ctx
                .get_token_info(slot)
                .map_err(HsmError::p11("describe a token"))?;
            if selector_matches(selector, slot, &info) {
                found.push(slot);
            }
        }
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(HsmError::NoToken {
                selector: selector.to_string(),
            }),
            many => Err(HsmError::AmbiguousToken {
                selector: selector.to_string(),
                count: many.len(),
            }),
        }
    }

    pub fn token_identity(&self, slot: Slot) -> Result<TokenIdentity, HsmError> {
        let info = self
            .ctx
            .get_token_info(slot)
            .map_err(HsmError::p11("describe the token"))?;
        Ok(identity_of(&info))
    }

    /// Every mechanism the token lists, by number (cryptoki would drop the ones it lacks).
    pub fn mechanisms(&self, slot: Slot) -> Result<Vec<CK_MECHANISM_TYPE>, HsmError> {
        self.raw
            .mechanism_list(slot.id())
            .map_err(HsmError::raw("list its mechanisms"))
    }

    /// Opens a read-write session on `slot`.
    pub fn open_session(&self, slot: Slot) -> Result<HsmSession<'_>, HsmError> {
        let session = self
            .ctx
            .open_rw_session(slot)
            .map_err(HsmError::p11("open a session"))?;
        Ok(HsmSession {
            hsm: self,
            session,
            slot,
        })
    }
}

impl Drop for Hsm {
    fn drop(&mut self) {
        // cryptoki does not finalise on drop, and the raw handle keeps the library mapped, so
        // without this a later `Hsm::load` of the same module would meet
        // CKR_CRYPTOKI_ALREADY_INITIALIZED and miss a new token configuration.
        let _ = self.ctx.clone().finalize();
    }
}

/// A read-write session on one token.
#[derive(Debug)]
pub struct HsmSession<'h> {
    hsm: &'h Hsm,
    session: Session,
    slot: Slot,
}

impl<'h> HsmSession<'h> {
    pub fn hsm(&self) -> &'h Hsm {
        self.hsm
    }

    pub fn slot(&self) -> Slot {
        self.slot
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Logs in as the normal user. The PIN stays in its zeroizing wrapper throughout.
    pub fn login_user(&self, pin: &AuthPin) -> Result<(), HsmError> {
        self.session
            .login(UserType::User, Some(pin))
            .map_err(HsmError::p11("log in"))
    }

    /// Random bytes from the HSM's own generator.
    pub fn random(&self, len: u32) -> Result<Vec<u8>, HsmError> {
        self.session
            .generate_random_vec(len)
            .map_err(HsmError::p11("produce random bytes"))
    }
}
