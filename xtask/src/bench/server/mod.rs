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

pub(super) mod conn;
pub(super) mod load;
pub(super) mod peers;
pub(super) mod report;

use std::time::Duration;

use anyhow::{Context, ensure};
use hyper::Method;

use self::conn::BigBlob;
use self::load::{
    LAYER, catalog, download, load, push_repositories, sha256, upload_chunked, upload_monolithic,
};
use self::peers::{DISTRIBUTION, start_distribution, start_gantry};
use self::report::Figures;
use super::load_average;
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
pub(super) const WARM_UP: Duration = Duration::from_millis(500);
pub(super) const MEASURE: Duration = Duration::from_secs(3);
/// A bound on the requests one worker makes in one run, whatever the clock says.
const MAX_REQUESTS_PER_WORKER: usize = 1_000_000;
/// How long a small request gets to answer, and a 1 GiB transfer to end.
const SMALL_TIMEOUT: Duration = Duration::from_secs(30);
pub(super) const BIG_TIMEOUT: Duration = Duration::from_secs(600);

pub(super) const REPO: &str = "catalog/r0000";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// Runs the benchmark and returns the markdown section for `docs/benchmarks.md`.
pub(crate) fn section() -> anyhow::Result<String> {
    beside_distribution("server", measure)
}

/// Runs `measure`, a benchmark of Gantry beside Distribution, from an optimised build (a debug
/// build of xtask hands the run to `cargo run --release`, so that the client is not the slow
/// part), after building `gantry` in release, on a runtime of two worker threads.
pub(super) fn beside_distribution<F>(
    subject: &str,
    measure: impl FnOnce() -> F,
) -> anyhow::Result<String>
where
    F: std::future::Future<Output = anyhow::Result<String>>,
{
    if cfg!(debug_assertions) {
        return super::in_release(subject);
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
    let up_whole = both!(servers, "monolithic upload", |s| {
        upload_monolithic(s, &whole)
    });
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
            load_rows.push_str(&report::load_rows(
                what,
                concurrency,
                [&figures[0], &figures[1]],
                10.0,
                Some(5.0),
            ));
        }
    }

    let catalog_ms = both!(servers, "catalog", |s| catalog(s));
    let after = [servers[0].memory()?, servers[1].memory()?];
    let load_after = load_average();

    report::section(&Figures {
        load_before,
        load_after,
        up_whole,
        up_chunked,
        down,
        load_rows,
        push,
        catalog_ms,
        idle,
        after,
    })
}
