//! The server's configuration: defaults, then a TOML file, then `GANTRY_*` environment
//! variables; the command line applies its flags last.
//!
//! Times are [`Duration`]s here; the TOML keys and variables that set them keep their
//! `_secs` names and take whole seconds. Every type is `#[non_exhaustive]`: start from
//! `Default` (or `TlsConfig::new`) and set the fields you need.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::ServerError;
use crate::auth::settings::AuthConfig;
use crate::storage::settings::StorageConfig;

/// How `gantry serve` runs. Every field has a default, so an empty file is a valid config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// Where the API listens: `127.0.0.1:5000` by default.
    pub listen: SocketAddr,
    /// The storage root: `./gantry-data` by default. The filesystem driver's directory unless
    /// `[storage] root` says otherwise.
    pub root: PathBuf,
    /// Whether manifests, tags and blobs may be deleted (off by default, as in Distribution).
    pub delete_enabled: bool,
    /// The largest manifest accepted, in bytes (4 MiB by default); larger ones get 413.
    pub max_manifest_size: usize,
    /// The most entries one page of tags, catalog or referrers holds.
    pub max_page_size: usize,
    /// Whether an index may name child manifests the repository lacks (on by default, as
    /// the OCI specification allows; mirrors of one platform push such indexes).
    pub sparse_indexes: bool,
    /// Upload sessions older than this are purged (7 days by default; TOML
    /// `upload_purge_age_secs`).
    #[serde(rename = "upload_purge_age_secs", deserialize_with = "seconds")]
    pub upload_purge_age: Duration,
    /// How often the purge runs (hourly by default; zero turns it off; TOML
    /// `upload_purge_interval_secs`).
    #[serde(rename = "upload_purge_interval_secs", deserialize_with = "seconds")]
    pub upload_purge_interval: Duration,
    /// How long one walk of the tree serves catalog pages (10 s by default; TOML
    /// `catalog_refresh_secs`). Repositories this server creates appear at once; those another
    /// server sharing the root creates, within this time. Zero walks the tree for every page.
    #[serde(rename = "catalog_refresh_secs", deserialize_with = "seconds")]
    pub catalog_refresh: Duration,
    /// The secret that signs upload URLs. When absent, one is generated and kept in the
    /// storage (`<root>/gantry/upload-secret` on the filesystem, `gantry/upload-secret` below
    /// the bucket's root directory on S3), so servers sharing the storage share it.
    pub upload_secret: Option<String>,
    /// The `OCI-Chunk-Min-Length` advertised to chunked uploads (0: no minimum).
    pub chunk_min_length: u64,
    /// The largest request head (request line and headers), in bytes; larger ones get 431
    /// (at least 8192). Also the HTTP/2 header list limit.
    pub max_header_bytes: usize,
    /// How long a client gets to send a request's head once it starts, and to finish the TLS
    /// handshake: slow clients cannot hold connections (TOML `header_read_timeout_secs`).
    #[serde(rename = "header_read_timeout_secs", deserialize_with = "seconds")]
    pub header_read_timeout: Duration,
    /// How long a connection may stay idle (no byte either way) before it is closed (TOML
    /// `idle_timeout_secs`).
    #[serde(rename = "idle_timeout_secs", deserialize_with = "seconds")]
    pub idle_timeout: Duration,
    /// How many uploads one client address may stream at once (0: no limit); more get 429.
    pub max_uploads_per_client: usize,
    /// The largest blob accepted, in bytes (0: no limit); larger ones get 413.
    pub max_blob_size: u64,
    /// Logging.
    pub log: LogConfig,
    /// TLS; plain HTTP when absent.
    pub tls: Option<TlsConfig>,
    /// Where `/metrics`, `/healthz` and `/readyz` listen; not served when absent.
    pub metrics_listen: Option<SocketAddr>,
    /// Authentication and the access policy; the registry is open when absent.
    pub auth: Option<AuthConfig>,
    /// The storage driver and blob redirects: a directory (`root`) by default.
    pub storage: StorageConfig,
}

