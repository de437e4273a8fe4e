//! A fault-injecting proxy between a client (the client crate, the copy engine) and a real
//! registry: rules match requests by method and path and, a given number of times, answer in
//! the registry's place, replace or corrupt its answer, cut or stall it after some bytes, delay
//! it, or strip `Range` so the registry answers the whole blob. It logs every request and
//! counts the body bytes that went each way.
//!
//! Bodies stream through unless a fault needs the whole of one (answering, cutting,
//! corrupting), so a multi-gigabyte transfer costs the proxy no more than a buffer.
//!
//! It sends requests on with the upstream's `Host`, except when started with
//! [`FaultProxy::start_keeping_host`]: an S3 client signs the `Host` it sends, the proxy's, so a
//! proxy in front of an S3 endpoint must pass it on unchanged.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response};
use bytes::Bytes;
use tokio::sync::oneshot;

/// What the proxy does to a matched request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answers with this status and headers without forwarding.
    Answer(u16, Vec<(&'static str, String)>),
    /// Answers with this status, `Content-Type` and body without forwarding.
    AnswerBody(u16, &'static str, String),
    /// Forwards, then answers with this status instead of the registry's answer.
    ForwardThenAnswer(u16),
    /// Forwards, sends the first `n` bytes of the body, then cuts the connection.
    CutAfter(usize),
    /// Forwards and flips the last byte of the body.
    Corrupt,
    /// Forwards, sends the first `n` bytes of the body, then sends nothing for a long time.
    StallAfter(usize),
    /// Forwards after waiting.
    Delay(Duration),
    /// Forwards without the `Range` header, as a registry that ignores it would answer.
    IgnoreRange,
}

/// A fault for the next `times` requests whose method is `method` and whose path contains
/// `path`.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The method a request must have.
    pub method: &'static str,
    /// What a request's path (and query) must contain.
    pub path: &'static str,
    /// How many more matching requests the fault applies to.
    pub times: usize,
    /// What happens to them.
    pub fault: Fault,
    /// Matching requests to let through untouched before the fault applies.
    pub skip: usize,
}

impl Rule {
    /// A fault for the next `times` requests with `method` whose path contains `path`.
    pub fn new(method: &'static str, path: &'static str, times: usize, fault: Fault) -> Rule {
        Rule {
            method,
            path,
            times,
            fault,
            skip: 0,
        }
    }

    /// Lets the first `skip` matching requests through untouched.
    pub fn after(mut self, skip: usize) -> Rule {
        self.skip = skip;
        self
    }
}

/// A request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Its method.
    pub method: String,
    /// Its path and query.
    pub uri: String,
    /// Its `Range` header, if any.
    pub range: Option<String>,
    /// Its header fields, names in lower case, in order.
    pub headers: Vec<(String, String)>,
}

impl Seen {
    /// The first value of header `name` (lower case), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::http::find_header(&self.headers, name)
    }
}

#[derive(Default)]
struct State {
    rules: Mutex<Vec<Rule>>,
    applied: Mutex<Vec<String>>,
    seen: Mutex<Vec<Seen>>,
    /// Body bytes sent to the client in answers to `GET .../blobs/...`.
    blob_bytes_out: AtomicU64,
    /// Body bytes received from the client in `PATCH`, `PUT` and `POST` requests.
    bytes_in: AtomicU64,
    /// Whether requests go on with the client's `Host` rather than the upstream's.
    keep_host: bool,
}

/// A running proxy to `upstream`; dropping it stops it.
pub struct FaultProxy {
    /// `127.0.0.1:<port>`.
    pub host: String,
    state: Arc<State>,
    stop: Option<oneshot::Sender<()>>,
}

impl FaultProxy {
    /// Starts a proxy on a loopback port in front of `upstream` (`HOST:PORT`), with `rules`.
    pub async fn start(upstream: &str, rules: Vec<Rule>) -> FaultProxy {
        FaultProxy::launch(upstream, rules, false).await
    }

