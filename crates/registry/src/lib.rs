//! The registry HTTP server: the OCI Distribution Specification v1.1 over `gantry-storage`.
//!
//! `gantry-registry` sits above `gantry-storage`, `gantry-spec` and `gantry-reference`, and
//! below the `gantry` command line. It speaks HTTP and nothing else: every rule about what may be
//! stored lives in the store below it.
//!
//! - [`Config`]: defaults, a TOML file and `GANTRY_*` variables.
//! - [`Server`]: binds the listeners and serves the API (HTTP/1.1 and HTTP/2, plain or TLS),
//!   with `/metrics`, `/healthz` and `/readyz` on the metrics address.
//! - [`route`]: the `/v2/` router, which reads repository names with slashes in them.
//! - [`ApiError`]: errors in the OCI error form, rendered from `gantry_spec`'s table.
//! - [`auth`]: HTTP Basic against an htpasswd file, Bearer tokens (Docker's token
//!   specification), the built-in token issuer, and the access policy every endpoint answers to
//!   ([`AuthConfig`]); `docs/security.md` says what is checked where.
//! - [`range`]: the `Range` and `Content-Range` parsers.
//!
//! ```no_run
//! use gantry_registry::{Config, Server};
//!
//! # async fn serve() -> Result<(), gantry_registry::ServerError> {
//! let config = Config::load(None, std::env::vars())?;
//! let server = Server::bind(&config).await?;
//! println!("listening on {}://{}", server.scheme(), server.local_addr()?);
//! server.run(async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```
//!
//! # Features
//!
//! None yet.

mod app;
pub mod auth;
mod config;
mod error;
mod handlers;
mod http;
mod idle;
mod layers;
mod limits;
mod metrics;
mod query;
pub mod range;
pub mod route;
mod secrets;
mod server;
mod state;
mod tls;

pub use crate::auth::settings::{AccessRule, AuthConfig, TokenConfig};
pub use crate::config::{Config, LogConfig, LogFormat, TlsConfig};
pub use crate::error::ApiError;
pub use crate::server::Server;

/// Why the server could not start or keep running.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The configuration is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// A listener could not bind.
    #[error("cannot listen on {address}")]
    Bind {
        /// The address.
        address: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The certificate or key could not be used.
    #[error("TLS: {0}")]
    Tls(String),
    /// The storage could not be opened.
    #[error("storage")]
    Storage(#[source] gantry_storage::StorageError),
    /// Other I/O.
    #[error("I/O")]
    Io(#[source] std::io::Error),
}
