//! A test double of Google Cloud KMS on 127.0.0.1 (HTTPS, the test CA) speaking the REST
//! JSON of v1 (importJobs get/create, cryptoKeys get, cryptoKeyVersions:import and get,
//! publicKey), and of Google's OAuth token endpoint for an `authorized_user` Application
//! Default Credentials file. On import it really unwraps the wrapped key with the import
//! job's private key (the repository's test KEKs; RSA-OAEP with the method's hash, then RFC
//! 5649 for the *_AES_256 methods), keeps the key material, and answers getPublicKey with the
//! public key derived from it. A failed unwrap ends in IMPORT_FAILED, as Cloud KMS does.
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use byok_ceremony::byok::curve::EcCurve;
use byok_ceremony::byok::verify::{RecoveredKeyKind, classify_plaintext, unwrap_ciphertext_with};
use byok_ceremony::hsm_types::wrap::OaepHash;
use google_cloud_kms_v1::model::ProtectionLevel;
use google_cloud_kms_v1::model::crypto_key_version::CryptoKeyVersionAlgorithm;
use google_cloud_kms_v1::model::import_job::ImportMethod;
use pkcs8::EncodePublicKey;
use serde_json::{Value, json};

use super::fixtures::kek_private;
use super::https::{Answer, Req, Server};

pub const PROJECT_RING: &str = "projects/byok-test/locations/europe-west1/keyRings/ceremony";
pub const CLIENT_ID: &str = "byok-upload-test.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "test-only-client-secret";
pub const REFRESH_TOKEN: &str = "test-only-refresh-token";
const JSON: &str = "application/json; charset=UTF-8";

pub struct GcpJob {
    pub name: String,
    pub method: String,
    pub protection: String,
    pub state: String,
    pub create: i64,
    pub expire: i64,
    pub private: rsa::PrivateKey,
    /// GETs that still answer PENDING_GENERATION.
    pub pending_gets: u32,
}

pub struct GcpVersion {
    pub name: String,
    pub algorithm: String,
    pub import_job: String,
    pub final_state: String,
    pub failure: String,
    pub material: Option<Vec<u8>>,
    pub public_spki: Option<Vec<u8>>,
    pub pending_gets: u32,
}

pub struct GcpKey {
    pub name: String,
    pub purpose: String,
    pub protection: String,
    pub import_only: bool,
    pub versions: Vec<GcpVersion>,
}

#[derive(Default)]
pub struct GcpState {
    pub jobs: Vec<GcpJob>,
    pub keys: Vec<GcpKey>,
    tokens: Vec<String>,
    /// (method, path, status) of every request.
    pub log: Vec<(String, String, u16)>,
    /// Answer the next N KMS requests with 429 RESOURCE_EXHAUSTED.
    pub throttle: u32,
    /// getPublicKey answers with another key.
    pub wrong_public_key: bool,
    /// Apply the next N imports but answer 503 UNAVAILABLE, as a connection lost after the
    /// service acted would look.
    pub unavailable_after_import: u32,
}

impl GcpState {
    pub fn count(&self, method: &str, suffix: &str) -> usize {
        self.log
            .iter()
            .filter(|(m, p, _)| m == method && p.ends_with(suffix))
            .count()
    }
}

pub struct GcpDouble {
    pub server: Server,
    pub state: Arc<Mutex<GcpState>>,
    adc: tempfile::TempDir,
}

