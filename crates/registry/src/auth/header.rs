//! The `Authorization` request header: HTTP Basic (RFC 7617) or a Bearer token (RFC 6750).
//! It is read before anyone is authenticated, so it is bounded and never panics (fuzz target
//! `authorization_header`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The longest `Authorization` value read; longer ones are refused unread.
pub const MAX_AUTHORIZATION_LEN: usize = 16 * 1024;

/// Credentials from an `Authorization` header. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A user name and password.
    Basic {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// A bearer token.
    Bearer(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Basic { user, .. } => f
                .debug_struct("Basic")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
            Credentials::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

/// Why an `Authorization` header could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizationError {
    /// The value is longer than [`MAX_AUTHORIZATION_LEN`].
    #[error("the Authorization header is too long")]
    TooLong,
    /// A scheme other than Basic or Bearer.
    #[error("unsupported authorization scheme")]
    UnsupportedScheme,
    /// The credentials are not of the scheme's form.
    #[error("malformed credentials")]
    Malformed,
}

/// Reads an `Authorization` value. Scheme names are case-insensitive; Basic credentials are
/// base64 of `user:password` in UTF-8, and the user holds no `:`.
pub fn parse(value: &[u8]) -> Result<Credentials, AuthorizationError> {
    if value.len() > MAX_AUTHORIZATION_LEN {
        return Err(AuthorizationError::TooLong);
    }
    let text = std::str::from_utf8(value).map_err(|_| AuthorizationError::Malformed)?;
    let text = text.trim_matches([' ', '\t']);
    let (scheme, rest) = text
        .split_once([' ', '\t'])
        .ok_or(AuthorizationError::Malformed)?;
    let rest = rest.trim_matches([' ', '\t']);
    if rest.is_empty() || rest.contains([' ', '\t', ',']) {
        return Err(AuthorizationError::Malformed);
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD
            .decode(rest)
            .map_err(|_| AuthorizationError::Malformed)?;
        let decoded = String::from_utf8(decoded).map_err(|_| AuthorizationError::Malformed)?;
        let (user, password) = decoded
            .split_once(':')
            .ok_or(AuthorizationError::Malformed)?;
        if user.is_empty() || user.chars().any(char::is_control) {
            return Err(AuthorizationError::Malformed);
        }
        Ok(Credentials::Basic {
            user: user.to_owned(),
            password: password.to_owned(),
        })
    } else if scheme.eq_ignore_ascii_case("bearer") {
        let token68 = rest.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
        });
        if !token68 {
            return Err(AuthorizationError::Malformed);
        }
        Ok(Credentials::Bearer(rest.to_owned()))
    } else {
        Err(AuthorizationError::UnsupportedScheme)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, password: &str) -> Result<Credentials, AuthorizationError> {
        Ok(Credentials::Basic {
            user: user.into(),
            password: password.into(),
        })
    }

    #[test]
    fn headers_and_what_they_carry() {
        let cases: &[(&str, Result<Credentials, AuthorizationError>)] = &[
            ("Basic YWxpY2U6c2VjcmV0", basic("alice", "secret")),
            ("basic   YWxpY2U6c2VjcmV0 ", basic("alice", "secret")),
            ("Basic YWxpY2U6YTpi", basic("alice", "a:b")),
            ("Basic YWxpY2U6", basic("alice", "")),
            ("Basic OnNlY3JldA==", Err(AuthorizationError::Malformed)),
            ("Basic YWxpY2U=", Err(AuthorizationError::Malformed)),
            ("Basic !!!", Err(AuthorizationError::Malformed)),
            ("Basic", Err(AuthorizationError::Malformed)),
            (
                "Bearer abc.def.ghi",
                Ok(Credentials::Bearer("abc.def.ghi".into())),
            ),
            ("BEARER abc", Ok(Credentials::Bearer("abc".into()))),
            ("Bearer a b", Err(AuthorizationError::Malformed)),
            ("Bearer a\"b", Err(AuthorizationError::Malformed)),
            ("Digest x=y", Err(AuthorizationError::UnsupportedScheme)),
            ("", Err(AuthorizationError::Malformed)),
        ];
        for (header, expected) in cases {
            assert_eq!(&parse(header.as_bytes()), expected, "{header}");
        }
        let long = format!("Bearer {}", "a".repeat(MAX_AUTHORIZATION_LEN));
        assert_eq!(parse(long.as_bytes()), Err(AuthorizationError::TooLong));
        assert_eq!(parse(b"Basic \xff"), Err(AuthorizationError::Malformed));
    }

    #[test]
    fn debug_hides_secrets() {
        let shown = format!(
            "{:?} {:?}",
            basic("alice", "hunter2"),
            Credentials::Bearer("tok".into())
        );
        assert!(
            !shown.contains("hunter2") && !shown.contains("tok)"),
            "{shown}"
        );
        assert!(shown.contains("alice"));
    }
}
