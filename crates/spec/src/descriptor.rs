//! Descriptors: the typed, sized, content-addressed pointers that documents use to name content.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use gantry_reference::{Algorithm, Digest};
use serde::{Deserialize, Serialize, Serializer};

use crate::serde_util::null_as_default;
use crate::{Platform, SpecError, media_type};

/// A descriptor, as the OCI image-spec defines it: what a piece of content is (`mediaType`),
/// its `digest` and `size`, and optional `urls`, `annotations`, inlined `data`, `platform` (in
/// index entries) and `artifactType`.
///
/// Read from JSON, a descriptor is validated: the media type has the RFC 6838 form, the digest
/// is valid, the size is an integer in `0..=i64::MAX`, and inlined `data` decodes to content of
/// that size and digest. [`Descriptor::validate`] checks the same of one built in code.
///
/// Serialised fields come in the order of the image-spec's Go types: `mediaType`, `digest`,
/// `size`, `urls`, `annotations`, `data`, `platform`, `artifactType`; empty optional fields are
/// omitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawDescriptor")]
#[non_exhaustive]
pub struct Descriptor {
    /// The media type of the content.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// The digest of the content.
    pub digest: Digest,
    /// The size of the content in bytes.
    pub size: u64,
    /// Other places the content may be downloaded from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// Arbitrary metadata.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The content itself, inlined (base64 in JSON).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_data"
    )]
    pub data: Option<Bytes>,
    /// The platform an index entry's image runs on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// The type of artifact the content is, when it is an artifact manifest.
    #[serde(rename = "artifactType", skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    /// A descriptor with just the three required fields.
    pub fn new(media_type: impl Into<String>, digest: Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.into(),
            digest,
            size,
            urls: Vec::new(),
            annotations: BTreeMap::new(),
            data: None,
            platform: None,
            artifact_type: None,
        }
    }

    /// The descriptor of `content`, with its SHA-256 digest and its size.
    ///
    /// ```
    /// use gantry_spec::{Descriptor, media_type};
    ///
    /// let layer = Descriptor::of(media_type::OCI_LAYER_TAR_GZIP, b"not really gzip");
    /// assert_eq!(layer.size, 15);
    /// assert!(layer.verify(b"not really gzip").is_ok());
    /// ```
    pub fn of(media_type: impl Into<String>, content: &[u8]) -> Descriptor {
        Descriptor::of_with(media_type, Algorithm::Sha256, content)
    }

    /// The descriptor of `content`, with its digest under `algorithm` and its size.
    pub fn of_with(
        media_type: impl Into<String>,
        algorithm: Algorithm,
        content: &[u8],
    ) -> Descriptor {
        Descriptor::new(media_type, Digest::of(algorithm, content), len_u64(content))
    }

    /// The empty descriptor of the image-spec: media type
    /// [`OCI_EMPTY`](media_type::OCI_EMPTY), content `{}` inlined as `data`. Artifacts use it as
    /// their config.
    pub fn empty() -> Descriptor {
        Descriptor::of(media_type::OCI_EMPTY, media_type::EMPTY_JSON)
            .with_data(Bytes::from_static(media_type::EMPTY_JSON))
    }

    /// The same descriptor with `platform` set.
    pub fn with_platform(mut self, platform: Platform) -> Descriptor {
        self.platform = Some(platform);
        self
    }

    /// The same descriptor with one more annotation.
    pub fn with_annotation(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Descriptor {
        self.annotations.insert(key.into(), value.into());
        self
    }

    /// The same descriptor with `artifactType` set.
    pub fn with_artifact_type(mut self, artifact_type: impl Into<String>) -> Descriptor {
        self.artifact_type = Some(artifact_type.into());
        self
    }

    /// The same descriptor with the content inlined as `data`. The content is not checked here;
    /// [`validate`](Self::validate) does that.
    pub fn with_data(mut self, data: Bytes) -> Descriptor {
        self.data = Some(data);
        self
    }

    /// The same descriptor with one more URL.
    pub fn with_url(mut self, url: impl Into<String>) -> Descriptor {
        self.urls.push(url.into());
        self
    }

    /// Checks what parsing checks: media types of the RFC 6838 form, a size of at most
    /// `i64::MAX`, and inlined data that matches the size and digest.
    pub fn validate(&self) -> Result<(), SpecError> {
        check_media_type(&self.media_type)?;
        if let Some(artifact_type) = &self.artifact_type {
            check_media_type(artifact_type)?;
        }
        if i64::try_from(self.size).is_err() {
            return Err(SpecError::InvalidSize {
                value: self.size.to_string(),
            });
        }
        if let Some(data) = &self.data {
            self.verify(data)?;
        }
        Ok(())
    }

    /// Checks that `content` has this descriptor's size and digest (size first: it is cheaper).
    pub fn verify(&self, content: &[u8]) -> Result<(), SpecError> {
        let actual_size = len_u64(content);
        if actual_size != self.size {
            return Err(SpecError::SizeMismatch {
                expected: self.size,
                actual: actual_size,
            });
        }
        let actual = Digest::of(self.digest.algorithm(), content);
        if actual != self.digest {
            return Err(SpecError::DigestMismatch {
                expected: self.digest.clone(),
                actual,
            });
        }
        Ok(())
    }
}

