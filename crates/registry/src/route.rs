//! The `/v2/` router: which endpoint a request path names, with its parts validated.
//!
//! Repository names contain slashes, so the path is read from its end: the last one or two
//! segments say which endpoint it is, and everything before them is the name.
//!
//! ```text
//! /v2/                                   Base
//! /v2/_catalog                           Catalog
//! /v2/<name>/tags/list                   Tags
//! /v2/<name>/manifests/<tag|digest>      Manifest
//! /v2/<name>/blobs/<digest>              Blob
//! /v2/<name>/blobs/uploads/              UploadStart
//! /v2/<name>/blobs/uploads/<id>          Upload
//! /v2/<name>/referrers/<digest>          Referrers
//! ```
//!
//! The path is taken as sent: percent-encoded bytes are never decoded, so `%2e%2e` or `%2f` can
//! only ever make a name invalid.

use gantry_reference::{Digest, DigestError, ReferenceError, RepositoryName, Tag};

/// An API endpoint and its validated parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/v2/`: the API version check.
    Base,
    /// `/v2/_catalog`: the repositories.
    Catalog,
    /// `/v2/<name>/tags/list`: a repository's tags.
    Tags {
        /// The repository.
        name: RepositoryName,
    },
    /// `/v2/<name>/manifests/<reference>`: a manifest by tag or digest.
    Manifest {
        /// The repository.
        name: RepositoryName,
        /// The tag or digest.
        reference: ManifestRef,
    },
    /// `/v2/<name>/blobs/<digest>`: a blob.
    Blob {
        /// The repository.
        name: RepositoryName,
        /// The blob's digest.
        digest: Digest,
    },
    /// `/v2/<name>/blobs/uploads/`: where uploads start.
    UploadStart {
        /// The repository.
        name: RepositoryName,
    },
    /// `/v2/<name>/blobs/uploads/<id>`: an upload session.
    Upload {
        /// The repository.
        name: RepositoryName,
        /// The session's identifier.
        id: String,
    },
    /// `/v2/<name>/referrers/<digest>`: the manifests that refer to a subject.
    Referrers {
        /// The repository.
        name: RepositoryName,
        /// The subject's digest.
        digest: Digest,
    },
}

/// A manifest reference from a URL: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestRef {
    /// A tag.
    Tag(Tag),
    /// A digest.
    Digest(Digest),
}

impl std::fmt::Display for ManifestRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ManifestRef::Tag(tag) => tag.fmt(f),
            ManifestRef::Digest(digest) => digest.fmt(f),
        }
    }
}

