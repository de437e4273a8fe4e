//! The `[storage]` table of the configuration, and its `GANTRY_STORAGE_*` variables.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::config::{parse_bool, seconds};

/// Which driver stores the registry's files, and how blobs are served from it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct StorageConfig {
    /// The driver: `filesystem` (the default) or `s3`.
    pub driver: StorageKind,
    /// The filesystem driver's directory. When absent, the top-level `root` (which is kept
    /// for existing files and `GANTRY_ROOT`); when both are set, this one.
    pub root: Option<PathBuf>,
    /// The `s3` driver's settings: needed with `driver = "s3"`, refused otherwise.
    pub s3: Option<S3Config>,
    /// Whether blob GETs answer `307` to a URL of the object store, when the driver offers
    /// one (off by default, as in Distribution; the filesystem never does). HEAD requests
    /// and manifests are always served by the registry.
    pub redirect: bool,
    /// How long a redirect's URL stays valid (20 minutes by default; TOML
    /// `redirect_expiry_secs`).
    #[serde(rename = "redirect_expiry_secs", deserialize_with = "seconds")]
    pub redirect_expiry: Duration,
    /// How long a `link` read from storage (a tag, a manifest revision, a blob linked into a
    /// repository) answers again without reading storage; what other servers sharing the
    /// storage change is seen within this time (TOML `link_cache_ttl_secs`). When absent, the
    /// driver's default: none on the filesystem, where a read is cheap, and one second on S3,
    /// where each read is a request.
    #[serde(rename = "link_cache_ttl_secs", deserialize_with = "optional_seconds")]
    pub link_cache_ttl: Option<Duration>,
}

/// The storage drivers a configuration can name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum StorageKind {
    /// A local directory.
    #[default]
    Filesystem,
    /// An S3-compatible object store.
    S3,
}

/// An S3 bucket (`[storage.s3]`). Credentials and, unless set here, the region come from the
/// usual AWS environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`, `AWS_REGION` or `AWS_DEFAULT_REGION`), else the AWS profile files
/// (`~/.aws/credentials`, `~/.aws/config`, `AWS_PROFILE`); the configuration never holds keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct S3Config {
    /// The bucket (required).
    pub bucket: String,
    /// A key prefix the registry's files go below (Distribution's `rootdirectory`); empty
    /// for the bucket's top.
    pub root_directory: String,
    /// The endpoint's URL (`http://` or `https://`), for stores other than AWS; requests
    /// then use path-style addressing.
    pub endpoint: Option<String>,
    /// The region; from the environment when absent, else `us-east-1`.
    pub region: Option<String>,
    /// The size of each part of a multipart upload, in bytes (at least 5 MiB); the driver's
    /// default when absent.
    pub part_size: Option<u64>,
    /// How many parts one upload sends at once; the driver's default when absent.
    pub upload_concurrency: Option<usize>,
    /// Create the bucket at start when it is missing (off by default: a missing bucket is
    /// an error at start).
    pub create_bucket: bool,
    /// PEM certificates of extra CAs trusted for TLS to the endpoint.
    pub ca_file: Option<PathBuf>,
    /// Skip TLS certificate verification to the endpoint (off by default).
    pub insecure: bool,
}

impl Default for StorageConfig {
    fn default() -> StorageConfig {
        StorageConfig {
            driver: StorageKind::Filesystem,
            root: None,
            s3: None,
            redirect: false,
            redirect_expiry: Duration::from_secs(20 * 60),
            link_cache_ttl: None,
        }
    }
}

/// How long links are cached on S3 unless configured: short enough that replicas agree
/// within a second, long enough that a hot tag is read once a second, not per request.
const S3_LINK_CACHE_TTL: Duration = Duration::from_secs(1);

/// An optional whole number of seconds.
fn optional_seconds<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    seconds(deserializer).map(Some)
}

impl StorageConfig {
    /// The filesystem at `root`.
    pub fn filesystem(root: impl Into<PathBuf>) -> StorageConfig {
        StorageConfig {
            root: Some(root.into()),
            ..StorageConfig::default()
        }
    }

    /// The bucket `s3` describes.
    pub fn s3(s3: S3Config) -> StorageConfig {
        StorageConfig {
            driver: StorageKind::S3,
            s3: Some(s3),
            ..StorageConfig::default()
        }
    }