/// Logging settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct LogConfig {
    /// A `tracing` filter such as `info` or `gantry=debug` (`info` by default).
    pub level: String,
    /// `text` (the default) or `json`.
    pub format: LogFormat,
}

/// The log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// A certificate chain and its private key, both PEM files, read again when they change; and
/// optionally the CAs whose client certificates are accepted (mutual TLS).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TlsConfig {
    /// The certificate chain, leaf first.
    pub certificate: PathBuf,
    /// The private key.
    pub key: PathBuf,
    /// How often the two files are checked for a new certificate (10 s by default; TOML
    /// `reload_interval_secs`).
    #[serde(
        rename = "reload_interval_secs",
        default = "default_reload_interval",
        deserialize_with = "seconds"
    )]
    pub reload_interval: Duration,
    /// PEM CA certificates: when set, clients must present a certificate one of them signed.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// With `client_ca`, also accept clients without a certificate (off by default).
    #[serde(default)]
    pub client_auth_optional: bool,
}

fn default_reload_interval() -> Duration {
    Duration::from_secs(10)
}

/// A duration given in whole seconds.
pub(crate) fn seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    u64::deserialize(deserializer).map(Duration::from_secs)
}

/// `GANTRY_*` variables that other parts of the project read (tests and tools that may run
/// beside a server), accepted and ignored here.
const NOT_SERVER_SETTINGS: &[&str] = &[
    "GANTRY_BENCH_BYTES",
    "GANTRY_BLESS",
    "GANTRY_CONFORMANCE_PASSWORD",
    "GANTRY_STORE_CRASH_DIR",
];

impl TlsConfig {
    /// TLS with `certificate` and `key`, and the defaults for the rest.
    pub fn new(certificate: impl Into<PathBuf>, key: impl Into<PathBuf>) -> TlsConfig {
        TlsConfig {
            certificate: certificate.into(),
            key: key.into(),
            reload_interval: default_reload_interval(),
            client_ca: None,
            client_auth_optional: false,
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 5000)),
            root: PathBuf::from("gantry-data"),
            delete_enabled: false,
            max_manifest_size: gantry_spec::DEFAULT_MAX_MANIFEST_SIZE,
            max_page_size: 1000,
            sparse_indexes: true,
            upload_purge_age: Duration::from_secs(7 * 24 * 3600),
            upload_purge_interval: Duration::from_secs(3600),
            catalog_refresh: Duration::from_secs(10),
            upload_secret: None,
            chunk_min_length: 0,
            max_header_bytes: 64 * 1024,
            header_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(120),
            max_uploads_per_client: 32,
            max_blob_size: 0,
            log: LogConfig::default(),
            tls: None,
            metrics_listen: None,
            auth: None,
            storage: StorageConfig::default(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            level: "info".to_owned(),
            format: LogFormat::Text,
        }
    }
}

impl Config {
    /// Reads a TOML configuration; fields it leaves out keep their defaults.
    pub fn from_toml(text: &str) -> Result<Config, ServerError> {
        toml::from_str(text).map_err(ServerError::ConfigSyntax)
    }