impl GcpDouble {
    pub fn start() -> GcpDouble {
        let state = Arc::new(Mutex::new(GcpState::default()));
        let handler_state = state.clone();
        let server = Server::start(Arc::new(move |req| {
            let mut st = handler_state.lock().expect("state");
            let answer = handle(&mut st, &req);
            st.log
                .push((req.method.clone(), req.path.clone(), answer.status));
            answer
        }));
        let adc = tempfile::tempdir().expect("dir");
        let file = json!({
            "type": "authorized_user",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": REFRESH_TOKEN,
            "token_uri": format!("{}/token", server.url()),
        });
        std::fs::write(adc.path().join("adc.json"), file.to_string()).expect("write ADC");
        GcpDouble { server, state, adc }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Application Default Credentials from a file, and the test CA.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "SSL_CERT_FILE".into(),
                self.server.ca.root_file.display().to_string(),
            ),
            (
                "GOOGLE_APPLICATION_CREDENTIALS".into(),
                self.adc.path().join("adc.json").display().to_string(),
            ),
        ]
    }

    /// Adds an import job with the test KEK of the method's size and returns its name.
    pub fn add_job(&self, id: &str, method: &str, state: &str, protection: &str) -> String {
        let name = format!("{PROJECT_RING}/importJobs/{id}");
        let bits = if method.contains("4096") { 4096 } else { 3072 };
        let t = now();
        self.state.lock().expect("state").jobs.push(GcpJob {
            name: name.clone(),
            method: method.to_owned(),
            protection: protection.to_owned(),
            state: state.to_owned(),
            create: t,
            expire: t + 3 * 86400,
            private: private_for(bits),
            pending_gets: 0,
        });
        name
    }

    /// Adds an import-only crypto key and returns its name.
    pub fn add_key(&self, id: &str, purpose: &str, protection: &str) -> String {
        let name = format!("{PROJECT_RING}/cryptoKeys/{id}");
        self.state.lock().expect("state").keys.push(GcpKey {
            name: name.clone(),
            purpose: purpose.to_owned(),
            protection: protection.to_owned(),
            import_only: true,
            versions: Vec::new(),
        });
        name
    }

    /// The key material of a version, as the double recovered it.
    pub fn material(&self, version: &str) -> Option<Vec<u8>> {
        let st = self.state.lock().expect("state");
        st.keys
            .iter()
            .flat_map(|k| &k.versions)
            .find(|v| v.name == version)
            .and_then(|v| v.material.clone())
    }

    /// The public key PEM of a job, as the ceremony would wrap for.
    pub fn job_public(&self, name: &str) -> rsa::PublicKey {
        let st = self.state.lock().expect("state");
        st.jobs
            .iter()
            .find(|j| j.name == name)
            .expect("job")
            .private
            .to_public_key()
    }
}

/// The test KEK of this size (the double has no 4096-bit test key: it uses 3072 and says so
/// through the job's size check in byok-upload, which the tests exercise).
fn private_for(bits: usize) -> rsa::PrivateKey {
    kek_private(if bits == 4096 { 3072 } else { bits })
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn time(seconds: i64) -> String {
    // RFC 3339 UTC without a dependency: days from the civil calendar.
    let days = seconds.div_euclid(86400);
    let secs = seconds.rem_euclid(86400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// An enum field as its name: proto3 JSON allows the name or the number (the Rust SDK sends
/// numbers), and Cloud KMS accepts both.
fn enum_name<E: From<i32>>(value: &Value, name: impl Fn(&E) -> Option<&str>) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => {
            let e = E::from(n.as_i64().unwrap_or(0) as i32);
            name(&e).unwrap_or_default().to_owned()
        }
        _ => String::new(),
    }
}

fn error(status: u16, code: &str, message: &str) -> Answer {
    Answer::json(
        status,
        JSON,
        &json!({"error": {"code": status, "message": message, "status": code}}),
    )
}

fn ok(body: Value) -> Answer {
    Answer::json(200, JSON, &body)
}

fn handle(st: &mut GcpState, req: &Req) -> Answer {
    if req.method == "POST" && req.path == "/token" {
        return token(st, req);
    }
    let authorized = req
        .header("authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .is_some_and(|t| st.tokens.iter().any(|k| k == t));
    if !authorized {
        return error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        );
    }
    if st.throttle > 0 {
        st.throttle -= 1;
        return error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.");
    }
    let Some(path) = req.path.strip_prefix("/v1/") else {
        return error(404, "NOT_FOUND", "unknown path");
    };
    let path = path.to_owned();
    match req.method.as_str() {
        "POST" if path.ends_with("/cryptoKeyVersions:import") => import(
            st,
            path.trim_end_matches("/cryptoKeyVersions:import"),
            &req.body,
        ),
        "POST" if path.ends_with("/importJobs") => {
            create_job(st, path.trim_end_matches("/importJobs"), req)
        }
        "GET" if path.ends_with("/publicKey") => {
            public_key(st, path.trim_end_matches("/publicKey"))
        }
        "GET" if path.contains("/cryptoKeyVersions/") => version(st, &path),
        "GET" if path.contains("/importJobs/") => job(st, &path),
        "GET" if path.contains("/cryptoKeys/") => key(st, &path),
        _ => error(404, "NOT_FOUND", "no such operation in the test double"),
    }
}

fn token(st: &mut GcpState, req: &Req) -> Answer {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let good = body["grant_type"] == "refresh_token"
        && body["client_id"] == CLIENT_ID
        && body["client_secret"] == CLIENT_SECRET
        && body["refresh_token"] == REFRESH_TOKEN;
    if !good {
        return Answer::json(
            400,
            JSON,
            &json!({"error": "invalid_grant", "error_description": "Bad Request"}),
        );
    }
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("random");
    let token = format!("ya29.test-{}", hex::encode(bytes));
    st.tokens.push(token.clone());
    ok(
        json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer",
              "scope": "https://www.googleapis.com/auth/cloud-platform"}),
    )
}

