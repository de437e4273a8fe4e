//! Memory stays flat in the file size on S3 too: 256 MiB written through one multipart upload
//! (closed and carried on halfway, as a chunked upload is), moved, and read back as a stream
//! raise the process's peak resident set by less than 64 MiB, with the default part size and
//! upload concurrency.
//!
//! This file holds one test so that it runs alone in its process, where the peak is its own.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test: failures panic with their cause"
)]

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use gantry_storage::{S3Credentials, S3Driver, S3Options, StorageDriver, StoragePath};
use gantry_test_support::rss::status_kib;
use gantry_test_support::seaweed::{S3Server, SeaweedMini};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_file_through_s3_keeps_memory_flat() {
    const SIZE: u64 = 256 << 20;
    const CHUNK: usize = 256 << 10;
    const BOUND_KIB: u64 = 64 << 10;
    let server = SeaweedMini::start();
    let mut options = S3Options::new(server.bucket());
    options.endpoint = Some(server.endpoint().to_owned());
    options.credentials = Some(S3Credentials::new(server.access_key(), server.secret_key()));
    let driver: Arc<dyn StorageDriver> = Arc::new(S3Driver::connect(options).await.unwrap());
    // Incompressible bytes, generated once; every chunk is copied from them.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let block = Bytes::from(
        (0..(4 << 20) / 8)
            .flat_map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()
            })
            .collect::<Vec<u8>>(),
    );
    let baseline = status_kib("VmRSS:");

    let upload = StoragePath::new("/uploads/large/data").unwrap();
    let mut writer = driver.writer(&upload, false).await.unwrap();
    for n in 0..SIZE / CHUNK as u64 {
        if n == SIZE / CHUNK as u64 / 2 {
            writer.close().await.unwrap();
            writer = driver.writer(&upload, true).await.unwrap();
        }
        // A chunk of its own, as a request body's chunks are: what the writer keeps of them
        // counts.
        let start = (n as usize * CHUNK) % block.len();
        writer
            .write(Bytes::copy_from_slice(&block[start..start + CHUNK]))
            .await
            .unwrap();
    }
    writer.commit().await.unwrap();
    let blob = StoragePath::new("/blobs/large/data").unwrap();
    driver.move_path(&upload, &blob).await.unwrap();
    assert_eq!(driver.stat(&blob).await.unwrap().size, SIZE);

    let mut stream = driver.read_stream(&blob, 0, SIZE).await.unwrap();
    let mut read = 0u64;
    while let Some(chunk) = stream.next().await {
        read += chunk.unwrap().len() as u64;
    }
    assert_eq!(read, SIZE);

    let peak = status_kib("VmHWM:");
    eprintln!(
        "peak resident set {peak} KiB, baseline {baseline} KiB: {} KiB above",
        peak.saturating_sub(baseline)
    );
    assert!(
        peak.saturating_sub(baseline) < BOUND_KIB,
        "peak resident set {peak} KiB, {} KiB above the baseline of {baseline} KiB",
        peak.saturating_sub(baseline)
    );
}
