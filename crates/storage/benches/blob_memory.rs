//! Peak memory while writing a 4 GiB blob through the registry store on the filesystem driver
//! and reading it back: the process's peak resident set (`VmHWM`) against its resident set
//! before (`VmRSS`). A plain program (not criterion), so the peak is this work's alone.
//!
//! The target (issue 4): under 64 MiB above the baseline. Exits with failure above it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark: failures panic with their cause"
)]

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use gantry_reference::{Algorithm, Digester, RepositoryName};
use gantry_storage::{
    CreateOptions, Created, FilesystemDriver, Registry, RegistryOptions, StorageDriver,
};
use tokio::io::AsyncReadExt;

const SIZE: u64 = 4 << 30;
const CHUNK: usize = 64 << 10;
const BOUND_MIB: u64 = 64;

/// A field of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|line| line.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn main() {
    // `cargo bench -- <filter>` passes arguments meant for criterion: a filter that does not
    // name this benchmark skips it.
    let filter = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    if filter.is_some_and(|filter| !"blob_memory".contains(&filter)) {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let block = Bytes::from(
        (0..1u32 << 20)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect::<Vec<_>>(),
    );
    let baseline = status_kib("VmRSS:");
    let started = Instant::now();
    runtime.block_on(async {
        let driver: Arc<dyn StorageDriver> = Arc::new(FilesystemDriver::new(dir.path()).unwrap());
        let registry = Registry::new(driver, RegistryOptions::new()).unwrap();
        let repository = registry.repository(&RepositoryName::parse("bench/memory").unwrap());
        let Created::Upload(mut writer) = repository
            .blobs()
            .create(CreateOptions::new())
            .await
            .unwrap()
        else {
            panic!("no mount was asked for");
        };
        let mut digester = Digester::new(Algorithm::Sha256);
        for n in 0..SIZE / CHUNK as u64 {
            let start = (n as usize * CHUNK) % block.len();
            let chunk = block.slice(start..start + CHUNK);
            digester.update(&chunk);
            writer.write(chunk).await.unwrap();
        }
        let digest = digester.finish();
        writer.commit(&digest, Some(SIZE)).await.unwrap();

        let (descriptor, mut reader) = repository.blobs().get(&digest).await.unwrap();
        assert_eq!(descriptor.size, SIZE);
        let mut buffer = vec![0; CHUNK];
        let mut read = 0u64;
        let mut check = Digester::new(Algorithm::Sha256);
        for _ in 0..=SIZE {
            let n = reader.read(&mut buffer).await.unwrap();
            if n == 0 {
                break;
            }
            check.update(&buffer[..n]);
            read += n as u64;
        }
        assert_eq!(read, SIZE);
        assert_eq!(check.finish(), digest);
    });
    let peak = status_kib("VmHWM:");
    let above_mib = peak.saturating_sub(baseline) as f64 / 1024.0;
    println!(
        "blob_memory: wrote and read back a 4 GiB blob in {:.1} s; peak resident set {:.1} MiB, \
         {above_mib:.1} MiB above the baseline of {:.1} MiB (bound: {BOUND_MIB} MiB)",
        started.elapsed().as_secs_f64(),
        peak as f64 / 1024.0,
        baseline as f64 / 1024.0,
    );
    if above_mib >= BOUND_MIB as f64 {
        eprintln!("blob_memory: peak memory above the bound");
        std::process::exit(1);
    }
}
