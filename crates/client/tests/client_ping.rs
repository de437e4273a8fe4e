//! The `/v2/` ping and the retry policy: which answers are retried, how often, and which never.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gantry_client::{ClientConfig, ClientError, RetryPolicy};
use support::{Hostile, Registry, client, respond};

#[tokio::test]
async fn gantry_serve_answers_the_ping() {
    let registry = Registry::start().await;
    client().ping(&registry.host).await.unwrap();
}

#[tokio::test]
async fn a_server_that_is_not_a_v2_registry_is_refused() {
    let server = Hostile::start(|_| {
        respond(
            200,
            &[("docker-distribution-api-version", "registry/1.0")],
            "{}",
        )
    })
    .await;
    let error = client().ping(&server.host).await.unwrap_err();
    assert!(
        matches!(error, ClientError::UnsupportedApiVersion { .. }),
        "{error:?}"
    );
}

/// A server that answers the first `failures` requests with `status` and `headers`, then 200.
async fn flaky(
    failures: usize,
    status: u16,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
) -> (Hostile, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&count);
    let server = Hostile::start(move |_| {
        if counter.fetch_add(1, Ordering::SeqCst) < failures {
            respond(status, headers, body)
        } else {
            respond(200, &[], "{}")
        }
    })
    .await;
    (server, count)
}

#[tokio::test]
async fn answers_worth_retrying_are_retried_and_lasting_ones_are_not() {
    let cases: &[(u16, &str, usize, bool)] = &[
        // status, body, requests seen, success
        (503, "", 3, true),
        (502, "", 3, true),
        (500, r#"{"errors":[{"code":"UNKNOWN"}]}"#, 3, true),
        (429, r#"{"errors":[{"code":"TOOMANYREQUESTS"}]}"#, 3, true),
        (503, r#"{"errors":[{"code":"NAME_UNKNOWN"}]}"#, 1, false),
        (503, r#"{"errors":[{"code":"DENIED"}]}"#, 1, false),
        (404, r#"{"errors":[{"code":"MANIFEST_UNKNOWN"}]}"#, 1, false),
        (400, "", 1, false),
    ];
    for &(status, body, requests, success) in cases {
        let (server, count) = flaky(2, status, &[], body).await;
        let outcome = client().ping(&server.host).await;
        assert_eq!(outcome.is_ok(), success, "{status} {body}: {outcome:?}");
        assert_eq!(count.load(Ordering::SeqCst), requests, "{status} {body}");
    }
    // Three failures exhaust three attempts.
    let (server, count) = flaky(3, 503, &[], "").await;
    let error = client().ping(&server.host).await.unwrap_err();
    assert!(
        error.is_retryable() && error.status() == Some(503),
        "{error:?}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn retry_after_is_honoured_up_to_the_cap() {
    let (server, count) = flaky(1, 429, &[("retry-after", "1")], "").await;
    let config = ClientConfig::default().with_retry(RetryPolicy::new(
        2,
        Duration::from_millis(1),
        Duration::from_secs(5),
    ));
    let client = gantry_client::Client::new(config).unwrap();
    let started = Instant::now();
    client.ping(&server.host).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_rate_limit_that_outlasts_the_retries_says_how_long_to_wait() {
    let (server, _) = flaky(10, 429, &[("retry-after", "120")], "").await;
    let config = ClientConfig::default().with_retry(RetryPolicy::never());
    let client = gantry_client::Client::new(config).unwrap();
    let error = client.ping(&server.host).await.unwrap_err();
    assert_eq!(error.status(), Some(429));
    assert_eq!(error.retry_after(), Some(Duration::from_secs(120)));
    // Without the header there is nothing to say.
    let (server, _) = flaky(10, 429, &[], "").await;
    let error = client.ping(&server.host).await.unwrap_err();
    assert_eq!(error.retry_after(), None);
}

/// A server that accepts connections and closes them at once: every request fails in
/// transport, after as many attempts as the policy allows.
#[tokio::test]
async fn a_dropped_connection_is_a_retryable_transport_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    let error = client().ping(&host).await.unwrap_err();
    assert!(matches!(error, ClientError::Transport { .. }), "{error:?}");
    assert!(error.is_retryable());
    assert!(std::error::Error::source(&error).is_some());
    assert!(
        accepted.load(Ordering::SeqCst) >= 3,
        "three attempts at least"
    );
}
