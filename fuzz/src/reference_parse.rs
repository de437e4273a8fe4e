//! Every reference parser never panics, and what each accepts parses back to itself.

use gantry_reference::{Reference, RepositoryName, Tag};

/// Runs `data` through every parser and checks the round trips.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(reference) = Reference::parse(text) {
        assert_eq!(reference.as_str(), text);
        assert_eq!(
            Reference::parse(reference.as_str()).as_ref(),
            Ok(&reference)
        );
    }
    for parser in [
        Reference::parse_normalized,
        Reference::parse_named,
        Reference::parse_docker_ref,
    ] {
        if let Ok(reference) = parser(text) {
            assert_eq!(
                Reference::parse(reference.as_str()).as_ref(),
                Ok(&reference)
            );
            // `docker.io/a.b/c` is familiar as `a.b/c`, which names the host `a.b`, as in Go.
            let familiar = reference.familiar_string();
            let first = familiar.split('/').next().unwrap_or_default();
            let looks_like_host =
                familiar.contains('/') && (first.contains(['.', ':']) || first == "localhost");
            if !looks_like_host {
                assert_eq!(
                    Reference::parse_normalized(&familiar).as_ref(),
                    Ok(&reference)
                );
            }
        }
    }
    if let Ok(name) = RepositoryName::parse(text) {
        assert_eq!(name.as_str(), text);
    }
    if let Ok(tag) = Tag::parse(text) {
        assert_eq!(tag.as_str(), text);
    }
}