fn job_json(job: &GcpJob) -> Value {
    let state = if job.pending_gets > 0 {
        "PENDING_GENERATION"
    } else {
        job.state.as_str()
    };
    let mut value = json!({
        "name": job.name,
        "importMethod": job.method,
        "protectionLevel": job.protection,
        "createTime": time(job.create),
        "expireTime": time(job.expire),
        "state": state,
    });
    if state == "ACTIVE" {
        let pem = job
            .private
            .to_public_key()
            .to_public_key_pem(pkcs8::LineEnding::LF)
            .expect("pem");
        value["generateTime"] = json!(time(job.create));
        value["publicKey"] = json!({"pem": pem});
    }
    if state == "EXPIRED" {
        value["expireEventTime"] = json!(time(job.expire));
    }
    value
}

fn job(st: &mut GcpState, name: &str) -> Answer {
    match st.jobs.iter_mut().find(|j| j.name == name) {
        Some(job) => {
            let answer = ok(job_json(job));
            job.pending_gets = job.pending_gets.saturating_sub(1);
            answer
        }
        None => error(404, "NOT_FOUND", &format!("ImportJob {name} not found.")),
    }
}

fn create_job(st: &mut GcpState, parent: &str, req: &Req) -> Answer {
    let Some(id) = req.query_value("importJobId") else {
        return error(400, "INVALID_ARGUMENT", "importJobId is required");
    };
    let name = format!("{parent}/importJobs/{id}");
    if st.jobs.iter().any(|j| j.name == name) {
        return error(409, "ALREADY_EXISTS", "ImportJob already exists.");
    }
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let method = enum_name::<ImportMethod>(&body["importMethod"], |e| e.name());
    let protection = enum_name::<ProtectionLevel>(&body["protectionLevel"], |e| e.name());
    if !method.starts_with("RSA_OAEP_") || !matches!(protection.as_str(), "HSM" | "SOFTWARE") {
        return error(
            400,
            "INVALID_ARGUMENT",
            "importMethod and protectionLevel are required",
        );
    }
    let bits = if method.contains("4096") { 4096 } else { 3072 };
    let t = now();
    let job = GcpJob {
        name,
        method,
        protection,
        state: "ACTIVE".to_owned(),
        create: t,
        expire: t + 3 * 86400,
        private: private_for(bits),
        pending_gets: 1,
    };
    let answer = ok(job_json(&job));
    st.jobs.push(job);
    answer
}

fn key(st: &GcpState, name: &str) -> Answer {
    match st.keys.iter().find(|k| k.name == name) {
        Some(k) => ok(json!({
            "name": k.name,
            "purpose": k.purpose,
            "createTime": time(now()),
            "versionTemplate": {"protectionLevel": k.protection, "algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION"},
            "importOnly": k.import_only,
            "destroyScheduledDuration": "2592000s",
        })),
        None => error(404, "NOT_FOUND", &format!("CryptoKey {name} not found.")),
    }
}

fn version_json(v: &GcpVersion, state: &str) -> Value {
    let mut value = json!({
        "name": v.name,
        "state": state,
        "protectionLevel": "HSM",
        "algorithm": v.algorithm,
        "createTime": time(now()),
        "importJob": v.import_job,
    });
    if state == "ENABLED" {
        value["importTime"] = json!(time(now()));
    }
    if state == "IMPORT_FAILED" {
        value["importFailureReason"] = json!(v.failure);
    }
    value
}

fn version(st: &mut GcpState, name: &str) -> Answer {
    let found = st
        .keys
        .iter_mut()
        .flat_map(|k| k.versions.iter_mut())
        .find(|v| v.name == name);
    match found {
        Some(v) if v.pending_gets > 0 => {
            v.pending_gets -= 1;
            ok(version_json(v, "PENDING_IMPORT"))
        }
        Some(v) => ok(version_json(v, &v.final_state.clone())),
        None => error(
            404,
            "NOT_FOUND",
            &format!("CryptoKeyVersion {name} not found."),
        ),
    }
}

fn purpose_of(algorithm: &str) -> Option<&'static str> {
    Some(match algorithm {
        "GOOGLE_SYMMETRIC_ENCRYPTION" => "ENCRYPT_DECRYPT",
        a if a.starts_with("AES_") => "RAW_ENCRYPTION",
        a if a.starts_with("RSA_SIGN_") || a.starts_with("EC_SIGN_") => "ASYMMETRIC_SIGN",
        a if a.starts_with("RSA_DECRYPT_") => "ASYMMETRIC_DECRYPT",
        _ => return None,
    })
}

