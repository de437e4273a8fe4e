//! Push: every way to upload a blob (monolithic, single `POST`, streamed, chunked), upload
//! status and cancel, mounts, and manifest pushes with their error cases.

use bytes::Bytes;
use gantry_reference::{Algorithm, Digest};
use gantry_spec::error_code::ErrorCode;
use gantry_spec::{Descriptor, ImageManifest, media_type};
use reqwest::Method;

use crate::content::{
    Blob, Image, expect_digest_if_present, expect_digest_of, fetch, finish_upload, patch,
    push_blob, put_manifest, put_manifest_bytes, start_upload,
};
use crate::expect;
use crate::http::Reason;
use crate::run::Ctx;

/// A manifest over the limit every registry should enforce (4 MiB).
const OVERSIZED_MANIFEST: usize = 5 * 1024 * 1024;
/// A manifest just under 4 MiB, which registries should accept.
const LARGE_MANIFEST: usize = 3_900_000;
const _: () = assert!(LARGE_MANIFEST < 4 * 1024 * 1024 && OVERSIZED_MANIFEST > 4 * 1024 * 1024);

pub(crate) fn run(ctx: &mut Ctx<'_>) {
    let name = ctx.name().to_owned();
    blobs(ctx, &name);
    chunked(ctx, &name);
    mounts(ctx, &name);
    manifests(ctx, &name);
}

/// The blob is in `repository`: `HEAD` answers 200.
fn blob_present(ctx: &Ctx<'_>, repository: &str, blob: &Blob) -> Result<(), Reason> {
    let response = fetch(ctx, Method::HEAD, repository, "blobs", blob.digest.as_str())?;
    expect::status(&response, &[200]).map_err(|r| format!("after the upload, {r}"))
}

fn blobs(ctx: &mut Ctx<'_>, name: &str) {
    ctx.check("blob-monolithic-post-put", |ctx| {
        let blob = Blob::random(ctx, 1024, Algorithm::Sha256);
        let location = start_upload(ctx, name)?;
        let response = finish_upload(ctx, &location, blob.digest.as_str(), Some(&blob.bytes))?;
        expect::status(&response, &[201])?;
        expect::header(&response, "Location")?;
        expect_digest_if_present(&response, &blob.bytes)?;
        blob_present(ctx, name, &blob)
    });
    ctx.check("blob-single-post", |ctx| {
        let blob = Blob::random(ctx, 1024, Algorithm::Sha256);
        let response = ctx.http.send(
            ctx.http
                .request(Method::POST, &format!("/v2/{name}/blobs/uploads/"))
                .query("digest", blob.digest.as_str())
                .header("Content-Type", "application/octet-stream")
                .body(blob.bytes.clone()),
        )?;
        expect::status(&response, &[201])?;
        expect::header(&response, "Location")?;
        blob_present(ctx, name, &blob)
    });
    ctx.check("blob-streamed-patch", |ctx| {
        let blob = Blob::random(ctx, 4096, Algorithm::Sha256);
        let location = start_upload(ctx, name)?;
        let response = patch(ctx, &location, blob.bytes.clone(), None)?;
        expect::status(&response, &[202])?;
        expect::header_eq(&response, "Range", &format!("0-{}", blob.bytes.len() - 1))?;
        let location = expect::header(&response, "Location")?.to_owned();
        let response = finish_upload(ctx, &location, blob.digest.as_str(), None)?;
        expect::status(&response, &[201])?;
        expect_digest_if_present(&response, &blob.bytes)?;
        blob_present(ctx, name, &blob)
    });
    ctx.check("blob-digest-mismatch", |ctx| {
        let blob = Blob::random(ctx, 1024, Algorithm::Sha256);
        let wrong = Digest::of(Algorithm::Sha256, b"not the bytes sent");
        let location = start_upload(ctx, name)?;
        let response = finish_upload(ctx, &location, wrong.as_str(), Some(&blob.bytes))?;
        expect::error(&response, &[400], &[ErrorCode::DigestInvalid])
    });
    ctx.check("upload-cancel", |ctx| {
        let location = start_upload(ctx, name)?;
        let response = ctx
            .http
            .send(ctx.http.request_at(Method::DELETE, &location)?)?;
        expect::status(&response, &[204])?;
        let response = ctx
            .http
            .send(ctx.http.request_at(Method::GET, &location)?)?;
        expect::error(&response, &[404], &[ErrorCode::BlobUploadUnknown])
            .map_err(|r| format!("after the cancel, {r}"))
    });
}

