//! The files of an OCI image layout: the `oci-layout` marker, `index.json`, and where blobs go.
//!
//! ```text
//! <layout>/oci-layout              {"imageLayoutVersion":"1.0.0"}
//! <layout>/index.json              an OCI image index, the layout's entry point
//! <layout>/blobs/<alg>/<encoded>   content, named by digest
//! ```
//!
//! This module only names paths and reads and writes the documents; reading the directory is
//! the caller's business.

use bytes::Bytes;
use gantry_reference::Digest;
use serde::{Deserialize, Serialize};

use crate::{Descriptor, Manifest, ParseOptions, SpecError, annotations, media_type};

/// The name of the layout marker file.
pub const OCI_LAYOUT_FILE: &str = "oci-layout";
/// The name of the layout's index.
pub const INDEX_FILE: &str = "index.json";
/// The directory that holds the blobs.
pub const BLOBS_DIR: &str = "blobs";
/// The image layout version this crate writes.
pub const IMAGE_LAYOUT_VERSION: &str = "1.0.0";

/// The content of the `oci-layout` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OciLayout {
    /// The layout version, `1.0.0`.
    #[serde(rename = "imageLayoutVersion")]
    pub image_layout_version: String,
}

impl Default for OciLayout {
    fn default() -> Self {
        OciLayout {
            image_layout_version: IMAGE_LAYOUT_VERSION.to_owned(),
        }
    }
}

impl OciLayout {
    /// The marker of a version 1.0.0 layout.
    pub fn new() -> OciLayout {
        OciLayout::default()
    }

    /// Reads an `oci-layout` file; any 1.x version is accepted.
    ///
    /// ```
    /// use gantry_spec::layout::OciLayout;
    ///
    /// let layout = OciLayout::parse(br#"{"imageLayoutVersion": "1.0.0"}"#)?;
    /// assert_eq!(layout, OciLayout::new());
    /// assert!(OciLayout::parse(br#"{"imageLayoutVersion": "2.0.0"}"#).is_err());
    /// # Ok::<(), gantry_spec::SpecError>(())
    /// ```
    pub fn parse(bytes: &[u8]) -> Result<OciLayout, SpecError> {
        let layout: OciLayout = serde_json::from_slice(bytes).map_err(SpecError::InvalidJson)?;
        if !layout.image_layout_version.starts_with("1.") {
            return Err(SpecError::UnsupportedLayoutVersion {
                found: layout.image_layout_version,
            });
        }
        Ok(layout)
    }

    /// The file's content, canonical JSON.
    pub fn to_json(&self) -> Result<Vec<u8>, SpecError> {
        serde_json::to_vec(self).map_err(SpecError::InvalidJson)
    }
}

/// Reads a layout's `index.json`: an OCI image index, whose `mediaType` field may be missing.
pub fn parse_index(bytes: impl Into<Bytes>, options: &ParseOptions) -> Result<Manifest, SpecError> {
    Manifest::parse_with(bytes, Some(media_type::OCI_IMAGE_INDEX), options)
}

/// The path of a blob relative to the layout's root: `blobs/<algorithm>/<encoded>`.
///
/// ```
/// use gantry_reference::{Algorithm, Digest};
/// use gantry_spec::layout;
///
/// let digest = Digest::of(Algorithm::Sha256, b"{}");
/// assert_eq!(
///     layout::blob_path(&digest),
///     format!("blobs/sha256/{}", digest.encoded())
/// );
/// ```
pub fn blob_path(digest: &Digest) -> String {
    format!(
        "{BLOBS_DIR}/{}/{}",
        digest.algorithm().as_str(),
        digest.encoded()
    )
}

/// The entry of a layout's index whose `org.opencontainers.image.ref.name` annotation is
/// `name`.
pub fn find_ref_name<'a>(index: &'a Manifest, name: &str) -> Option<&'a Descriptor> {
    index.manifests().iter().find(|entry| {
        entry
            .annotations
            .get(annotations::REF_NAME)
            .map(String::as_str)
            == Some(name)
    })
}