/// Why a path names no endpoint, or names one with an invalid part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The path is not an API endpoint.
    #[error("no such endpoint")]
    NotFound,
    /// The repository name is invalid.
    #[error("invalid repository name: {0}")]
    NameInvalid(#[source] ReferenceError),
    /// The digest is invalid.
    #[error("invalid digest: {0}")]
    DigestInvalid(#[source] DigestError),
    /// The manifest reference is neither a tag nor a digest.
    #[error("invalid tag")]
    TagInvalid,
    /// The upload identifier has characters no identifier has.
    #[error("invalid upload identifier")]
    UploadIdInvalid,
}

/// The longest upload identifier accepted.
const MAX_UPLOAD_ID_LEN: usize = 128;

/// Reads the endpoint a request path names.
pub fn parse(path: &str) -> Result<Route, RouteError> {
    let rest = match path {
        "/v2" | "/v2/" => return Ok(Route::Base),
        _ => path.strip_prefix("/v2/").ok_or(RouteError::NotFound)?,
    };
    if rest == "_catalog" {
        return Ok(Route::Catalog);
    }
    let (before_last, last) = rest.rsplit_once('/').ok_or(RouteError::NotFound)?;
    let (before_previous, previous) = before_last.rsplit_once('/').ok_or(RouteError::NotFound)?;
    let two_back = before_previous.rsplit_once('/');

    match (previous, last) {
        ("tags", "list") => Ok(Route::Tags {
            name: name(before_previous)?,
        }),
        ("manifests", reference) => Ok(Route::Manifest {
            name: name(before_previous)?,
            reference: manifest_ref(reference)?,
        }),
        ("referrers", digest) => Ok(Route::Referrers {
            name: name(before_previous)?,
            digest: digest_of(digest)?,
        }),
        ("blobs", "uploads") => Ok(Route::UploadStart {
            name: name(before_previous)?,
        }),
        ("uploads", id) => match two_back {
            Some((name_part, "blobs")) if id.is_empty() => Ok(Route::UploadStart {
                name: name(name_part)?,
            }),
            Some((name_part, "blobs")) => Ok(Route::Upload {
                name: name(name_part)?,
                id: upload_id(id)?,
            }),
            _ => Err(RouteError::NotFound),
        },
        ("blobs", digest) => Ok(Route::Blob {
            name: name(before_previous)?,
            digest: digest_of(digest)?,
        }),
        _ => Err(RouteError::NotFound),
    }
}

fn name(s: &str) -> Result<RepositoryName, RouteError> {
    RepositoryName::parse(s).map_err(RouteError::NameInvalid)
}

fn digest_of(s: &str) -> Result<Digest, RouteError> {
    Digest::parse(s).map_err(RouteError::DigestInvalid)
}

fn manifest_ref(s: &str) -> Result<ManifestRef, RouteError> {
    if s.contains(':') {
        digest_of(s).map(ManifestRef::Digest)
    } else {
        Tag::parse(s)
            .map(ManifestRef::Tag)
            .map_err(|_| RouteError::TagInvalid)
    }
}

fn upload_id(s: &str) -> Result<String, RouteError> {
    let valid = !s.is_empty()
        && s.len() <= MAX_UPLOAD_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(s.to_owned())
    } else {
        Err(RouteError::UploadIdInvalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> RepositoryName {
        RepositoryName::parse(s).unwrap()
    }

    #[test]
    fn paths_name_their_endpoints() {
        let d = format!("sha256:{}", "a".repeat(64));
        let digest = Digest::parse(&d).unwrap();
        let cases: Vec<(String, Route)> = vec![
            ("/v2/".into(), Route::Base),
            ("/v2".into(), Route::Base),
            ("/v2/_catalog".into(), Route::Catalog),
            ("/v2/a/tags/list".into(), Route::Tags { name: n("a") }),
            (
                "/v2/a/tags/tags/list".into(),
                Route::Tags { name: n("a/tags") },
            ),
            (
                "/v2/team/app/manifests/latest".into(),
                Route::Manifest {
                    name: n("team/app"),
                    reference: ManifestRef::Tag(Tag::parse("latest").unwrap()),
                },
            ),
            (
                format!("/v2/a/manifests/{d}"),
                Route::Manifest {
                    name: n("a"),
                    reference: ManifestRef::Digest(digest.clone()),
                },
            ),
            (
                "/v2/x/blobs/manifests/list".into(),
                Route::Manifest {
                    name: n("x/blobs"),
                    reference: ManifestRef::Tag(Tag::parse("list").unwrap()),
                },
            ),
            (
                format!("/v2/a/b/blobs/{d}"),
                Route::Blob {
                    name: n("a/b"),
                    digest: digest.clone(),
                },
            ),
            (
                format!("/v2/x/blobs/blobs/{d}"),
                Route::Blob {
                    name: n("x/blobs"),
                    digest: digest.clone(),
                },
            ),
            (
                "/v2/a/blobs/uploads/".into(),
                Route::UploadStart { name: n("a") },
            ),
            (
                "/v2/a/blobs/uploads".into(),
                Route::UploadStart { name: n("a") },
            ),
            (
                "/v2/x/blobs/blobs/uploads/".into(),
                Route::UploadStart { name: n("x/blobs") },
            ),
            (
                "/v2/a/blobs/uploads/0b9e1c52-6c1a-4f57-9d2e-0c7c1d3a1f00".into(),
                Route::Upload {
                    name: n("a"),
                    id: "0b9e1c52-6c1a-4f57-9d2e-0c7c1d3a1f00".into(),
                },
            ),
            (
                format!("/v2/a/referrers/{d}"),
                Route::Referrers {
                    name: n("a"),
                    digest,
                },
            ),
        ];
        for (path, route) in cases {
            assert_eq!(parse(&path), Ok(route), "{path}");
        }
    }

    #[test]
    fn bad_paths_are_refused_with_the_right_reason() {
        let not_found = [
            "/",
            "/v1/",
            "/v2/a",
            "/v2/a/",
            "/v2/a/unknown/x",
            "/v2//tags/list",
            "/v2/a/uploads/x",
        ];
        for path in not_found {
            assert!(
                matches!(
                    parse(path),
                    Err(RouteError::NotFound | RouteError::NameInvalid(_))
                ),
                "{path}"
            );
        }
        let name_invalid = [
            "/v2/A/tags/list",
            "/v2/../tags/list",
            "/v2/a/../b/tags/list",
            "/v2/%2e%2e/tags/list",
            "/v2/a%2fb/tags/list",
            "/v2//a/tags/list",
        ];
        for path in name_invalid {
            assert!(
                matches!(parse(path), Err(RouteError::NameInvalid(_))),
                "{path}"
            );
        }
        assert!(matches!(
            parse("/v2/a/blobs/sha256:abc"),
            Err(RouteError::DigestInvalid(DigestError::InvalidLength))
        ));
        assert!(matches!(
            parse("/v2/a/blobs/nodigest"),
            Err(RouteError::DigestInvalid(DigestError::InvalidFormat))
        ));
        assert!(matches!(
            parse("/v2/a/manifests/sha256:zz"),
            Err(RouteError::DigestInvalid(_))
        ));
        assert_eq!(parse("/v2/a/manifests/.bad"), Err(RouteError::TagInvalid));
        assert_eq!(
            parse("/v2/a/blobs/uploads/..%2f"),
            Err(RouteError::UploadIdInvalid)
        );
    }
}
