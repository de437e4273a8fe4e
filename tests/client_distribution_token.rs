//! `gantry-client` against Debian's `docker-registry` configured for token authentication: a
//! small token realm in the test issues ES256 JSON web tokens (signed with a test certificate
//! that the registry trusts) for the scopes asked, `pull` to anyone and `push` to `alice` only.
//! Anonymous pulls, Basic-authenticated Bearer tokens, refused pushes, and a wider token when
//! the registry answers `insufficient_scope`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on a broken setup"
)]

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::Uri;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use gantry_client::{Client, ClientConfig, Credential, CredentialSources, UploadMode};
use gantry_reference::{Algorithm, Digest, Reference};
use gantry_test_support::distribution::Distribution;
use rcgen::{KeyPair, SigningKey};

const SERVICE: &str = "test-registry";
const ISSUER: &str = "test-issuer";

/// The realm's signing key and certificate, and the scopes it was asked for.
struct Realm {
    key: KeyPair,
    certificate_der: Vec<u8>,
    asked: Mutex<Vec<String>>,
}

/// An ECDSA signature from DER (`SEQUENCE { INTEGER r, INTEGER s }`) to JWS's `r || s`.
fn jws_signature(der: &[u8]) -> Vec<u8> {
    assert_eq!(der[0], 0x30);
    let mut out = Vec::new();
    let mut at = 2;
    for _ in 0..2 {
        assert_eq!(der[at], 0x02);
        let len = der[at + 1] as usize;
        let int = &der[at + 2..at + 2 + len];
        let int = &int[int.len().saturating_sub(32)..];
        out.extend(std::iter::repeat_n(0u8, 32 - int.len()));
        out.extend_from_slice(int);
        at += 2 + len;
    }
    out
}

/// `GET /token`: a token for each `scope`, with `push` only for alice.
async fn token(
    State(realm): State<Arc<Realm>>,
    uri: Uri,
    headers: HeaderMap,
) -> axum::response::Response {
    let account = match headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned())
    {
        None => None,
        Some(value) if value == format!("Basic {}", STANDARD.encode("alice:secret")) => {
            Some("alice")
        }
        Some(_) => return axum::http::StatusCode::UNAUTHORIZED.into_response_ext(),
    };
    let query: Vec<(String, String)> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, value)| (name.to_owned(), percent_decode(value)))
        .collect();
    let mut access = Vec::new();
    for (name, value) in &query {
        if name != "scope" {
            continue;
        }
        realm.asked.lock().unwrap().push(value.clone());
        let mut parts = value.splitn(3, ':');
        let (kind, repository, actions) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let granted: Vec<&str> = actions
            .split(',')
            .filter(|action| *action == "pull" || account == Some("alice"))
            .collect();
        access.push(serde_json::json!({"type": kind, "name": repository, "actions": granted}));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "x5c": [STANDARD.encode(&realm.certificate_der)]});
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": account.unwrap_or(""), "aud": SERVICE,
        "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", access.len()),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = jws_signature(&realm.key.sign(signing_input.as_bytes()).unwrap());
    let jwt = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature));
    axum::Json(serde_json::json!({"token": jwt, "expires_in": 300})).into_response_ext()
}

/// `%XX` escapes decoded (the client escapes everything but unreserved characters).
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&value[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

trait IntoResponseExt {
    fn into_response_ext(self) -> axum::response::Response;
}

impl<T: axum::response::IntoResponse> IntoResponseExt for T {
    fn into_response_ext(self) -> axum::response::Response {
        self.into_response()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_from_a_realm_open_distribution_by_scope() {
    let dir = tempfile::tempdir().unwrap();
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let certificate = rcgen::CertificateParams::new(vec!["token-issuer".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let bundle = dir.path().join("token-bundle.pem");
    std::fs::write(&bundle, certificate.pem()).unwrap();
    let realm = Arc::new(Realm {
        key,
        certificate_der: certificate.der().to_vec(),
        asked: Mutex::new(Vec::new()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let realm_addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/token", axum::routing::get(token))
        .with_state(Arc::clone(&realm));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let auth = format!(
        "auth:\n  token:\n    realm: http://{realm_addr}/token\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
        bundle.display()
    );
    let registry = Distribution::start_with(&dir.path().join("root"), dir.path(), &auth);
    let host = registry.addr().to_string();
    let repo = Reference::parse(format!("{host}/team/app")).unwrap();
    let base = ClientConfig::default().with_credential_sources(CredentialSources::None);
    let alice = Client::new(
        base.clone()
            .with_credential(host.clone(), Credential::basic("alice", "secret")),
    )
    .unwrap();
    let anonymous = Client::new(base.clone()).unwrap();

    // alice reads first (a pull token), then pushes: the registry refuses the pull token with
    // insufficient_scope and the client comes back with pull,push.
    let data = Bytes::from_static(b"a layer behind token auth");
    let digest = Digest::of(Algorithm::Sha256, &data);
    let error = alice.head_blob(&repo, &digest).await.unwrap_err();
    assert!(error.is_not_found(), "{error:?}");
    alice
        .push_blob(&repo, &digest, UploadMode::monolithic(data.clone()))
        .await
        .unwrap();
    let asked = realm.asked.lock().unwrap().clone();
    assert!(
        asked.contains(&"repository:team/app:pull".to_owned()),
        "{asked:?}"
    );
    assert!(
        asked.contains(&"repository:team/app:pull,push".to_owned()),
        "{asked:?}"
    );

    // Anyone may pull; only alice may push.
    assert_eq!(
        anonymous
            .get_blob(&repo, &digest)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap(),
        data
    );
    let other = Bytes::from_static(b"not allowed");
    let error = anonymous
        .push_blob(
            &repo,
            &Digest::of(Algorithm::Sha256, &other),
            UploadMode::monolithic(other),
        )
        .await
        .unwrap_err();
    assert!(error.is_auth(), "{error:?}");

    // Wrong credentials are refused by the realm.
    let mallory =
        Client::new(base.with_credential(host.clone(), Credential::basic("alice", "guess")))
            .unwrap();
    let error = mallory.get_blob(&repo, &digest).await.unwrap_err();
    assert!(error.is_auth(), "{error:?}");

    registry.stop();
}
