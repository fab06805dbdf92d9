//! A local HTTPS test double of Key Vault / Managed HSM and of Entra ID's token endpoint, on
//! 127.0.0.1 with a certificate from a test CA made at test time.
//!
//! It implements what byok-upload uses, faithfully where it matters: the bearer challenge
//! (first request unauthenticated, 401 with WWW-Authenticate), client-secret and
//! client-assertion token requests, Get Key, Import Key (it finds the KEK by the .byok header's
//! kid, unwraps the file with the KEK's private key -- RSA-OAEP SHA-1 then RFC 5649 -- parses
//! the key and answers with its public JWK) and, for oct keys, Encrypt (AES-CBC). Faults are
//! injected through [`State`]: 429s, refused tokens, soft-deleted names.
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use byok_ceremony::byok::format::ByokFile;
use byok_ceremony::byok::verify::{RecoveredKeyKind, classify_plaintext, unwrap_ciphertext};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};

use super::ca::TestCa;

pub const TENANT: &str = "00000000-0000-4000-8000-000000000001";
pub const CLIENT_ID: &str = "00000000-0000-4000-8000-000000000002";
pub const CLIENT_SECRET: &str = "test-only-client-secret";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    KeyVault,
    ManagedHsm,
}

impl Kind {
    fn resource(self) -> &'static str {
        match self {
            Kind::KeyVault => "https://vault.azure.net",
            Kind::ManagedHsm => "https://managedhsm.azure.net",
        }
    }
}

pub struct KekEntry {
    pub name: String,
    pub version: String,
    pub private: rsa::PrivateKey,
    pub key_ops: Vec<String>,
    pub kty: String,
}

pub struct StoredKey {
    pub name: String,
    pub version: String,
    pub kty: String,
    pub public: Value,
    pub secret: Option<Vec<u8>>,
    pub key_ops: Vec<String>,
    pub trailing_zero_bytes: usize,
}

/// One request as the double saw it.
#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub authorized: bool,
    pub status: u16,
}

#[derive(Default)]
pub struct State {
    pub keks: Vec<KekEntry>,
    pub keys: Vec<StoredKey>,
    tokens: Vec<String>,
    pub log: Vec<Logged>,
    /// Answer the next N import requests with 429 and Retry-After: 1.
    pub throttle_imports: u32,
    /// Refuse every bearer token with 401 (a token for the wrong tenant, revoked, ...).
    pub reject_tokens: bool,
    /// Names of soft-deleted keys: importing under them is a 409.
    pub deleted_names: Vec<String>,
    /// The SPKI DER of the registered client certificate's key, for client assertions.
    pub client_cert_spki: Option<Vec<u8>>,
    /// The SHA-1 thumbprint of the registered client certificate.
    pub client_cert_sha1: Option<Vec<u8>>,
}

impl State {
    pub fn imports(&self) -> usize {
        self.log
            .iter()
            .filter(|l| l.method == "PUT" && l.authorized)
            .count()
    }
}

