//! The one place that builds the store's paths: CNCF Distribution's layout, plus Gantry's
//! `_gantry` indexes beside it.
//!
//! ```text
//! /docker/registry/v2/
//! ├── blobs/<alg>/<first 2 hex>/<hex>/data                      the content, stored once
//! └── repositories/<name>/                                      <name> may hold `/`
//!     ├── _layers/<alg>/<hex>/link                              a blob linked into <name>
//!     ├── _manifests/
//!     │   ├── revisions/<alg>/<hex>/link                        a manifest of <name>
//!     │   └── tags/<tag>/
//!     │       ├── current/link                                  what <tag> points at now
//!     │       └── index/<alg>/<hex>/link                        everything it ever pointed at
//!     ├── _uploads/<id>/
//!     │   ├── data                                              the bytes received so far
//!     │   ├── startedat                                         RFC 3339 UTC start time
//!     │   └── hashstates/<alg>/<offset>                         hash state after <offset> bytes
//!     └── _gantry/                                              Gantry's indexes (Distribution
//!         ├── version                                           ignores them): layout version
//!         ├── tags_by_digest/<alg>/<hex>/<tag>                  <tag> points at <alg>:<hex>
//!         └── referrers/<alg>/<hex>/<alg>/<hex>                 a referrer of the subject, as
//!                                                               its descriptor in JSON
//! ```
//!
//! A `link` file holds a digest string without a newline. Every path is built from a
//! [`RepositoryName`], a [`Tag`], a [`Digest`] or an upload id checked by [`check_upload_id`],
//! so none can leave the store's root.

use gantry_reference::{Algorithm, Digest, RepositoryName, Tag};

use crate::{StorageError, StoragePath};

/// The root of everything the store writes.
const ROOT: &str = "/docker/registry/v2";

fn path(path: String) -> Result<StoragePath, StorageError> {
    StoragePath::new(path)
}

/// `/docker/registry/v2/repositories`.
pub(crate) fn repositories() -> Result<StoragePath, StorageError> {
    path(format!("{ROOT}/repositories"))
}

/// The blob's content: `blobs/<alg>/<2 hex>/<hex>/data`.
pub(crate) fn blob_data(digest: &Digest) -> Result<StoragePath, StorageError> {
    let hex = digest.encoded();
    let prefix = hex.get(..2).unwrap_or(hex);
    path(format!(
        "{ROOT}/blobs/{}/{prefix}/{hex}/data",
        digest.algorithm()
    ))
}

/// The repository's directory.
pub(crate) fn repository(name: &RepositoryName) -> Result<StoragePath, StorageError> {
    path(format!("{ROOT}/repositories/{name}"))
}

/// The repository directory named by a catalog walk's relative name (`a/b`), unchecked.
pub(crate) fn repository_dir(relative: &str) -> Result<StoragePath, StorageError> {
    path(format!("{ROOT}/repositories/{relative}"))
}

/// The repository a `_layers` or `_manifests` path belongs to (`a/b` for
/// `.../repositories/a/b/_layers/...`): writing there makes the repository part of the catalog.
pub(crate) fn catalog_name(path: &StoragePath) -> Option<&str> {
    let rest = path
        .as_str()
        .strip_prefix(ROOT)?
        .strip_prefix("/repositories/")?;
    // A name's components start with an alphanumeric, so `/_` ends the name.
    let end = rest.find("/_")?;
    let marker = &rest[end + 1..];
    (marker.starts_with("_layers/") || marker.starts_with("_manifests/")).then(|| &rest[..end])
}

/// `_layers/<alg>/<hex>/link`: the blob is linked into the repository.
pub(crate) fn layer_link(
    name: &RepositoryName,
    digest: &Digest,
) -> Result<StoragePath, StorageError> {
    path(format!(
        "{ROOT}/repositories/{name}/_layers/{}/{}/link",
        digest.algorithm(),
        digest.encoded()
    ))
}

/// `_manifests/revisions/<alg>/<hex>`: the directory of a manifest revision.
pub(crate) fn revision_dir(
    name: &RepositoryName,
    digest: &Digest,
) -> Result<StoragePath, StorageError> {
    path(format!(
        "{ROOT}/repositories/{name}/_manifests/revisions/{}/{}",
        digest.algorithm(),
        digest.encoded()
    ))
}

