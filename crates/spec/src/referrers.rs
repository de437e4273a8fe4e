//! The referrers API's response: an OCI image index that lists, for one subject, the manifests
//! that name it as their `subject`, each entry carrying the referrer's `artifactType` and
//! annotations.

use crate::{Descriptor, ImageIndex, Manifest, SpecError};

/// The entry the referrers API lists for `referrer`: its media type, digest and size, its
/// annotations, and its artifact type (`artifactType`, or for an image manifest without one, the
/// config's media type).
pub fn descriptor(referrer: &Manifest) -> Descriptor {
    let artifact_type = match referrer.as_image() {
        Some(image) => Some(image.effective_artifact_type().to_owned()),
        None => referrer.artifact_type().map(str::to_owned),
    };
    let mut descriptor = referrer.descriptor();
    descriptor.artifact_type = artifact_type;
    descriptor.annotations = referrer.annotations().clone();
    descriptor
}

/// The referrers response listing `referrers`, in the order given: an OCI image index with
/// nothing but `schemaVersion`, `mediaType` and `manifests`, as canonical JSON.
///
/// ```
/// use gantry_spec::{Descriptor, ImageManifest, referrers};
///
/// let subject = ImageManifest::builder(Descriptor::empty())
///     .artifact_type("application/vnd.example.image")
///     .build()?;
/// let signature = ImageManifest::builder(Descriptor::empty())
///     .artifact_type("application/vnd.example.signature")
///     .subject(subject.descriptor())
///     .build()?;
/// let response = referrers::index([referrers::descriptor(&signature)])?;
/// assert_eq!(
///     response.manifests()[0].artifact_type.as_deref(),
///     Some("application/vnd.example.signature")
/// );
/// # Ok::<(), gantry_spec::SpecError>(())
/// ```
pub fn index(referrers: impl IntoIterator<Item = Descriptor>) -> Result<Manifest, SpecError> {
    ImageIndex::builder().manifests(referrers).build()
}

/// The referrers whose artifact type is `artifact_type`, in order: the filter of the referrers
/// API's `artifactType` query parameter.
pub fn filter_by_artifact_type<'a>(
    referrers: impl IntoIterator<Item = &'a Descriptor>,
    artifact_type: &str,
) -> Vec<Descriptor> {
    referrers
        .into_iter()
        .filter(|entry| entry.artifact_type.as_deref() == Some(artifact_type))
        .cloned()
        .collect()
}
