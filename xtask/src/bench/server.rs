//! `cargo xtask bench server`: `gantry serve` beside Debian's `docker-registry` (CNCF
//! Distribution 2.8.2), both started by this run on loopback with a fresh data directory on the
//! machine's disk (under `target/bench-tmp`), loaded with the same requests and the same data
//! one after the other, test by test.
//!
//! The load generator is a hyper HTTP/1.1 client with one keep-alive connection per worker. It
//! shares the machine with the servers, so the ratios are what to read. It runs optimised: a
//! debug build of xtask hands the work to `cargo run --release -p xtask` and relays its output.
//! Every loop is bounded by a count or a deadline, and both servers are killed (and their data
//! removed) when this returns, on error too.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use bytes::Bytes;
use gantry_reference::{Algorithm, Digest, Digester};
use gantry_test_support::distribution::{BINARY as DISTRIBUTION, Distribution};
use gantry_test_support::gantry::Gantry;
use gantry_test_support::process::free_port;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::load_average;
use crate::project_root;
use crate::shell::{cmd, exec};

/// The size of the big blob, and of the block it repeats.
const BLOB_SIZE: u64 = 1 << 30;
const BLOCK: usize = 1 << 20;
/// The chunk size of the chunked upload.
const CHUNK: u64 = 16 << 20;
/// Tiny repositories pushed for the catalog; the first also serves the manifest and HEAD tests.
const REPOSITORIES: usize = 1000;
const PUSH_WORKERS: usize = 16;
const CATALOG_RUNS: usize = 15;
/// Each concurrency run: a warm-up, then the measured span.
const WARM_UP: Duration = Duration::from_millis(500);
const MEASURE: Duration = Duration::from_secs(3);
/// A bound on the requests one worker makes in one run, whatever the clock says.
const MAX_REQUESTS_PER_WORKER: usize = 1_000_000;
/// How long a small request gets to answer, and a 1 GiB transfer to end.
const SMALL_TIMEOUT: Duration = Duration::from_secs(30);
const BIG_TIMEOUT: Duration = Duration::from_secs(600);

const REPO: &str = "catalog/r0000";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// Runs the benchmark and returns the markdown section for `docs/benchmarks.md`.
pub(crate) fn section() -> anyhow::Result<String> {
    if cfg!(debug_assertions) {
        // The load generator must not be the slow part: measure from an optimised build.
        return super::in_release("server");
    }
    exec(&mut cmd("cargo", &["build", "--release", "-p", "gantry"]))?;
    ensure!(
        std::path::Path::new(DISTRIBUTION).exists(),
        "{DISTRIBUTION} is missing: install Debian's docker-registry package"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(measure())
}

/// The process of one of the two servers under test.
enum Process {
    Gantry(Gantry),
    Distribution(Distribution),
}

/// One of the two servers under test, started through the test kit (which waits until it
/// answers): killed, and its data removed, when dropped.
struct Server {
    label: &'static str,
    process: Option<Process>,
    root: PathBuf,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.process.take());
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

impl Server {
    fn id(&self) -> u32 {
        match &self.process {
            Some(Process::Gantry(gantry)) => gantry.id(),
            Some(Process::Distribution(distribution)) => distribution.id(),
            None => 0,
        }
    }

    /// `(VmRSS, VmHWM)` in MiB.
    fn memory(&self) -> anyhow::Result<(f64, f64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.id()))?;
        let field = |name: &str| -> anyhow::Result<f64> {
            let line = status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .with_context(|| format!("no {name} in /proc/{}/status", self.id()))?;
            let kib: f64 = line.trim().trim_end_matches("kB").trim().parse()?;
            Ok(kib / 1024.0)
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }
}

