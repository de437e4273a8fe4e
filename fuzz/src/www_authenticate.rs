//! The client's `WWW-Authenticate` parser never panics, and the challenges it returns render
//! in canonical form and parse back the same.

use gantry_client::auth::challenge;

/// Parses `data` as a `WWW-Authenticate` value and checks the round trip.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let challenges = challenge::parse(text);
    for parsed in &challenges {
        assert!(!parsed.scheme.is_empty());
        assert!(parsed.token68.is_none() || parsed.params.is_empty());
        assert!(parsed.params.iter().all(|(name, _)| !name.is_empty()));
    }
    let rendered: Vec<String> = challenges.iter().map(ToString::to_string).collect();
    assert_eq!(
        challenge::parse(&rendered.join(", ")),
        challenges,
        "{text:?}"
    );
}