    /// The defaults, overlaid by the file at `path` when given, then by `GANTRY_*` variables
    /// from `env`.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ServerError> {
        let mut config = match path {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| ServerError::ConfigFile {
                        path: path.to_owned(),
                        source,
                    })?;
                Config::from_toml(&text)?
            }
            None => Config::default(),
        };
        for (key, value) in env {
            config.apply_env(&key, &value)?;
        }
        Ok(config)
    }

    /// The filesystem driver's directory: `[storage] root`, else the top-level `root`.
    pub fn filesystem_root(&self) -> &Path {
        self.storage.root.as_deref().unwrap_or(&self.root)
    }

    /// Applies one `GANTRY_*` variable; variables without the prefix are ignored, and one
    /// with it that names no setting is an error.
    fn apply_env(&mut self, key: &str, value: &str) -> Result<(), ServerError> {
        let Some(name) = key.strip_prefix("GANTRY_") else {
            return Ok(());
        };
        if NOT_SERVER_SETTINGS.contains(&key) {
            return Ok(());
        }
        let invalid = || ServerError::InvalidVariable {
            name: key.to_owned(),
            value: value.to_owned(),
        };
        let secs = || {
            value
                .parse()
                .map(Duration::from_secs)
                .map_err(|_| invalid())
        };
        match name {
            "LISTEN" => self.listen = value.parse().map_err(|_| invalid())?,
            "ROOT" => self.root = PathBuf::from(value),
            "DELETE_ENABLED" => self.delete_enabled = parse_bool(value).ok_or_else(invalid)?,
            "MAX_MANIFEST_SIZE" => self.max_manifest_size = value.parse().map_err(|_| invalid())?,
            "MAX_PAGE_SIZE" => self.max_page_size = value.parse().map_err(|_| invalid())?,
            "SPARSE_INDEXES" => self.sparse_indexes = parse_bool(value).ok_or_else(invalid)?,
            "UPLOAD_PURGE_AGE_SECS" => {
                self.upload_purge_age = secs()?;
            }
            "UPLOAD_PURGE_INTERVAL_SECS" => {
                self.upload_purge_interval = secs()?;
            }
            "CATALOG_REFRESH_SECS" => {
                self.catalog_refresh = secs()?;
            }
            "UPLOAD_SECRET" => self.upload_secret = Some(value.to_owned()),
            "CHUNK_MIN_LENGTH" => self.chunk_min_length = value.parse().map_err(|_| invalid())?,
            "MAX_HEADER_BYTES" => self.max_header_bytes = value.parse().map_err(|_| invalid())?,
            "HEADER_READ_TIMEOUT_SECS" => {
                self.header_read_timeout = secs()?;
            }
            "IDLE_TIMEOUT_SECS" => self.idle_timeout = secs()?,
            "MAX_UPLOADS_PER_CLIENT" => {
                self.max_uploads_per_client = value.parse().map_err(|_| invalid())?;
            }
            "MAX_BLOB_SIZE" => self.max_blob_size = value.parse().map_err(|_| invalid())?,
            "LOG_LEVEL" => self.log.level = value.to_owned(),
            "LOG_FORMAT" => {
                self.log.format = match value {
                    "text" => LogFormat::Text,
                    "json" => LogFormat::Json,
                    _ => return Err(invalid()),
                };
            }
            "TLS_CERTIFICATE" | "TLS_KEY" => {
                let tls = self
                    .tls
                    .get_or_insert_with(|| TlsConfig::new(PathBuf::new(), PathBuf::new()));
                if name == "TLS_KEY" {
                    tls.key = PathBuf::from(value);
                } else {
                    tls.certificate = PathBuf::from(value);
                }
            }
            storage if storage.starts_with("STORAGE_") => {
                match self
                    .storage
                    .apply_env(storage.trim_start_matches("STORAGE_"), value)
                {
                    Some(true) => {}
                    Some(false) => return Err(invalid()),
                    None => {
                        return Err(ServerError::UnknownVariable {
                            name: key.to_owned(),
                        });
                    }
                }
            }
            auth if auth.starts_with("AUTH_") => {
                let mut settings = self.auth.clone().unwrap_or_default();
                match settings.apply_env(auth.trim_start_matches("AUTH_"), value) {
                    Some(true) => self.auth = Some(settings),
                    Some(false) => return Err(invalid()),
                    None => {
                        return Err(ServerError::UnknownVariable {
                            name: key.to_owned(),
                        });
                    }
                }
            }
            "TLS_CLIENT_CA" | "TLS_CLIENT_AUTH_OPTIONAL" | "TLS_RELOAD_INTERVAL_SECS" => {
                let tls = self
                    .tls
                    .get_or_insert_with(|| TlsConfig::new(PathBuf::new(), PathBuf::new()));
                match name {
                    "TLS_CLIENT_CA" => tls.client_ca = Some(PathBuf::from(value)),
                    "TLS_CLIENT_AUTH_OPTIONAL" => {
                        tls.client_auth_optional = parse_bool(value).ok_or_else(invalid)?;
                    }
                    _ => tls.reload_interval = secs()?,
                }
            }
            "METRICS_LISTEN" => self.metrics_listen = Some(value.parse().map_err(|_| invalid())?),
            _ => {
                return Err(ServerError::UnknownVariable {
                    name: key.to_owned(),
                });
            }
        }
        Ok(())
    }
}

