//! Authentication against a small token realm: anonymous and Basic-authenticated Bearer tokens
//! by GET, the OAuth2 POST with its fallback to GET, the token cache, scope escalation on
//! `insufficient_scope`, Basic challenges, and credentials kept off other hosts.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod support;

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::Response;
use gantry_client::{ClientConfig, Credential, UploadMode};
use support::{Hostile, Seen, client, client_with, respond, sha256};

const TAGS: &str = r#"{"name":"team/app","tags":["v1"]}"#;

/// Options of the realm server.
#[derive(Clone, Copy, Default)]
struct Realm {
    /// Answer token POSTs with 404, so the client falls back to GET.
    refuse_post: bool,
    /// Require `pull,push` on `team/app` for tag listing, asking for it by
    /// `insufficient_scope`.
    escalate: bool,
}

/// A registry and its token service on one server: `/token` issues `token-<scopes>`;
/// `/v2/...` wants a token naming the repository's scope and answers 401 with a Bearer
/// challenge otherwise.
async fn token_registry(realm: Realm) -> Hostile {
    let address: Arc<OnceLock<String>> = Arc::new(OnceLock::new());
    let own = Arc::clone(&address);
    let server = Hostile::start(move |seen: &Seen| -> Response<Body> {
        let host = own.get().unwrap();
        if seen.uri.starts_with("/token") {
            if seen.method == "POST" {
                if realm.refuse_post {
                    return respond(404, &[], "");
                }
                let form = String::from_utf8_lossy(&seen.body).into_owned();
                let refresh = form.contains("grant_type=refresh_token")
                    && form.contains("refresh_token=refresh-me");
                let password = form.contains("grant_type=password")
                    && form.contains("username=alice")
                    && form.contains("password=secret");
                if !refresh && !password {
                    return respond(400, &[], r#"{"error":"invalid_grant"}"#);
                }
                let scope = form
                    .split('&')
                    .find_map(|p| p.strip_prefix("scope="))
                    .unwrap_or_default()
                    .replace("%3A", ":")
                    .replace("%2F", "/")
                    .replace("%2C", ",")
                    .replace("%20", " ");
                return respond(
                    200,
                    &[],
                    format!(r#"{{"access_token":"token-{scope}","expires_in":300}}"#),
                );
            }
            let query = seen.uri.split_once('?').map(|(_, q)| q).unwrap_or_default();
            let scopes: Vec<String> = query
                .split('&')
                .filter_map(|p| p.strip_prefix("scope="))
                .map(|s| {
                    s.replace("%3A", ":")
                        .replace("%2F", "/")
                        .replace("%2C", ",")
                })
                .collect();
            return respond(
                200,
                &[],
                format!(
                    r#"{{"token":"token-{}","expires_in":300}}"#,
                    scopes.join(" ")
                ),
            );
        }
        let wanted = if realm.escalate && seen.uri.contains("/tags/") {
            "repository:team/app:pull,push"
        } else {
            "repository:team/app:pull"
        };
        let authorization = seen
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let granted = authorization
            .strip_prefix("Bearer token-")
            .is_some_and(|scopes| scopes.split(' ').any(|s| s == wanted));
        if granted {
            return respond(200, &[], TAGS);
        }
        let error = if authorization.is_empty() {
            ""
        } else {
            r#","error="insufficient_scope""#
        };
        let challenge =
            format!(r#"Bearer realm="http://{host}/token",service="test",scope="{wanted}"{error}"#);
        respond(
            401,
            &[("www-authenticate", challenge.as_str())],
            r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#,
        )
    })
    .await;
    address.set(server.host.clone()).unwrap();
    server
}

fn header(seen: &Seen, name: &str) -> Option<String> {
    seen.headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn an_anonymous_token_is_fetched_once_and_reused() {
    let server = token_registry(Realm::default()).await;
    let client = client();
    let repo = server.reference("team/app");
    for _ in 0..3 {
        assert_eq!(client.list_tags(&repo).await.unwrap(), ["v1"]);
    }
    let tokens = server.seen_at("/token");
    assert_eq!(tokens.len(), 1, "the token is cached");
    assert_eq!(tokens[0].method, "GET");
    assert!(tokens[0].uri.contains("service=test"), "{}", tokens[0].uri);
    assert!(
        tokens[0]
            .uri
            .contains("scope=repository%3Ateam%2Fapp%3Apull"),
        "{}",
        tokens[0].uri
    );
    assert!(header(&tokens[0], "authorization").is_none());
    assert!(!tokens[0].uri.contains("account="));
}

#[tokio::test]
async fn basic_credentials_go_to_the_token_service_with_the_account() {
    let server = token_registry(Realm::default()).await;
    let config = ClientConfig::default()
        .with_credential(server.host.clone(), Credential::basic("alice", "secret"));
    let client = client_with(config);
    client
        .list_tags(&server.reference("team/app"))
        .await
        .unwrap();
    let token = &server.seen_at("/token")[0];
    assert!(token.uri.contains("account=alice"), "{}", token.uri);
    // alice:secret
    assert_eq!(
        header(token, "authorization").unwrap(),
        "Basic YWxpY2U6c2VjcmV0"
    );
    // The registry itself only ever saw the token.
    for seen in server.seen_at("/v2/") {
        assert!(
            !header(&seen, "authorization")
                .unwrap_or_default()
                .starts_with("Basic")
        );
    }
}

#[tokio::test]
async fn an_identity_token_is_exchanged_by_post_or_else_by_get() {
    let credential = Credential::IdentityToken {
        username: "<token>".to_owned(),
        token: "refresh-me".to_owned(),
    };
    for refuse_post in [false, true] {
        let server = token_registry(Realm {
            refuse_post,
            ..Realm::default()
        })
        .await;
        let config =
            ClientConfig::default().with_credential(server.host.clone(), credential.clone());
        let client = client_with(config);
        assert_eq!(
            client
                .list_tags(&server.reference("team/app"))
                .await
                .unwrap(),
            ["v1"]
        );
        let methods: Vec<String> = server
            .seen_at("/token")
            .iter()
            .map(|s| s.method.to_string())
            .collect();
        let expected = if refuse_post {
            vec!["POST", "GET"]
        } else {
            vec!["POST"]
        };
        assert_eq!(methods, expected);
    }
}

#[tokio::test]
async fn the_password_grant_is_used_when_asked() {
    let server = token_registry(Realm::default()).await;
    let mut config = ClientConfig::default()
        .with_credential(server.host.clone(), Credential::basic("alice", "secret"));
    config.oauth2_password_grant = true;
    let client = client_with(config);
    assert_eq!(
        client
            .list_tags(&server.reference("team/app"))
            .await
            .unwrap(),
        ["v1"]
    );
    let tokens = server.seen_at("/token");
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].method, "POST");
    // Without the option, the same credentials go to a GET.
    let server = token_registry(Realm::default()).await;
    let config = ClientConfig::default()
        .with_credential(server.host.clone(), Credential::basic("alice", "secret"));
    client_with(config)
        .list_tags(&server.reference("team/app"))
        .await
        .unwrap();
    assert_eq!(server.seen_at("/token")[0].method, "GET");
}

#[tokio::test]
async fn insufficient_scope_gets_a_wider_token() {
    let server = token_registry(Realm {
        escalate: true,
        ..Realm::default()
    })
    .await;
    let client = client();
    let repo = server.reference("team/app");
    // A blob HEAD needs pull only and caches a pull token; the tag list (in this realm) also
    // needs push: the registry refuses the pull token with insufficient_scope.
    client.head_blob(&repo, &sha256(b"x")).await.unwrap();
    assert_eq!(client.list_tags(&repo).await.unwrap(), ["v1"]);
    let scopes: Vec<String> = server
        .seen_at("/token")
        .iter()
        .map(|s| s.uri.clone())
        .collect();
    assert!(
        scopes.iter().any(|uri| uri.contains("pull%2Cpush")),
        "{scopes:?}"
    );
}

#[tokio::test]
async fn a_basic_challenge_is_answered_with_credentials_or_refused() {
    let server = Hostile::start(|seen| {
        match seen
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap())
        {
            Some("Basic YWxpY2U6c2VjcmV0") => respond(200, &[], TAGS),
            _ => respond(401, &[("www-authenticate", r#"Basic realm="test""#)], ""),
        }
    })
    .await;
    let repo = server.reference("team/app");
    let error = client().list_tags(&repo).await.unwrap_err();
    assert!(error.is_auth(), "{error:?}");
    let config = ClientConfig::default()
        .with_credential(server.host.clone(), Credential::basic("alice", "secret"));
    let client = client_with(config);
    assert_eq!(client.list_tags(&repo).await.unwrap(), ["v1"]);
    // Once the challenge is known, credentials go with the first request.
    let before = server.seen().len();
    client.list_tags(&repo).await.unwrap();
    assert_eq!(server.seen().len(), before + 1);
    // Wrong credentials are refused once, not sent again and again.
    let config = ClientConfig::default()
        .with_credential(server.host.clone(), Credential::basic("alice", "wrong"));
    let client = client_with(config);
    let before = server.seen().len();
    let error = client.list_tags(&repo).await.unwrap_err();
    assert!(error.is_auth(), "{error:?}");
    assert_eq!(
        server.seen().len(),
        before + 2,
        "one anonymous try, one with credentials"
    );
}

#[tokio::test]
async fn a_redirect_to_another_host_does_not_carry_the_credentials() {
    const CONTENT: &[u8] = b"layer";
    let storage = Hostile::start(|_| respond(200, &[], CONTENT)).await;
    let location = format!("http://{}/blob", storage.host);
    let registry = Hostile::start(move |seen| match seen.headers.get("authorization") {
        Some(_) => respond(307, &[("location", location.as_str())], ""),
        None => respond(401, &[("www-authenticate", r#"Basic realm="test""#)], ""),
    })
    .await;
    let config = ClientConfig::default()
        .with_credential(registry.host.clone(), Credential::basic("alice", "secret"));
    let client = client_with(config);
    let blob = client
        .get_blob(&registry.reference("team/app"), &sha256(CONTENT))
        .await
        .unwrap();
    assert_eq!(blob.collect().await.unwrap(), CONTENT);
    assert!(header(&registry.seen().pop().unwrap(), "authorization").is_some());
    let fetched = storage.seen();
    assert_eq!(fetched.len(), 1);
    assert!(header(&fetched[0], "authorization").is_none());
}

#[tokio::test]
async fn secrets_stay_out_of_debug_output() {
    let config =
        ClientConfig::default().with_credential("ghcr.io", Credential::basic("alice", "hunter2"));
    let client = client_with(config);
    let shown = format!("{client:?}");
    assert!(shown.contains("alice"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
}

/// A token that stops working in the middle of a chunked upload: the registry accepts each
/// token for two requests, then answers 401; the client gets a new token and sends the refused
/// chunk again, and the upload completes with every range sent in order.
#[tokio::test]
async fn a_token_that_expires_mid_upload_is_renewed() {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let data: Vec<u8> = (0..4000u32).map(|i| (i % 256) as u8).collect();
    let digest = sha256(&data);
    let announced = digest.to_string();
    let address: Arc<OnceLock<String>> = Arc::new(OnceLock::new());
    let own = Arc::clone(&address);
    let issued = Arc::new(AtomicUsize::new(0));
    let uses: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let server = Hostile::start(move |seen| {
        let host = own.get().unwrap();
        if seen.uri.starts_with("/token") {
            let n = issued.fetch_add(1, Ordering::SeqCst);
            return respond(200, &[], format!(r#"{{"token":"t{n}","expires_in":3600}}"#));
        }
        let token = header(seen, "authorization").unwrap_or_default();
        let fresh = token.starts_with("Bearer t") && {
            let mut uses = uses.lock().unwrap();
            let count = uses.entry(token.clone()).or_default();
            *count += 1;
            *count <= 2
        };
        if !fresh {
            let challenge = format!(r#"Bearer realm="http://{host}/token",service="test""#);
            return respond(401, &[("www-authenticate", challenge.as_str())], "");
        }
        let location = ("location", "/v2/team/app/blobs/uploads/1");
        match seen.method.as_str() {
            "POST" => respond(202, &[location], ""),
            "PATCH" => {
                let range = header(seen, "content-range").unwrap();
                let held = format!("0-{}", range.split('-').nth(1).unwrap());
                respond(202, &[location, ("range", held.as_str())], "")
            }
            "PUT" => respond(201, &[("docker-content-digest", announced.as_str())], ""),
            _ => respond(400, &[], ""),
        }
    })
    .await;
    address.set(server.host.clone()).unwrap();
    let client = client_with(ClientConfig::default().with_chunk_size(1000));
    let stored = client
        .push_blob(
            &server.reference("team/app"),
            &digest,
            UploadMode::chunked(futures_util::stream::iter(
                data.chunks(700)
                    .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(c)))
                    .collect::<Vec<_>>(),
            )),
        )
        .await
        .unwrap();
    assert_eq!(stored, digest);
    let accepted: Vec<String> = server
        .seen_at("/v2/")
        .iter()
        .filter(|s| s.method == "PATCH")
        .map(|s| header(s, "content-range").unwrap())
        .collect();
    // Each range is sent until a fresh token carries it; in order, none skipped.
    let mut distinct = accepted.clone();
    distinct.dedup();
    assert_eq!(distinct, ["0-999", "1000-1999", "2000-2999", "3000-3999"]);
    assert!(server.seen_at("/token").len() >= 3, "tokens were renewed");
}
