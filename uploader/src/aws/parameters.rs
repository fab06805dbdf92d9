//! `KEY.import-parameters.json`: what `aws fetch-kek` received with the wrapping key and the
//! import token, so the ceremony script and `aws import` know which key, algorithm and size
//! they belong to and until when the set is valid. Our own file: parsed strictly.
use serde::{Deserialize, Serialize};

pub const FORMAT: &str = "byok-upload aws import parameters v1";

/// The JSON beside the wrapping key and the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportParameters {
    pub format: String,
    /// The key's ARN, as KMS returned it.
    pub key_arn: String,
    /// The key's ID (a UUID, or mrk-... for a multi-Region key).
    pub key_id: String,
    pub region: String,
    /// The KMS key spec (SYMMETRIC_DEFAULT, RSA_3072, ECC_NIST_P256, ...).
    pub key_spec: String,
    pub wrapping_algorithm: String,
    pub wrapping_key_spec: String,
    /// ParametersValidTo, RFC 3339 UTC: AWS refuses the token after it (24 hours).
    pub parameters_valid_to: String,
    /// SHA-256 of the wrapping key's SubjectPublicKeyInfo DER (= the manifest's KEK fingerprint).
    pub wrapping_key_sha256: String,
    /// SHA-256 of the import token file: ties the token to this set.
    pub import_token_sha256: String,
    pub wrapping_key_file: String,
    pub import_token_file: String,
}

impl ImportParameters {
    pub fn to_json(&self) -> Vec<u8> {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text.into_bytes()
    }

    pub fn parse(bytes: &[u8]) -> Result<ImportParameters, String> {
        let parsed: ImportParameters = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if parsed.format != FORMAT {
            return Err(format!("format {:?} is not {FORMAT:?}", parsed.format));
        }
        Ok(parsed)
    }
}

/// The three output names for a key ID.
pub fn output_names(key_id: &str) -> [String; 3] {
    [
        format!("{key_id}.wrapping-key.der"),
        format!("{key_id}.import-token.bin"),
        format!("{key_id}.import-parameters.json"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_round_trip() {
        let p = ImportParameters {
            format: FORMAT.to_owned(),
            key_arn: "arn:aws:kms:eu-west-1:111122223333:key/k".to_owned(),
            key_id: "k".to_owned(),
            region: "eu-west-1".to_owned(),
            key_spec: "RSA_2048".to_owned(),
            wrapping_algorithm: "RSA_AES_KEY_WRAP_SHA_256".to_owned(),
            wrapping_key_spec: "RSA_3072".to_owned(),
            parameters_valid_to: "2030-01-01T00:00:00Z".to_owned(),
            wrapping_key_sha256: "00".repeat(32),
            import_token_sha256: "11".repeat(32),
            wrapping_key_file: "k.wrapping-key.der".to_owned(),
            import_token_file: "k.import-token.bin".to_owned(),
        };
        assert_eq!(ImportParameters::parse(&p.to_json()), Ok(p.clone()));
        let mut value: serde_json::Value = serde_json::from_slice(&p.to_json()).expect("json");
        value["extra"] = serde_json::json!(1);
        assert!(ImportParameters::parse(value.to_string().as_bytes()).is_err());
    }
}
