//! Health, readiness and metrics on their own listener, and a shutdown that lets requests in
//! flight finish.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod support;

use std::time::Duration;

use bytes::Bytes;
use support::{TestServer, header};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_counters() {
    let server = TestServer::start_with(|config| {
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap())
    })
    .await;
    let metrics_url = server.metrics_url.clone().expect("a metrics listener");
    server.push_image("counted/app", "v1", b"layer").await;
    let missing = server.get("/v2/counted/app/manifests/v9").await;
    assert_eq!(missing.status(), 404);
    assert!(header(&missing, "x-request-id").is_some());

    for (path, body) in [("/healthz", "ok\n"), ("/readyz", "ready\n")] {
        let response = server
            .client
            .get(format!("{metrics_url}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.text().await.unwrap(), body);
    }
    let metrics = server
        .client
        .get(format!("{metrics_url}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    for line in [
        "gantry_http_requests_total{endpoint=\"manifest\",method=\"PUT\",status=\"201\"} 1",
        "gantry_http_requests_total{endpoint=\"manifest\",method=\"GET\",status=\"404\"} 1",
        "gantry_http_requests_total{endpoint=\"upload_start\",method=\"POST\",status=\"201\"} 2",
        "gantry_uploads_completed_total 2",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    let api = server.get("/metrics").await;
    assert_eq!(api.status(), 404, "metrics are not on the API listener");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_an_upload_in_flight_finish() {
    let mut server = TestServer::start_with(|config| {
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap())
    })
    .await;
    let metrics_url = server.metrics_url.clone().expect("a metrics listener");
    let start = server.post("/v2/slow/app/blobs/uploads/").await;
    let location = header(&start, "location").unwrap();

    // A PATCH whose body arrives in pieces, with shutdown asked for halfway through.
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(futures_util::stream::unfold(receiver, |mut r| async {
        r.recv().await.map(|item| (item, r))
    }));
    let request = server.client.patch(server.at(&location)).body(body).send();
    let upload = tokio::spawn(request);
    sender
        .send(Ok(Bytes::from(vec![1u8; 64 * 1024])))
        .await
        .unwrap();
    // The server counts the PATCH in flight once it is being served.
    let in_flight = "gantry_http_requests_in_flight{endpoint=\"upload\"} 1";
    wait_for("the PATCH in flight", || async {
        let metrics = server.client.get(format!("{metrics_url}/metrics")).send();
        match metrics.await {
            Ok(response) => response
                .text()
                .await
                .unwrap_or_default()
                .contains(in_flight),
            Err(_) => false,
        }
    })
    .await;
    server.begin_stop();
    // Shutdown has begun once the API listener is closed.
    let address = server.url.trim_start_matches("http://").to_owned();
    wait_for("the listener to close", || async {
        tokio::net::TcpStream::connect(&address).await.is_err()
    })
    .await;
    sender
        .send(Ok(Bytes::from(vec![2u8; 64 * 1024])))
        .await
        .unwrap();
    drop(sender);

    let response = tokio::time::timeout(Duration::from_secs(20), upload)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 202, "the request in flight finished");
    assert_eq!(header(&response, "range").as_deref(), Some("0-131071"));
    server.stop().await;
}

/// Polls `ready` every 10 ms until it holds, failing the test after 10 s.
async fn wait_for<F, R>(what: &str, mut ready: F)
where
    F: FnMut() -> R,
    R: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !ready().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
