//! Secrets every server sharing a storage must agree on (the upload-URL secret, the token
//! issuer's key), kept in the storage itself, through its driver, under `/gantry/`: a path
//! outside Distribution's `docker/registry/v2`, which Distribution ignores.
//!
//! Each secret is read when it exists and otherwise made once with the driver's
//! [`create_content`](StorageDriver::create_content): when several servers start on one
//! storage at once, exactly one secret is kept and every server reads that one. On the
//! filesystem the storage path `/gantry/<name>` is the file `<root>/gantry/<name>`, where
//! secrets have always been kept, readable by the owner only. Everything here goes through
//! [`Secrets`], the one place that knows where secrets live.

use std::sync::Arc;

use bytes::Bytes;
use gantry_storage::{StorageDriver, StoragePath};

use crate::{Cause, ServerError};

/// Where a storage keeps its secrets.
#[derive(Debug, Clone)]
pub(crate) struct Secrets {
    driver: Arc<dyn StorageDriver>,
}

impl Secrets {
    /// The secrets kept in `driver`'s storage.
    pub(crate) fn new(driver: Arc<dyn StorageDriver>) -> Secrets {
        Secrets { driver }
    }

    /// Where the secret `name` is kept, as a storage path.
    fn path(name: &str) -> Result<StoragePath, ServerError> {
        StoragePath::new(format!("/gantry/{name}")).map_err(ServerError::Storage)
    }

    /// The secret `name` (`what` it is, for errors), as `read` takes it: the kept one, or,
    /// when there is none yet, what `make` gives, kept for every later reader unless another
    /// server kept its own first (then that one).
    pub(crate) async fn read_or_make<T>(
        &self,
        name: &str,
        what: &'static str,
        make: impl FnOnce() -> Result<Vec<u8>, Cause>,
        read: impl FnOnce(&[u8]) -> Result<T, Cause>,
    ) -> Result<T, ServerError> {
        let path = Secrets::path(name)?;
        let failed = |source: Cause| ServerError::Secret {
            what,
            path: path.to_string(),
            source,
        };
        let kept = match self.driver.get_content(&path).await {
            Ok(secret) => secret,
            Err(error) if !error.is_not_found() => return Err(failed(error.into())),
            Err(_) => {
                let made = Bytes::from(make().map_err(failed)?);
                let created = self
                    .driver
                    .create_content(&path, made.clone())
                    .await
                    .map_err(|error| failed(error.into()))?;
                if created {
                    made
                } else {
                    // Another server kept its own first: that one is the secret.
                    self.driver
                        .get_content(&path)
                        .await
                        .map_err(|error| failed(error.into()))?
                }
            }
        };
        read(&kept).map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use gantry_storage::{FilesystemDriver, InMemoryDriver};

    use super::*;

    fn kept(secret: &[u8]) -> Result<Vec<u8>, Cause> {
        Ok(secret.to_vec())
    }

    #[tokio::test]
    async fn a_secret_is_made_once_and_read_after() {
        let root = tempfile::tempdir().unwrap();
        let filesystem: Arc<dyn StorageDriver> =
            Arc::new(FilesystemDriver::new(root.path()).unwrap());
        for driver in [filesystem, Arc::new(InMemoryDriver::new())] {
            let secrets = Secrets::new(driver);
            let first = secrets
                .read_or_make("s", "secret", || Ok(b"one".to_vec()), kept)
                .await
                .unwrap();
            let second = secrets
                .read_or_make("s", "secret", || Ok(b"two".to_vec()), kept)
                .await
                .unwrap();
            assert_eq!(
                (first.as_slice(), second.as_slice()),
                (&b"one"[..], &b"one"[..])
            );
        }
        // On the filesystem, where secrets have always been: a private file below the root.
        let kept = root.path().join("gantry/s");
        assert_eq!(std::fs::read(&kept).unwrap(), b"one");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&kept).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[tokio::test]
    async fn an_existing_deployments_secret_files_are_the_secrets() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("gantry")).unwrap();
        std::fs::write(root.path().join("gantry/upload-secret"), b"kept before").unwrap();
        let driver = Arc::new(FilesystemDriver::new(root.path()).unwrap());
        let secret = Secrets::new(driver)
            .read_or_make(
                "upload-secret",
                "upload secret",
                || Ok(b"new".to_vec()),
                kept,
            )
            .await
            .unwrap();
        assert_eq!(secret, b"kept before");
    }

    #[tokio::test]
    async fn a_secret_that_does_not_read_is_an_error_naming_it() {
        let secrets = Secrets::new(Arc::new(InMemoryDriver::new()));
        let refused = secrets
            .read_or_make(
                "s",
                "the secret",
                || Ok(b"short".to_vec()),
                |_| Err::<(), Cause>("too short".into()),
            )
            .await;
        assert!(
            matches!(&refused, Err(ServerError::Secret { what: "the secret", path, .. }) if path == "/gantry/s"),
            "{refused:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn servers_starting_at_once_keep_one_secret() {
        let driver: Arc<dyn StorageDriver> = Arc::new(InMemoryDriver::new());
        let tasks: Vec<_> = (0..8u8)
            .map(|n| {
                let secrets = Secrets::new(Arc::clone(&driver));
                tokio::spawn(async move {
                    secrets
                        .read_or_make("s", "secret", move || Ok(vec![n; 32]), kept)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut seen = Vec::new();
        for task in tasks {
            seen.push(task.await.unwrap());
        }
        assert!(seen.iter().all(|secret| *secret == seen[0]), "{seen:?}");
    }
}