    /// The same settings with `redirect` set.
    pub fn with_redirect(mut self, redirect: bool) -> StorageConfig {
        self.redirect = redirect;
        self
    }

    /// The same settings with `redirect_expiry` set.
    pub fn with_redirect_expiry(mut self, redirect_expiry: Duration) -> StorageConfig {
        self.redirect_expiry = redirect_expiry;
        self
    }

    /// How long links are cached over the driver named `driver` (its
    /// [`StorageDriver::name`](gantry_storage::StorageDriver::name)).
    pub fn link_cache_ttl_for(&self, driver: &str) -> Duration {
        self.link_cache_ttl.unwrap_or(match driver {
            "s3" => S3_LINK_CACHE_TTL,
            _ => Duration::ZERO,
        })
    }

    /// Applies one `GANTRY_STORAGE_*` variable (`name` without the `GANTRY_STORAGE_`
    /// prefix); `None` when the name is not a storage setting, `Some(false)` when the value
    /// does not parse.
    pub(crate) fn apply_env(&mut self, name: &str, value: &str) -> Option<bool> {
        if let Some(s3_name) = name.strip_prefix("S3_") {
            return self
                .s3
                .get_or_insert_with(S3Config::default)
                .apply_env(s3_name, value);
        }
        match name {
            "DRIVER" => match value {
                "filesystem" => self.driver = StorageKind::Filesystem,
                "s3" => self.driver = StorageKind::S3,
                _ => return Some(false),
            },
            "ROOT" => self.root = Some(PathBuf::from(value)),
            "REDIRECT" => match parse_bool(value) {
                Some(on) => self.redirect = on,
                None => return Some(false),
            },
            "REDIRECT_EXPIRY_SECS" => match value.parse() {
                Ok(secs) => self.redirect_expiry = Duration::from_secs(secs),
                Err(_) => return Some(false),
            },
            "LINK_CACHE_TTL_SECS" => match value.parse() {
                Ok(secs) => self.link_cache_ttl = Some(Duration::from_secs(secs)),
                Err(_) => return Some(false),
            },
            _ => return None,
        }
        Some(true)
    }
}

impl S3Config {
    /// A bucket, with the defaults for the rest.
    pub fn new(bucket: impl Into<String>) -> S3Config {
        S3Config {
            bucket: bucket.into(),
            ..S3Config::default()
        }
    }

    /// The same settings with `root_directory` set.
    pub fn with_root_directory(mut self, root_directory: impl Into<String>) -> S3Config {
        self.root_directory = root_directory.into();
        self
    }

    /// The same settings with `endpoint` set.
    pub fn with_endpoint(mut self, endpoint: Option<String>) -> S3Config {
        self.endpoint = endpoint;
        self
    }

    /// The same settings with `region` set.
    pub fn with_region(mut self, region: Option<String>) -> S3Config {
        self.region = region;
        self
    }

    /// The same settings with `create_bucket` set.
    pub fn with_create_bucket(mut self, create_bucket: bool) -> S3Config {
        self.create_bucket = create_bucket;
        self
    }

    /// Applies one `GANTRY_STORAGE_S3_*` variable (`name` without the prefix), as
    /// [`StorageConfig::apply_env`] does.
    fn apply_env(&mut self, name: &str, value: &str) -> Option<bool> {
        match name {
            "BUCKET" => self.bucket = value.to_owned(),
            "ROOT_DIRECTORY" => self.root_directory = value.to_owned(),
            "ENDPOINT" => self.endpoint = Some(value.to_owned()),
            "REGION" => self.region = Some(value.to_owned()),
            "PART_SIZE" => match value.parse() {
                Ok(size) => self.part_size = Some(size),
                Err(_) => return Some(false),
            },
            "UPLOAD_CONCURRENCY" => match value.parse() {
                Ok(count) => self.upload_concurrency = Some(count),
                Err(_) => return Some(false),
            },
            "CREATE_BUCKET" => match parse_bool(value) {
                Some(on) => self.create_bucket = on,
                None => return Some(false),
            },
            "CA_FILE" => self.ca_file = Some(PathBuf::from(value)),
            "INSECURE" => match parse_bool(value) {
                Some(on) => self.insecure = on,
                None => return Some(false),
            },
            _ => return None,
        }
        Some(true)
    }
}
