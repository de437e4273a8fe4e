//! The writer `store_crash` kills mid-write, run as the kit's `store-crash-writer` binary:
//! it commits blobs and reports each on standard output, then streams an upload until killed.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;

use super::{filesystem, name, start, upload};

/// The in-flight upload's content: a pattern known to both processes.
pub const INFLIGHT_SIZE: u64 = 64 * 1024 * 1024;

/// `len` bytes of the in-flight upload's pattern from offset `from`.
pub fn pattern(from: u64, len: usize) -> Vec<u8> {
    (from..from + len as u64).map(|i| (i % 251) as u8).collect()
}

/// The content of committed blob `i`.
pub fn committed_content(i: u32) -> Vec<u8> {
    let mut content = format!("blob {i} ").into_bytes();
    content.resize(100_000 + i as usize, (i % 256) as u8);
    content
}

/// The child's work in `dir`: commits five blobs and reports each (`committed I DIGEST`),
/// starts an upload (`inflight ID`), closes it after 1 MiB (`closed`), resumes it and streams
/// the rest, reporting every 4 MiB (`progress OFFSET`); then waits to be killed.
pub fn write_until_killed(dir: &Path) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let registry = filesystem(dir);
        let repository = registry.repository(&name("crash/app"));
        let mut out = std::io::stdout();
        for i in 0..5u32 {
            let descriptor = upload(&repository, &committed_content(i), 30_000).await;
            writeln!(out, "committed {i} {}", descriptor.digest).unwrap();
            out.flush().unwrap();
        }
        let mut writer = start(&repository).await;
        writeln!(out, "inflight {}", writer.id()).unwrap();
        writer
            .write(Bytes::from(pattern(0, 1 << 20)))
            .await
            .unwrap();
        let id = writer.id().to_owned();
        writer.close().await.unwrap();
        writeln!(out, "closed").unwrap();
        out.flush().unwrap();
        let mut writer = repository.blobs().resume(&id).await.unwrap();
        // Bounded: the upload ends long after the parent has killed this process.
        while writer.size() < INFLIGHT_SIZE {
            let offset = writer.size();
            writer
                .write(Bytes::from(pattern(offset, 256 * 1024)))
                .await
                .unwrap();
            if offset % (4 << 20) == 0 {
                writeln!(out, "progress {offset}").unwrap();
                out.flush().unwrap();
            }
        }
        std::thread::sleep(Duration::from_secs(60));
    });
}

/// The path of the freshly built `store-crash-writer` binary.
pub fn writer_binary() -> &'static Path {
    static BINARY: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BINARY.get_or_init(|| {
        crate::gantry::build("gantry-test-support", "store-crash-writer", &["storage"])
    })
}
