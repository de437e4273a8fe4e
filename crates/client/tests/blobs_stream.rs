//! Blobs against a real `gantry serve` (head, get, ranges) and against hostile servers: the
//! stream never hands out the last chunk of bytes that do not match their digest or size.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use futures_util::StreamExt;
use gantry_client::{ClientError, VerifiedBlobStream};
use gantry_spec::Descriptor;
use support::{Hostile, Registry, client, cut_body, respond, sha256};

/// Every item of `stream`: the chunks it handed out, then its error if it failed.
async fn drain(mut stream: VerifiedBlobStream) -> (Vec<u8>, Option<ClientError>) {
    let mut bytes = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(error) => {
                assert!(stream.next().await.is_none(), "a failed stream ends");
                return (bytes, Some(error));
            }
        }
    }
    (bytes, None)
}

#[tokio::test]
async fn blobs_read_back_whole_and_by_range() {
    let registry = Registry::start().await;
    let client = client();
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let digest = registry.seed_blob("team/app", &content).await;
    let repo = registry.reference("team/app");

    assert_eq!(
        client.head_blob(&repo, &digest).await.unwrap(),
        content.len() as u64
    );

    let stream = client.get_blob(&repo, &digest).await.unwrap();
    assert_eq!(stream.len(), Some(content.len() as u64));
    assert_eq!(stream.digest(), Some(&digest));
    let (bytes, error) = drain(stream).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(bytes, content);

    let descriptor = Descriptor::new(
        "application/octet-stream",
        digest.clone(),
        content.len() as u64,
    );
    let whole = client
        .get_blob_descriptor(&repo, &descriptor)
        .await
        .unwrap();
    assert_eq!(whole.collect().await.unwrap(), Bytes::from(content.clone()));

    let range = client
        .get_blob_range(&repo, &digest, 1000..5000)
        .await
        .unwrap();
    assert_eq!(range.len(), Some(4000));
    assert_eq!(range.collect().await.unwrap(), &content[1000..5000]);

    let missing = sha256(b"not there");
    let error = client.head_blob(&repo, &missing).await.unwrap_err();
    assert!(error.is_not_found(), "{error:?}");
    let error = client.get_blob(&repo, &missing).await.unwrap_err();
    assert!(error.is_not_found(), "{error:?}");
}

#[tokio::test]
async fn a_descriptor_of_another_size_is_refused_before_reading() {
    let registry = Registry::start().await;
    let client = client();
    let digest = registry.seed_blob("team/app", b"twelve bytes").await;
    let descriptor = Descriptor::new("application/octet-stream", digest, 13);
    let error = client
        .get_blob_descriptor(&registry.reference("team/app"), &descriptor)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::SizeMismatch {
                expected: 13,
                actual: 12
            }
        ),
        "{error:?}"
    );
}

const CONTENT: &[u8] = b"the blob the client asked for, in several chunks";

/// A hostile answer to a blob GET and what the stream must end with; none of them may hand out
/// all of [`CONTENT`]'s bytes, however many chunks arrived.
#[tokio::test]
async fn hostile_blob_bodies_never_complete_unverified() {
    let digest = sha256(CONTENT);
    let server = Hostile::start(|seen| {
        let path = seen.uri.as_str();
        if path.contains("/wrong/") {
            // The right length, other bytes.
            respond(
                200,
                &[],
                &b"THE BLOB THE CLIENT ASKED FOR, IN SEVERAL CHUNKS"[..],
            )
        } else if path.contains("/short/") {
            respond(200, &[], &CONTENT[..10])
        } else if path.contains("/long/") {
            respond(200, &[], [CONTENT, b"and more"].concat())
        } else if path.contains("/cut/") {
            respond(200, &[("content-length", "48")], cut_body(&CONTENT[..20]))
        } else {
            respond(200, &[], CONTENT)
        }
    })
    .await;
    let client = client();
    type Expect = fn(&ClientError) -> bool;
    let cases: &[(&str, Expect)] = &[
        ("wrong", |e| e.is_digest_mismatch()),
        ("short", |e| {
            e.is_digest_mismatch() || matches!(e, ClientError::SizeMismatch { .. })
        }),
        ("long", |e| {
            e.is_digest_mismatch() || matches!(e, ClientError::SizeMismatch { .. })
        }),
        // Cut, and the registry ignores the Range of the resumption.
        ("cut", |e| {
            matches!(e, ClientError::UnexpectedStatus { status: 200, .. })
        }),
    ];
    for (name, expected) in cases {
        let stream = client
            .get_blob(&server.reference(name), &digest)
            .await
            .unwrap();
        let (bytes, error) = drain(stream).await;
        let error = error.unwrap_or_else(|| panic!("{name}: no error"));
        assert!(expected(&error), "{name}: {error:?}");
        assert!(
            bytes.len() < CONTENT.len(),
            "{name}: handed out {} bytes",
            bytes.len()
        );
    }
    // With a descriptor, an overlong body fails as soon as it passes the size.
    let descriptor = Descriptor::new(
        "application/octet-stream",
        digest.clone(),
        CONTENT.len() as u64,
    );
    let error = client
        .get_blob_descriptor(&server.reference("long"), &descriptor)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ClientError::SizeMismatch { .. }),
        "{error:?}"
    );
    let (bytes, error) = drain(
        client
            .get_blob(&server.reference("fine"), &digest)
            .await
            .unwrap(),
    )
    .await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(bytes, CONTENT);
}

