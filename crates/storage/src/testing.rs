//! The shared driver test suite: every driver runs it in one line.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use gantry_storage::InMemoryDriver;
//!
//! // In a driver's tests: #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn passes_the_driver_suite() {
//!     gantry_storage::testing::driver_suite(Arc::new(InMemoryDriver::new())).await;
//! }
//! ```
//!
//! Each check works below its own directory, `/driver-suite/<check>`, so one driver serves them
//! all and whatever else the driver holds is left alone. A failed check panics with its name.
//!
//! What the suite holds every driver to, beyond the trait's documentation:
//! - a path below a file does not exist ([`StorageError::PathNotFound`]) when read, and is
//!   [`StorageError::InvalidPath`] when written; a directory read as a file, or a file listed
//!   as a directory, is [`StorageError::InvalidPath`]; so is moving a directory;
//! - [`list`](StorageDriver::list) orders children by name alone (`a` < `a-b` < `a.b` < `a_b`);
//! - a writer's bytes need not be visible before it is closed, and a directory emptied by a
//!   delete may or may not remain: the suite asserts neither.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test suite: a failed check panics with what it expected"
)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::AsyncReadExt;

use crate::driver::{BoxFuture, FileInfo, StorageDriver, WalkControl};
use crate::{StorageError, StoragePath};

/// One check: it gets the driver and a directory of its own, which does not exist yet.
pub type Check = fn(Arc<dyn StorageDriver>, StoragePath) -> BoxFuture<'static, ()>;

/// Every check, by name.
pub fn checks() -> Vec<(&'static str, Check)> {
    vec![
        ("content_round_trip", |d, b| {
            Box::pin(content_round_trip(d, b))
        }),
        ("put_content_is_atomic", |d, b| {
            Box::pin(put_content_is_atomic(d, b))
        }),
        ("create_content_only_once", |d, b| {
            Box::pin(create_content_only_once(d, b))
        }),
        ("reader_offsets", |d, b| Box::pin(reader_offsets(d, b))),
        ("read_streams", |d, b| Box::pin(read_streams(d, b))),
        ("writer_close_and_append", |d, b| {
            Box::pin(writer_close_and_append(d, b))
        }),
        ("writer_cancel", |d, b| Box::pin(writer_cancel(d, b))),
        ("stat_files_and_dirs", |d, b| {
            Box::pin(stat_files_and_dirs(d, b))
        }),
        ("list_in_lexical_order", |d, b| {
            Box::pin(list_in_lexical_order(d, b))
        }),
        ("move_path", |d, b| Box::pin(move_path(d, b))),
        ("delete_recursively", |d, b| {
            Box::pin(delete_recursively(d, b))
        }),
        ("walk_depth_first", |d, b| Box::pin(walk_depth_first(d, b))),
        ("invalid_paths", |d, b| Box::pin(invalid_paths(d, b))),
        ("concurrent_writers", |d, b| {
            Box::pin(concurrent_writers(d, b))
        }),
        ("large_content_streams", |d, b| {
            Box::pin(large_content_streams(d, b))
        }),
    ]
}

/// Runs every check against `driver`, one after the other, each in its own task.
pub async fn driver_suite(driver: Arc<dyn StorageDriver>) {
    let suite = StoragePath::new("/driver-suite").unwrap();
    for (name, check) in checks() {
        let base = suite.join(name).unwrap();
        match driver.delete(&base).await {
            Err(error) if !error.is_not_found() => {
                panic!("{}: clearing {base}: {error}", driver.name())
            }
            _ => {}
        }
        if let Err(error) = tokio::spawn(check(Arc::clone(&driver), base)).await {
            panic!(
                "driver {} failed the check `{name}`: {error}",
                driver.name()
            );
        }
    }
}

/// Deterministic bytes that depend on `seed` and on the position, so a lost, repeated or
/// misplaced chunk shows.
pub fn pattern(seed: u64, offset: u64, len: usize) -> Vec<u8> {
    (offset..offset + len as u64)
        .map(|i| {
            let x = i
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(seed.wrapping_mul(0xD1B5_4A32_D192_ED03));
            (x >> 56) as u8 ^ (i >> 12) as u8
        })
        .collect()
}

fn path(base: &StoragePath, rest: &str) -> StoragePath {
    base.join(rest).unwrap()
}

