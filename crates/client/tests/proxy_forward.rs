//! Requests through a forward proxy: a small proxy in the test (absolute-URI requests for
//! `http`, `CONNECT` tunnels for `https`) in front of a real `gantry serve`, counting what it
//! carries. An explicit proxy carries every request (loopback included), `NO_PROXY`-style
//! exclusions go direct, and credentials in the proxy URL travel as `Proxy-Authorization`.
//! Every client here names its proxy explicitly, so what the environment says does not matter.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod support;

use std::path::Path;

use base64::Engine;
use bytes::Bytes;
use gantry_client::{Client, ClientConfig, UploadMode};
use gantry_registry::TlsConfig;
use support::relay::{Mode, Relay};
use support::{Registry, client_with, sha256};

/// Pushes a blob, reads it back and lists tags on `registry` through `client`.
async fn round_trip(client: &Client, registry_host: &str) {
    let repo = support::reference(registry_host, "team/app");
    let data = Bytes::from_static(b"a layer through the proxy");
    let digest = sha256(&data);
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
    assert_eq!(client.head_blob(&repo, &digest).await.unwrap(), 25);
}

#[tokio::test]
async fn an_explicit_proxy_carries_every_request() {
    let registry = Registry::start().await;
    let proxy = Relay::start(Mode::Forward).await;
    let client = client_with(
        ClientConfig::default()
            .with_proxy(format!("http://{}", proxy.host))
            .without_environment_proxy(),
    );
    round_trip(&client, &registry.host).await;
    let seen = proxy.seen();
    assert!(seen.len() >= 3, "{seen:?}");
    let prefix = format!("http://{}/v2/team/app/blobs/", registry.host);
    for head in &seen {
        assert!(head.target.starts_with(&prefix), "{head:?}");
        assert!(head.proxy_authorization.is_none());
    }
    let methods: Vec<&str> = seen.iter().map(|h| h.method.as_str()).collect();
    for method in ["POST", "GET", "HEAD"] {
        assert!(methods.contains(&method), "{methods:?}");
    }
}

#[tokio::test]
async fn no_proxy_entries_go_direct() {
    let registry = Registry::start().await;
    let proxy = Relay::start(Mode::Forward).await;
    let port = registry.host.rsplit(':').next().unwrap();
    for excluded in [
        "127.0.0.1".to_owned(),
        format!("127.0.0.1:{port}"),
        "127.0.0.0/8".to_owned(),
        "*".to_owned(),
    ] {
        let client = client_with(
            ClientConfig::default()
                .with_proxy(format!("http://{}", proxy.host))
                .with_no_proxy("ghcr.io")
                .with_no_proxy(excluded.clone()),
        );
        round_trip(&client, &registry.host).await;
        assert!(proxy.seen().is_empty(), "{excluded}: {:?}", proxy.seen());
    }
    // An entry for another port does not exclude this one.
    let client = client_with(
        ClientConfig::default()
            .with_proxy(format!("http://{}", proxy.host))
            .with_no_proxy("127.0.0.1:1"),
    );
    round_trip(&client, &registry.host).await;
    assert!(!proxy.seen().is_empty());
}

/// A certificate for `localhost` as PEM files: (chain, key).
fn certificate(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let chain = dir.join("chain.pem");
    let key = dir.join("key.pem");
    std::fs::write(&chain, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    (chain, key)
}

#[tokio::test]
async fn proxy_credentials_go_as_proxy_authorization_for_http_and_connect() {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("alice:pr0xy-s3cret")
    );

    let plain = Registry::start().await;
    let proxy = Relay::start(Mode::Forward).await;
    let config = ClientConfig::default()
        .with_proxy(format!("http://alice:pr0xy-s3cret@{}", proxy.host))
        .without_environment_proxy();
    let client = client_with(config);
    assert!(
        !format!("{client:?}").contains("pr0xy-s3cret"),
        "the proxy password stays out of Debug: {client:?}"
    );
    round_trip(&client, &plain.host).await;
    let seen = proxy.seen();
    assert!(!seen.is_empty());
    for head in &seen {
        assert_eq!(head.proxy_authorization.as_deref(), Some(expected.as_str()));
    }

    // HTTPS goes through a CONNECT tunnel, which carries the credentials too.
    let dir = tempfile::tempdir().unwrap();
    let (chain, key) = certificate(dir.path());
    let tls = TlsConfig::new(chain.clone(), key);
    let secure = Registry::start_with(|config| config.tls = Some(tls)).await;
    let port = secure.host.rsplit(':').next().unwrap();
    let host = format!("localhost:{port}");
    let proxy = Relay::start(Mode::Forward).await;
    let client = client_with(
        ClientConfig::default()
            .with_proxy(format!("http://alice:pr0xy-s3cret@{}", proxy.host))
            .with_https_host(host.clone())
            .with_ca_file(&chain),
    );
    round_trip(&client, &host).await;
    let seen = proxy.seen();
    assert!(!seen.is_empty());
    for head in &seen {
        assert_eq!(head.method, "CONNECT", "{head:?}");
        assert_eq!(head.target, host);
        assert_eq!(head.proxy_authorization.as_deref(), Some(expected.as_str()));
    }
}
