//! Facts gathered from the event stream (live or replayed) that the outputs are made of: the
//! manifest can be rebuilt from the log alone, so a resumed ceremony exports the very same
//! files.
use crate::ceremony::machine::Event;
use crate::ceremony::script::CeremonyScript;
use crate::hsm_types::key::KeyAttributes;
use crate::hsm_types::token::TokenIdentity;
use crate::hsm_types::wrap::WrapMethod;
use crate::manifest::{HsmRecord, MANIFEST_VERSION, Manifest, ToolIdentity};

#[derive(Debug, Default, Clone)]
pub struct Facts {
    pub hsm: Option<TokenIdentity>,
    pub hsm_module: String,
    pub hsm_library: String,
    pub rehearsal: bool,
    pub kid: Option<String>,
    pub kek_fingerprint: Option<String>,
    pub kek_bits: usize,
    pub kek_warnings: Vec<String>,
    /// The file the KEK was read from (absent in older logs).
    pub kek_file: Option<String>,
    pub kty: String,
    pub key_size: Option<u32>,
    pub crv: Option<String>,
    pub attributes: Option<KeyAttributes>,
    pub public_key_pem: Option<String>,
    pub check_value: Option<String>,
    pub byok_json: Option<String>,
    pub byok_sha256: Option<String>,
    pub wrap_method: Option<WrapMethod>,
    pub rehearsal_grade: bool,
    /// Hash of the log entry that recorded the wrap: the manifest's audit log head.
    pub wrapped_entry_hash: Option<String>,
}

impl Facts {
    pub fn observe(&mut self, event: &Event, entry_hash: &str) {
        match event {
            Event::CeremonyOpened {
                hsm,
                hsm_module,
                hsm_library,
                rehearsal,
                ..
            } => {
                self.hsm = Some(hsm.clone());
                self.hsm_module = hsm_module.clone();
                self.hsm_library = hsm_library.clone();
                self.rehearsal = *rehearsal;
            }
            Event::KekLoaded {
                kid,
                fingerprint_sha256,
                bits,
                warnings,
                file,
            } => {
                self.kek_file = file.clone();
                self.kid = Some(kid.clone());
                self.kek_fingerprint = Some(fingerprint_sha256.clone());
                self.kek_bits = *bits;
                self.kek_warnings = warnings.clone();
            }
            Event::KeyGenerated {
                kty,
                key_size,
                crv,
                attributes,
                public_key_pem,
                check_value,
            } => {
                self.kty = kty.clone();
                self.key_size = *key_size;
                self.crv = crv.clone();
                self.attributes = Some(attributes.clone());
                self.public_key_pem = public_key_pem.clone();
                self.check_value = check_value.clone();
            }
            Event::Wrapped {
                byok_json,
                byok_sha256,
                method,
                rehearsal_grade,
            } => {
                self.byok_json = Some(byok_json.clone());
                self.byok_sha256 = Some(byok_sha256.clone());
                self.wrap_method = Some(method.clone());
                self.rehearsal_grade = *rehearsal_grade;
                self.wrapped_entry_hash = Some(entry_hash.to_owned());
            }
            _ => {}
        }
    }

    /// The manifest JSON for the exported `.byok`.
    pub fn manifest(&self, script: &CeremonyScript, byok_file: String) -> Result<String, String> {
        let missing = |what: &str| format!("the log holds no {what} yet");
        let manifest = Manifest {
            manifest_version: MANIFEST_VERSION,
            byok_file,
            byok_sha256: self
                .byok_sha256
                .clone()
                .ok_or_else(|| missing("wrapped key"))?,
            kid: self.kid.clone().ok_or_else(|| missing("KEK"))?,
            kty: self.kty.clone(),
            key_size: self.key_size,
            crv: self.crv.clone(),
            public_key_pem: self.public_key_pem.clone(),
            oct_check_value: self.check_value.clone(),
            kek_fingerprint_sha256: self.kek_fingerprint.clone().ok_or_else(|| missing("KEK"))?,
            kek_bits: self.kek_bits,
            tool: ToolIdentity::this(),
            hsm: HsmRecord {
                module: self.hsm_module.clone(),
                library: self.hsm_library.clone(),
                token: self.hsm.clone().ok_or_else(|| missing("HSM identity"))?,
            },
            key_attributes: self
                .attributes
                .clone()
                .ok_or_else(|| missing("generated key"))?,
            wrap: self.wrap_method.clone().ok_or_else(|| missing("wrap"))?,
            rehearsal: self.rehearsal,
            rehearsal_grade_reasons: if self.rehearsal_grade {
                vec!["the token zero-pads before RFC 5649 (known-answer test); the file may carry trailing zero bytes after the key".into()]
            } else {
                Vec::new()
            },
            software_check: None,
            ceremony_id: Some(script.ceremony_id.clone()),
            audit_log_head_sha256: self.wrapped_entry_hash.clone(),
        };
        manifest.to_json().map_err(|e| e.to_string())
    }
}
