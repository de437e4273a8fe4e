//! TLS against `gantry serve` with a self-signed certificate: trusted through an extra CA
//! file, refused without it, accepted by the explicit insecure switch; and bad TLS material
//! refused when the client is built.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod support;

use std::path::{Path, PathBuf};

use gantry_client::{Client, ClientConfig, ClientError};
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
    let tls = TlsConfig {
        certificate: chain.clone(),
        key: key.clone(),
    };
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
