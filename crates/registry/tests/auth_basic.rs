//! HTTP Basic against an htpasswd file, with an access policy: every endpoint demands its
//! scope, and the answer is 401 with a challenge or 403 `DENIED` as the case requires.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod support;

use base64::Engine as _;
use gantry_registry::Action;
use gantry_registry::{AccessRule, AuthConfig};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use support::TestServer;

const ALICE: (&str, &str) = ("alice", "wonderland");
const BOB: (&str, &str) = ("bob", "builder");

fn basic(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

fn client_as(user: &str, password: &str) -> reqwest::Client {
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&basic(user, password)).unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// alice owns `alice/**` and the catalog; bob pulls `alice/**` and owns `bob/*`.
async fn server(anonymous_pull: bool) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join("htpasswd");
    let lines: String = [ALICE, BOB]
        .iter()
        .map(|(user, password)| format!("{user}:{}\n", bcrypt::hash(password, 4).unwrap()))
        .collect();
    std::fs::write(&htpasswd, lines).unwrap();
    let auth = AuthConfig::default()
        .with_htpasswd(Some(htpasswd))
        .with_anonymous_pull(anonymous_pull)
        .with_groups([("readers".to_owned(), vec!["bob".to_owned()])].into())
        .with_access(vec![
            AccessRule::default()
                .with_repositories(vec!["alice/**".into()])
                .with_users(vec!["alice".into()])
                .with_actions(vec![Action::Pull, Action::Push, Action::Delete]),
            AccessRule::default()
                .with_repositories(vec!["alice/**".into()])
                .with_groups(vec!["readers".into()])
                .with_actions(vec![Action::Pull]),
            AccessRule::default()
                .with_repositories(vec!["bob/*".into()])
                .with_users(vec!["bob".into()])
                .with_actions(vec![Action::Pull, Action::Push]),
            AccessRule::default()
                .with_catalog(true)
                .with_users(vec!["alice".into()]),
        ]);
    let mut server = TestServer::start_with(|config| config.auth = Some(auth)).await;
    server.client = client_as(ALICE.0, ALICE.1);
    (server, dir)
}

#[derive(Clone, Copy, Debug)]
enum Who {
    Anonymous,
    WrongPassword,
    Bob,
    Alice,
}

impl Who {
    fn header(self) -> Option<String> {
        match self {
            Who::Anonymous => None,
            Who::WrongPassword => Some(basic(ALICE.0, "not-it")),
            Who::Bob => Some(basic(BOB.0, BOB.1)),
            Who::Alice => Some(basic(ALICE.0, ALICE.1)),
        }
    }
}

