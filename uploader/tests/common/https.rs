//! A small HTTPS server on 127.0.0.1 with a certificate from the test CA, for the Google Cloud
//! and AWS doubles: each request is read whole and handed to a synchronous handler.
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Response, StatusCode};

use super::ca::TestCa;

/// One request, read whole.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Lower-case names.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub fn query_value(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// An answer: status, content type, body, extra headers.
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl Answer {
    pub fn json(status: u16, content_type: &'static str, body: &serde_json::Value) -> Answer {
        Answer {
            status,
            content_type,
            body: body.to_string().into_bytes(),
            headers: Vec::new(),
        }
    }
}

pub type Handler = Arc<dyn Fn(Req) -> Answer + Send + Sync>;

pub struct Server {
    pub port: u16,
    pub ca: TestCa,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub fn start(handler: Handler) -> Server {
        let ca = TestCa::new();
        let identity = ca.server_identity();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("non-blocking");
        let port = listener.local_addr().expect("addr").port();
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
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
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
                            let handler = handler.clone();
                            tokio::spawn(async move {
                                let Ok(tls) = acceptor.accept(stream).await else { return };
                                let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                                    let handler = handler.clone();
                                    async move { Ok::<_, Infallible>(serve(handler, request).await) }
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
        Server {
            port,
            ca,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }
}

async fn serve(
    handler: Handler,
    request: hyper::Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let headers = request
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_lowercase(), v.to_str().ok()?.to_owned())))
        .collect();
    let body = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(_) => Vec::new(),
    };
    let answer = handler(Req {
        method,
        path,
        query,
        headers,
        body,
    });
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(answer.status).expect("status"))
        .header("content-type", answer.content_type);
    for (name, value) in &answer.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder
        .body(Full::new(Bytes::from(answer.body)))
        .expect("response")
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
