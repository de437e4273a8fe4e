//! [`Client`]: one connection pool and configuration, shared by clones, and the registry ping.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use gantry_reference::Reference;
use reqwest::Method;

use crate::config::ClientConfig;
use crate::endpoint::Endpoint;
use crate::error::ClientError;
use crate::http::{self, Call};
use crate::proxy::ProxyRules;

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
    /// The pool for hosts configured insecure: certificates are not verified. Built only when
    /// some host is.
    pub(crate) unverified: Option<reqwest::Client>,
    pub(crate) config: ClientConfig,
    pub(crate) auth: crate::auth::cache::AuthCache,
    /// Whether each host configured insecure speaks HTTPS, once a probe found out.
    pub(crate) schemes: Mutex<HashMap<String, bool>>,
}

impl Inner {
    /// The pool for requests to `authority` (`host` or `host:port`): the unverified one for
    /// hosts configured insecure. Redirects a registry sends are followed with the same pool.
    pub(crate) fn http_for(&self, authority: &str) -> &reqwest::Client {
        match &self.unverified {
            Some(unverified) if self.is_insecure(authority) => unverified,
            _ => &self.http,
        }
    }

    fn is_insecure(&self, authority: &str) -> bool {
        let insecure = &self.config.insecure_hosts;
        insecure.contains(authority)
            || (authority == crate::endpoint::DOCKER_HUB_API_HOST
                && (insecure.contains(gantry_reference::DEFAULT_DOMAIN)
                    || insecure.contains(gantry_reference::LEGACY_DEFAULT_DOMAIN)))
    }

    /// What a probe found `host` speaks (`true` for HTTPS), if one did.
    fn probed(&self, host: &str) -> Option<bool> {
        self.schemes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(host)
            .copied()
    }

    fn remember(&self, host: &str, secure: bool) {
        self.schemes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(host.to_owned(), secure);
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// A reqwest client from `config` sending through the proxies of `proxies`; `unverified` trusts
/// any server certificate.
fn build_http(
    config: &ClientConfig,
    proxies: &ProxyRules,
    unverified: bool,
) -> Result<reqwest::Client, ClientError> {
    let mut builder = reqwest::Client::builder().no_proxy();
    if !proxies.is_empty() {
        let proxies = proxies.clone();
        builder = builder.proxy(reqwest::Proxy::custom(move |url| proxies.proxy_for(url)));
    }
    let mut builder = builder
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
    if config.tls.accept_invalid_certificates || unverified {
        builder = builder.danger_accept_invalid_certs(true);
    }
    builder.build().map_err(|e| ClientError::Config {
        what: "the HTTP client could not be built",
        source: Some(e.into()),
    })
}

impl Client {
    /// A client with `config`.
    pub fn new(config: ClientConfig) -> Result<Client, ClientError> {
        if config.tls.accept_invalid_certificates {
            tracing::warn!("TLS certificates are not verified");
        }
        let proxies = ProxyRules::from_options(&config.proxy)?;
        let http = build_http(&config, &proxies, false)?;
        let unverified = if config.insecure_hosts.is_empty() {
            None
        } else {
            Some(build_http(&config, &proxies, true)?)
        };
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                unverified,
                config,
                auth: Default::default(),
                schemes: Mutex::default(),
            }),
        })
    }

    /// The client's configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The API endpoint of the registry `domain` names, as far as the client knows it: for a
    /// host configured insecure, the scheme a request found it speaks, HTTPS until one did.
    pub fn endpoint(&self, domain: &str) -> Result<Endpoint, ClientError> {
        let endpoint = Endpoint::resolve(domain, &self.inner.config)?;
        if endpoint.falls_back_to_http()
            && let Some(secure) = self.inner.probed(endpoint.host())
        {
            return Ok(endpoint.with_scheme(secure));
        }
        Ok(endpoint)
    }

    /// The endpoint requests to `domain` go to. A host configured insecure is probed once: `GET
    /// /v2/` over HTTPS without certificate checks; when that fails before any answer (a
    /// handshake with a server that speaks plain HTTP, a refused connection), over plain HTTP.
    /// The scheme that answered is remembered for the host; when neither did, nothing is, and
    /// the error is returned.
    pub(crate) async fn resolve(&self, domain: &str) -> Result<Endpoint, ClientError> {
        let endpoint = self.endpoint(domain)?;
        if !endpoint.falls_back_to_http() || self.inner.probed(endpoint.host()).is_some() {
            return Ok(endpoint);
        }
        let host = endpoint.host().to_owned();
        let method = Method::GET;
        let https = format!("https://{host}/v2/");
        let tls_error = match self.inner.http_for(&host).get(&https).send().await {
            Ok(_) => {
                tracing::debug!(%host, "the insecure host speaks HTTPS");
                self.inner.remember(&host, true);
                return Ok(endpoint.with_scheme(true));
            }
            Err(error) => ClientError::transport(&method, &https, "probing over HTTPS", error),
        };
        tracing::debug!(%host, error = %tls_error, "HTTPS failed; trying plain HTTP");
        let http = format!("http://{host}/v2/");
        match self.inner.http.get(&http).send().await {
            Ok(_) => {
                tracing::debug!(%host, "the insecure host speaks plain HTTP");
                self.inner.remember(&host, false);
                Ok(endpoint.with_scheme(false))
            }
            Err(_) if tls_error.is_tls() => Err(tls_error),
            Err(error) => Err(ClientError::transport(
                &method,
                &http,
                "probing over plain HTTP",
                error,
            )),
        }
    }

    /// Checks that `domain` serves the registry API v2: `GET /v2/` answers 2xx and, if it sends
    /// `Docker-Distribution-API-Version`, one of its values is `registry/2.0`.
    pub async fn ping(&self, domain: &str) -> Result<(), ClientError> {
        let url = self.resolve(domain).await?.url("/v2/");
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
    pub(crate) async fn repository(
        &self,
        reference: &Reference,
    ) -> Result<Repository, ClientError> {
        let domain = reference
            .domain()
            .unwrap_or(gantry_reference::DEFAULT_DOMAIN);
        Ok(Repository {
            endpoint: self.resolve(domain).await?,
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
