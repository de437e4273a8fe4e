//! The test kit's in-process server on 127.0.0.1 with an ephemeral port, a temporary root, and
//! a client for it.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test file uses the helpers it needs"
)]
// Test code, so clippy allows its unwraps (clippy.toml): test support fails loudly.
#![cfg(test)]

use std::path::Path;
use std::time::Duration;

use gantry_reference::{Algorithm, Digest};
use gantry_registry::Config;
use gantry_spec::error_code::ErrorBody;
use gantry_test_support::in_process::InProcessGantry;

/// A running server (the test kit's in-process `gantry serve`) and a client for it; dropping
/// it stops the server.
pub struct TestServer {
    pub url: String,
    /// The metrics listener's URL, when the config asked for one.
    pub metrics_url: Option<String>,
    pub client: reqwest::Client,
    server: InProcessGantry,
}

impl TestServer {
    /// A server with delete enabled on a fresh temporary root.
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    /// A server on a fresh temporary root, with `adjust` applied to its config.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        TestServer::from(InProcessGantry::start_with(adjust).await)
    }

    /// A server on `root`, which the caller keeps.
    pub async fn start_at(root: &Path, adjust: impl FnOnce(&mut Config)) -> TestServer {
        TestServer::from(InProcessGantry::start_at(root, adjust).await)
    }

    fn from(server: InProcessGantry) -> TestServer {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        TestServer {
            url: server.url.clone(),
            metrics_url: server.metrics_url.clone(),
            client,
            server,
        }
    }

    /// Asks the server to stop, without waiting.
    pub fn begin_stop(&mut self) {
        self.server.begin_stop();
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(self) {
        self.server.stop().await;
    }

    /// The absolute URL of `path_and_query`.
    pub fn at(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.url)
    }

    /// GET `path_and_query`.
    pub async fn get(&self, path_and_query: &str) -> reqwest::Response {
        self.client
            .get(self.at(path_and_query))
            .send()
            .await
            .unwrap()
    }

    /// HEAD `path_and_query`.
    pub async fn head(&self, path_and_query: &str) -> reqwest::Response {
        self.client
            .head(self.at(path_and_query))
            .send()
            .await
            .unwrap()
    }

    /// DELETE `path_and_query`.
    pub async fn delete(&self, path_and_query: &str) -> reqwest::Response {
        self.client
            .delete(self.at(path_and_query))
            .send()
            .await
            .unwrap()
    }

    /// POST `path_and_query` with no body.
    pub async fn post(&self, path_and_query: &str) -> reqwest::Response {
        self.client
            .post(self.at(path_and_query))
            .send()
            .await
            .unwrap()
    }

    /// Uploads `content` to `name` in one POST; panics unless it is created.
    pub async fn push_blob(&self, name: &str, content: &[u8]) -> Digest {
        let digest = Digest::of(Algorithm::Sha256, content);
        let response = self
            .client
            .post(self.at(&format!("/v2/{name}/blobs/uploads/?digest={digest}")))
            .body(content.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
        digest
    }

    /// Pushes a manifest of `media_type` under `reference`; returns the response.
    pub async fn push_manifest(
        &self,
        name: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> reqwest::Response {
        self.client
            .put(self.at(&format!("/v2/{name}/manifests/{reference}")))
            .header("content-type", media_type)
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
    }

    /// Pushes a one-layer OCI image under `tag`; returns the manifest's bytes and digest.
    pub async fn push_image(&self, name: &str, tag: &str, layer: &[u8]) -> (Vec<u8>, Digest) {
        let config = br#"{"architecture":"amd64","os":"linux"}"#;
        let config_digest = self.push_blob(name, config).await;
        let layer_digest = self.push_blob(name, layer).await;
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{layer_digest}","size":{}}}]}}"#,
            config.len(),
            layer.len()
        );
        let response = self
            .push_manifest(
                name,
                tag,
                "application/vnd.oci.image.manifest.v1+json",
                manifest.as_bytes(),
            )
            .await;
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
        let digest = Digest::of(Algorithm::Sha256, manifest.as_bytes());
        (manifest.into_bytes(), digest)
    }
}

/// The OCI error code of a response body, if it has one.
pub async fn error_code(response: reqwest::Response) -> Option<String> {
    let text = response.text().await.ok()?;
    let body: ErrorBody = serde_json::from_str(&text).ok()?;
    body.errors.first().map(|e| e.code.clone())
}

/// The header's value as text.
pub fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
