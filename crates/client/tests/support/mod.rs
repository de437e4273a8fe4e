//! Servers on 127.0.0.1 with ephemeral ports for the client's tests: the test kit's in-process
//! `gantry serve` (`Registry`), its fault proxy and relay, and small hostile servers that answer
//! however a test tells them to.

#![allow(
    dead_code,
    unused_imports,
    unreachable_pub,
    reason = "each test file uses the helpers it needs"
)]
// Test code, so clippy allows its unwraps (clippy.toml): test support fails loudly.
#![cfg(test)]

pub use gantry_test_support::in_process::InProcessGantry as Registry;
pub use gantry_test_support::{proxy, relay};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, Response};
use gantry_client::{Client, ClientConfig, CredentialSources, RetryPolicy};
use gantry_reference::{Algorithm, Digest, Reference};
use gantry_test_support::proxy::serve;
use tokio::sync::oneshot;

/// A client for tests: retries quick enough not to slow the suite.
pub fn client() -> Client {
    client_with(ClientConfig::default())
}

/// [`client`] from `config`, with quick retries, and credentials from no files unless the
/// test names them.
pub fn client_with(config: ClientConfig) -> Client {
    let mut config = config;
    if config.credential_sources == CredentialSources::Environment {
        config.credential_sources = CredentialSources::None;
    }
    let config = config.with_retry(RetryPolicy::new(
        3,
        Duration::from_millis(1),
        Duration::from_millis(50),
    ));
    Client::new(config).unwrap()
}

/// A plain reqwest client for requests made around the client under test, deaf to the
/// environment's proxy variables.
pub fn raw_http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// A reference to `rest` (`name:tag` or `name@digest`) on `host`.
pub fn reference(host: &str, rest: &str) -> Reference {
    Reference::parse(format!("{host}/{rest}")).unwrap()
}

/// The sha256 digest of `content`.
pub fn sha256(content: &[u8]) -> Digest {
    Digest::of(Algorithm::Sha256, content)
}

/// A request as a hostile server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub uri: String,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

/// A server that answers every request with what `answer` returns, and records the requests.
pub struct Hostile {
    /// `127.0.0.1:<port>`.
    pub host: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    stop: Option<oneshot::Sender<()>>,
}

impl Hostile {
    pub async fn start<F>(answer: F) -> Hostile
    where
        F: Fn(&Seen) -> Response<Body> + Clone + Send + Sync + 'static,
    {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        let app = axum::Router::new().fallback(move |request: Request<Body>| {
            let answer = answer.clone();
            let record = Arc::clone(&record);
            async move {
                let method = request.method().clone();
                let uri = request.uri().to_string();
                let headers = request.headers().clone();
                let body = axum::body::to_bytes(request.into_body(), usize::MAX)
                    .await
                    .unwrap_or_default();
                let seen = Seen {
                    method,
                    uri,
                    headers,
                    body,
                };
                let response = answer(&seen);
                record.lock().unwrap().push(seen);
                response
            }
        });
        let (host, stop) = serve(app).await;
        Hostile {
            host,
            seen,
            stop: Some(stop),
        }
    }

    /// A reference to `rest` on this server.
    pub fn reference(&self, rest: &str) -> Reference {
        reference(&self.host, rest)
    }

    /// The requests seen so far whose path starts with `prefix`.
    pub fn seen_at(&self, prefix: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.uri.starts_with(prefix))
            .collect()
    }

    /// The requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A response with `status`, `headers` and `body`.
pub fn respond(status: u16, headers: &[(&str, &str)], body: impl Into<Body>) -> Response<Body> {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body.into()).unwrap()
}

/// A body that sends `head`, waits until the client has the headers, then breaks the
/// connection.
pub fn cut_body(head: &'static [u8]) -> Body {
    let stream = futures_util::stream::unfold(0u8, move |step| async move {
        match step {
            0 => Some((Ok(bytes::Bytes::from_static(head)), 1)),
            1 => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Some((Err(std::io::Error::other("connection cut")), 2))
            }
            _ => None,
        }
    });
    Body::from_stream(stream)
}
