//! `gantry serve` inside the test process, for suites that drive the libraries against it.

use gantry_registry::{Config, Server};
use tokio::sync::oneshot;

/// A registry served by this process on a loopback port, with its own temporary data
/// directory; stopped (and the directory removed) when dropped. Start it inside a tokio
/// runtime.
pub struct InProcessGantry {
    /// `127.0.0.1:PORT`, as a registry host in references.
    pub host: String,
    stop: Option<oneshot::Sender<()>>,
    _root: tempfile::TempDir,
}

impl InProcessGantry {
    /// Binds port 0 and serves until dropped. Panics if it cannot (this is test support).
    pub async fn start() -> InProcessGantry {
        let root = match tempfile::tempdir() {
            Ok(root) => root,
            Err(error) => panic!("no temporary data directory: {error}"),
        };
        let config = Config {
            listen: ([127, 0, 0, 1], 0).into(),
            root: root.path().to_owned(),
            upload_purge_interval_secs: 0,
            ..Config::default()
        };
        let server = match Server::bind(&config).await {
            Ok(server) => server,
            Err(error) => panic!("gantry serve could not bind: {error}"),
        };
        let host = match server.local_addr() {
            Ok(address) => address.to_string(),
            Err(error) => panic!("gantry serve has no address: {error}"),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let outcome = server
                .run(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(error) = outcome {
                panic!("gantry serve failed: {error}");
            }
        });
        InProcessGantry {
            host,
            stop: Some(stop),
            _root: root,
        }
    }
}

impl Drop for InProcessGantry {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