fn is_not_found<T>(result: Result<T, StorageError>) -> bool {
    matches!(result, Err(StorageError::PathNotFound { .. }))
}

fn is_invalid_path<T>(result: Result<T, StorageError>) -> bool {
    matches!(result, Err(StorageError::InvalidPath { .. }))
}

async fn put(driver: &Arc<dyn StorageDriver>, at: &StoragePath, content: &[u8]) {
    driver
        .put_content(at, Bytes::copy_from_slice(content))
        .await
        .unwrap_or_else(|error| panic!("put_content {at}: {error}"));
}

async fn read_all(driver: &Arc<dyn StorageDriver>, at: &StoragePath, offset: u64) -> Vec<u8> {
    let mut reader = driver.reader(at, offset).await.unwrap();
    let mut content = Vec::new();
    reader.read_to_end(&mut content).await.unwrap();
    content
}

async fn content_round_trip(driver: Arc<dyn StorageDriver>, base: StoragePath) {
    let file = path(&base, "deep/er/file");
    assert!(is_not_found(driver.get_content(&file).await));
    put(&driver, &file, b"first content").await;
    assert_eq!(driver.get_content(&file).await.unwrap(), "first content");
    // A shorter replacement leaves nothing of the longer one behind.
    put(&driver, &file, b"second").await;
    assert_eq!(driver.get_content(&file).await.unwrap(), "second");
    put(&driver, &file, b"").await;
    assert_eq!(driver.get_content(&file).await.unwrap(), "");
    assert_eq!(driver.stat(&file).await.unwrap().size, 0);
    let binary: Vec<u8> = (0..=255).collect();
    put(&driver, &file, &binary).await;
    assert_eq!(driver.get_content(&file).await.unwrap(), binary);
    // A sibling is a different file.
    assert!(is_not_found(
        driver.get_content(&path(&base, "deep/er/fil")).await
    ));
    // Unsynced, a file is stored the same way, parents and all.
    let unsynced = path(&base, "other/deep/file");
    driver
        .put_content_unsynced(&unsynced, Bytes::from_static(b"unsynced"))
        .await
        .unwrap();
    assert_eq!(driver.get_content(&unsynced).await.unwrap(), "unsynced");
    driver
        .put_content_unsynced(&unsynced, Bytes::from_static(b"again"))
        .await
        .unwrap();
    assert_eq!(driver.get_content(&unsynced).await.unwrap(), "again");
}

async fn put_content_is_atomic(driver: Arc<dyn StorageDriver>, base: StoragePath) {
    let file = path(&base, "contended");
    let first = Bytes::from(pattern(1, 0, 3 << 20));
    let second = Bytes::from(pattern(2, 0, (2 << 20) + 5));
    driver.put_content(&file, first.clone()).await.unwrap();
    // One putter syncs, the other does not: both replace the file whole.
    let putters: Vec<_> = [
        (first.clone(), second.clone(), true),
        (second.clone(), first.clone(), false),
    ]
    .into_iter()
    .map(|(a, b, synced)| {
        let (driver, file) = (Arc::clone(&driver), file.clone());
        tokio::spawn(async move {
            for round in 0..6 {
                let content = if round % 2 == 0 { &a } else { &b };
                if synced {
                    driver.put_content(&file, content.clone()).await.unwrap();
                } else {
                    let put = driver.put_content_unsynced(&file, content.clone());
                    put.await.unwrap();
                }
                tokio::task::yield_now().await;
            }
        })
    })
    .collect();
    let mut reads = 0;
    for _ in 0..2_000 {
        let whole = driver.get_content(&file).await.unwrap();
        assert!(
            whole == first || whole == second,
            "get_content saw a torn file of {} bytes",
            whole.len()
        );
        let streamed = read_all(&driver, &file, 0).await;
        assert!(
            streamed == first || streamed == second,
            "a reader saw a torn file of {} bytes",
            streamed.len()
        );
        reads += 1;
        if putters.iter().all(|putter| putter.is_finished()) {
            break;
        }
        tokio::task::yield_now().await;
    }
    for putter in putters {
        putter.await.unwrap();
    }
    assert!(reads > 0);
    let last = driver.get_content(&file).await.unwrap();
    assert!(last == first || last == second);
}

