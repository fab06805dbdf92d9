//! The one place in byok-ceremony that may use `unsafe`.
//!
//! cryptoki 0.12 has no `Mechanism` variant for CKM_RSA_AES_KEY_WRAP (0x1054) nor for
//! CKM_AES_KEY_WRAP_KWP (0x210B), and its `get_mechanism_list` silently drops mechanisms it
//! does not know. Both are exactly the ones a BYOK ceremony cares about, so this module opens
//! the same PKCS#11 library a second time (the dynamic loader hands back the already loaded,
//! already initialised instance) and calls `C_GetMechanismList` and `C_WrapKey` through the
//! library's own function list.
//!
//! It also holds the process-environment setter used to point a software token at its
//! configuration before the module is loaded (Rust 2024 marks `set_var` unsafe).
#![allow(unsafe_code)]

use std::ffi::OsStr;
use std::path::Path;
use std::ptr;
use std::sync::{Mutex, PoisonError};

use cryptoki_sys::{
    CK_FUNCTION_LIST, CK_FUNCTION_LIST_PTR, CK_MECHANISM, CK_MECHANISM_TYPE, CK_OBJECT_HANDLE,
    CK_RSA_AES_KEY_WRAP_PARAMS, CK_RSA_PKCS_OAEP_PARAMS, CK_SESSION_HANDLE, CK_SLOT_ID, CK_ULONG,
    CKR_ARGUMENTS_BAD, CKR_ATTRIBUTE_VALUE_INVALID, CKR_BUFFER_TOO_SMALL, CKR_DEVICE_ERROR,
    CKR_DEVICE_MEMORY, CKR_FUNCTION_FAILED, CKR_GENERAL_ERROR, CKR_KEY_FUNCTION_NOT_PERMITTED,
    CKR_KEY_HANDLE_INVALID, CKR_KEY_NOT_WRAPPABLE, CKR_KEY_SIZE_RANGE, CKR_KEY_UNEXTRACTABLE,
    CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID, CKR_OK, CKR_PIN_INCORRECT,
    CKR_SESSION_HANDLE_INVALID, CKR_TOKEN_WRITE_PROTECTED, CKR_USER_NOT_LOGGED_IN,
    CKR_WRAPPING_KEY_HANDLE_INVALID, CKR_WRAPPING_KEY_SIZE_RANGE,
    CKR_WRAPPING_KEY_TYPE_INCONSISTENT, CKZ_DATA_SPECIFIED,
};

use crate::hsm_types::wrap::OaepHash;

/// What went wrong in a raw PKCS#11 call.
#[derive(Debug, thiserror::Error)]
pub enum FfiError {
    #[error(
        "could not load the PKCS#11 module a second time for raw calls: {0}; check the module path"
    )]
    Load(String),
    #[error(
        "the PKCS#11 module has no C_GetFunctionList; it is not a PKCS#11 library, check the module path"
    )]
    NoFunctionList,
    #[error("the PKCS#11 module does not implement {0}; use an HSM whose module does")]
    MissingFunction(&'static str),
    #[error("{function} failed with CKR 0x{rv:08X} ({name})", name = rv_name(*rv))]
    Call {
        function: &'static str,
        rv: CK_ULONG,
    },
}

/// Parameters of a raw key-wrap mechanism.
#[derive(Debug, Clone, Copy)]
pub enum RawWrapParams {
    /// No parameter (CKM_AES_KEY_WRAP_KWP and friends: the default RFC 5649 IV).
    None,
    /// CKM_RSA_AES_KEY_WRAP with an AES key of `aes_key_bits` and OAEP with `oaep` for the
    /// hash and MGF1, empty label. Azure BYOK is SHA-1 with 256 bits.
    RsaAesKeyWrap {
        aes_key_bits: CK_ULONG,
        oaep: OaepHash,
    },
}

/// A second handle on a loaded PKCS#11 library, for the calls cryptoki cannot make.
///
/// Only the HSM layer can open one (dlopen runs a library's initialisers, so opening is safe
/// only for a library `Hsm::load` has already loaded); outside it this does not compile:
///
/// ```compile_fail
/// let _ = byok_ceremony::hsm::ffi::RawModule::open(std::path::Path::new("/lib/x.so"));
/// ```
pub struct RawModule {
    // Keeps the library mapped for as long as the function list is used.
    _library: libloading::Library,
    functions: CK_FUNCTION_LIST,
}

impl std::fmt::Debug for RawModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawModule").finish_non_exhaustive()
    }
}

