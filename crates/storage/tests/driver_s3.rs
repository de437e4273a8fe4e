//! The S3 driver against a real SeaweedFS (`weed mini` on loopback): the shared driver suite,
//! and what S3 makes the driver do beyond it (writers that span processes, listings past a
//! page, copies in parts, uploads aborted with their files, the checks at start), counted at
//! a relay in front of the store where the calls matter.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step panics with what it expected"
)]

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use gantry_storage::testing::{driver_suite, pattern};
use gantry_storage::{
    S3Credentials, S3Driver, S3Options, StorageDriver, StorageError, StoragePath,
};
use gantry_test_support::s3_relay::{S3Op, S3Relay};
use gantry_test_support::seaweed::{S3Server, SeaweedMini};

const MIB: usize = 1 << 20;

fn options(server: &dyn S3Server, endpoint: &str) -> S3Options {
    let mut options = S3Options::new(server.bucket());
    options.endpoint = Some(endpoint.to_owned());
    options.credentials = Some(S3Credentials::new(server.access_key(), server.secret_key()));
    options.root_directory = "registry".to_owned();
    options.part_size = 5 << 20;
    options
}

async fn driver(options: S3Options) -> Arc<dyn StorageDriver> {
    Arc::new(S3Driver::connect(options).await.expect("connect"))
}

fn path(path: &str) -> StoragePath {
    StoragePath::new(path).unwrap()
}