/// `_manifests/revisions/<alg>/<hex>/link`.
pub(crate) fn revision_link(
    name: &RepositoryName,
    digest: &Digest,
) -> Result<StoragePath, StorageError> {
    revision_dir(name, digest)?.join("link")
}

/// `_manifests/revisions`: every revision, by algorithm.
pub(crate) fn revisions(name: &RepositoryName) -> Result<StoragePath, StorageError> {
    path(format!("{ROOT}/repositories/{name}/_manifests/revisions"))
}

/// `_manifests/tags`: one directory per tag.
pub(crate) fn tags(name: &RepositoryName) -> Result<StoragePath, StorageError> {
    path(format!("{ROOT}/repositories/{name}/_manifests/tags"))
}

/// `_manifests/tags/<tag>`.
pub(crate) fn tag_dir(name: &RepositoryName, tag: &Tag) -> Result<StoragePath, StorageError> {
    path(format!("{ROOT}/repositories/{name}/_manifests/tags/{tag}"))
}

/// `_manifests/tags/<tag>/current/link`.
pub(crate) fn tag_current_link(
    name: &RepositoryName,
    tag: &Tag,
) -> Result<StoragePath, StorageError> {
    tag_dir(name, tag)?.join("current/link")
}

/// `_manifests/tags/<tag>/index/<alg>/<hex>/link`.
pub(crate) fn tag_index_link(
    name: &RepositoryName,
    tag: &Tag,
    digest: &Digest,
) -> Result<StoragePath, StorageError> {
    tag_dir(name, tag)?.join(&format!(
        "index/{}/{}/link",
        digest.algorithm(),
        digest.encoded()
    ))
}

/// `_uploads`: every upload session of the repository.
pub(crate) fn uploads(name: &RepositoryName) -> Result<StoragePath, StorageError> {
    path(format!("{ROOT}/repositories/{name}/_uploads"))
}

/// `_uploads/<id>`.
pub(crate) fn upload_dir(name: &RepositoryName, id: &str) -> Result<StoragePath, StorageError> {
    check_upload_id(id)?;
    uploads(name)?.join(id)
}

/// `_uploads/<id>/data`.
pub(crate) fn upload_data(name: &RepositoryName, id: &str) -> Result<StoragePath, StorageError> {
    upload_dir(name, id)?.join("data")
}

/// `_uploads/<id>/startedat`.
pub(crate) fn upload_started_at(
    name: &RepositoryName,
    id: &str,
) -> Result<StoragePath, StorageError> {
    upload_dir(name, id)?.join("startedat")
}

/// `_uploads/<id>/hashstates/<alg>`.
pub(crate) fn upload_hash_states(
    name: &RepositoryName,
    id: &str,
    algorithm: Algorithm,
) -> Result<StoragePath, StorageError> {
    upload_dir(name, id)?.join(&format!("hashstates/{algorithm}"))
}

/// `_uploads/<id>/hashstates/<alg>/<offset>`.
pub(crate) fn upload_hash_state(
    name: &RepositoryName,
    id: &str,
    algorithm: Algorithm,
    offset: u64,
) -> Result<StoragePath, StorageError> {
    upload_hash_states(name, id, algorithm)?.join(&offset.to_string())
}

/// `_gantry`: Gantry's indexes for the repository.
pub(crate) fn gantry(name: &RepositoryName) -> Result<StoragePath, StorageError> {
    path(format!("{ROOT}/repositories/{name}/_gantry"))
}

/// `_gantry/version`: present once the indexes are complete.
pub(crate) fn index_version(name: &RepositoryName) -> Result<StoragePath, StorageError> {
    gantry(name)?.join("version")
}

/// `_gantry/tags_by_digest`.
pub(crate) fn tags_by_digest_root(name: &RepositoryName) -> Result<StoragePath, StorageError> {
    gantry(name)?.join("tags_by_digest")
}

