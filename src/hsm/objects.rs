//! Object helpers: a guard that destroys temporary objects on every path, and label checks.
#![forbid(unsafe_code)]

use cryptoki::object::{Attribute, ObjectHandle};
use cryptoki::session::Session;

use super::HsmError;

/// Destroys a temporary object (an ephemeral AES key, an imported KEK, a test key) when it
/// goes out of scope, so that an early return or a panic never leaves it behind.
#[derive(Debug)]
pub struct DestroyOnDrop<'s> {
    session: &'s Session,
    handle: ObjectHandle,
    armed: bool,
}

impl<'s> DestroyOnDrop<'s> {
    pub fn new(session: &'s Session, handle: ObjectHandle) -> Self {
        DestroyOnDrop {
            session,
            handle,
            armed: true,
        }
    }

    pub fn handle(&self) -> ObjectHandle {
        self.handle
    }

    /// Keeps the object: the work that made it succeeded.
    pub fn keep(mut self) -> ObjectHandle {
        self.armed = false;
        self.handle
    }

    /// Destroys now and reports failure (Drop can only try).
    pub fn destroy(mut self) -> Result<(), HsmError> {
        self.armed = false;
        self.session
            .destroy_object(self.handle)
            .map_err(HsmError::p11("destroy a temporary object"))
    }
}

impl Drop for DestroyOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            // Best effort: session objects also vanish when the session closes.
            let _ = self.session.destroy_object(self.handle);
        }
    }
}

/// Refuses a label that any object on the token already carries (boulder's habit: a ceremony
/// never reuses a key label, so a second run cannot be confused with the first).
pub fn ensure_label_unused(session: &Session, label: &str) -> Result<(), HsmError> {
    let found = session
        .find_objects(&[Attribute::Label(label.as_bytes().to_vec())])
        .map_err(HsmError::p11("search for existing objects"))?;
    if found.is_empty() {
        Ok(())
    } else {
        Err(HsmError::LabelExists(label.to_owned()))
    }
}
