//! What the S3 suites share: `gantry serve` on a bucket as a child process, and the registry
//! API spoken in raw HTTP (pushes whole or in chunks, pulls with their digests checked, the
//! catalog and tags lists).

#![allow(dead_code, reason = "each suite uses part of it")]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use gantry_reference::{Algorithm, Digest};
use gantry_test_support::gantry::{Gantry, gantry_binary};
use gantry_test_support::seaweed::{S3Service, SeaweedMini};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The OCI image manifest's media type.
pub(crate) const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// How long one registry request may take: longer than the driver's retries of one call.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// `gantry serve --listen 127.0.0.1:0 --storage s3://BUCKET/PREFIX --s3-endpoint ENDPOINT`,
/// with `service`'s identity in the AWS variables and `env` besides, and nothing else of the
/// caller's environment.
pub(crate) fn serve_command(service: &S3Service, prefix: &str, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(gantry_binary());
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--storage"])
        .arg(format!("s3://{}/{prefix}", service.bucket))
        .args(["--s3-endpoint", &service.endpoint])
        .env_clear()
        .env("AWS_ACCESS_KEY_ID", &service.access_key)
        .env("AWS_SECRET_ACCESS_KEY", &service.secret_key)
        .env("AWS_REGION", "us-east-1")
        .envs(env.iter().copied());
    command
}

/// [`serve_command`] started off the async threads, its log in `dir`; panics with the log if
/// it does not answer.
pub(crate) async fn serve(
    service: &S3Service,
    prefix: &str,
    env: &[(&str, &str)],
    dir: &Path,
) -> Gantry {
    let command = serve_command(service, prefix, env);
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || Gantry::start_command(command, &dir))
        .await
        .unwrap()
}

/// SeaweedFS's `weed mini`, started off the async threads.
pub(crate) async fn mini() -> SeaweedMini {
    tokio::task::spawn_blocking(SeaweedMini::start)
        .await
        .unwrap()
}

/// An image: a config, layers, and the manifest that lists them.
#[derive(Debug, Clone)]
pub(crate) struct Image {
    /// The config blob.
    pub(crate) config: Vec<u8>,
    /// The layer blobs.
    pub(crate) layers: Vec<Vec<u8>>,
    /// The manifest's bytes.
    pub(crate) manifest: Vec<u8>,
}

impl Image {
    /// An image whose layers have `sizes` bytes of noise made from `seed`.
    pub(crate) fn new(seed: u64, sizes: &[usize]) -> Image {
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"seed":{seed}}}"#
        )
        .into_bytes();
        let layers: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(i, size)| gantry_test_support::layout::noise(seed * 100 + i as u64, *size))
            .collect();
        let descriptor = |media_type: &str, content: &[u8]| json!({"mediaType": media_type, "digest": sha256(content).as_str(), "size": content.len()});
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": descriptor("application/vnd.oci.image.config.v1+json", &config),
            "layers": layers
                .iter()
                .map(|layer| descriptor("application/vnd.oci.image.layer.v1.tar", layer))
                .collect::<Vec<_>>(),
        });
        Image {
            config,
            layers,
            manifest: serde_json::to_vec(&manifest).unwrap(),
        }
    }

    /// The config and the layers.
    pub(crate) fn blobs(&self) -> Vec<&[u8]> {
        std::iter::once(self.config.as_slice())
            .chain(self.layers.iter().map(Vec::as_slice))
            .collect()
    }

    /// The manifest's digest.
    pub(crate) fn digest(&self) -> Digest {
        sha256(&self.manifest)
    }
}

/// The SHA-256 digest of `content`.
pub(crate) fn sha256(content: &[u8]) -> Digest {
    Digest::of(Algorithm::Sha256, content)
}

/// A registry's API at `http://ADDR`, in raw HTTP that follows no redirect.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    http: reqwest::Client,
    base: String,
}

/// An answer: its status, headers and body.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The status.
    pub(crate) status: StatusCode,
    /// The headers.
    pub(crate) headers: reqwest::header::HeaderMap,
    /// The body.
    pub(crate) body: Vec<u8>,
}

