//! The registry HTTP server: the OCI Distribution Specification v1.1 over `gantry-storage`.
//!
//! `gantry-registry` sits above `gantry-storage`, `gantry-spec` and `gantry-reference`, and
//! below the `gantry` command line. It speaks HTTP and nothing else: every rule about what may be
//! stored lives in the store below it.
//!
//! - [`Config`]: defaults, a TOML file and `GANTRY_*` variables; [`StorageConfig`] chooses
//!   the storage driver (`[storage]`).
//! - [`Server`]: binds the listeners and serves the API (HTTP/1.1 and HTTP/2, plain or TLS),
//!   with `/metrics`, `/healthz` and `/readyz` on the metrics address, over the driver the
//!   configuration names or one the caller made ([`Server::bind_with_driver`]).
//! - [`AuthConfig`]: HTTP Basic against an htpasswd file, Bearer tokens (Docker's token
//!   specification), the built-in token issuer ([`TokenSigner`] holds its key), and the access
//!   policy every endpoint answers to; `docs/security.md` says what is checked where.
//!
//! Inside, the server is tower layers around one router (see `docs/ARCHITECTURE.md`). The
//! parsers that read what clients send are reached by the fuzz targets through a hidden
//! `fuzzing` module, which is not part of the API.
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
mod auth;
mod config;
mod error;
mod file_stamp;
mod handlers;
mod http;
mod idle;
mod layers;
mod limits;
mod metrics;
mod query;
mod range;
mod route;
mod secrets;
mod server;
mod state;
mod storage;
mod tls;

pub use crate::auth::issuer::{SignerError, TokenSigner};
pub use crate::auth::scope::Action;
pub use crate::auth::settings::{AccessRule, AuthConfig, TokenConfig};
pub use crate::config::{Config, LogConfig, LogFormat, TlsConfig};
pub use crate::server::Server;
pub use crate::storage::settings::{S3Config, StorageConfig, StorageKind};

#[doc(hidden)]
pub mod fuzzing {
    //! The parsers of what clients send, for the fuzz targets and their seed replay only: not
    //! part of the crate's API, and free to change.

    pub use crate::auth::header::{
        AuthorizationError, Credentials, MAX_AUTHORIZATION_LEN, parse as parse_authorization,
    };
    pub use crate::auth::jwt::{
        Algorithm, Header, Jws, JwtError, MAX_TOKEN_LEN, parse as parse_jwt,
    };
    pub use crate::range::{RangeRequest, parse_content_range, parse_range};
    pub use crate::route::{ManifestRef, Route, RouteError, parse as parse_route};
}

/// A cause carried by [`ServerError`]: the error of the library that refused a file.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why the server could not start or keep running.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The configuration file could not be read.
    #[error("cannot read the configuration file {}", path.display())]
    ConfigFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML, or has unknown or mistyped keys.
    #[error("the configuration file is invalid")]
    ConfigSyntax(#[source] toml::de::Error),
    /// A `GANTRY_*` variable's value does not suit its setting.
    #[error("{name}={value:?} is not valid")]
    InvalidVariable {
        /// The variable.
        name: String,
        /// Its value.
        value: String,
    },
    /// A `GANTRY_*` variable names no setting (a typo, most likely).
    #[error("{name} names no setting")]
    UnknownVariable {
        /// The variable.
        name: String,
    },
    /// Settings that are incomplete or contradict each other.
    #[error("configuration: {setting} {problem}")]
    Inconsistent {
        /// The setting, as the TOML file names it.
        setting: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A file the configuration names (an htpasswd file, a key, a secret) could not be used.
    #[error("{what} {}", path.display())]
    File {
        /// What the file is.
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: Cause,
    },
    /// A listener could not bind.
    #[error("cannot listen on {address}")]
    Bind {
        /// The address.
        address: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The certificate, its key or the client CA bundle could not be used.
    #[error("TLS: {what} {}", path.display())]
    Tls {
        /// What went wrong.
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// Why, when another library said.
        #[source]
        source: Option<Cause>,
    },
    /// The storage could not be opened.
    #[error("storage")]
    Storage(#[source] gantry_storage::StorageError),
    /// A setting's value cannot be used.
    #[error("configuration: {setting} = {value:?} {problem}")]
    InvalidSetting {
        /// The setting, as the TOML file names it.
        setting: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The storage the configuration names could not be used at start: wrong credentials, a
    /// missing bucket, an endpoint that does not answer.
    #[error("cannot use the storage {location}")]
    StorageUnusable {
        /// Where it is (`s3://BUCKET/PREFIX`).
        location: String,
        /// Why.
        #[source]
        source: gantry_storage::StorageError,
    },
    /// A secret kept in the storage (the upload secret, the token issuer's key) could not be
    /// read, made or used.
    #[error("{what} at {path} in the storage")]
    Secret {
        /// What the secret is.
        what: &'static str,
        /// Its storage path.
        path: String,
        /// Why.
        #[source]
        source: Cause,
    },
    /// Other I/O.
    #[error("I/O")]
    Io(#[source] std::io::Error),
}
