//! `Manifest::parse` never panics; what it accepts keeps its exact bytes and their digest, reads
//! the same again under its own media type, and rebuilds through the builders to the same body.

use gantry_reference::{Algorithm, Digest};
use gantry_spec::{Manifest, ManifestKind};

/// Parses `data` with no content type and with each manifest media type, and checks what parses.
pub fn check(data: &[u8]) {
    let content_types = std::iter::once(None).chain(
        ManifestKind::ALL
            .into_iter()
            .map(|kind| Some(kind.media_type())),
    );
    for content_type in content_types {
        let Ok(manifest) = Manifest::parse(data.to_vec(), content_type) else {
            continue;
        };
        assert_eq!(manifest.bytes().as_ref(), data);
        assert_eq!(manifest.digest(), &Digest::of(Algorithm::Sha256, data));
        let again = Manifest::parse(data.to_vec(), Some(manifest.media_type()))
            .unwrap_or_else(|e| panic!("a manifest fails under its own media type: {e}"));
        assert_eq!(again, manifest);
        check_rebuild(&manifest);
    }
}

/// Rebuilding the body gives the same body, with the `mediaType` field now always set.
fn check_rebuild(manifest: &Manifest) {
    let kind = manifest.kind();
    if let Some(image) = manifest.as_image() {
        let rebuilt = image
            .to_builder(kind)
            .build()
            .unwrap_or_else(|e| panic!("a parsed manifest fails to rebuild: {e}"));
        let mut expected = image.clone();
        expected.media_type = Some(kind.media_type().to_owned());
        assert_eq!(rebuilt.as_image(), Some(&expected));
    }
    if let Some(index) = manifest.as_index() {
        let rebuilt = index
            .to_builder(kind)
            .build()
            .unwrap_or_else(|e| panic!("a parsed index fails to rebuild: {e}"));
        let mut expected = index.clone();
        expected.media_type = Some(kind.media_type().to_owned());
        assert_eq!(rebuilt.as_index(), Some(&expected));
    }
}
