//! The workloads, run against one server at a time: pushes of tiny repositories, 1 GiB uploads
//! and downloads, concurrent small requests, and catalog listings.

use std::time::Instant;

use anyhow::{Context, ensure};
use gantry_reference::{Algorithm, Digest, Digester};
use http_body_util::BodyExt;
use hyper::header::{self, HeaderValue};
use hyper::{Method, StatusCode, Uri};

use super::conn::{BigBlob, Conn, empty, full, location, octet_stream};
use super::peers::Server;
use super::{
    ACCEPT_MANIFESTS, BIG_TIMEOUT, CATALOG_RUNS, CHUNK, MAX_REQUESTS_PER_WORKER, MEASURE,
    OCI_MANIFEST, PUSH_WORKERS, REPO, REPOSITORIES, SMALL_TIMEOUT, WARM_UP,
};

pub(in crate::bench) async fn start_upload(conn: &mut Conn, repo: &str) -> anyhow::Result<String> {
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
pub(in crate::bench) async fn push_small_blob(
    conn: &mut Conn,
    repo: &str,
    bytes: &[u8],
) -> anyhow::Result<Digest> {
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

pub(in crate::bench) fn separator(path: &str) -> char {
    if path.contains('?') { '&' } else { '?' }
}

pub(in crate::bench) fn sha256(bytes: &[u8]) -> Digest {
    let mut digester = Digester::new(Algorithm::Sha256);
    digester.update(bytes);
    digester.finish()
}

pub(in crate::bench) const LAYER: &[u8] = b"a tiny layer, the same in every repository";

/// A repository with a config, a layer and an OCI manifest tagged `latest`.
pub(in crate::bench) async fn push_tiny_repository(
    conn: &mut Conn,
    index: usize,
) -> anyhow::Result<()> {
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
pub(in crate::bench) async fn push_repositories(server: &Server) -> anyhow::Result<f64> {
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
pub(in crate::bench) async fn upload_monolithic(
    server: &Server,
    blob: &BigBlob,
) -> anyhow::Result<f64> {
    let mut conn = Conn::open(server.addr).await?;
    let started = Instant::now();
    let upload = start_upload(&mut conn, REPO).await?;
    let path = format!("{upload}{}digest={}", separator(&upload), blob.digest);
    let headers = octet_stream(blob.size);
    let status = conn
        .call_big(Method::PUT, &path, &headers, blob.body(blob.size))
        .await?;
    ensure!(
        status == StatusCode::CREATED,
        "{}: PUT 1 GiB: {status}",
        server.label
    );
    Ok(blob.size as f64 / started.elapsed().as_secs_f64() / 1e6)
}

/// MB/s of a chunked upload: POST, PATCHes of [`CHUNK`] with `Content-Range`, PUT `?digest=`.
pub(in crate::bench) async fn upload_chunked(
    server: &Server,
    blob: &BigBlob,
) -> anyhow::Result<f64> {
    let mut conn = Conn::open(server.addr).await?;
    let started = Instant::now();
    let mut upload = start_upload(&mut conn, REPO).await?;
    let mut offset = 0;
    while offset < blob.size {
        let len = CHUNK.min(blob.size - offset);
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
    Ok(blob.size as f64 / started.elapsed().as_secs_f64() / 1e6)
}

/// MB/s of a GET of the blob, its body read and dropped.
pub(in crate::bench) async fn download(server: &Server, blob: &BigBlob) -> anyhow::Result<f64> {
    let mut conn = Conn::open(server.addr).await?;
    let uri: Uri = format!("/v2/{REPO}/blobs/{}", blob.digest).parse()?;
    let started = Instant::now();
    let exchange = async {
        let response = conn.send(Method::GET, uri, &[], empty()).await?;
        receive(response, blob.size).await
    };
    tokio::time::timeout(BIG_TIMEOUT, exchange)
        .await
        .context("GET blob took too long")??;
    Ok(blob.size as f64 / started.elapsed().as_secs_f64() / 1e6)
}

/// Reads and drops the body of a `200` answer to a blob GET, checking it holds `size` bytes.
pub(in crate::bench) async fn receive(
    response: hyper::Response<hyper::body::Incoming>,
    size: u64,
) -> anyhow::Result<()> {
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
    ensure!(received == size, "GET blob: {received} bytes");
    Ok(())
}

/// Requests per second and latency percentiles of one concurrency run.
pub(in crate::bench) struct Load {
    pub(in crate::bench) per_second: f64,
    pub(in crate::bench) p50_ms: f64,
    pub(in crate::bench) p99_ms: f64,
}

/// `concurrency` workers, each on its own connection, send the same request back to back for
/// [`WARM_UP`] and then [`MEASURE`]; only the measured span counts.
pub(in crate::bench) async fn load(
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
pub(in crate::bench) async fn catalog(server: &Server) -> anyhow::Result<f64> {
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
