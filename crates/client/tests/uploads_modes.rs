//! Every upload mode against a real `gantry serve`: monolithic, streamed, chunked (with a chunk
//! size smaller than the blob), mount across repositories with its fallback, and cancel.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod support;

use bytes::Bytes;
use futures_util::stream;
use gantry_client::{ClientConfig, UploadMode};
use gantry_reference::RepositoryName;
use support::{Registry, client, client_with, sha256};

fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 256) as u8).collect()
}

/// `data` as a stream of chunks of `size` bytes.
fn chunks(
    data: &[u8],
    size: usize,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static + use<> {
    let parts: Vec<Result<Bytes, std::io::Error>> = data
        .chunks(size)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    stream::iter(parts)
}

#[tokio::test]
async fn each_mode_stores_the_blob_under_its_digest() {
    let registry = Registry::start().await;
    let client = client_with(ClientConfig::default().with_chunk_size(4096));
    let repo = registry.reference("team/app");
    for (mode, len) in [
        ("bytes", 10_000),
        ("stream", 100_000),
        ("chunked", 10_000),
        ("chunked", 4096),
        ("chunked", 0),
    ] {
        let data = content(len + mode.len());
        let digest = sha256(&data);
        let stored = match mode {
            "bytes" => {
                client
                    .push_blob(
                        &repo,
                        &digest,
                        UploadMode::monolithic(Bytes::from(data.clone())),
                    )
                    .await
            }
            "stream" => {
                client
                    .push_blob(&repo, &digest, UploadMode::streamed(chunks(&data, 1000)))
                    .await
            }
            _ => {
                client
                    .push_blob(&repo, &digest, UploadMode::chunked(chunks(&data, 1000)))
                    .await
            }
        }
        .unwrap_or_else(|e| panic!("{mode} {len}: {e:?}"));
        assert_eq!(stored, digest);
        assert_eq!(
            client.head_blob(&repo, &digest).await.unwrap(),
            data.len() as u64
        );
        let fetched = client
            .get_blob(&repo, &digest)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(fetched, data, "{mode} {len}");
    }
}

#[tokio::test]
async fn a_stream_with_the_wrong_digest_is_refused_by_the_registry() {
    let registry = Registry::start().await;
    let client = client_with(ClientConfig::default().with_chunk_size(1000));
    let repo = registry.reference("team/app");
    let data = content(3000);
    let wrong = sha256(b"other");
    let error = client
        .push_blob(&repo, &wrong, UploadMode::streamed(chunks(&data, 700)))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(400), "{error:?}");
    let error = client
        .push_blob(&repo, &wrong, UploadMode::chunked(chunks(&data, 700)))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(400), "{error:?}");
    assert!(
        client
            .head_blob(&repo, &wrong)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn a_blob_mounts_from_another_repository_and_a_missing_one_does_not() {
    let registry = Registry::start().await;
    let client = client();
    let digest = registry.seed_blob("team/base", b"shared layer").await;
    let target = registry.reference("team/app");
    let from = RepositoryName::parse("team/base").unwrap();
    assert!(client.mount_blob(&target, &digest, &from).await.unwrap());
    assert_eq!(client.head_blob(&target, &digest).await.unwrap(), 12);
    let missing = sha256(b"nowhere");
    assert!(!client.mount_blob(&target, &missing, &from).await.unwrap());
}

/// A mount the registry cannot make (the blob is not in the source repository) opens a session:
/// the client hands it over for the upload instead of cancelling it and opening another.
#[tokio::test]
async fn a_failed_mount_hands_over_its_session() {
    use gantry_client::MountOutcome;
    use support::proxy::{Fault, FaultProxy, Rule};

    let registry = Registry::start().await;
    // The proxy counts the POSTs (a zero delay changes nothing else).
    let proxy = FaultProxy::start(
        &registry.host,
        vec![Rule::new(
            "POST",
            "/blobs/uploads/",
            100,
            Fault::Delay(std::time::Duration::ZERO),
        )],
    )
    .await;
    let client = client_with(ClientConfig::default().with_chunk_size(1000));
    let shared = registry.seed_blob("team/base", b"shared layer").await;
    let target = support::reference(&proxy.host, "team/app");
    let from = RepositoryName::parse("team/base").unwrap();

    let outcome = client
        .mount_or_start_upload(&target, &shared, &from)
        .await
        .unwrap();
    assert!(matches!(outcome, MountOutcome::Mounted), "{outcome:?}");
    assert_eq!(proxy.applied().len(), 1);

    // Not in team/base: the session of the mount request takes the bytes.
    let whole = content(3000);
    let digest = sha256(&whole);
    let MountOutcome::Upload(upload) = client
        .mount_or_start_upload(&target, &digest, &from)
        .await
        .unwrap()
    else {
        panic!("a blob absent from the source cannot be mounted");
    };
    assert_eq!(upload.offset(), 0);
    let stored = client
        .complete_upload(
            upload,
            &digest,
            UploadMode::monolithic(Bytes::from(whole.clone())),
        )
        .await
        .unwrap();
    assert_eq!(stored, digest);
    assert_eq!(proxy.applied().len(), 2, "no second session was opened");

    // The same, chunked into the handed-over session.
    let chunked = content(4500);
    let digest_chunked = sha256(&chunked);
    let MountOutcome::Upload(upload) = client
        .mount_or_start_upload(&target, &digest_chunked, &from)
        .await
        .unwrap()
    else {
        panic!("a blob absent from the source cannot be mounted");
    };
    client
        .complete_upload(
            upload,
            &digest_chunked,
            UploadMode::chunked(chunks(&chunked, 700)),
        )
        .await
        .unwrap();
    assert_eq!(proxy.applied().len(), 3, "no second session was opened");

    let app = registry.reference("team/app");
    for (digest, data) in [(&digest, &whole), (&digest_chunked, &chunked)] {
        let read = client
            .get_blob(&app, digest)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(&read[..], &data[..]);
    }
    assert!(
        client
            .head_blob(&registry.reference("team/base"), &digest)
            .await
            .unwrap_err()
            .is_not_found(),
        "the source repository is untouched"
    );
}

/// A registry that refuses the mount request outright: a new session is opened for the upload.
#[tokio::test]
async fn a_refused_mount_opens_a_new_session() {
    use gantry_client::MountOutcome;
    use support::{Hostile, respond};

    let data = content(100);
    let digest = sha256(&data);
    let announced = digest.to_string();
    let server = Hostile::start(move |seen| match seen.method.as_str() {
        "POST" if seen.uri.contains("mount=") => {
            respond(403, &[], r#"{"errors":[{"code":"DENIED"}]}"#)
        }
        "POST" => respond(202, &[("location", "/v2/team/app/blobs/uploads/7")], ""),
        _ => respond(201, &[("docker-content-digest", announced.as_str())], ""),
    })
    .await;
    let client = client();
    let from = RepositoryName::parse("team/base").unwrap();
    let MountOutcome::Upload(upload) = client
        .mount_or_start_upload(&server.reference("team/app"), &digest, &from)
        .await
        .unwrap()
    else {
        panic!("the registry refused the mount");
    };
    assert!(upload.location().ends_with("/uploads/7"), "{upload:?}");
    client
        .complete_upload(
            upload,
            &digest,
            UploadMode::monolithic(Bytes::from(data.clone())),
        )
        .await
        .unwrap();
    let puts: Vec<_> = server
        .seen()
        .into_iter()
        .filter(|s| s.method == "PUT")
        .collect();
    assert_eq!(puts.len(), 1);
    assert!(
        puts[0]
            .uri
            .starts_with("/v2/team/app/blobs/uploads/7?digest=")
    );
    assert_eq!(puts[0].body, data);
}

/// A session that already holds the start of a blob (sent by another process) is finished from
/// the offset its status gives, chunked or streamed.
#[tokio::test]
async fn a_session_begun_elsewhere_is_finished_from_its_offset() {
    let registry = Registry::start().await;
    let client = client_with(ClientConfig::default().with_chunk_size(700));
    let repo = registry.reference("team/app");
    let data = content(5000);
    let digest = sha256(&data);
    for streamed in [false, true] {
        let mut upload = client.start_upload(&repo).await.unwrap();
        let response = support::raw_http()
            .patch(upload.location())
            .header("content-type", "application/octet-stream")
            .body(data[..1234].to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        assert_eq!(client.upload_status(&mut upload).await.unwrap(), 1234);
        let stored = if streamed {
            let opened = std::sync::Mutex::new(Vec::new());
            let stored = client
                .complete_upload(
                    upload,
                    &digest,
                    UploadMode::resumable(|offset| {
                        opened.lock().unwrap().push(offset);
                        let rest = data[usize::try_from(offset).unwrap()..].to_vec();
                        std::future::ready(Ok::<_, std::io::Error>(chunks(&rest, 1000)))
                    }),
                )
                .await
                .unwrap();
            assert_eq!(opened.into_inner().unwrap(), [1234]);
            stored
        } else {
            client
                .complete_upload(
                    upload,
                    &digest,
                    UploadMode::chunked(chunks(&data[1234..], 300)),
                )
                .await
                .unwrap()
        };
        assert_eq!(stored, digest);
        let read = client
            .get_blob(&repo, &digest)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(read, data, "streamed: {streamed}");
        client.delete_blob(&repo, &digest).await.unwrap();
        assert!(
            client
                .head_blob(&repo, &digest)
                .await
                .unwrap_err()
                .is_not_found()
        );
    }
}

#[tokio::test]
async fn a_cancelled_upload_is_gone() {
    let registry = Registry::start().await;
    let client = client();
    let repo = registry.reference("team/app");
    let mut upload = client.start_upload(&repo).await.unwrap();
    assert_eq!(client.upload_status(&mut upload).await.unwrap(), 0);
    let mut again = upload.clone();
    client.cancel_upload(upload).await.unwrap();
    let error = client.upload_status(&mut again).await.unwrap_err();
    assert!(error.is_not_found(), "{error:?}");
}

/// A registry that fails the second chunk after taking half of it: the client asks for the
/// upload status and sends the rest of that chunk only.
#[tokio::test]
async fn a_failed_chunk_resumes_from_the_upload_status() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use support::{Hostile, respond};

    let data = content(2000);
    let digest = sha256(&data);
    let failed = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&failed);
    let announced = digest.to_string();
    let server = Hostile::start(move |seen| {
        let range = seen
            .headers
            .get("content-range")
            .map(|v| v.to_str().unwrap().to_owned());
        match (seen.method.as_str(), range.as_deref()) {
            ("POST", _) => respond(202, &[("location", "/v2/team/app/blobs/uploads/1")], ""),
            ("PATCH", Some("1000-1999")) if !flag.swap(true, Ordering::SeqCst) => {
                respond(503, &[], "")
            }
            ("PATCH", Some(range)) => {
                let end = range.split('-').nth(1).unwrap().to_owned();
                let held = format!("0-{end}");
                respond(
                    202,
                    &[
                        ("location", "/v2/team/app/blobs/uploads/1"),
                        ("range", held.as_str()),
                    ],
                    "",
                )
            }
            ("GET", _) => respond(
                204,
                &[
                    ("location", "/v2/team/app/blobs/uploads/1"),
                    ("range", "0-1499"),
                ],
                "",
            ),
            ("PUT", _) => respond(201, &[("docker-content-digest", announced.as_str())], ""),
            _ => respond(400, &[], ""),
        }
    })
    .await;
    let client = client_with(ClientConfig::default().with_chunk_size(1000));
    let stored = client
        .push_blob(
            &server.reference("team/app"),
            &digest,
            UploadMode::chunked(chunks(&data, 300)),
        )
        .await
        .unwrap();
    assert_eq!(stored, digest);
    let patches: Vec<(String, String)> = server
        .seen()
        .iter()
        .filter(|s| s.method == "PATCH")
        .map(|s| {
            let header = |name: &str| s.headers.get(name).unwrap().to_str().unwrap().to_owned();
            (header("content-range"), header("content-length"))
        })
        .collect();
    let expected = [
        ("0-999", "1000"),
        ("1000-1999", "1000"),
        ("1500-1999", "500"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(r, l)| ((*r).to_owned(), (*l).to_owned()))
        .collect();
    assert_eq!(patches, expected);
    let put = server.seen().pop().unwrap();
    assert_eq!(
        put.uri,
        format!(
            "/v2/team/app/blobs/uploads/1?digest={}",
            digest.as_str().replace(':', "%3A")
        )
    );
}

/// A registry that asks for chunks of at least 5000 bytes gets them, whatever the configured
/// chunk size.
#[tokio::test]
async fn chunks_are_raised_to_the_registry_minimum() {
    let registry = Registry::start_with(|config| config.chunk_min_length = 5000).await;
    let client = client_with(ClientConfig::default().with_chunk_size(1000));
    let repo = registry.reference("team/app");
    let upload = client.start_upload(&repo).await.unwrap();
    assert_eq!(upload.min_chunk(), Some(5000));
    client.cancel_upload(upload).await.unwrap();
    let data = content(12_000);
    let digest = sha256(&data);
    client
        .push_blob(&repo, &digest, UploadMode::chunked(chunks(&data, 1000)))
        .await
        .unwrap();
    assert_eq!(client.head_blob(&repo, &digest).await.unwrap(), 12_000);
}

/// The chunk sizes on the wire: raised to `OCI-Chunk-Min-Length`, the last one shorter.
#[tokio::test]
async fn patches_carry_chunks_of_the_registry_minimum() {
    use support::{Hostile, respond};

    let data = content(6000);
    let digest = sha256(&data);
    let announced = digest.to_string();
    let server = Hostile::start(move |seen| {
        let location = ("location", "/v2/team/app/blobs/uploads/1");
        match seen.method.as_str() {
            "POST" => respond(202, &[location, ("oci-chunk-min-length", "2500")], ""),
            "PATCH" => {
                let range = seen.headers.get("content-range").unwrap().to_str().unwrap();
                let held = format!("0-{}", range.split('-').nth(1).unwrap());
                respond(202, &[location, ("range", held.as_str())], "")
            }
            _ => respond(201, &[("docker-content-digest", announced.as_str())], ""),
        }
    })
    .await;
    let client = client_with(ClientConfig::default().with_chunk_size(1000));
    client
        .push_blob(
            &server.reference("team/app"),
            &digest,
            UploadMode::chunked(chunks(&data, 999)),
        )
        .await
        .unwrap();
    let patches: Vec<(String, usize)> = server
        .seen()
        .iter()
        .filter(|s| s.method == "PATCH")
        .map(|s| {
            let range = s
                .headers
                .get("content-range")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            (range, s.body.len())
        })
        .collect();
    let expected = [("0-2499", 2500), ("2500-4999", 2500), ("5000-5999", 1000)];
    let expected: Vec<(String, usize)> = expected
        .iter()
        .map(|(r, n)| ((*r).to_owned(), *n))
        .collect();
    assert_eq!(patches, expected);
}

/// A registry that refuses `Content-Range` chunks gets the whole blob in one streamed `PATCH`
/// of a new session; a failing content stream is the caller's error, not a retryable one.
#[tokio::test]
async fn a_registry_that_refuses_chunks_gets_one_stream() {
    use support::{Hostile, respond};

    let data = content(5000);
    let digest = sha256(&data);
    let announced = digest.to_string();
    let server = Hostile::start(move |seen| {
        let location = ("location", "/v2/team/app/blobs/uploads/1");
        match seen.method.as_str() {
            "POST" => respond(202, &[location], ""),
            "PATCH" if seen.headers.contains_key("content-range") => {
                respond(405, &[], r#"{"errors":[{"code":"UNSUPPORTED"}]}"#)
            }
            "PATCH" => {
                let held = format!("0-{}", seen.body.len() - 1);
                respond(202, &[location, ("range", held.as_str())], "")
            }
            "DELETE" => respond(204, &[], ""),
            _ => respond(201, &[("docker-content-digest", announced.as_str())], ""),
        }
    })
    .await;
    let client = client_with(ClientConfig::default().with_chunk_size(1000));
    let repo = server.reference("team/app");
    let stored = client
        .push_blob(&repo, &digest, UploadMode::chunked(chunks(&data, 300)))
        .await
        .unwrap();
    assert_eq!(stored, digest);
    let streamed: Vec<_> = server
        .seen()
        .into_iter()
        .filter(|s| s.method == "PATCH" && !s.headers.contains_key("content-range"))
        .collect();
    assert_eq!(streamed.len(), 1);
    assert_eq!(streamed[0].body, data);
    let methods: Vec<String> = server.seen().iter().map(|s| s.method.to_string()).collect();
    assert!(
        methods.contains(&"DELETE".to_owned()),
        "the refused session is cancelled: {methods:?}"
    );

    let failing = futures_util::stream::iter(vec![
        Ok(Bytes::from_static(b"some")),
        Err(std::io::Error::other("disk gone")),
    ]);
    let error = client
        .push_blob(&repo, &digest, UploadMode::chunked(failing))
        .await
        .unwrap_err();
    assert!(
        matches!(error, gantry_client::ClientError::Content { .. }),
        "{error:?}"
    );
    assert!(!error.is_retryable());

    // The same for one streamed PATCH: the content's failure, not the connection's.
    let failing = futures_util::stream::iter(vec![
        Ok(Bytes::from_static(b"some")),
        Err(std::io::Error::other("disk gone")),
    ]);
    let error = client
        .push_blob(&repo, &digest, UploadMode::streamed(failing))
        .await
        .unwrap_err();
    assert!(
        matches!(error, gantry_client::ClientError::Content { .. }),
        "{error:?}"
    );
    assert!(!error.is_retryable());
}

/// A registry that refuses a streamed `PATCH` gets a resumable upload as a monolithic `PUT` of
/// the content reopened at 0.
#[tokio::test]
async fn a_registry_that_refuses_a_streamed_patch_gets_the_blob_in_the_put() {
    use support::{Hostile, respond};

    let data = content(20_000);
    let digest = sha256(&data);
    let announced = digest.to_string();
    let server = Hostile::start(move |seen| {
        let location = ("location", "/v2/team/app/blobs/uploads/3");
        match seen.method.as_str() {
            "POST" => respond(202, &[location], ""),
            "PATCH" => respond(405, &[], r#"{"errors":[{"code":"UNSUPPORTED"}]}"#),
            _ => respond(201, &[("docker-content-digest", announced.as_str())], ""),
        }
    })
    .await;
    let client = client();
    let opened = std::sync::Mutex::new(Vec::new());
    let stored = client
        .push_blob(
            &server.reference("team/app"),
            &digest,
            UploadMode::resumable(|offset| {
                opened.lock().unwrap().push(offset);
                std::future::ready(Ok::<_, std::io::Error>(chunks(&data, 4096)))
            }),
        )
        .await
        .unwrap();
    assert_eq!(stored, digest);
    assert_eq!(opened.into_inner().unwrap(), [0, 0]);
    let puts: Vec<_> = server
        .seen()
        .into_iter()
        .filter(|s| s.method == "PUT")
        .collect();
    assert_eq!(puts.len(), 1);
    assert!(
        puts[0]
            .uri
            .starts_with("/v2/team/app/blobs/uploads/3?digest=")
    );
    assert_eq!(puts[0].body, data, "the whole blob is in the PUT");
}
