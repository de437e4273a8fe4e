//! [`ClientError`], the one error type of the client, and the parsing of registry error bodies
//! against `gantry_spec::error_code`.

use std::error::Error as StdError;
use std::time::Duration;

use gantry_reference::{Digest, DigestError, ReferenceError};
use gantry_spec::SpecError;
use gantry_spec::error_code::{ErrorBody, ErrorCode};

/// A boxed error from the HTTP stack, kept private behind [`std::error::Error::source`].
pub(crate) type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Everything that can go wrong talking to a registry.
///
/// Ask it questions rather than matching on transport details: [`is_retryable`],
/// [`is_not_found`] and [`is_auth`]. Errors of the HTTP stack sit behind
/// [`source`](std::error::Error::source) and are never part of the public API.
///
/// [`is_retryable`]: ClientError::is_retryable
/// [`is_not_found`]: ClientError::is_not_found
/// [`is_auth`]: ClientError::is_auth
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The registry answered with an error status.
    #[error("{method} {url}: registry answered {status}{}", registry_detail(*code, message))]
    Registry {
        /// The request method.
        method: String,
        /// The request URL, without credentials.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The first OCI error code of the body, when it is one of the specification's.
        code: Option<ErrorCode>,
        /// The first error code of the body as sent, also when it is outside the table.
        raw_code: Option<String>,
        /// The first error message of the body, or empty.
        message: String,
        /// How long the registry asked the client to wait (`Retry-After`), when it said.
        retry_after: Option<Duration>,
    },
    /// The request could not be sent or the response could not be read.
    #[error("{method} {url}: {what}")]
    Transport {
        /// The request method.
        method: String,
        /// The request URL, without credentials.
        url: String,
        /// What failed, such as "sending the request" or "reading the body".
        what: &'static str,
        /// Whether the failure may pass: a refused or cut connection, a timeout. A TLS
        /// certificate the client does not trust will not.
        retryable: bool,
        /// The HTTP stack's error.
        #[source]
        source: BoxError,
    },
    /// Bytes received did not hash to the digest they were asked for or announced with.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The digest asked for or announced.
        expected: Digest,
        /// The digest of the bytes received.
        actual: Digest,
    },
    /// A body's length disagreed with the length that was announced or expected.
    #[error("size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// The length announced or expected.
        expected: u64,
        /// The length received (so far, when it went over).
        actual: u64,
    },
    /// A body or document is larger than the configured limit.
    #[error("{what} is larger than the limit of {limit} bytes")]
    TooLarge {
        /// What was too large: "manifest", "error body", "token body".
        what: &'static str,
        /// The limit in force, in bytes.
        limit: u64,
    },
    /// A header the protocol requires is missing.
    #[error("{method} {url}: the response has no {name} header")]
    MissingHeader {
        /// The request method.
        method: String,
        /// The request URL.
        url: String,
        /// The header's name.
        name: &'static str,
    },
    /// A header has a value the protocol does not allow.
    #[error("{method} {url}: invalid {name} header {value:?}")]
    InvalidHeader {
        /// The request method.
        method: String,
        /// The request URL.
        url: String,
        /// The header's name.
        name: &'static str,
        /// The value received.
        value: String,
    },
    /// The registry answered with a success status the operation does not expect.
    #[error("{method} {url}: unexpected status {status}")]
    UnexpectedStatus {
        /// The request method.
        method: String,
        /// The request URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// `/v2/` did not announce `Docker-Distribution-API-Version: registry/2.0`.
    #[error(
        "{url} does not speak the registry API v2 (Docker-Distribution-API-Version: {found:?})"
    )]
    UnsupportedApiVersion {
        /// The URL pinged.
        url: String,
        /// The header's value, if any.
        found: Option<String>,
    },
    /// A reference names neither a tag nor a digest where the operation needs one.
    #[error("{reference} has neither a tag nor a digest")]
    MissingTagOrDigest {
        /// The reference as given.
        reference: String,
    },
    /// A reference, repository name or tag is malformed.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// A digest is malformed.
    #[error(transparent)]
    Digest(#[from] DigestError),
    /// A manifest or other document is malformed.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A JSON response body does not have the expected shape.
    #[error("{url}: invalid JSON response")]
    InvalidJson {
        /// The request URL.
        url: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// Authentication failed before the registry was asked again: a challenge without a realm,
    /// a token service that answered without a token, a realm the client will not send
    /// credentials to.
    #[error("authentication: {what} ({url})")]
    Auth {
        /// The realm or registry URL concerned.
        url: String,
        /// What went wrong.
        what: &'static str,
    },
    /// The stream of content to upload failed.
    #[error("the content to upload could not be read")]
    Content {
        /// The stream's error.
        #[source]
        source: BoxError,
    },
    /// Credentials could not be read: a malformed credential file, a failing helper.
    #[error("credentials: {what}")]
    Credentials {
        /// What went wrong.
        what: &'static str,
        /// The underlying error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The client could not be built from its configuration.
    #[error("invalid client configuration: {what}")]
    Config {
        /// What is wrong.
        what: &'static str,
        /// The underlying error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// An endpoint string is not a registry host.
    #[error("invalid registry host {host:?}")]
    InvalidHost {
        /// The host as given.
        host: String,
    },
}

fn registry_detail(code: Option<ErrorCode>, message: &str) -> String {
    match (code, message.is_empty()) {
        (Some(code), true) => format!(" {code}"),
        (Some(code), false) => format!(" {code}: {message}"),
        (None, false) => format!(": {message}"),
        (None, true) => String::new(),
    }
}

/// Whether a transport error comes from the TLS handshake (a certificate not trusted, a
/// protocol mismatch), which no retry cures: rustls reports through an I/O error of kind
/// `InvalidData`, wrapped by the HTTP stack.
fn is_tls_failure(error: &(dyn StdError + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::InvalidData {
                return true;
            }
            // An I/O error's `source` skips the error it wraps; look at that one too.
            if let Some(inner) = io.get_ref() {
                current = Some(inner);
                continue;
            }
        }
        current = error.source();
    }
    false
}

/// Codes that describe a state of the registry no retry changes.
const NEVER_RETRIED: &[ErrorCode] = &[
    ErrorCode::NameUnknown,
    ErrorCode::ManifestUnknown,
    ErrorCode::Denied,
];

/// Statuses worth another try for an idempotent request.
pub(crate) fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

impl ClientError {
    /// Whether the same request may succeed if sent again: transport failures, truncated bodies,
    /// `429` and `5xx` answers, except for codes that name a lasting state (`NAME_UNKNOWN`,
    /// `MANIFEST_UNKNOWN`, `DENIED`).
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Transport { retryable, .. } => *retryable,
            ClientError::Registry { status, code, .. } => {
                retryable_status(*status) && !code.is_some_and(|c| NEVER_RETRIED.contains(&c))
            }
            _ => false,
        }
    }

    /// Whether the registry said that what was asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        match self {
            ClientError::Registry { status, code, .. } => {
                *status == 404
                    || matches!(
                        code,
                        Some(
                            ErrorCode::BlobUnknown
                                | ErrorCode::ManifestUnknown
                                | ErrorCode::NameUnknown
                                | ErrorCode::BlobUploadUnknown
                        )
                    )
            }
            _ => false,
        }
    }

    /// Whether the registry refused the request for lack of credentials or permission.
    pub fn is_auth(&self) -> bool {
        match self {
            ClientError::Auth { .. } => true,
            ClientError::Registry { status, code, .. } => {
                matches!(status, 401 | 403)
                    || matches!(code, Some(ErrorCode::Unauthorized | ErrorCode::Denied))
            }
            _ => false,
        }
    }

    /// Whether the request failed in the TLS handshake: a certificate the client does not
    /// trust, a server that does not speak TLS. No retry cures it.
    pub fn is_tls(&self) -> bool {
        matches!(self, ClientError::Transport { source, .. } if is_tls_failure(source.as_ref()))
    }

    /// Whether bytes received did not match their digest.
    pub fn is_digest_mismatch(&self) -> bool {
        matches!(self, ClientError::DigestMismatch { .. })
    }

    /// How long the registry asked to be left alone (`Retry-After` on a 429 or 503 that
    /// outlasted the retries), when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ClientError::Registry { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The same error, carrying the registry's `Retry-After`.
    pub(crate) fn with_retry_after(mut self, wait: Option<Duration>) -> ClientError {
        if let ClientError::Registry { retry_after, .. } = &mut self {
            *retry_after = wait;
        }
        self
    }

    /// The HTTP status of a registry error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Registry { status, .. } | ClientError::UnexpectedStatus { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// The OCI error code of a registry error, when it is one of the specification's.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Registry { code, .. } => *code,
            _ => None,
        }
    }

    /// A mismatch found while checking content, as the typed variant that says which:
    /// [`DigestMismatch`](ClientError::DigestMismatch) or
    /// [`SizeMismatch`](ClientError::SizeMismatch).
    pub(crate) fn from_mismatch(error: DigestError) -> ClientError {
        match error {
            DigestError::Mismatch { expected, actual } => {
                ClientError::DigestMismatch { expected, actual }
            }
            DigestError::SizeMismatch { expected, actual } => {
                ClientError::SizeMismatch { expected, actual }
            }
            other => ClientError::Digest(other),
        }
    }

    pub(crate) fn transport(
        method: &reqwest::Method,
        url: &str,
        what: &'static str,
        source: impl Into<BoxError>,
    ) -> ClientError {
        let source = source.into();
        let tls = is_tls_failure(source.as_ref());
        ClientError::Transport {
            method: method.to_string(),
            url: url.to_owned(),
            what: if tls {
                "the TLS handshake failed (an untrusted certificate, or a server without TLS)"
            } else {
                what
            },
            retryable: !tls,
            source,
        }
    }

    pub(crate) fn missing_header(
        method: &reqwest::Method,
        url: &str,
        name: &'static str,
    ) -> ClientError {
        ClientError::MissingHeader {
            method: method.to_string(),
            url: url.to_owned(),
            name,
        }
    }

    pub(crate) fn invalid_header(
        method: &reqwest::Method,
        url: &str,
        name: &'static str,
        value: impl Into<String>,
    ) -> ClientError {
        ClientError::InvalidHeader {
            method: method.to_string(),
            url: url.to_owned(),
            name,
            value: value.into(),
        }
    }

    pub(crate) fn unexpected_status(
        method: &reqwest::Method,
        url: &str,
        status: u16,
    ) -> ClientError {
        ClientError::UnexpectedStatus {
            method: method.to_string(),
            url: url.to_owned(),
            status,
        }
    }
}

