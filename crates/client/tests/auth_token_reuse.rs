//! Token reuse across scopes: a token asked for `pull,push` serves a later request that needs
//! `pull` alone, without asking the token service again; a token never serves a repository or
//! an action it was not asked for.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod support;

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::Response;
use support::{Hostile, Seen, client, respond};

const TAGS: &str = r#"{"name":"team/app","tags":["v1"]}"#;

/// Percent-decodes what the client encodes in scopes.
fn decode(value: &str) -> String {
    value
        .replace("%3A", ":")
        .replace("%2F", "/")
        .replace("%2C", ",")
}

/// Whether the token `token-<scope> <scope>...` grants `action` on `name`.
fn grants(authorization: &str, name: &str, action: &str) -> bool {
    authorization
        .strip_prefix("Bearer token-")
        .is_some_and(|scopes| {
            scopes.split(' ').any(|scope| {
                scope
                    .strip_prefix(&format!("repository:{name}:"))
                    .is_some_and(|actions| actions.split(',').any(|a| a == action))
            })
        })
}

/// A registry whose token service grants every scope asked for: uploads need `push`, reads
/// `pull`, each on the repository named in the path.
async fn realm() -> Hostile {
    let address: Arc<OnceLock<String>> = Arc::new(OnceLock::new());
    let own = Arc::clone(&address);
    let server = Hostile::start(move |seen: &Seen| -> Response<Body> {
        let host = own.get().unwrap();
        if seen.uri.starts_with("/token") {
            let query = seen.uri.split_once('?').map(|(_, q)| q).unwrap_or_default();
            let scopes: Vec<String> = query
                .split('&')
                .filter_map(|p| p.strip_prefix("scope="))
                .map(decode)
                .collect();
            let body = format!(
                r#"{{"token":"token-{}","expires_in":300}}"#,
                scopes.join(" ")
            );
            return respond(200, &[], body);
        }
        let name = seen
            .uri
            .strip_prefix("/v2/")
            .and_then(|rest| rest.split_once("/tags/").or(rest.split_once("/blobs/")))
            .map(|(name, _)| name.to_owned())
            .unwrap_or_default();
        let action = if seen.method == "GET" { "pull" } else { "push" };
        let authorization = seen
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        if !grants(&authorization, &name, action) {
            let challenge = format!(
                r#"Bearer realm="http://{host}/token",service="test",scope="repository:{name}:{action}""#
            );
            return respond(
                401,
                &[("www-authenticate", challenge.as_str())],
                r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#,
            );
        }
        if seen.method == "POST" {
            let location = format!("/v2/{name}/blobs/uploads/session-1");
            return respond(
                202,
                &[("location", location.as_str()), ("range", "0-0")],
                "",
            );
        }
        respond(200, &[("content-type", "application/json")], TAGS)
    })
    .await;
    address.set(server.host.clone()).unwrap();
    server
}

#[tokio::test]
async fn a_push_token_serves_later_pulls_of_the_same_repository() {
    let server = realm().await;
    let client = client();
    let app = server.reference("team/app");

    let upload = client.start_upload(&app).await.unwrap();
    assert!(upload.location().ends_with("/session-1"));
    assert_eq!(server.seen_at("/token").len(), 1);

    for _ in 0..3 {
        assert_eq!(client.list_tags(&app).await.unwrap(), ["v1"]);
    }
    let tokens = server.seen_at("/token");
    assert_eq!(
        tokens.len(),
        1,
        "the pull,push token serves the pulls: {tokens:?}"
    );
    assert!(
        tokens[0]
            .uri
            .contains("scope=repository%3Ateam%2Fapp%3Apull%2Cpush"),
        "{}",
        tokens[0].uri
    );
    let pulls = server.seen_at("/v2/team/app/tags/");
    assert_eq!(pulls.len(), 3, "no pull was refused first: {pulls:?}");
}

#[tokio::test]
async fn a_pull_token_serves_neither_a_push_nor_another_repository() {
    let server = realm().await;
    let client = client();
    let app = server.reference("team/app");
    let other = server.reference("team/other");

    assert_eq!(client.list_tags(&app).await.unwrap(), ["v1"]);
    assert_eq!(server.seen_at("/token").len(), 1);
    client.start_upload(&app).await.unwrap();
    assert_eq!(
        server.seen_at("/token").len(),
        2,
        "a push needs a token asked for push"
    );
    assert_eq!(client.list_tags(&other).await.unwrap(), ["v1"]);
    let tokens = server.seen_at("/token");
    assert_eq!(tokens.len(), 3, "another repository needs its own token");
    assert!(tokens[2].uri.contains("team%2Fother"), "{}", tokens[2].uri);
    // Each token is kept: asking again costs nothing.
    client.start_upload(&app).await.unwrap();
    assert_eq!(client.list_tags(&other).await.unwrap(), ["v1"]);
    assert_eq!(server.seen_at("/token").len(), 3);
}
