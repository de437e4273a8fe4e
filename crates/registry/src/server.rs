//! Binding, serving and stopping: the API listener (plain or TLS, HTTP/1.1 and HTTP/2), the
//! metrics listener, the upload purge, and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Router};
use gantry_storage::store::{Registry, RegistryOptions};
use gantry_storage::{StorageDriver, StoragePath};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::Layer as _;

use crate::auth::Auth;
use crate::config::Config;
use crate::idle::IdleTimeout;
use crate::limits::{ClientAddr, UploadSlots};
use crate::metrics::Metrics;
use crate::secrets::Secrets;
use crate::state::AppState;
use crate::tls::{self, ReloadingCertificate};
use crate::{ServerError, layers, storage};

/// The name of the upload-URL secret among the storage's secrets.
const UPLOAD_SECRET: &str = "upload-secret";

/// How long in-flight requests get to finish once shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// A bound server, ready to [`run`](Server::run).
pub struct Server {
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    tls: Option<TlsAcceptor>,
    /// The served certificate and how often its files are checked for a new one.
    certificate: Option<(Arc<ReloadingCertificate>, Duration)>,
    state: AppState,
    purge_interval: Option<Duration>,
    limits: ConnectionLimits,
}

/// What bounds each connection.
#[derive(Debug, Clone, Copy)]
struct ConnectionLimits {
    max_header_bytes: usize,
    header_read_timeout: Duration,
    idle_timeout: Duration,
}

impl Server {
    /// Opens the storage `config` names, loads TLS material and binds the listeners.
    pub async fn bind(config: &Config) -> Result<Server, ServerError> {
        let driver = storage::open(config).await?;
        Server::bind_with_driver(config, driver).await
    }

    /// Like [`bind`](Server::bind), but over a driver the caller made: `config`'s storage
    /// settings other than `[storage] redirect` are not used. Secrets not in `config` are
    /// read from the driver's storage, or made there once.
    pub async fn bind_with_driver(
        config: &Config,
        driver: Arc<dyn StorageDriver>,
    ) -> Result<Server, ServerError> {
        let secrets = Secrets::new(Arc::clone(&driver));
        let secret = match &config.upload_secret {
            Some(secret) => secret.clone().into_bytes(),
            None => upload_secret(&secrets).await?,
        };
        let options = RegistryOptions::new()
            .with_delete_enabled(config.delete_enabled)
            .with_max_manifest_size(config.max_manifest_size)
            .with_max_page_size(config.max_page_size)
            .with_sparse_indexes(config.sparse_indexes)
            .with_upload_purge_age(config.upload_purge_age)
            .with_catalog_refresh(config.catalog_refresh)
            .with_redirect(config.storage.redirect)
            .with_link_cache_ttl(config.storage.link_cache_ttl_for(driver.name()))
            .with_upload_secret(secret);
        let registry = Registry::new(driver, options).map_err(ServerError::Storage)?;
        let state = AppState {
            registry,
            metrics: Arc::new(Metrics::default()),
            chunk_min_length: config.chunk_min_length,
            auth: Auth::new(config.auth.as_ref(), &secrets, config.tls.is_some()).await?,
            upload_slots: Arc::new(UploadSlots::new(config.max_uploads_per_client)),
            max_blob_size: config.max_blob_size,
        };
        let (tls, certificate) = match &config.tls {
            Some(settings) => {
                let (acceptor, certificate) = tls::acceptor(settings)?;
                let every = settings.reload_interval.max(Duration::from_secs(1));
                (Some(acceptor), Some((certificate, every)))
            }
            None => (None, None),
        };
        let listener = bind(config.listen).await?;
        let metrics_listener = match config.metrics_listen {
            Some(address) => Some(bind(address).await?),
            None => None,
        };
        Ok(Server {
            listener,
            metrics_listener,
            tls,
            certificate,
            state,
            purge_interval: (!config.upload_purge_interval.is_zero())
                .then_some(config.upload_purge_interval),
            limits: ConnectionLimits {
                max_header_bytes: config.max_header_bytes.max(8192),
                header_read_timeout: config.header_read_timeout.max(Duration::from_secs(1)),
                idle_timeout: config.idle_timeout.max(Duration::from_secs(1)),
            },
        })
    }

    /// Where the API listens (with the port the system chose, when it was 0).
    pub fn local_addr(&self) -> Result<SocketAddr, ServerError> {
        self.listener.local_addr().map_err(ServerError::Io)
    }

    /// Where the metrics listen, when they do.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// The URL scheme clients use: `https` with TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish (up to 30 s).
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
        let Server {
            listener,
            metrics_listener,
            tls,
            certificate,
            state,
            purge_interval,
            limits,
        } = self;
        let reload_task =
            certificate.map(|(certificate, every)| tokio::spawn(reload_loop(certificate, every)));
        let api = layers::api(state.clone());
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .max_buf_size(limits.max_header_bytes);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
        let graceful = GracefulShutdown::new();

