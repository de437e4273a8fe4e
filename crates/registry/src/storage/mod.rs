//! The storage the server runs over: the `[storage]` settings, checked, and the driver they
//! open. Everything above works over `Arc<dyn StorageDriver>`, whichever driver this is.

pub(crate) mod settings;

use std::sync::Arc;
use std::time::Duration;

use axum::http::Uri;
use gantry_storage::driver::s3::MIN_PART_SIZE;
use gantry_storage::{FilesystemDriver, S3Driver, S3Options, StorageDriver};

use self::settings::{S3Config, StorageKind};
use crate::{Config, ServerError};

/// Opens the driver `config` names, after checking its settings.
pub(crate) async fn open(config: &Config) -> Result<Arc<dyn StorageDriver>, ServerError> {
    match config.storage.driver {
        StorageKind::Filesystem => {
            if config.storage.s3.is_some() {
                return Err(ServerError::Inconsistent {
                    setting: "[storage.s3]",
                    problem: "needs [storage] driver = \"s3\"",
                });
            }
            let driver =
                FilesystemDriver::new(config.filesystem_root()).map_err(ServerError::Storage)?;
            Ok(Arc::new(driver))
        }
        StorageKind::S3 => {
            let s3 = config
                .storage
                .s3
                .as_ref()
                .ok_or(ServerError::Inconsistent {
                    setting: "[storage] driver = \"s3\"",
                    problem: "needs [storage.s3] with a bucket",
                })?;
            check_s3(s3)?;
            let options = s3_options(s3, config.storage.redirect_expiry);
            let location = format!("s3://{}/{}", s3.bucket, s3.root_directory);
            let driver = S3Driver::connect(options)
                .await
                .map_err(|source| ServerError::StorageUnusable { location, source })?;
            Ok(Arc::new(driver))
        }
    }
}

/// The driver's options from `[storage.s3]`; what the table leaves out keeps the driver's
/// default.
fn s3_options(s3: &S3Config, redirect_expiry: Duration) -> S3Options {
    let mut options = S3Options::new(s3.bucket.clone());
    options.root_directory.clone_from(&s3.root_directory);
    options.endpoint.clone_from(&s3.endpoint);
    options.region.clone_from(&s3.region);
    if let Some(part_size) = s3.part_size {
        options.part_size = part_size;
    }
    if let Some(concurrency) = s3.upload_concurrency {
        options.upload_concurrency = concurrency;
    }
    options.create_bucket = s3.create_bucket;
    options.ca_file.clone_from(&s3.ca_file);
    options.insecure = s3.insecure;
    options.redirect_expiry = redirect_expiry;
    options
}

/// Refuses S3 settings no bucket could work with.
fn check_s3(s3: &S3Config) -> Result<(), ServerError> {
    if s3.bucket.is_empty() {
        return Err(ServerError::Inconsistent {
            setting: "[storage.s3] bucket",
            problem: "must be set",
        });
    }
    if s3.part_size.is_some_and(|size| size < MIN_PART_SIZE) {
        return Err(ServerError::Inconsistent {
            setting: "[storage.s3] part_size",
            problem: "must be at least 5 MiB (5242880 bytes)",
        });
    }
    if s3.upload_concurrency == Some(0) {
        return Err(ServerError::Inconsistent {
            setting: "[storage.s3] upload_concurrency",
            problem: "must be at least 1",
        });
    }
    if let Some(endpoint) = &s3.endpoint {
        check_endpoint(endpoint)?;
    }
    Ok(())
}

/// An endpoint is `http://` or `https://`, a host and perhaps a port, and nothing else.
pub(crate) fn check_endpoint(endpoint: &str) -> Result<(), ServerError> {
    let invalid = |problem: &'static str| ServerError::InvalidSetting {
        setting: "[storage.s3] endpoint",
        value: endpoint.to_owned(),
        problem,
    };
    let uri: Uri = endpoint
        .parse()
        .map_err(|_| invalid("is not a URL such as http://127.0.0.1:8333"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(invalid("must start with http:// or https://"));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid("names no host"));
    }
    if uri
        .authority()
        .is_some_and(|authority| authority.as_str().contains('@'))
    {
        return Err(invalid(
            "must not hold credentials: they come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        ));
    }
    if uri.query().is_some() || !matches!(uri.path(), "" | "/") {
        return Err(invalid("must be only a scheme, a host and a port"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{S3Config, StorageConfig};

    fn refused(config: &Config) -> ServerError {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        match runtime.block_on(open(config)) {
            Ok(driver) => panic!("opened {driver:?}"),
            Err(error) => error,
        }
    }

    #[test]
    fn endpoints_are_a_scheme_a_host_and_a_port() {
        for good in [
            "http://127.0.0.1:8333",
            "https://s3.example.com",
            "http://[::1]:9000/",
            "http://seaweed:8333",
        ] {
            check_endpoint(good).unwrap_or_else(|error| panic!("{good}: {error}"));
        }
        for bad in [
            "",
            "127.0.0.1:8333",
            "ftp://host",
            "http://",
            "http://user:secret@host",
            "http://host/prefix",
            "http://host/?x=1",
            "http://host name",
        ] {
            assert!(
                matches!(check_endpoint(bad), Err(ServerError::InvalidSetting { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn s3_settings_no_bucket_could_use_are_refused_at_start() {
        let with = |s3: S3Config| Config {
            storage: StorageConfig::s3(s3),
            ..Config::default()
        };
        let mut small_parts = S3Config::new("bucket");
        small_parts.part_size = Some(1 << 20);
        let mut no_concurrency = S3Config::new("bucket");
        no_concurrency.upload_concurrency = Some(0);
        for (config, setting) in [
            (with(S3Config::new("")), "[storage.s3] bucket"),
            (with(small_parts), "[storage.s3] part_size"),
            (with(no_concurrency), "[storage.s3] upload_concurrency"),
        ] {
            let error = refused(&config);
            assert!(
                matches!(&error, ServerError::Inconsistent { setting: s, .. } if *s == setting),
                "{error:?}"
            );
        }
        let bad_endpoint =
            with(S3Config::new("bucket").with_endpoint(Some("localhost:8333".to_owned())));
        assert!(matches!(
            refused(&bad_endpoint),
            ServerError::InvalidSetting { .. }
        ));
        // A bucket that cannot be reached stops the server at start, naming it.
        let unreachable = with(
            S3Config::new("bucket")
                .with_root_directory("p")
                .with_endpoint(Some("http://127.0.0.1:1".to_owned())),
        );
        let error = refused(&unreachable);
        assert!(
            matches!(&error, ServerError::StorageUnusable { location, .. } if location == "s3://bucket/p"),
            "{error:?}"
        );
        let mut no_table = Config::default();
        no_table.storage.driver = StorageKind::S3;
        assert!(matches!(
            refused(&no_table),
            ServerError::Inconsistent { .. }
        ));
        let mut stray_table = Config::default();
        stray_table.storage.s3 = Some(S3Config::new("bucket"));
        assert!(matches!(
            refused(&stray_table),
            ServerError::Inconsistent { .. }
        ));
    }
}
