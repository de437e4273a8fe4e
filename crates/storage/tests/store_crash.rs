//! Crash safety: a writer process killed mid-write leaves a store that opens, serves everything
//! committed before, and resumes or purges what was in flight.
//!
//! The child is the test kit's `store-crash-writer` binary, given the directory it writes into;
//! it reports progress on stdout and is killed mid-loop, so the test cannot pass without
//! killing a writer that was still writing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod store_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use gantry_reference::Digest;
use gantry_storage::StorageError;
use gantry_test_support::process::Guard;
use gantry_test_support::store::crash::{self, INFLIGHT_SIZE, committed_content, pattern};
use store_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_writer_leaves_a_store_that_serves_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(crash::writer_binary())
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Guard::new("store-crash-writer", child);
    let stdout = child.child_mut().stdout.take().unwrap();
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
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["committed", i, digest] => {
                committed.push((i.parse().unwrap(), Digest::parse(digest).unwrap()));
            }
            ["inflight", id] => inflight = Some((*id).to_owned()),
            ["progress", _] => progress += 1,
            _ => {}
        }
    }
    child.assert_running("before the test killed it mid-write");
    child.stop();
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