async fn read_all(driver: &Arc<dyn StorageDriver>, at: &StoragePath) -> Vec<u8> {
    driver.get_content(at).await.unwrap().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_driver_suite_on_seaweedfs() {
    let server = SeaweedMini::start();
    driver_suite(driver(options(&server, server.endpoint())).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_is_written_through_one_multipart_upload_across_processes() {
    let server = SeaweedMini::start();
    let relay = S3Relay::start(server.endpoint(), Vec::new()).await;
    let first = driver(options(&server, &relay.endpoint())).await;
    let second = driver(options(&server, &relay.endpoint())).await;
    let file = path("/uploads/1/data");

    // Two parts and a tail, closed; then another process carries on, twice.
    let mut writer = first.writer(&file, false).await.unwrap();
    writer
        .write(Bytes::from(pattern(1, 0, 11 * MIB)))
        .await
        .unwrap();
    writer.close().await.unwrap();
    let mut writer = second.writer(&file, true).await.unwrap();
    assert_eq!(writer.size(), 11 * MIB as u64);
    assert_eq!(second.stat(&file).await.unwrap().size, 11 * MIB as u64);
    writer
        .write(Bytes::from(pattern(1, 11 * MIB as u64, 3 * MIB)))
        .await
        .unwrap();
    writer.close().await.unwrap();
    let mut writer = first.writer(&file, true).await.unwrap();
    writer
        .write(Bytes::from(pattern(1, 14 * MIB as u64, 7)))
        .await
        .unwrap();
    writer.commit().await.unwrap();
    assert!(read_all(&second, &file).await == pattern(1, 0, 14 * MIB + 7));

    // One upload from first byte to last: its parts were never sent twice, and no object was
    // read back to append to.
    assert_eq!(relay.count(S3Op::CreateMultipartUpload), 1);
    assert_eq!(relay.count(S3Op::CompleteMultipartUpload), 1);
    assert_eq!(relay.count(S3Op::UploadPart), 3, "{:?}", relay.counts());
    // The writer's state went with the commit.
    assert_eq!(second.list(&path("/uploads/1")).await.unwrap(), [file]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_file_with_parts_reads_whole_and_appends_after() {
    let server = SeaweedMini::start();
    let driver = driver(options(&server, server.endpoint())).await;
    let file = path("/f/data");
    let mut writer = driver.writer(&file, false).await.unwrap();
    writer
        .write(Bytes::from(pattern(2, 0, 6 * MIB + 5)))
        .await
        .unwrap();
    writer.close().await.unwrap();
    assert_eq!(driver.stat(&file).await.unwrap().size, 6 * MIB as u64 + 5);
    let mut from_middle = Vec::new();
    let mut stream = driver
        .read_stream(&file, 3 * MIB as u64, 3 * MIB as u64 + 5)
        .await
        .unwrap();
    while let Some(chunk) = stream.next().await {
        from_middle.extend_from_slice(&chunk.unwrap());
    }
    assert!(from_middle == pattern(2, 3 * MIB as u64, 3 * MIB + 5));
    let mut writer = driver.writer(&file, true).await.unwrap();
    writer.write(Bytes::from_static(b"end")).await.unwrap();
    writer.commit().await.unwrap();
    let mut expected = pattern(2, 0, 6 * MIB + 5);
    expected.extend_from_slice(b"end");
    assert!(read_all(&driver, &file).await == expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_go_past_a_page_of_keys() {
    let server = SeaweedMini::start();
    let driver = driver(options(&server, server.endpoint())).await;
    // 1,100 files in one directory, and a directory of 1,100 keys between two files.
    let names: Vec<String> = (0..1_100).map(|n| format!("tag-{n:04}")).collect();
    let puts = futures_util::stream::iter(names.iter().map(|name| {
        let (driver, at) = (Arc::clone(&driver), path(&format!("/tags/{name}")));
        async move { driver.put_content(&at, Bytes::from_static(b"x")).await }
    }))
    .buffer_unordered(16)
    .collect::<Vec<_>>()
    .await;
    assert!(puts.iter().all(Result::is_ok));
    let listed = driver.list(&path("/tags")).await.unwrap();
    assert_eq!(listed.len(), 1_100);
    assert_eq!(listed[0], path("/tags/tag-0000"));
    assert_eq!(listed[1_099], path("/tags/tag-1099"));

    let puts = futures_util::stream::iter((0..1_100).map(|n| {
        let (driver, at) = (Arc::clone(&driver), path(&format!("/repo/b/k{n:04}")));
        async move { driver.put_content(&at, Bytes::from_static(b"x")).await }
    }))
    .buffer_unordered(16)
    .collect::<Vec<_>>()
    .await;
    assert!(puts.iter().all(Result::is_ok));
    for name in ["a", "c"] {
        driver
            .put_content(&path(&format!("/repo/{name}")), Bytes::new())
            .await
            .unwrap();
    }
    assert_eq!(
        driver.list(&path("/repo")).await.unwrap(),
        [path("/repo/a"), path("/repo/b"), path("/repo/c")]
    );
    driver.delete(&path("/repo/b")).await.unwrap();
    // Gone at once, whatever the store's delimiter listings still say.
    assert_eq!(
        driver.list(&path("/repo")).await.unwrap(),
        [path("/repo/a"), path("/repo/c")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_past_the_single_copy_limit_copy_in_parts() {
    let server = SeaweedMini::start();
    let relay = S3Relay::start(server.endpoint(), Vec::new()).await;
    let mut limited = options(&server, &relay.endpoint());
    limited.single_copy_limit = 5 << 20;
    let driver = driver(limited).await;
    let (from, to) = (path("/uploads/2/data"), path("/blobs/ab/abcd/data"));
    let content = pattern(3, 0, 12 * MIB + 1);
    driver
        .put_content(&from, Bytes::from(content.clone()))
        .await
        .unwrap();
    driver.move_path(&from, &to).await.unwrap();
    assert!(read_all(&driver, &to).await == content);
    assert!(matches!(
        driver.stat(&from).await,
        Err(StorageError::PathNotFound { .. })
    ));
    assert_eq!(relay.count(S3Op::CopyObject), 0);
    assert_eq!(relay.count(S3Op::UploadPartCopy), 3, "{:?}", relay.counts());

    // Under the limit, one CopyObject.
    driver
        .put_content(&from, Bytes::from_static(b"small"))
        .await
        .unwrap();
    driver.move_path(&from, &to).await.unwrap();
    assert_eq!(relay.count(S3Op::CopyObject), 1);
    assert_eq!(read_all(&driver, &to).await, b"small");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_unfinished_file_aborts_its_upload() {
    let server = SeaweedMini::start();
    let relay = S3Relay::start(server.endpoint(), Vec::new()).await;
    let driver = driver(options(&server, &relay.endpoint())).await;
    let file = path("/repo/_uploads/3/data");
    let mut writer = driver.writer(&file, false).await.unwrap();
    writer
        .write(Bytes::from(pattern(4, 0, 6 * MIB)))
        .await
        .unwrap();
    writer.close().await.unwrap();
    driver.delete(&path("/repo/_uploads/3")).await.unwrap();
    assert_eq!(relay.count(S3Op::AbortMultipartUpload), 1);
    assert!(driver.stat(&file).await.unwrap_err().is_not_found());
    assert!(
        driver
            .list(&path("/repo/_uploads"))
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_and_missing_buckets_fail_at_connect() {
    let server = SeaweedMini::start();
    let mut wrong = options(&server, server.endpoint());
    wrong.credentials = Some(S3Credentials::new(server.access_key(), "not-the-secret"));
    let error = S3Driver::connect(wrong).await.unwrap_err();
    assert!(error_chain(&error).contains("credentials"), "{error:?}");

    let mut missing = options(&server, server.endpoint());
    missing.bucket = "no-such-bucket".to_owned();
    let error = S3Driver::connect(missing.clone()).await.unwrap_err();
    assert!(error_chain(&error).contains("does not exist"), "{error:?}");
    missing.create_bucket = true;
    let created = S3Driver::connect(missing).await.unwrap();
    let file = path("/x");
    created
        .put_content(&file, Bytes::from_static(b"in the new bucket"))
        .await
        .unwrap();

    let mut small_parts = options(&server, server.endpoint());
    small_parts.part_size = 1 << 20;
    assert!(S3Driver::connect(small_parts).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_urls_fetch_the_file_without_credentials() {
    let server = SeaweedMini::start();
    let driver = driver(options(&server, server.endpoint())).await;
    let file = path("/blobs/data");
    driver
        .put_content(&file, Bytes::from_static(b"0123456789"))
        .await
        .unwrap();
    let url = driver.redirect_url(&file, "GET").await.unwrap().unwrap();
    assert!(url.starts_with(server.endpoint()), "{url}");
    let client = reqwest::Client::new();
    let whole = client.get(&url).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.bytes().await.unwrap(), "0123456789");
    let part = client
        .get(&url)
        .header("Range", "bytes=3-5")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap(), "345");
    assert_eq!(driver.redirect_url(&file, "PUT").await.unwrap(), None);
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_whose_digest_comes_first_is_staged_in_place_and_appears_once_verified() {
    use gantry_reference::{Algorithm, Digest};
    use gantry_storage::{CreateOptions, Created, Registry, RegistryOptions};

    let server = SeaweedMini::start();
    let relay = S3Relay::start(server.endpoint(), Vec::new()).await;
    let driver = driver(options(&server, &relay.endpoint())).await;
    let registry = Registry::new(Arc::clone(&driver), RegistryOptions::new()).unwrap();
    let blobs = registry.repository(&"a/b".parse().unwrap()).blobs();
    let content = Bytes::from(pattern(6, 0, 12 * MIB + 3));
    let digest = Digest::of(Algorithm::Sha256, &content);
    let data = path(&format!(
        "/docker/registry/v2/blobs/sha256/{}/{}/data",
        &digest.encoded()[..2],
        digest.encoded()
    ));
    let begin = || async {
        match blobs.create(CreateOptions::new()).await.unwrap() {
            Created::Upload(writer) => writer,
            Created::Mounted(_) => unreachable!("no mount was asked for"),
        }
    };

    // Bytes that do not match: nothing appears, and the staged upload is aborted.
    let mut writer = begin().await;
    writer.expect_digest(&digest).await.unwrap();
    writer.write(content.slice(..12 * MIB)).await.unwrap();
    writer.write(Bytes::from_static(b"bad")).await.unwrap();
    assert!(
        writer
            .commit(&digest, None)
            .await
            .unwrap_err()
            .is_digest_mismatch()
    );
    assert!(driver.stat(&data).await.unwrap_err().is_not_found());
    assert_eq!(relay.count(S3Op::AbortMultipartUpload), 1);

    // A request that fails keeps nothing of its bytes: the session goes on from zero.
    let mut writer = begin().await;
    let id = writer.id().to_owned();
    writer.expect_digest(&digest).await.unwrap();
    writer.write(content.slice(..6 * MIB)).await.unwrap();
    writer.close().await.unwrap();
    assert_eq!(blobs.resume(&id).await.unwrap().size(), 0);
    assert!(driver.stat(&data).await.unwrap_err().is_not_found());

    // The right bytes: invisible until the commit, then there at once, with no copy.
    let mut writer = blobs.resume(&id).await.unwrap();
    writer.expect_digest(&digest).await.unwrap();
    writer.write(content.clone()).await.unwrap();
    assert!(driver.stat(&data).await.unwrap_err().is_not_found());
    assert!(blobs.stat(&digest).await.unwrap_err().is_not_found());
    let descriptor = writer
        .commit(&digest, Some(content.len() as u64))
        .await
        .unwrap();
    assert_eq!(descriptor.digest, digest);
    assert!(read_all(&driver, &data).await == content);
    assert_eq!(relay.count(S3Op::CopyObject), 0, "{:?}", relay.counts());
    assert_eq!(
        blobs.stat(&digest).await.unwrap().size,
        content.len() as u64
    );
}
