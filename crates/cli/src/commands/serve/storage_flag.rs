//! `gantry serve --storage`: a directory, or `s3://BUCKET/PREFIX`.

use std::path::PathBuf;

use gantry_registry::{Config, S3Config, StorageConfig, StorageKind};

use crate::exit::usage;

/// Where `--storage` (or `--root`) says to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StorageFlag {
    /// A local directory.
    Directory(PathBuf),
    /// An S3 bucket, and the key prefix below which the registry's files go (may be empty).
    S3 { bucket: String, prefix: String },
}

impl StorageFlag {
    /// Reads `s3://BUCKET/PREFIX` (the prefix optional) or a directory.
    pub(crate) fn parse(value: &str) -> anyhow::Result<StorageFlag> {
        let Some(rest) = value.strip_prefix("s3://") else {
            if value.contains("://") {
                return Err(usage(format!(
                    "--storage {value:?}: only s3:// URLs and directories are storage"
                )));
            }
            if value.is_empty() {
                return Err(usage("--storage needs a directory or s3://BUCKET/PREFIX"));
            }
            return Ok(StorageFlag::Directory(PathBuf::from(value)));
        };
        if rest.contains(['?', '#']) {
            return Err(usage(format!(
                "--storage {value:?}: an s3:// URL has no query or fragment"
            )));
        }
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(usage(format!(
                "--storage {value:?}: the bucket is missing (s3://BUCKET/PREFIX)"
            )));
        }
        let bucket_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
        if !bucket.chars().all(bucket_char) {
            return Err(usage(format!(
                "--storage {value:?}: {bucket:?} is not a bucket name (letters, digits, '.', '-')"
            )));
        }
        let prefix = prefix.trim_end_matches('/');
        let bad_part = |part: &str| matches!(part, "" | "." | "..");
        if !prefix.is_empty() && prefix.split('/').any(bad_part) {
            return Err(usage(format!(
                "--storage {value:?}: the prefix has an empty, '.' or '..' component"
            )));
        }
        Ok(StorageFlag::S3 {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }

    /// Makes `config` store where the flag says, over what the file and variables said: a
    /// bucket keeps the rest of `[storage.s3]` (endpoint, part size and so on).
    pub(crate) fn apply(self, config: &mut Config) {
        let (redirect, expiry) = (config.storage.redirect, config.storage.redirect_expiry);
        let storage = match self {
            StorageFlag::Directory(root) => {
                config.root.clone_from(&root);
                StorageConfig::filesystem(root)
            }
            StorageFlag::S3 { bucket, prefix } => {
                let mut s3 = config.storage.s3.take().unwrap_or_default();
                s3.bucket = bucket;
                s3.root_directory = prefix;
                StorageConfig::s3(s3)
            }
        };
        config.storage = storage.with_redirect(redirect).with_redirect_expiry(expiry);
    }

    /// The storage `config` names, for the log: a directory or an `s3://` URL.
    pub(crate) fn describe(config: &Config) -> String {
        match (&config.storage.driver, &config.storage.s3) {
            (
                StorageKind::S3,
                Some(S3Config {
                    bucket,
                    root_directory,
                    ..
                }),
            ) => format!("s3://{bucket}/{root_directory}"),
            _ => config.filesystem_root().display().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(bucket: &str, prefix: &str) -> StorageFlag {
        StorageFlag::S3 {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        }
    }

    #[test]
    fn storage_flags_read_as_users_write_them() {
        for (flag, expected) in [
            ("s3://images", s3("images", "")),
            ("s3://images/", s3("images", "")),
            ("s3://images/registry", s3("images", "registry")),
            ("s3://images/a/b/", s3("images", "a/b")),
            (
                "/srv/registry",
                StorageFlag::Directory("/srv/registry".into()),
            ),
            ("data", StorageFlag::Directory("data".into())),
        ] {
            assert_eq!(StorageFlag::parse(flag).unwrap(), expected, "{flag}");
        }
        for bad in [
            "",
            "s3://",
            "s3:///prefix",
            "s3://bucket?region=x",
            "s3://bucket/p?x",
            "s3://bucket#x",
            "s3://user@bucket",
            "s3://bucket/a//b",
            "s3://bucket/../b",
            "gs://bucket",
        ] {
            let error = StorageFlag::parse(bad).expect_err(bad).to_string();
            assert!(error.contains("--storage"), "{bad}: {error}");
        }
    }

    #[test]
    fn a_bucket_keeps_the_files_s3_settings_and_a_directory_replaces_them() {
        let mut config = Config::from_toml(
            "[storage]\ndriver = \"s3\"\nredirect = true\n[storage.s3]\nbucket = \"old\"\npart_size = 8388608\n",
        )
        .unwrap();
        s3("new", "p").apply(&mut config);
        let kept = config.storage.s3.clone().unwrap();
        assert_eq!(
            (kept.bucket.as_str(), kept.part_size),
            ("new", Some(8 << 20))
        );
        assert!(config.storage.redirect);
        assert_eq!(StorageFlag::describe(&config), "s3://new/p");

        StorageFlag::Directory("/srv/r".into()).apply(&mut config);
        assert_eq!(config.storage.driver, StorageKind::Filesystem);
        assert_eq!(config.storage.s3, None);
        assert_eq!(config.root, PathBuf::from("/srv/r"));
        assert_eq!(StorageFlag::describe(&config), "/srv/r");
    }
}