impl Answer {
    /// Header `name` as text, if any.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text, for messages.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

impl Api {
    /// The API of the registry at `addr`.
    pub(crate) fn new(addr: impl std::fmt::Display) -> Api {
        Api {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .timeout(REQUEST_TIMEOUT)
                .build()
                .unwrap(),
            base: format!("http://{addr}"),
        }
    }

    /// Sends `method` to `target` (a path, or a URL as a `Location` gives it) with `headers`
    /// and `body`.
    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        target: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Answer {
        let url = if target.starts_with("http") {
            target.to_owned()
        } else {
            format!("{}{target}", self.base)
        };
        let mut request = self.http.request(method.clone(), &url).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        Answer {
            status: response.status(),
            headers: response.headers().clone(),
            body: response
                .bytes()
                .await
                .map(|b| b.to_vec())
                .unwrap_or_default(),
        }
    }

    /// `GET` of `target`.
    pub(crate) async fn get(&self, target: &str) -> Answer {
        self.send(reqwest::Method::GET, target, &[], Vec::new())
            .await
    }

    /// `POST /v2/REPO/blobs/uploads/`: the new upload's location.
    pub(crate) async fn start_upload(&self, repo: &str) -> String {
        let started = self
            .send(
                reqwest::Method::POST,
                &format!("/v2/{repo}/blobs/uploads/"),
                &[],
                Vec::new(),
            )
            .await;
        assert_eq!(started.status, 202, "{}", started.text());
        started.header("location").unwrap().to_owned()
    }

    /// `PATCH` of `chunk` at `offset` to the upload at `location`, unchecked.
    pub(crate) async fn patch(&self, location: &str, offset: usize, chunk: &[u8]) -> Answer {
        let range = format!("{offset}-{}", offset + chunk.len() - 1);
        let length = chunk.len().to_string();
        self.send(
            reqwest::Method::PATCH,
            location,
            &[
                ("content-type", "application/octet-stream"),
                ("content-range", &range),
                ("content-length", &length),
            ],
            chunk.to_vec(),
        )
        .await
    }

    /// Starts an upload to `repo` with `first` as its first `PATCH`; panics unless it is
    /// accepted. The location to go on at.
    pub(crate) async fn start_chunked(&self, repo: &str, first: &[u8]) -> String {
        let location = self.start_upload(repo).await;
        let patched = self.patch(&location, 0, first).await;
        assert_eq!(patched.status, 202, "{}", patched.text());
        patched.header("location").unwrap().to_owned()
    }

    /// The final `PUT` of the upload at `location` with `digest`, and `body`, unchecked.
    pub(crate) async fn finish(&self, location: &str, digest: &Digest, body: &[u8]) -> Answer {
        let separator = if location.contains('?') { '&' } else { '?' };
        let target = format!("{location}{separator}digest={digest}");
        self.send(
            reqwest::Method::PUT,
            &target,
            &[("content-type", "application/octet-stream")],
            body.to_vec(),
        )
        .await
    }

    /// Pushes `content` in one `POST` and one `PUT`, unchecked.
    pub(crate) async fn try_push_blob(&self, repo: &str, content: &[u8]) -> Answer {
        let location = self.start_upload(repo).await;
        self.finish(&location, &sha256(content), content).await
    }

    /// Pushes `content` in one `POST` and one `PUT`; panics unless it is created.
    pub(crate) async fn push_blob(&self, repo: &str, content: &[u8]) {
        let pushed = self.try_push_blob(repo, content).await;
        assert_eq!(pushed.status, 201, "{}", pushed.text());
    }

    /// Pushes `content` as `PATCH`es of `chunk` bytes and an empty `PUT`; panics unless each
    /// succeeds.
    pub(crate) async fn push_blob_chunked(&self, repo: &str, content: &[u8], chunk: usize) {
        let mut location = self.start_upload(repo).await;
        for (i, piece) in content.chunks(chunk).enumerate() {
            let patched = self.patch(&location, i * chunk, piece).await;
            assert_eq!(patched.status, 202, "{}", patched.text());
            location = patched.header("location").unwrap().to_owned();
        }
        let pushed = self.finish(&location, &sha256(content), &[]).await;
        assert_eq!(pushed.status, 201, "{}", pushed.text());
    }

