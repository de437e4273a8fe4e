//! A fault-injecting proxy between the client and a real registry: each rule matches requests
//! by method and path and, a given number of times, answers in its place, cuts or corrupts the
//! registry's answer, or delays it.

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
    /// Forwards, then answers with this status instead of the registry's answer.
    ForwardThenAnswer(u16),
    /// Forwards, sends the first `n` bytes of the body, then cuts the connection.
    CutAfter(usize),
    /// Forwards and flips the last byte of the body.
    Corrupt,
    /// Forwards after waiting.
    Delay(Duration),
}

/// A fault for the next `times` requests whose method is `method` and whose path contains
/// `path`.
#[derive(Debug, Clone)]
pub struct Rule {
    pub method: &'static str,
    pub path: &'static str,
    pub times: usize,
    pub fault: Fault,
}

impl Rule {
    pub fn new(method: &'static str, path: &'static str, times: usize, fault: Fault) -> Rule {
        Rule {
            method,
            path,
            times,
            fault,
        }
    }
}

/// A running proxy to `upstream`; dropping it stops it.
pub struct FaultProxy {
    /// `127.0.0.1:<port>`.
    pub host: String,
    rules: Arc<Mutex<Vec<Rule>>>,
    /// How many requests matched a rule.
    pub faults: Arc<Mutex<Vec<String>>>,
    stop: Option<oneshot::Sender<()>>,
}

impl FaultProxy {
    pub async fn start(upstream: &str, rules: Vec<Rule>) -> FaultProxy {
        let rules = Arc::new(Mutex::new(rules));
        let faults = Arc::new(Mutex::new(Vec::new()));
        let upstream = format!("http://{upstream}");
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap();
        let (rules_in, faults_in) = (Arc::clone(&rules), Arc::clone(&faults));
        let app = axum::Router::new().fallback(move |request: Request<Body>| {
            let (rules, faults) = (Arc::clone(&rules_in), Arc::clone(&faults_in));
            let (http, upstream) = (http.clone(), upstream.clone());
            async move { forward(request, &http, &upstream, &rules, &faults).await }
        });
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
        FaultProxy {
            host,
            rules,
            faults,
            stop: Some(stop),
        }
    }

    /// Adds a rule after the existing ones.
    pub fn add(&self, rule: Rule) {
        self.rules.lock().unwrap().push(rule);
    }

    /// The requests faults were applied to, as `METHOD path`.
    pub fn applied(&self) -> Vec<String> {
        self.faults.lock().unwrap().clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn forward(
    request: Request<Body>,
    http: &reqwest::Client,
    upstream: &str,
    rules: &Mutex<Vec<Rule>>,
    faults: &Mutex<Vec<String>>,
) -> Response<Body> {
    let method = request.method().clone();
    let uri = request.uri().to_string();
    let fault = {
        let mut rules = rules.lock().unwrap();
        rules
            .iter_mut()
            .find(|rule| {
                rule.times > 0 && rule.method == method.as_str() && uri.contains(rule.path)
            })
            .map(|rule| {
                rule.times -= 1;
                rule.fault.clone()
            })
    };
    if fault.is_some() {
        faults.lock().unwrap().push(format!("{method} {uri}"));
    }
    if let Some(Fault::Answer(status, headers)) = &fault {
        let mut builder = Response::builder().status(*status);
        for (name, value) in headers {
            builder = builder.header(*name, value.as_str());
        }
        return builder.body(Body::empty()).unwrap();
    }
    if let Some(Fault::Delay(wait)) = &fault {
        tokio::time::sleep(*wait).await;
    }
    let mut outgoing = http.request(method.clone(), format!("{upstream}{uri}"));
    for (name, value) in request.headers() {
        if name != "host" && name != "content-length" && name != "transfer-encoding" {
            outgoing = outgoing.header(name, value);
        }
    }
    let body = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap();
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
    match fault {
        Some(Fault::CutAfter(n)) => {
            let head = body.slice(..n.min(body.len()));
            let stream = futures_util::stream::unfold(0u8, move |step| {
                let head = head.clone();
                async move {
                    match step {
                        0 => Some((Ok::<Bytes, std::io::Error>(head), 1)),
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
            let mut bytes = body.to_vec();
            if let Some(last) = bytes.last_mut() {
                *last ^= 0xff;
            }
            body = Bytes::from(bytes);
            builder.body(Body::from(body)).unwrap()
        }
        _ => builder.body(Body::from(body)).unwrap(),
    }
}
