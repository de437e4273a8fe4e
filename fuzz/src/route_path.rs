//! The registry's `/v2/` router never panics, and what it accepts names valid parts that
//! appear in the path as sent.

use gantry_reference::{Digest, RepositoryName, Tag};
use gantry_registry::fuzzing::{ManifestRef, Route, parse_route};

/// Routes `data` as a request path and checks what comes back.
pub fn check(data: &[u8]) {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(route) = parse_route(path) else {
        return;
    };
    assert!(path.starts_with("/v2"));
    let (name, part) = match &route {
        Route::Base | Route::Catalog => return,
        Route::Tags { name } | Route::UploadStart { name } => (name, None),
        Route::Manifest { name, reference } => (name, Some(reference.to_string())),
        Route::Blob { name, digest } | Route::Referrers { name, digest } => {
            (name, Some(digest.to_string()))
        }
        Route::Upload { name, id } => (name, Some(id.clone())),
    };
    assert_eq!(RepositoryName::parse(name.as_str()).as_ref(), Ok(name));
    assert!(path.starts_with(&format!("/v2/{name}/")));
    if let Some(part) = part {
        assert!(
            path.ends_with(&format!("/{part}")),
            "{path} does not end with {part}"
        );
    }
    if let Route::Manifest { reference, .. } = &route {
        match reference {
            ManifestRef::Tag(tag) => assert!(Tag::parse(tag.as_str()).is_ok()),
            ManifestRef::Digest(digest) => assert!(Digest::parse(digest.as_str()).is_ok()),
        }
    }
}
