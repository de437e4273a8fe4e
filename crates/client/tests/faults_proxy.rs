//! The client through a fault-injecting proxy in front of a real `gantry serve`: connections
//! cut mid-body, corrupted bodies, 429 with `Retry-After`, 503 bursts, slow answers, and answers
//! lost after the registry acted. Downloads resume by `Range`, chunked uploads resume from the
//! upload status, and no unverified blob is ever handed out whole.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use gantry_client::{ClientConfig, ClientError, RetryPolicy, UploadMode};
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
            .push_blob(&repo, &digest, UploadMode::chunked(stream(data.clone())))
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
            .push_blob(
                &repo,
                &second_digest,
                UploadMode::chunked(stream(second.clone()))
            )
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

/// `data[offset..]` as a stream of 16 KiB chunks, recording `offset` in `opened`.
fn reopen(
    data: &Bytes,
    opened: &std::sync::Mutex<Vec<u64>>,
    offset: u64,
) -> impl Future<
    Output = Result<
        impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
        std::io::Error,
    >,
> {
    opened.lock().unwrap().push(offset);
    let rest = data.slice(usize::try_from(offset).unwrap()..);
    let parts: Vec<Result<Bytes, std::io::Error>> = (0..rest.len())
        .step_by(16 * 1024)
        .map(|at| Ok(rest.slice(at..rest.len().min(at + 16 * 1024))))
        .collect();
    std::future::ready(Ok(futures_util::stream::iter(parts)))
}

#[tokio::test]
async fn a_streamed_upload_cut_mid_body_continues_from_the_registry_offset() {
    use support::relay::{Mode, Relay};

    let registry = Registry::start().await;
    let relay = Relay::start(Mode::Cut {
        upstream: registry.host.clone(),
        method: "PATCH",
        after: 100_000,
        times: 1,
    })
    .await;
    let data = Bytes::from(content(400_000));
    let digest = sha256(&data);
    let repo = reference(&relay.host, "team/app");
    let opened = std::sync::Mutex::new(Vec::new());
    let stored = client()
        .push_blob(
            &repo,
            &digest,
            UploadMode::resumable(|offset| reopen(&data, &opened, offset)),
        )
        .await
        .unwrap();
    assert_eq!(stored, digest);
    assert_eq!(relay.cuts(), 1);
    let opened = opened.into_inner().unwrap();
    assert_eq!(opened.len(), 2, "opened once, reopened once: {opened:?}");
    assert_eq!(opened[0], 0);
    assert!(
        opened[1] <= 100_000,
        "reopened where the registry stands, not past what reached it: {opened:?}"
    );
    let patches = relay.seen().iter().filter(|h| h.method == "PATCH").count();
    assert_eq!(patches, 2);
    let read = client()
        .get_blob(&registry.reference("team/app"), &digest)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(read, data);
}

#[tokio::test]
async fn a_cut_streamed_upload_fails_when_no_retry_is_left_or_the_content_fails() {
    use support::relay::{Mode, Relay};

    let registry = Registry::start().await;
    let relay = Relay::start(Mode::Cut {
        upstream: registry.host.clone(),
        method: "PATCH",
        after: 50_000,
        times: 1,
    })
    .await;
    let data = Bytes::from(content(200_000));
    let digest = sha256(&data);
    let repo = reference(&relay.host, "team/app");
    let never = gantry_client::Client::new(
        ClientConfig::default()
            .with_credential_sources(gantry_client::CredentialSources::None)
            .with_retry(RetryPolicy::never()),
    )
    .unwrap();
    let opened = std::sync::Mutex::new(Vec::new());
    let error = never
        .push_blob(
            &repo,
            &digest,
            UploadMode::resumable(|offset| reopen(&data, &opened, offset)),
        )
        .await
        .unwrap_err();
    assert!(error.is_retryable(), "a cut connection: {error:?}");
    assert_eq!(opened.lock().unwrap().len(), 1);

    // A content stream that fails is the caller's error, not sent again.
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let error = client()
        .push_blob(
            &repo,
            &digest,
            UploadMode::resumable(|_| {
                calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                std::future::ready(Ok::<_, std::io::Error>(futures_util::stream::iter(vec![
                    Ok(Bytes::from_static(b"some")),
                    Err(std::io::Error::other("disk gone")),
                ])))
            }),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Content { .. }), "{error:?}");
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
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