/// The registry error for an answer of `status` with `body` (already cut at the error body
/// limit). Bodies that are not an OCI error body give no code and a short excerpt as message.
pub(crate) fn registry_error(
    method: &reqwest::Method,
    url: &str,
    status: u16,
    body: &[u8],
) -> ClientError {
    let (code, raw_code, message) = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(parsed) => match parsed.errors.into_iter().next() {
            Some(entry) => (
                ErrorCode::from_code(&entry.code),
                Some(entry.code),
                entry.message,
            ),
            None => (None, None, String::new()),
        },
        Err(_) => (None, None, excerpt(body)),
    };
    ClientError::Registry {
        method: method.to_string(),
        url: url.to_owned(),
        status,
        code,
        raw_code,
        message,
        retry_after: None,
    }
}

/// At most 200 characters of a body that is not an error document, for the message.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(status: u16, body: &str) -> ClientError {
        registry_error(
            &reqwest::Method::GET,
            "http://r/v2/",
            status,
            body.as_bytes(),
        )
    }

    #[test]
    fn bodies_parse_against_the_code_table() {
        type Case = (u16, &'static str, Option<ErrorCode>, bool, bool, bool);
        let cases: &[Case] = &[
            // status, body, code, retryable, not found, auth
            (
                404,
                r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"m"}]}"#,
                Some(ErrorCode::ManifestUnknown),
                false,
                true,
                false,
            ),
            (404, "", None, false, true, false),
            (
                503,
                r#"{"errors":[{"code":"NAME_UNKNOWN"}]}"#,
                Some(ErrorCode::NameUnknown),
                false,
                true,
                false,
            ),
            (503, "<html>busy</html>", None, true, false, false),
            (
                429,
                r#"{"errors":[{"code":"TOOMANYREQUESTS"}]}"#,
                Some(ErrorCode::TooManyRequests),
                true,
                false,
                false,
            ),
            (
                401,
                r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#,
                Some(ErrorCode::Unauthorized),
                false,
                false,
                true,
            ),
            (
                403,
                r#"{"errors":[{"code":"DENIED"}]}"#,
                Some(ErrorCode::Denied),
                false,
                false,
                true,
            ),
            (
                400,
                r#"{"errors":[{"code":"WEIRD_VENDOR_CODE"}]}"#,
                None,
                false,
                false,
                false,
            ),
        ];
        for &(status, body, code, retryable, not_found, auth) in cases {
            let e = error(status, body);
            assert_eq!(e.code(), code, "{body}");
            assert_eq!(e.status(), Some(status));
            assert_eq!(e.is_retryable(), retryable, "{status} {body}");
            assert_eq!(e.is_not_found(), not_found, "{status} {body}");
            assert_eq!(e.is_auth(), auth, "{status} {body}");
        }
    }

    #[test]
    fn unknown_codes_are_kept_as_sent() {
        let e = error(
            400,
            r#"{"errors":[{"code":"WEIRD_VENDOR_CODE","message":"hm"}]}"#,
        );
        let ClientError::Registry {
            raw_code, message, ..
        } = &e
        else {
            panic!("{e:?}");
        };
        assert_eq!(raw_code.as_deref(), Some("WEIRD_VENDOR_CODE"));
        assert_eq!(message, "hm");
    }

    #[test]
    fn long_plain_bodies_are_cut_in_the_message() {
        let e = error(500, &"x".repeat(5000));
        assert!(e.to_string().len() < 300, "{e}");
    }
}
