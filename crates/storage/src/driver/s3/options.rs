//! [`S3Options`]: where the bucket is and how the driver uses it.

use std::path::PathBuf;
use std::time::Duration;

/// The smallest part S3 accepts (but for an upload's last part): 5 MiB.
pub const MIN_PART_SIZE: u64 = 5 << 20;

/// The largest object one `CopyObject` copies on AWS: 5 GiB.
pub const MAX_SINGLE_COPY: u64 = 5 << 30;

/// How to reach the bucket and how to use it. Unless [`credentials`](Self::credentials) are
/// given, they come from the usual AWS places, in the AWS tools' order: the environment
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), the shared profile
/// files (`~/.aws/credentials` and `~/.aws/config`, or `AWS_SHARED_CREDENTIALS_FILE` and
/// `AWS_CONFIG_FILE`, profile `AWS_PROFILE` or `default`), then the task's or instance's role.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct S3Options {
    /// The bucket.
    pub bucket: String,
    /// The key prefix everything lives below (Distribution's `rootdirectory`); empty for the
    /// bucket's root.
    pub root_directory: String,
    /// The S3 endpoint, for stores other than AWS (`http://127.0.0.1:8333`); requests are then
    /// path-style. `None` for AWS.
    pub endpoint: Option<String>,
    /// The region; `None` for `AWS_REGION` (or `AWS_DEFAULT_REGION`), else `us-east-1`.
    pub region: Option<String>,
    /// The size of each part of a multipart upload, in bytes: at least [`MIN_PART_SIZE`].
    pub part_size: u64,
    /// How many parts of one upload are sent at once.
    pub upload_concurrency: usize,
    /// Create the bucket at start when it does not exist (else that is an error).
    pub create_bucket: bool,
    /// A PEM file of extra certificate authorities for TLS to the endpoint.
    pub ca_file: Option<PathBuf>,
    /// Skip verifying the endpoint's TLS certificate.
    pub insecure: bool,
    /// How long a redirect URL (a presigned `GET`) stays valid.
    pub redirect_expiry: Duration,
    /// An access key to use instead of the environment's.
    pub credentials: Option<S3Credentials>,
    /// Objects larger than this are moved by a multipart copy rather than one `CopyObject`.
    pub single_copy_limit: u64,
}

impl S3Options {
    /// The defaults for `bucket`: its root, AWS, 8 MiB parts three at a time, no bucket
    /// creation, redirect URLs valid for 20 minutes.
    pub fn new(bucket: impl Into<String>) -> S3Options {
        S3Options {
            bucket: bucket.into(),
            root_directory: String::new(),
            endpoint: None,
            region: None,
            part_size: 8 << 20,
            upload_concurrency: 3,
            create_bucket: false,
            ca_file: None,
            insecure: false,
            redirect_expiry: Duration::from_secs(20 * 60),
            single_copy_limit: MAX_SINGLE_COPY,
            credentials: None,
        }
    }
}

/// An access key: its id and secret. Its `Debug` form leaves the secret out.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Credentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
}

impl S3Credentials {
    /// The access key `access_key_id` with its secret.
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        S3Credentials {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
        }
    }
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}
