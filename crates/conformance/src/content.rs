//! Test content and the plain pushes that set it up: fresh blobs, images whose config and layer
//! are new to the registry, and the uploads and manifest pushes that checks build on.

use bytes::Bytes;
use gantry_reference::{Algorithm, Digest};
use gantry_spec::{Descriptor, ImageManifest, Manifest, media_type};
use reqwest::Method;

use crate::expect;
use crate::http::{Reason, Response};
use crate::run::Ctx;

/// The `Accept` header of manifest requests: every manifest type the checks push.
pub(crate) const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
     application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json";

/// A blob: its bytes and digest.
#[derive(Clone)]
pub(crate) struct Blob {
    pub(crate) bytes: Bytes,
    pub(crate) digest: Digest,
}

impl Blob {
    /// A fresh blob of `len` random bytes, addressed with `algorithm`.
    pub(crate) fn random(ctx: &mut Ctx<'_>, len: usize, algorithm: Algorithm) -> Blob {
        let bytes = Bytes::from(ctx.random_bytes(len));
        Blob {
            digest: Digest::of(algorithm, &bytes),
            bytes,
        }
    }
}

/// An image: a config blob, one layer blob, and the manifest over them.
pub(crate) struct Image {
    pub(crate) config: Blob,
    pub(crate) layer: Blob,
    pub(crate) manifest: Manifest,
}

impl Image {
    /// A fresh OCI image: a small config, one random layer, and the manifest over them.
    pub(crate) fn new(ctx: &mut Ctx<'_>) -> Result<Image, Reason> {
        Image::with(ctx, false, |b| b)
    }

    /// A fresh image: Docker schema 2 when `docker`, else OCI; `annotate` may add to the builder.
    pub(crate) fn with(
        ctx: &mut Ctx<'_>,
        docker: bool,
        annotate: impl FnOnce(gantry_spec::ImageManifestBuilder) -> gantry_spec::ImageManifestBuilder,
    ) -> Result<Image, Reason> {
        let nonce = base16ct::lower::encode_string(&ctx.random_bytes(8));
        let config_json = format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"config":{{"Labels":{{"conformance.nonce":"{nonce}"}}}}}}"#
        );
        let config = Blob {
            digest: Digest::of(Algorithm::Sha256, config_json.as_bytes()),
            bytes: Bytes::from(config_json),
        };
        let layer = Blob::random(ctx, 512, Algorithm::Sha256);
        let (config_type, layer_type) = if docker {
            (
                media_type::DOCKER_CONTAINER_CONFIG,
                media_type::DOCKER_LAYER_TAR_GZIP,
            )
        } else {
            (media_type::OCI_IMAGE_CONFIG, media_type::OCI_LAYER_TAR_GZIP)
        };
        let config_descriptor = Descriptor::of(config_type, &config.bytes);
        let layer_descriptor = Descriptor::of(layer_type, &layer.bytes);
        let builder = if docker {
            ImageManifest::docker_builder(config_descriptor)
        } else {
            ImageManifest::builder(config_descriptor)
        };
        let manifest = annotate(builder.layer(layer_descriptor))
            .build()
            .map_err(|e| format!("building the test manifest failed: {e}"))?;
        Ok(Image {
            config,
            layer,
            manifest,
        })
    }

    /// Pushes the config and the layer to `repository`.
    pub(crate) fn push_blobs(&self, ctx: &Ctx<'_>, repository: &str) -> Result<(), Reason> {
        push_blob(ctx, repository, &self.config)?;
        push_blob(ctx, repository, &self.layer)
    }

    /// Pushes the blobs, then the manifest under `reference` (a tag or its digest).
    pub(crate) fn push(
        &self,
        ctx: &Ctx<'_>,
        repository: &str,
        reference: &str,
    ) -> Result<(), Reason> {
        self.push_blobs(ctx, repository)?;
        let response = put_manifest(ctx, repository, reference, &self.manifest)?;
        expect::status(&response, &[201]).map_err(|r| format!("setup: {r}"))
    }
}

/// Starts an upload session in `repository`: `POST /v2/<name>/blobs/uploads/`, expecting 202 and
/// a `Location`, which it returns.
pub(crate) fn start_upload(ctx: &Ctx<'_>, repository: &str) -> Result<String, Reason> {
    let response = ctx.http.send(
        ctx.http
            .request(Method::POST, &format!("/v2/{repository}/blobs/uploads/")),
    )?;
    expect::status(&response, &[202])?;
    Ok(expect::header(&response, "Location")?.to_owned())
}

