//! Referrers against a real `gantry serve` (the API, with `artifactType`), and the tag schema's
//! fallback against a registry that answers the API with 404.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod support;

use gantry_client::fallback_tag;
use gantry_spec::{Descriptor, ImageManifest, Manifest, media_type, referrers};
use support::{Hostile, Registry, client, respond};

fn artifact(artifact_type: &str, subject: Option<&Manifest>) -> Manifest {
    let mut builder = ImageManifest::builder(Descriptor::empty()).artifact_type(artifact_type);
    if let Some(subject) = subject {
        builder = builder.subject(subject.descriptor());
    }
    builder.build().unwrap()
}

#[tokio::test]
async fn the_referrers_api_lists_and_filters() {
    let registry = Registry::start().await;
    let client = client();
    registry.seed_blob("team/app", b"{}").await;
    let repo = registry.reference("team/app");
    let subject = artifact("application/vnd.example.image", None);
    client
        .put_manifest(&registry.reference("team/app:v1"), &subject)
        .await
        .unwrap();
    let signature = artifact("application/vnd.example.signature", Some(&subject));
    let sbom = artifact("application/vnd.example.sbom", Some(&subject));
    for referrer in [&signature, &sbom] {
        client.put_manifest(&repo, referrer).await.unwrap();
    }
    let all = client
        .referrers(&repo, subject.digest(), None)
        .await
        .unwrap();
    let mut digests: Vec<_> = all.iter().map(|d| d.digest.clone()).collect();
    digests.sort();
    let mut expected = vec![signature.digest().clone(), sbom.digest().clone()];
    expected.sort();
    assert_eq!(digests, expected);
    let signatures = client
        .referrers(
            &repo,
            subject.digest(),
            Some("application/vnd.example.signature"),
        )
        .await
        .unwrap();
    assert_eq!(signatures.len(), 1);
    assert_eq!(&signatures[0].digest, signature.digest());
    let none = client
        .referrers(&repo, signature.digest(), None)
        .await
        .unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn a_registry_without_the_api_is_read_through_the_fallback_tag() {
    let subject = artifact("application/vnd.example.image", None);
    let signature = artifact("application/vnd.example.signature", Some(&subject));
    let sbom = artifact("application/vnd.example.sbom", Some(&subject));
    let index = referrers::index([
        referrers::descriptor(&signature),
        referrers::descriptor(&sbom),
    ])
    .unwrap();
    let index_bytes = index.bytes().clone();
    let tag_path = format!("/v2/team/app/manifests/{}", fallback_tag(subject.digest()));
    let server = Hostile::start(move |seen| {
        if seen.uri == tag_path {
            respond(
                200,
                &[("content-type", media_type::OCI_IMAGE_INDEX)],
                index_bytes.clone(),
            )
        } else {
            respond(
                404,
                &[],
                r#"{"errors":[{"code":"UNSUPPORTED","message":"no"}]}"#,
            )
        }
    })
    .await;
    let client = client();
    let repo = server.reference("team/app");
    let all = client
        .referrers(&repo, subject.digest(), None)
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    let sboms = client
        .referrers(
            &repo,
            subject.digest(),
            Some("application/vnd.example.sbom"),
        )
        .await
        .unwrap();
    assert_eq!(sboms.len(), 1);
    assert_eq!(&sboms[0].digest, sbom.digest());
    // No fallback index either: no referrers.
    let none = client.referrers(&repo, sbom.digest(), None).await.unwrap();
    assert!(none.is_empty());
}
