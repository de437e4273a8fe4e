//! `cargo xtask bench s3`: `gantry serve` beside Debian's `docker-registry` (Distribution
//! 2.8.2, its `s3` driver) on one SeaweedFS (`weed mini`, its data in a temporary directory on
//! the disk), each registry on its own bucket behind its own counting S3 relay, measured in the
//! same run one after the other with the same requests and data: 1 GiB uploads (monolithic and
//! chunked), 1 GiB downloads with redirects off and on, manifest GETs and blob HEADs at
//! concurrency 16 and 64, the S3 requests of one pushed image by operation, and each registry's
//! peak memory. Then a separate 4 GiB push and pull through Gantry on its own bucket checks
//! that its peak resident set stays within [`MEMORY_BOUND_MIB`] of its idle baseline.
//!
//! The client is the server benchmark's (one keep-alive hyper connection per worker, bodies
//! streamed from one generated block) and runs optimised. Everything listens on 127.0.0.1, every
//! loop is bounded, and every process is stopped by PID when this returns, on error too.

mod baseline;
mod cpu;
mod image;
mod memory;
mod peers;
mod report;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use gantry_test_support::s3_relay::S3Op;
use gantry_test_support::seaweed::{S3Server, SeaweedMini};
use hyper::header;
use hyper::{Method, StatusCode, Uri};

use self::image::Image;
use self::peers::{Bucket, start_distribution, start_gantry};
use self::report::Figures;
use super::load_average;
use crate::bench::server::conn::{BigBlob, Conn, empty};
use crate::bench::server::load::{download, load, receive, upload_chunked, upload_monolithic};
use crate::bench::server::peers::{Server, bench_root};
use crate::bench::server::report::load_rows as small_request_rows;
use crate::bench::server::{BIG_TIMEOUT, REPO, beside_distribution};

/// The key prefix of both registries in their buckets (Distribution's `rootdirectory`).
const ROOT_DIRECTORY: &str = "registry";
/// The repository of the pushed image, whose manifest and biggest layer the small requests ask
/// for.
const IMAGE_REPO: &str = "bench/image";
/// The layers of the pushed image: below a part, a few parts, many parts.
const LAYER_SIZES: [u64; 3] = [1 << 20, 8 << 20, 32 << 20];
/// The blob of the memory check.
const MEMORY_BLOB: u64 = 4 << 30;
/// How far above its idle resident set Gantry may peak over the memory check.
const MEMORY_BOUND_MIB: f64 = 64.0;

/// Runs `test` against each of `servers` (Gantry, then Distribution), timing the CPU each of
/// them, the store's processes `store` and this process spend; gives the figures and the
/// [`cpu::Spent`] of each, in that order.
macro_rules! timed {
    ($servers:expr, $store:expr, $what:literal, |$server:ident| $test:expr) => {{
        let mut figures = [0.0f64; 2];
        let mut spent = [cpu::Spent::default(); 2];
        for ((slot, time), $server) in figures.iter_mut().zip(&mut spent).zip($servers.iter()) {
            eprintln!("xtask bench s3: {}: {}", $server.label, $what);
            let clock = cpu::Clock::start($server.id(), $store)?;
            *slot = $test
                .await
                .with_context(|| format!("{}: {}", $server.label, $what))?;
            *time = clock.stop()?;
            eprintln!(
                "xtask bench s3: {}: {what}: {:.2} ({:?})",
                $server.label,
                *slot,
                *time,
                what = $what
            );
        }
        (figures, spent)
    }};
}

/// Runs the benchmark and returns the markdown section for `docs/benchmarks.md`.
pub(crate) fn section() -> anyhow::Result<String> {
    beside_distribution("s3", measure)
}