async fn create_content_only_once(driver: Arc<dyn StorageDriver>, base: StoragePath) {
    const CREATORS: u64 = 8;
    let file = path(&base, "made/once");
    let creators: Vec<_> = (0..CREATORS)
        .map(|n| {
            let (driver, file) = (Arc::clone(&driver), file.clone());
            let content = Bytes::from(pattern(n, 0, (64 << 10) + n as usize));
            tokio::spawn(async move {
                let created = driver.create_content(&file, content.clone()).await.unwrap();
                let read = driver.get_content(&file).await.unwrap();
                (created, content, read)
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for creator in creators {
        outcomes.push(creator.await.unwrap());
    }
    let winners: Vec<_> = outcomes.iter().filter(|(created, ..)| *created).collect();
    assert_eq!(winners.len(), 1, "exactly one creator wins");
    let winner = winners[0].1.clone();
    for (_, _, read) in &outcomes {
        assert!(*read == winner, "every creator reads the winner's bytes");
    }
    assert_eq!(driver.get_content(&file).await.unwrap(), winner);

    // An existing file is left as it was; a directory or a path below a file cannot be made.
    let kept = path(&base, "kept");
    put(&driver, &kept, b"first").await;
    let again = driver.create_content(&kept, Bytes::from_static(b"second"));
    assert!(!again.await.unwrap());
    assert_eq!(driver.get_content(&kept).await.unwrap(), "first");
    for refused in [path(&base, "made"), path(&base, "kept/below")] {
        let created = driver.create_content(&refused, Bytes::from_static(b"x"));
        assert!(is_invalid_path(created.await), "{refused}");
    }
    assert_eq!(
        driver.list(&base).await.unwrap(),
        [path(&base, "kept"), path(&base, "made")]
    );
}

async fn reader_offsets(driver: Arc<dyn StorageDriver>, base: StoragePath) {
    let file = path(&base, "file");
    let content = pattern(3, 0, 100_000);
    put(&driver, &file, &content).await;
    assert_eq!(read_all(&driver, &file, 0).await, content);
    assert_eq!(read_all(&driver, &file, 1).await, content[1..]);
    assert_eq!(read_all(&driver, &file, 65_537).await, content[65_537..]);
    assert_eq!(read_all(&driver, &file, 99_999).await, content[99_999..]);
    assert!(read_all(&driver, &file, 100_000).await.is_empty());
    for past in [100_001, u64::MAX] {
        match driver.reader(&file, past).await {
            Err(StorageError::InvalidOffset { offset, .. }) => assert_eq!(offset, past),
            Err(other) => panic!("reader at {past} past the end: {other}"),
            Ok(_) => panic!("reader at {past} past the end succeeded"),
        }
    }
    assert!(is_not_found(
        driver.reader(&path(&base, "missing"), 0).await
    ));
    let empty = path(&base, "empty");
    put(&driver, &empty, b"").await;
    assert!(read_all(&driver, &empty, 0).await.is_empty());
    assert!(matches!(
        driver.reader(&empty, 1).await,
        Err(StorageError::InvalidOffset { .. })
    ));
}

/// Everything a read stream yields, or its first error.
async fn stream_all(
    driver: &Arc<dyn StorageDriver>,
    at: &StoragePath,
    offset: u64,
    len: u64,
) -> Result<Vec<u8>, StorageError> {
    let mut stream = driver.read_stream(at, offset, len).await?;
    let mut all = Vec::new();
    // Bounded: every chunk holds at least one byte.
    for _ in 0..=len {
        match stream.next().await {
            Some(chunk) => {
                let chunk = chunk?;
                assert!(!chunk.is_empty(), "empty chunk at {}", all.len());
                all.extend_from_slice(&chunk);
            }
            None => return Ok(all),
        }
    }
    panic!("read stream of {len} bytes did not end")
}

async fn read_streams(driver: Arc<dyn StorageDriver>, base: StoragePath) {
    let file = path(&base, "file");
    let size = 3 * (1 << 20) + 5;
    let content = pattern(8, 0, size);
    put(&driver, &file, &content).await;
    let size = size as u64;
    for (offset, len) in [
        (0, size),
        (1, size - 1),
        (1 << 20, 1 << 20),
        (size - 1, 1),
        (7, 0),
        (size, 0),
    ] {
        let streamed = stream_all(&driver, &file, offset, len).await.unwrap();
        let (from, to) = (offset as usize, (offset + len) as usize);
        assert!(
            streamed == content[from..to],
            "{len} bytes from {offset} differ"
        );
    }
    // Asking for more than the file holds fails rather than ending early.
    assert!(stream_all(&driver, &file, 10, size).await.is_err());
    assert!(matches!(
        driver.read_stream(&file, size + 1, 1).await,
        Err(StorageError::InvalidOffset { .. })
    ));
    assert!(is_not_found(
        driver.read_stream(&path(&base, "missing"), 0, 1).await
    ));
}

async fn writer_close_and_append(driver: Arc<dyn StorageDriver>, base: StoragePath) {
    let file = path(&base, "new/upload/data");
    let mut writer = driver.writer(&file, false).await.unwrap();
    assert_eq!(writer.size(), 0);
    writer.write(Bytes::from_static(b"hello, ")).await.unwrap();
    writer.write(Bytes::new()).await.unwrap();
    writer.write(Bytes::from_static(b"world")).await.unwrap();
    assert_eq!(writer.size(), 12);
    writer.close().await.unwrap();
    assert_eq!(driver.get_content(&file).await.unwrap(), "hello, world");
    assert_eq!(driver.stat(&file).await.unwrap().size, 12);

    // Appending carries on after what is there, and counts it.
    let mut writer = driver.writer(&file, true).await.unwrap();
    assert_eq!(writer.size(), 12);
    writer.write(Bytes::from_static(b"!")).await.unwrap();
    assert_eq!(writer.size(), 13);
    writer.commit().await.unwrap();
    assert_eq!(driver.get_content(&file).await.unwrap(), "hello, world!");

    // Many appending sessions, as a chunked upload makes.
    let mut expected = b"hello, world!".to_vec();
    for round in 0..5u64 {
        let mut writer = driver.writer(&file, true).await.unwrap();
        assert_eq!(writer.size(), expected.len() as u64);
        let chunk = pattern(round, expected.len() as u64, 1_000 + round as usize * 77);
        writer.write(Bytes::from(chunk.clone())).await.unwrap();
        expected.extend_from_slice(&chunk);
        writer.close().await.unwrap();
    }
    assert_eq!(driver.get_content(&file).await.unwrap(), expected);

    // A new writer starts over.
    let writer = driver.writer(&file, false).await.unwrap();
    assert_eq!(writer.size(), 0);
    writer.commit().await.unwrap();
    assert_eq!(driver.get_content(&file).await.unwrap(), "");

    // Appending needs a file.
    assert!(is_not_found(
        driver.writer(&path(&base, "missing"), true).await
    ));
    assert!(is_not_found(
        driver.writer(&path(&base, "absent/dir/file"), true).await
    ));
}

async fn writer_cancel(driver: Arc<dyn StorageDriver>, base: StoragePath) {
    let file = path(&base, "cancelled");
    let mut writer = driver.writer(&file, false).await.unwrap();
    writer
        .write(Bytes::from(pattern(4, 0, 3 << 20)))
        .await
        .unwrap();
    writer.write(Bytes::from_static(b"tail")).await.unwrap();
    writer.cancel().await.unwrap();
    assert!(is_not_found(driver.stat(&file).await));

    // Cancelling an append removes the file too.
    put(&driver, &file, b"before").await;
    let mut writer = driver.writer(&file, true).await.unwrap();
    writer.write(Bytes::from_static(b"after")).await.unwrap();
    writer.cancel().await.unwrap();
    assert!(is_not_found(driver.get_content(&file).await));

    // A writer cancelled before any write leaves nothing either.
    let writer = driver.writer(&file, false).await.unwrap();
    writer.cancel().await.unwrap();
    assert!(is_not_found(driver.get_content(&file).await));

    // Others beside it are untouched.
    let beside = path(&base, "beside");
    put(&driver, &beside, b"kept").await;
    let writer = driver.writer(&file, false).await.unwrap();
    writer.cancel().await.unwrap();
    assert_eq!(driver.get_content(&beside).await.unwrap(), "kept");
}

fn recent(modified: SystemTime) -> bool {
    let now = SystemTime::now();
    let day = Duration::from_secs(86_400);
    modified > now - day && modified < now + day
}

async fn stat_files_and_dirs(driver: Arc<dyn StorageDriver>, base: StoragePath) {
    let file = path(&base, "dir/file");
    put(&driver, &file, b"12345").await;
    let info = driver.stat(&file).await.unwrap();
    assert_eq!(info.path, file);
    assert_eq!(info.size, 5);
    assert!(!info.is_dir);
    assert!(recent(info.modified));

    let dir = path(&base, "dir");
    let info = driver.stat(&dir).await.unwrap();
    assert_eq!(info.path, dir);
    assert!(info.is_dir);
    assert_eq!(info.size, 0);

    assert!(driver.stat(&base).await.unwrap().is_dir);
    assert!(driver.stat(&StoragePath::root()).await.unwrap().is_dir);
    assert!(is_not_found(driver.stat(&path(&base, "missing")).await));
    assert!(is_not_found(driver.stat(&path(&base, "dir/fil")).await));
    assert!(is_not_found(driver.stat(&path(&base, "di")).await));
}

async fn list_in_lexical_order(driver: Arc<dyn StorageDriver>, base: StoragePath) {
    // Put in an order unlike the listing's.
    for name in ["b", "a_b", "a/c", "a.b", "B", "a-b", "0", "a/b/deep"] {
        put(&driver, &path(&base, name), name.as_bytes()).await;
    }
    let names = |paths: Vec<StoragePath>| {
        paths
            .iter()
            .map(|p| p.file_name().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let listed = driver.list(&base).await.unwrap();
    for child in &listed {
        assert_eq!(child.parent().as_ref(), Some(&base));
    }
    assert_eq!(
        names(listed),
        ["0", "B", "a", "a-b", "a.b", "a_b", "b"],
        "children of {base}"
    );
    assert_eq!(
        driver.list(&path(&base, "a")).await.unwrap(),
        [path(&base, "a/b"), path(&base, "a/c")]
    );
    assert!(
        driver
            .list(&StoragePath::root())
            .await
            .unwrap()
            .contains(&StoragePath::new("/driver-suite").unwrap())
    );
    assert!(is_not_found(driver.list(&path(&base, "missing")).await));
    assert!(is_invalid_path(driver.list(&path(&base, "b")).await));
}

async fn move_path(driver: Arc<dyn StorageDriver>, base: StoragePath) {
    let from = path(&base, "uploads/1/data");
    let to = path(&base, "blobs/ab/abcd/data");
    put(&driver, &from, b"blob").await;
    driver.move_path(&from, &to).await.unwrap();
    assert_eq!(driver.get_content(&to).await.unwrap(), "blob");
    assert!(is_not_found(driver.get_content(&from).await));

    // Replacing what is there.
    put(&driver, &from, b"newer").await;
    driver.move_path(&from, &to).await.unwrap();
    assert_eq!(driver.get_content(&to).await.unwrap(), "newer");
    assert!(is_not_found(driver.stat(&from).await));

    // Within one directory.
    let renamed = path(&base, "blobs/ab/abcd/renamed");
    driver.move_path(&to, &renamed).await.unwrap();
    assert_eq!(driver.get_content(&renamed).await.unwrap(), "newer");

    assert!(is_not_found(
        driver.move_path(&path(&base, "missing"), &to).await
    ));
    assert!(is_not_found(driver.stat(&to).await));
    // Onto a directory, below a file, or of a directory.
    put(&driver, &from, b"again").await;
    assert!(is_invalid_path(
        driver.move_path(&from, &path(&base, "blobs")).await
    ));
    assert!(is_invalid_path(
        driver
            .move_path(&from, &path(&base, "blobs/ab/abcd/renamed/x"))
            .await
    ));
    assert!(is_invalid_path(
        driver.move_path(&path(&base, "blobs"), &to).await
    ));
    assert_eq!(driver.get_content(&from).await.unwrap(), "again");
    assert_eq!(driver.get_content(&renamed).await.unwrap(), "newer");
}

async fn delete_recursively(driver: Arc<dyn StorageDriver>, base: StoragePath) {
    for name in ["a/x", "a/y/z", "a/y/w", "a-b", "ab", "a.c/d"] {
        put(&driver, &path(&base, name), b"x").await;
    }
    driver.delete(&path(&base, "a/x")).await.unwrap();
    assert!(is_not_found(driver.stat(&path(&base, "a/x")).await));
    assert!(driver.stat(&path(&base, "a/y/z")).await.is_ok());

    driver.delete(&path(&base, "a")).await.unwrap();
    for gone in ["a", "a/y", "a/y/z", "a/y/w"] {
        assert!(
            is_not_found(driver.stat(&path(&base, gone)).await),
            "{gone}"
        );
    }
    // Names that merely start alike stay.
    for kept in ["a-b", "ab", "a.c/d"] {
        assert!(driver.stat(&path(&base, kept)).await.is_ok(), "{kept}");
    }
    assert!(is_not_found(driver.delete(&path(&base, "a")).await));
    assert!(is_not_found(
        driver.delete(&path(&base, "missing/deep")).await
    ));
    assert!(is_not_found(driver.delete(&path(&base, "ab/below")).await));

    driver.delete(&base).await.unwrap();
    assert!(is_not_found(driver.stat(&base).await));
    assert!(is_not_found(driver.get_content(&path(&base, "ab")).await));
}

async fn walk_depth_first(driver: Arc<dyn StorageDriver>, base: StoragePath) {
    for (name, size) in [("b", 1), ("a/y/z", 3), ("a.c", 2), ("a/x", 4), ("a-b", 5)] {
        put(&driver, &path(&base, name), &pattern(0, 0, size)).await;
    }
    let walk = |skip: Option<&'static str>, stop: Option<&'static str>| {
        let (driver, base) = (Arc::clone(&driver), base.clone());
        async move {
            let mut seen: Vec<FileInfo> = Vec::new();
            let prefix = format!("{base}/");
            driver
                .walk(&base, &mut |info: &FileInfo| {
                    seen.push(info.clone());
                    let name = info.path.as_str().strip_prefix(&prefix).unwrap_or("");
                    if Some(name) == stop {
                        WalkControl::Stop
                    } else if Some(name) == skip {
                        WalkControl::SkipDir
                    } else {
                        WalkControl::Continue
                    }
                })
                .await
                .unwrap();
            seen.into_iter()
                .map(|info| {
                    let name = info.path.as_str()[prefix.len()..].to_owned();
                    (name, info.is_dir, if info.is_dir { 0 } else { info.size })
                })
                .collect::<Vec<_>>()
        }
    };
    let entry = |name: &str, is_dir: bool, size: u64| (name.to_owned(), is_dir, size);
    assert_eq!(
        walk(None, None).await,
        [
            entry("a", true, 0),
            entry("a/x", false, 4),
            entry("a/y", true, 0),
            entry("a/y/z", false, 3),
            entry("a-b", false, 5),
            entry("a.c", false, 2),
            entry("b", false, 1),
        ]
    );
    let names = |entries: Vec<(String, bool, u64)>| {
        entries
            .into_iter()
            .map(|(name, _, _)| name)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(walk(Some("a/y"), None).await),
        ["a", "a/x", "a/y", "a-b", "a.c", "b"]
    );
    assert_eq!(names(walk(Some("a"), None).await), ["a", "a-b", "a.c", "b"]);
    assert_eq!(names(walk(None, Some("a/y")).await), ["a", "a/x", "a/y"]);
    assert_eq!(names(walk(None, Some("a")).await), ["a"]);

    let mut visited = 0;
    assert!(is_not_found(
        driver
            .walk(&path(&base, "missing"), &mut |_: &FileInfo| {
                visited += 1;
                WalkControl::Continue
            })
            .await
    ));
    assert_eq!(visited, 0);
}

async fn invalid_paths(driver: Arc<dyn StorageDriver>, base: StoragePath) {
    let file = path(&base, "file");
    let below = path(&base, "file/below");
    let dir = path(&base, "dir");
    put(&driver, &file, b"a file").await;
    put(&driver, &path(&base, "dir/inside"), b"x").await;

    // A file used as a directory, for writing.
    assert!(is_invalid_path(
        driver.put_content(&below, Bytes::from_static(b"x")).await
    ));
    assert!(is_invalid_path(driver.writer(&below, false).await));
    assert!(is_invalid_path(
        driver
            .put_content(&path(&base, "file/below/deeper"), Bytes::new())
            .await
    ));
    assert!(is_invalid_path(driver.list(&file).await));
    // A directory used as a file.
    assert!(is_invalid_path(
        driver.put_content(&dir, Bytes::from_static(b"x")).await
    ));
    assert!(is_invalid_path(driver.get_content(&dir).await));
    assert!(is_invalid_path(driver.reader(&dir, 0).await));
    assert!(is_invalid_path(driver.writer(&dir, false).await));
    assert!(is_invalid_path(driver.writer(&dir, true).await));
    assert!(is_invalid_path(
        driver.put_content(&StoragePath::root(), Bytes::new()).await
    ));
    // Reading below a file finds nothing.
    assert!(is_not_found(driver.get_content(&below).await));
    assert!(is_not_found(driver.reader(&below, 0).await));
    assert!(is_not_found(driver.stat(&below).await));
    assert!(is_not_found(driver.list(&below).await));
    assert!(is_not_found(driver.delete(&below).await));
    assert!(is_not_found(driver.writer(&below, true).await));
    // Nothing was harmed.
    assert_eq!(driver.get_content(&file).await.unwrap(), "a file");
    assert_eq!(
        driver
            .get_content(&path(&base, "dir/inside"))
            .await
            .unwrap(),
        "x"
    );
}

async fn concurrent_writers(driver: Arc<dyn StorageDriver>, base: StoragePath) {
    const WRITERS: u64 = 8;
    const CHUNKS: u64 = 40;
    const CHUNK: usize = 10_007;
    let tasks: Vec<_> = (0..WRITERS)
        .map(|n| {
            let (driver, file) = (Arc::clone(&driver), path(&base, &format!("w{n}/data")));
            tokio::spawn(async move {
                let mut writer = driver.writer(&file, false).await.unwrap();
                for chunk in 0..CHUNKS {
                    let offset = chunk * CHUNK as u64;
                    writer
                        .write(Bytes::from(pattern(n, offset, CHUNK)))
                        .await
                        .unwrap();
                    tokio::task::yield_now().await;
                }
                assert_eq!(writer.size(), CHUNKS * CHUNK as u64);
                if n % 2 == 0 {
                    writer.commit().await.unwrap();
                } else {
                    writer.close().await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    for n in 0..WRITERS {
        let content = driver
            .get_content(&path(&base, &format!("w{n}/data")))
            .await
            .unwrap();
        assert!(
            content == pattern(n, 0, CHUNK * CHUNKS as usize),
            "writer {n}'s file"
        );
    }
    assert_eq!(driver.list(&base).await.unwrap().len(), WRITERS as usize);
}

async fn large_content_streams(driver: Arc<dyn StorageDriver>, base: StoragePath) {
    let file = path(&base, "large");
    // Chunks smaller and larger than any sensible buffer, in a cycle.
    let sizes = [7 * 1024, 1 << 20, 1, 65_536, (1 << 20) + 1, 300_000, 13];
    let total: u64 = 9 * (1 << 20) + 3;
    let mut writer = driver.writer(&file, false).await.unwrap();
    let mut written = 0u64;
    for size in sizes.iter().cycle().take(10_000) {
        if written == total {
            break;
        }
        let len = (*size as u64).min(total - written);
        let chunk = pattern(5, written, len as usize);
        writer.write(Bytes::from(chunk)).await.unwrap();
        written += len;
        assert_eq!(writer.size(), written);
        // Close and carry on halfway, as a resumed upload does.
        if written > total / 2 && written - len <= total / 2 {
            writer.close().await.unwrap();
            writer = driver.writer(&file, true).await.unwrap();
            assert_eq!(writer.size(), written);
        }
    }
    assert_eq!(written, total);
    writer.commit().await.unwrap();
    assert_eq!(driver.stat(&file).await.unwrap().size, total);

    // Read back in small pieces, checking each against the pattern, never holding it all.
    for start in [0, 3 * (1 << 20) + 17] {
        let mut reader = driver.reader(&file, start).await.unwrap();
        let mut buffer = vec![0; 50_000];
        let mut at = start;
        for _ in 0..=total {
            let n = reader.read(&mut buffer).await.unwrap();
            if n == 0 {
                break;
            }
            assert!(
                buffer[..n] == pattern(5, at, n)[..],
                "bytes at {at}..{} differ",
                at + n as u64
            );
            at += n as u64;
        }
        assert_eq!(at, total, "reader from {start} ended early");
    }
}
