//! `/v2/<name>/manifests/<reference>`: GET, HEAD, PUT, DELETE.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gantry_reference::{Algorithm, RepositoryName, Tag};
use gantry_spec::error_code::ErrorCode;
use gantry_spec::{Manifest, ParseOptions};
use gantry_storage::StorageError;

use super::{DOCKER_CONTENT_DIGEST, OCI_SUBJECT, OCI_TAG};
use crate::error::ApiError;
use crate::http::{header_value, read_limited};
use crate::query::Query;
use crate::route::ManifestRef;
use crate::state::AppState;

/// GET or HEAD: the manifest's exact bytes, served with the type it was pushed with.
pub(crate) async fn get(
    state: &AppState,
    name: &RepositoryName,
    reference: &ManifestRef,
    head: bool,
) -> Result<Response, ApiError> {
    let manifests = state.registry.repository(name).manifests();
    let manifest = match reference {
        ManifestRef::Tag(tag) => manifests.get_by_tag(tag).await?,
        ManifestRef::Digest(digest) => manifests.get(digest).await?,
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, header_value(manifest.media_type()));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(manifest.size()));
    headers.insert(
        DOCKER_CONTENT_DIGEST,
        header_value(manifest.digest().as_str()),
    );
    headers.insert(
        header::ETAG,
        header_value(&format!("\"{}\"", manifest.digest())),
    );
    let body = if head {
        Body::empty()
    } else {
        Body::from(manifest.bytes().clone())
    };
    Ok((StatusCode::OK, headers, body).into_response())
}

/// PUT: parse and check the manifest, store it, and tag it with the URL's tag and every
/// `?tag=`.
pub(crate) async fn put(
    state: &AppState,
    name: &RepositoryName,
    reference: &ManifestRef,
    query: &Query,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let limit = state.registry.options().max_manifest_size;
    let bytes = read_limited(headers, body, limit).await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let algorithm = match reference {
        ManifestRef::Digest(digest) => digest.algorithm(),
        ManifestRef::Tag(_) => Algorithm::Sha256,
    };
    let options = ParseOptions::new()
        .with_max_size(limit)
        .with_algorithm(algorithm);
    let manifest = Manifest::parse_with(bytes, content_type, &options)
        .map_err(|error| ApiError::from(StorageError::ManifestInvalid(error)))?;
    if let ManifestRef::Digest(digest) = reference
        && manifest.digest() != digest
    {
        return Err(ApiError::new(ErrorCode::DigestInvalid).message(format!(
            "the manifest's digest is {}, not {digest}",
            manifest.digest()
        )));
    }
    let extra_tags = query
        .all("tag")
        .map(|tag| {
            Tag::parse(tag).map_err(|_| {
                ApiError::new(ErrorCode::ManifestInvalid).message(format!("invalid tag {tag:?}"))
            })
        })
        .collect::<Result<Vec<Tag>, ApiError>>()?;

    let repository = state.registry.repository(name);
    let url_tag = match reference {
        ManifestRef::Tag(tag) => Some(tag),
        ManifestRef::Digest(_) => None,
    };
    let digest = repository
        .manifests()
        .put_manifest(&manifest, url_tag)
        .await?;
    for tag in &extra_tags {
        repository.tags().tag(tag, &digest).await?;
    }

    let mut response = StatusCode::CREATED.into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(
        header::LOCATION,
        header_value(&format!("/v2/{name}/manifests/{digest}")),
    );
    response_headers.insert(DOCKER_CONTENT_DIGEST, header_value(digest.as_str()));
    if let Some(subject) = manifest.subject() {
        response_headers.insert(OCI_SUBJECT, header_value(subject.digest.as_str()));
    }
    for tag in &extra_tags {
        response_headers.append(OCI_TAG, header_value(tag.as_str()));
    }
    Ok(response)
}

/// DELETE: by tag, untags; by digest, removes the manifest and every tag pointing at it.
pub(crate) async fn delete(
    state: &AppState,
    name: &RepositoryName,
    reference: &ManifestRef,
) -> Result<Response, ApiError> {
    if !state.registry.options().delete_enabled {
        return Err(StorageError::DeleteDisabled.into());
    }
    let repository = state.registry.repository(name);
    match reference {
        ManifestRef::Tag(tag) => repository.tags().untag(tag).await?,
        ManifestRef::Digest(digest) => repository.manifests().delete(digest).await?,
    }
    Ok(StatusCode::ACCEPTED.into_response())
}
