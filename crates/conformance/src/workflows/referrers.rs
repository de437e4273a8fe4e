//! The referrers API: an empty index for an unknown subject, `OCI-Subject` on pushes with a
//! `subject`, entries with `artifactType` and annotations, and the `artifactType` filter.

use gantry_reference::Algorithm;
use gantry_spec::{Descriptor, ImageManifest, Manifest, media_type};
use reqwest::Method;
use serde_json::Value;

use crate::content::{Blob, Image, push_blob, put_manifest, setup_failed, unknown_digest};
use crate::expect;
use crate::http::{Reason, Response, encode};
use crate::run::Ctx;

const SBOM: &str = "application/vnd.example.conformance.sbom";
const SIGNATURE: &str = "application/vnd.example.conformance.signature";
/// The config media type of the referrer that has no `artifactType`.
const CONFIG_TYPE: &str = "application/vnd.example.conformance.config+json";

/// `GET /v2/<name>/referrers/<digest>[?artifactType=…]`, expecting 200 and an OCI index;
/// returns the response and its `manifests`.
fn referrers(
    ctx: &Ctx<'_>,
    name: &str,
    subject: &str,
    artifact_type: Option<&str>,
) -> Result<(Response, Vec<Value>), Reason> {
    let mut path = format!("/v2/{name}/referrers/{subject}");
    if let Some(artifact_type) = artifact_type {
        path.push_str(&format!("?artifactType={}", encode(artifact_type)));
    }
    let response = ctx.http.send(ctx.http.request(Method::GET, &path))?;
    expect::status(&response, &[200])?;
    expect::header_eq(&response, "Content-Type", media_type::OCI_IMAGE_INDEX)?;
    let json: Value = serde_json::from_slice(&response.body)
        .map_err(|e| format!("expected an image index, but {}: {e}", response.describe()))?;
    let manifests = match &json["manifests"] {
        Value::Array(items) => items.clone(),
        _ => {
            return Err(format!(
                "expected an index with a `manifests` array, but {}",
                response.describe()
            ));
        }
    };
    Ok((response, manifests))
}

/// The entry for `manifest` in `entries`, if listed.
fn entry<'e>(entries: &'e [Value], manifest: &Manifest) -> Option<&'e Value> {
    entries
        .iter()
        .find(|e| e["digest"] == manifest.digest().as_str())
}

/// Artifact manifests pushed for one subject.
struct Artifacts {
    subject: Image,
    sbom: Manifest,
    signature: Manifest,
    untyped: Manifest,
}

fn artifact(
    subject: &Manifest,
    config: Descriptor,
    layer: &Blob,
    artifact_type: Option<&str>,
    note: &str,
) -> Result<Manifest, Reason> {
    let mut builder = ImageManifest::builder(config)
        .layer(Descriptor::of("application/octet-stream", &layer.bytes))
        .subject(subject.descriptor())
        .annotation("org.example.conformance.note", note);
    if let Some(artifact_type) = artifact_type {
        builder = builder.artifact_type(artifact_type);
    }
    builder
        .build()
        .map_err(|e| format!("building an artifact failed: {e}"))
}

