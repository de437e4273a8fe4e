//! TLS against `gantry serve` with a self-signed certificate: trusted through an extra CA
//! file, refused without it with a TLS error, accepted by the explicit insecure switch; hosts
//! configured insecure, tried over HTTPS without certificate checks and then over plain HTTP;
//! and bad TLS material refused when the client is built.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod support;

use std::path::{Path, PathBuf};

use gantry_client::{Client, ClientConfig, ClientError, UploadMode};
use gantry_registry::TlsConfig;
use support::{Registry, client_with};

/// A certificate for `localhost`, written as PEM files: (chain, key).
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let chain = dir.join("chain.pem");
    let key = dir.join("key.pem");
    std::fs::write(&chain, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    (chain, key)
}

#[tokio::test]
async fn a_registry_with_its_own_ca_is_trusted_only_when_told() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, key) = certificate(dir.path());
    let tls = TlsConfig::new(chain.clone(), key.clone());
    let registry = Registry::start_with(|config| config.tls = Some(tls)).await;
    let port = registry.host.rsplit(':').next().unwrap();
    let host = format!("localhost:{port}");

    let trusting = ClientConfig::default()
        .with_https_host(host.clone())
        .with_ca_file(&chain);
    let client = client_with(trusting);
    assert!(client.endpoint(&host).unwrap().is_secure());
    client.ping(&host).await.unwrap();

    let untrusting = client_with(ClientConfig::default().with_https_host(host.clone()));
    let error = untrusting.ping(&host).await.unwrap_err();
    assert!(matches!(error, ClientError::Transport { .. }), "{error:?}");
    assert!(
        !error.is_retryable(),
        "an untrusted certificate stays untrusted: {error:?}"
    );

    let mut insecure = ClientConfig::default().with_https_host(host.clone());
    insecure.tls.accept_invalid_certificates = true;
    client_with(insecure).ping(&host).await.unwrap();

    // A client certificate loads (the server does not ask for one).
    let mut with_identity = ClientConfig::default()
        .with_https_host(host.clone())
        .with_ca_file(&chain);
    with_identity.tls.client_certificate = Some((chain.clone(), key.clone()));
    client_with(with_identity).ping(&host).await.unwrap();
}

#[tokio::test]
async fn bad_tls_material_is_refused_when_the_client_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let missing = dir.path().join("missing.pem");
    for path in [&garbage, &missing] {
        let error = Client::new(ClientConfig::default().with_ca_file(path)).unwrap_err();
        assert!(matches!(error, ClientError::Config { .. }), "{error:?}");
    }
    let mut config = ClientConfig::default();
    config.tls.client_certificate = Some((garbage.clone(), garbage));
    let error = Client::new(config).unwrap_err();
    assert!(matches!(error, ClientError::Config { .. }), "{error:?}");
}

/// A registry with a self-signed certificate for `localhost`, and the certificate's files.
async fn tls_registry(dir: &Path) -> (Registry, PathBuf) {
    let (chain, key) = certificate(dir);
    let tls = TlsConfig::new(chain.clone(), key);
    (
        Registry::start_with(|config| config.tls = Some(tls)).await,
        chain,
    )
}

#[tokio::test]
async fn an_insecure_host_that_speaks_plain_http_is_found_once_and_remembered() {
    use support::{Hostile, respond};

    let server = Hostile::start(|seen| {
        if seen.uri == "/v2/" {
            respond(200, &[], "{}")
        } else {
            respond(200, &[], r#"{"name":"team/app","tags":["v1"]}"#)
        }
    })
    .await;
    let client = client_with(ClientConfig::default().with_insecure_host(server.host.clone()));
    let before = client.endpoint(&server.host).unwrap();
    assert!(
        before.is_secure() && before.falls_back_to_http(),
        "{before:?}"
    );
    let repo = server.reference("team/app");
    for _ in 0..3 {
        assert_eq!(client.list_tags(&repo).await.unwrap(), ["v1"]);
    }
    assert_eq!(
        server.seen_at("/v2/team/app/tags/list").len(),
        3,
        "every listing went over plain HTTP"
    );
    assert_eq!(
        server.seen().iter().filter(|s| s.uri == "/v2/").count(),
        1,
        "the host is probed once"
    );
    let after = client.endpoint(&server.host).unwrap();
    assert_eq!(after.base_url(), format!("http://{}", server.host));
}

#[tokio::test]
async fn blobs_move_through_an_insecure_host_over_plain_http_and_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let (secure, _) = tls_registry(dir.path()).await;
    let plain = Registry::start().await;
    for (registry, https) in [(&secure, true), (&plain, false)] {
        let client = client_with(ClientConfig::default().with_insecure_host(registry.host.clone()));
        let repo = registry.reference("team/app");
        let data = bytes::Bytes::from_static(b"a layer over an insecure connection");
        let digest = support::sha256(&data);
        client
            .push_blob(&repo, &digest, UploadMode::monolithic(data.clone()))
            .await
            .unwrap();
        let read = client
            .get_blob(&repo, &digest)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(read, data);
        let endpoint = client.endpoint(&registry.host).unwrap();
        assert_eq!(endpoint.is_secure(), https, "{endpoint:?}");
    }
}

#[tokio::test]
async fn a_secure_host_with_a_self_signed_certificate_fails_with_a_tls_error() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, _) = tls_registry(dir.path()).await;
    let port = registry.host.rsplit(':').next().unwrap();
    let host = format!("localhost:{port}");
    let client = client_with(ClientConfig::default().with_https_host(host.clone()));
    let error = client.ping(&host).await.unwrap_err();
    assert!(error.is_tls(), "{error:?}");
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("TLS handshake"), "{error}");
    let mut chain = String::new();
    let mut source = std::error::Error::source(&error);
    for _ in 0..10 {
        let Some(cause) = source else { break };
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    assert!(chain.contains("certificate"), "{chain}");

    // A plain HTTP registry is not TLS: its failure over HTTPS says so too.
    let plain = Registry::start().await;
    let client = client_with(ClientConfig::default().with_https_host(plain.host.clone()));
    let error = client.ping(&plain.host).await.unwrap_err();
    assert!(error.is_tls(), "{error:?}");
}
