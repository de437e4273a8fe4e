//! [`ClientConfig`]: what a [`Client`](crate::Client) is built from, and [`RetryPolicy`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use crate::credentials::{Credential, CredentialSources};
use crate::proxy::ProxyOptions;

/// The default manifest size limit on push: 4 MiB, what registries accept.
pub const DEFAULT_MAX_MANIFEST_PUSH: usize = 4 * 1024 * 1024;
/// The default manifest size limit on pull: 8 MiB, generous to what registries serve.
pub const DEFAULT_MAX_MANIFEST_PULL: usize = 8 * 1024 * 1024;
/// The default limit on error and token bodies: 1 MiB.
pub const DEFAULT_MAX_SMALL_BODY: usize = 1024 * 1024;
/// The default chunk size of chunked uploads: 8 MiB.
pub const DEFAULT_CHUNK_SIZE: usize = 8 * 1024 * 1024;

/// How a [`Client`](crate::Client) talks to registries.
///
/// ```
/// use std::time::Duration;
/// use gantry_client::ClientConfig;
///
/// let config = ClientConfig::default()
///     .with_user_agent("my-tool/1.0")
///     .with_insecure_host("registry.lan:5000")
///     .with_request_timeout(Duration::from_secs(60));
/// assert!(config.allows_plain_http("registry.lan:5000"));
/// assert!(config.tries_https_first("registry.lan:5000"));
/// assert!(config.allows_plain_http("127.0.0.1:5000"));
/// assert!(!config.tries_https_first("127.0.0.1:5000"));
/// assert!(!config.allows_plain_http("ghcr.io"));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Hosts (`host` or `host:port`, as in references) configured insecure, as Docker's
    /// `insecure-registries`: the client tries HTTPS first, without verifying the certificate,
    /// and falls back to plain HTTP when the host does not speak TLS; it remembers the answer
    /// per host. Loopback hosts that are not listed here get plain HTTP without trying HTTPS.
    pub insecure_hosts: BTreeSet<String>,
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// How long a whole request may take, body included; `None` for no limit, the default,
    /// since blob transfers take as long as they take.
    pub request_timeout: Option<Duration>,
    /// How long to wait for the next bytes of a response before giving up.
    pub read_timeout: Duration,
    /// When and how often to send a request again.
    pub retry: RetryPolicy,
    /// The largest manifest pushed, in bytes.
    pub max_manifest_push: usize,
    /// The largest manifest accepted on pull, in bytes.
    pub max_manifest_pull: usize,
    /// The largest error or token body read, in bytes.
    pub max_small_body: usize,
    /// The size of each `PATCH` of a chunked upload, raised to the registry's
    /// `OCI-Chunk-Min-Length`.
    pub chunk_size: usize,
    /// Credentials given explicitly, by registry host as in references (`docker.io`,
    /// `ghcr.io`, `localhost:5000`). They come before any credential file.
    pub credentials: BTreeMap<String, Credential>,
    /// Where credentials are looked up after the explicit ones: by default the files users
    /// expect, found from the environment.
    pub credential_sources: CredentialSources,
    /// Asks token services for tokens by the OAuth2 `password` grant (a `POST`) when the
    /// credential is a user name and password, as Docker's `ForceOAuth` does; by default such
    /// credentials go to a `GET` with Basic authentication. Refresh tokens always use `POST`.
    pub oauth2_password_grant: bool,
    /// The page size asked of tag and catalog listings (`?n=`); `None` leaves it to the
    /// registry. Every page is followed either way.
    pub page_size: Option<u32>,
    /// Directories searched for `docker-credential-<name>` helpers before `PATH`.
    pub credential_helper_dirs: Vec<std::path::PathBuf>,
    /// TLS: extra certificate authorities, a client certificate, HTTPS on hosts that would
    /// otherwise get plain HTTP, and the dangerous switch that trusts any certificate.
    pub tls: TlsOptions,
    /// Which proxy requests go through: by default the environment's (`HTTPS_PROXY`,
    /// `HTTP_PROXY`, `NO_PROXY`, read when the client is built).
    pub proxy: ProxyOptions,
}

/// How the client speaks TLS (rustls; the system's roots and Mozilla's are trusted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsOptions {
    /// PEM files of certificate authorities trusted beside the built-in ones.
    pub ca_files: Vec<PathBuf>,
    /// A client certificate: the PEM file of its chain and the PEM file of its key.
    pub client_certificate: Option<(PathBuf, PathBuf)>,
    /// Hosts spoken to over HTTPS only, even where plain HTTP would be used (loopback hosts and
    /// [`insecure_hosts`](ClientConfig::insecure_hosts), whose certificates are still not
    /// verified).
    pub https_hosts: BTreeSet<String>,
    /// Trusts any server certificate. For tests and broken registries only: it gives up the
    /// protection TLS exists for.
    pub accept_invalid_certificates: bool,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            user_agent: concat!("gantry-client/", env!("CARGO_PKG_VERSION")).to_owned(),
            insecure_hosts: BTreeSet::new(),
            connect_timeout: Duration::from_secs(30),
            request_timeout: None,
            read_timeout: Duration::from_secs(120),
            retry: RetryPolicy::default(),
            max_manifest_push: DEFAULT_MAX_MANIFEST_PUSH,
            max_manifest_pull: DEFAULT_MAX_MANIFEST_PULL,
            max_small_body: DEFAULT_MAX_SMALL_BODY,
            chunk_size: DEFAULT_CHUNK_SIZE,
            credentials: BTreeMap::new(),
            credential_sources: CredentialSources::default(),
            oauth2_password_grant: false,
            page_size: None,
            credential_helper_dirs: Vec::new(),
            tls: TlsOptions::default(),
            proxy: ProxyOptions::default(),
        }
    }
}

