//! A test double of AWS KMS on 127.0.0.1 (HTTPS, the test CA) speaking the awsJson1_1 wire
//! format: POST / with X-Amz-Target TrentService.<Operation>, blobs in base64, timestamps in
//! epoch seconds, errors as {"__type", "message"}. It verifies each request's SigV4
//! signature with the test secret key (for the test access key, region and service), holds
//! test wrapping keys (the repository's test KEKs), and on ImportKeyMaterial really unwraps what it receives with the wrapping
//! key's private key (RSA-OAEP with the algorithm's hash, then RFC 5649 for RSA_AES_KEY_WRAP_*)
//! and keeps the key material; GetPublicKey answers with the public key derived from it.
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use byok_ceremony::byok::curve::EcCurve;
use byok_ceremony::byok::verify::{RecoveredKeyKind, classify_plaintext, unwrap_ciphertext_with};
use byok_ceremony::hsm_types::wrap::OaepHash;
use pkcs8::EncodePublicKey;
use serde_json::{Value, json};

use super::fixtures::kek_private;
use super::https::{Answer, Req, Server};

pub const ACCESS_KEY_ID: &str = "AKIDBYOKUPLOADTEST01";
pub const SECRET_ACCESS_KEY: &str = "test-only-secret-access-key";
pub const REGION: &str = "eu-west-1";
pub const ACCOUNT: &str = "111122223333";
const JSON_1_1: &str = "application/x-amz-json-1.1";

pub struct AwsKey {
    pub key_id: String,
    pub origin: String,
    pub key_spec: String,
    pub state: String,
    pub material: Option<Vec<u8>>,
    pub public_spki: Option<Vec<u8>>,
    pub expiration_model: Option<String>,
    pub valid_to: Option<f64>,
}

pub struct Issued {
    pub key_id: String,
    pub token: Vec<u8>,
    pub wrapping: rsa::PrivateKey,
    pub algorithm: String,
    pub valid_to: i64,
}

#[derive(Default)]
pub struct AwsState {
    pub keys: Vec<AwsKey>,
    pub issued: Vec<Issued>,
    /// (operation, HTTP status) of every request.
    pub log: Vec<(String, u16)>,
    /// Answer the next N requests with ThrottlingException.
    pub throttle: u32,
    /// GetPublicKey answers with another key's public key.
    pub wrong_public_key: bool,
    /// Seconds the import parameters are valid (AWS: 24 hours).
    pub lifetime: Option<i64>,
}

impl AwsState {
    pub fn count(&self, operation: &str) -> usize {
        self.log.iter().filter(|(op, _)| op == operation).count()
    }
}

pub struct AwsDouble {
    pub server: Server,
    pub state: Arc<Mutex<AwsState>>,
}

impl AwsDouble {
    pub fn start() -> AwsDouble {
        let state = Arc::new(Mutex::new(AwsState::default()));
        let handler_state = state.clone();
        let server = Server::start(Arc::new(move |req| {
            let mut st = handler_state.lock().expect("state");
            let operation = req
                .header("x-amz-target")
                .and_then(|t| t.strip_prefix("TrentService."))
                .unwrap_or("?")
                .to_owned();
            let answer = handle(&mut st, &operation, &req);
            st.log.push((operation, answer.status));
            answer
        }));
        AwsDouble { server, state }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Adds a KMS key (Origin EXTERNAL or AWS_KMS) and returns its ID.
    pub fn add_key(&self, origin: &str, key_spec: &str) -> String {
        let key_id = uuid_like();
        self.state.lock().expect("state").keys.push(AwsKey {
            key_id: key_id.clone(),
            origin: origin.to_owned(),
            key_spec: key_spec.to_owned(),
            state: if origin == "EXTERNAL" {
                "PendingImport"
            } else {
                "Enabled"
            }
            .to_owned(),
            material: None,
            public_spki: None,
            expiration_model: None,
            valid_to: None,
        });
        key_id
    }

    pub fn arn(key_id: &str) -> String {
        format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}")
    }

