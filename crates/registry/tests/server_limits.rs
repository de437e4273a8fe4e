//! Connection and request limits: a client that trickles its headers is cut off while others
//! are served, idle connections close, oversized heads get 431, one client's concurrent
//! uploads are bounded (429), and the optional blob size limit answers 413.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod support;

use std::time::Duration;

use gantry_reference::{Algorithm, Digest};
use support::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest any closing is waited for: far above the configured timeouts, so the test
/// checks that the connection closes, not how fast.
const GENEROUS: Duration = Duration::from_secs(30);

fn address(server: &TestServer) -> String {
    server.url.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection; true when it did within [`GENEROUS`].
async fn closed_by_server(reader: &mut (impl AsyncReadExt + Unpin)) -> bool {
    let mut buf = [0u8; 4096];
    let outcome = tokio::time::timeout(GENEROUS, async {
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    outcome.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_its_headers_is_cut_off_while_others_are_served() {
    let server =
        TestServer::start_with(|config| config.header_read_timeout = Duration::from_secs(1)).await;
    let stream = TcpStream::connect(address(&server)).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let closed = tokio::spawn(async move { closed_by_server(&mut reader).await });
    let trickle = tokio::spawn(async move {
        writer
            .write_all(b"GET /v2/ HTTP/1.1\r\nHost: slow\r\n")
            .await
            .unwrap();
        // One header line every 200 ms: never a whole head. At most 150 lines (30 s).
        for _ in 0..150 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if writer.write_all(b"X-Slow: 1\r\n").await.is_err() {
                return true;
            }
        }
        false
    });
    // Meanwhile the server answers everyone else.
    for _ in 0..5 {
        assert_eq!(server.get("/v2/").await.status(), 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        closed.await.unwrap(),
        "the slow connection was never closed"
    );
    let _ = trickle.await;
    assert_eq!(server.get("/v2/").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed() {
    let server = TestServer::start_with(|config| {
        config.idle_timeout = Duration::from_secs(1);
        config.header_read_timeout = Duration::from_secs(300);
    })
    .await;
    let mut stream = TcpStream::connect(address(&server)).await.unwrap();
    stream
        .write_all(b"GET /v2/ HTTP/1.1\r\nHost: idle\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    // The connection is kept alive for another request that never comes.
    assert!(
        closed_by_server(&mut stream).await,
        "the idle connection stayed open"
    );
}

#[tokio::test]
async fn an_oversized_head_gets_431() {
    let server = TestServer::start_with(|config| config.max_header_bytes = 16 * 1024).await;
    let big = "a".repeat(32 * 1024);
    let response = server
        .client
        .get(server.at("/v2/"))
        .header("x-big", &big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 431);
    let fits = server
        .client
        .get(server.at("/v2/"))
        .header("x-big", &big[..4096])
        .send()
        .await
        .unwrap();
    assert_eq!(fits.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_streams_a_bounded_number_of_uploads() {
    let server = TestServer::start_with(|config| config.max_uploads_per_client = 1).await;
    let started = server.post("/v2/a/blobs/uploads/").await;
    assert_eq!(started.status(), 202);
    let location = started.headers()["location"].to_str().unwrap().to_owned();

    // A PATCH whose body stays open holds the client's one slot.
    let (mut feed, mut patch) = open_patch(&server, &location).await;
    let mut refused = None;
    for _ in 0..200 {
        if patch.is_finished() {
            // The PATCH came in while a probe below held the slot, and was refused itself.
            let response = patch.await.unwrap().unwrap();
            assert_eq!(response.status(), 429);
            (feed, patch) = open_patch(&server, &location).await;
            tokio::time::sleep(Duration::from_millis(25)).await;
            continue;
        }
        let response = server.post("/v2/b/blobs/uploads/").await;
        if response.status() == 429 {
            refused = Some(response);
            break;
        }
        assert_eq!(response.status(), 202);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let refused = refused.expect("a second upload was never refused");
    assert_eq!(refused.headers()["retry-after"], "1");
    assert!(refused.text().await.unwrap().contains("TOOMANYREQUESTS"));

    drop(feed);
    assert_eq!(patch.await.unwrap().unwrap().status(), 202);
    assert_eq!(server.post("/v2/b/blobs/uploads/").await.status(), 202);
}

type Feed = tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>;

/// A PATCH to `location` whose body stays open until the returned sender is dropped.
async fn open_patch(
    server: &TestServer,
    location: &str,
) -> (
    Feed,
    tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
) {
    let (feed, chunks) = tokio::sync::mpsc::channel(4);
    let body =
        reqwest::Body::wrap_stream(futures_util::stream::unfold(chunks, |mut chunks| async {
            chunks.recv().await.map(|chunk| (chunk, chunks))
        }));
    feed.send(Ok(b"first".to_vec())).await.unwrap();
    let request = server.client.patch(server.at(location)).body(body).send();
    (feed, tokio::spawn(request))
}

#[tokio::test]
async fn blobs_past_the_size_limit_get_413() {
    let server = TestServer::start_with(|config| config.max_blob_size = 10).await;
    server.push_blob("a", b"0123456789").await;
    let big = b"0123456789A";
    let digest = Digest::of(Algorithm::Sha256, big);
    let whole = server
        .client
        .post(server.at(&format!("/v2/a/blobs/uploads/?digest={digest}")))
        .body(big.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(whole.status(), 413);
    assert!(whole.text().await.unwrap().contains("SIZE_INVALID"));
    assert_eq!(
        server.head(&format!("/v2/a/blobs/{digest}")).await.status(),
        404
    );

    let session = server.post("/v2/a/blobs/uploads/").await;
    let location = session.headers()["location"].to_str().unwrap().to_owned();
    let first = server
        .client
        .patch(server.at(&location))
        .body(b"012345".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 202);
    let second = server
        .client
        .patch(server.at(&location))
        .body(b"6789AB".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 413);
}