pub struct Double {
    pub kind: Kind,
    pub port: u16,
    pub state: Arc<Mutex<State>>,
    pub ca: TestCa,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Double {
    pub fn start(kind: Kind) -> Double {
        let ca = TestCa::new();
        let identity = ca.server_identity();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("non-blocking");
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(Mutex::new(State::default()));
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let server_state = state.clone();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocols")
            .with_no_client_auth()
            .with_single_cert(
                vec![identity.cert_der.into()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(identity.key_der.into()),
            )
            .expect("server config");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                loop {
                    tokio::select! {
                        _ = &mut rx => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let acceptor = acceptor.clone();
                            let state = server_state.clone();
                            tokio::spawn(async move {
                                let Ok(tls) = acceptor.accept(stream).await else { return };
                                let service = hyper::service::service_fn(move |req| {
                                    let state = state.clone();
                                    async move { Ok::<_, Infallible>(handle(state, kind, port, req).await) }
                                });
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                                    .await;
                            });
                        }
                    }
                }
            });
        });
        Double {
            kind,
            port,
            state,
            ca,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// Adds a KEK and returns its kid.
    pub fn add_kek(&self, name: &str, private: rsa::PrivateKey, key_ops: &[&str]) -> String {
        let version = random_version();
        let kid = format!("{}/keys/{name}/{version}", self.url());
        self.state.lock().expect("state").keks.push(KekEntry {
            name: name.to_owned(),
            version,
            private,
            key_ops: key_ops.iter().map(|s| (*s).to_owned()).collect(),
            kty: "RSA-HSM".to_owned(),
        });
        kid
    }

    /// The environment byok-upload needs to talk to this double with a client secret.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "SSL_CERT_FILE".into(),
                self.ca.root_file.display().to_string(),
            ),
            ("AZURE_AUTHORITY_HOST".into(), self.url()),
            ("AZURE_TENANT_ID".into(), TENANT.into()),
            ("AZURE_CLIENT_ID".into(), CLIENT_ID.into()),
            ("AZURE_CLIENT_SECRET".into(), CLIENT_SECRET.into()),
        ]
    }

    pub fn log(&self) -> Vec<Logged> {
        self.state.lock().expect("state").log.clone()
    }
}

impl Drop for Double {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub fn random_version() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("random");
    hex::encode(bytes)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

type Answer = Response<Full<Bytes>>;

fn answer(status: StatusCode, body: Value, headers: &[(&str, String)]) -> Answer {
    let mut builder = Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8");
    for (name, value) in headers {
        builder = builder.header(*name, value.as_str());
    }
    builder
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("response")
}

fn error(status: StatusCode, code: &str, message: &str) -> Answer {
    answer(
        status,
        json!({"error": {"code": code, "message": message}}),
        &[],
    )
}

async fn handle(
    state: Arc<Mutex<State>>,
    kind: Kind,
    port: u16,
    request: Request<Incoming>,
) -> Answer {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let bearer = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let body = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let mut st = state.lock().expect("state");
    let authorized = bearer
        .as_ref()
        .is_some_and(|t| st.tokens.contains(t) && !st.reject_tokens);
    let response = route(
        &mut st,
        kind,
        port,
        &method,
        &path,
        &query,
        bearer.is_some(),
        authorized,
        &body,
    );
    st.log.push(Logged {
        method,
        path,
        authorized,
        status: response.status().as_u16(),
    });
    response
}

#[allow(clippy::too_many_arguments)]
fn route(
    st: &mut State,
    kind: Kind,
    port: u16,
    method: &str,
    path: &str,
    query: &str,
    had_bearer: bool,
    authorized: bool,
    body: &[u8],
) -> Answer {
    if method == "POST" && path == format!("/{TENANT}/oauth2/v2.0/token") {
        return token(st, kind, port, body);
    }
    if !query.split('&').any(|p| p.starts_with("api-version=")) {
        return error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            "api-version is required",
        );
    }
    if !authorized {
        let challenge = format!(
            "Bearer authorization=\"https://127.0.0.1:{port}/{TENANT}\", resource=\"{}\"",
            kind.resource()
        );
        let (code, message) = if had_bearer {
            ("Unauthorized", "AKV10032: Invalid issuer or token refused.")
        } else {
            (
                "Unauthorized",
                "AKV10000: Request is missing a Bearer or PoP token.",
            )
        };
        return answer(
            StatusCode::UNAUTHORIZED,
            json!({"error": {"code": code, "message": message}}),
            &[("www-authenticate", challenge)],
        );
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("GET", ["keys", name]) | ("GET", ["keys", name, ""]) => get_key(st, port, name, None),
        ("GET", ["keys", name, version]) => get_key(st, port, name, Some(version)),
        ("PUT", ["keys", name]) => import(st, kind, port, name, body),
        ("POST", ["keys", name, version, "encrypt"]) => encrypt(st, port, name, version, body),
        _ => error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "no such operation in the test double",
        ),
    }
}

