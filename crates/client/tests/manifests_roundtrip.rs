//! Manifests against a real `gantry serve`: put, get, head and delete, by tag and by digest,
//! push by digest with tags; and hostile registries that lie about what they send.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod support;

use gantry_client::ClientError;
use gantry_reference::Tag;
use gantry_spec::{Descriptor, ImageManifest, Manifest, media_type};
use support::{Hostile, Registry, client, respond, sha256};

/// A one-layer OCI image manifest whose blobs are on `registry` in `name`.
async fn image(registry: &Registry, name: &str, layer: &[u8]) -> Manifest {
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    registry.seed_blob(name, config).await;
    registry.seed_blob(name, layer).await;
    ImageManifest::builder(Descriptor::of(media_type::OCI_IMAGE_CONFIG, config))
        .layer(Descriptor::of(media_type::OCI_LAYER_TAR_GZIP, layer))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_manifest_put_by_tag_reads_back_by_tag_and_digest() {
    let registry = Registry::start().await;
    let client = client();
    let manifest = image(&registry, "team/app", b"layer").await;

    let tagged = registry.reference("team/app:1.0");
    let digest = client.put_manifest(&tagged, &manifest).await.unwrap();
    assert_eq!(&digest, manifest.digest());

    let by_tag = client.get_manifest(&tagged).await.unwrap();
    assert_eq!(by_tag.bytes(), manifest.bytes());
    let by_digest = registry.reference(&format!("team/app@{digest}"));
    let fetched = client.get_manifest(&by_digest).await.unwrap();
    assert_eq!(fetched.digest(), &digest);

    let head = client.head_manifest(&tagged).await.unwrap();
    assert_eq!(head.digest, digest);
    assert_eq!(head.size, manifest.size());
    assert_eq!(head.media_type, media_type::OCI_IMAGE_MANIFEST);

    client.delete_manifest(&by_digest).await.unwrap();
    let gone = client.get_manifest(&by_digest).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone:?}");
    assert!(!gone.is_retryable());
    let gone = client.head_manifest(&tagged).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone:?}");
}

#[tokio::test]
async fn a_manifest_pushed_by_digest_carries_its_tags() {
    let registry = Registry::start().await;
    let client = client();
    let manifest = image(&registry, "team/app", b"layer").await;
    let tags = [Tag::parse("a").unwrap(), Tag::parse("b").unwrap()];
    let untagged = registry.reference("team/app");
    let digest = client
        .put_manifest_with_tags(&untagged, &manifest, &tags)
        .await
        .unwrap();
    for tag in ["a", "b"] {
        let head = client
            .head_manifest(&registry.reference(&format!("team/app:{tag}")))
            .await
            .unwrap();
        assert_eq!(head.digest, digest, "{tag}");
    }
}

#[tokio::test]
async fn registry_errors_carry_their_oci_code() {
    let registry = Registry::start().await;
    let client = client();
    let missing = client
        .get_manifest(&registry.reference("team/none:latest"))
        .await
        .unwrap_err();
    assert!(missing.is_not_found());
    assert!(missing.code().is_some(), "{missing:?}");
    // A manifest whose blobs the registry lacks is refused with MANIFEST_BLOB_UNKNOWN.
    let orphan = ImageManifest::builder(Descriptor::of(media_type::OCI_IMAGE_CONFIG, b"{}"))
        .build()
        .unwrap();
    let refused = client
        .put_manifest(&registry.reference("team/app:x"), &orphan)
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(400), "{refused:?}");
    assert_eq!(
        refused.code(),
        Some(gantry_spec::error_code::ErrorCode::ManifestBlobUnknown)
    );
}

#[tokio::test]
async fn a_manifest_larger_than_the_push_limit_is_not_sent() {
    let registry = Registry::start().await;
    let mut config = gantry_client::ClientConfig::default();
    config.max_manifest_push = 64;
    let client = support::client_with(config);
    let manifest = image(&registry, "team/app", b"layer").await;
    let error = client
        .put_manifest(&registry.reference("team/app:1"), &manifest)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::TooLarge {
                what: "manifest",
                ..
            }
        ),
        "{error:?}"
    );
}

const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[],"artifactType":"application/vnd.example"}"#;

/// Each hostile answer to a manifest GET, and what the client must make of it.
#[tokio::test]
async fn hostile_manifest_answers_are_refused() {
    let good = sha256(MANIFEST.as_bytes());
    let other = sha256(b"something else");
    type Expect = fn(&ClientError) -> bool;
    let cases: Vec<(&str, String, Expect)> = vec![
        // Fetched by digest, the body hashes to something else.
        ("by digest, wrong body", format!("x@{other}"), |e| {
            e.is_digest_mismatch()
        }),
        // Fetched by tag, Docker-Content-Digest disagrees with the body.
        ("by tag, wrong header", "x:wrongheader".to_owned(), |e| {
            e.is_digest_mismatch()
        }),
        // Content-Length announces more than the limit.
        ("too large", "x:huge".to_owned(), |e| {
            matches!(e, ClientError::TooLarge { .. })
        }),
        // The connection is cut mid-body.
        ("cut", "x:cut".to_owned(), |e| e.is_retryable()),
    ];
    let server = Hostile::start(move |seen| {
        let path = seen.uri.as_str();
        let ct = ("content-type", media_type::OCI_IMAGE_MANIFEST);
        if path.ends_with("/wrongheader") {
            respond(
                200,
                &[
                    ct,
                    (
                        "docker-content-digest",
                        "sha256:0000000000000000000000000000000000000000000000000000000000000000",
                    ),
                ],
                MANIFEST,
            )
        } else if path.ends_with("/huge") {
            respond(200, &[ct], vec![b' '; 9 * 1024 * 1024])
        } else if path.ends_with("/cut") {
            respond(
                200,
                &[ct, ("content-length", "400")],
                support::cut_body(b"{\"schemaVersion\""),
            )
        } else {
            respond(200, &[ct], MANIFEST)
        }
    })
    .await;
    let client = client();
    for (what, rest, expected) in &cases {
        let error = client
            .get_manifest(&server.reference(rest))
            .await
            .unwrap_err();
        assert!(expected(&error), "{what}: {error:?}");
    }
    // And the honest answer is accepted, by tag and by digest.
    let fine = client
        .get_manifest(&server.reference("x:fine"))
        .await
        .unwrap();
    assert_eq!(fine.digest(), &good);
    client
        .get_manifest(&server.reference(&format!("x@{good}")))
        .await
        .unwrap();
    // Every manifest request asked for OCI and Docker types alike.
    for seen in server.seen() {
        let accept = seen.headers.get("accept").unwrap().to_str().unwrap();
        for kind in gantry_client::MANIFEST_ACCEPT {
            assert!(accept.contains(kind), "{accept}");
        }
    }
}

#[tokio::test]
async fn a_head_without_digest_or_type_is_refused() {
    let server = Hostile::start(|seen| {
        if seen.uri.ends_with("/notype") {
            respond(200, &[("content-length", "10")], "")
        } else {
            respond(
                200,
                &[
                    ("content-type", media_type::OCI_IMAGE_MANIFEST),
                    ("content-length", "10"),
                ],
                "",
            )
        }
    })
    .await;
    let client = client();
    let error = client
        .head_manifest(&server.reference("x:nodigest"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::MissingHeader {
                name: "Docker-Content-Digest",
                ..
            }
        ),
        "{error:?}"
    );
    let error = client
        .head_manifest(&server.reference("x:notype"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::MissingHeader {
                name: "Content-Type",
                ..
            }
        ),
        "{error:?}"
    );
}
