//! Facts gathered from the event stream (live or replayed) that the outputs are made of: the
//! manifest can be rebuilt from the log alone, so a resumed ceremony exports the very same
//! files.
use std::collections::BTreeMap;

use crate::ceremony::machine::Event;
use crate::ceremony::script::CeremonyScript;
use crate::cloud::Cloud;
use crate::hsm_types::key::KeyAttributes;
use crate::hsm_types::token::TokenIdentity;
use crate::hsm_types::wrap::WrapMethod;
use crate::manifest::{HsmRecord, MANIFEST_VERSION, Manifest, OutputRecord, ToolIdentity};

/// What the log says of one target: its KEK and, once wrapped, its output.
#[derive(Debug, Default, Clone)]
pub struct TargetFacts {
    /// Azure: the KEK's kid; Google Cloud: the import job; AWS: the key.
    pub kid: String,
    pub kek_fingerprint: String,
    pub kek_bits: usize,
    /// Set once wrapped: the cloud's algorithm name, the file, its bytes and SHA-256 (hex).
    pub algorithm: Option<String>,
    pub file: Option<String>,
    pub bytes: Option<Vec<u8>>,
    pub sha256: Option<String>,
    /// AWS: the import token that goes with the material.
    pub import_token: Option<Vec<u8>>,
    pub method: Option<WrapMethod>,
}

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
    /// Hash of the log entry that recorded the (last) wrap: the manifest's audit log head.
    pub wrapped_entry_hash: Option<String>,
    /// Per cloud, when the script lists targets (a `[kek]` script's Azure target too).
    pub targets: BTreeMap<Cloud, TargetFacts>,
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
                target,
            } => {
                let t = self
                    .targets
                    .entry(target.unwrap_or(Cloud::Azure))
                    .or_default();
                t.kid = kid.clone();
                t.kek_fingerprint = fingerprint_sha256.clone();
                t.kek_bits = *bits;
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
                target: _,
            } => {
                let t = self.targets.entry(Cloud::Azure).or_default();
                t.algorithm = Some("CKM_RSA_AES_KEY_WRAP".into());
                t.bytes = Some(byok_json.as_bytes().to_vec());
                t.sha256 = Some(byok_sha256.clone());
                t.method = Some(method.clone());
                self.byok_json = Some(byok_json.clone());
                self.byok_sha256 = Some(byok_sha256.clone());
                if self.wrap_method.is_none() {
                    self.wrap_method = Some(method.clone());
                }
                self.rehearsal_grade |= *rehearsal_grade;
                self.wrapped_entry_hash = Some(entry_hash.to_owned());
            }
            Event::TargetWrapped {
                target,
                algorithm,
                file,
                wrapped_b64,
                sha256,
                method,
                rehearsal_grade,
                import_token_b64,
                ..
            } => {
                use base64::Engine as _;
                let b64 = base64::engine::general_purpose::STANDARD;
                let t = self.targets.entry(*target).or_default();
                t.algorithm = Some(algorithm.clone());
                t.file = Some(file.clone());
                t.bytes = b64.decode(wrapped_b64).ok();
                t.sha256 = Some(sha256.clone());
                t.import_token = import_token_b64.as_ref().and_then(|b| b64.decode(b).ok());
                t.method = Some(method.clone());
                if self.wrap_method.is_none() {
                    self.wrap_method = Some(method.clone());
                }
                self.rehearsal_grade |= *rehearsal_grade;
                self.wrapped_entry_hash = Some(entry_hash.to_owned());
            }
            _ => {}
        }
    }

    /// The files of a wrapped target, in export order: the wrapped key (Azure: the `.byok`),
    /// then AWS's import token.
    pub fn target_files(&self, script: &CeremonyScript) -> Result<Vec<(String, Vec<u8>)>, String> {
        let name = &script.output_name;
        let mut files = Vec::new();
        for target in &script.targets {
            let t = self
                .targets
                .get(&target.cloud)
                .and_then(|t| t.bytes.as_ref().map(|b| (t, b)));
            let Some((t, bytes)) = t else {
                return Err(format!(
                    "the log holds no wrapped key for {}",
                    target.cloud.title()
                ));
            };
            files.push((target.output_file(name), bytes.clone()));
            if let (Some(file), Some(token)) = (target.token_file(name), &t.import_token) {
                files.push((file, token.clone()));
            }
        }
        Ok(files)
    }

    /// The manifest JSON: the key, the HSM, the wrap, and one `outputs` entry per file written
    /// for a cloud.
    pub fn manifest(&self, script: &CeremonyScript) -> Result<String, String> {
        let missing = |what: &str| format!("the log holds no {what} yet");
        let name = &script.output_name;
        let mut outputs = Vec::new();
        for target in &script.targets {
            let t = self
                .targets
                .get(&target.cloud)
                .ok_or_else(|| missing("KEK"))?;
            let file = target.output_file(name);
            let sha256 = t.sha256.clone().ok_or_else(|| missing("wrapped key"))?;
            outputs.push(OutputRecord {
                cloud: target.cloud,
                file,
                sha256,
                algorithm: target.algorithm.name.to_owned(),
                oaep_hash: target.algorithm.oaep,
                kek_fingerprint_sha256: t.kek_fingerprint.clone(),
                destination: t.kid.clone(),
                wrap: t
                    .method
                    .as_ref()
                    .map(|m| m.name().to_owned())
                    .unwrap_or_default(),
                import_token_file: target.token_file(name),
                import_token_sha256: t.import_token.as_ref().map(|b| {
                    use sha2::Digest as _;
                    hex::encode(sha2::Sha256::digest(b))
                }),
            });
        }
        let first = script
            .targets
            .first()
            .and_then(|t| self.targets.get(&t.cloud))
            .ok_or_else(|| missing("KEK"))?;
        let azure = script.azure().and_then(|_| self.targets.get(&Cloud::Azure));
        let manifest = Manifest {
            manifest_version: MANIFEST_VERSION,
            byok_file: azure.map(|_| format!("{name}.byok")),
            byok_sha256: match azure {
                Some(a) => Some(a.sha256.clone().ok_or_else(|| missing("wrapped key"))?),
                None => None,
            },
            kid: azure.map(|a| a.kid.clone()),
            kty: self.kty.clone(),
            key_size: self.key_size,
            crv: self.crv.clone(),
            public_key_pem: self.public_key_pem.clone(),
            oct_check_value: self.check_value.clone(),
            kek_fingerprint_sha256: first.kek_fingerprint.clone(),
            kek_bits: first.kek_bits,
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
            outputs,
        };
        manifest.to_json().map_err(|e| e.to_string())
    }
}
