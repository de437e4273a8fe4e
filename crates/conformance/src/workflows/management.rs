//! Content management: deleting tags, manifests and blobs. Where the run allows it
//! (`delete_may_be_unsupported`), `405` with `UNSUPPORTED` passes as a registry that disables
//! deletion.

use gantry_reference::Algorithm;
use gantry_spec::error_code::ErrorCode;
use reqwest::Method;

use crate::content::{Image, fetch, put_manifest, setup_failed, unknown_digest};
use crate::expect;
use crate::http::{Reason, Response};
use crate::run::Ctx;

/// What a delete answered.
enum Deleted {
    /// 202: the content is gone.
    Yes,
    /// 405 `UNSUPPORTED`, allowed by the configuration: nothing more to check.
    Unsupported,
}

/// The delete was accepted (202), or refused as unsupported where the run allows that.
fn accepted(ctx: &Ctx<'_>, response: &Response) -> Result<Deleted, Reason> {
    if ctx.config.delete_may_be_unsupported && response.status == 405 {
        expect::error(response, &[405], &[ErrorCode::Unsupported])?;
        return Ok(Deleted::Unsupported);
    }
    expect::status(response, &[202])?;
    Ok(Deleted::Yes)
}

fn delete(ctx: &Ctx<'_>, name: &str, kind: &str, reference: &str) -> Result<Response, Reason> {
    ctx.http.send(
        ctx.http
            .request(Method::DELETE, &format!("/v2/{name}/{kind}/{reference}")),
    )
}

pub(crate) fn run(ctx: &mut Ctx<'_>) {
    let name = ctx.name().to_owned();
    let tags = [ctx.tag("mgmt-a"), ctx.tag("mgmt-b")];
    let image = Image::new(ctx).and_then(|image| {
        image.push(ctx, &name, &tags[0])?;
        let response = put_manifest(ctx, &name, &tags[1], &image.manifest)?;
        expect::status(&response, &[201])?;
        Ok(image)
    });

    ctx.check("delete-tag", |ctx| {
        let image = image.as_ref().map_err(setup_failed)?;
        let response = delete(ctx, &name, "manifests", &tags[0])?;
        if let Deleted::Unsupported = accepted(ctx, &response)? {
            return Ok(());
        }
        let response = fetch(ctx, Method::GET, &name, "manifests", &tags[0])?;
        expect::error(&response, &[404], &[ErrorCode::ManifestUnknown])
            .map_err(|r| format!("after deleting the tag, {r}"))?;
        let digest = image.manifest.digest().to_string();
        let response = fetch(ctx, Method::GET, &name, "manifests", &digest)?;
        expect::status(&response, &[200])
            .map_err(|r| format!("the manifest must outlive its tag: {r}"))
    });
    ctx.check("delete-manifest-by-digest", |ctx| {
        let image = image.as_ref().map_err(setup_failed)?;
        let digest = image.manifest.digest().to_string();
        let response = delete(ctx, &name, "manifests", &digest)?;
        if let Deleted::Unsupported = accepted(ctx, &response)? {
            return Ok(());
        }
        let response = fetch(ctx, Method::GET, &name, "manifests", &digest)?;
        expect::error(&response, &[404], &[ErrorCode::ManifestUnknown])
            .map_err(|r| format!("after deleting the manifest, {r}"))
    });
    ctx.check("delete-manifest-removes-tags", |ctx| {
        image.as_ref().map_err(setup_failed)?;
        let response = fetch(ctx, Method::GET, &name, "manifests", &tags[1])?;
        if ctx.config.delete_may_be_unsupported && response.status == 200 {
            return Ok(());
        }
        expect::error(&response, &[404], &[ErrorCode::ManifestUnknown])
            .map_err(|r| format!("a tag of a deleted manifest must go with it: {r}"))
    });
    ctx.check("delete-blob", |ctx| {
        let image = image.as_ref().map_err(setup_failed)?;
        let digest = image.layer.digest.to_string();
        let response = delete(ctx, &name, "blobs", &digest)?;
        if let Deleted::Unsupported = accepted(ctx, &response)? {
            return Ok(());
        }
        let response = fetch(ctx, Method::GET, &name, "blobs", &digest)?;
        expect::error(&response, &[404], &[ErrorCode::BlobUnknown])
            .map_err(|r| format!("after deleting the blob, {r}"))
    });
    ctx.check("delete-unknown-manifest", |ctx| {
        let missing = unknown_digest(ctx, Algorithm::Sha256);
        let response = delete(ctx, &name, "manifests", missing.as_str())?;
        if ctx.config.delete_may_be_unsupported && response.status == 405 {
            return expect::error(&response, &[405], &[ErrorCode::Unsupported]);
        }
        expect::error(&response, &[404], &[ErrorCode::ManifestUnknown])
    });
    ctx.check("delete-unknown-blob", |ctx| {
        let missing = unknown_digest(ctx, Algorithm::Sha256);
        let response = delete(ctx, &name, "blobs", missing.as_str())?;
        if ctx.config.delete_may_be_unsupported && response.status == 405 {
            return expect::error(&response, &[405], &[ErrorCode::Unsupported]);
        }
        expect::error(&response, &[404], &[ErrorCode::BlobUnknown])
    });
}