fn bench_root(label: &str) -> anyhow::Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root().join("target"));
    let root = target
        .join("bench-tmp")
        .join(format!("server-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    Ok(root)
}

fn start_gantry() -> anyhow::Result<Server> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root().join("target"));
    let binary = target.join("release/gantry");
    let mut server = Server {
        label: "Gantry",
        process: None,
        root: bench_root("gantry")?,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
    };
    let mut command = Command::new(&binary);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--log-level", "error"])
        .arg("--root")
        .arg(&server.root)
        .arg("--allow-delete");
    let gantry = Gantry::spawn(command, Stdio::inherit())
        .with_context(|| format!("could not start {}", binary.display()))?;
    server.addr = gantry.addr();
    server.process = Some(Process::Gantry(gantry));
    Ok(server)
}

fn start_distribution() -> anyhow::Result<Server> {
    let mut server = Server {
        label: "Distribution",
        process: None,
        root: bench_root("distribution")?,
        addr: SocketAddr::from(([127, 0, 0, 1], free_port())),
    };
    // Debian's packaged config keeps the in-memory blob descriptor cache; the access log is
    // off, as Gantry's is at log level error.
    let config = format!(
        "version: 0.1\n\
         log:\n  level: error\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\n  \
         cache:\n    blobdescriptor: inmemory\n\
         http:\n  addr: {addr}\n",
        data = server.root.join("data").display(),
        addr = server.addr,
    );
    let distribution = Distribution::spawn(&config, server.addr, &server.root, Stdio::inherit())
        .with_context(|| format!("could not start {DISTRIBUTION}"))?;
    server.process = Some(Process::Distribution(distribution));
    Ok(server)
}

type ReqBody = BoxBody<Bytes, Infallible>;

fn empty() -> ReqBody {
    Empty::new().boxed()
}

fn full(bytes: impl Into<Bytes>) -> ReqBody {
    Full::new(bytes.into()).boxed()
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    sender: SendRequest<ReqBody>,
    host: HeaderValue,
}

impl Conn {
    async fn open(addr: SocketAddr) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Conn {
            sender,
            host: HeaderValue::from_str(&addr.to_string())?,
        })
    }

    async fn send(
        &mut self,
        method: Method,
        uri: Uri,
        headers: &[(HeaderName, HeaderValue)],
        body: ReqBody,
    ) -> anyhow::Result<Response<Incoming>> {
        self.sender.ready().await?;
        let mut request = Request::new(body);
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        let request_headers = request.headers_mut();
        request_headers.insert(header::HOST, self.host.clone());
        for (name, value) in headers {
            request_headers.insert(name.clone(), value.clone());
        }
        Ok(self.sender.send_request(request).await?)
    }

    /// A request whose response body is small: it is read whole.
    async fn call(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(HeaderName, HeaderValue)],
        body: ReqBody,
    ) -> anyhow::Result<(StatusCode, HeaderMap, Bytes)> {
        let uri: Uri = path.parse()?;
        let exchange = async {
            let response = self.send(method, uri, headers, body).await?;
            let (parts, body) = response.into_parts();
            let bytes = body.collect().await?.to_bytes();
            anyhow::Ok((parts.status, parts.headers, bytes))
        };
        tokio::time::timeout(SMALL_TIMEOUT, exchange)
            .await
            .with_context(|| format!("{path} took over {SMALL_TIMEOUT:?}"))?
    }
}

/// A body of `remaining` bytes that repeats one block, streamed without copying it.
struct Pattern {
    block: Bytes,
    remaining: u64,
}

