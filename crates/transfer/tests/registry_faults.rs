//! The copy engine through a fault-injecting proxy in front of real `gantry serve` instances:
//! downloads cut again and again, uploads refused until the client gives up on the blob, large
//! blobs fetched as parallel ranges (cut, stalled, or from a server that ignores `Range`).
//! Every blob travels about once: the proxy counts the bytes.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod copy_support;

use std::time::Duration;

use copy_support::proxy::{Fault, FaultProxy, Rule};
use copy_support::{
    Image, Kind, Registry, client, client_with_chunks, content, push_image, quick_retries,
    recorder, reference, validate_at,
};
use gantry_transfer::ProgressEvent;
use gantry_transfer::copy::{Copier, CopyOptions, RangedFetch, RetryOptions};
use gantry_transfer::layout::OciLayoutDestination;
use gantry_transfer::registry::{LargeBlobUpload, RegistryDestination, RegistrySource};

fn blob_bytes(image: &Image) -> u64 {
    image.blobs.iter().map(|(d, _)| d.size).sum()
}

fn retries(events: &[ProgressEvent]) -> Vec<(u64, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::Retrying { offset, reason, .. } => Some((*offset, reason.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn ten_layers_through_cut_connections_travel_about_once() {
    let (from, to) = (Registry::start().await, Registry::start().await);
    let client = client();
    let layers: Vec<Vec<u8>> = (0..10).map(|i| content(500 + i, 300_000)).collect();
    let image = Image::new(Kind::Oci, "linux/amd64", &layers);
    push_image(&client, &from.reference("cut/app"), &image, Some("v1")).await;
    // Forty blob answers in a row, whole or ranged, are cut a third of the way through.
    let proxy = FaultProxy::start(
        &from.host,
        vec![Rule::new("GET", "/blobs/", 40, Fault::CutAfter(100_000))],
    )
    .await;

    let source = RegistrySource::new(client.clone(), reference(&proxy.host, "cut/app:v1"));
    let destination = RegistryDestination::new(client.clone(), to.reference("cut/app:v1"));
    let options = CopyOptions::new().with_retry(quick_retries());
    let report = Copier::new()
        .copy(&source, &destination, &options)
        .await
        .unwrap();

    assert!(proxy.applied().len() >= 20, "{:?}", proxy.applied());
    assert_eq!(report.blobs.transferred, 11);
    let size = blob_bytes(&image);
    let sent = proxy.blob_bytes_out();
    eprintln!(
        "{sent} blob bytes through the proxy for {size}, {} answers cut",
        proxy.applied().len()
    );
    assert!(sent >= size, "{sent} < {size}");
    assert!(
        sent * 2 <= size * 3,
        "{sent} bytes through the proxy for {size}"
    );
    validate_at(&client, &to.reference("cut/app:v1")).await;
}

#[tokio::test]
async fn a_failed_chunked_upload_resumes_from_the_upload_status() {
    let (from, to) = (Registry::start().await, Registry::start().await);
    let client = client_with_chunks(256 * 1024);
    let image = Image::new(Kind::Oci, "linux/amd64", &[content(600, 3 * 1024 * 1024)]);
    push_image(&client, &from.reference("up/app"), &image, Some("v1")).await;
    // After three chunks, four PATCHes in a row fail: more than the client retries one chunk.
    let proxy = FaultProxy::start(
        &to.host,
        vec![Rule::new("PATCH", "/blobs/uploads/", 4, Fault::Answer(500, vec![])).after(3)],
    )
    .await;
    let source = RegistrySource::new(client.clone(), from.reference("up/app:v1"));
    let destination = RegistryDestination::new(client.clone(), reference(&proxy.host, "up/app:v1"))
        .with_large_blob_upload(LargeBlobUpload::Chunked);
    let (sink, events) = recorder();
    let options = CopyOptions::new()
        .with_retry(quick_retries())
        .with_progress(sink);
    Copier::new()
        .copy(&source, &destination, &options)
        .await
        .unwrap();

    assert_eq!(proxy.applied().len(), 4);
    let retried = retries(&events.lock().unwrap());
    assert_eq!(retried.len(), 1, "{retried:?}");
    assert_eq!(
        retried[0].0,
        3 * 256 * 1024,
        "resumed where the registry stood"
    );
    let size = blob_bytes(&image);
    let uploaded = proxy.bytes_in();
    eprintln!("{uploaded} bytes uploaded for {size}");
    assert!(
        uploaded * 2 <= size * 3,
        "{uploaded} bytes uploaded for {size}"
    );
    validate_at(&client, &to.reference("up/app:v1")).await;
}

#[tokio::test]
async fn a_large_blob_comes_as_parallel_ranges_even_when_cut() {
    let (from, to) = (Registry::start().await, Registry::start().await);
    let client = client();
    let big = content(700, 4 * 1024 * 1024 + 123);
    let image = Image::new(Kind::Oci, "linux/amd64", std::slice::from_ref(&big));
    push_image(&client, &from.reference("big/app"), &image, Some("v1")).await;
    let proxy = FaultProxy::start(
        &from.host,
        vec![Rule::new("GET", "/blobs/", 3, Fault::CutAfter(50_000)).after(2)],
    )
    .await;
    let source = RegistrySource::new(client.clone(), reference(&proxy.host, "big/app:v1"));
    let destination = RegistryDestination::new(client.clone(), to.reference("big/app:v1"));
    let options = CopyOptions::new()
        .with_retry(quick_retries())
        .with_ranged(Some(RangedFetch::new(256 * 1024, 4)));
    Copier::new()
        .copy(&source, &destination, &options)
        .await
        .unwrap();

    let digest = copy_support::sha256(&big);
    let gets = proxy.blob_gets(digest.as_str());
    assert!(gets.len() >= 17, "{} requests", gets.len());
    assert!(
        gets.iter().all(|g| g.range.is_some()),
        "every request is ranged"
    );
    let sent = proxy.blob_bytes_out();
    let size = blob_bytes(&image);
    eprintln!(
        "{sent} blob bytes in {} ranged requests for {size}",
        gets.len()
    );
    assert!(
        sent * 2 <= size * 3,
        "{sent} bytes through the proxy for {size}"
    );
    validate_at(&client, &to.reference("big/app:v1")).await;
}

#[tokio::test]
async fn a_server_that_ignores_range_gets_one_stream() {
    let (from, to) = (Registry::start().await, Registry::start().await);
    let client = client();
    let big = content(800, 2 * 1024 * 1024);
    let image = Image::new(Kind::Oci, "linux/amd64", std::slice::from_ref(&big));
    push_image(&client, &from.reference("norange/app"), &image, Some("v1")).await;
    let proxy = FaultProxy::start(
        &from.host,
        vec![Rule::new("GET", "/blobs/", 100, Fault::IgnoreRange)],
    )
    .await;
    let source = RegistrySource::new(client.clone(), reference(&proxy.host, "norange/app:v1"));
    let destination = RegistryDestination::new(client.clone(), to.reference("norange/app:v1"));
    let options = CopyOptions::new()
        .with_retry(quick_retries())
        .with_ranged(Some(RangedFetch::new(256 * 1024, 4)));
    Copier::new()
        .copy(&source, &destination, &options)
        .await
        .unwrap();

    let digest = copy_support::sha256(&big);
    let gets = proxy.blob_gets(digest.as_str());
    assert_eq!(
        gets.len(),
        2,
        "one refused range, then the whole blob: {gets:?}"
    );
    assert!(gets[0].range.is_some());
    assert!(gets[1].range.is_none());
    validate_at(&client, &to.reference("norange/app:v1")).await;
}

#[tokio::test]
async fn stalled_ranges_are_caught_by_the_watchdog_and_retried() {
    let (from, to) = (Registry::start().await, Registry::start().await);
    let client = client();
    let big = content(900, 2 * 1024 * 1024);
    let image = Image::new(Kind::Oci, "linux/amd64", std::slice::from_ref(&big));
    push_image(&client, &from.reference("stall/app"), &image, Some("v1")).await;
    // After the probe, the next four ranges send a little and then nothing.
    let proxy = FaultProxy::start(
        &from.host,
        vec![Rule::new("GET", "/blobs/", 4, Fault::StallAfter(1_000)).after(1)],
    )
    .await;
    let source = RegistrySource::new(client.clone(), reference(&proxy.host, "stall/app:v1"));
    let destination = RegistryDestination::new(client.clone(), to.reference("stall/app:v1"));
    let (sink, events) = recorder();
    let options = CopyOptions::new()
        .with_retry(quick_retries())
        .with_progress(sink)
        .with_stall_timeout(Duration::from_millis(400))
        .with_ranged(Some(RangedFetch::new(512 * 1024, 4)));
    Copier::new()
        .copy(&source, &destination, &options)
        .await
        .unwrap();

    let retried = retries(&events.lock().unwrap());
    assert!(
        retried.iter().any(|(_, reason)| reason.contains("no data")),
        "{retried:?}"
    );
    validate_at(&client, &to.reference("stall/app:v1")).await;
}

#[tokio::test]
async fn a_pull_into_a_layout_that_failed_resumes_where_the_layout_stands() {
    let registry = Registry::start().await;
    let client = client();
    let big = content(1_100, 1_500_000);
    let image = Image::new(Kind::Oci, "linux/amd64", std::slice::from_ref(&big));
    push_image(&client, &registry.reference("pull/app"), &image, Some("v1")).await;
    let digest = copy_support::sha256(&big);
    // Five cut answers in a row: more than the client resumes, and the copy tries once.
    let path: &'static str = Box::leak(format!("/blobs/{digest}").into_boxed_str());
    let proxy = FaultProxy::start(
        &registry.host,
        vec![Rule::new("GET", path, 5, Fault::CutAfter(200_000))],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    let source = RegistrySource::new(client.clone(), reference(&proxy.host, "pull/app:v1"));
    let once = CopyOptions::new().with_retry(RetryOptions::new(
        1,
        Duration::from_millis(1),
        Duration::from_millis(1),
    ));
    {
        let destination = OciLayoutDestination::create(&layout, Some("v1".to_owned()))
            .await
            .unwrap();
        let error = Copier::new()
            .copy(&source, &destination, &once)
            .await
            .unwrap_err();
        assert!(error.is_retryable(), "{error}");
    }
    let first_run = proxy.blob_gets(digest.as_str()).len();

    let destination = OciLayoutDestination::create(&layout, Some("v1".to_owned()))
        .await
        .unwrap();
    let (sink, events) = recorder();
    Copier::new()
        .copy(
            &source,
            &destination,
            &CopyOptions::new().with_progress(sink),
        )
        .await
        .unwrap();
    let gets = proxy.blob_gets(digest.as_str());
    let resumed = &gets[first_run];
    let from: u64 = resumed
        .range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split('-').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(from >= 400_000, "the second run starts at byte {from}");
    let started = events.lock().unwrap().iter().find_map(|e| match e {
        ProgressEvent::Transferring {
            digest: d, done, ..
        } if *d == digest => Some(*done),
        _ => None,
    });
    assert_eq!(
        started,
        Some(from),
        "progress starts from the resumed prefix"
    );
    let sent = proxy.blob_bytes_out();
    let size = blob_bytes(&image);
    eprintln!("{sent} blob bytes over two runs for {size}; the second from byte {from}");
    assert!(
        sent * 2 <= size * 3,
        "{sent} bytes through the proxy for {size}"
    );
    let back = gantry_transfer::layout::OciLayoutSource::open(&layout, Some("v1".to_owned()))
        .await
        .unwrap();
    let top = gantry_transfer::ImageSource::manifest(&back, None)
        .await
        .unwrap();
    assert_eq!(top.digest(), image.manifest.digest());
}

#[tokio::test]
async fn a_resumed_pull_from_a_server_that_ignores_range_drops_the_kept_prefix() {
    let registry = Registry::start().await;
    let client = client();
    let big = content(1_200, 1_200_000);
    let image = Image::new(Kind::Oci, "linux/amd64", std::slice::from_ref(&big));
    push_image(&client, &registry.reference("skip/app"), &image, Some("v1")).await;
    let digest = copy_support::sha256(&big);
    let path: &'static str = Box::leak(format!("/blobs/{digest}").into_boxed_str());
    // The first run fails for good half-way; afterwards the server ignores Range.
    let proxy = FaultProxy::start(
        &registry.host,
        vec![
            Rule::new("GET", path, 4, Fault::CutAfter(150_000)),
            Rule::new("GET", path, 100, Fault::IgnoreRange),
        ],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    let source = RegistrySource::new(client.clone(), reference(&proxy.host, "skip/app:v1"));
    let once = CopyOptions::new().with_retry(RetryOptions::new(
        1,
        Duration::from_millis(1),
        Duration::from_millis(1),
    ));
    {
        let destination = OciLayoutDestination::create(&layout, Some("v1".to_owned()))
            .await
            .unwrap();
        Copier::new()
            .copy(&source, &destination, &once)
            .await
            .unwrap_err();
    }
    let destination = OciLayoutDestination::create(&layout, Some("v1".to_owned()))
        .await
        .unwrap();
    let (sink, events) = recorder();
    Copier::new()
        .copy(
            &source,
            &destination,
            &CopyOptions::new().with_progress(sink),
        )
        .await
        .unwrap();
    let started = events.lock().unwrap().iter().find_map(|e| match e {
        ProgressEvent::Transferring {
            digest: d, done, ..
        } if *d == digest => Some(*done),
        _ => None,
    });
    assert!(started.unwrap() > 0, "the second run resumed: {started:?}");
    let gets = proxy.blob_gets(digest.as_str());
    let second_run: Vec<bool> = gets[4..].iter().map(|g| g.range.is_some()).collect();
    assert_eq!(
        second_run,
        [true, false],
        "asked for the rest, was refused, read the whole blob"
    );
    let back = gantry_transfer::layout::OciLayoutSource::open(&layout, Some("v1".to_owned()))
        .await
        .unwrap();
    let top = gantry_transfer::ImageSource::manifest(&back, None)
        .await
        .unwrap();
    assert_eq!(top.digest(), image.manifest.digest());
}
