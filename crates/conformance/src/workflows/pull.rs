//! Pull: manifests and blobs by tag and by digest, with `GET` and `HEAD`, their headers, and
//! the 404s for what is not there.

use gantry_reference::Algorithm;
use gantry_spec::error_code::ErrorCode;
use gantry_spec::media_type;
use reqwest::Method;

use crate::content::{Image, expect_digest_of, fetch, setup_failed, unknown_digest};
use crate::expect;
use crate::run::Ctx;

pub(crate) fn run(ctx: &mut Ctx<'_>) {
    ctx.check("api-version", |ctx| {
        let response = ctx.http.send(ctx.http.request(Method::GET, "/v2/"))?;
        expect::status(&response, &[200])
    });

    let name = ctx.name().to_owned();
    let tag = ctx.tag("pull");
    let image = Image::new(ctx).and_then(|image| image.push(ctx, &name, &tag).map(|()| image));
    let docker_tag = ctx.tag("pull-docker");
    let docker = Image::with(ctx, true, |b| b)
        .and_then(|image| image.push(ctx, &name, &docker_tag).map(|()| image));

    for (check, by_tag) in [
        ("manifest-get-by-tag", true),
        ("manifest-get-by-digest", false),
    ] {
        ctx.check(check, |ctx| {
            let image = image.as_ref().map_err(setup_failed)?;
            let digest = image.manifest.digest();
            let reference = if by_tag {
                tag.clone()
            } else {
                digest.to_string()
            };
            let response = fetch(ctx, Method::GET, &name, "manifests", &reference)?;
            expect::status(&response, &[200])?;
            expect::body_eq(&response, image.manifest.bytes())?;
            expect_digest_of(&response, image.manifest.bytes())?;
            expect::header_eq(&response, "Content-Type", media_type::OCI_IMAGE_MANIFEST)
        });
    }
    for (check, by_tag) in [
        ("manifest-head-by-tag", true),
        ("manifest-head-by-digest", false),
    ] {
        ctx.check(check, |ctx| {
            let image = image.as_ref().map_err(setup_failed)?;
            let digest = image.manifest.digest();
            let reference = if by_tag {
                tag.clone()
            } else {
                digest.to_string()
            };
            let response = fetch(ctx, Method::HEAD, &name, "manifests", &reference)?;
            expect::status(&response, &[200])?;
            expect_digest_of(&response, image.manifest.bytes())?;
            expect::header_eq(
                &response,
                "Content-Length",
                &image.manifest.size().to_string(),
            )
        });
    }
    ctx.check("manifest-docker-schema2", |ctx| {
        let image = docker.as_ref().map_err(setup_failed)?;
        let response = fetch(ctx, Method::GET, &name, "manifests", &docker_tag)?;
        expect::status(&response, &[200])?;
        expect::body_eq(&response, image.manifest.bytes())?;
        expect_digest_of(&response, image.manifest.bytes())?;
        expect::header_eq(&response, "Content-Type", media_type::DOCKER_MANIFEST)
    });
    ctx.check("blob-get", |ctx| {
        let image = image.as_ref().map_err(setup_failed)?;
        let layer = &image.layer;
        let response = fetch(ctx, Method::GET, &name, "blobs", layer.digest.as_str())?;
        expect::status(&response, &[200])?;
        expect::body_eq(&response, &layer.bytes)?;
        expect_digest_of(&response, &layer.bytes)
    });
    ctx.check("blob-head", |ctx| {
        let image = image.as_ref().map_err(setup_failed)?;
        let layer = &image.layer;
        let response = fetch(ctx, Method::HEAD, &name, "blobs", layer.digest.as_str())?;
        expect::status(&response, &[200])?;
        expect_digest_of(&response, &layer.bytes)?;
        expect::header_eq(&response, "Content-Length", &layer.bytes.len().to_string())
    });

    ctx.check("manifest-unknown-tag", |ctx| {
        let missing = ctx.tag("never-pushed");
        let response = fetch(ctx, Method::GET, &name, "manifests", &missing)?;
        expect::error(&response, &[404], &[ErrorCode::ManifestUnknown])
    });
    ctx.check("manifest-unknown-digest", |ctx| {
        let missing = unknown_digest(ctx, Algorithm::Sha256);
        let response = fetch(ctx, Method::GET, &name, "manifests", missing.as_str())?;
        expect::error(&response, &[404], &[ErrorCode::ManifestUnknown])
    });
    ctx.check("manifest-head-unknown", |ctx| {
        let missing = unknown_digest(ctx, Algorithm::Sha256);
        let response = fetch(ctx, Method::HEAD, &name, "manifests", missing.as_str())?;
        expect::status(&response, &[404])
    });
    ctx.check("blob-unknown", |ctx| {
        let missing = unknown_digest(ctx, Algorithm::Sha256);
        let response = fetch(ctx, Method::GET, &name, "blobs", missing.as_str())?;
        expect::error(&response, &[404], &[ErrorCode::BlobUnknown])
    });
    ctx.check("blob-head-unknown", |ctx| {
        let missing = unknown_digest(ctx, Algorithm::Sha256);
        let response = fetch(ctx, Method::HEAD, &name, "blobs", missing.as_str())?;
        expect::status(&response, &[404])
    });
    ctx.check("unknown-repository", |ctx| {
        let repository = format!("{name}/never-pushed-{}", ctx.run_id);
        let response = fetch(ctx, Method::GET, &repository, "manifests", "latest")?;
        expect::error(
            &response,
            &[404],
            &[ErrorCode::NameUnknown, ErrorCode::ManifestUnknown],
        )
    });
}
