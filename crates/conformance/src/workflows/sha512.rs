//! Content addressed by `sha512`: blobs pushed with `?digest=sha512:…` and with
//! `?digest-algorithm=sha512`, and a manifest pushed and pulled by its `sha512` digest.

use gantry_reference::Algorithm;
use gantry_spec::{Descriptor, ImageManifest, media_type};
use reqwest::Method;

use crate::content::{
    Blob, expect_digest_if_present, expect_digest_of, fetch, finish_upload, patch, push_blob,
    put_manifest, start_upload,
};
use crate::expect;
use crate::run::Ctx;

pub(crate) fn run(ctx: &mut Ctx<'_>) {
    let name = ctx.name().to_owned();

    ctx.check("blob-post-put", |ctx| {
        let blob = Blob::random(ctx, 1024, Algorithm::Sha512);
        let location = start_upload(ctx, &name)?;
        let response = finish_upload(ctx, &location, blob.digest.as_str(), Some(&blob.bytes))?;
        expect::status(&response, &[201])?;
        expect_digest_if_present(&response, &blob.bytes)?;
        let response = fetch(ctx, Method::GET, &name, "blobs", blob.digest.as_str())?;
        expect::status(&response, &[200])?;
        expect::body_eq(&response, &blob.bytes)?;
        expect_digest_of(&response, &blob.bytes)
    });
    ctx.check("blob-head", |ctx| {
        let blob = Blob::random(ctx, 100, Algorithm::Sha512);
        push_blob(ctx, &name, &blob)?;
        let response = fetch(ctx, Method::HEAD, &name, "blobs", blob.digest.as_str())?;
        expect::status(&response, &[200])?;
        expect_digest_of(&response, &blob.bytes)?;
        expect::header_eq(&response, "Content-Length", "100")
    });
    ctx.check("digest-algorithm-param", |ctx| {
        let blob = Blob::random(ctx, 2048, Algorithm::Sha512);
        let response = ctx.http.send(
            ctx.http
                .request(Method::POST, &format!("/v2/{name}/blobs/uploads/"))
                .query("digest-algorithm", "sha512"),
        )?;
        expect::status(&response, &[202])?;
        let location = expect::header(&response, "Location")?.to_owned();
        let response = patch(ctx, &location, blob.bytes.clone(), None)?;
        expect::status(&response, &[202])?;
        let location = expect::header(&response, "Location")?.to_owned();
        let response = finish_upload(ctx, &location, blob.digest.as_str(), None)?;
        expect::status(&response, &[201])?;
        expect_digest_if_present(&response, &blob.bytes)
    });
    ctx.check("manifest-by-digest", |ctx| {
        let config = Blob::random(ctx, 64, Algorithm::Sha512);
        let layer = Blob::random(ctx, 64, Algorithm::Sha512);
        push_blob(ctx, &name, &config)?;
        push_blob(ctx, &name, &layer)?;
        let manifest = ImageManifest::builder(Descriptor::of_with(
            media_type::OCI_IMAGE_CONFIG,
            Algorithm::Sha512,
            &config.bytes,
        ))
        .layer(Descriptor::of_with(
            media_type::OCI_LAYER_TAR_GZIP,
            Algorithm::Sha512,
            &layer.bytes,
        ))
        .algorithm(Algorithm::Sha512)
        .build()
        .map_err(|e| format!("building the manifest failed: {e}"))?;
        let digest = manifest.digest().to_string();
        let response = put_manifest(ctx, &name, &digest, &manifest)?;
        expect::status(&response, &[201])?;
        expect::header_eq(&response, "Docker-Content-Digest", &digest)?;
        let response = fetch(ctx, Method::GET, &name, "manifests", &digest)?;
        expect::status(&response, &[200])?;
        expect::body_eq(&response, manifest.bytes())?;
        expect_digest_of(&response, manifest.bytes())
    });
}