fn token(st: &mut State, kind: Kind, port: u16, body: &[u8]) -> Answer {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let scope_ok = field("scope") == Some(&format!("{}/.default", kind.resource()));
    let client_ok =
        field("client_id") == Some(CLIENT_ID) && field("grant_type") == Some("client_credentials");
    let secret_ok = field("client_secret") == Some(CLIENT_SECRET);
    let assertion_ok = field("client_assertion_type")
        == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        && field("client_assertion").is_some_and(|jwt| assertion_valid(st, port, jwt));
    if !(scope_ok && client_ok && (secret_ok || assertion_ok)) {
        return answer(
            StatusCode::UNAUTHORIZED,
            json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret or assertion.", "error_codes": [7000215]}),
            &[],
        );
    }
    let token = format!("test-token-{}", random_version());
    st.tokens.push(token.clone());
    answer(
        StatusCode::OK,
        json!({"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": token}),
        &[],
    )
}

/// RFC 7523 client assertion: RS256 over header.claims with the registered certificate's key.
fn assertion_valid(st: &State, port: u16, jwt: &str) -> bool {
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::signature::Verifier;
    use spki::DecodePublicKey;
    let (Some(spki), Some(sha1)) = (&st.client_cert_spki, &st.client_cert_sha1) else {
        return false;
    };
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, signature] = parts.as_slice() else {
        return false;
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).ok();
    let (Some(h), Some(c), Some(sig)) = (decode(header), decode(claims), decode(signature)) else {
        return false;
    };
    let (Ok(h), Ok(c)) = (
        serde_json::from_slice::<Value>(&h),
        serde_json::from_slice::<Value>(&c),
    ) else {
        return false;
    };
    let audience = format!("https://127.0.0.1:{port}/{TENANT}/oauth2/v2.0/token");
    let claims_ok = h["alg"] == "RS256"
        && h["x5t"] == URL_SAFE_NO_PAD.encode(sha1)
        && c["aud"] == audience.as_str()
        && c["iss"] == CLIENT_ID
        && c["sub"] == CLIENT_ID
        && c["exp"].as_u64().is_some_and(|exp| exp > now());
    let Ok(public) = rsa::PublicKey::from_public_key_der(spki) else {
        return false;
    };
    let Ok(signature) = Signature::try_from(sig.as_slice()) else {
        return false;
    };
    let signed = format!("{header}.{claims}");
    claims_ok
        && VerifyingKey::<sha2::Sha256>::new(public)
            .verify(signed.as_bytes(), &signature)
            .is_ok()
}

fn bundle(
    port: u16,
    name: &str,
    version: &str,
    kty: &str,
    key_ops: &[String],
    public: &Value,
    extra: Value,
) -> Value {
    let mut key = json!({
        "kid": format!("https://127.0.0.1:{port}/keys/{name}/{version}"),
        "kty": kty,
        "key_ops": key_ops,
    });
    if let (Some(key), Some(public)) = (key.as_object_mut(), public.as_object()) {
        for (k, v) in public {
            key.insert(k.clone(), v.clone());
        }
    }
    let t = now();
    let mut attributes = json!({
        "enabled": true,
        "created": t,
        "updated": t,
        "recoveryLevel": "Recoverable+Purgeable",
        "recoverableDays": 90,
        "exportable": false,
    });
    if let (Some(a), Some(extra)) = (attributes.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            a.insert(k.clone(), v.clone());
        }
    }
    json!({"key": key, "attributes": attributes})
}

fn rsa_public_jwk(key: &rsa::PublicKey) -> Value {
    json!({
        "n": URL_SAFE_NO_PAD.encode(key.n_bytes()),
        "e": URL_SAFE_NO_PAD.encode(key.e_bytes()),
    })
}

