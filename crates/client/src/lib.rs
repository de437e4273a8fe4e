//! A registry HTTP client for the OCI Distribution Specification.
//!
//! `gantry-client` sits above `gantry-reference` (digests, references) and `gantry-spec`
//! (manifests, descriptors, the OCI error code table), and below `gantry-transfer` and the
//! `gantry` command line; the registry server may use it for pull-through caching. It never
//! touches storage: blobs move as verified streams of [`Bytes`](bytes::Bytes), and only
//! manifests, bounded by a size limit, are read whole.
//!
//! - [`Client`] and [`ClientConfig`]: one connection pool (reqwest on hyper and rustls),
//!   endpoint resolution ([`Endpoint`]: `docker.io` to its API host, HTTPS unless the host is
//!   loopback; a host configured insecure gets HTTPS without certificate checks, or plain HTTP
//!   when it does not speak TLS, probed once and remembered), proxies ([`ProxyOptions`]: an
//!   explicit one, or `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY`), retries ([`RetryPolicy`])
//!   and size limits.
//! - Manifests: [`Client::get_manifest`] (verified by digest), [`Client::head_manifest`],
//!   [`Client::put_manifest`], [`Client::put_manifest_with_tags`], [`Client::delete_manifest`].
//! - Blobs: [`Client::head_blob`], [`Client::get_blob`] as a [`VerifiedBlobStream`] that
//!   hands out its last chunk only once the digest matched, [`Client::get_blob_range`],
//!   [`Client::delete_blob`]. The checking is a [`VerifyingStream`], which the crates above
//!   use for any stream of blob bytes.
//! - Uploads: [`Client::push_blob`], which takes an [`UploadMode`]: monolithic, one streamed
//!   `PATCH` (resumable from the upload status after a cut when the content can be reopened at
//!   an offset), or chunked (resuming from the upload status); the session calls under it:
//!   [`Client::start_upload`], [`Client::mount_blob`] and [`Client::mount_or_start_upload`]
//!   (which hands over the session a failed mount opens), [`Client::complete_upload`] to fill a
//!   session ([`Upload`]), [`Client::upload_status`] and [`Client::cancel_upload`].
//! - Listing: [`Client::list_tags`] and [`Client::catalog`], following `Link` pagination;
//!   [`Client::referrers`], with the tag schema's fallback.
//! - Authentication ([`auth`]): Basic, and Bearer tokens by GET or OAuth2 POST, cached with the
//!   scopes they were asked for (a token serves any request whose scopes its own cover);
//!   credentials ([`credentials`]) given explicitly or read from Docker's `config.json`,
//!   containers' `auth.json` and `docker-credential-*` helpers.
//! - Errors: one [`ClientError`] that answers [`is_retryable`](ClientError::is_retryable),
//!   [`is_not_found`](ClientError::is_not_found), [`is_auth`](ClientError::is_auth) and
//!   [`is_tls`](ClientError::is_tls).
//!
//! Where requests go, before any is sent:
//!
//! ```
//! use gantry_client::{Client, ClientConfig, Credential};
//!
//! let config = ClientConfig::default()
//!     .with_user_agent("my-tool/1.0")
//!     .with_credential("ghcr.io", Credential::basic("me", "s3cret-value"));
//! let client = Client::new(config)?;
//! assert_eq!(client.endpoint("docker.io")?.base_url(), "https://registry-1.docker.io");
//! assert_eq!(client.endpoint("localhost:5000")?.base_url(), "http://localhost:5000");
//! assert!(!format!("{client:?}").contains("s3cret-value"), "secrets stay out of Debug");
//! # Ok::<(), gantry_client::ClientError>(())
//! ```
//!
//! Pulling an image's layers, each verified as it streams:
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use gantry_client::{Client, ClientConfig};
//! use gantry_reference::Reference;
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::new(ClientConfig::default())?;
//! let reference = Reference::parse_normalized("localhost:5000/team/app:1.0")?;
//! let manifest = client.get_manifest(&reference).await?;
//! for layer in manifest.layers() {
//!     let mut blob = client.get_blob_descriptor(&reference, layer).await?;
//!     while let Some(chunk) = blob.next().await {
//!         let _verified_so_far = chunk?;
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! None.

pub mod auth;
mod blobs;
mod client;
mod config;
pub mod credentials;
mod endpoint;
mod error;
mod http;
mod listing;
mod manifests;
mod proxy;
mod referrers;
mod uploads;
mod verify;

pub use crate::blobs::VerifiedBlobStream;
pub use crate::client::Client;
pub use crate::config::{
    ClientConfig, DEFAULT_CHUNK_SIZE, DEFAULT_MAX_MANIFEST_PULL, DEFAULT_MAX_MANIFEST_PUSH,
    DEFAULT_MAX_SMALL_BODY, RetryPolicy, TlsOptions,
};
pub use crate::credentials::{Credential, CredentialSources};
pub use crate::endpoint::{DOCKER_HUB_API_HOST, Endpoint};
pub use crate::error::ClientError;
pub use crate::manifests::MANIFEST_ACCEPT;
pub use crate::proxy::ProxyOptions;
pub use crate::referrers::fallback_tag;
pub use crate::uploads::{MountOutcome, Upload, UploadMode};
pub use crate::verify::VerifyingStream;
