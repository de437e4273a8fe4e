//! The SeaweedFS servers, the S3 relay and Distribution on S3, against real `weed` processes.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use std::path::Path as FsPath;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gantry_test_support::distribution::Distribution;
use gantry_test_support::proxy::Rule;
use gantry_test_support::s3_relay::{S3Op, S3Relay, internal_error, slow_down};
use gantry_test_support::seaweed::{S3Server, SeaweedCluster, SeaweedMini};
use object_store::aws::AmazonS3;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};

/// Asserts that none of `pids` is a process any more.
fn assert_gone(pids: &[u32]) {
    assert!(!pids.is_empty(), "no process ids to check");
    for pid in pids {
        assert!(
            !FsPath::new(&format!("/proc/{pid}")).exists(),
            "process {pid} still runs"
        );
    }
}

async fn get(store: &AmazonS3, key: &str) -> object_store::Result<Bytes> {
    store.get(&Path::from(key)).await?.bytes().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mini_round_trips_objects_serves_distribution_and_stops() {
    let mini = SeaweedMini::start();
    assert!(mini.endpoint().starts_with("http://127.0.0.1:"));
    assert_eq!(mini.region(), "us-east-1");
    let store = mini.store();
    store
        .put(&Path::from("a/b"), Bytes::from_static(b"hello").into())
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", mini.log()));
    assert_eq!(
        get(&store, "a/b").await.unwrap(),
        Bytes::from_static(b"hello")
    );

    mini.create_bucket("second");
    let second = mini.service().store("second");
    second
        .put(&Path::from("k"), Bytes::from_static(b"two").into())
        .await
        .unwrap();
    assert_eq!(get(&second, "k").await.unwrap(), Bytes::from_static(b"two"));

    let dir = tempfile::tempdir().unwrap();
    let storage = mini.service().distribution_storage("/distribution", false);
    let distribution = tokio::task::spawn_blocking(move || {
        let peer = Distribution::start_s3(&storage, dir.path());
        (peer, dir)
    })
    .await
    .unwrap();
    let (peer, _dir) = distribution;
    let catalog = gantry_test_support::http::get_ok(peer.addr(), "/v2/_catalog", &[]);
    assert_eq!(catalog.body, b"{\"repositories\":[]}\n", "{}", peer.log());
    let peer_pid = peer.id();
    peer.stop();

    let pids = mini.pids();
    drop(mini);
    assert_gone(&pids);
    assert_gone(&[peer_pid]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_answers_s3_errors_and_counts_operations() {
    let mini = SeaweedMini::start();
    let relay = S3Relay::start(mini.endpoint(), vec![]).await;
    let service = mini.service().at(relay.endpoint());
    let once = service.store_once(mini.bucket());

    // The endpoint accepts what the client signed for the relay's Host.
    let key = Path::from("dir/object");
    once.put(&key, Bytes::from_static(b"data").into())
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", mini.log()));

    relay.add(Rule::new("GET", "/dir/object", 1, slow_down()));
    let error = get(&once, "dir/object").await.unwrap_err().to_string();
    assert!(error.contains("503"), "{error}");
    relay.add(Rule::new("PUT", "/dir/object", 1, internal_error()));
    let error = once
        .put(&key, Bytes::from_static(b"data").into())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("500"), "{error}");
    assert_eq!(relay.proxy().applied().len(), 2);

    // object_store's retries get past a fault.
    let retrying = service.store(mini.bucket());
    relay.add(Rule::new("GET", "/dir/object", 1, slow_down()));
    assert_eq!(
        get(&retrying, "dir/object").await.unwrap(),
        Bytes::from_static(b"data")
    );

    let before = relay.counts();
    let part = vec![7u8; 5 * 1024 * 1024];
    let mut upload = WriteMultipart::new_with_chunk_size(
        once.put_multipart(&Path::from("big")).await.unwrap(),
        part.len(),
    );
    upload.write(&part);
    upload.write(b"tail");
    upload.finish().await.unwrap();
    once.copy(&Path::from("big"), &Path::from("copy"))
        .await
        .unwrap();
    once.head(&Path::from("copy")).await.unwrap();
    once.list_with_delimiter(Some(&Path::from("dir")))
        .await
        .unwrap();
    once.delete(&Path::from("copy")).await.unwrap();
    let after = relay.counts();
    let delta = |op: S3Op| after.get(&op).unwrap_or(&0) - before.get(&op).unwrap_or(&0);
    assert_eq!(delta(S3Op::CreateMultipartUpload), 1, "{after:?}");
    assert_eq!(delta(S3Op::UploadPart), 2, "{after:?}");
    assert_eq!(delta(S3Op::CompleteMultipartUpload), 1, "{after:?}");
    assert_eq!(delta(S3Op::CopyObject), 1, "{after:?}");
    assert_eq!(delta(S3Op::HeadObject), 1, "{after:?}");
    assert_eq!(delta(S3Op::ListObjects), 1, "{after:?}");
    // object_store deletes through the bulk call, even one key.
    assert_eq!(delta(S3Op::DeleteObjects), 1, "{after:?}");
    assert_eq!(relay.count(S3Op::PutObject), 2);
    assert_eq!(relay.count(S3Op::GetObject), 3);
    assert_eq!(relay.count(S3Op::Other), 0, "{after:?}");

    // Distribution's driver signs for the relay's Host too, and its requests are counted.
    let storage = service.distribution_storage("/through-relay", false);
    let dir = tempfile::tempdir().unwrap();
    let peer =
        tokio::task::spawn_blocking(move || (Distribution::start_s3(&storage, dir.path()), dir))
            .await
            .unwrap()
            .0;
    let before = relay.counts();
    let digest = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    let http = reqwest::Client::new();
    let started = http
        .post(format!("http://{}/v2/r/blobs/uploads/", peer.addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202, "{}", peer.log());
    let location = started.headers()["location"].to_str().unwrap().to_owned();
    let separator = if location.contains('?') { '&' } else { '?' };
    let pushed = http
        .put(format!("{location}{separator}digest={digest}"))
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), 201, "{}", peer.log());
    let after = relay.counts();
    assert!(
        after.get(&S3Op::PutObject) > before.get(&S3Op::PutObject),
        "{before:?} {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_fails_reads_while_a_volume_server_is_down_and_recovers() {
    let mut cluster = tokio::task::spawn_blocking(SeaweedCluster::start)
        .await
        .unwrap();
    let store = cluster.store();
    let once = cluster.service().store_once(cluster.bucket());
    let data = Bytes::from(vec![1u8; 1024 * 1024]);
    store
        .put(&Path::from("kept"), data.clone().into())
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.log()));

    let holder = cluster.volume_server_holding("kept");
    cluster.kill_volume_server(holder);
    let error = get(&once, "kept").await.unwrap_err().to_string();
    assert!(error.contains("500"), "{error}");
    assert_eq!(cluster.pids().len(), 4);

    cluster.restart_volume_server(holder);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match get(&once, "kept").await {
            Ok(read) => {
                assert_eq!(read, data);
                break;
            }
            Err(error) if Instant::now() < deadline => {
                let _ = error;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!(
                "still failing after the restart: {error}\n{}",
                cluster.log()
            ),
        }
    }

    let pids = cluster.pids();
    assert_eq!(pids.len(), 5);
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
    assert_gone(&pids);
}

