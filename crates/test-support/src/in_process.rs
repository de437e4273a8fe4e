//! `gantry serve` inside the test process, for suites that drive the libraries against it.
//!
//! [`config`] is the one place a test gets a registry [`Config`] from; [`InProcessGantry`]
//! the one way a test runs a server in process.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use gantry_reference::{Algorithm, Digest, Reference};
use gantry_registry::{Config, Server};
use tokio::sync::oneshot;

/// How long [`InProcessGantry::stop`] waits for the server to finish.
const STOP: Duration = Duration::from_secs(35);

/// The configuration every in-process server starts from: loopback port 0, data in `root`,
/// deletes enabled, no background purge of old uploads.
pub fn config(root: &Path) -> Config {
    let mut config = Config::default();
    config.listen = ([127, 0, 0, 1], 0).into();
    config.root = root.to_owned();
    config.delete_enabled = true;
    config.upload_purge_interval = Duration::ZERO;
    config
}

/// A registry served by this process on a loopback port; stopped when dropped (and its
/// temporary data directory, if it made one, removed). Start it inside a tokio runtime.
pub struct InProcessGantry {
    /// `127.0.0.1:PORT`, as a registry host in references.
    pub host: String,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The metrics listener's URL, when the config asked for one.
    pub metrics_url: Option<String>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _root: Option<tempfile::TempDir>,
}

impl InProcessGantry {
    /// A server with [`config`] on a fresh temporary root.
    pub async fn start() -> InProcessGantry {
        InProcessGantry::start_with(|_| {}).await
    }

    /// A server on a fresh temporary root, with `adjust` applied to its [`config`].
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> InProcessGantry {
        let root = tempfile::tempdir().unwrap();
        let mut server = InProcessGantry::start_at(root.path(), adjust).await;
        server._root = Some(root);
        server
    }

    /// A server on `root`, which the caller keeps, with `adjust` applied to its [`config`].
    /// Panics if it cannot bind (this is test support).
    pub async fn start_at(root: &Path, adjust: impl FnOnce(&mut Config)) -> InProcessGantry {
        let mut config = config(root);
        adjust(&mut config);
        let server = Server::bind(&config).await.unwrap();
        let addr = server.local_addr().unwrap();
        let metrics_url = server
            .metrics_addr()
            .map(|address| format!("http://{address}"));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .run(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        InProcessGantry {
            host: addr.to_string(),
            url: format!("http://{addr}"),
            metrics_url,
            addr,
            stop: Some(stop),
            task: Some(task),
            _root: None,
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A reference to `rest` (`name:tag` or `name@digest`) on this registry.
    pub fn reference(&self, rest: &str) -> Reference {
        Reference::parse(format!("{}/{rest}", self.host)).unwrap()
    }

    /// Uploads `content` to `name` with a raw monolithic POST, not through a client under test;
    /// panics unless it is created.
    pub async fn seed_blob(&self, name: &str, content: &[u8]) -> Digest {
        let digest = Digest::of(Algorithm::Sha256, content);
        let response = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .post(format!(
                "{}/v2/{name}/blobs/uploads/?digest={digest}",
                self.url
            ))
            .body(content.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        digest
    }

    /// Asks the server to stop, without waiting.
    pub fn begin_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Stops the server and waits (a bounded time) for it to finish.
    pub async fn stop(mut self) {
        self.begin_stop();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(STOP, task).await.unwrap().unwrap();
        }
    }
}

impl Drop for InProcessGantry {
    fn drop(&mut self) {
        self.begin_stop();
    }
}
