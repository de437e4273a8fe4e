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

/// gantry serve pages by `?n=` and links the next page: a page size of 2 walks five tags in
/// three pages.
#[tokio::test]
async fn gantry_serve_pages_by_the_configured_size() {
    let registry = Registry::start().await;
    let mut config = gantry_client::ClientConfig::default();
    config.page_size = Some(2);
    let client = support::client_with(config);
    registry.seed_blob("team/app", b"{}").await;
    let manifest = ImageManifest::builder(Descriptor::empty())
        .artifact_type("application/vnd.example")
        .build()
        .unwrap();
    for tag in ["e", "d", "c", "b", "a"] {
        client
            .put_manifest(&registry.reference(&format!("team/app:{tag}")), &manifest)
            .await
            .unwrap();
    }
    for name in ["team/b", "team/c"] {
        registry.seed_blob(name, b"{}").await;
        client
            .put_manifest(&registry.reference(&format!("{name}:x")), &manifest)
            .await
            .unwrap_or_else(|_| panic!("{name}"));
    }
    let tags = client
        .list_tags(&registry.reference("team/app"))
        .await
        .unwrap();
    assert_eq!(tags, ["a", "b", "c", "d", "e"]);
    let repositories = client.catalog(&registry.host).await.unwrap();
    assert_eq!(repositories, ["team/app", "team/b", "team/c"]);
}