impl Body for Pattern {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let len = this.remaining.min(this.block.len() as u64);
        this.remaining -= len;
        let len = usize::try_from(len).unwrap_or(this.block.len());
        Poll::Ready(Some(Ok(Frame::data(this.block.slice(..len)))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// A big blob: one pseudo-random block repeated to [`BLOB_SIZE`], and its digest.
struct BigBlob {
    block: Bytes,
    digest: Digest,
}

impl BigBlob {
    fn new(seed: u64) -> BigBlob {
        let mut state = seed | 1;
        let mut block = Vec::with_capacity(BLOCK);
        while block.len() < BLOCK {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            block.extend_from_slice(&state.to_le_bytes());
        }
        let mut digester = Digester::new(Algorithm::Sha256);
        for _ in 0..BLOB_SIZE / BLOCK as u64 {
            digester.update(&block);
        }
        BigBlob {
            block: Bytes::from(block),
            digest: digester.finish(),
        }
    }

    fn body(&self, len: u64) -> ReqBody {
        Pattern {
            block: self.block.clone(),
            remaining: len,
        }
        .boxed()
    }
}

fn octet_stream(len: u64) -> Vec<(HeaderName, HeaderValue)> {
    vec![
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        ),
        (header::CONTENT_LENGTH, HeaderValue::from(len)),
    ]
}

/// The path of an upload's `Location`, which may be absolute, with `extra` added to its query.
fn location(headers: &HeaderMap, extra: &str) -> anyhow::Result<String> {
    let value = headers
        .get(header::LOCATION)
        .context("no Location on an upload response")?
        .to_str()?;
    let path = match value.split_once("://") {
        Some((_, rest)) => &rest[rest.find('/').unwrap_or(rest.len())..],
        None => value,
    };
    Ok(match (extra.is_empty(), path.contains('?')) {
        (true, _) => path.to_owned(),
        (false, true) => format!("{path}&{extra}"),
        (false, false) => format!("{path}?{extra}"),
    })
}

async fn start_upload(conn: &mut Conn, repo: &str) -> anyhow::Result<String> {
    let (status, headers, _) = conn
        .call(
            Method::POST,
            &format!("/v2/{repo}/blobs/uploads/"),
            &[(header::CONTENT_LENGTH, HeaderValue::from(0))],
            empty(),
        )
        .await?;
    ensure!(status == StatusCode::ACCEPTED, "POST upload: {status}");
    location(&headers, "")
}

/// POST, then PUT `?digest=` with the body.
async fn push_small_blob(conn: &mut Conn, repo: &str, bytes: &[u8]) -> anyhow::Result<Digest> {
    let digest = sha256(bytes);
    let upload = start_upload(conn, repo).await?;
    let path = format!("{upload}{}digest={digest}", separator(&upload));
    let (status, _, body) = conn
        .call(
            Method::PUT,
            &path,
            &octet_stream(bytes.len() as u64),
            full(bytes.to_vec()),
        )
        .await?;
    ensure!(
        status == StatusCode::CREATED,
        "PUT blob: {status}: {}",
        String::from_utf8_lossy(&body)
    );
    Ok(digest)
}

fn separator(path: &str) -> char {
    if path.contains('?') { '&' } else { '?' }
}

fn sha256(bytes: &[u8]) -> Digest {
    let mut digester = Digester::new(Algorithm::Sha256);
    digester.update(bytes);
    digester.finish()
}

const LAYER: &[u8] = b"a tiny layer, the same in every repository";

/// A repository with a config, a layer and an OCI manifest tagged `latest`.
async fn push_tiny_repository(conn: &mut Conn, index: usize) -> anyhow::Result<()> {
    let repo = format!("catalog/r{index:04}");
    let config = format!(
        "{{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{{\"type\":\"layers\",\
         \"diff_ids\":[]}},\"config\":{{\"Labels\":{{\"index\":\"{index}\"}}}}}}"
    );
    let config_digest = push_small_blob(conn, &repo, config.as_bytes()).await?;
    let layer_digest = push_small_blob(conn, &repo, LAYER).await?;
    let manifest = format!(
        "{{\"schemaVersion\":2,\"mediaType\":\"{OCI_MANIFEST}\",\"config\":{{\"mediaType\":\
         \"application/vnd.oci.image.config.v1+json\",\"digest\":\"{config_digest}\",\"size\":{}}},\
         \"layers\":[{{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\
         \"digest\":\"{layer_digest}\",\"size\":{}}}]}}",
        config.len(),
        LAYER.len()
    );
    let (status, _, body) = conn
        .call(
            Method::PUT,
            &format!("/v2/{repo}/manifests/latest"),
            &[
                (header::CONTENT_TYPE, HeaderValue::from_static(OCI_MANIFEST)),
                (header::CONTENT_LENGTH, HeaderValue::from(manifest.len())),
            ],
            full(manifest),
        )
        .await?;
    ensure!(
        status == StatusCode::CREATED,
        "PUT manifest: {status}: {}",
        String::from_utf8_lossy(&body)
    );
    Ok(())
}

/// Pushes the tiny repositories at [`PUSH_WORKERS`]; returns the seconds it took.
async fn push_repositories(server: &Server) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..PUSH_WORKERS {
        let addr = server.addr;
        workers.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await?;
            for index in (worker..REPOSITORIES).step_by(PUSH_WORKERS) {
                push_tiny_repository(&mut conn, index).await?;
            }
            anyhow::Ok(())
        }));
    }
    for worker in workers {
        worker.await??;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// MB/s of a whole-body upload: POST, then PUT `?digest=` streaming the blob.
async fn upload_monolithic(server: &Server, blob: &BigBlob) -> anyhow::Result<f64> {
    let mut conn = Conn::open(server.addr).await?;
    let started = Instant::now();
    let upload = start_upload(&mut conn, REPO).await?;
    let path = format!("{upload}{}digest={}", separator(&upload), blob.digest);
    let headers = octet_stream(BLOB_SIZE);
    let status = conn
        .call_big(Method::PUT, &path, &headers, blob.body(BLOB_SIZE))
        .await?;
    ensure!(
        status == StatusCode::CREATED,
        "{}: PUT 1 GiB: {status}",
        server.label
    );
    Ok(BLOB_SIZE as f64 / started.elapsed().as_secs_f64() / 1e6)
}

/// MB/s of a chunked upload: POST, PATCHes of [`CHUNK`] with `Content-Range`, PUT `?digest=`.
async fn upload_chunked(server: &Server, blob: &BigBlob) -> anyhow::Result<f64> {
    let mut conn = Conn::open(server.addr).await?;
    let started = Instant::now();
    let mut upload = start_upload(&mut conn, REPO).await?;
    let mut offset = 0;
    while offset < BLOB_SIZE {
        let len = CHUNK.min(BLOB_SIZE - offset);
        let mut headers = octet_stream(len);
        headers.push((
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("{offset}-{}", offset + len - 1))?,
        ));
        let (status, response_headers, body) = conn
            .call(Method::PATCH, &upload, &headers, blob.body(len))
            .await?;
        ensure!(
            status == StatusCode::ACCEPTED,
            "{}: PATCH at {offset}: {status}: {}",
            server.label,
            String::from_utf8_lossy(&body)
        );
        upload = location(&response_headers, "")?;
        offset += len;
    }
    let path = format!("{upload}{}digest={}", separator(&upload), blob.digest);
    let (status, _, body) = conn
        .call(Method::PUT, &path, &octet_stream(0), empty())
        .await?;
    ensure!(
        status == StatusCode::CREATED,
        "{}: PUT after chunks: {status}: {}",
        server.label,
        String::from_utf8_lossy(&body)
    );
    Ok(BLOB_SIZE as f64 / started.elapsed().as_secs_f64() / 1e6)
}