/// `PUT <location>?digest=<digest>` with `body` (or none).
pub(crate) fn finish_upload(
    ctx: &Ctx<'_>,
    location: &str,
    digest: &str,
    body: Option<&Bytes>,
) -> Result<Response, Reason> {
    let mut request = ctx
        .http
        .request_at(Method::PUT, location)?
        .query("digest", digest);
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/octet-stream")
            .body(body.clone());
    }
    ctx.http.send(request)
}

/// `PATCH <location>` with `chunk`, and a `Content-Range` when `range` is given.
pub(crate) fn patch(
    ctx: &Ctx<'_>,
    location: &str,
    chunk: Bytes,
    range: Option<(u64, u64)>,
) -> Result<Response, Reason> {
    let mut request = ctx
        .http
        .request_at(Method::PATCH, location)?
        .header("Content-Type", "application/octet-stream");
    if let Some((start, end)) = range {
        request = request.header("Content-Range", format!("{start}-{end}"));
    }
    ctx.http.send(request.body(chunk))
}

/// Pushes `blob` to `repository` with `POST` then `PUT`, as setup for other checks.
pub(crate) fn push_blob(ctx: &Ctx<'_>, repository: &str, blob: &Blob) -> Result<(), Reason> {
    let location = start_upload(ctx, repository).map_err(|r| format!("setup: {r}"))?;
    let response = finish_upload(ctx, &location, blob.digest.as_str(), Some(&blob.bytes))?;
    expect::status(&response, &[201]).map_err(|r| format!("setup: {r}"))
}

/// `PUT /v2/<repository>/manifests/<reference>` with the manifest's bytes and media type.
pub(crate) fn put_manifest(
    ctx: &Ctx<'_>,
    repository: &str,
    reference: &str,
    manifest: &Manifest,
) -> Result<Response, Reason> {
    put_manifest_bytes(
        ctx,
        repository,
        reference,
        manifest.media_type(),
        manifest.bytes().clone(),
    )
}

/// `PUT /v2/<repository>/manifests/<reference>` with raw `bytes` of `content_type`.
pub(crate) fn put_manifest_bytes(
    ctx: &Ctx<'_>,
    repository: &str,
    reference: &str,
    content_type: &str,
    bytes: Bytes,
) -> Result<Response, Reason> {
    ctx.http.send(
        ctx.http
            .request(
                Method::PUT,
                &format!("/v2/{repository}/manifests/{reference}"),
            )
            .header("Content-Type", content_type)
            .body(bytes),
    )
}

/// `GET` or `HEAD` of `/v2/<repository>/<kind>/<reference>` (kind is `manifests` or `blobs`).
pub(crate) fn fetch(
    ctx: &Ctx<'_>,
    method: Method,
    repository: &str,
    kind: &str,
    reference: &str,
) -> Result<Response, Reason> {
    let mut request = ctx
        .http
        .request(method, &format!("/v2/{repository}/{kind}/{reference}"));
    if kind == "manifests" {
        request = request.header("Accept", MANIFEST_ACCEPT);
    }
    ctx.http.send(request)
}

/// A digest of `algorithm` for content that nobody pushed.
pub(crate) fn unknown_digest(ctx: &mut Ctx<'_>, algorithm: Algorithm) -> Digest {
    let bytes = ctx.random_bytes(64);
    Digest::of(algorithm, &bytes)
}

/// Checks that a response carries a `Docker-Content-Digest` that is a digest of `content`. The
/// registry may use another algorithm than the client did (the specification allows it), but the
/// digest must match the content.
pub(crate) fn expect_digest_of(response: &Response, content: &[u8]) -> Result<(), Reason> {
    let value = expect::header(response, "Docker-Content-Digest")?;
    let digest = Digest::parse(value).map_err(|e| {
        format!(
            "expected `Docker-Content-Digest` to be a digest, but {} with `{value}`: {e}",
            response.describe()
        )
    })?;
    let actual = Digest::of(digest.algorithm(), content);
    expect::that(digest == actual, || {
        format!(
            "expected `Docker-Content-Digest` to match the content ({actual}), but {} with `{value}`",
            response.describe()
        )
    })
}

/// Setup failed before the check could start.
pub(crate) fn setup_failed(reason: &Reason) -> Reason {
    if reason.starts_with("setup: ") {
        reason.clone()
    } else {
        format!("setup: {reason}")
    }
}

/// Like [`expect_digest_of`], for responses where the header is optional (blob upload
/// completion): checked only when present.
pub(crate) fn expect_digest_if_present(response: &Response, content: &[u8]) -> Result<(), Reason> {
    if response.header("Docker-Content-Digest").is_none() {
        return Ok(());
    }
    expect_digest_of(response, content)
}