/// The cost of a 1 GiB object on `weed mini`: a multipart PUT of random data, a server-side
/// copy and a GET, each in MB/s. Run with
/// `cargo test --release -p gantry-test-support --features s3 --test seaweed -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a 1 GiB measurement"]
async fn one_gib_put_copy_and_get_on_mini() {
    const SIZE: usize = 1 << 30;
    const PART: usize = 16 << 20;
    let mini = SeaweedMini::start();
    let store = mini
        .service()
        .builder(mini.bucket())
        .with_client_options(
            object_store::ClientOptions::new()
                .with_allow_http(true)
                .with_timeout_disabled(),
        )
        .build()
        .unwrap();
    let mut data = vec![0u8; SIZE];
    getrandom::fill(&mut data).unwrap();
    let data = Bytes::from(data);
    let rate = |took: Duration| SIZE as f64 / 1e6 / took.as_secs_f64();

    let started = Instant::now();
    let mut upload = WriteMultipart::new_with_chunk_size(
        store.put_multipart(&Path::from("big")).await.unwrap(),
        PART,
    );
    for offset in (0..SIZE).step_by(PART) {
        upload.wait_for_capacity(8).await.unwrap();
        upload.put(data.slice(offset..offset + PART));
    }
    upload.finish().await.unwrap();
    let put = started.elapsed();

    let started = Instant::now();
    store
        .copy(&Path::from("big"), &Path::from("copy"))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", mini.log()));
    let copy = started.elapsed();

    let started = Instant::now();
    let mut stream = store.get(&Path::from("copy")).await.unwrap().into_stream();
    let mut read = 0;
    use futures_util::StreamExt;
    while let Some(chunk) = stream.next().await {
        read += chunk.unwrap().len();
    }
    let get = started.elapsed();
    assert_eq!(read, SIZE);
    println!(
        "1 GiB on weed mini: PUT (multipart, {} MiB parts, 8 in flight) {put:.2?} = {:.0} MB/s; \
         CopyObject {copy:.2?} = {:.0} MB/s; GET {get:.2?} = {:.0} MB/s",
        PART >> 20,
        rate(put),
        rate(copy),
        rate(get)
    );
}
