//! Manifests: get (with an `Accept` list of every kind Gantry parses), head, put, put by digest
//! with tags, delete.

use bytes::Bytes;
use gantry_reference::{Digest, Reference, Tag};
use gantry_spec::{Descriptor, Manifest, ParseOptions, media_type};
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, Response};

use crate::client::Client;
use crate::error::ClientError;
use crate::http::{self, Body, Call, header_str, query_value};

/// The media types a manifest request accepts: OCI manifests and indexes, Docker schema 2
/// manifests and manifest lists. Schema 1 is left out on purpose, so registries that can
/// convert send schema 2.
pub const MANIFEST_ACCEPT: [&str; 4] = [
    media_type::OCI_IMAGE_MANIFEST,
    media_type::OCI_IMAGE_INDEX,
    media_type::DOCKER_MANIFEST,
    media_type::DOCKER_MANIFEST_LIST,
];

/// The header registries send the digest of a manifest or blob in.
pub(crate) const CONTENT_DIGEST: &str = "Docker-Content-Digest";

/// The digest or tag in a manifest URL: the digest when the reference has both.
fn manifest_target(reference: &Reference) -> Result<String, ClientError> {
    match (reference.digest(), reference.tag()) {
        (Some(digest), _) => Ok(digest.to_string()),
        (None, Some(tag)) => Ok(tag.to_owned()),
        (None, None) => Err(ClientError::MissingTagOrDigest {
            reference: reference.to_string(),
        }),
    }
}

fn accept_header() -> HeaderValue {
    HeaderValue::from_static(
        "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, \
         application/vnd.docker.distribution.manifest.v2+json, \
         application/vnd.docker.distribution.manifest.list.v2+json",
    )
}

