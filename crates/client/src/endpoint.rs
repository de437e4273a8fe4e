//! Where a registry is: the host a reference names, mapped to the scheme and host its API is
//! served from.

use std::net::IpAddr;

use crate::config::ClientConfig;
use crate::error::ClientError;

/// The host of Docker Hub's registry API, which `docker.io` and `index.docker.io` name.
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";

/// A registry's API endpoint: scheme and authority.
///
/// ```
/// use gantry_client::{ClientConfig, Endpoint};
///
/// let config = ClientConfig::default();
/// assert_eq!(Endpoint::resolve("docker.io", &config)?.base_url(), "https://registry-1.docker.io");
/// assert_eq!(Endpoint::resolve("ghcr.io", &config)?.base_url(), "https://ghcr.io");
/// assert_eq!(Endpoint::resolve("localhost:5000", &config)?.base_url(), "http://localhost:5000");
///
/// let insecure = ClientConfig::default().with_insecure_host("registry.lan:5000");
/// let lan = Endpoint::resolve("registry.lan:5000", &insecure)?;
/// assert_eq!(lan.base_url(), "https://registry.lan:5000");
/// assert!(lan.falls_back_to_http());
/// # Ok::<(), gantry_client::ClientError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    secure: bool,
    host: String,
    fallback: bool,
}

impl Endpoint {
    /// The endpoint of the registry a reference's domain names (`docker.io`, `ghcr.io`,
    /// `localhost:5000`, `[::1]:5000`): Docker Hub's names map to its API host; HTTPS unless
    /// the host is loopback. A host configured insecure gets HTTPS first, with
    /// [`falls_back_to_http`](Endpoint::falls_back_to_http): a [`Client`](crate::Client) finds
    /// out which of the two it speaks.
    pub fn resolve(domain: &str, config: &ClientConfig) -> Result<Endpoint, ClientError> {
        if domain.is_empty()
            || domain
                .bytes()
                .any(|b| !(b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b)))
        {
            return Err(ClientError::InvalidHost {
                host: domain.to_owned(),
            });
        }
        let host = match domain {
            gantry_reference::DEFAULT_DOMAIN | gantry_reference::LEGACY_DEFAULT_DOMAIN => {
                DOCKER_HUB_API_HOST
            }
            other => other,
        };
        let fallback = config.tries_https_first(domain) || config.tries_https_first(host);
        Ok(Endpoint {
            secure: fallback
                || (!config.allows_plain_http(domain) && !config.allows_plain_http(host)),
            host: host.to_owned(),
            fallback,
        })
    }

    /// Whether the host is configured insecure: HTTPS is tried first, without certificate
    /// checks, and plain HTTP when the host does not speak TLS.
    pub fn falls_back_to_http(&self) -> bool {
        self.fallback
    }

    /// This endpoint over HTTPS (`secure`) or plain HTTP, as a probe found it speaks.
    pub(crate) fn with_scheme(mut self, secure: bool) -> Endpoint {
        self.secure = secure;
        self
    }

    /// The host (with its port, if any) the API is served from.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether the endpoint is spoken to over HTTPS.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// `https://host` or `http://host`.
    pub fn base_url(&self) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        format!("{scheme}://{}", self.host)
    }

    /// The absolute URL of `path_and_query`, which starts with `/`.
    pub(crate) fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base_url())
    }
}

/// Whether `host` (`host` or `host:port`, IPv6 in brackets) is a loopback host: `localhost`,
/// `127.0.0.0/8` or `::1`.
pub(crate) fn is_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_resolve_as_docker_does() {
        let config = ClientConfig::default().with_insecure_host("registry.lan:5000");
        let cases = [
            ("docker.io", "https://registry-1.docker.io"),
            ("index.docker.io", "https://registry-1.docker.io"),
            ("ghcr.io", "https://ghcr.io"),
            ("quay.io:443", "https://quay.io:443"),
            ("registry.lan:5000", "https://registry.lan:5000"),
            ("registry.lan:5001", "https://registry.lan:5001"),
            ("localhost", "http://localhost"),
            ("localhost:5000", "http://localhost:5000"),
            ("127.0.0.1:5000", "http://127.0.0.1:5000"),
            ("127.9.9.9", "http://127.9.9.9"),
            ("[::1]:5000", "http://[::1]:5000"),
            ("[2001:db8::1]:5000", "https://[2001:db8::1]:5000"),
            ("128.0.0.1:5000", "https://128.0.0.1:5000"),
        ];
        for (domain, url) in cases {
            let endpoint = Endpoint::resolve(domain, &config).unwrap();
            assert_eq!(endpoint.base_url(), url, "{domain}");
            assert_eq!(
                endpoint.falls_back_to_http(),
                domain == "registry.lan:5000",
                "{domain}"
            );
        }
        let forced = config.clone().with_https_host("registry.lan:5000");
        let endpoint = Endpoint::resolve("registry.lan:5000", &forced).unwrap();
        assert!(endpoint.is_secure() && !endpoint.falls_back_to_http());
        let hub = ClientConfig::default().with_insecure_host("docker.io");
        let endpoint = Endpoint::resolve("docker.io", &hub).unwrap();
        assert_eq!(endpoint.host(), DOCKER_HUB_API_HOST);
        assert!(endpoint.falls_back_to_http());
    }

    #[test]
    fn hosts_that_would_bend_a_url_are_refused() {
        let config = ClientConfig::default();
        for bad in ["", "a/b", "user@host", "host?x", "host#x", "a b"] {
            assert!(Endpoint::resolve(bad, &config).is_err(), "{bad}");
        }
    }
}