/// A descriptor as written, before validation: every field that could be wrong is kept in a
/// form that cannot fail to deserialise, so that the conversion can say what is wrong.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawDescriptor {
    media_type: Option<String>,
    digest: Option<String>,
    size: Option<serde_json::Number>,
    #[serde(default, deserialize_with = "null_as_default")]
    urls: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    annotations: BTreeMap<String, String>,
    data: Option<String>,
    platform: Option<Platform>,
    artifact_type: Option<String>,
}

impl TryFrom<RawDescriptor> for Descriptor {
    type Error = SpecError;

    fn try_from(raw: RawDescriptor) -> Result<Descriptor, SpecError> {
        let media_type = raw
            .media_type
            .ok_or(SpecError::MissingField { field: "mediaType" })?;
        let digest_text = raw
            .digest
            .ok_or(SpecError::MissingField { field: "digest" })?;
        let digest = Digest::parse(&digest_text).map_err(|source| SpecError::InvalidDigest {
            value: digest_text,
            source,
        })?;
        let size = parse_size(raw.size.ok_or(SpecError::MissingField { field: "size" })?)?;
        let data = raw
            .data
            .map(|text| {
                BASE64
                    .decode(text)
                    .map(Bytes::from)
                    .map_err(|_| SpecError::InvalidData)
            })
            .transpose()?;
        let descriptor = Descriptor {
            media_type,
            digest,
            size,
            urls: raw.urls,
            annotations: raw.annotations,
            data,
            platform: raw.platform,
            artifact_type: raw.artifact_type,
        };
        descriptor.validate()?;
        Ok(descriptor)
    }
}

fn parse_size(size: serde_json::Number) -> Result<u64, SpecError> {
    if let Some(size) = size.as_i64() {
        return u64::try_from(size).map_err(|_| SpecError::NegativeSize { size });
    }
    Err(SpecError::InvalidSize {
        value: size.to_string(),
    })
}

fn check_media_type(value: &str) -> Result<(), SpecError> {
    if media_type::is_valid(value) {
        Ok(())
    } else {
        Err(SpecError::InvalidMediaType {
            media_type: value.to_owned(),
        })
    }
}

fn serialize_data<S: Serializer>(data: &Option<Bytes>, serializer: S) -> Result<S::Ok, S::Error> {
    match data {
        Some(data) => serializer.serialize_str(&BASE64.encode(data)),
        None => serializer.serialize_none(),
    }
}