/// MB/s of a GET of the blob, its body read and dropped.
async fn download(server: &Server, blob: &BigBlob) -> anyhow::Result<f64> {
    let mut conn = Conn::open(server.addr).await?;
    let uri: Uri = format!("/v2/{REPO}/blobs/{}", blob.digest).parse()?;
    let started = Instant::now();
    let exchange = async {
        let response = conn.send(Method::GET, uri, &[], empty()).await?;
        ensure!(
            response.status() == StatusCode::OK,
            "GET blob: {}",
            response.status()
        );
        let mut body = response.into_body();
        let mut received = 0u64;
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                received += data.len() as u64;
            }
        }
        ensure!(received == BLOB_SIZE, "GET blob: {received} bytes");
        anyhow::Ok(())
    };
    tokio::time::timeout(BIG_TIMEOUT, exchange)
        .await
        .context("GET blob took too long")??;
    Ok(BLOB_SIZE as f64 / started.elapsed().as_secs_f64() / 1e6)
}

impl Conn {
    /// A request with a big body; the status once the response (small) has been read.
    async fn call_big(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(HeaderName, HeaderValue)],
        body: ReqBody,
    ) -> anyhow::Result<StatusCode> {
        let uri: Uri = path.parse()?;
        let exchange = async {
            let response = self.send(method, uri, headers, body).await?;
            let status = response.status();
            response.into_body().collect().await?;
            anyhow::Ok(status)
        };
        tokio::time::timeout(BIG_TIMEOUT, exchange)
            .await
            .with_context(|| format!("{path} took over {BIG_TIMEOUT:?}"))?
    }
}