    /// [`start`](FaultProxy::start), sending requests on with the `Host` the client sent, as a
    /// proxy in front of an S3 endpoint must (the client signs the `Host` it sends).
    pub async fn start_keeping_host(upstream: &str, rules: Vec<Rule>) -> FaultProxy {
        FaultProxy::launch(upstream, rules, true).await
    }

    async fn launch(upstream: &str, rules: Vec<Rule>, keep_host: bool) -> FaultProxy {
        let state = Arc::new(State {
            rules: Mutex::new(rules),
            keep_host,
            ..State::default()
        });
        let upstream = format!("http://{upstream}");
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap();
        let shared = Arc::clone(&state);
        let app = axum::Router::new().fallback(move |request: Request<Body>| {
            let state = Arc::clone(&shared);
            let (http, upstream) = (http.clone(), upstream.clone());
            async move { forward(request, &http, &upstream, &state).await }
        });
        let (host, stop) = serve(app).await;
        FaultProxy {
            host,
            state,
            stop: Some(stop),
        }
    }

    /// Adds a rule after the existing ones.
    pub fn add(&self, rule: Rule) {
        self.state.rules.lock().unwrap().push(rule);
    }

    /// The requests faults were applied to, as `METHOD path`.
    pub fn applied(&self) -> Vec<String> {
        self.state.applied.lock().unwrap().clone()
    }

