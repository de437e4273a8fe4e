//! The client through a fault-injecting proxy in front of a real `gantry serve`: connections
//! cut mid-body, corrupted bodies, 429 with `Retry-After`, 503 bursts, slow answers, and answers
//! lost after the registry acted. Downloads resume by `Range`, chunked uploads resume from the
//! upload status, and no unverified blob is ever handed out whole.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use gantry_client::{ClientConfig, ClientError, RetryPolicy};
use gantry_spec::{Descriptor, ImageManifest};
use support::proxy::{Fault, FaultProxy, Rule};
use support::{Registry, client, client_with, reference, sha256};

fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 13 % 256) as u8).collect()
}

#[tokio::test]
async fn a_download_cut_mid_body_resumes_by_range_through_the_proxy() {
    let registry = Registry::start().await;
    let data = content(300_000);
    let digest = registry.seed_blob("team/app", &data).await;
    let proxy = FaultProxy::start(
        &registry.host,
        vec![Rule::new("GET", "/blobs/", 2, Fault::CutAfter(70_000))],
    )
    .await;
    let repo = reference(&proxy.host, "team/app");
    let fetched = client()
        .get_blob(&repo, &digest)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(fetched, data);
    assert_eq!(
        proxy.applied().len(),
        2,
        "the first GET and the first resumption were cut"
    );
}

#[tokio::test]
async fn a_range_cut_mid_body_resumes_with_the_rest_of_the_range() {
    let registry = Registry::start().await;
    let data = content(300_000);
    let digest = registry.seed_blob("team/app", &data).await;
    let proxy = FaultProxy::start(
        &registry.host,
        vec![Rule::new("GET", "/blobs/", 2, Fault::CutAfter(40_000))],
    )
    .await;
    let repo = reference(&proxy.host, "team/app");
    let fetched = client()
        .get_blob_range(&repo, &digest, 1_000..250_000)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(fetched.len(), 249_000);
    assert_eq!(fetched, data[1_000..250_000]);
    assert_eq!(
        proxy.applied().len(),
        2,
        "the ranged GET and the first resumption were cut"
    );

    // With no retries left, the cut is the caller's error, never a short range.
    let proxy = FaultProxy::start(
        &registry.host,
        vec![Rule::new("GET", "/blobs/", 1, Fault::CutAfter(40_000))],
    )
    .await;
    let repo = reference(&proxy.host, "team/app");
    let never = gantry_client::Client::new(
        ClientConfig::default()
            .with_credential_sources(gantry_client::CredentialSources::None)
            .with_retry(RetryPolicy::never()),
    )
    .unwrap();
    let error = never
        .get_blob_range(&repo, &digest, 1_000..250_000)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Transport { .. }), "{error:?}");
}

#[tokio::test]
async fn a_corrupted_download_never_completes() {
    let registry = Registry::start().await;
    let data = content(200_000);
    let digest = registry.seed_blob("team/app", &data).await;
    let proxy = FaultProxy::start(
        &registry.host,
        vec![Rule::new("GET", "/blobs/", 1, Fault::Corrupt)],
    )
    .await;
    let repo = reference(&proxy.host, "team/app");
    let mut stream = client().get_blob(&repo, &digest).await.unwrap();
    let mut handed_out = 0;
    let mut failure = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => handed_out += chunk.len(),
            Err(error) => failure = Some(error),
        }
    }
    assert!(failure.unwrap().is_digest_mismatch());
    assert!(handed_out < data.len());
}

#[tokio::test]
async fn a_corrupted_manifest_by_tag_is_refused_by_its_announced_digest() {
    let registry = Registry::start().await;
    registry.seed_blob("team/app", b"{}").await;
    let manifest = ImageManifest::builder(Descriptor::empty())
        .artifact_type("application/vnd.example")
        .build()
        .unwrap();
    client()
        .put_manifest(&registry.reference("team/app:v1"), &manifest)
        .await
        .unwrap();
    let proxy = FaultProxy::start(
        &registry.host,
        vec![Rule::new("GET", "/manifests/", 1, Fault::Corrupt)],
    )
    .await;
    let error = client()
        .get_manifest(&reference(&proxy.host, "team/app:v1"))
        .await
        .unwrap_err();
    assert!(error.is_digest_mismatch(), "{error:?}");
}