fn get_key(st: &State, port: u16, name: &str, version: Option<&str>) -> Answer {
    let kek = st
        .keks
        .iter()
        .rev()
        .find(|k| k.name == name && version.is_none_or(|v| v == k.version));
    if let Some(kek) = kek {
        let public = rsa_public_jwk(&kek.private.to_public_key());
        return answer(
            StatusCode::OK,
            bundle(
                port,
                name,
                &kek.version,
                &kek.kty,
                &kek.key_ops,
                &public,
                json!({}),
            ),
            &[],
        );
    }
    let key = st
        .keys
        .iter()
        .rev()
        .find(|k| k.name == name && version.is_none_or(|v| v == k.version));
    match key {
        Some(k) => answer(
            StatusCode::OK,
            bundle(
                port,
                name,
                &k.version,
                &k.kty,
                &k.key_ops,
                &k.public,
                json!({}),
            ),
            &[],
        ),
        None => error(
            StatusCode::NOT_FOUND,
            "KeyNotFound",
            &format!("A key with (name/id) {name} was not found in this key vault."),
        ),
    }
}

fn import(st: &mut State, kind: Kind, port: u16, name: &str, body: &[u8]) -> Answer {
    if st.throttle_imports > 0 {
        st.throttle_imports -= 1;
        return answer(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"error": {"code": "Throttled", "message": "Rate limit is exceeded. Try again in 1 seconds."}}),
            &[("retry-after", "1".to_owned())],
        );
    }
    if st.deleted_names.iter().any(|n| n == name) {
        return error(
            StatusCode::CONFLICT,
            "Conflict",
            &format!(
                "Key {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the key can only be recovered or purged."
            ),
        );
    }
    let bad = |message: &str| error(StatusCode::BAD_REQUEST, "BadParameter", message);
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return bad("The request body is not JSON.");
    };
    let jwk = &request["key"];
    let kty = jwk["kty"].as_str().unwrap_or_default();
    if kty == "oct-HSM" && kind == Kind::KeyVault {
        return bad("Invalid kty value: oct");
    }
    let Some(key_hsm) = jwk["key_hsm"].as_str() else {
        return bad("key_hsm is required for a BYOK import.");
    };
    let Ok(file_bytes) = URL_SAFE_NO_PAD.decode(key_hsm) else {
        return bad("key_hsm is not base64url without padding.");
    };
    let Ok(parsed) = ByokFile::parse(&file_bytes) else {
        return bad("The BYOK blob is malformed.");
    };
    let kek = st.keks.iter().find(|k| {
        format!("https://127.0.0.1:{port}/keys/{}/{}", k.name, k.version) == parsed.file.kid
    });
    let Some(kek) = kek else {
        return bad("The key exchange key named in the BYOK blob was not found in this vault.");
    };
    if kek.key_ops != ["import"] {
        return bad("The key exchange key must have key_ops [\"import\"] only.");
    }
    let Ok(plaintext) = unwrap_ciphertext(&parsed.file.ciphertext, &kek.private) else {
        return bad("Failed to unwrap the BYOK blob with the key exchange key.");
    };
    let Ok(recovered) = classify_plaintext(&plaintext) else {
        return bad("The unwrapped key is not a valid private key.");
    };
    let (expected_kty, public, secret) = match recovered.kind {
        RecoveredKeyKind::Rsa { .. } => {
            use spki::DecodePublicKey;
            let der = recovered.public_spki_der.clone().unwrap_or_default();
            let Ok(public) = rsa::PublicKey::from_public_key_der(&der) else {
                return bad("bad RSA key");
            };
            ("RSA-HSM", rsa_public_jwk(&public), None)
        }
        RecoveredKeyKind::Ec { curve } => {
            if jwk["crv"].as_str() != Some(curve.azure_name()) {
                return bad("The curve does not match the imported key.");
            }
            let der = recovered.public_spki_der.clone().unwrap_or_default();
            let Ok(spki) = spki::SubjectPublicKeyInfoRef::try_from(der.as_slice()) else {
                return bad("bad EC key");
            };
            let point = spki.subject_public_key.raw_bytes();
            let half = (point.len() - 1) / 2;
            (
                "EC-HSM",
                json!({
                    "crv": curve.azure_name(),
                    "x": URL_SAFE_NO_PAD.encode(&point[1..1 + half]),
                    "y": URL_SAFE_NO_PAD.encode(&point[1 + half..]),
                }),
                None,
            )
        }
        RecoveredKeyKind::Oct { .. } => ("oct-HSM", json!({}), Some(plaintext.to_vec())),
    };
    if kty != expected_kty {
        return bad(&format!(
            "kty {kty} does not match the imported key ({expected_kty})."
        ));
    }
    let default_ops: &[&str] = match expected_kty {
        "RSA-HSM" => &[
            "encrypt",
            "decrypt",
            "sign",
            "verify",
            "wrapKey",
            "unwrapKey",
        ],
        "EC-HSM" => &["sign", "verify"],
        _ => &["encrypt", "decrypt", "wrapKey", "unwrapKey"],
    };
    let key_ops: Vec<String> = match jwk["key_ops"].as_array() {
        Some(ops) => ops
            .iter()
            .filter_map(|o| o.as_str().map(str::to_owned))
            .collect(),
        None => default_ops.iter().map(|s| (*s).to_owned()).collect(),
    };
    let version = random_version();
    let mut extra = json!({});
    if let (Some(e), Some(a)) = (extra.as_object_mut(), request["attributes"].as_object()) {
        for field in ["enabled", "exportable", "nbf", "exp"] {
            if let Some(v) = a.get(field) {
                e.insert(field.to_owned(), v.clone());
            }
        }
    }
    let mut response = bundle(port, name, &version, expected_kty, &key_ops, &public, extra);
    if let Some(tags) = request.get("tags") {
        response["tags"] = tags.clone();
    }
    st.keys.push(StoredKey {
        name: name.to_owned(),
        version,
        kty: expected_kty.to_owned(),
        public,
        secret,
        key_ops,
        trailing_zero_bytes: recovered.trailing_zero_bytes,
    });
    answer(StatusCode::OK, response, &[])
}