    /// `PUT` of `manifest` as `reference` (a tag or digest) in `repo`, unchecked.
    pub(crate) async fn try_put_manifest(
        &self,
        repo: &str,
        reference: &str,
        manifest: &[u8],
    ) -> Answer {
        self.send(
            reqwest::Method::PUT,
            &format!("/v2/{repo}/manifests/{reference}"),
            &[("content-type", MANIFEST_TYPE)],
            manifest.to_vec(),
        )
        .await
    }

    /// Pushes `image` to `repo` under `tag`: every blob in one `POST` and `PUT`, except the
    /// layers of `chunked_at` or more bytes, sent as `PATCH`es of that size.
    pub(crate) async fn push_image(&self, repo: &str, tag: &str, image: &Image, chunked_at: usize) {
        for blob in image.blobs() {
            if blob.len() >= chunked_at {
                self.push_blob_chunked(repo, blob, chunked_at).await;
            } else {
                self.push_blob(repo, blob).await;
            }
        }
        let put = self.try_put_manifest(repo, tag, &image.manifest).await;
        assert_eq!(put.status, 201, "{}", put.text());
    }

    /// `GET` (or `HEAD`) of blob `digest` in `repo`.
    pub(crate) async fn blob(
        &self,
        method: reqwest::Method,
        repo: &str,
        digest: &Digest,
    ) -> Answer {
        self.send(
            method,
            &format!("/v2/{repo}/blobs/{digest}"),
            &[],
            Vec::new(),
        )
        .await
    }

    /// `GET` of manifest `reference` in `repo`, accepting the OCI manifest.
    pub(crate) async fn manifest(&self, repo: &str, reference: &str) -> Answer {
        self.send(
            reqwest::Method::GET,
            &format!("/v2/{repo}/manifests/{reference}"),
            &[("accept", MANIFEST_TYPE)],
            Vec::new(),
        )
        .await
    }

    /// Pulls `image` from `repo` by `tag`: the manifest's bytes and digest, then every blob
    /// with its bytes, `Docker-Content-Digest` and the digest of what came, and its size from
    /// a `HEAD`; panics on any difference, naming `who`.
    pub(crate) async fn assert_serves(&self, who: &str, repo: &str, tag: &str, image: &Image) {
        let manifest = self.manifest(repo, tag).await;
        assert_eq!(
            manifest.status,
            200,
            "{who}: {repo}:{tag}: {}",
            manifest.text()
        );
        assert_eq!(manifest.body, image.manifest, "{who}: the manifest's bytes");
        assert_eq!(
            manifest.header("docker-content-digest"),
            Some(image.digest().as_str()),
            "{who}: the manifest's digest"
        );
        for blob in image.blobs() {
            let digest = sha256(blob);
            let got = self.blob(reqwest::Method::GET, repo, &digest).await;
            assert_eq!(got.status, 200, "{who}: blob {digest}: {}", got.text());
            assert_eq!(
                got.header("docker-content-digest"),
                Some(digest.as_str()),
                "{who}: blob {digest}'s header"
            );
            assert_eq!(sha256(&got.body), digest, "{who}: blob {digest}'s bytes");
            let head = self.blob(reqwest::Method::HEAD, repo, &digest).await;
            let length = blob.len().to_string();
            assert_eq!(head.status, 200, "{who}: HEAD of blob {digest}");
            assert_eq!(
                head.header("content-length"),
                Some(length.as_str()),
                "{who}: HEAD of blob {digest}"
            );
        }
    }

    /// The catalog's repository names.
    pub(crate) async fn catalog(&self) -> Vec<String> {
        let answer = self.get("/v2/_catalog").await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        strings(&answer.json()["repositories"])
    }

    /// The tags of `repo`.
    pub(crate) async fn tags(&self, repo: &str) -> Vec<String> {
        let answer = self.get(&format!("/v2/{repo}/tags/list")).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        strings(&answer.json()["tags"])
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