/// Requests per second and latency percentiles of one concurrency run.
struct Load {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// `concurrency` workers, each on its own connection, send the same request back to back for
/// [`WARM_UP`] and then [`MEASURE`]; only the measured span counts.
async fn load(
    server: &Server,
    concurrency: usize,
    method: Method,
    path: &str,
) -> anyhow::Result<Load> {
    let uri: Uri = path.parse()?;
    let mut conns = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        conns.push(Conn::open(server.addr).await?);
    }
    let started = Instant::now();
    let measure_from = started + WARM_UP;
    let end = measure_from + MEASURE;
    let mut workers = Vec::new();
    for mut conn in conns {
        let (method, uri) = (method.clone(), uri.clone());
        workers.push(tokio::spawn(async move {
            let accept = [(header::ACCEPT, HeaderValue::from_static(ACCEPT_MANIFESTS))];
            let mut latencies = Vec::with_capacity(65_536);
            for _ in 0..MAX_REQUESTS_PER_WORKER {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let exchange = async {
                    let response = conn
                        .send(method.clone(), uri.clone(), &accept, empty())
                        .await?;
                    let status = response.status();
                    response.into_body().collect().await?;
                    anyhow::Ok(status)
                };
                let status = tokio::time::timeout(SMALL_TIMEOUT, exchange)
                    .await
                    .context("a request took too long")??;
                ensure!(status == StatusCode::OK, "{method} {uri}: {status}");
                if sent >= measure_from {
                    latencies.push(sent.elapsed());
                }
            }
            anyhow::Ok((latencies, Instant::now()))
        }));
    }
    let mut latencies = Vec::new();
    let mut last = measure_from;
    for worker in workers {
        let (mine, finished) = worker.await??;
        latencies.extend(mine);
        last = last.max(finished);
    }
    ensure!(
        !latencies.is_empty(),
        "{}: no request completed",
        server.label
    );
    latencies.sort_unstable();
    let percentile = |p: f64| {
        let index = ((latencies.len() - 1) as f64 * p).round() as usize;
        latencies[index].as_secs_f64() * 1e3
    };
    Ok(Load {
        per_second: latencies.len() as f64 / (last - measure_from).as_secs_f64(),
        p50_ms: percentile(0.50),
        p99_ms: percentile(0.99),
    })
}

