//! Bearer tokens from the built-in issuer: the challenge, GET with Basic and the OAuth2 POST
//! form, grants cut to the policy, and 401 `insufficient_scope` versus 403.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod support;

use base64::Engine as _;
use gantry_registry::Action;
use gantry_registry::{AccessRule, AuthConfig, TokenConfig};
use support::TestServer;

fn basic(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

/// alice may do anything to `alice/**`; bob may pull it.
async fn server() -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join("htpasswd");
    let lines = format!(
        "alice:{}\nbob:{}\n",
        bcrypt::hash("wonderland", 4).unwrap(),
        bcrypt::hash("builder", 4).unwrap()
    );
    std::fs::write(&htpasswd, lines).unwrap();
    let auth = AuthConfig::default()
        .with_htpasswd(Some(htpasswd))
        .with_access(vec![
            AccessRule::default()
                .with_repositories(vec!["alice/**".into()])
                .with_users(vec!["alice".into()])
                .with_actions(vec![Action::Pull, Action::Push, Action::Delete]),
            AccessRule::default()
                .with_repositories(vec!["alice/**".into()])
                .with_users(vec!["bob".into()])
                .with_actions(vec![Action::Pull]),
        ])
        .with_token(Some(TokenConfig::default().with_issue(true)));
    let server = TestServer::start_with(|config| config.auth = Some(auth)).await;
    (server, dir)
}

async fn token(server: &TestServer, user: &str, password: &str, scope: &str) -> String {
    let response = server
        .client
        .get(server.at(&format!("/token?service=gantry&scope={scope}")))
        .header("authorization", basic(user, password))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["token"], body["access_token"]);
    assert!(body["expires_in"].as_u64().unwrap() > 0);
    body["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_challenge_names_the_realm_the_service_and_the_scope() {
    let (server, _dir) = server().await;
    let response = server.get("/v2/alice/app/tags/list").await;
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    let host = server.url.trim_start_matches("http://");
    assert_eq!(
        challenge,
        format!(
            "Bearer realm=\"http://{host}/token\",service=\"gantry\",scope=\"repository:alice/app:pull\""
        )
    );
    let base = server.get("/v2/").await;
    assert_eq!(base.status(), 401);
    let challenge = base.headers()["www-authenticate"].to_str().unwrap();
    assert!(!challenge.contains("scope="), "{challenge}");
    // Passwords are for the issuer, not for the registry's endpoints.
    let basic_at_registry = server
        .client
        .get(server.at("/v2/"))
        .header("authorization", basic("alice", "wonderland"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic_at_registry.status(), 401);
}

#[tokio::test]
async fn a_token_grants_what_the_policy_allows_and_no_more() {
    let (server, _dir) = server().await;
    let alice = token(
        &server,
        "alice",
        "wonderland",
        "repository:alice/app:pull,push",
    )
    .await;
    let send = |method: &str, path: &str, token: &str| {
        server
            .client
            .request(method.parse().unwrap(), server.at(path))
            .header("authorization", format!("Bearer {token}"))
            .send()
    };
    assert_eq!(send("GET", "/v2/", &alice).await.unwrap().status(), 200);
    assert_eq!(
        send("POST", "/v2/alice/app/blobs/uploads/", &alice)
            .await
            .unwrap()
            .status(),
        202
    );

    // A token for one repository does not open another: ask for a better one.
    let elsewhere = send("POST", "/v2/alice/other/blobs/uploads/", &alice)
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 401);
    let challenge = elsewhere.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains("scope=\"repository:alice/other:pull,push\""),
        "{challenge}"
    );
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );

    // bob asked for push and was granted pull: the policy will never let him push, so 403.
    let bob = token(&server, "bob", "builder", "repository:alice/app:pull,push").await;
    assert_eq!(
        send("GET", "/v2/alice/app/tags/list", &bob)
            .await
            .unwrap()
            .status(),
        404
    );
    let push = send("POST", "/v2/alice/app/blobs/uploads/", &bob)
        .await
        .unwrap();
    assert_eq!(push.status(), 403);
    assert!(push.text().await.unwrap().contains("DENIED"));

    // A wrong password gets no token.
    let refused = server
        .client
        .get(server.at("/token?service=gantry&scope=repository:alice/app:pull"))
        .header("authorization", basic("alice", "guess"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    // Anyone gets a token, but it grants only what the policy gives anonymous users: nothing.
    let anonymous = server
        .client
        .get(server.at("/token?service=gantry&scope=repository:alice/app:pull"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 200);
    let anonymous: serde_json::Value =
        serde_json::from_slice(&anonymous.bytes().await.unwrap()).unwrap();
    let anonymous = anonymous["token"].as_str().unwrap();
    let pull = send("GET", "/v2/alice/app/tags/list", anonymous)
        .await
        .unwrap();
    assert_eq!(pull.status(), 401);
}

#[tokio::test]
async fn the_oauth2_password_grant_by_post() {
    let (server, _dir) = server().await;
    let post = |form: &'static str| {
        server
            .client
            .post(server.at("/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
    };
    let granted = post("grant_type=password&username=alice&password=wonderland&service=gantry&scope=repository%3Aalice%2Fapp%3Apull&client_id=test")
        .await
        .unwrap();
    assert_eq!(granted.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(&granted.bytes().await.unwrap()).unwrap();
    let token = body["access_token"].as_str().unwrap();
    let pull = server
        .client
        .get(server.at("/v2/alice/app/tags/list"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        pull.status(),
        404,
        "authorised, and the repository is empty"
    );

    let wrong = post("grant_type=password&username=alice&password=nope&service=gantry")
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let refresh = post("grant_type=refresh_token&refresh_token=x&service=gantry")
        .await
        .unwrap();
    assert_eq!(refresh.status(), 400);
    let other_service = post("grant_type=password&username=alice&password=wonderland&service=else")
        .await
        .unwrap();
    assert_eq!(other_service.status(), 400);
}
