//! From bytes to a validated manifest body: decide the kind, then check the fields it requires.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::descriptor::RawDescriptor;
use crate::manifest::kind::is_generic_content_type;
use crate::manifest::{Body, ImageIndex, ImageManifest, ManifestKind};
use crate::serde_util::null_as_default;
use crate::{Descriptor, SpecError, media_type};

/// Every field any manifest kind may have, in a form that cannot fail to deserialise for the
/// wrong reason, so that detection and validation can give typed errors.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDocument {
    schema_version: Option<serde_json::Value>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<RawDescriptor>,
    layers: Option<Vec<RawDescriptor>>,
    manifests: Option<Vec<RawDescriptor>>,
    subject: Option<RawDescriptor>,
    #[serde(default, deserialize_with = "null_as_default")]
    annotations: BTreeMap<String, String>,
}

/// Just enough of a document to recognise schema 1 when the full read fails.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    schema_version: Option<serde_json::Value>,
    media_type: Option<serde_json::Value>,
}

/// Decides the kind of `bytes` and reads its body.
pub(super) fn parse_body(
    bytes: &[u8],
    content_type: Option<&str>,
) -> Result<(ManifestKind, Body), SpecError> {
    let header = content_type
        .map(media_type::essence)
        .filter(|essence| !is_generic_content_type(essence));
    if header.as_deref().is_some_and(media_type::is_schema1) {
        return Err(SpecError::Schema1Unsupported);
    }
    // serde would also read a struct from a JSON array; a manifest is only ever an object.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(SpecError::UnrecognisedDocument);
    }
    let raw: RawDocument = match serde_json::from_slice(bytes) {
        Ok(raw) => raw,
        Err(_) if looks_like_schema1(bytes) => return Err(SpecError::Schema1Unsupported),
        Err(error) => return Err(SpecError::InvalidJson(error)),
    };
    let schema_version = raw
        .schema_version
        .as_ref()
        .and_then(serde_json::Value::as_i64);
    if schema_version == Some(1)
        || raw
            .media_type
            .as_deref()
            .is_some_and(media_type::is_schema1)
    {
        return Err(SpecError::Schema1Unsupported);
    }
    if let (Some(header), Some(field)) = (&header, &raw.media_type)
        && header != field
    {
        return Err(SpecError::MediaTypeMismatch {
            header: header.clone(),
            field: field.clone(),
        });
    }
    let kind = match raw.media_type.as_deref().or(header.as_deref()) {
        Some(declared) => kind_of(declared)?,
        None => kind_from_shape(&raw)?,
    };
    if schema_version != Some(2) {
        return Err(SpecError::UnsupportedSchemaVersion {
            found: schema_version,
        });
    }
    let body = if kind.is_index() {
        Body::Index(Box::new(index_body(raw)?))
    } else {
        Body::Image(Box::new(image_body(raw)?))
    };
    Ok((kind, body))
}

fn looks_like_schema1(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Probe>(bytes).is_ok_and(|probe| {
        probe
            .schema_version
            .as_ref()
            .and_then(serde_json::Value::as_i64)
            == Some(1)
            || probe
                .media_type
                .as_ref()
                .and_then(serde_json::Value::as_str)
                .is_some_and(media_type::is_schema1)
    })
}

fn kind_of(declared: &str) -> Result<ManifestKind, SpecError> {
    if let Some(kind) = ManifestKind::from_media_type(declared) {
        Ok(kind)
    } else if media_type::is_valid(declared) {
        Err(SpecError::UnsupportedMediaType {
            media_type: declared.to_owned(),
        })
    } else {
        Err(SpecError::InvalidMediaType {
            media_type: declared.to_owned(),
        })
    }
}

/// With no media type anywhere, an OCI document is an index when it lists manifests and a
/// manifest when it has a config (the image-spec lets both omit `mediaType`; Docker's cannot).
fn kind_from_shape(raw: &RawDocument) -> Result<ManifestKind, SpecError> {
    match (raw.config.is_some(), raw.manifests.is_some()) {
        (true, false) => Ok(ManifestKind::OciImageManifest),
        (false, true) => Ok(ManifestKind::OciImageIndex),
        _ => Err(SpecError::UnrecognisedDocument),
    }
}

fn image_body(raw: RawDocument) -> Result<ImageManifest, SpecError> {
    let config = Descriptor::try_from(
        raw.config
            .ok_or(SpecError::MissingField { field: "config" })?,
    )?;
    let layers = raw
        .layers
        .ok_or(SpecError::MissingField { field: "layers" })?
        .into_iter()
        .map(Descriptor::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    let subject = raw.subject.map(Descriptor::try_from).transpose()?;
    check_artifact_type(raw.artifact_type.as_deref())?;
    if config.media_type == media_type::OCI_EMPTY && raw.artifact_type.is_none() {
        return Err(SpecError::MissingArtifactType);
    }
    Ok(ImageManifest {
        media_type: raw.media_type,
        artifact_type: raw.artifact_type,
        config,
        layers,
        subject,
        annotations: raw.annotations,
    })
}

fn index_body(raw: RawDocument) -> Result<ImageIndex, SpecError> {
    let manifests = raw
        .manifests
        .ok_or(SpecError::MissingField { field: "manifests" })?
        .into_iter()
        .map(Descriptor::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    let subject = raw.subject.map(Descriptor::try_from).transpose()?;
    check_artifact_type(raw.artifact_type.as_deref())?;
    Ok(ImageIndex {
        media_type: raw.media_type,
        artifact_type: raw.artifact_type,
        manifests,
        subject,
        annotations: raw.annotations,
    })
}

fn check_artifact_type(artifact_type: Option<&str>) -> Result<(), SpecError> {
    match artifact_type {
        Some(value) if !media_type::is_valid(value) => Err(SpecError::InvalidMediaType {
            media_type: value.to_owned(),
        }),
        _ => Ok(()),
    }
}