/// Whether the recovered key is what the algorithm names.
fn fits(algorithm: &str, kind: &RecoveredKeyKind) -> bool {
    match kind {
        RecoveredKeyKind::Oct { bits } => {
            (algorithm == "GOOGLE_SYMMETRIC_ENCRYPTION" && *bits == 256)
                || algorithm.starts_with(&format!("AES_{bits}_"))
        }
        RecoveredKeyKind::Rsa { bits } => {
            algorithm.starts_with("RSA_") && algorithm.contains(&format!("_{bits}"))
        }
        RecoveredKeyKind::Ec { curve } => matches!(
            (curve, algorithm),
            (EcCurve::P256, "EC_SIGN_P256_SHA256")
                | (EcCurve::P384, "EC_SIGN_P384_SHA384")
                | (EcCurve::P256K, "EC_SIGN_SECP256K1_SHA256")
        ),
    }
}

fn import(st: &mut GcpState, parent: &str, body: &[u8]) -> Answer {
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return error(400, "INVALID_ARGUMENT", "not JSON");
    };
    let algorithm = enum_name::<CryptoKeyVersionAlgorithm>(&body["algorithm"], |e| e.name());
    let job_name = body["importJob"].as_str().unwrap_or_default().to_owned();
    let wrapped = body["wrappedKey"]
        .as_str()
        .and_then(|s| STANDARD.decode(s).or_else(|_| URL_SAFE.decode(s)).ok());
    let Some(wrapped) = wrapped else {
        return error(400, "INVALID_ARGUMENT", "wrappedKey is required");
    };
    let Some(job) = st.jobs.iter().find(|j| j.name == job_name) else {
        return error(
            404,
            "NOT_FOUND",
            &format!("ImportJob {job_name} not found."),
        );
    };
    if job.state != "ACTIVE" || job.expire <= now() {
        return error(400, "FAILED_PRECONDITION", "The ImportJob is not ACTIVE.");
    }
    let Some(key_index) = st.keys.iter().position(|k| k.name == parent) else {
        return error(404, "NOT_FOUND", &format!("CryptoKey {parent} not found."));
    };
    let key = &st.keys[key_index];
    if key.protection != job.protection {
        return error(
            400,
            "FAILED_PRECONDITION",
            "The ImportJob's protection level does not match the CryptoKey's.",
        );
    }
    if purpose_of(&algorithm) != Some(key.purpose.as_str()) {
        return error(
            400,
            "INVALID_ARGUMENT",
            "The algorithm is not valid for the CryptoKey's purpose.",
        );
    }
    let hash = if job.method.contains("SHA256") {
        OaepHash::Sha256
    } else {
        OaepHash::Sha1
    };
    let unwrapped = if job.method.ends_with("_AES_256") {
        unwrap_ciphertext_with(&wrapped, &job.private, hash)
            .map(|p| p.to_vec())
            .ok()
    } else {
        job.private.oaep_decrypt::<sha2::Sha256>(&wrapped).ok()
    };
    let outcome = match unwrapped {
        None => Err("Failed to unwrap the wrapped key with the ImportJob's key.".to_owned()),
        Some(plaintext) => match classify_plaintext(&plaintext) {
            Ok(r) if r.trailing_zero_bytes == 0 && fits(&algorithm, &r.kind) => {
                Ok((plaintext, r.public_spki_der))
            }
            Ok(_) => Err("The key material does not match the algorithm.".to_owned()),
            Err(_) => Err("The key material is not a valid key.".to_owned()),
        },
    };
    let key = &mut st.keys[key_index];
    let name = format!("{}/cryptoKeyVersions/{}", key.name, key.versions.len() + 1);
    let (final_state, failure, material, public_spki) = match outcome {
        Ok((m, p)) => ("ENABLED", String::new(), Some(m), p),
        Err(reason) => ("IMPORT_FAILED", reason, None, None),
    };
    let version = GcpVersion {
        name,
        algorithm,
        import_job: job_name,
        final_state: final_state.to_owned(),
        failure,
        material,
        public_spki,
        pending_gets: 1,
    };
    let answer = ok(version_json(&version, "PENDING_IMPORT"));
    key.versions.push(version);
    if st.unavailable_after_import > 0 {
        st.unavailable_after_import -= 1;
        return error(503, "UNAVAILABLE", "The service is currently unavailable.");
    }
    answer
}

fn public_key(st: &GcpState, name: &str) -> Answer {
    let Some(v) = st
        .keys
        .iter()
        .flat_map(|k| &k.versions)
        .find(|v| v.name == name)
    else {
        return error(
            404,
            "NOT_FOUND",
            &format!("CryptoKeyVersion {name} not found."),
        );
    };
    let Some(spki) = &v.public_spki else {
        return error(
            400,
            "FAILED_PRECONDITION",
            "The key version has no public key.",
        );
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
    let pem = der::pem::encode_string("PUBLIC KEY", der::pem::LineEnding::LF, &spki).expect("pem");
    ok(json!({
        "pem": pem,
        "algorithm": v.algorithm,
        "name": v.name,
        "protectionLevel": "HSM",
    }))
}