#[tokio::test]
async fn throttling_and_bursts_of_503_are_waited_out() {
    let registry = Registry::start().await;
    let data = content(1000);
    let digest = registry.seed_blob("team/app", &data).await;
    let retry_after = vec![("retry-after", "1".to_owned())];
    let proxy = FaultProxy::start(
        &registry.host,
        vec![
            Rule::new("HEAD", "/blobs/", 1, Fault::Answer(429, retry_after)),
            Rule::new("GET", "/blobs/", 2, Fault::Answer(503, Vec::new())),
        ],
    )
    .await;
    let config = ClientConfig::default().with_retry(RetryPolicy::new(
        3,
        Duration::from_millis(1),
        Duration::from_secs(5),
    ));
    // Not the support client: its quick retries cap every wait at 50 ms.
    let client = gantry_client::Client::new(config).unwrap();
    let repo = reference(&proxy.host, "team/app");
    let started = Instant::now();
    assert_eq!(client.head_blob(&repo, &digest).await.unwrap(), 1000);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    assert_eq!(
        client
            .get_blob(&repo, &digest)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap(),
        data
    );
    // A longer burst than the policy allows fails, retryably.
    proxy.add(Rule::new(
        "GET",
        "/blobs/",
        3,
        Fault::Answer(503, Vec::new()),
    ));
    let error = client.get_blob(&repo, &digest).await.unwrap_err();
    assert!(
        error.is_retryable() && error.status() == Some(503),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_slow_answer_times_out_and_is_retried() {
    let registry = Registry::start().await;
    let proxy = FaultProxy::start(
        &registry.host,
        vec![Rule::new(
            "GET",
            "/v2/",
            1,
            Fault::Delay(Duration::from_secs(2)),
        )],
    )
    .await;
    let mut config = ClientConfig::default();
    config.read_timeout = Duration::from_millis(300);
    let client = client_with(config);
    let started = Instant::now();
    client.ping(&proxy.host).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn chunked_uploads_resume_from_the_upload_status() {
    let registry = Registry::start().await;
    let data = content(10_000);
    let digest = sha256(&data);
    let proxy = FaultProxy::start(&registry.host, Vec::new()).await;
    let client = client_with(ClientConfig::default().with_chunk_size(3000));
    let repo = reference(&proxy.host, "team/app");
    let stream = |data: Vec<u8>| {
        futures_util::stream::iter(
            data.chunks(1000)
                .map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c)))
                .collect::<Vec<_>>(),
        )
    };
    // A chunk lost on the way: sent again from the registry's offset.
    proxy.add(Rule::new(
        "PATCH",
        "/uploads/",
        1,
        Fault::Answer(503, Vec::new()),
    ));
    assert_eq!(
        client
            .push_blob_chunked(&repo, &digest, stream(data.clone()))
            .await
            .unwrap(),
        digest
    );
    // A chunk taken but its answer lost: the status shows it whole, and the upload goes on.
    let second = content(9_000);
    let second_digest = sha256(&second);
    proxy.add(Rule::new(
        "PATCH",
        "/uploads/",
        1,
        Fault::ForwardThenAnswer(502),
    ));
    assert_eq!(
        client
            .push_blob_chunked(&repo, &second_digest, stream(second.clone()))
            .await
            .unwrap(),
        second_digest
    );
    assert_eq!(proxy.applied().len(), 2);
    let direct = client
        .get_blob(&registry.reference("team/app"), &second_digest)
        .await
        .unwrap();
    assert_eq!(direct.collect().await.unwrap(), second);
    let direct = client
        .get_blob(&registry.reference("team/app"), &digest)
        .await
        .unwrap();
    assert_eq!(direct.collect().await.unwrap(), data);
}

#[tokio::test]
async fn lasting_errors_are_not_retried_through_the_proxy() {
    let registry = Registry::start().await;
    let proxy = FaultProxy::start(&registry.host, Vec::new()).await;
    let client = client();
    let error = client
        .get_manifest(&reference(&proxy.host, "team/none:v1"))
        .await
        .unwrap_err();
    assert!(error.is_not_found() && !error.is_retryable(), "{error:?}");
    assert!(matches!(error, ClientError::Registry { .. }));
}
