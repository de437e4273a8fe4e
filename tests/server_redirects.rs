//! Blob redirects: with `[storage] redirect = true` and a driver that offers URLs, blob GETs
//! answer `307` with the URL in `Location` (ranges too: the client repeats `Range` there),
//! while HEAD requests and manifests stay on the registry; `gantry-client` follows the
//! redirect to the other origin without `Authorization` and gets the verified blob.
//!
//! The driver is `InMemoryDriver` wrapped so that `redirect_url` points at a second plain
//! server on 127.0.0.1 that serves the driver's files by path, as an object store would.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use gantry_client::{Client, ClientConfig, Credential, CredentialSources, UploadMode};
use gantry_reference::{Digest, Reference};
use gantry_registry::{AuthConfig, Server, StorageConfig};
use gantry_spec::{Descriptor, ImageManifest, media_type};
use gantry_storage::{
    BoxByteStream, BoxFuture, BoxReader, FileInfo, FileWriter, InMemoryDriver, StorageDriver,
    StorageError, StoragePath, WalkVisitor,
};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// `InMemoryDriver`, whose files are also served by the origin at `origin`.
#[derive(Debug)]
struct Redirecting {
    inner: InMemoryDriver,
    origin: String,
}

impl StorageDriver for Redirecting {
    fn name(&self) -> &'static str {
        "redirecting"
    }
    fn get_content<'a>(&'a self, p: &'a StoragePath) -> BoxFuture<'a, Result<Bytes, StorageError>> {
        self.inner.get_content(p)
    }
    fn put_content<'a>(
        &'a self,
        p: &'a StoragePath,
        content: Bytes,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        self.inner.put_content(p, content)
    }
    fn create_content<'a>(
        &'a self,
        p: &'a StoragePath,
        content: Bytes,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        self.inner.create_content(p, content)
    }
    fn reader<'a>(
        &'a self,
        p: &'a StoragePath,
        offset: u64,
    ) -> BoxFuture<'a, Result<BoxReader, StorageError>> {
        self.inner.reader(p, offset)
    }
    fn read_stream<'a>(
        &'a self,
        p: &'a StoragePath,
        offset: u64,
        len: u64,
    ) -> BoxFuture<'a, Result<BoxByteStream, StorageError>> {
        self.inner.read_stream(p, offset, len)
    }
    fn writer<'a>(
        &'a self,
        p: &'a StoragePath,
        append: bool,
    ) -> BoxFuture<'a, Result<Box<dyn FileWriter>, StorageError>> {
        self.inner.writer(p, append)
    }
    fn stat<'a>(&'a self, p: &'a StoragePath) -> BoxFuture<'a, Result<FileInfo, StorageError>> {
        self.inner.stat(p)
    }
    fn list<'a>(
        &'a self,
        p: &'a StoragePath,
    ) -> BoxFuture<'a, Result<Vec<StoragePath>, StorageError>> {
        self.inner.list(p)
    }
    fn move_path<'a>(
        &'a self,
        from: &'a StoragePath,
        to: &'a StoragePath,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        self.inner.move_path(from, to)
    }
    fn delete<'a>(&'a self, p: &'a StoragePath) -> BoxFuture<'a, Result<(), StorageError>> {
        self.inner.delete(p)
    }
    fn walk<'a>(
        &'a self,
        p: &'a StoragePath,
        visit: &'a mut WalkVisitor<'_>,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        self.inner.walk(p, visit)
    }
    fn redirect_url<'a>(
        &'a self,
        p: &'a StoragePath,
        method: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, StorageError>> {
        let url = (method == "GET").then(|| format!("{}{p}", self.origin));
        Box::pin(async move { Ok(url) })
    }
}

/// What the origin was asked: each request's `Authorization` and `Range`, if any.
type Seen = Arc<Mutex<Vec<(Option<String>, Option<String>)>>>;

/// The origin: serves the driver's files by path, a `Range` of the form `bytes=A-B` as 206.
async fn origin(files: InMemoryDriver, seen: Seen, uri: Uri, headers: HeaderMap) -> Response {
    let text = |name| {
        headers
            .get(name)
            .map(|value: &header::HeaderValue| value.to_str().unwrap().to_owned())
    };
    let range = text(header::RANGE);
    seen.lock()
        .unwrap()
        .push((text(header::AUTHORIZATION), range.clone()));
    let Ok(content) = files
        .get_content(&StoragePath::new(uri.path()).unwrap())
        .await
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some((start, end)) = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split_once('-'))
        .map(|(a, b)| (a.parse::<usize>().unwrap(), b.parse::<usize>().unwrap()))
    else {
        return (StatusCode::OK, content).into_response();
    };
    let total = content.len();
    (
        StatusCode::PARTIAL_CONTENT,
        [(
            header::CONTENT_RANGE,
            format!("bytes {start}-{end}/{total}"),
        )],
        Body::from(content.slice(start..=end)),
    )
        .into_response()
}

