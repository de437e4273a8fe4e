//! Malformed and unsupported digests, in paths and in query parameters: each is the client's
//! mistake, answered `400 Bad Request` with `DIGEST_INVALID`, never a 404 or a 500.

use bytes::Bytes;
use gantry_spec::error_code::ErrorCode;
use reqwest::Method;

use crate::content::{Blob, fetch, finish_upload, put_manifest_bytes, start_upload};
use crate::expect;
use crate::run::Ctx;

/// A digest whose algorithm is known but whose encoded part is not hex.
const NOT_HEX: &str = "sha256:zzzz67af03e7c2ed3e4a9f6e0bba3fb3f3e81dd6e95d9e0e7bb21f9c64f8e3a8";
/// A digest whose hex part is too short for sha256.
const TOO_SHORT: &str = "sha256:0123456789abcdef";
/// A well-formed digest of an algorithm no registry needs to support.
const UNSUPPORTED: &str = "md5:0123456789abcdef0123456789abcdef";

pub(crate) fn run(ctx: &mut Ctx<'_>) {
    let name = ctx.name().to_owned();
    let invalid = [ErrorCode::DigestInvalid];

    ctx.check("blob-get-malformed", |ctx| {
        let response = fetch(ctx, Method::GET, &name, "blobs", NOT_HEX)?;
        expect::error(&response, &[400], &invalid)
    });
    ctx.check("blob-head-malformed", |ctx| {
        let response = fetch(ctx, Method::HEAD, &name, "blobs", TOO_SHORT)?;
        expect::status(&response, &[400])
    });
    ctx.check("manifest-get-malformed", |ctx| {
        let response = fetch(ctx, Method::GET, &name, "manifests", TOO_SHORT)?;
        expect::error(&response, &[400], &invalid)
    });
    ctx.check("manifest-put-malformed", |ctx| {
        let response = put_manifest_bytes(
            ctx,
            &name,
            NOT_HEX,
            gantry_spec::media_type::OCI_IMAGE_MANIFEST,
            Bytes::from_static(br#"{"schemaVersion":2}"#),
        )?;
        expect::error(
            &response,
            &[400],
            &[ErrorCode::DigestInvalid, ErrorCode::ManifestInvalid],
        )
    });
    ctx.check("upload-put-malformed", |ctx| {
        let blob = Blob::random(ctx, 64, gantry_reference::Algorithm::Sha256);
        let location = start_upload(ctx, &name)?;
        let response = finish_upload(ctx, &location, NOT_HEX, Some(&blob.bytes))?;
        expect::error(&response, &[400], &invalid)
    });
    ctx.check("upload-put-unsupported-algorithm", |ctx| {
        let blob = Blob::random(ctx, 64, gantry_reference::Algorithm::Sha256);
        let location = start_upload(ctx, &name)?;
        let response = finish_upload(ctx, &location, UNSUPPORTED, Some(&blob.bytes))?;
        expect::error(
            &response,
            &[400],
            &[ErrorCode::DigestInvalid, ErrorCode::Unsupported],
        )
    });
    ctx.check("single-post-malformed", |ctx| {
        let blob = Blob::random(ctx, 64, gantry_reference::Algorithm::Sha256);
        let response = ctx.http.send(
            ctx.http
                .request(Method::POST, &format!("/v2/{name}/blobs/uploads/"))
                .query("digest", TOO_SHORT)
                .header("Content-Type", "application/octet-stream")
                .body(blob.bytes.clone()),
        )?;
        expect::error(&response, &[400], &invalid)
    });
    ctx.check("digest-algorithm-unsupported", |ctx| {
        let response = ctx.http.send(
            ctx.http
                .request(Method::POST, &format!("/v2/{name}/blobs/uploads/"))
                .query("digest-algorithm", "md5"),
        )?;
        expect::error(
            &response,
            &[400],
            &[ErrorCode::DigestInvalid, ErrorCode::Unsupported],
        )
    });
    ctx.check("referrers-malformed", |ctx| {
        let response = ctx.http.send(
            ctx.http
                .request(Method::GET, &format!("/v2/{name}/referrers/{TOO_SHORT}")),
        )?;
        expect::error(&response, &[400], &invalid)
    });
}
