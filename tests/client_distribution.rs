//! `gantry-client` against Debian's `docker-registry` (CNCF Distribution 2.8): every endpoint
//! the client speaks, every upload mode, mount, pagination, the referrers fallback (Distribution
//! has no referrers API) and delete.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on a broken setup"
)]

use bytes::Bytes;
use futures_util::stream;
use gantry_client::{Client, ClientConfig, CredentialSources, UploadMode, fallback_tag};
use gantry_reference::{Algorithm, Digest, Reference, RepositoryName};
use gantry_spec::{Descriptor, ImageManifest, Manifest, media_type, referrers};
use gantry_test_support::distribution::Distribution;

fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn chunks(
    data: &[u8],
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let parts: Vec<Result<Bytes, std::io::Error>> = data
        .chunks(700)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    stream::iter(parts)
}

fn artifact(artifact_type: &str, subject: Option<&Manifest>) -> Manifest {
    let mut builder = ImageManifest::builder(Descriptor::empty()).artifact_type(artifact_type);
    if let Some(subject) = subject {
        builder = builder.subject(subject.descriptor());
    }
    builder.build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_speaks_every_endpoint_with_distribution() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Distribution::start(&dir.path().join("root"), dir.path());
    let host = registry.addr().to_string();
    let mut config = ClientConfig::default()
        .with_chunk_size(1000)
        .with_credential_sources(CredentialSources::None);
    config.page_size = Some(1);
    let client = Client::new(config).unwrap();
    let reference = |rest: &str| Reference::parse(format!("{host}/{rest}")).unwrap();
    let repo = reference("team/app");

    client.ping(&host).await.unwrap();

    // Every upload mode, then reads of what each stored.
    let whole = content(10_000, 1);
    let streamed = content(50_000, 2);
    let chunked = content(3_500, 3);
    let digests: Vec<Digest> = [&whole, &streamed, &chunked]
        .iter()
        .map(|d| Digest::of(Algorithm::Sha256, d))
        .collect();
    client
        .push_blob(
            &repo,
            &digests[0],
            UploadMode::monolithic(Bytes::from(whole.clone())),
        )
        .await
        .unwrap();
    client
        .push_blob(&repo, &digests[1], UploadMode::streamed(chunks(&streamed)))
        .await
        .unwrap();
    client
        .push_blob(&repo, &digests[2], UploadMode::chunked(chunks(&chunked)))
        .await
        .unwrap();
    for (data, digest) in [&whole, &streamed, &chunked].into_iter().zip(&digests) {
        assert_eq!(
            client.head_blob(&repo, digest).await.unwrap(),
            data.len() as u64
        );
        let fetched = client
            .get_blob(&repo, digest)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(&fetched, data);
    }
    let range = client
        .get_blob_range(&repo, &digests[0], 100..200)
        .await
        .unwrap();
    assert_eq!(range.collect().await.unwrap(), &whole[100..200]);

    // Mount into another repository; a missing blob is not mounted.
    let other = reference("team/other");
    let from = RepositoryName::parse("team/app").unwrap();
    assert!(client.mount_blob(&other, &digests[0], &from).await.unwrap());
    assert_eq!(client.head_blob(&other, &digests[0]).await.unwrap(), 10_000);
    let absent = Digest::of(Algorithm::Sha256, b"absent");
    assert!(!client.mount_blob(&other, &absent, &from).await.unwrap());

    // Cancel.
    let upload = client.start_upload(&repo).await.unwrap();
    client.cancel_upload(upload).await.unwrap();

    // Manifests: put by tag, read by tag and digest, head.
    client
        .push_blob(
            &repo,
            &Digest::of(Algorithm::Sha256, b"{}"),
            UploadMode::monolithic(Bytes::from_static(b"{}")),
        )
        .await
        .unwrap();
    let image = ImageManifest::builder(Descriptor::empty())
        .artifact_type("application/vnd.example.image")
        .layer(Descriptor::new(
            media_type::OCI_LAYER_TAR,
            digests[0].clone(),
            10_000,
        ))
        .build()
        .unwrap();
    for tag in ["v1", "v2", "v3"] {
        let pushed = client
            .put_manifest(&reference(&format!("team/app:{tag}")), &image)
            .await
            .unwrap();
        assert_eq!(&pushed, image.digest());
    }
    let by_tag = client
        .get_manifest(&reference("team/app:v1"))
        .await
        .unwrap();
    assert_eq!(by_tag.bytes(), image.bytes());
    let by_digest = reference(&format!("team/app@{}", image.digest()));
    assert_eq!(
        client.get_manifest(&by_digest).await.unwrap().digest(),
        image.digest()
    );
    let head = client
        .head_manifest(&reference("team/app:v2"))
        .await
        .unwrap();
    assert_eq!(&head.digest, image.digest());
    assert_eq!(head.media_type, media_type::OCI_IMAGE_MANIFEST);

    // Listing, one entry a page.
    let mut tags = client.list_tags(&repo).await.unwrap();
    tags.sort();
    assert_eq!(tags, ["v1", "v2", "v3"]);
    assert_eq!(
        client.catalog(&host).await.unwrap(),
        ["team/app", "team/other"]
    );

    // Referrers: no API, so the tag schema's fallback: empty, then the index under the tag.
    assert!(
        client
            .referrers(&repo, image.digest(), None)
            .await
            .unwrap()
            .is_empty()
    );
    let signature = artifact("application/vnd.example.signature", Some(&image));
    client.put_manifest(&repo, &signature).await.unwrap();
    let index = referrers::index([referrers::descriptor(&signature)]).unwrap();
    client
        .put_manifest(
            &reference(&format!("team/app:{}", fallback_tag(image.digest()))),
            &index,
        )
        .await
        .unwrap();
    let listed = client
        .referrers(
            &repo,
            image.digest(),
            Some("application/vnd.example.signature"),
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(&listed[0].digest, signature.digest());

    // Delete.
    client.delete_manifest(&by_digest).await.unwrap();
    let gone = client.get_manifest(&by_digest).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone:?}");

    registry.stop();
}