/// `_gantry/tags_by_digest/<alg>/<hex>`: one empty-named entry per tag.
pub(crate) fn tags_by_digest(
    name: &RepositoryName,
    digest: &Digest,
) -> Result<StoragePath, StorageError> {
    tags_by_digest_root(name)?.join(&format!("{}/{}", digest.algorithm(), digest.encoded()))
}

/// `_gantry/tags_by_digest/<alg>/<hex>/<tag>`.
pub(crate) fn tag_by_digest(
    name: &RepositoryName,
    digest: &Digest,
    tag: &Tag,
) -> Result<StoragePath, StorageError> {
    tags_by_digest(name, digest)?.join(tag.as_str())
}

/// `_gantry/referrers`.
pub(crate) fn referrers_root(name: &RepositoryName) -> Result<StoragePath, StorageError> {
    gantry(name)?.join("referrers")
}

/// `_gantry/referrers/<alg>/<hex>`: the referrers of one subject.
pub(crate) fn referrers(
    name: &RepositoryName,
    subject: &Digest,
) -> Result<StoragePath, StorageError> {
    referrers_root(name)?.join(&format!("{}/{}", subject.algorithm(), subject.encoded()))
}

/// `_gantry/referrers/<alg>/<hex>/<alg>/<hex>`: one referrer's descriptor.
pub(crate) fn referrer(
    name: &RepositoryName,
    subject: &Digest,
    referrer: &Digest,
) -> Result<StoragePath, StorageError> {
    referrers(name, subject)?.join(&format!("{}/{}", referrer.algorithm(), referrer.encoded()))
}

/// Checks an upload id: 1 to 64 of `A-Z a-z 0-9 _ -` (Distribution's are UUIDs).
pub(crate) fn check_upload_id(id: &str) -> Result<(), StorageError> {
    let valid = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(StorageError::BlobUploadUnknown { id: id.to_owned() })
    }
}

/// Parses a `link` file: a digest string, tolerating surrounding whitespace.
pub(crate) fn parse_link(path: &StoragePath, content: &[u8]) -> Result<Digest, StorageError> {
    std::str::from_utf8(content)
        .ok()
        .and_then(|text| Digest::parse(text.trim()).ok())
        .ok_or_else(|| StorageError::Corrupt {
            path: path.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_distribution_layout() {
        let name = RepositoryName::parse("team/app").unwrap();
        let tag = Tag::parse("v1.0").unwrap();
        let digest = Digest::of(Algorithm::Sha256, b"x");
        let hex = digest.encoded().to_owned();
        let cases = [
            (
                blob_data(&digest).unwrap(),
                format!("/docker/registry/v2/blobs/sha256/{}/{hex}/data", &hex[..2]),
            ),
            (
                layer_link(&name, &digest).unwrap(),
                format!("/docker/registry/v2/repositories/team/app/_layers/sha256/{hex}/link"),
            ),
            (
                revision_link(&name, &digest).unwrap(),
                format!(
                    "/docker/registry/v2/repositories/team/app/_manifests/revisions/sha256/{hex}/link"
                ),
            ),
            (
                tag_current_link(&name, &tag).unwrap(),
                "/docker/registry/v2/repositories/team/app/_manifests/tags/v1.0/current/link"
                    .to_owned(),
            ),
            (
                tag_index_link(&name, &tag, &digest).unwrap(),
                format!(
                    "/docker/registry/v2/repositories/team/app/_manifests/tags/v1.0/index/sha256/{hex}/link"
                ),
            ),
            (
                upload_hash_state(&name, "abc-1", Algorithm::Sha256, 42).unwrap(),
                "/docker/registry/v2/repositories/team/app/_uploads/abc-1/hashstates/sha256/42"
                    .to_owned(),
            ),
        ];
        for (built, expected) in cases {
            assert_eq!(built.as_str(), expected);
        }
    }

    #[test]
    fn upload_ids_cannot_escape() {
        let name = RepositoryName::parse("a").unwrap();
        for bad in ["", "..", "a/b", "a.b", &"x".repeat(65)] {
            assert!(upload_dir(&name, bad).is_err(), "{bad:?}");
        }
        assert!(upload_dir(&name, "3f2c0b1e-aaaa-4bbb-8ccc-0123456789ab").is_ok());
    }
}