/// The media type of a `Content-Type` value, without parameters.
fn content_type(response: &Response) -> Option<String> {
    header_str(response, "content-type")
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Checks a `Docker-Content-Digest` header, when there is one, against `bytes`.
pub(crate) fn check_announced_digest(
    method: &Method,
    url: &str,
    header: Option<&str>,
    bytes: &[u8],
) -> Result<(), ClientError> {
    let Some(header) = header else {
        return Ok(());
    };
    let announced = Digest::parse(header)
        .map_err(|_| ClientError::invalid_header(method, url, CONTENT_DIGEST, header))?;
    let actual = Digest::of(announced.algorithm(), bytes);
    if actual != announced {
        return Err(ClientError::DigestMismatch {
            expected: announced,
            actual,
        });
    }
    Ok(())
}

impl Client {
    /// Fetches the manifest `reference` names by tag or digest.
    ///
    /// The body is read under [`max_manifest_pull`](crate::ClientConfig::max_manifest_pull).
    /// Fetched by digest, the bytes must hash to it; fetched by tag, they must hash to the
    /// `Docker-Content-Digest` the registry announces, if it does.
    pub async fn get_manifest(&self, reference: &Reference) -> Result<Manifest, ClientError> {
        let repository = self.repository(reference).await?;
        let url = repository.url(&format!("manifests/{}", manifest_target(reference)?));
        let method = Method::GET;
        let call = Call::new(method.clone(), &url)
            .header(ACCEPT, accept_header())
            .scope(repository.scope("pull"));
        let response = http::send(&self.inner, call).await?;
        let content_type = content_type(&response);
        let announced = header_str(&response, CONTENT_DIGEST).map(str::to_owned);
        let limit = self.inner.config.max_manifest_pull;
        let bytes = http::read_limited(&method, &url, response, limit, "manifest").await?;
        let algorithm = match reference.digest() {
            Some(expected) => {
                let actual = Digest::of(expected.algorithm(), &bytes);
                if &actual != expected {
                    return Err(ClientError::DigestMismatch {
                        expected: expected.clone(),
                        actual,
                    });
                }
                expected.algorithm()
            }
            None => {
                check_announced_digest(&method, &url, announced.as_deref(), &bytes)?;
                announced
                    .as_deref()
                    .and_then(|d| Digest::parse(d).ok())
                    .map_or(gantry_reference::Algorithm::Sha256, |d| d.algorithm())
            }
        };
        let options = ParseOptions::new()
            .with_max_size(limit)
            .with_algorithm(algorithm);
        Ok(Manifest::parse_with(
            bytes,
            content_type.as_deref(),
            &options,
        )?)
    }

    /// Asks for the descriptor of the manifest `reference` names, without its body: media type,
    /// digest (from `Docker-Content-Digest`, or the reference's own) and size.
    pub async fn head_manifest(&self, reference: &Reference) -> Result<Descriptor, ClientError> {
        let repository = self.repository(reference).await?;
        let url = repository.url(&format!("manifests/{}", manifest_target(reference)?));
        let method = Method::HEAD;
        let call = Call::new(method.clone(), &url)
            .header(ACCEPT, accept_header())
            .scope(repository.scope("pull"));
        let response = http::send(&self.inner, call).await?;
        let media_type = content_type(&response)
            .ok_or_else(|| ClientError::missing_header(&method, &url, "Content-Type"))?;
        let size = content_length(&method, &url, &response)?;
        let digest = match header_str(&response, CONTENT_DIGEST) {
            Some(value) => {
                let digest = Digest::parse(value).map_err(|_| {
                    ClientError::invalid_header(&method, &url, CONTENT_DIGEST, value)
                })?;
                if let Some(expected) = reference.digest()
                    && expected != &digest
                {
                    return Err(ClientError::DigestMismatch {
                        expected: expected.clone(),
                        actual: digest,
                    });
                }
                digest
            }
            None => reference
                .digest()
                .cloned()
                .ok_or_else(|| ClientError::missing_header(&method, &url, CONTENT_DIGEST))?,
        };
        Ok(Descriptor::new(media_type, digest, size))
    }

    /// Pushes `manifest` under the tag of `reference` (or its digest when it has no tag) and
    /// returns the manifest's digest, after checking the registry's `Docker-Content-Digest`.
    pub async fn put_manifest(
        &self,
        reference: &Reference,
        manifest: &Manifest,
    ) -> Result<Digest, ClientError> {
        let target = match reference.tag() {
            Some(tag) => tag.to_owned(),
            None => manifest.digest().to_string(),
        };
        self.put_manifest_at(reference, manifest, &format!("manifests/{target}"))
            .await
    }

    /// Pushes `manifest` by its digest, tagging it with each of `tags` in the same request
    /// (`?tag=`, the OCI specification's push by digest with tags), and returns its digest.
    pub async fn put_manifest_with_tags(
        &self,
        reference: &Reference,
        manifest: &Manifest,
        tags: &[Tag],
    ) -> Result<Digest, ClientError> {
        let mut rest = format!("manifests/{}", manifest.digest());
        for (i, tag) in tags.iter().enumerate() {
            rest.push(if i == 0 { '?' } else { '&' });
            rest.push_str("tag=");
            rest.push_str(&query_value(tag.as_str()));
        }
        self.put_manifest_at(reference, manifest, &rest).await
    }

    async fn put_manifest_at(
        &self,
        reference: &Reference,
        manifest: &Manifest,
        rest: &str,
    ) -> Result<Digest, ClientError> {
        let limit = self.inner.config.max_manifest_push;
        if manifest.bytes().len() > limit {
            return Err(ClientError::TooLarge {
                what: "manifest",
                limit: limit as u64,
            });
        }
        if let Some(expected) = reference.digest()
            && expected != manifest.digest()
        {
            return Err(ClientError::DigestMismatch {
                expected: expected.clone(),
                actual: manifest.digest().clone(),
            });
        }
        let repository = self.repository(reference).await?;
        let url = repository.url(rest);
        let method = Method::PUT;
        let call = Call::new(method.clone(), &url)
            .scope(repository.scope("pull,push"))
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static(manifest.media_type()),
            )
            .header(CONTENT_LENGTH, HeaderValue::from(manifest.bytes().len()))
            .body(Body::Bytes(Bytes::clone(manifest.bytes())));
        let response = http::send(&self.inner, call).await?;
        if response.status().as_u16() != 201 {
            return Err(ClientError::unexpected_status(
                &method,
                &url,
                response.status().as_u16(),
            ));
        }
        check_announced_digest(
            &method,
            &url,
            header_str(&response, CONTENT_DIGEST),
            manifest.bytes(),
        )?;
        Ok(manifest.digest().clone())
    }

    /// Deletes the manifest `reference` names by digest (or the tag, where the registry allows
    /// deleting tags).
    pub async fn delete_manifest(&self, reference: &Reference) -> Result<(), ClientError> {
        let repository = self.repository(reference).await?;
        let url = repository.url(&format!("manifests/{}", manifest_target(reference)?));
        let call = Call::new(Method::DELETE, &url).scope(repository.scope("delete"));
        http::send(&self.inner, call).await?;
        Ok(())
    }
}

/// `Content-Length` as a number, required.
pub(crate) fn content_length(
    method: &Method,
    url: &str,
    response: &Response,
) -> Result<u64, ClientError> {
    let value = header_str(response, "content-length")
        .ok_or_else(|| ClientError::missing_header(method, url, "Content-Length"))?;
    value
        .parse()
        .map_err(|_| ClientError::invalid_header(method, url, "Content-Length", value))
}