pub(crate) fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_file_then_environment() {
        let config = Config::default();
        assert_eq!(config.listen.to_string(), "127.0.0.1:5000");
        assert_eq!(config.root, PathBuf::from("gantry-data"));
        assert!(!config.delete_enabled);

        let file = Config::from_toml(
            "listen = \"0.0.0.0:6000\"\ndelete_enabled = true\n[log]\nformat = \"json\"\n",
        )
        .unwrap();
        assert_eq!(file.listen.port(), 6000);
        assert!(file.delete_enabled);
        assert_eq!(file.log.format, LogFormat::Json);
        assert_eq!(file.max_manifest_size, 4 * 1024 * 1024);

        let mut config = file;
        for (key, value) in [
            ("GANTRY_ROOT", "/srv/registry"),
            ("GANTRY_DELETE_ENABLED", "false"),
            ("GANTRY_METRICS_LISTEN", "127.0.0.1:9100"),
            ("GANTRY_TLS_CERTIFICATE", "/c.pem"),
            ("GANTRY_TLS_KEY", "/k.pem"),
            ("GANTRY_CATALOG_REFRESH_SECS", "0"),
            ("GANTRY_BLESS", "1"),
            ("HOME", "/root"),
        ] {
            config.apply_env(key, value).unwrap();
        }
        assert_eq!(config.root, PathBuf::from("/srv/registry"));
        assert!(!config.delete_enabled);
        assert_eq!(config.metrics_listen.unwrap().port(), 9100);
        assert_eq!(config.catalog_refresh, Duration::ZERO);
        assert_eq!(config.tls.unwrap().key, PathBuf::from("/k.pem"));
    }

    #[test]
    fn the_documented_example_parses_to_the_defaults_it_claims() {
        let example = Config::from_toml(include_str!("../../../docs/gantry.example.toml")).unwrap();
        let expected = Config {
            metrics_listen: Some("127.0.0.1:5001".parse().unwrap()),
            ..Config::default()
        };
        assert_eq!(example, expected);
    }

    #[test]
    fn auth_from_the_file_and_the_environment() {
        let file = Config::from_toml(
            r#"
[auth]
htpasswd = "/etc/gantry/htpasswd"
anonymous_pull = true
groups = { dev = ["alice", "bob"] }

[[auth.access]]
repositories = ["team/**"]
groups = ["dev"]
actions = ["pull", "push"]

[[auth.access]]
catalog = true
users = ["alice"]

[auth.token]
issue = true
"#,
        )
        .unwrap();
        let auth = file.auth.clone().unwrap();
        assert!(auth.anonymous_pull);
        assert_eq!(auth.access.len(), 2);
        assert_eq!(auth.groups["dev"], ["alice", "bob"]);
        let token = auth.token.unwrap();
        assert!(token.issue);
        assert_eq!(
            (token.path.as_str(), token.expiry),
            ("/token", Duration::from_secs(300))
        );

        let mut config = Config::default();
        for (key, value) in [
            ("GANTRY_AUTH_HTPASSWD", "/h"),
            ("GANTRY_AUTH_TOKEN_REALM", "https://auth.example/token"),
            ("GANTRY_AUTH_TOKEN_EXPIRY_SECS", "60"),
        ] {
            config.apply_env(key, value).unwrap();
        }
        let auth = config.auth.unwrap();
        assert_eq!(auth.htpasswd, Some(PathBuf::from("/h")));
        assert_eq!(auth.token.unwrap().expiry, Duration::from_secs(60));
        let mut config = Config::default();
        assert!(matches!(
            config.apply_env("GANTRY_AUTH_UNKNOWN", "x"),
            Err(ServerError::UnknownVariable { .. })
        ));
        assert_eq!(config.auth, None, "an unknown variable turns nothing on");
        assert!(
            config
                .apply_env("GANTRY_AUTH_ANONYMOUS_PULL", "perhaps")
                .is_err()
        );
        assert!(
            Config::from_toml(
                "[auth]
unknown = 1"
            )
            .is_err()
        );
        assert!(
            Config::from_toml(
                "[[auth.access]]
actions = [\"fly\"]"
            )
            .is_err()
        );
    }

    #[test]
    fn storage_from_the_file_and_the_environment() {
        use crate::storage::settings::StorageKind;
        let defaults = Config::default().storage;
        assert_eq!(defaults.driver, StorageKind::Filesystem);
        assert_eq!(
            (defaults.redirect, defaults.redirect_expiry),
            (false, Duration::from_secs(1200))
        );
        assert_eq!(defaults.link_cache_ttl_for("filesystem"), Duration::ZERO);
        assert_eq!(defaults.link_cache_ttl_for("s3"), Duration::from_secs(1));
        let file = Config::from_toml(
            r#"
[storage]
driver = "s3"
redirect = true
redirect_expiry_secs = 300
link_cache_ttl_secs = 0

[storage.s3]
bucket = "images"
root_directory = "registry"
endpoint = "http://127.0.0.1:8333"
region = "eu-west-1"
part_size = 16777216
upload_concurrency = 4
create_bucket = true
ca_file = "/etc/gantry/s3-ca.pem"
insecure = false
"#,
        )
        .unwrap();
        let storage = &file.storage;
        assert_eq!(storage.driver, StorageKind::S3);
        assert!(storage.redirect);
        assert_eq!(storage.redirect_expiry, Duration::from_secs(300));
        assert_eq!(storage.link_cache_ttl_for("s3"), Duration::ZERO);
        let s3 = storage.s3.clone().unwrap();
        assert_eq!(
            (s3.bucket.as_str(), s3.root_directory.as_str()),
            ("images", "registry")
        );
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:8333"));
        assert_eq!(
            (s3.part_size, s3.upload_concurrency, s3.create_bucket),
            (Some(16 << 20), Some(4), true)
        );
        assert_eq!(s3.ca_file, Some(PathBuf::from("/etc/gantry/s3-ca.pem")));

        let mut config = Config::default();
        for (key, value) in [
            ("GANTRY_STORAGE_DRIVER", "s3"),
            ("GANTRY_STORAGE_REDIRECT", "on"),
            ("GANTRY_STORAGE_REDIRECT_EXPIRY_SECS", "60"),
            ("GANTRY_STORAGE_LINK_CACHE_TTL_SECS", "5"),
            ("GANTRY_STORAGE_S3_BUCKET", "b"),
            ("GANTRY_STORAGE_S3_ROOT_DIRECTORY", "p/q"),
            ("GANTRY_STORAGE_S3_ENDPOINT", "https://s3.example"),
            ("GANTRY_STORAGE_S3_REGION", "us-east-2"),
            ("GANTRY_STORAGE_S3_PART_SIZE", "5242880"),
            ("GANTRY_STORAGE_S3_UPLOAD_CONCURRENCY", "2"),
            ("GANTRY_STORAGE_S3_CREATE_BUCKET", "true"),
            ("GANTRY_STORAGE_S3_CA_FILE", "/ca.pem"),
            ("GANTRY_STORAGE_S3_INSECURE", "yes"),
        ] {
            config.apply_env(key, value).unwrap();
        }
        let s3 = config.storage.s3.clone().unwrap();
        assert_eq!(config.storage.driver, StorageKind::S3);
        assert_eq!(config.storage.redirect_expiry, Duration::from_secs(60));
        assert_eq!(
            config.storage.link_cache_ttl_for("filesystem"),
            Duration::from_secs(5)
        );
        assert_eq!(
            (s3.bucket.as_str(), s3.root_directory.as_str()),
            ("b", "p/q")
        );
        assert_eq!(s3.region.as_deref(), Some("us-east-2"));
        assert_eq!(
            (s3.part_size, s3.upload_concurrency),
            (Some(5 << 20), Some(2))
        );
        assert!(s3.create_bucket && s3.insecure && config.storage.redirect);

        let mut config = Config::default();
        config.apply_env("GANTRY_STORAGE_ROOT", "/srv/r").unwrap();
        assert_eq!(config.filesystem_root(), Path::new("/srv/r"));
        for (key, value) in [
            ("GANTRY_STORAGE_DRIVER", "gcs"),
            ("GANTRY_STORAGE_REDIRECT", "maybe"),
            ("GANTRY_STORAGE_S3_PART_SIZE", "big"),
            ("GANTRY_STORAGE_S3_INSECURE", "perhaps"),
        ] {
            assert!(
                matches!(
                    config.apply_env(key, value),
                    Err(ServerError::InvalidVariable { .. })
                ),
                "{key}"
            );
        }
        for key in ["GANTRY_STORAGE_BUCKET", "GANTRY_STORAGE_S3_SECRET_KEY"] {
            assert!(matches!(
                config.apply_env(key, "x"),
                Err(ServerError::UnknownVariable { .. })
            ));
        }
        for unknown in [
            "[storage]\nbucket = \"b\"",
            "[storage.s3]\naccess_key = \"k\"",
            "[storage]\ndriver = \"gcs\"",
        ] {
            assert!(Config::from_toml(unknown).is_err(), "{unknown}");
        }
        // The top-level root is the filesystem's directory unless [storage] names one.
        let file = Config::from_toml("root = \"/a\"\n").unwrap();
        assert_eq!(file.filesystem_root(), Path::new("/a"));
        let file = Config::from_toml("root = \"/a\"\n[storage]\nroot = \"/b\"\n").unwrap();
        assert_eq!(file.filesystem_root(), Path::new("/b"));
    }

    #[test]
    fn bad_settings_are_errors() {
        assert!(Config::from_toml("listen = 5").is_err());
        assert!(Config::from_toml("unknown_field = 1").is_err());
        let mut config = Config::default();
        assert!(config.apply_env("GANTRY_LISTEN", "nowhere").is_err());
        assert!(config.apply_env("GANTRY_DELETE_ENABLED", "maybe").is_err());
        assert!(config.apply_env("GANTRY_LOG_FORMAT", "xml").is_err());
        assert!(
            config
                .apply_env("GANTRY_TLS_CLIENT_AUTH_OPTIONAL", "maybe")
                .is_err()
        );
        assert!(
            config
                .apply_env("GANTRY_IDLE_TIMEOUT_SECS", "soon")
                .is_err()
        );
        config.apply_env("GANTRY_TLS_CLIENT_CA", "/ca.pem").unwrap();
        config
            .apply_env("GANTRY_TLS_RELOAD_INTERVAL_SECS", "3")
            .unwrap();
        config.apply_env("GANTRY_MAX_BLOB_SIZE", "1024").unwrap();
        let tls = config.tls.clone().unwrap();
        assert_eq!(
            (tls.client_ca, tls.reload_interval),
            (Some(PathBuf::from("/ca.pem")), Duration::from_secs(3))
        );
        assert_eq!(config.max_blob_size, 1024);
    }

    #[test]
    fn an_unknown_variable_is_an_error_at_start() {
        let env = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let typo = Config::load(None, env(&[("GANTRY_LISTN", "0.0.0.0:5000")]));
        assert!(
            matches!(&typo, Err(ServerError::UnknownVariable { name }) if name == "GANTRY_LISTN"),
            "{typo:?}"
        );
        let other_tools = env(&[
            ("GANTRY_CONFORMANCE_PASSWORD", "x"),
            ("GANTRY_BLESS", "1"),
            ("HOME", "/root"),
        ]);
        Config::load(None, other_tools).unwrap();
    }
}