#[tokio::test]
async fn every_endpoint_demands_its_scope() {
    let (server, _dir) = server(false).await;
    let (_, manifest) = server.push_image("alice/app", "v1", b"layer").await;
    let blob = server.push_blob("alice/app", b"a blob").await;
    let upload = server.post("/v2/alice/app/blobs/uploads/").await;
    assert_eq!(upload.status(), 202);
    let upload = upload.headers()["location"].to_str().unwrap().to_owned();

    use Who::*;
    // (method, path, who, expected status)
    let cases: Vec<(&str, String, Who, u16)> = vec![
        ("GET", "/v2/".into(), Anonymous, 401),
        ("GET", "/v2/".into(), WrongPassword, 401),
        ("GET", "/v2/".into(), Bob, 200),
        ("GET", "/v2/_catalog".into(), Anonymous, 401),
        ("GET", "/v2/_catalog".into(), Bob, 403),
        ("GET", "/v2/_catalog".into(), Alice, 200),
        ("GET", "/v2/alice/app/tags/list".into(), Anonymous, 401),
        ("GET", "/v2/alice/app/tags/list".into(), WrongPassword, 401),
        ("GET", "/v2/alice/app/tags/list".into(), Bob, 200),
        ("GET", "/v2/alice/app/manifests/v1".into(), Bob, 200),
        (
            "HEAD",
            format!("/v2/alice/app/manifests/{manifest}"),
            Bob,
            200,
        ),
        ("HEAD", "/v2/alice/app/manifests/v1".into(), Anonymous, 401),
        ("GET", format!("/v2/alice/app/blobs/{blob}"), Bob, 200),
        (
            "GET",
            format!("/v2/alice/app/blobs/{blob}"),
            WrongPassword,
            401,
        ),
        (
            "GET",
            format!("/v2/alice/app/referrers/{manifest}"),
            Bob,
            200,
        ),
        (
            "GET",
            format!("/v2/alice/app/referrers/{manifest}"),
            Anonymous,
            401,
        ),
        ("PUT", "/v2/alice/app/manifests/v2".into(), Bob, 403),
        ("PUT", "/v2/alice/app/manifests/v2".into(), Anonymous, 401),
        (
            "DELETE",
            format!("/v2/alice/app/manifests/{manifest}"),
            Bob,
            403,
        ),
        ("DELETE", format!("/v2/alice/app/blobs/{blob}"), Bob, 403),
        (
            "DELETE",
            format!("/v2/alice/app/blobs/{blob}"),
            Anonymous,
            401,
        ),
        ("POST", "/v2/alice/app/blobs/uploads/".into(), Bob, 403),
        (
            "POST",
            "/v2/alice/app/blobs/uploads/".into(),
            WrongPassword,
            401,
        ),
        ("POST", "/v2/bob/app/blobs/uploads/".into(), Bob, 202),
        ("POST", "/v2/bob/app/blobs/uploads/".into(), Alice, 403),
        ("GET", upload.clone(), Bob, 403),
        ("PATCH", upload.clone(), Bob, 403),
        ("PUT", upload.clone(), Anonymous, 401),
        ("GET", upload.clone(), Alice, 204),
        ("DELETE", upload.clone(), Bob, 403),
        ("DELETE", upload.clone(), Alice, 204),
        ("GET", "/v2/bob/app/tags/list".into(), Alice, 403),
        ("DELETE", format!("/v2/alice/app/blobs/{blob}"), Alice, 202),
    ];
    let client = reqwest::Client::new();
    for (method, path, who, expected) in cases {
        let mut request = client.request(method.parse().unwrap(), server.at(&path));
        if let Some(header) = who.header() {
            request = request.header(AUTHORIZATION, header);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let challenge = response.headers().get("www-authenticate").cloned();
        let body = response.text().await.unwrap();
        assert_eq!(status, expected, "{method} {path} as {who:?}: {body}");
        match expected {
            401 => {
                let challenge =
                    challenge.unwrap_or_else(|| panic!("{method} {path}: no challenge"));
                assert!(
                    challenge.to_str().unwrap().starts_with("Basic realm="),
                    "{challenge:?}"
                );
                if method != "HEAD" {
                    assert!(body.contains("UNAUTHORIZED"), "{body}");
                }
            }
            403 => {
                assert!(challenge.is_none(), "{method} {path}: 403 with a challenge");
                assert!(body.contains("DENIED"), "{body}");
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn anonymous_pull_lets_reads_through_and_nothing_else() {
    let (server, _dir) = server(true).await;
    server.push_image("alice/app", "v1", b"layer").await;
    let anonymous = reqwest::Client::new();
    let get = |path: &str| anonymous.get(server.at(path)).send();
    assert_eq!(
        get("/v2/alice/app/manifests/v1").await.unwrap().status(),
        200
    );
    assert_eq!(get("/v2/bob/other/tags/list").await.unwrap().status(), 404);
    assert_eq!(get("/v2/_catalog").await.unwrap().status(), 401);
    assert_eq!(
        get("/v2/").await.unwrap().status(),
        401,
        "a login check still needs a login"
    );
    let push = anonymous
        .post(server.at("/v2/alice/app/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(push.status(), 401);
}

#[tokio::test]
async fn a_mount_needs_pull_on_its_source() {
    let (mut server, _dir) = server(false).await;
    let secret = server.push_blob("alice/private", b"alice's layer").await;
    server.client = client_as(BOB.0, BOB.1);
    // bob may read alice/**: the mount happens.
    let mounted = server
        .post(&format!(
            "/v2/bob/app/blobs/uploads/?mount={secret}&from=alice/private"
        ))
        .await;
    assert_eq!(mounted.status(), 201);

    // alice may not read bob/*: she gets an ordinary upload session, not bob's blob.
    let own = server.push_blob("bob/own", b"bob's layer").await;
    server.client = client_as(ALICE.0, ALICE.1);
    let refused = server
        .post(&format!(
            "/v2/alice/app/blobs/uploads/?mount={own}&from=bob/own"
        ))
        .await;
    assert_eq!(refused.status(), 202);
    let anywhere = server
        .post(&format!("/v2/alice/app/blobs/uploads/?mount={own}"))
        .await;
    assert_eq!(
        anywhere.status(),
        202,
        "a mount from anywhere is not allowed"
    );
    let head = server.head(&format!("/v2/alice/app/blobs/{own}")).await;
    assert_eq!(head.status(), 404);
}
