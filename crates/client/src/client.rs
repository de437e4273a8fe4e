//! [`Client`]: one connection pool and configuration, shared by clones, and the registry ping.

use std::fmt;
use std::sync::Arc;

use gantry_reference::Reference;
use reqwest::Method;

use crate::config::ClientConfig;
use crate::endpoint::Endpoint;
use crate::error::ClientError;
use crate::http::{self, Call};

/// The header a registry API v2 announces itself with.
pub(crate) const API_VERSION_HEADER: &str = "Docker-Distribution-API-Version";

/// A registry client. Cheap to clone: clones share the connection pool.
///
/// Operations take a [`Reference`] that names the registry and repository (and, for manifests,
/// the tag or digest); `docker.io` references go to Docker Hub's API host.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

/// What clones of a [`Client`] share.
pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) config: ClientConfig,
    pub(crate) auth: crate::auth::cache::AuthCache,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client with `config`.
    pub fn new(config: ClientConfig) -> Result<Client, ClientError> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(config.user_agent.clone())
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .redirect(reqwest::redirect::Policy::limited(10));
        if let Some(timeout) = config.request_timeout {
            builder = builder.timeout(timeout);
        }
        for path in &config.tls.ca_files {
            let pem = std::fs::read(path).map_err(|e| ClientError::Config {
                what: "a CA file could not be read",
                source: Some(e.into()),
            })?;
            let certificates =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ClientError::Config {
                    what: "a CA file holds no valid PEM certificate",
                    source: Some(e.into()),
                })?;
            if certificates.is_empty() {
                return Err(ClientError::Config {
                    what: "a CA file holds no valid PEM certificate",
                    source: None,
                });
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        if let Some((chain, key)) = &config.tls.client_certificate {
            let mut pem = std::fs::read(chain).map_err(|e| ClientError::Config {
                what: "the client certificate could not be read",
                source: Some(e.into()),
            })?;
            pem.push(b'\n');
            pem.extend(std::fs::read(key).map_err(|e| ClientError::Config {
                what: "the client certificate's key could not be read",
                source: Some(e.into()),
            })?);
            let identity = reqwest::Identity::from_pem(&pem).map_err(|e| ClientError::Config {
                what: "the client certificate or its key is not valid PEM",
                source: Some(e.into()),
            })?;
            builder = builder.identity(identity);
        }
        if config.tls.accept_invalid_certificates {
            tracing::warn!("TLS certificates are not verified");
            builder = builder.danger_accept_invalid_certs(true);
        }
        let http = builder.build().map_err(|e| ClientError::Config {
            what: "the HTTP client could not be built",
            source: Some(e.into()),
        })?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                config,
                auth: Default::default(),
            }),
        })
    }

    /// The client's configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The API endpoint of the registry `domain` names.
    pub fn endpoint(&self, domain: &str) -> Result<Endpoint, ClientError> {
        Endpoint::resolve(domain, &self.inner.config)
    }

    /// Checks that `domain` serves the registry API v2: `GET /v2/` answers 2xx and, if it sends
    /// `Docker-Distribution-API-Version`, one of its values is `registry/2.0`.
    pub async fn ping(&self, domain: &str) -> Result<(), ClientError> {
        let url = self.endpoint(domain)?.url("/v2/");
        let response = http::send(&self.inner, Call::new(Method::GET, &url)).await?;
        let versions: Vec<&str> = response
            .headers()
            .get_all(API_VERSION_HEADER)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split_whitespace())
            .collect();
        if !versions.is_empty() && !versions.contains(&"registry/2.0") {
            return Err(ClientError::UnsupportedApiVersion {
                url,
                found: Some(versions.join(" ")),
            });
        }
        Ok(())
    }

    /// The repository `reference` names, on its registry.
    pub(crate) fn repository(&self, reference: &Reference) -> Result<Repository, ClientError> {
        let domain = reference
            .domain()
            .unwrap_or(gantry_reference::DEFAULT_DOMAIN);
        Ok(Repository {
            endpoint: self.endpoint(domain)?,
            name: reference.path().to_owned(),
        })
    }
}

/// A repository on a registry: where its URLs start.
#[derive(Debug, Clone)]
pub(crate) struct Repository {
    pub(crate) endpoint: Endpoint,
    pub(crate) name: String,
}

impl Repository {
    /// The token scope for `actions` (`pull`, `pull,push`, `delete`) on this repository.
    pub(crate) fn scope(&self, actions: &str) -> String {
        format!("repository:{}:{actions}", self.name)
    }

    /// `<base>/v2/<name>/<rest>`.
    pub(crate) fn url(&self, rest: &str) -> String {
        self.endpoint.url(&format!("/v2/{}/{rest}", self.name))
    }
}