async fn measure() -> anyhow::Result<String> {
    let load_before = load_average();
    eprintln!("xtask bench s3: making the blobs and their digests");
    let (whole, chunked) = (BigBlob::new(0x5e3d_0001), BigBlob::new(0x5e3d_0002));
    // The second image goes to the same repository: the repository's directories exist then.
    let images = [Image::new(0x1a7e_0000), Image::new(0x1a7e_0100)];

    eprintln!("xtask bench s3: starting weed mini");
    let store = SeaweedMini::start();
    let service = store.service().clone();
    let buckets = [
        Bucket::create(&service, "gantry-bench").await?,
        Bucket::create(&service, "distribution-bench").await?,
    ];
    let servers = [
        start_gantry("Gantry", &buckets[0].service, false)?,
        start_distribution("Distribution", &buckets[1].service, false)?,
    ];
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = [servers[0].memory()?.0, servers[1].memory()?.0];

    let mut push_ops: [[Ops; 2]; 2] = Default::default();
    let requests = bench_root("s3-requests")?;
    for (n, image) in images.iter().enumerate() {
        for (i, (server, bucket)) in servers.iter().zip(&buckets).enumerate() {
            eprintln!("xtask bench s3: {}: push image {}", server.label, n + 1);
            let before = bucket.relay.counts();
            let seen = bucket.relay.total();
            image::push(server, image)
                .await
                .with_context(|| format!("{}: pushing image {}", server.label, n + 1))?;
            push_ops[n][i] = bucket.since(&before);
            let log = requests.join(format!(
                "image-{}-push-{}.log",
                n + 1,
                server.label.to_lowercase()
            ));
            std::fs::write(&log, bucket.requests_since(seen))
                .with_context(|| format!("writing {}", log.display()))?;
            eprintln!(
                "xtask bench s3: {}: {:?}; each request in {}",
                server.label,
                push_ops[n][i],
                log.display()
            );
        }
    }

    let baseline = baseline::measure(&store, &whole).await?;
    let store_pids = store.pids();
    let mut upload_ops = Vec::new();
    let before = [buckets[0].relay.counts(), buckets[1].relay.counts()];
    let (up_whole, up_whole_time) = timed!(servers, store_pids.clone(), "monolithic upload", |s| {
        upload_monolithic(s, &whole)
    });
    upload_ops.push([buckets[0].since(&before[0]), buckets[1].since(&before[1])]);
    let before = [buckets[0].relay.counts(), buckets[1].relay.counts()];
    let (up_chunked, up_chunked_time) =
        timed!(servers, store_pids.clone(), "chunked upload", |s| {
            upload_chunked(s, &chunked)
        });
    upload_ops.push([buckets[0].since(&before[0]), buckets[1].since(&before[1])]);
    let (down, down_time) = timed!(servers, store_pids.clone(), "download", |s| {
        download(s, &whole)
    });

    let manifest_path = format!("/v2/{IMAGE_REPO}/manifests/latest");
    let layer = images[1].big_layer().context("the image has no layer")?;
    let head_path = format!("/v2/{IMAGE_REPO}/blobs/{layer}");
    let mut load_rows = String::new();
    for (what, method, path) in [
        ("manifest GET by tag", Method::GET, &manifest_path),
        ("blob HEAD", Method::HEAD, &head_path),
    ] {
        for concurrency in [16, 64] {
            let mut figures = Vec::new();
            for server in &servers {
                eprintln!("xtask bench s3: {}: {what} at {concurrency}", server.label);
                let figure = load(server, concurrency, method.clone(), path).await?;
                eprintln!(
                    "xtask bench s3: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
                    figure.per_second, figure.p50_ms, figure.p99_ms
                );
                figures.push(figure);
            }
            load_rows.push_str(&small_request_rows(
                what,
                concurrency,
                [&figures[0], &figures[1]],
                5.0,
                None,
            ));
        }
    }

    // The same buckets served by a second process of each with redirects on.
    let redirecting = [
        start_gantry("Gantry, redirect on", &buckets[0].service, true)?,
        start_distribution("Distribution, redirect on", &buckets[1].service, true)?,
    ];
    let (down_redirect, down_redirect_time) = timed!(
        redirecting,
        store_pids.clone(),
        "download following the redirect",
        |s| download_redirected(s, &whole)
    );
    drop(redirecting);

    let after = [servers[0].memory()?, servers[1].memory()?];
    drop(servers);
    drop(store);
    let memory = memory::check().await?;
    let load_after = load_average();

    report::section(&Figures {
        load_before,
        load_after,
        up_whole,
        up_chunked,
        down,
        down_redirect,
        load_rows,
        push_ops,
        upload_ops,
        baseline,
        time: [
            ("upload, monolithic", up_whole_time),
            ("upload, chunked", up_chunked_time),
            ("download, redirect off", down_time),
            ("download, redirect on", down_redirect_time),
        ],
        idle,
        after,
        memory,
    })
}

/// MB/s of a blob GET answered `307`, the client following `Location` to the object store on a
/// connection of its own (the time includes both requests).
async fn download_redirected(server: &Server, blob: &BigBlob) -> anyhow::Result<f64> {
    let mut conn = Conn::open(server.addr).await?;
    let started = Instant::now();
    let path = format!("/v2/{REPO}/blobs/{}", blob.digest);
    let (status, headers, _) = conn.call(Method::GET, &path, &[], empty()).await?;
    ensure!(
        status == StatusCode::TEMPORARY_REDIRECT,
        "GET {path}: {status}, not a redirect"
    );
    let target: Uri = headers
        .get(header::LOCATION)
        .context("a redirect without Location")?
        .to_str()?
        .parse()?;
    let authority = target.authority().context("a relative redirect")?;
    let path_and_query = target
        .path_and_query()
        .context("a redirect without a path")?;
    let mut store = Conn::open(authority.as_str().parse()?).await?;
    let exchange = async {
        let response = store
            .send(Method::GET, path_and_query.as_str().parse()?, &[], empty())
            .await?;
        receive(response, blob.size).await
    };
    tokio::time::timeout(BIG_TIMEOUT, exchange)
        .await
        .context("the redirected GET took too long")??;
    Ok(blob.size as f64 / started.elapsed().as_secs_f64() / 1e6)
}

/// S3 requests by operation.
type Ops = BTreeMap<S3Op, usize>;
