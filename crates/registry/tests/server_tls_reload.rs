//! TLS certificates made in the test (rcgen): the server's certificate verifies, a new one
//! written over its files is served without a restart, and client certificates are required,
//! refused or optional as configured (mutual TLS).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod support;

use std::path::Path;
use std::time::Duration;

use gantry_registry::TlsConfig;
use support::TestServer;

/// A certificate authority made for one test.
struct Authority {
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
    pem: String,
}

impl Authority {
    fn new(name: &str) -> Authority {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let pem = params.self_signed(&key).unwrap().pem();
        Authority { params, key, pem }
    }

    /// A leaf for `names`: its certificate and key, PEM.
    fn issue(&self, names: &[&str]) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let issuer = rcgen::Issuer::new(self.params.clone(), &self.key);
        let cert = rcgen::CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn root(&self) -> reqwest::Certificate {
        reqwest::Certificate::from_pem(self.pem.as_bytes()).unwrap()
    }
}

/// Writes `content` to `path` through a temporary file and a rename, as a deploy tool would.
fn replace(path: &Path, content: &str) {
    let temporary = path.with_extension("new");
    std::fs::write(&temporary, content).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

/// A fresh client (no pooled connection) that trusts only `root`, with `identity` if given.
fn client(port: &str, root: &Authority, identity: Option<(&str, &str)>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(root.root())
        .resolve("localhost", format!("127.0.0.1:{port}").parse().unwrap())
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30));
    if let Some((cert, key)) = identity {
        let pem = format!("{cert}{key}");
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

async fn base_status(client: &reqwest::Client, port: &str) -> Result<u16, reqwest::Error> {
    client
        .get(format!("https://localhost:{port}/v2/"))
        .send()
        .await
        .map(|response| response.status().as_u16())
}

fn port(server: &TestServer) -> String {
    server.url.rsplit(':').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_certificate_is_served_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (old_ca, new_ca) = (Authority::new("old CA"), Authority::new("new CA"));
    let (cert, key) = old_ca.issue(&["localhost"]);
    let (cert_path, key_path) = (dir.path().join("chain.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert).unwrap();
    std::fs::write(&key_path, key).unwrap();
    let mut tls = TlsConfig::new(&cert_path, &key_path);
    tls.reload_interval = Duration::from_secs(1);
    let server = TestServer::start_with(|config| config.tls = Some(tls)).await;
    let port = port(&server);

    assert_eq!(
        base_status(&client(&port, &old_ca, None), &port)
            .await
            .unwrap(),
        200
    );
    assert!(
        base_status(&client(&port, &new_ca, None), &port)
            .await
            .is_err(),
        "a client that trusts another CA must not verify the server"
    );

    // The key first, then the certificate: in between the pair does not match, and the
    // old pair stays in service.
    let (cert, key) = new_ca.issue(&["localhost"]);
    replace(&key_path, &key);
    replace(&cert_path, &cert);
    let mut rotated = false;
    for _ in 0..300 {
        if base_status(&client(&port, &new_ca, None), &port).await.ok() == Some(200) {
            rotated = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(rotated, "the new certificate was never served");
    assert!(
        base_status(&client(&port, &old_ca, None), &port)
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_are_required_refused_or_optional() {
    let dir = tempfile::tempdir().unwrap();
    let server_ca = Authority::new("server CA");
    let client_ca = Authority::new("client CA");
    let rogue_ca = Authority::new("rogue CA");
    let (cert, key) = server_ca.issue(&["localhost"]);
    let (cert_path, key_path) = (dir.path().join("chain.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert).unwrap();
    std::fs::write(&key_path, key).unwrap();
    let ca_path = dir.path().join("clients.pem");
    std::fs::write(&ca_path, &client_ca.pem).unwrap();
    let (good_cert, good_key) = client_ca.issue(&["builder"]);
    let (rogue_cert, rogue_key) = rogue_ca.issue(&["builder"]);

    for optional in [false, true] {
        let mut tls = TlsConfig::new(&cert_path, &key_path);
        tls.client_ca = Some(ca_path.clone());
        tls.client_auth_optional = optional;
        let server = TestServer::start_with(|config| config.tls = Some(tls)).await;
        let port = port(&server);
        let with = |identity| client(&port, &server_ca, identity);

        let accepted = base_status(&with(Some((&good_cert, &good_key))), &port).await;
        assert_eq!(accepted.unwrap(), 200, "optional={optional}");
        let rogue = base_status(&with(Some((&rogue_cert, &rogue_key))), &port).await;
        assert!(
            rogue.is_err(),
            "optional={optional}: a rogue certificate was accepted"
        );
        let without = base_status(&with(None), &port).await;
        if optional {
            assert_eq!(without.unwrap(), 200);
        } else {
            assert!(
                without.is_err(),
                "a client without a certificate was accepted"
            );
        }
    }
}