struct Setup {
    registry: String,
    seen: Seen,
    stop: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
    origin: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

/// A registry behind HTTP Basic (alice:secret) over the redirecting driver, and its origin.
async fn setup() -> Setup {
    let files = InMemoryDriver::new();
    let seen = Seen::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin_url = format!("http://{}", listener.local_addr().unwrap());
    let (served, log) = (files.clone(), Arc::clone(&seen));
    let router = Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
        origin(served.clone(), Arc::clone(&log), uri, headers)
    });
    let origin = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join("htpasswd");
    let hash = bcrypt::hash("secret", 4).unwrap();
    std::fs::write(&htpasswd, format!("alice:{hash}\n")).unwrap();
    let mut config = gantry_test_support::in_process::config(dir.path());
    config.auth = Some(AuthConfig::default().with_htpasswd(Some(htpasswd)));
    config.storage = StorageConfig::default().with_redirect(true);
    let driver = Arc::new(Redirecting {
        inner: files,
        origin: origin_url,
    });
    let server = Server::bind_with_driver(&config, driver).await.unwrap();
    let registry = server.local_addr().unwrap().to_string();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        server
            .run(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    Setup {
        registry,
        seen,
        stop,
        server,
        origin,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_gets_redirect_and_the_client_follows_without_credentials() {
    let setup = setup().await;
    let config = ClientConfig::default()
        .with_credential_sources(CredentialSources::None)
        .with_credential(setup.registry.clone(), Credential::basic("alice", "secret"));
    let client = Client::new(config).unwrap();
    let image = Reference::parse(format!("{}/team/app:v1", setup.registry)).unwrap();
    let layer = Bytes::from(
        (0..100_000u32)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    let config_blob = Bytes::from_static(b"{}");
    let layer_desc = Descriptor::of(media_type::OCI_LAYER_TAR_GZIP, &layer);
    let config_desc = Descriptor::of(media_type::OCI_IMAGE_CONFIG, &config_blob);
    for (descriptor, content) in [(&layer_desc, &layer), (&config_desc, &config_blob)] {
        let mode = UploadMode::monolithic(content.clone());
        client
            .push_blob(&image, &descriptor.digest, mode)
            .await
            .unwrap();
    }
    let manifest = ImageManifest::builder(config_desc)
        .layer(layer_desc.clone())
        .build()
        .unwrap();
    client.put_manifest(&image, &manifest).await.unwrap();

    // The client, redirected, gets the whole blob and a range of it from the origin, and
    // sends the origin no credentials.
    let digest: &Digest = &layer_desc.digest;
    let blob = client.get_blob(&image, digest).await.unwrap();
    assert_eq!(blob.collect().await.unwrap(), layer);
    let part = client.get_blob_range(&image, digest, 10..20).await.unwrap();
    assert_eq!(part.collect().await.unwrap(), layer.slice(10..20));
    let seen = setup.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.iter().all(|(auth, _)| auth.is_none()), "{seen:?}");
    assert_eq!(seen[1].1.as_deref(), Some("bytes=10-19"));

    // On the wire: GET (and a ranged GET) is 307; HEAD and the manifest are answered here.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |path: &str| format!("http://{}/v2/team/app/{path}", setup.registry);
    let blob_url = url(&format!("blobs/{digest}"));
    for range in [None, Some("bytes=0-9")] {
        let mut get = http.get(&blob_url).basic_auth("alice", Some("secret"));
        if let Some(range) = range {
            get = get.header(header::RANGE, range);
        }
        let answer = get.send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::TEMPORARY_REDIRECT, "{range:?}");
        let location = answer.headers()[header::LOCATION].to_str().unwrap();
        assert!(location.ends_with("/data"), "{location}");
        assert_eq!(
            answer.headers()["docker-content-digest"].to_str().unwrap(),
            digest.as_str()
        );
    }
    let head = http.head(&blob_url).basic_auth("alice", Some("secret"));
    let head = head.send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head.headers().get(header::LOCATION).is_none());
    assert_eq!(
        head.headers()[header::CONTENT_LENGTH].to_str().unwrap(),
        layer.len().to_string()
    );
    let manifest_get = http
        .get(url("manifests/v1"))
        .basic_auth("alice", Some("secret"))
        .header(header::ACCEPT, media_type::OCI_IMAGE_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(manifest_get.status(), StatusCode::OK);
    assert_eq!(manifest_get.bytes().await.unwrap(), manifest.bytes());
    // Without credentials, no redirect: the registry still decides who may read.
    let anonymous = http.get(&blob_url).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // skopeo (containers/image) follows the redirect too, and sends the origin no credentials.
    let layout = tempfile::tempdir().unwrap();
    let (source, destination) = (
        format!("docker://{}/team/app:v1", setup.registry),
        format!("oci:{}:v1", layout.path().display()),
    );
    let before = setup.seen.lock().unwrap().len();
    tokio::task::spawn_blocking(move || {
        gantry_test_support::skopeo::Skopeo::new().copy(
            &source,
            &destination,
            &["--src-creds", "alice:secret"],
        );
    })
    .await
    .unwrap();
    let copied = gantry_test_support::layout::blob_files(layout.path());
    let layer_file = format!("sha256/{}", layer_desc.digest.encoded());
    assert!(copied[&layer_file] == layer[..], "{layer_file}");
    let seen = setup.seen.lock().unwrap().clone();
    assert!(
        seen.len() > before,
        "skopeo fetched nothing from the origin"
    );
    assert!(seen.iter().all(|(auth, _)| auth.is_none()), "{seen:?}");

    let _ = setup.stop.send(());
    setup.server.await.unwrap();
    setup.origin.abort();
}
