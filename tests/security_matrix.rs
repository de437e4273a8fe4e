//! Every endpoint of `gantry serve` against every kind of caller: anonymous, a wrong password, a
//! user the policy refuses, a user it allows, and for Bearer tokens an expired one, one for
//! another repository, one with a bad signature and an unsigned (`alg: none`) one. Each cell
//! is the status the exchange must get: 401 with the challenge, 403 `DENIED`, or success.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

#[path = "security_support.rs"]
mod security_support;

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gantry_reference::{Algorithm, Digest};
use gantry_registry::TokenSigner;
use security_support::{Served, basic, exchange, write_htpasswd};

const ALICE: (&str, &str) = ("alice", "wonderland");
const CAROL: (&str, &str) = ("carol", "no-rights");
const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// The kinds of caller, in the order each row is tried (success last: it changes state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    WrongPassword,
    WithoutScope,
    Expired,
    OtherRepository,
    BadSignature,
    AlgNone,
    WithScope,
}

const CALLERS: [Caller; 8] = [
    Caller::Anonymous,
    Caller::WrongPassword,
    Caller::WithoutScope,
    Caller::Expired,
    Caller::OtherRepository,
    Caller::BadSignature,
    Caller::AlgNone,
    Caller::WithScope,
];

/// One endpoint: the request, the scope it needs, and its success status.
struct Endpoint {
    name: &'static str,
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    scope: Option<String>,
    success: u16,
}

fn config(dir: &std::path::Path, token: bool) -> std::path::PathBuf {
    let htpasswd = dir.join("htpasswd");
    write_htpasswd(&htpasswd, &[ALICE, CAROL]);
    let key = dir.join("token-key.pem");
    std::fs::write(&key, rcgen::KeyPair::generate().unwrap().serialize_pem()).unwrap();
    let token_table = if token {
        format!("[auth.token]\nissue = true\nsigning_key = {key:?}\n")
    } else {
        String::new()
    };
    let text = format!(
        r#"listen = "127.0.0.1:0"
root = {root:?}
delete_enabled = true
upload_purge_interval_secs = 0

[auth]
htpasswd = {htpasswd:?}

[[auth.access]]
repositories = ["alice/**"]
users = ["alice"]
actions = ["pull", "push", "delete"]

[[auth.access]]
catalog = true
users = ["alice"]

{token_table}"#,
        root = dir.join("root"),
    );
    let path = dir.join("gantry.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn digest(content: &[u8]) -> Digest {
    Digest::of(Algorithm::Sha256, content)
}

fn manifest(config: &Digest, layer: &Digest, sizes: (usize, usize)) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{MANIFEST_TYPE}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{layer}","size":{}}}]}}"#,
        sizes.0, sizes.1
    )
    .into_bytes()
}

