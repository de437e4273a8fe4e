//! The registry's `Authorization` parser never panics, and Basic credentials it accepts encode
//! back to a header that parses to the same credentials.

use base64::Engine as _;
use gantry_registry::fuzzing::{Credentials, MAX_AUTHORIZATION_LEN, parse_authorization};

/// Parses `data` as an `Authorization` value and checks what it yields.
pub fn check(data: &[u8]) {
    let Ok(credentials) = parse_authorization(data) else {
        return;
    };
    assert!(data.len() <= MAX_AUTHORIZATION_LEN);
    match &credentials {
        Credentials::Basic { user, password } => {
            assert!(!user.is_empty() && !user.contains(':'));
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            let again = parse_authorization(format!("Basic {encoded}").as_bytes());
            assert_eq!(again.as_ref(), Ok(&credentials));
        }
        Credentials::Bearer(token) => {
            assert!(!token.is_empty() && !token.contains(' '));
            let again = parse_authorization(format!("Bearer {token}").as_bytes());
            assert_eq!(again.as_ref(), Ok(&credentials));
        }
    }
    // Debug output never shows the secret.
    assert!(format!("{credentials:?}").contains("<redacted>"));
}
