//! TLS: a certificate and key from PEM files, TLS 1.2 and 1.3, HTTP/2 chosen by ALPN.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod support;

use gantry_registry::TlsConfig;
use support::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_with_http2_by_alpn() {
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let certificate = dir.path().join("chain.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&certificate, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();

    let tls = TlsConfig::new(certificate.clone(), key.clone());
    let server = TestServer::start_with(|config| config.tls = Some(tls)).await;
    let port = server.url.rsplit(':').next().unwrap().to_owned();
    let root = reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap();

    for (version, http2) in [("HTTP/2", true), ("HTTP/1.1", false)] {
        let mut builder = reqwest::Client::builder()
            .add_root_certificate(root.clone())
            .resolve("localhost", format!("127.0.0.1:{port}").parse().unwrap());
        if !http2 {
            builder = builder.http1_only();
        }
        let client = builder.build().unwrap();
        let response = client
            .get(format!("https://localhost:{port}/v2/"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{version}");
        let expected = if http2 {
            reqwest::Version::HTTP_2
        } else {
            reqwest::Version::HTTP_11
        };
        assert_eq!(response.version(), expected);
    }

    // Plain HTTP to the TLS port gets no API answer.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/v2/"))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);
    server.stop().await;
}

#[tokio::test]
async fn unusable_tls_material_stops_the_server_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let mut config = gantry_test_support::in_process::config(&dir.path().join("root"));
    config.tls = Some(TlsConfig::new(
        garbage.clone(),
        dir.path().join("missing.pem"),
    ));
    let error = gantry_registry::Server::bind(&config)
        .await
        .err()
        .expect("bind fails");
    let message = error.to_string();
    assert!(message.starts_with("TLS:"), "{message}");
}
