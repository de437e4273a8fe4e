//! Committing a 1 GiB blob through a `BlobWriter` on the filesystem driver, beside the two
//! things that bound it, measured in the same run: SHA-256 over 1 GiB in memory (`Digester`) and
//! the disk's sequential write speed (1 GiB written with `std::fs` and synced).
//!
//! The target (issue 4): the commit runs at no less than 80% of the slower of the two.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark: failures panic with their cause"
)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group};
use gantry_reference::{Algorithm, Digest, Digester, RepositoryName};
use gantry_storage::{
    CreateOptions, Created, FilesystemDriver, Registry, RegistryOptions, StorageDriver, StoragePath,
};

const SIZE: u64 = 1 << 30;
/// What an HTTP body typically arrives in.
const CHUNK: usize = 64 << 10;

/// 1 MiB of varied bytes, sliced into the chunks of every run.
fn block() -> Bytes {
    Bytes::from(
        (0..1u32 << 20)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect::<Vec<_>>(),
    )
}

fn chunks(block: &Bytes) -> impl Iterator<Item = Bytes> + '_ {
    (0..SIZE / CHUNK as u64).map(move |n| {
        let start = (n as usize * CHUNK) % block.len();
        block.slice(start..start + CHUNK)
    })
}

/// Time spent and runs made, per benchmark, warm-up included, for the summary line.
static TOTALS: Mutex<Vec<(&str, Duration, u64)>> = Mutex::new(Vec::new());

fn record(name: &'static str, time: Duration, iters: u64) -> Duration {
    let mut totals = TOTALS.lock().unwrap();
    match totals.iter_mut().find(|(n, _, _)| *n == name) {
        Some((_, total, runs)) => {
            *total += time;
            *runs += iters;
        }
        None => totals.push((name, time, iters)),
    }
    time
}

/// Prints each benchmark's MiB/s over all its runs, and the ratio the issue sets a target for.
fn summary() {
    let totals = TOTALS.lock().unwrap();
    let speed = |name: &str| {
        totals
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, time, runs)| (SIZE * runs) as f64 / time.as_secs_f64() / f64::from(1 << 20))
    };
    let (Some(sha), Some(disk), Some(blob)) = (
        speed("sha256_1GiB"),
        speed("disk_write_fsync_1GiB"),
        speed("blob_writer_commit_1GiB"),
    ) else {
        return;
    };
    println!(
        "summary: sha256 {sha:.0} MiB/s, disk write+fsync {disk:.0} MiB/s, BlobWriter commit \
         {blob:.0} MiB/s: {:.2} of the slower (target: at least 0.80)",
        blob / sha.min(disk)
    );
}

fn scratch_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

fn bench(c: &mut Criterion) {
    let block = block();
    let mut group = c.benchmark_group("storage");
    group
        .throughput(Throughput::Bytes(SIZE))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20));

    group.bench_function("sha256_1GiB", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let mut digester = Digester::new(Algorithm::Sha256);
                for _ in 0..SIZE >> 20 {
                    digester.update(std::hint::black_box(&block));
                }
                std::hint::black_box(digester.finish());
            }
            record("sha256_1GiB", start.elapsed(), iters)
        })
    });

    let dir = scratch_dir();
    group.bench_function("disk_write_fsync_1GiB", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let path = dir.path().join("sequential");
                let start = Instant::now();
                let mut file = std::fs::File::create(&path).unwrap();
                for _ in 0..SIZE >> 20 {
                    file.write_all(&block).unwrap();
                }
                file.sync_all().unwrap();
                total += start.elapsed();
                drop(file);
                std::fs::remove_file(&path).unwrap();
            }
            record("disk_write_fsync_1GiB", total, iters)
        })
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let driver: Arc<dyn StorageDriver> = Arc::new(FilesystemDriver::new(dir.path()).unwrap());
    let name = RepositoryName::parse("bench/blob").unwrap();
    let digest: Digest = {
        let mut digester = Digester::new(Algorithm::Sha256);
        chunks(&block).for_each(|chunk| digester.update(&chunk));
        digester.finish()
    };
    let docker = StoragePath::new("/docker").unwrap();
    group.bench_function("blob_writer_commit_1GiB", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    // A new registry each time: its size cache must not remember the blob
                    // deleted below.
                    let registry =
                        Registry::new(Arc::clone(&driver), RegistryOptions::new()).unwrap();
                    let repository = registry.repository(&name);
                    let start = Instant::now();
                    let Created::Upload(mut writer) = repository
                        .blobs()
                        .create(CreateOptions::new())
                        .await
                        .unwrap()
                    else {
                        panic!("no mount was asked for");
                    };
                    for chunk in chunks(&block) {
                        writer.write(chunk).await.unwrap();
                    }
                    let descriptor = writer.commit(&digest, Some(SIZE)).await.unwrap();
                    total += start.elapsed();
                    assert_eq!(descriptor.size, SIZE);
                    driver.delete(&docker).await.unwrap();
                }
                record("blob_writer_commit_1GiB", total, iters)
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    summary();
}
