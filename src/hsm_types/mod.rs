//! What the HSM layer finds and does, as plain data: the token's identity, the key asked for
//! and read back, and how the wrap was made and proven.
//!
//! The pure ceremony machine, the auditor's verifier and the report use these types, and so
//! does `hsm`, which fills them in. Nothing here touches PKCS#11, so the pure core and the
//! verifier do not depend on the FFI layer.
#![forbid(unsafe_code)]

pub mod key;
pub mod token;
pub mod uri;
pub mod wrap;