/// A blob in three chunks of 1000, 1000 and 500 bytes.
fn three_chunks(ctx: &mut Ctx<'_>) -> (Blob, [(u64, u64, Bytes); 3]) {
    let blob = Blob::random(ctx, 2500, Algorithm::Sha256);
    let chunks = [(0, 999), (1000, 1999), (2000, 2499)]
        .map(|(start, end)| (start, end, blob.bytes.slice(start as usize..=end as usize)));
    (blob, chunks)
}

/// Sends `chunks` in order with `Content-Range`, each answered 202 with the right `Range`;
/// returns the last `Location`.
fn send_chunks(
    ctx: &Ctx<'_>,
    mut location: String,
    chunks: &[(u64, u64, Bytes)],
) -> Result<String, Reason> {
    for (start, end, chunk) in chunks {
        let response = patch(ctx, &location, chunk.clone(), Some((*start, *end)))?;
        expect::status(&response, &[202])?;
        expect::header_eq(&response, "Range", &format!("0-{end}"))?;
        location = expect::header(&response, "Location")?.to_owned();
    }
    Ok(location)
}

fn chunked(ctx: &mut Ctx<'_>, name: &str) {
    ctx.check("blob-chunked-put-without-final-chunk", |ctx| {
        let (blob, chunks) = three_chunks(ctx);
        let location = send_chunks(ctx, start_upload(ctx, name)?, &chunks)?;
        let response = finish_upload(ctx, &location, blob.digest.as_str(), None)?;
        expect::status(&response, &[201])?;
        expect_digest_if_present(&response, &blob.bytes)?;
        blob_present(ctx, name, &blob)
    });
    ctx.check("blob-chunked-put-with-final-chunk", |ctx| {
        let (blob, chunks) = three_chunks(ctx);
        let location = send_chunks(ctx, start_upload(ctx, name)?, &chunks[..2])?;
        let (start, end, last) = &chunks[2];
        let response = ctx.http.send(
            ctx.http
                .request_at(Method::PUT, &location)?
                .query("digest", blob.digest.as_str())
                .header("Content-Type", "application/octet-stream")
                .header("Content-Range", format!("{start}-{end}"))
                .body(last.clone()),
        )?;
        expect::status(&response, &[201])?;
        expect_digest_if_present(&response, &blob.bytes)?;
        blob_present(ctx, name, &blob)
    });
    ctx.check("upload-status", |ctx| {
        let (_, chunks) = three_chunks(ctx);
        let location = send_chunks(ctx, start_upload(ctx, name)?, &chunks[..1])?;
        let response = ctx
            .http
            .send(ctx.http.request_at(Method::GET, &location)?)?;
        expect::status(&response, &[204])?;
        expect::header(&response, "Location")?;
        expect::header_eq(&response, "Range", "0-999")
    });
    ctx.check("blob-chunked-out-of-order", |ctx| {
        let (_, chunks) = three_chunks(ctx);
        let location = send_chunks(ctx, start_upload(ctx, name)?, &chunks[..1])?;
        let (start, end, chunk) = &chunks[2];
        let response = patch(ctx, &location, chunk.clone(), Some((*start, *end)))?;
        expect::status(&response, &[416])
    });
    ctx.check("upload-status-after-failed-chunk", |ctx| {
        let (blob, chunks) = three_chunks(ctx);
        let location = send_chunks(ctx, start_upload(ctx, name)?, &chunks[..1])?;
        let (start, end, chunk) = &chunks[2];
        // The out-of-order chunk is refused (checked above); the session must survive it.
        let _ = patch(ctx, &location, chunk.clone(), Some((*start, *end)))?;
        let response = ctx
            .http
            .send(ctx.http.request_at(Method::GET, &location)?)?;
        expect::status(&response, &[204])
            .map_err(|r| format!("after an out-of-order chunk, {r}"))?;
        expect::header_eq(&response, "Range", "0-999")?;
        let location = expect::header(&response, "Location")?.to_owned();
        let location = send_chunks(ctx, location, &chunks[1..])
            .map_err(|r| format!("resuming after the status, {r}"))?;
        let response = finish_upload(ctx, &location, blob.digest.as_str(), None)?;
        expect::status(&response, &[201])?;
        blob_present(ctx, name, &blob)
    });
}

