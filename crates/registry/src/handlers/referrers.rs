//! `/v2/<name>/referrers/<digest>`: the manifests whose subject is the digest, as an image index.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gantry_reference::{Digest, RepositoryName};
use gantry_spec::{media_type, referrers};
use gantry_storage::StorageError;

use crate::error::ApiError;
use crate::http::header_value;
use crate::query::{Query, encode};
use crate::state::AppState;

const OCI_FILTERS_APPLIED: &str = "oci-filters-applied";

/// GET: always 200 with an index, empty for a subject nothing refers to. `?artifactType=`
/// filters; `n` and `last` page through long lists in digest order.
pub(crate) async fn list(
    state: &AppState,
    name: &RepositoryName,
    subject: &Digest,
    query: &Query,
) -> Result<Response, ApiError> {
    let artifact_type = query.get("artifactType").filter(|t| !t.is_empty());
    let mut descriptors = match state
        .registry
        .repository(name)
        .referrers(subject, artifact_type)
        .await
    {
        Ok(descriptors) => descriptors,
        Err(StorageError::NameUnknown { .. }) => Vec::new(),
        Err(error) => return Err(error.into()),
    };
    descriptors.sort_by(|a, b| a.digest.cmp(&b.digest));
    if let Some(last) = query.get("last") {
        descriptors.retain(|d| d.digest.as_str() > last);
    }
    let limit = state.registry.options().max_page_size.max(1);
    let n = query
        .get("n")
        .and_then(|n| n.parse::<usize>().ok())
        .map_or(limit, |n| n.clamp(1, limit));
    let next = (descriptors.len() > n).then(|| {
        descriptors.truncate(n);
        let last = descriptors
            .last()
            .map(|d| d.digest.to_string())
            .unwrap_or_default();
        let mut next = format!(
            "/v2/{name}/referrers/{subject}?n={n}&last={}",
            encode(&last)
        );
        if let Some(artifact_type) = artifact_type {
            next.push_str(&format!("&artifactType={}", encode(artifact_type)));
        }
        next
    });

    let index = referrers::index(descriptors).map_err(|error| {
        tracing::error!(%error, "building a referrers index failed");
        ApiError::new(gantry_spec::error_code::ErrorCode::Unknown)
    })?;
    let mut response = (StatusCode::OK, index.bytes().clone()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media_type::OCI_IMAGE_INDEX),
    );
    if artifact_type.is_some() {
        headers.insert(
            OCI_FILTERS_APPLIED,
            HeaderValue::from_static("artifactType"),
        );
    }
    if let Some(next) = next {
        headers.insert(
            header::LINK,
            header_value(&format!("<{next}>; rel=\"next\"")),
        );
    }
    Ok(response)
}
