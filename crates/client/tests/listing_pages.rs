//! Tags and catalog listing against a real `gantry serve`, and pagination by `Link` against a
//! server that pages one entry at a time.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod support;

use gantry_spec::{Descriptor, ImageManifest};
use support::{Hostile, Registry, client, respond};

#[tokio::test]
async fn tags_and_repositories_list_from_gantry_serve() {
    let registry = Registry::start().await;
    let client = client();
    registry.seed_blob("team/app", b"{}").await;
    let manifest = ImageManifest::builder(Descriptor::empty())
        .artifact_type("application/vnd.example")
        .build()
        .unwrap();
    for tag in ["b", "a", "c"] {
        client
            .put_manifest(&registry.reference(&format!("team/app:{tag}")), &manifest)
            .await
            .unwrap();
    }
    let mut tags = client
        .list_tags(&registry.reference("team/app"))
        .await
        .unwrap();
    tags.sort();
    assert_eq!(tags, ["a", "b", "c"]);
    assert_eq!(client.catalog(&registry.host).await.unwrap(), ["team/app"]);
}

#[tokio::test]
async fn pages_are_followed_by_their_link_header() {
    let server = Hostile::start(|seen| {
        let (tag, link) = match seen.uri.as_str() {
            "/v2/x/tags/list" => ("one", Some(r#"</v2/x/tags/list?last=one>; rel="next""#)),
            "/v2/x/tags/list?last=one" => {
                ("two", Some(r#"</v2/x/tags/list?last=two>; rel="next""#))
            }
            _ => ("three", None),
        };
        let body = format!(r#"{{"name":"x","tags":["{tag}"]}}"#);
        match link {
            Some(link) => respond(200, &[("link", link)], body),
            None => respond(200, &[], body),
        }
    })
    .await;
    let tags = client().list_tags(&server.reference("x")).await.unwrap();
    assert_eq!(tags, ["one", "two", "three"]);
}

#[tokio::test]
async fn a_page_that_is_not_json_is_an_error() {
    let server = Hostile::start(|_| respond(200, &[], "<html>")).await;
    let error = client()
        .list_tags(&server.reference("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, gantry_client::ClientError::InvalidJson { .. }),
        "{error:?}"
    );
}
