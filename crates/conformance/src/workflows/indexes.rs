//! Image indexes: a plain index, an index of indexes, a sparse index whose children are not all
//! present (the specification lets registries accept it, and Gantry does), and a Docker
//! manifest list.

use gantry_spec::{ImageIndex, Manifest, Platform};
use reqwest::Method;

use crate::content::{Image, expect_digest_of, fetch, put_manifest, setup_failed};
use crate::expect;
use crate::http::Reason;
use crate::run::Ctx;

fn platform(text: &str) -> Result<Platform, Reason> {
    text.parse()
        .map_err(|e| format!("parsing the platform {text}: {e}"))
}

/// Pushes `index` by tag, expecting 201, then pulls it back byte for byte.
fn push_and_pull(ctx: &Ctx<'_>, name: &str, tag: &str, index: &Manifest) -> Result<(), Reason> {
    let response = put_manifest(ctx, name, tag, index)?;
    expect::status(&response, &[201])?;
    expect_digest_of(&response, index.bytes())?;
    let response = fetch(ctx, Method::GET, name, "manifests", tag)?;
    expect::status(&response, &[200])?;
    expect::body_eq(&response, index.bytes())?;
    expect::header_eq(&response, "Content-Type", index.media_type())
}

pub(crate) fn run(ctx: &mut Ctx<'_>) {
    let name = ctx.name().to_owned();
    let pushed: Result<[Image; 2], Reason> = (|| {
        let amd64 = Image::new(ctx)?;
        let arm64 = Image::new(ctx)?;
        for image in [&amd64, &arm64] {
            image.push(ctx, &name, image.manifest.digest().as_str())?;
        }
        Ok([amd64, arm64])
    })();

    let build = |images: &[Image; 2]| -> Result<Manifest, Reason> {
        ImageIndex::builder()
            .manifest(
                images[0]
                    .manifest
                    .descriptor()
                    .with_platform(platform("linux/amd64")?),
            )
            .manifest(
                images[1]
                    .manifest
                    .descriptor()
                    .with_platform(platform("linux/arm64/v8")?),
            )
            .build()
            .map_err(|e| format!("building the index failed: {e}"))
    };

    ctx.check("index", |ctx| {
        let images = pushed.as_ref().map_err(setup_failed)?;
        let index = build(images)?;
        push_and_pull(ctx, &name, &ctx.tag("index"), &index)
    });
    ctx.check("nested-index", |ctx| {
        let images = pushed.as_ref().map_err(setup_failed)?;
        let inner = build(images)?;
        let response = put_manifest(ctx, &name, inner.digest().as_str(), &inner)?;
        expect::status(&response, &[201]).map_err(|r| format!("pushing the inner index, {r}"))?;
        let outer = ImageIndex::builder()
            .manifest(inner.descriptor())
            .manifest(images[0].manifest.descriptor())
            .build()
            .map_err(|e| format!("building the index failed: {e}"))?;
        push_and_pull(ctx, &name, &ctx.tag("nested-index"), &outer)
    });
    ctx.check("sparse-index", |ctx| {
        let images = pushed.as_ref().map_err(setup_failed)?;
        // A child that was never pushed, beside one that was.
        let absent = Image::new(ctx)?;
        let index = ImageIndex::builder()
            .manifest(
                images[0]
                    .manifest
                    .descriptor()
                    .with_platform(platform("linux/amd64")?),
            )
            .manifest(
                absent
                    .manifest
                    .descriptor()
                    .with_platform(platform("linux/s390x")?),
            )
            .build()
            .map_err(|e| format!("building the index failed: {e}"))?;
        push_and_pull(ctx, &name, &ctx.tag("sparse-index"), &index)
    });
    ctx.check("docker-manifest-list", |ctx| {
        let amd64 = Image::with(ctx, true, |b| b)?;
        amd64.push(ctx, &name, amd64.manifest.digest().as_str())?;
        let list = ImageIndex::docker_builder()
            .manifest(
                amd64
                    .manifest
                    .descriptor()
                    .with_platform(platform("linux/amd64")?),
            )
            .build()
            .map_err(|e| format!("building the manifest list failed: {e}"))?;
        push_and_pull(ctx, &name, &ctx.tag("manifest-list"), &list)
    });
}