    /// The standard chain's environment: static keys, region and KMS endpoint, the test CA.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "SSL_CERT_FILE".into(),
                self.server.ca.root_file.display().to_string(),
            ),
            ("AWS_ACCESS_KEY_ID".into(), ACCESS_KEY_ID.into()),
            ("AWS_SECRET_ACCESS_KEY".into(), SECRET_ACCESS_KEY.into()),
            ("AWS_REGION".into(), REGION.into()),
            ("AWS_ENDPOINT_URL_KMS".into(), self.url()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
            ("AWS_CONFIG_FILE".into(), "/nonexistent/aws-config".into()),
            (
                "AWS_SHARED_CREDENTIALS_FILE".into(),
                "/nonexistent/aws-credentials".into(),
            ),
        ]
    }

    pub fn key_material(&self, key_id: &str) -> Option<Vec<u8>> {
        let st = self.state.lock().expect("state");
        st.keys
            .iter()
            .find(|k| k.key_id == key_id)
            .and_then(|k| k.material.clone())
    }
}

fn uuid_like() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("random");
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn error(code: &str, message: &str) -> Answer {
    Answer::json(400, JSON_1_1, &json!({"__type": code, "message": message}))
}

fn ok(body: Value) -> Answer {
    Answer::json(200, JSON_1_1, &body)
}

fn handle(st: &mut AwsState, operation: &str, req: &Req) -> Answer {
    if req.method != "POST" || req.path != "/" {
        return error("UnknownOperationException", "POST / only");
    }
    if req.header("content-type") != Some(JSON_1_1) {
        return error(
            "SerializationException",
            "Content-Type must be application/x-amz-json-1.1",
        );
    }
    if !sigv4_valid(req) {
        return error(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        );
    }
    if st.throttle > 0 {
        st.throttle -= 1;
        return error("ThrottlingException", "Rate exceeded");
    }
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return error("SerializationException", "not JSON");
    };
    let key_ref = body["KeyId"].as_str().unwrap_or_default().to_owned();
    let Some(index) = st
        .keys
        .iter()
        .position(|k| k.key_id == key_ref || AwsDouble::arn(&k.key_id) == key_ref)
    else {
        return error(
            "NotFoundException",
            &format!("Key '{key_ref}' does not exist"),
        );
    };
    match operation {
        "DescribeKey" => ok(json!({"KeyMetadata": metadata(&st.keys[index])})),
        "GetParametersForImport" => parameters(st, index, &body),
        "ImportKeyMaterial" => import(st, index, &body),
        "GetPublicKey" => public_key(st, index),
        _ => error("UnknownOperationException", operation),
    }
}

/// Verifies the request's SigV4 signature with the test secret key: the canonical request
/// (method, path, empty query, the signed headers, the body's SHA-256), the string to sign with
/// the credential scope, and the HMAC-SHA256 key chain.
fn sigv4_valid(req: &Req) -> bool {
    use hmac::{Hmac, KeyInit, Mac};
    use sha2::{Digest, Sha256};
    let hmac = |key: &[u8], data: &[u8]| -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    };
    let Some(auth) = req.header("authorization") else {
        return false;
    };
    let Some(rest) = auth.strip_prefix("AWS4-HMAC-SHA256 ") else {
        return false;
    };
    let field = |name: &str| {
        rest.split(", ")
            .find_map(|part| part.strip_prefix(name))
            .map(str::to_owned)
    };
    let (Some(credential), Some(signed_headers), Some(signature)) = (
        field("Credential="),
        field("SignedHeaders="),
        field("Signature="),
    ) else {
        return false;
    };
    let Some(amz_date) = req.header("x-amz-date") else {
        return false;
    };
    let parts: Vec<&str> = credential.split('/').collect();
    let [key_id, date, region, service, "aws4_request"] = parts.as_slice() else {
        return false;
    };
    if *key_id != ACCESS_KEY_ID || *region != REGION || *service != "kms" {
        return false;
    }
    let mut canonical_headers = String::new();
    for name in signed_headers.split(';') {
        let Some(value) = req.header(name) else {
            return false;
        };
        canonical_headers.push_str(&format!("{name}:{}\n", value.trim()));
    }
    let canonical_request = format!(
        "{}\n{}\n\n{canonical_headers}\n{signed_headers}\n{}",
        req.method,
        req.path,
        hex::encode(Sha256::digest(&req.body))
    );
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let mut key = hmac(
        format!("AWS4{SECRET_ACCESS_KEY}").as_bytes(),
        date.as_bytes(),
    );
    for part in [*region, *service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    hex::encode(hmac(&key, to_sign.as_bytes())) == signature
}