impl RawModule {
    /// Opens `path` (already loaded and initialised through cryptoki) for raw calls. Private
    /// to the HSM layer: only `Hsm::load` keeps the contract below.
    pub(super) fn open(path: &Path) -> Result<Self, FfiError> {
        // SAFETY: loading a shared library runs its initialisers. The caller has already
        // loaded this same library through cryptoki, so nothing new runs; dlopen returns the
        // existing mapping with its reference count raised.
        let library =
            unsafe { libloading::Library::new(path) }.map_err(|e| FfiError::Load(e.to_string()))?;
        type GetFunctionList = unsafe extern "C" fn(*mut CK_FUNCTION_LIST_PTR) -> CK_ULONG;
        // SAFETY: C_GetFunctionList has this signature in every PKCS#11 version.
        let get_list: libloading::Symbol<'_, GetFunctionList> =
            unsafe { library.get(b"C_GetFunctionList\0") }.map_err(|_| FfiError::NoFunctionList)?;
        let mut list: CK_FUNCTION_LIST_PTR = ptr::null_mut();
        // SAFETY: `list` is a valid out-pointer; the module writes a pointer to its static table.
        let rv = unsafe { get_list(&mut list) };
        if rv != CKR_OK || list.is_null() {
            return Err(FfiError::Call {
                function: "C_GetFunctionList",
                rv,
            });
        }
        // SAFETY: a non-null list returned with CKR_OK points to a CK_FUNCTION_LIST that lives
        // as long as the library stays loaded; we copy the 2.40 table (a prefix of 3.x tables).
        let functions = unsafe { *list };
        Ok(Self {
            _library: library,
            functions,
        })
    }

    /// Every mechanism the token in `slot` lists, including ones cryptoki does not know.
    pub fn mechanism_list(&self, slot: CK_SLOT_ID) -> Result<Vec<CK_MECHANISM_TYPE>, FfiError> {
        let f = self
            .functions
            .C_GetMechanismList
            .ok_or(FfiError::MissingFunction("C_GetMechanismList"))?;
        let mut count: CK_ULONG = 0;
        // SAFETY: a null list pointer asks only for the count, written to `count`.
        check("C_GetMechanismList", unsafe {
            f(slot, ptr::null_mut(), &mut count)
        })?;
        let mut list: Vec<CK_MECHANISM_TYPE> = vec![0; count as usize];
        // SAFETY: `list` has room for `count` entries, and `count` says so.
        check("C_GetMechanismList", unsafe {
            f(slot, list.as_mut_ptr(), &mut count)
        })?;
        list.truncate(count as usize);
        Ok(list)
    }

    /// `C_WrapKey` with a mechanism given by number. The wrapped bytes are ciphertext, not secret.
    pub fn wrap_key(
        &self,
        session: CK_SESSION_HANDLE,
        mechanism: CK_MECHANISM_TYPE,
        params: RawWrapParams,
        wrapping_key: CK_OBJECT_HANDLE,
        key: CK_OBJECT_HANDLE,
    ) -> Result<Vec<u8>, FfiError> {
        let f = self
            .functions
            .C_WrapKey
            .ok_or(FfiError::MissingFunction("C_WrapKey"))?;
        let (aes_key_bits, hash) = match params {
            RawWrapParams::RsaAesKeyWrap { aes_key_bits, oaep } => (aes_key_bits, oaep),
            RawWrapParams::None => (0, OaepHash::Sha1),
        };
        // The parameter structs must outlive both calls, so they live on this frame, filled in
        // before any pointer to them is taken.
        let mut oaep = CK_RSA_PKCS_OAEP_PARAMS {
            hashAlg: super::oaep::ck_hash(hash),
            mgf: super::oaep::ck_mgf(hash),
            source: CKZ_DATA_SPECIFIED,
            pSourceData: ptr::null_mut(),
            ulSourceDataLen: 0,
        };
        let mut rsa_aes = CK_RSA_AES_KEY_WRAP_PARAMS {
            ulAESKeyBits: aes_key_bits,
            pOAEPParams: &mut oaep,
        };
        let mut mech = CK_MECHANISM {
            mechanism,
            pParameter: ptr::null_mut(),
            ulParameterLen: 0,
        };
        if matches!(params, RawWrapParams::RsaAesKeyWrap { .. }) {
            mech.pParameter = (&mut rsa_aes as *mut CK_RSA_AES_KEY_WRAP_PARAMS).cast();
            mech.ulParameterLen = std::mem::size_of::<CK_RSA_AES_KEY_WRAP_PARAMS>() as CK_ULONG;
        }
        let mut len: CK_ULONG = 0;
        // SAFETY: `mech` and its parameters are valid for the call; a null output buffer asks
        // for the length only.
        check("C_WrapKey", unsafe {
            f(
                session,
                &mut mech,
                wrapping_key,
                key,
                ptr::null_mut(),
                &mut len,
            )
        })?;
        let mut out = vec![0u8; len as usize];
        // SAFETY: `out` has room for `len` bytes, and `len` says so.
        let rv = unsafe {
            f(
                session,
                &mut mech,
                wrapping_key,
                key,
                out.as_mut_ptr(),
                &mut len,
            )
        };
        check("C_WrapKey", rv)?;
        out.truncate(len as usize);
        Ok(out)
    }
}

