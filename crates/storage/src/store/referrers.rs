//! The referrers index, `_gantry/referrers/<subject alg>/<subject hex>/<alg>/<hex>`: for each
//! subject, one file per referrer holding the descriptor the referrers API lists (JSON), so a
//! request reads a directory instead of parsing every manifest.

use bytes::Bytes;
use gantry_reference::{Digest, RepositoryName};
use gantry_spec::{Descriptor, Manifest, referrers};

use super::inner::Inner;
use super::paths;
use crate::StorageError;

/// Adds `manifest` to its subject's referrers, when it has a subject.
pub(crate) async fn add(
    inner: &Inner,
    name: &RepositoryName,
    manifest: &Manifest,
) -> Result<(), StorageError> {
    let Some(subject) = manifest.subject() else {
        return Ok(());
    };
    let path = paths::referrer(name, &subject.digest, manifest.digest())?;
    let entry = serde_json::to_vec(&referrers::descriptor(manifest)).map_err(|_| {
        StorageError::Corrupt {
            path: path.to_string(),
        }
    })?;
    inner.driver.put_content(&path, Bytes::from(entry)).await
}

/// Removes `manifest` from its subject's referrers.
pub(crate) async fn remove(
    inner: &Inner,
    name: &RepositoryName,
    manifest: &Manifest,
) -> Result<(), StorageError> {
    let Some(subject) = manifest.subject() else {
        return Ok(());
    };
    let path = paths::referrer(name, &subject.digest, manifest.digest())?;
    inner.delete_if_exists(&path).await
}

/// The referrers of `subject`, sorted by digest, of `artifact_type` when given. Entries whose
/// manifest is gone (a crash between the two writes) are passed over.
pub(crate) async fn list(
    inner: &Inner,
    name: &RepositoryName,
    subject: &Digest,
    artifact_type: Option<&str>,
) -> Result<Vec<Descriptor>, StorageError> {
    let dir = paths::referrers(name, subject)?;
    let mut found = Vec::new();
    for algorithm in inner.list_names(&dir).await? {
        let algorithm_dir = dir.join(&algorithm)?;
        for encoded in inner.list_names(&algorithm_dir).await? {
            let path = algorithm_dir.join(&encoded)?;
            let content = match inner.driver.get_content(&path).await {
                Ok(content) => content,
                Err(StorageError::PathNotFound { .. }) => continue,
                Err(error) => return Err(error),
            };
            let descriptor: Descriptor =
                serde_json::from_slice(&content).map_err(|_| StorageError::Corrupt {
                    path: path.to_string(),
                })?;
            if artifact_type
                .is_some_and(|wanted| descriptor.artifact_type.as_deref() != Some(wanted))
            {
                continue;
            }
            let revision = paths::revision_link(name, &descriptor.digest)?;
            if inner.read_link(&revision).await?.is_some() {
                found.push(descriptor);
            }
        }
    }
    found.sort_by(|a, b| a.digest.cmp(&b.digest));
    Ok(found)
}