fn usage(key_spec: &str) -> &'static str {
    match key_spec {
        "SYMMETRIC_DEFAULT" => "ENCRYPT_DECRYPT",
        _ => "SIGN_VERIFY",
    }
}

fn metadata(key: &AwsKey) -> Value {
    let mut m = json!({
        "AWSAccountId": ACCOUNT,
        "KeyId": key.key_id,
        "Arn": AwsDouble::arn(&key.key_id),
        "CreationDate": 1.7e9,
        "Enabled": key.state == "Enabled",
        "Description": "",
        "KeyUsage": usage(&key.key_spec),
        "KeyState": key.state,
        "Origin": key.origin,
        "KeyManager": "CUSTOMER",
        "CustomerMasterKeySpec": key.key_spec,
        "KeySpec": key.key_spec,
        "MultiRegion": false,
    });
    if let Some(model) = &key.expiration_model {
        m["ExpirationModel"] = json!(model);
    }
    if let Some(valid_to) = key.valid_to {
        m["ValidTo"] = json!(valid_to);
    }
    m
}

fn parameters(st: &mut AwsState, index: usize, body: &Value) -> Answer {
    let key = &st.keys[index];
    if key.origin != "EXTERNAL" {
        return error(
            "UnsupportedOperationException",
            "GetParametersForImport is valid only for keys with Origin EXTERNAL",
        );
    }
    let algorithm = body["WrappingAlgorithm"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if !matches!(
        algorithm.as_str(),
        "RSA_AES_KEY_WRAP_SHA_256"
            | "RSA_AES_KEY_WRAP_SHA_1"
            | "RSAES_OAEP_SHA_256"
            | "RSAES_OAEP_SHA_1"
    ) {
        return error("ValidationException", "unsupported WrappingAlgorithm");
    }
    let wrapping = match body["WrappingKeySpec"].as_str() {
        Some("RSA_2048") => kek_private(2048),
        Some("RSA_3072") => kek_private(3072),
        _ => {
            return error(
                "ValidationException",
                "the double has RSA_2048 and RSA_3072 only",
            );
        }
    };
    let mut token = vec![0u8; 96];
    getrandom::fill(&mut token).expect("random");
    let valid_to = now() + st.lifetime.unwrap_or(24 * 3600);
    let public = wrapping
        .to_public_key()
        .to_public_key_der()
        .expect("spki")
        .into_vec();
    let key_id = key.key_id.clone();
    st.issued.push(Issued {
        key_id: key_id.clone(),
        token: token.clone(),
        wrapping,
        algorithm,
        valid_to,
    });
    ok(json!({
        "KeyId": AwsDouble::arn(&key_id),
        "ImportToken": STANDARD.encode(&token),
        "PublicKey": STANDARD.encode(&public),
        "ParametersValidTo": valid_to as f64,
    }))
}

fn spec_of(plaintext: &[u8]) -> Result<(String, Option<Vec<u8>>), String> {
    let recovered = classify_plaintext(plaintext).map_err(|e| e.to_string())?;
    if recovered.trailing_zero_bytes > 0 {
        return Err("trailing bytes after the key".to_owned());
    }
    let spec = match recovered.kind {
        RecoveredKeyKind::Oct { bits: 256 } => "SYMMETRIC_DEFAULT".to_owned(),
        RecoveredKeyKind::Oct { bits } => format!("AES_{bits}"),
        RecoveredKeyKind::Rsa { bits } => format!("RSA_{bits}"),
        RecoveredKeyKind::Ec { curve } => match curve {
            EcCurve::P256 => "ECC_NIST_P256",
            EcCurve::P384 => "ECC_NIST_P384",
            EcCurve::P521 => "ECC_NIST_P521",
            EcCurve::P256K => "ECC_SECG_P256K1",
        }
        .to_owned(),
    };
    Ok((spec, recovered.public_spki_der))
}

fn import(st: &mut AwsState, index: usize, body: &Value) -> Answer {
    let decode = |field: &str| body[field].as_str().and_then(|s| STANDARD.decode(s).ok());
    let (Some(token), Some(material)) = (decode("ImportToken"), decode("EncryptedKeyMaterial"))
    else {
        return error(
            "ValidationException",
            "ImportToken and EncryptedKeyMaterial are required",
        );
    };
    let key_id = st.keys[index].key_id.clone();
    let Some(issued) = st.issued.iter().find(|i| i.token == token) else {
        return error("InvalidImportTokenException", "The import token is invalid");
    };
    if issued.key_id != key_id {
        return error(
            "InvalidImportTokenException",
            "The import token is for another key",
        );
    }
    if issued.valid_to <= now() {
        return error(
            "ExpiredImportTokenException",
            "The import token has expired",
        );
    }
    let model = body["ExpirationModel"]
        .as_str()
        .unwrap_or("KEY_MATERIAL_EXPIRES")
        .to_owned();
    let valid_to = body["ValidTo"].as_f64();
    match (model.as_str(), valid_to) {
        ("KEY_MATERIAL_DOES_NOT_EXPIRE", None) => {}
        ("KEY_MATERIAL_EXPIRES", Some(t))
            if t > now() as f64 && t <= (now() + 365 * 86400) as f64 => {}
        _ => {
            return error(
                "ValidationException",
                "ExpirationModel and ValidTo do not agree",
            );
        }
    }
    let hash = if issued.algorithm.ends_with("SHA_256") {
        OaepHash::Sha256
    } else {
        OaepHash::Sha1
    };
    let plaintext = if issued.algorithm.starts_with("RSA_AES_KEY_WRAP") {
        unwrap_ciphertext_with(&material, &issued.wrapping, hash)
            .map(|p| p.to_vec())
            .ok()
    } else {
        match hash {
            OaepHash::Sha1 => issued.wrapping.oaep_decrypt::<sha1::Sha1>(&material),
            OaepHash::Sha256 => issued.wrapping.oaep_decrypt::<sha2::Sha256>(&material),
        }
        .ok()
    };
    let Some(plaintext) = plaintext else {
        return error("InvalidCiphertextException", "The ciphertext is invalid");
    };
    let key = &mut st.keys[index];
    let (spec, public) = match spec_of(&plaintext) {
        Ok(found) => found,
        Err(reason) => return error("IncorrectKeyMaterialException", &reason),
    };
    if spec != key.key_spec {
        return error(
            "IncorrectKeyMaterialException",
            &format!("The key material is {spec}, the key is {}", key.key_spec),
        );
    }
    if key.material.as_ref().is_some_and(|m| m != &plaintext) {
        return error(
            "IncorrectKeyMaterialException",
            "The key material does not match the key's",
        );
    }
    key.material = Some(plaintext);
    key.public_spki = public;
    key.state = "Enabled".to_owned();
    key.expiration_model = Some(model);
    key.valid_to = valid_to;
    ok(json!({"KeyId": AwsDouble::arn(&key_id)}))
}

fn public_key(st: &AwsState, index: usize) -> Answer {
    let key = &st.keys[index];
    let Some(spki) = &key.public_spki else {
        return error("UnsupportedOperationException", "the key has no public key");
    };
    let spki = if st.wrong_public_key {
        kek_private(2048)
            .to_public_key()
            .to_public_key_der()
            .expect("spki")
            .into_vec()
    } else {
        spki.clone()
    };
    ok(json!({
        "KeyId": AwsDouble::arn(&key.key_id),
        "PublicKey": STANDARD.encode(spki),
        "KeySpec": key.key_spec,
        "CustomerMasterKeySpec": key.key_spec,
        "KeyUsage": usage(&key.key_spec),
    }))
}