fn encrypt(st: &State, port: u16, name: &str, version: &str, body: &[u8]) -> Answer {
    use aes::cipher::{BlockCipherEncrypt, KeyInit};
    let bad = |message: &str| error(StatusCode::BAD_REQUEST, "BadParameter", message);
    let Some(key) = st
        .keys
        .iter()
        .find(|k| k.name == name && k.version == version)
    else {
        return error(StatusCode::NOT_FOUND, "KeyNotFound", "no such key");
    };
    let Some(secret) = &key.secret else {
        return bad("encrypt with an AES algorithm needs an oct key");
    };
    if !key.key_ops.iter().any(|o| o == "encrypt") {
        return bad("Operation encrypt is not allowed on this key.");
    }
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return bad("not JSON");
    };
    let expected_alg = format!("A{}CBC", secret.len() * 8);
    if request["alg"].as_str() != Some(expected_alg.as_str()) {
        return bad("The algorithm does not match the key size.");
    }
    let decode = |field: &str| {
        request[field]
            .as_str()
            .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
    };
    let (Some(iv), Some(value)) = (decode("iv"), decode("value")) else {
        return bad("iv and value are required");
    };
    if iv.len() != 16 || value.is_empty() || value.len() % 16 != 0 {
        return bad("AES-CBC without padding needs a 16-byte iv and whole blocks");
    }
    let mut previous = [0u8; 16];
    previous.copy_from_slice(&iv);
    let mut out = Vec::new();
    for chunk in value.chunks(16) {
        let mut block = aes::Block::default();
        for (i, b) in chunk.iter().enumerate() {
            block[i] = b ^ previous[i];
        }
        match secret.len() {
            16 => aes::Aes128::new_from_slice(secret).map(|c| c.encrypt_block(&mut block)),
            24 => aes::Aes192::new_from_slice(secret).map(|c| c.encrypt_block(&mut block)),
            _ => aes::Aes256::new_from_slice(secret).map(|c| c.encrypt_block(&mut block)),
        }
        .expect("AES key");
        previous.copy_from_slice(&block);
        out.extend_from_slice(&block);
    }
    answer(
        StatusCode::OK,
        json!({
            "kid": format!("https://127.0.0.1:{port}/keys/{name}/{version}"),
            "value": URL_SAFE_NO_PAD.encode(out),
        }),
        &[],
    )
}