/// The length of `content` as a `u64` (lossless on every platform Rust supports).
pub(crate) fn len_u64(content: &[u8]) -> u64 {
    u64::try_from(content.len()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO_SHA256: &str =
        "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    fn parse(json: &str) -> Result<Descriptor, SpecError> {
        let raw: RawDescriptor = serde_json::from_str(json).unwrap();
        Descriptor::try_from(raw)
    }

    #[test]
    fn the_empty_descriptor_has_the_image_spec_digest() {
        let empty = Descriptor::empty();
        assert_eq!(
            empty.digest.as_str(),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(empty.size, 2);
        assert_eq!(
            serde_json::to_string(&empty).unwrap(),
            r#"{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"data":"e30="}"#
        );
    }

    #[test]
    fn descriptors_parse_or_fail_with_typed_errors() {
        type Check = fn(&Result<Descriptor, SpecError>) -> bool;
        let cases: &[(&str, String, Check)] = &[
            (
                "minimal",
                format!(r#"{{"mediaType":"text/plain","digest":"{HELLO_SHA256}","size":5}}"#),
                |r| r.as_ref().is_ok_and(|d| d.size == 5),
            ),
            (
                "inlined data that matches",
                format!(
                    r#"{{"mediaType":"text/plain","digest":"{HELLO_SHA256}","size":5,"data":"aGVsbG8="}}"#
                ),
                |r| {
                    r.as_ref()
                        .is_ok_and(|d| d.data.as_deref() == Some(b"hello"))
                },
            ),
            (
                "negative size",
                format!(r#"{{"mediaType":"text/plain","digest":"{HELLO_SHA256}","size":-1}}"#),
                |r| matches!(r, Err(SpecError::NegativeSize { size: -1 })),
            ),
            (
                "fractional size",
                format!(r#"{{"mediaType":"text/plain","digest":"{HELLO_SHA256}","size":1.5}}"#),
                |r| matches!(r, Err(SpecError::InvalidSize { .. })),
            ),
            (
                "size past i64",
                format!(
                    r#"{{"mediaType":"text/plain","digest":"{HELLO_SHA256}","size":9223372036854775808}}"#
                ),
                |r| matches!(r, Err(SpecError::InvalidSize { .. })),
            ),
            (
                "missing size",
                format!(r#"{{"mediaType":"text/plain","digest":"{HELLO_SHA256}"}}"#),
                |r| matches!(r, Err(SpecError::MissingField { field: "size" })),
            ),
            (
                "missing media type",
                format!(r#"{{"digest":"{HELLO_SHA256}","size":5}}"#),
                |r| matches!(r, Err(SpecError::MissingField { field: "mediaType" })),
            ),
            (
                "bad media type",
                format!(r#"{{"mediaType":"text","digest":"{HELLO_SHA256}","size":5}}"#),
                |r| matches!(r, Err(SpecError::InvalidMediaType { .. })),
            ),
            (
                "bad artifact type",
                format!(
                    r#"{{"mediaType":"text/plain","digest":"{HELLO_SHA256}","size":5,"artifactType":"x"}}"#
                ),
                |r| matches!(r, Err(SpecError::InvalidMediaType { .. })),
            ),
            (
                "short digest",
                r#"{"mediaType":"text/plain","digest":"sha256:abc","size":5}"#.to_owned(),
                |r| matches!(r, Err(SpecError::InvalidDigest { .. })),
            ),
            (
                "data that is not base64",
                format!(
                    r#"{{"mediaType":"text/plain","digest":"{HELLO_SHA256}","size":5,"data":"!!"}}"#
                ),
                |r| matches!(r, Err(SpecError::InvalidData)),
            ),
            (
                "data of another size",
                format!(
                    r#"{{"mediaType":"text/plain","digest":"{HELLO_SHA256}","size":5,"data":"aGVsbG8h"}}"#
                ),
                |r| {
                    matches!(
                        r,
                        Err(SpecError::SizeMismatch {
                            expected: 5,
                            actual: 6
                        })
                    )
                },
            ),
            (
                "data of another digest",
                format!(
                    r#"{{"mediaType":"text/plain","digest":"{HELLO_SHA256}","size":5,"data":"aGVsbE8="}}"#
                ),
                |r| matches!(r, Err(SpecError::DigestMismatch { .. })),
            ),
        ];
        for (name, json, check) in cases {
            let result = parse(json);
            assert!(check(&result), "{name}: {result:?}");
        }
    }

    #[test]
    fn null_lists_and_maps_read_as_empty() {
        let descriptor = parse(&format!(
            r#"{{"mediaType":"text/plain","digest":"{HELLO_SHA256}","size":5,"urls":null,"annotations":null}}"#
        ))
        .unwrap();
        assert!(descriptor.urls.is_empty() && descriptor.annotations.is_empty());
    }

    #[test]
    fn serde_round_trips_every_field() {
        let descriptor = Descriptor::of("text/plain", b"hello")
            .with_data(Bytes::from_static(b"hello"))
            .with_url("https://example.com/hello")
            .with_annotation("org.opencontainers.image.title", "hello.txt")
            .with_platform(Platform::new("linux", "amd64"))
            .with_artifact_type("application/vnd.example+type");
        let json = serde_json::to_string(&descriptor).unwrap();
        let back: Descriptor = serde_json::from_str(&json).unwrap();
        assert_eq!(back, descriptor);
    }
}