#[tokio::test]
async fn an_empty_blob_with_the_wrong_digest_fails() {
    let server = Hostile::start(|_| respond(200, &[], "")).await;
    let client = client();
    let (bytes, error) = drain(
        client
            .get_blob(&server.reference("x"), &sha256(b"x"))
            .await
            .unwrap(),
    )
    .await;
    assert!(bytes.is_empty());
    assert!(error.unwrap().is_digest_mismatch());
    let (_, error) = drain(
        client
            .get_blob(&server.reference("x"), &sha256(b""))
            .await
            .unwrap(),
    )
    .await;
    assert!(error.is_none());
}

#[tokio::test]
async fn hostile_range_answers_are_refused() {
    let digest = sha256(CONTENT);
    let server = Hostile::start(|seen| {
        let path = seen.uri.as_str();
        if path.contains("/full/") {
            respond(200, &[], CONTENT)
        } else if path.contains("/norange/") {
            respond(206, &[], &CONTENT[2..6])
        } else if path.contains("/offset/") {
            respond(206, &[("content-range", "bytes 0-3/48")], &CONTENT[0..4])
        } else {
            respond(206, &[("content-range", "bytes 2-5/48")], &CONTENT[2..6])
        }
    })
    .await;
    let client = client();
    for name in ["full", "norange", "offset"] {
        let error = client
            .get_blob_range(&server.reference(name), &digest, 2..6)
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                ClientError::UnexpectedStatus { status: 200, .. }
                    | ClientError::MissingHeader { .. }
                    | ClientError::InvalidHeader { .. }
            ),
            "{name}: {error:?}"
        );
    }
    let range = client
        .get_blob_range(&server.reference("fine"), &digest, 2..6)
        .await
        .unwrap();
    assert_eq!(range.collect().await.unwrap(), &CONTENT[2..6]);
    // The Range header asked for the inclusive span.
    let last = server.seen().pop().unwrap();
    assert_eq!(last.headers.get("range").unwrap(), "bytes=2-5");
}

/// A registry that redirects blob downloads to a storage host on another port: the client
/// follows. (`auth_flows.rs` checks that credentials stay off the storage host.)
#[tokio::test]
async fn blob_redirects_to_another_host_are_followed() {
    let storage = Hostile::start(|_| respond(200, &[], CONTENT)).await;
    let location = format!("http://{}/storage/blob?sig=abc", storage.host);
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let registry = Hostile::start(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        respond(307, &[("location", location.as_str())], "")
    })
    .await;
    let client = client();
    let stream = client
        .get_blob(&registry.reference("team/app"), &sha256(CONTENT))
        .await
        .unwrap();
    assert_eq!(stream.collect().await.unwrap(), CONTENT);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    let seen = storage.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].uri, "/storage/blob?sig=abc");
    assert!(seen[0].headers.get("authorization").is_none());
}

/// A download cut mid-body resumes with `Range: bytes=<received>-` and goes on verifying; a
/// registry that keeps cutting exhausts the resumptions and the stream fails without having
/// handed out the whole blob.
#[tokio::test]
async fn a_cut_download_resumes_by_range() {
    let digest = sha256(CONTENT);
    let server = Hostile::start(|seen| {
        let range = seen
            .headers
            .get("range")
            .map(|v| v.to_str().unwrap().to_owned());
        let always_cut = seen.uri.contains("/always/");
        match range {
            None => respond(200, &[("content-length", "48")], cut_body(&CONTENT[..20])),
            Some(range) if range == "bytes=20-" && !always_cut => {
                respond(206, &[("content-range", "bytes 20-47/48")], &CONTENT[20..])
            }
            Some(range) => {
                let from: usize = range
                    .trim_start_matches("bytes=")
                    .trim_end_matches('-')
                    .parse()
                    .unwrap();
                let value = format!("bytes {from}-47/48");
                let length = (48 - from).to_string();
                let sent: &'static [u8] = if from < 30 {
                    &CONTENT[20..30]
                } else {
                    &CONTENT[30..31]
                };
                respond(
                    206,
                    &[
                        ("content-range", value.as_str()),
                        ("content-length", length.as_str()),
                    ],
                    cut_body(sent),
                )
            }
        }
    })
    .await;
    let client = client();
    let (bytes, error) = drain(
        client
            .get_blob(&server.reference("once"), &digest)
            .await
            .unwrap(),
    )
    .await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(bytes, CONTENT);
    let ranges: Vec<String> = server
        .seen()
        .iter()
        .filter_map(|s| {
            s.headers
                .get("range")
                .map(|v| v.to_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(ranges, ["bytes=20-"]);

    let (bytes, error) = drain(
        client
            .get_blob(&server.reference("always"), &digest)
            .await
            .unwrap(),
    )
    .await;
    let error = error.unwrap();
    assert!(error.is_retryable(), "{error:?}");
    assert!(bytes.len() < CONTENT.len());
    // Three attempts in all: the first GET and two resumptions.
    assert_eq!(server.seen_at("/v2/always/").len(), 3);
}
