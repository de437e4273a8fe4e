//! Connecting: the `object_store` client from [`S3Options`] and the environment, and the
//! checks at start (credentials, bucket) that make a bad configuration fail at once.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::client::{HttpConnector, ReqwestConnector};
use object_store::{BackoffConfig, Certificate, ClientOptions, RetryConfig};

use super::dirs::KnownDirs;
use super::keys::Keys;
use super::profile;
use super::signed::{BucketCheck, SignedRequests};
use super::{Bucket, MIN_PART_SIZE, S3Driver, S3Options};
use crate::StorageError;

/// The region when neither the options nor the environment name one.
const DEFAULT_REGION: &str = "us-east-1";

/// A call is tried this many times more on a 5xx, a throttling answer or a broken connection.
const RETRIES: usize = 4;

/// Nor retried beyond this long after it began.
const RETRY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long connecting to the endpoint may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) async fn connect(options: S3Options) -> Result<S3Driver, StorageError> {
    let location = format!("s3://{}/{}", options.bucket, options.root_directory);
    let refused = |message: String| StorageError::Io {
        path: location.clone(),
        source: io::Error::other(message),
    };
    if options.bucket.is_empty() {
        return Err(refused("no bucket is named".to_owned()));
    }
    if options.part_size < MIN_PART_SIZE {
        return Err(refused(format!(
            "the part size {} is under S3's minimum of {MIN_PART_SIZE} bytes",
            options.part_size
        )));
    }
    let part_size = usize::try_from(options.part_size)
        .map_err(|_| refused(format!("the part size {} is too large", options.part_size)))?;
    let keys = Keys::new(&options.root_directory)?;
    let client_options = client_options(&options, &location)?;

    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(&options.bucket)
        .with_client_options(client_options.clone())
        .with_retry(RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(3),
                base: 2.0,
            },
            max_retries: RETRIES,
            retry_timeout: RETRY_TIMEOUT,
        });
    // The shared profile files, which object_store does not read, stand in for the
    // environment's key and region when it has none.
    let environment_has_key = builder
        .get_config_value(&AmazonS3ConfigKey::AccessKeyId)
        .is_some();
    let profile = if options.credentials.is_none() && !environment_has_key {
        profile::from_environment()
    } else {
        profile::Profile::default()
    };
    let region = options
        .region
        .clone()
        .or_else(|| builder.get_config_value(&AmazonS3ConfigKey::Region))
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
        .filter(|region| !region.is_empty())
        .or(profile.region)
        .unwrap_or_else(|| DEFAULT_REGION.to_owned());
    builder = builder.with_region(&region);
    if let Some(credentials) = &options.credentials {
        builder = builder
            .with_access_key_id(&credentials.access_key_id)
            .with_secret_access_key(&credentials.secret_access_key);
    } else if let Some((credentials, token)) = profile.credentials {
        builder = builder
            .with_access_key_id(credentials.access_key_id)
            .with_secret_access_key(credentials.secret_access_key);
        if let Some(token) = token {
            builder = builder.with_token(token);
        }
    }
    if let Some(endpoint) = &options.endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_virtual_hosted_style_request(false)
            .with_allow_http(endpoint.starts_with("http://"));
    }
    let store = builder
        .build()
        .map_err(|error| refused(format!("configuring the S3 client: {error}")))?;

    let http = ReqwestConnector::default()
        .connect(&client_options)
        .map_err(|error| refused(format!("configuring the HTTP client: {error}")))?;
    let signed = SignedRequests::new(
        http,
        Arc::clone(store.credentials()),
        &region,
        &options.bucket,
        options.endpoint.as_deref(),
    );
    match signed.check_bucket().await? {
        BucketCheck::Ready => {}
        BucketCheck::Missing if options.create_bucket => signed.create_bucket().await?,
        BucketCheck::Missing => {
            return Err(refused(format!(
                "the bucket {} does not exist (set create_bucket to create it)",
                options.bucket
            )));
        }
    }
    Ok(S3Driver {
        bucket: Arc::new(Bucket {
            store,
            signed,
            keys,
            dirs: KnownDirs::default(),
            part_size,
            concurrency: options.upload_concurrency.max(1),
            redirect_expiry: options.redirect_expiry,
            single_copy_limit: options.single_copy_limit,
        }),
    })
}

/// The HTTP client's options: TLS as asked, plain HTTP for an `http://` endpoint, no limit on
/// a whole request's time (a blob may stream for as long as the client reads it).
fn client_options(options: &S3Options, location: &str) -> Result<ClientOptions, StorageError> {
    let mut client = ClientOptions::new()
        .with_timeout_disabled()
        .with_connect_timeout(CONNECT_TIMEOUT)
        .with_allow_invalid_certificates(options.insecure);
    if let Some(endpoint) = &options.endpoint {
        client = client.with_allow_http(endpoint.starts_with("http://"));
    }
    if let Some(path) = &options.ca_file {
        let pem = std::fs::read(path)
            .map_err(|source| StorageError::io(path.display().to_string(), source))?;
        let certificates =
            Certificate::from_pem_bundle(&pem).map_err(|error| StorageError::Io {
                path: location.to_owned(),
                source: io::Error::other(format!("reading {}: {error}", path.display())),
            })?;
        for certificate in certificates {
            client = client.with_root_certificate(certificate);
        }
    }
    Ok(client)
}