/// Seeds `alice/app` as alice and returns the endpoints to try.
fn endpoints(addr: SocketAddr, alice: &str) -> Vec<Endpoint> {
    let auth = [("Authorization", alice)];
    let put_blob = |repo: &str, content: &[u8]| {
        let d = digest(content);
        let reply = exchange(
            addr,
            "POST",
            &format!("/v2/{repo}/blobs/uploads/?digest={d}"),
            &auth,
            content,
        );
        assert_eq!(reply.status, 201, "seeding: {}", reply.text());
        d
    };
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let config_digest = put_blob("alice/app", config);
    let layer = b"layer one";
    let layer_digest = put_blob("alice/app", layer);
    let doomed_blob = put_blob("alice/app", b"a blob to delete");
    let image = manifest(&config_digest, &layer_digest, (config.len(), layer.len()));
    let reply = exchange(
        addr,
        "PUT",
        "/v2/alice/app/manifests/v1",
        &[("Authorization", alice), ("Content-Type", MANIFEST_TYPE)],
        &image,
    );
    assert_eq!(reply.status, 201, "seeding: {}", reply.text());
    let image_digest = digest(&image);
    let other_layer = b"layer two";
    let other_layer_digest = put_blob("alice/app", other_layer);
    let doomed = manifest(
        &config_digest,
        &other_layer_digest,
        (config.len(), other_layer.len()),
    );
    let reply = exchange(
        addr,
        "PUT",
        "/v2/alice/app/manifests/doomed",
        &[("Authorization", alice), ("Content-Type", MANIFEST_TYPE)],
        &doomed,
    );
    assert_eq!(reply.status, 201, "seeding: {}", reply.text());
    let session = |addr| {
        let reply = exchange(addr, "POST", "/v2/alice/app/blobs/uploads/", &auth, b"");
        assert_eq!(reply.status, 202, "seeding: {}", reply.text());
        reply.header("location").unwrap().to_owned()
    };
    let upload = session(addr);
    let cancelled = session(addr);
    let chunk = b"chunk";

    let pull = Some("repository:alice/app:pull".to_owned());
    let push = Some("repository:alice/app:pull,push".to_owned());
    let delete = Some("repository:alice/app:delete".to_owned());
    let e = |name, method, path: String, scope: &Option<String>, success| Endpoint {
        name,
        method,
        path,
        headers: Vec::new(),
        body: Vec::new(),
        scope: scope.clone(),
        success,
    };
    vec![
        e("base", "GET", "/v2/".into(), &None, 200),
        e(
            "catalog",
            "GET",
            "/v2/_catalog".into(),
            &Some("registry:catalog:*".into()),
            200,
        ),
        e("tags", "GET", "/v2/alice/app/tags/list".into(), &pull, 200),
        e(
            "manifest get",
            "GET",
            "/v2/alice/app/manifests/v1".into(),
            &pull,
            200,
        ),
        e(
            "manifest head",
            "HEAD",
            format!("/v2/alice/app/manifests/{image_digest}"),
            &pull,
            200,
        ),
        Endpoint {
            headers: vec![("Content-Type", MANIFEST_TYPE.to_owned())],
            body: image.clone(),
            ..e(
                "manifest put",
                "PUT",
                "/v2/alice/app/manifests/v2".into(),
                &push,
                201,
            )
        },
        e(
            "manifest delete",
            "DELETE",
            format!("/v2/alice/app/manifests/{}", digest(&doomed)),
            &delete,
            202,
        ),
        e(
            "blob get",
            "GET",
            format!("/v2/alice/app/blobs/{layer_digest}"),
            &pull,
            200,
        ),
        e(
            "blob head",
            "HEAD",
            format!("/v2/alice/app/blobs/{layer_digest}"),
            &pull,
            200,
        ),
        e(
            "blob delete",
            "DELETE",
            format!("/v2/alice/app/blobs/{doomed_blob}"),
            &delete,
            202,
        ),
        e(
            "upload start",
            "POST",
            "/v2/alice/app/blobs/uploads/".into(),
            &push,
            202,
        ),
        e(
            "mount",
            "POST",
            format!("/v2/alice/app/blobs/uploads/?mount={layer_digest}&from=alice/app"),
            &push,
            201,
        ),
        e("upload status", "GET", upload.clone(), &push, 204),
        Endpoint {
            headers: vec![("Content-Range", format!("0-{}", chunk.len() - 1))],
            body: chunk.to_vec(),
            ..e("upload chunk", "PATCH", upload.clone(), &push, 202)
        },
        e(
            "upload finish",
            "PUT",
            format!("{upload}&digest={}", digest(chunk)),
            &push,
            201,
        ),
        e("upload cancel", "DELETE", cancelled, &push, 204),
        e(
            "referrers",
            "GET",
            format!("/v2/alice/app/referrers/{image_digest}"),
            &pull,
            200,
        ),
    ]
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A token from the server's issuer for `user`, asking for `scope`.
fn issued(addr: SocketAddr, (user, password): (&str, &str), scope: Option<&str>) -> String {
    let path = match scope {
        Some(scope) => format!("/token?service=gantry&scope={scope}"),
        None => "/token?service=gantry".to_owned(),
    };
    let reply = exchange(
        addr,
        "GET",
        &path,
        &[("Authorization", &basic(user, password))],
        b"",
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    body["token"].as_str().unwrap().to_owned()
}

/// A token signed with the server's key, for `scope`, that expired an hour ago.
fn expired(signer: &TokenSigner, scope: &str) -> String {
    let (kind, rest) = scope.split_once(':').unwrap();
    let (name, actions) = rest.rsplit_once(':').unwrap();
    let claims = serde_json::json!({
        "iss": "gantry", "sub": "alice", "aud": "gantry",
        "exp": now() - 3600, "nbf": now() - 7200, "iat": now() - 7200,
        "access": [{"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}],
    });
    signer.sign(claims.to_string().as_bytes()).unwrap()
}

/// `token` with one character of its signature changed.
fn bad_signature(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let at = token.rfind('.').unwrap() + 10;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

/// `token`'s claims under an `alg: none` header, unsigned.
fn unsigned(token: &str) -> String {
    let claims = token.split('.').nth(1).unwrap();
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    format!("{header}.{claims}.")
}

/// The `Authorization` value of `caller` for `endpoint`, in token mode or Basic mode.
fn authorization(
    caller: Caller,
    endpoint: &Endpoint,
    addr: SocketAddr,
    signer: &TokenSigner,
    token_mode: bool,
) -> Option<String> {
    let scope = endpoint.scope.as_deref();
    let alice_token = || issued(addr, ALICE, scope);
    let bearer = |token: String| Some(format!("Bearer {token}"));
    match (caller, token_mode) {
        (Caller::Anonymous, _) => None,
        (Caller::WrongPassword, _) => Some(basic(ALICE.0, "not-her-password")),
        (Caller::WithoutScope, true) => bearer(issued(addr, CAROL, scope)),
        (Caller::WithoutScope, false) => Some(basic(CAROL.0, CAROL.1)),
        (Caller::WithScope, true) => bearer(alice_token()),
        (Caller::WithScope, false) => Some(basic(ALICE.0, ALICE.1)),
        (Caller::Expired, _) => bearer(expired(
            signer,
            scope.unwrap_or("repository:alice/app:pull"),
        )),
        (Caller::OtherRepository, _) => bearer(issued_or_signed(addr, signer, token_mode)),
        (Caller::BadSignature, _) => bearer(bad_signature(&signed(signer, scope))),
        (Caller::AlgNone, _) => bearer(unsigned(&signed(signer, scope))),
    }
}

fn signed(signer: &TokenSigner, scope: Option<&str>) -> String {
    let claims = serde_json::json!({
        "iss": "gantry", "sub": "alice", "aud": "gantry", "exp": now() + 300, "nbf": now(),
        "access": scope.map(|scope| {
            let (kind, rest) = scope.split_once(':').unwrap();
            let (name, actions) = rest.rsplit_once(':').unwrap();
            vec![serde_json::json!({"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()})]
        }).unwrap_or_default(),
    });
    signer.sign(claims.to_string().as_bytes()).unwrap()
}

fn issued_or_signed(addr: SocketAddr, signer: &TokenSigner, token_mode: bool) -> String {
    let scope = "repository:alice/other:pull,push,delete";
    if token_mode {
        issued(addr, ALICE, Some(scope))
    } else {
        signed(signer, Some(scope))
    }
}

/// The status `caller` must get from `endpoint`.
fn expected(caller: Caller, endpoint: &Endpoint, token_mode: bool) -> u16 {
    let base = endpoint.scope.is_none();
    match (caller, token_mode) {
        (Caller::WithScope, _) => endpoint.success,
        // Authenticated, and /v2/ asks no more.
        (Caller::WithoutScope, _) if base => 200,
        (Caller::OtherRepository, true) if base => 200,
        (Caller::WithoutScope, _) => 403,
        _ => 401,
    }
}

fn run_matrix(token_mode: bool) {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), token_mode);
    let signer =
        TokenSigner::from_pem(&std::fs::read(dir.path().join("token-key.pem")).unwrap()).unwrap();
    let served = Served::start(&config, dir.path(), &[]);
    let addr = served.addr;
    let alice = if token_mode {
        format!(
            "Bearer {}",
            issued(addr, ALICE, Some("repository:alice/app:pull,push,delete"))
        )
    } else {
        basic(ALICE.0, ALICE.1)
    };
    let mode = if token_mode { "token" } else { "basic" };
    let mut cells = 0;
    for endpoint in endpoints(addr, &alice) {
        for caller in CALLERS {
            let authorization = authorization(caller, &endpoint, addr, &signer, token_mode);
            let mut headers: Vec<(&str, &str)> = endpoint
                .headers
                .iter()
                .map(|(n, v)| (*n, v.as_str()))
                .collect();
            if let Some(value) = &authorization {
                headers.push(("Authorization", value));
            }
            let reply = exchange(
                addr,
                endpoint.method,
                &endpoint.path,
                &headers,
                &endpoint.body,
            );
            let want = expected(caller, &endpoint, token_mode);
            let what = format!("{mode}: {} as {caller:?}", endpoint.name);
            assert_eq!(
                reply.status,
                want,
                "{what}: {}\n{}",
                reply.text(),
                served.log()
            );
            let challenge = reply.header("www-authenticate");
            match want {
                401 => {
                    let challenge =
                        challenge.unwrap_or_else(|| panic!("{what}: 401 without a challenge"));
                    if token_mode {
                        assert!(
                            challenge.starts_with("Bearer realm=\""),
                            "{what}: {challenge}"
                        );
                        if let Some(scope) = &endpoint.scope {
                            assert!(
                                challenge.contains(&format!("scope=\"{scope}")),
                                "{what}: {challenge}"
                            );
                        }
                    } else {
                        assert!(challenge.starts_with("Basic realm="), "{what}: {challenge}");
                    }
                    if endpoint.method != "HEAD" {
                        assert!(
                            reply.text().contains("UNAUTHORIZED"),
                            "{what}: {}",
                            reply.text()
                        );
                    }
                }
                403 => {
                    assert!(challenge.is_none(), "{what}: 403 with a challenge");
                    if endpoint.method != "HEAD" {
                        assert!(reply.text().contains("DENIED"), "{what}: {}", reply.text());
                    }
                }
                _ => {}
            }
            cells += 1;
        }
    }
    assert_eq!(cells, 17 * CALLERS.len());
    // Secrets never reach the log: not the passwords, not a token, not an upload's state.
    let log = served.log();
    assert!(log.contains("request"), "the access log is on: {log}");
    for secret in [ALICE.1, CAROL.1, "not-her-password", "_state="] {
        assert!(!log.contains(secret), "{mode}: the log holds {secret:?}");
    }
    if let Some(token) = alice.strip_prefix("Bearer ") {
        assert!(!log.contains(token), "{mode}: the log holds a token");
    }
}

#[test]
fn every_endpoint_and_caller_with_basic_authentication() {
    run_matrix(false);
}

#[test]
fn every_endpoint_and_caller_with_the_built_in_token_issuer() {
    run_matrix(true);
}
