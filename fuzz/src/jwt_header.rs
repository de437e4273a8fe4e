//! The registry's token splitter never panics, accepts only the signature algorithms it
//! verifies, and what it accepts covers exactly the token's first two parts.

use gantry_registry::fuzzing::{MAX_TOKEN_LEN, parse_jwt};

/// Splits `data` as a compact JWT and checks the parts.
pub fn check(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(jws) = parse_jwt(token) else {
        return;
    };
    assert!(token.len() <= MAX_TOKEN_LEN);
    assert!(token.starts_with(jws.signing_input));
    assert_eq!(jws.signing_input.matches('.').count(), 1);
    assert_eq!(token[jws.signing_input.len()..].matches('.').count(), 1);
    assert_ne!(jws.header.alg.as_str(), "none");
    assert!(jws.header.x5c.len() <= 8);
}
