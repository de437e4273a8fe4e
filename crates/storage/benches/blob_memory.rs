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

use bytes::Bytes;
use gantry_reference::{Algorithm, Digester, RepositoryName};
use gantry_storage::{
    CreateOptions, Created, FilesystemDriver, Registry, RegistryOptions, StorageDriver,
};
use gantry_test_support::rss::{self, Baseline};
use tokio::io::AsyncReadExt;

const SIZE: u64 = 4 << 30;
const CHUNK: usize = 64 << 10;
const BOUND_MIB: u64 = 64;

fn main() {
    if rss::filtered_out("blob_memory") {
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
    let baseline = Baseline::now();
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
    baseline.report("blob_memory", "wrote and read back a 4 GiB blob", BOUND_MIB);
}
