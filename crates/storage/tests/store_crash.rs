//! Crash safety: a writer process killed mid-write leaves a store that opens, serves everything
//! committed before, and resumes or purges what was in flight.
//!
//! The test runs this test binary again as the child, with `GANTRY_STORE_CRASH_DIR` naming the
//! directory it writes into; the child reports progress on stdout and is killed mid-loop.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod store_support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use gantry_reference::Digest;
use gantry_storage::StorageError;
use store_support::*;

const ENV: &str = "GANTRY_STORE_CRASH_DIR";
/// The in-flight upload's content: a pattern known to both processes.
const INFLIGHT_SIZE: u64 = 64 * 1024 * 1024;

fn pattern(from: u64, len: usize) -> Vec<u8> {
    (from..from + len as u64).map(|i| (i % 251) as u8).collect()
}

fn committed_content(i: u32) -> Vec<u8> {
    let mut content = format!("blob {i} ").into_bytes();
    content.resize(100_000 + i as usize, (i % 256) as u8);
    content
}

/// The child: commits blobs and reports each, then streams an upload until killed.
#[test]
fn crash_writer_child() {
    let Ok(dir) = std::env::var(ENV) else {
        return; // An ordinary run: nothing to do.
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let registry = filesystem(std::path::Path::new(&dir));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_writer_leaves_a_store_that_serves_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash_writer_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut committed: Vec<(u32, Digest)> = Vec::new();
    let mut inflight = None;
    let mut progress = 0;
    // Bounded wait: until the child has streamed past its first close, or 60 s.
    while progress < 2 {
        let line = received
            .recv_timeout(Duration::from_secs(60))
            .expect("the child reports progress in time");
        // libtest may print its "test ... " header on the same line, before the report.
        let report = ["committed", "inflight", "progress"]
            .iter()
            .filter_map(|word| line.find(word))
            .min()
            .map_or("", |start| &line[start..]);
        let words: Vec<&str> = report.split_whitespace().collect();
        match words.as_slice() {
            ["committed", i, digest] => {
                committed.push((i.parse().unwrap(), Digest::parse(digest).unwrap()));
            }
            ["inflight", id] => inflight = Some((*id).to_owned()),
            ["progress", _] => progress += 1,
            _ => {}
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(committed.len(), 5);
    let id = inflight.unwrap();

    // A new process opens the store: everything committed is served whole.
    let registry = filesystem(dir.path());
    let repository = registry.repository(&name("crash/app"));
    for (i, digest) in &committed {
        assert_eq!(blob(&repository, digest).await, committed_content(*i));
    }
    assert_eq!(
        registry.catalog(10, None).await.unwrap(),
        [name("crash/app")]
    );

    // The upload in flight resumes from what storage holds; its bytes are verified at commit,
    // so a torn tail can only fail the commit, never show up under the digest.
    let full_digest = sha256(&pattern(0, INFLIGHT_SIZE as usize));
    let mut writer = repository.blobs().resume(&id).await.unwrap();
    assert!(writer.size() >= 1 << 20, "the closed part is kept");
    while writer.size() < INFLIGHT_SIZE {
        let offset = writer.size();
        let len = (INFLIGHT_SIZE - offset).min(4 << 20) as usize;
        writer
            .write(Bytes::from(pattern(offset, len)))
            .await
            .unwrap();
    }
    match writer.commit(&full_digest, Some(INFLIGHT_SIZE)).await {
        Ok(descriptor) => assert_eq!(descriptor.size, INFLIGHT_SIZE),
        Err(error @ StorageError::DigestMismatch { .. }) => {
            eprintln!("the torn upload was refused: {error}");
            assert!(repository.blobs().stat(&full_digest).await.is_err());
        }
        Err(error) => panic!("{error:?}"),
    }
    // Whatever else was in flight is purged.
    registry.purge_uploads(Duration::ZERO).await.unwrap();
    assert!(repository.blobs().resume(&id).await.is_err());
}