fn mounts(ctx: &mut Ctx<'_>, name: &str) {
    let other = ctx.config.cross_mount_namespace.clone();
    ctx.check("blob-cross-mount", |ctx| {
        let blob = Blob::random(ctx, 1024, Algorithm::Sha256);
        push_blob(ctx, &other, &blob)?;
        let response = ctx.http.send(
            ctx.http
                .request(Method::POST, &format!("/v2/{name}/blobs/uploads/"))
                .query("mount", blob.digest.as_str())
                .query("from", &other),
        )?;
        expect::status(&response, &[201])?;
        expect::header(&response, "Location")?;
        blob_present(ctx, name, &blob)
    });
    ctx.check("blob-mount-without-from", |ctx| {
        let blob = Blob::random(ctx, 1024, Algorithm::Sha256);
        push_blob(ctx, &other, &blob)?;
        let response = ctx.http.send(
            ctx.http
                .request(Method::POST, &format!("/v2/{name}/blobs/uploads/"))
                .query("mount", blob.digest.as_str()),
        )?;
        expect::status(&response, &[201, 202])?;
        let location = expect::header(&response, "Location")?.to_owned();
        if response.status == 201 {
            return blob_present(ctx, name, &blob);
        }
        // 202: a session to upload into instead, which must work.
        let response = finish_upload(ctx, &location, blob.digest.as_str(), Some(&blob.bytes))?;
        expect::status(&response, &[201])
            .map_err(|r| format!("uploading into the session the 202 opened, {r}"))?;
        blob_present(ctx, name, &blob)
    });
}