fn check(function: &'static str, rv: CK_ULONG) -> Result<(), FfiError> {
    if rv == CKR_OK {
        Ok(())
    } else {
        Err(FfiError::Call { function, rv })
    }
}

/// Names of the return values a ceremony operator is likely to meet (cryptoki-sys's numbers,
/// so a name can never drift from its value).
pub fn rv_name(rv: CK_ULONG) -> &'static str {
    match rv {
        CKR_OK => "CKR_OK",
        CKR_GENERAL_ERROR => "CKR_GENERAL_ERROR",
        CKR_FUNCTION_FAILED => "CKR_FUNCTION_FAILED",
        CKR_ARGUMENTS_BAD => "CKR_ARGUMENTS_BAD",
        CKR_ATTRIBUTE_VALUE_INVALID => "CKR_ATTRIBUTE_VALUE_INVALID",
        CKR_DEVICE_ERROR => "CKR_DEVICE_ERROR",
        CKR_DEVICE_MEMORY => "CKR_DEVICE_MEMORY",
        CKR_KEY_HANDLE_INVALID => "CKR_KEY_HANDLE_INVALID",
        CKR_KEY_SIZE_RANGE => "CKR_KEY_SIZE_RANGE",
        CKR_KEY_FUNCTION_NOT_PERMITTED => "CKR_KEY_FUNCTION_NOT_PERMITTED",
        CKR_KEY_NOT_WRAPPABLE => "CKR_KEY_NOT_WRAPPABLE",
        CKR_KEY_UNEXTRACTABLE => "CKR_KEY_UNEXTRACTABLE",
        CKR_MECHANISM_INVALID => "CKR_MECHANISM_INVALID",
        CKR_MECHANISM_PARAM_INVALID => "CKR_MECHANISM_PARAM_INVALID",
        CKR_PIN_INCORRECT => "CKR_PIN_INCORRECT",
        CKR_SESSION_HANDLE_INVALID => "CKR_SESSION_HANDLE_INVALID",
        CKR_TOKEN_WRITE_PROTECTED => "CKR_TOKEN_WRITE_PROTECTED",
        CKR_USER_NOT_LOGGED_IN => "CKR_USER_NOT_LOGGED_IN",
        CKR_WRAPPING_KEY_HANDLE_INVALID => "CKR_WRAPPING_KEY_HANDLE_INVALID",
        CKR_WRAPPING_KEY_SIZE_RANGE => "CKR_WRAPPING_KEY_SIZE_RANGE",
        CKR_WRAPPING_KEY_TYPE_INCONSISTENT => "CKR_WRAPPING_KEY_TYPE_INCONSISTENT",
        CKR_BUFFER_TOO_SMALL => "CKR_BUFFER_TOO_SMALL",
        _ => "see the PKCS#11 specification",
    }
}

/// Held while this process changes a module's configuration variable and while it loads and
/// initialises a module, the only moments foreign code reads those variables.
static MODULE_ENV: Mutex<()> = Mutex::new(());

/// Points a software token (or the test shim) at its configuration by setting `var` in this
/// process's environment; the next module load reads it.
///
/// `setenv` is unsafe against a concurrent C `getenv`. Rust's own reads take std's
/// environment lock, so the danger is C code: the PKCS#11 modules read their configuration
/// in C_GetFunctionList and C_Initialize, and `loading_module` runs those under the same lock
/// as this write, so no caller has a contract to keep. (No other C code of this process reads
/// the environment from another thread.)
pub fn set_token_config_env(var: &str, value: &OsStr) {
    let _held = MODULE_ENV.lock().unwrap_or_else(PoisonError::into_inner);
    // SAFETY: every foreign reader of the environment runs under `MODULE_ENV` (above).
    unsafe { std::env::set_var(var, value) }
}

/// Runs `load` (dlopen, C_GetFunctionList, C_Initialize of a module) with the environment
/// held still: see `set_token_config_env`.
pub(super) fn loading_module<T>(load: impl FnOnce() -> T) -> T {
    let _held = MODULE_ENV.lock().unwrap_or_else(PoisonError::into_inner);
    load()
}