/// The median latency, in ms, of `GET /v2/_catalog?n=1000`, checked to hold 1,000 names.
async fn catalog(server: &Server) -> anyhow::Result<f64> {
    let mut conn = Conn::open(server.addr).await?;
    let mut times = Vec::with_capacity(CATALOG_RUNS);
    for run in 0..=CATALOG_RUNS {
        let started = Instant::now();
        let (status, _, body) = conn
            .call(Method::GET, "/v2/_catalog?n=1000", &[], empty())
            .await?;
        let elapsed = started.elapsed();
        ensure!(
            status == StatusCode::OK,
            "{}: catalog: {status}",
            server.label
        );
        let names: serde_json::Value = serde_json::from_slice(&body)?;
        let count = names["repositories"].as_array().map_or(0, Vec::len);
        ensure!(
            count == REPOSITORIES,
            "{}: the catalog holds {count} names",
            server.label
        );
        // The first is a warm-up.
        if run > 0 {
            times.push(elapsed.as_secs_f64() * 1e3);
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// Runs `test` against Gantry, then Distribution.
macro_rules! both {
    ($servers:expr, $what:literal, |$server:ident| $test:expr) => {{
        let mut figures = [0.0f64; 2];
        for (slot, $server) in figures.iter_mut().zip($servers.iter()) {
            eprintln!("xtask bench server: {}: {}", $server.label, $what);
            *slot = $test
                .await
                .with_context(|| format!("{}: {}", $server.label, $what))?;
            eprintln!(
                "xtask bench server: {}: {what}: {:.2}",
                $server.label,
                *slot,
                what = $what
            );
        }
        figures
    }};
}

async fn measure() -> anyhow::Result<String> {
    let load_before = load_average();
    eprintln!("xtask bench server: making two 1 GiB blobs and their digests");
    let (whole, chunked) = (BigBlob::new(0x5eed_0001), BigBlob::new(0x5eed_0002));

    let servers = [start_gantry()?, start_distribution()?];
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = [servers[0].memory()?.0, servers[1].memory()?.0];

    let push = both!(servers, "push 1,000 tiny repositories", |s| {
        push_repositories(s)
    });
    let up_whole = both!(servers, "monolithic upload", |s| upload_monolithic(
        s, &whole
    ));
    let up_chunked = both!(servers, "chunked upload", |s| upload_chunked(s, &chunked));
    let down = both!(servers, "download", |s| download(s, &whole));

    let manifest_path = format!("/v2/{REPO}/manifests/latest");
    let head_path = format!("/v2/{REPO}/blobs/{}", sha256(LAYER));
    let mut load_rows = String::new();
    for (what, method, path) in [
        ("manifest GET by tag", Method::GET, &manifest_path),
        ("blob HEAD", Method::HEAD, &head_path),
    ] {
        for concurrency in [16, 64] {
            let mut figures = Vec::new();
            for server in &servers {
                eprintln!(
                    "xtask bench server: {}: {what} at {concurrency}",
                    server.label
                );
                let figure = load(server, concurrency, method.clone(), path).await?;
                eprintln!(
                    "xtask bench server: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
                    figure.per_second, figure.p50_ms, figure.p99_ms
                );
                figures.push(figure);
            }
            let (g, d) = (&figures[0], &figures[1]);
            load_rows.push_str(&row(
                &format!("{what}, concurrency {concurrency}: requests/s"),
                [g.per_second, d.per_second],
                0,
                "≥ 10x",
                Some(g.per_second >= 10.0 * d.per_second),
            ));
            load_rows.push_str(&row(
                &format!("{what}, concurrency {concurrency}: p50 latency, ms"),
                [g.p50_ms, d.p50_ms],
                2,
                "",
                None,
            ));
            let (target, met) = if concurrency == 64 {
                ("< 5 ms", Some(g.p99_ms < 5.0))
            } else {
                ("", None)
            };
            load_rows.push_str(&row(
                &format!("{what}, concurrency {concurrency}: p99 latency, ms"),
                [g.p99_ms, d.p99_ms],
                2,
                target,
                met,
            ));
        }
    }

    let catalog_ms = both!(servers, "catalog", |s| catalog(s));
    let after = [servers[0].memory()?, servers[1].memory()?];
    let load_after = load_average();

    let mut out = String::new();
    writeln!(
        out,
        "Measured on {cpu}, {cores} cores shared by the servers and the load generator, in one \
         run of `cargo xtask bench server` (load average {load_before} before, {load_after} \
         after). Gantry is `gantry serve` from `cargo build --release -p gantry` at log level \
         error; Distribution is Debian's `docker-registry` 2.8.2 with filesystem storage, the \
         in-memory blob descriptor cache of Debian's packaged config, log level error and no \
         access log. Each has a fresh data directory under `target/bench-tmp`, on the disk. \
         Ratios are Gantry's figure over Distribution's.",
        cpu = super::cpu_model(),
        cores = std::thread::available_parallelism().map_or(1, usize::from),
    )?;
    out.push_str(
        "\nBlob transfer: one 1 GiB blob per upload on one connection (MB/s is 10⁶ bytes/s).\n\n",
    );
    out.push_str(HEADER);
    out.push_str(&row(
        "upload, monolithic (POST, PUT ?digest= streaming 1 GiB): MB/s",
        up_whole,
        0,
        "≥ 2.5x",
        Some(up_whole[0] >= 2.5 * up_whole[1]),
    ));
    out.push_str(&row(
        "upload, chunked (64 PATCHes of 16 MiB with Content-Range, PUT): MB/s",
        up_chunked,
        0,
        "≥ 2.5x",
        Some(up_chunked[0] >= 2.5 * up_chunked[1]),
    ));
    out.push_str(&row(
        "download (GET, body read and dropped): MB/s",
        down,
        0,
        "≥ 1.2x",
        Some(down[0] >= 1.2 * down[1]),
    ));
    writeln!(
        out,
        "\nSmall requests: each worker on its own keep-alive connection, {warm} ms of warm-up \
         then {measure} s measured; latency is per request as the client sees it.\n",
        warm = WARM_UP.as_millis(),
        measure = MEASURE.as_secs(),
    )?;
    out.push_str(HEADER);
    out.push_str(&load_rows);
    out.push_str(
        "\nCatalog: 1,000 repositories, each pushed as a config, a layer and an OCI manifest \
         (5,000 requests over 16 connections).\n\n",
    );
    out.push_str(HEADER);
    out.push_str(&row("push the 1,000 repositories: s", push, 2, "", None));
    out.push_str(&row(
        &format!("GET /v2/_catalog?n=1000, median of {CATALOG_RUNS}: ms"),
        catalog_ms,
        2,
        "≤ 0.2x",
        Some(catalog_ms[0] <= 0.2 * catalog_ms[1]),
    ));
    out.push_str("\nMemory, from /proc/PID/status (MiB).\n\n");
    out.push_str(HEADER);
    let rss_after = [after[0].0, after[1].0];
    let peak = [after[0].1, after[1].1];
    out.push_str(&row(
        "VmRSS idle, before any request",
        idle,
        1,
        "≤ 0.5x",
        Some(idle[0] <= 0.5 * idle[1]),
    ));
    out.push_str(&row(
        "VmRSS just after the load",
        rss_after,
        1,
        "≤ 0.5x",
        Some(rss_after[0] <= 0.5 * rss_after[1]),
    ));
    out.push_str(&row(
        "VmHWM, the peak over the run",
        peak,
        1,
        "≤ 0.5x",
        Some(peak[0] <= 0.5 * peak[1]),
    ));
    Ok(out)
}

const HEADER: &str = "| metric | Gantry | Distribution 2.8.2 | ratio | target | met? |\n\
                      |---|---|---|---|---|---|\n";

fn row(metric: &str, [g, d]: [f64; 2], decimals: usize, target: &str, met: Option<bool>) -> String {
    let ratio = if d > 0.0 {
        format!("{:.2}x", g / d)
    } else {
        "—".to_owned()
    };
    let target = if target.is_empty() { "—" } else { target };
    let met = match met {
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "—",
    };
    format!("| {metric} | {g:.decimals$} | {d:.decimals$} | {ratio} | {target} | {met} |\n")
}