        let metrics_task = metrics_listener.map(|listener| {
            let router = metrics_router(state.clone());
            tokio::spawn(async move { serve_plain(listener, router).await })
        });
        let purge_task =
            purge_interval.map(|every| tokio::spawn(purge_loop(state.registry.clone(), every)));

        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(accepted) => accepted,
                        Err(error) => {
                            tracing::warn!(%error, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let stream = IdleTimeout::new(stream, limits.idle_timeout);
                    let service = TowerToHyperService::new(
                        Extension(ClientAddr(peer.ip())).layer(api.clone()),
                    );
                    let builder = builder.clone();
                    let watcher = graceful.watcher();
                    let tls = tls.clone();
                    tokio::spawn(async move {
                        let outcome = match tls {
                            Some(acceptor) => {
                                let handshake = tokio::time::timeout(
                                    limits.header_read_timeout,
                                    acceptor.accept(stream),
                                );
                                match handshake.await {
                                    Ok(Ok(stream)) => watcher.watch(serve_connection(&builder, stream, service)).await,
                                    Ok(Err(error)) => {
                                        tracing::debug!(%peer, %error, "TLS handshake failed");
                                        return;
                                    }
                                    Err(_) => {
                                        tracing::debug!(%peer, "TLS handshake timed out");
                                        return;
                                    }
                                }
                            }
                            None => watcher.watch(serve_connection(&builder, stream, service)).await,
                        };
                        if let Err(error) = outcome {
                            tracing::debug!(%peer, %error, "connection ended with an error");
                        }
                    });
                }
                () = &mut shutdown => break,
            }
        }
        drop(listener);
        tracing::info!("shutting down: waiting for in-flight requests");
        if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("in-flight requests did not finish in time");
        }
        for task in [metrics_task, purge_task, reload_task]
            .into_iter()
            .flatten()
        {
            task.abort();
        }
        Ok(())
    }
}

/// A byte stream a connection runs over: TCP, or TLS over TCP.
trait IoStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> IoStream for T {}

fn serve_connection<S, B>(
    builder: &auto::Builder<TokioExecutor>,
    stream: impl IoStream,
    service: S,
) -> auto::UpgradeableConnection<'static, TokioIo<Box<dyn IoStream>>, S, TokioExecutor>
where
    S: hyper::service::Service<axum::http::Request<Incoming>, Response = axum::http::Response<B>>
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let io: Box<dyn IoStream> = Box::new(stream);
    builder
        .serve_connection_with_upgrades(TokioIo::new(io), service)
        .into_owned()
}

async fn bind(address: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| ServerError::Bind { address, source })
}

/// Serves a small router over plain HTTP until the task is aborted.
async fn serve_plain(listener: TcpListener, router: Router) {
    if let Err(error) = axum::serve(listener, router).await {
        tracing::warn!(%error, "metrics listener stopped");
    }
}

fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(state)
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// Ready when the storage answers.
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    match state.registry.driver().stat(&StoragePath::root()).await {
        Ok(_) => (StatusCode::OK, "ready\n"),
        Err(error) => {
            tracing::warn!(%error, "storage is not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "storage unavailable\n")
        }
    }
}

/// Checks the certificate's files every `every`, loading new ones when they change.
async fn reload_loop(certificate: Arc<ReloadingCertificate>, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    loop {
        ticker.tick().await;
        let certificate = Arc::clone(&certificate);
        let _ = tokio::task::spawn_blocking(move || certificate.reload_if_changed()).await;
    }
}

async fn purge_loop(registry: Registry, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    loop {
        ticker.tick().await;
        match registry.purge_expired_uploads().await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "purged expired upload sessions"),
            Err(error) => tracing::warn!(%error, "purging upload sessions failed"),
        }
    }
}

/// The upload secret kept in the storage (`<root>/gantry/upload-secret` on the filesystem):
/// 32 random bytes in hex, made on first use.
async fn upload_secret(secrets: &Secrets) -> Result<Vec<u8>, ServerError> {
    secrets
        .read_or_make(
            UPLOAD_SECRET,
            "upload secret",
            || {
                let mut raw = [0u8; 32];
                getrandom::fill(&mut raw).map_err(|error| error.to_string())?;
                Ok(base16ct::lower::encode_string(&raw).into_bytes())
            },
            |secret| {
                if secret.len() < 32 {
                    return Err("shorter than 32 bytes".into());
                }
                Ok(secret.to_vec())
            },
        )
        .await
}