fn push_artifacts(ctx: &mut Ctx<'_>, name: &str) -> Result<(Artifacts, Vec<Response>), Reason> {
    let subject = Image::new(ctx)?;
    subject.push(ctx, name, &ctx.tag("referrers-subject"))?;
    let layer = Blob::random(ctx, 256, Algorithm::Sha256);
    push_blob(ctx, name, &layer)?;
    let empty = Blob {
        bytes: bytes::Bytes::from_static(media_type::EMPTY_JSON),
        digest: gantry_reference::Digest::of(Algorithm::Sha256, media_type::EMPTY_JSON),
    };
    push_blob(ctx, name, &empty)?;
    let config_bytes = format!(r#"{{"nonce":"{}"}}"#, ctx.run_id);
    let config = Blob {
        digest: gantry_reference::Digest::of(Algorithm::Sha256, config_bytes.as_bytes()),
        bytes: bytes::Bytes::from(config_bytes),
    };
    push_blob(ctx, name, &config)?;
    let sbom = artifact(
        &subject.manifest,
        Descriptor::empty(),
        &layer,
        Some(SBOM),
        "sbom",
    )?;
    let signature = artifact(
        &subject.manifest,
        Descriptor::empty(),
        &layer,
        Some(SIGNATURE),
        "signature",
    )?;
    let untyped = artifact(
        &subject.manifest,
        Descriptor::of(CONFIG_TYPE, &config.bytes),
        &layer,
        None,
        "untyped",
    )?;
    let mut responses = Vec::new();
    for manifest in [&sbom, &signature, &untyped] {
        let digest = manifest.digest().to_string();
        responses.push(put_manifest(ctx, name, &digest, manifest)?);
    }
    Ok((
        Artifacts {
            subject,
            sbom,
            signature,
            untyped,
        },
        responses,
    ))
}

pub(crate) fn run(ctx: &mut Ctx<'_>) {
    let name = ctx.name().to_owned();

    ctx.check("unknown-subject-empty", |ctx| {
        let missing = unknown_digest(ctx, Algorithm::Sha256);
        let (response, manifests) = referrers(ctx, &name, missing.as_str(), None)?;
        expect::that(manifests.is_empty(), || {
            format!("expected no referrers, but {}", response.describe())
        })
    });

    let pushed = push_artifacts(ctx, &name);
    let artifacts = pushed.as_ref().map(|(a, _)| a);

    ctx.check("put-with-subject", |_| {
        let (artifacts, responses) = pushed.as_ref().map_err(setup_failed)?;
        let subject = artifacts.subject.manifest.digest().as_str();
        for response in responses {
            expect::status(response, &[201])?;
            expect::header_eq(response, "OCI-Subject", subject)?;
        }
        Ok(())
    });
    ctx.check("subject-missing-accepted", |ctx| {
        artifacts.map_err(setup_failed)?;
        // A subject the registry has never seen: the push must still be accepted.
        let ghost = Image::new(ctx)?;
        let manifest = ImageManifest::builder(Descriptor::empty())
            .layer(Descriptor::empty())
            .artifact_type(SIGNATURE)
            .subject(ghost.manifest.descriptor())
            .build()
            .map_err(|e| format!("building an artifact failed: {e}"))?;
        let response = put_manifest(ctx, &name, manifest.digest().as_str(), &manifest)?;
        expect::status(&response, &[201])
    });
    ctx.check("list", |ctx| {
        let artifacts = artifacts.map_err(setup_failed)?;
        let subject = artifacts.subject.manifest.digest().to_string();
        let (response, entries) = referrers(ctx, &name, &subject, None)?;
        for (manifest, artifact_type, note) in [
            (&artifacts.sbom, SBOM, "sbom"),
            (&artifacts.signature, SIGNATURE, "signature"),
        ] {
            let found = entry(&entries, manifest).ok_or_else(|| {
                format!(
                    "expected the referrer {} in the list, but {} without it",
                    manifest.digest(),
                    response.describe()
                )
            })?;
            let wanted = serde_json::json!({
                "mediaType": media_type::OCI_IMAGE_MANIFEST,
                "size": manifest.size(),
                "artifactType": artifact_type,
                "note": note,
            });
            let got = serde_json::json!({
                "mediaType": found["mediaType"],
                "size": found["size"],
                "artifactType": found["artifactType"],
                "note": found["annotations"]["org.example.conformance.note"],
            });
            expect::that(wanted == got, || {
                format!("expected an entry with {wanted}, but the registry listed {found}")
            })?;
        }
        Ok(())
    });
    ctx.check("list-config-media-type-fallback", |ctx| {
        let artifacts = artifacts.map_err(setup_failed)?;
        let subject = artifacts.subject.manifest.digest().to_string();
        let (response, entries) = referrers(ctx, &name, &subject, None)?;
        let found = entry(&entries, &artifacts.untyped).ok_or_else(|| {
            format!(
                "expected the referrer without artifactType in the list, but {}",
                response.describe()
            )
        })?;
        expect::that(found["artifactType"] == CONFIG_TYPE, || {
            format!("expected the config's media type {CONFIG_TYPE} as artifactType, got {found}")
        })
    });
    ctx.check("filter-artifact-type", |ctx| {
        let artifacts = artifacts.map_err(setup_failed)?;
        let subject = artifacts.subject.manifest.digest().to_string();
        let (response, entries) = referrers(ctx, &name, &subject, Some(SBOM))?;
        expect::header_eq(&response, "OCI-Filters-Applied", "artifactType")?;
        let digests: Vec<&Value> = entries.iter().map(|e| &e["digest"]).collect();
        expect::that(
            digests == [&Value::from(artifacts.sbom.digest().as_str())],
            || format!("expected only the {SBOM} referrer, but the registry listed {digests:?}"),
        )
    });
}