    /// Every request seen.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// The `GET`s of blob `digest` (whole or ranged).
    pub fn blob_gets(&self, digest: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.method == "GET" && s.uri.contains(&format!("/blobs/{digest}")))
            .collect()
    }

    /// Body bytes of blob downloads sent to the client so far.
    pub fn blob_bytes_out(&self) -> u64 {
        self.state.blob_bytes_out.load(Ordering::Relaxed)
    }

    /// Body bytes of uploads received from the client so far.
    pub fn bytes_in(&self) -> u64 {
        self.state.bytes_in.load(Ordering::Relaxed)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves `app` on a loopback port until the returned sender is used or dropped; returns
/// `127.0.0.1:PORT` and that sender. For the small servers tests write with axum.
pub async fn serve(app: axum::Router) -> (String, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    (host, stop)
}

async fn forward(
    request: Request<Body>,
    http: &reqwest::Client,
    upstream: &str,
    state: &Arc<State>,
) -> Response<Body> {
    let method = request.method().clone();
    let uri = request.uri().to_string();
    let range = request
        .headers()
        .get("range")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    state.seen.lock().unwrap().push(Seen {
        method: method.to_string(),
        uri: uri.clone(),
        range,
        headers,
    });
    let fault = {
        let mut rules = state.rules.lock().unwrap();
        rules
            .iter_mut()
            .find(|rule| {
                rule.times > 0 && rule.method == method.as_str() && uri.contains(rule.path)
            })
            .and_then(|rule| {
                if rule.skip > 0 {
                    rule.skip -= 1;
                    return None;
                }
                rule.times -= 1;
                Some(rule.fault.clone())
            })
    };
    if fault.is_some() {
        state
            .applied
            .lock()
            .unwrap()
            .push(format!("{method} {uri}"));
    }
    if let Some(Fault::Answer(status, headers)) = &fault {
        let mut builder = Response::builder().status(*status);
        for (name, value) in headers {
            builder = builder.header(*name, value.as_str());
        }
        return builder.body(Body::empty()).unwrap();
    }
    if let Some(Fault::AnswerBody(status, content_type, body)) = &fault {
        return Response::builder()
            .status(*status)
            .header("content-type", *content_type)
            .body(Body::from(body.clone()))
            .unwrap();
    }
    if let Some(Fault::Delay(wait)) = &fault {
        tokio::time::sleep(*wait).await;
    }
    // Faults that rewrite or cut the answer need it whole; the rest stream both ways.
    let streams = matches!(fault, None | Some(Fault::Delay(_) | Fault::IgnoreRange));
    let mut outgoing = http.request(method.clone(), format!("{upstream}{uri}"));
    for (name, value) in request.headers() {
        let skip = (name == "host" && !state.keep_host)
            || (name == "content-length" && !streams)
            || name == "transfer-encoding"
            || (name == "range" && matches!(fault, Some(Fault::IgnoreRange)));
        if !skip {
            outgoing = outgoing.header(name, value);
        }
    }
    let counts = method == "GET" && uri.contains("/blobs/") && !uri.contains("/uploads/");
    if streams {
        return forward_streaming(request, outgoing, counts, state).await;
    }
    let body = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap();
    if method != "GET" && method != "HEAD" {
        state
            .bytes_in
            .fetch_add(body.len() as u64, Ordering::Relaxed);
    }
    let answer = outgoing.body(body).send().await.unwrap();
    let status = answer.status();
    let headers = answer.headers().clone();
    let mut body = answer.bytes().await.unwrap();
    if let Some(Fault::ForwardThenAnswer(status)) = &fault {
        return Response::builder()
            .status(*status)
            .body(Body::empty())
            .unwrap();
    }
    let mut builder = Response::builder().status(status);
    for (name, value) in &headers {
        if name != "transfer-encoding" && name != "connection" {
            builder = builder.header(name, value);
        }
    }
    let count = |n: usize| {
        if counts {
            state.blob_bytes_out.fetch_add(n as u64, Ordering::Relaxed);
        }
    };
    match fault {
        Some(Fault::CutAfter(n) | Fault::StallAfter(n)) => {
            let stall = matches!(fault, Some(Fault::StallAfter(_)));
            let head = body.slice(..n.min(body.len()));
            count(head.len());
            let stream = futures_util::stream::unfold(0u8, move |step| {
                let head = head.clone();
                async move {
                    match step {
                        0 => Some((Ok::<Bytes, std::io::Error>(head), 1)),
                        1 if stall => {
                            tokio::time::sleep(Duration::from_secs(600)).await;
                            None
                        }
                        1 => {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            Some((Err(std::io::Error::other("cut by the proxy")), 2))
                        }
                        _ => None,
                    }
                }
            });
            builder.body(Body::from_stream(stream)).unwrap()
        }
        Some(Fault::Corrupt) if !body.is_empty() => {
            count(body.len());
            let mut bytes = body.to_vec();
            if let Some(last) = bytes.last_mut() {
                *last ^= 0xff;
            }
            body = Bytes::from(bytes);
            builder.body(Body::from(body)).unwrap()
        }
        _ => {
            count(body.len());
            builder.body(Body::from(body)).unwrap()
        }
    }
}

/// Sends `outgoing` with the body of `request` streamed to the upstream, and streams the answer
/// back, counting body bytes as they pass (answer bytes when `counts_out`).
async fn forward_streaming(
    request: Request<Body>,
    outgoing: reqwest::RequestBuilder,
    counts_out: bool,
    state: &Arc<State>,
) -> Response<Body> {
    use futures_util::TryStreamExt;
    let counts_in = request.method() != "GET" && request.method() != "HEAD";
    // A request without a length or chunked framing has no body: send none rather than an
    // empty chunked one.
    let has_body = request.headers().contains_key("content-length")
        || request.headers().contains_key("transfer-encoding");
    let shared = Arc::clone(state);
    let body = request
        .into_body()
        .into_data_stream()
        .inspect_ok(move |chunk| {
            if counts_in {
                shared
                    .bytes_in
                    .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
        });
    let outgoing = if has_body {
        outgoing.body(reqwest::Body::wrap_stream(body))
    } else {
        outgoing
    };
    let answer = outgoing.send().await.unwrap();
    let mut builder = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if name != "transfer-encoding" && name != "connection" {
            builder = builder.header(name, value);
        }
    }
    let shared = Arc::clone(state);
    let body = answer.bytes_stream().inspect_ok(move |chunk| {
        if counts_out {
            shared
                .blob_bytes_out
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
    });
    builder.body(Body::from_stream(body)).unwrap()
}