fn manifests(ctx: &mut Ctx<'_>, name: &str) {
    ctx.check("manifest-put-by-tag", |ctx| {
        let image = Image::new(ctx)?;
        image.push_blobs(ctx, name)?;
        let tag = ctx.tag("push-tag");
        let response = put_manifest(ctx, name, &tag, &image.manifest)?;
        expect::status(&response, &[201])?;
        expect::header(&response, "Location")?;
        expect_digest_of(&response, image.manifest.bytes())?;
        let response = fetch(ctx, Method::GET, name, "manifests", &tag)?;
        expect::status(&response, &[200])?;
        expect::body_eq(&response, image.manifest.bytes())
    });
    ctx.check("manifest-put-by-digest", |ctx| {
        let image = Image::new(ctx)?;
        image.push_blobs(ctx, name)?;
        let digest = image.manifest.digest().to_string();
        let response = put_manifest(ctx, name, &digest, &image.manifest)?;
        expect::status(&response, &[201])?;
        expect::header(&response, "Location")?;
        expect::header_eq(&response, "Docker-Content-Digest", &digest)?;
        let response = fetch(ctx, Method::GET, name, "manifests", &digest)?;
        expect::status(&response, &[200])?;
        expect::body_eq(&response, image.manifest.bytes())
    });
    ctx.check("manifest-put-by-digest-with-tags", |ctx| {
        let image = Image::new(ctx)?;
        image.push_blobs(ctx, name)?;
        let tags = [ctx.tag("push-qa"), ctx.tag("push-qb")];
        let digest = image.manifest.digest().to_string();
        let response = ctx.http.send(
            ctx.http
                .request(Method::PUT, &format!("/v2/{name}/manifests/{digest}"))
                .query("tag", &tags[0])
                .query("tag", &tags[1])
                .header("Content-Type", image.manifest.media_type())
                .body(image.manifest.bytes().clone()),
        )?;
        expect::status(&response, &[201])?;
        let applied = response.header_list("OCI-Tag");
        for tag in &tags {
            expect::that(applied.contains(tag), || {
                format!(
                    "expected `OCI-Tag` to list {tag}, but {} with OCI-Tag {applied:?}",
                    response.describe()
                )
            })?;
            let fetched = fetch(ctx, Method::GET, name, "manifests", tag)?;
            expect::status(&fetched, &[200])?;
            expect::body_eq(&fetched, image.manifest.bytes())?;
        }
        Ok(())
    });
    ctx.check("manifest-digest-mismatch", |ctx| {
        let image = Image::new(ctx)?;
        image.push_blobs(ctx, name)?;
        let wrong = Digest::of(Algorithm::Sha256, b"another manifest");
        let response = put_manifest(ctx, name, wrong.as_str(), &image.manifest)?;
        expect::error(&response, &[400], &[ErrorCode::DigestInvalid])
    });
    ctx.check("manifest-blob-unknown", |ctx| {
        let image = Image::new(ctx)?;
        // The config is pushed, the layer is not.
        push_blob(ctx, name, &image.config)?;
        let tag = ctx.tag("push-missing-layer");
        let response = put_manifest(ctx, name, &tag, &image.manifest)?;
        expect::error(&response, &[400, 404], &[ErrorCode::ManifestBlobUnknown])
    });
    ctx.check("manifest-invalid-json", |ctx| {
        let tag = ctx.tag("push-invalid");
        let response = put_manifest_bytes(
            ctx,
            name,
            &tag,
            media_type::OCI_IMAGE_MANIFEST,
            Bytes::from_static(b"{\"schemaVersion\": 2, \"mediaType\": "),
        )?;
        expect::error(&response, &[400], &[ErrorCode::ManifestInvalid])
    });
    ctx.check("manifest-large-accepted", |ctx| {
        let (image, bytes) = padded_manifest(ctx, LARGE_MANIFEST)?;
        image.push_blobs(ctx, name)?;
        let tag = ctx.tag("push-large");
        let response = put_manifest_bytes(ctx, name, &tag, media_type::OCI_IMAGE_MANIFEST, bytes)?;
        expect::status(&response, &[201])
    });
    ctx.check("manifest-too-large", |ctx| {
        let (image, bytes) = padded_manifest(ctx, OVERSIZED_MANIFEST)?;
        image.push_blobs(ctx, name)?;
        let tag = ctx.tag("push-oversized");
        let response = put_manifest_bytes(ctx, name, &tag, media_type::OCI_IMAGE_MANIFEST, bytes)?;
        expect::status(&response, &[413])
    });
}

/// An image manifest padded with an annotation to exactly `size` bytes, and its image.
fn padded_manifest(ctx: &mut Ctx<'_>, size: usize) -> Result<(Image, Bytes), Reason> {
    let image = Image::new(ctx)?;
    let config = Descriptor::of(media_type::OCI_IMAGE_CONFIG, &image.config.bytes);
    let layer = Descriptor::of(media_type::OCI_LAYER_TAR_GZIP, &image.layer.bytes);
    let build = |padding: usize| {
        ImageManifest::builder(config.clone())
            .layer(layer.clone())
            .annotation("org.example.conformance.padding", "p".repeat(padding))
            .build()
            .map_err(|e| format!("building the padded manifest failed: {e}"))
    };
    let empty = build(0)?;
    let padding = size
        .checked_sub(empty.bytes().len())
        .ok_or("the padded manifest's base is larger than its target")?;
    let manifest = build(padding)?;
    let bytes = manifest.bytes().clone();
    expect::that(bytes.len() == size, || {
        format!("the padded manifest is {} bytes, not {size}", bytes.len())
    })?;
    Ok((image, bytes))
}