impl ClientConfig {
    /// Sets the `User-Agent`.
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> ClientConfig {
        self.user_agent = user_agent.into();
        self
    }

    /// Configures `host` (`host` or `host:port`) insecure: HTTPS without certificate checks,
    /// or plain HTTP when it does not speak TLS (see
    /// [`insecure_hosts`](ClientConfig::insecure_hosts)).
    pub fn with_insecure_host(mut self, host: impl Into<String>) -> ClientConfig {
        self.insecure_hosts.insert(host.into());
        self
    }

    /// Sets the timeout of a whole request.
    pub fn with_request_timeout(mut self, timeout: Duration) -> ClientConfig {
        self.request_timeout = Some(timeout);
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> ClientConfig {
        self.retry = retry;
        self
    }

    /// Sets the chunk size of chunked uploads.
    pub fn with_chunk_size(mut self, chunk_size: usize) -> ClientConfig {
        self.chunk_size = chunk_size.max(1);
        self
    }

    /// Uses `credential` for the registry `host` (as in references: `docker.io`, `ghcr.io`).
    pub fn with_credential(
        mut self,
        host: impl Into<String>,
        credential: Credential,
    ) -> ClientConfig {
        self.credentials.insert(host.into(), credential);
        self
    }

    /// Sets where credentials are looked up after the explicit ones.
    pub fn with_credential_sources(mut self, sources: CredentialSources) -> ClientConfig {
        self.credential_sources = sources;
        self
    }

    /// Trusts the certificate authorities of the PEM file `path` beside the built-in ones.
    pub fn with_ca_file(mut self, path: impl Into<PathBuf>) -> ClientConfig {
        self.tls.ca_files.push(path.into());
        self
    }

    /// Speaks HTTPS to `host` even if it is loopback or configured insecure.
    pub fn with_https_host(mut self, host: impl Into<String>) -> ClientConfig {
        self.tls.https_hosts.insert(host.into());
        self
    }

    /// Sends every request through the proxy `url` (`http://[user:password@]host:port`),
    /// whatever the environment says, except to hosts of
    /// [`with_no_proxy`](ClientConfig::with_no_proxy).
    pub fn with_proxy(mut self, url: impl Into<String>) -> ClientConfig {
        self.proxy.url = Some(url.into());
        self
    }

    /// Keeps requests to `entry` (a `NO_PROXY` entry: a domain and its subdomains, a
    /// `.domain`'s subdomains, an IP address or CIDR block, any with `:port`, or `*`) off the
    /// explicit proxy.
    pub fn with_no_proxy(mut self, entry: impl Into<String>) -> ClientConfig {
        self.proxy.no_proxy.push(entry.into());
        self
    }

    /// Ignores the environment's proxy variables: requests go direct unless
    /// [`with_proxy`](ClientConfig::with_proxy) names a proxy.
    pub fn without_environment_proxy(mut self) -> ClientConfig {
        self.proxy.use_environment = false;
        self
    }

    /// Whether `host` may be spoken to over plain HTTP: loopback hosts and configured insecure
    /// ones, unless they are listed in [`TlsOptions::https_hosts`].
    pub fn allows_plain_http(&self, host: &str) -> bool {
        !self.tls.https_hosts.contains(host)
            && (self.insecure_hosts.contains(host) || crate::endpoint::is_loopback(host))
    }

    /// Whether `host` is configured insecure, so that the client tries HTTPS without
    /// certificate checks first and plain HTTP when the host does not speak TLS. Hosts listed
    /// in [`TlsOptions::https_hosts`] get HTTPS only.
    pub fn tries_https_first(&self, host: &str) -> bool {
        !self.tls.https_hosts.contains(host) && self.insecure_hosts.contains(host)
    }
}

/// Retries of idempotent requests and of transport failures: exponential backoff with jitter,
/// honouring `Retry-After` on 429 and 503.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// How many times a request is sent in all (1 means never retried).
    pub max_attempts: u32,
    /// The wait before the first retry; it doubles with each retry.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts, `Retry-After` included.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn never() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// `max_attempts` attempts, waiting from `initial_backoff` up to `max_backoff`.
    pub fn new(max_attempts: u32, initial_backoff: Duration, max_backoff: Duration) -> RetryPolicy {
        RetryPolicy {
            max_attempts: max_attempts.max(1),
            initial_backoff,
            max_backoff,
        }
    }

    /// The wait before retry number `retry` (0 for the first): `initial_backoff * 2^retry`,
    /// capped at `max_backoff`, with "equal jitter" (between half and all of it), so that
    /// clients that failed together do not come back together.
    pub fn backoff(&self, retry: u32) -> Duration {
        let base = self
            .initial_backoff
            .saturating_mul(1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX))
            .min(self.max_backoff);
        let half = base / 2;
        half + half.mul_f64(jitter())
    }
}

/// A number in [0, 1) that differs from call to call, from the standard library's random hash
/// keys: enough for jitter, no dependency.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_its_jitter_and_stops_at_the_cap() {
        let policy = RetryPolicy::new(10, Duration::from_millis(100), Duration::from_secs(1));
        for (retry, full) in [
            (0, 100),
            (1, 200),
            (2, 400),
            (3, 800),
            (4, 1000),
            (30, 1000),
            (99, 1000),
        ] {
            let wait = policy.backoff(retry);
            let full = Duration::from_millis(full);
            assert!(wait >= full / 2 && wait <= full, "retry {retry}: {wait:?}");
        }
    }

    #[test]
    fn never_means_one_attempt() {
        assert_eq!(RetryPolicy::never().max_attempts, 1);
        assert_eq!(
            RetryPolicy::new(0, Duration::ZERO, Duration::ZERO).max_attempts,
            1
        );
    }
}
