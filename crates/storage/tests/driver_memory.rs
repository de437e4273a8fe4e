//! Memory stays flat in the file size: streaming 256 MiB through the filesystem driver, in and
//! out, raises the process's peak resident set by far less than the file.
//!
//! This file holds one test so that it runs alone in its process, where the peak is its own.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test: failures panic with their cause"
)]

use std::sync::Arc;

use bytes::Bytes;
use gantry_storage::{FilesystemDriver, StorageDriver, StoragePath};
use tokio::io::AsyncReadExt;

/// A field of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_a_large_file_keeps_memory_flat() {
    const SIZE: u64 = 256 << 20;
    const CHUNK: usize = 64 << 10;
    const BOUND_KIB: u64 = 64 << 10;
    let Some(baseline) = status_kib("VmRSS:") else {
        // No /proc: nothing to measure here.
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let driver: Arc<dyn StorageDriver> = Arc::new(FilesystemDriver::new(dir.path()).unwrap());
    let path = StoragePath::new("/uploads/large/data").unwrap();
    let block = Bytes::from(
        (0..1 << 20)
            .map(|i: u32| (i % 251) as u8)
            .collect::<Vec<_>>(),
    );

    let mut writer = driver.writer(&path, false).await.unwrap();
    for n in 0..SIZE / CHUNK as u64 {
        let start = (n as usize * CHUNK) % block.len();
        writer
            .write(block.slice(start..start + CHUNK))
            .await
            .unwrap();
    }
    writer.commit().await.unwrap();
    assert_eq!(driver.stat(&path).await.unwrap().size, SIZE);

    let mut reader = driver.reader(&path, 0).await.unwrap();
    let mut buffer = vec![0; CHUNK];
    let mut read = 0u64;
    for _ in 0..=SIZE {
        let n = reader.read(&mut buffer).await.unwrap();
        if n == 0 {
            break;
        }
        read += n as u64;
    }
    assert_eq!(read, SIZE);

    let peak = status_kib("VmHWM:").unwrap();
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
