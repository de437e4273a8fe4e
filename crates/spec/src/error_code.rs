//! The registry API's error codes: one table of code, message and HTTP status, and the JSON
//! body that carries them.
//!
//! The server renders its errors from [`ErrorCode`]; clients and the conformance runner parse
//! bodies with [`ErrorBody`] and look codes up with [`ErrorCode::from_code`].
//!
//! ```
//! use gantry_spec::error_code::{ErrorBody, ErrorCode};
//!
//! let body = ErrorBody::single(ErrorCode::ManifestUnknown, "no manifest for tag v9");
//! let json = serde_json::to_string(&body).unwrap();
//! assert_eq!(
//!     json,
//!     r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"no manifest for tag v9"}]}"#
//! );
//! let parsed: ErrorBody = serde_json::from_str(&json).unwrap();
//! assert_eq!(parsed.codes().collect::<Vec<_>>(), [Some(ErrorCode::ManifestUnknown)]);
//! assert_eq!(ErrorCode::ManifestUnknown.status(), 404);
//! ```

use serde::{Deserialize, Serialize};

macro_rules! error_codes {
    ($($variant:ident => $code:literal, $status:literal, $message:literal;)*) => {
        /// An error code of the OCI Distribution Specification.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $(
                #[doc = concat!("`", $code, "`: ", $message, " (", stringify!($status), ").")]
                $variant,
            )*
        }

        impl ErrorCode {
            /// Every code, in the specification's order, then `UNKNOWN`, which CNCF
            /// Distribution answers server failures with.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The code as it appears in the JSON body, such as `BLOB_UNKNOWN`.
            pub const fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            /// The HTTP status a registry answers with this code, unless the specification
            /// names another for a particular request.
            pub const fn status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)* }
            }

            /// The specification's message for the code.
            pub const fn message(self) -> &'static str {
                match self { $(ErrorCode::$variant => $message,)* }
            }
        }
    };
}

error_codes! {
    BlobUnknown => "BLOB_UNKNOWN", 404, "blob unknown to registry";
    BlobUploadInvalid => "BLOB_UPLOAD_INVALID", 400, "blob upload invalid";
    BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry";
    DigestInvalid => "DIGEST_INVALID", 400, "provided digest did not match uploaded content";
    ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN", 400, "manifest references a manifest or blob unknown to registry";
    ManifestInvalid => "MANIFEST_INVALID", 400, "manifest invalid";
    ManifestUnknown => "MANIFEST_UNKNOWN", 404, "manifest unknown to registry";
    NameInvalid => "NAME_INVALID", 400, "invalid repository name";
    NameUnknown => "NAME_UNKNOWN", 404, "repository name not known to registry";
    SizeInvalid => "SIZE_INVALID", 400, "provided length did not match content length";
    Unauthorized => "UNAUTHORIZED", 401, "authentication required";
    Denied => "DENIED", 403, "requested access to the resource is denied";
    Unsupported => "UNSUPPORTED", 405, "the operation is unsupported";
    TooManyRequests => "TOOMANYREQUESTS", 429, "too many requests";
    Unknown => "UNKNOWN", 500, "unknown error";
}

impl ErrorCode {
    /// The code named by `code`, if it is one of the specification's.
    pub fn from_code(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.as_str() == code)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of an error response: `{"errors":[{"code":…,"message":…,"detail":…}]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The errors, most important first.
    pub errors: Vec<ErrorEntry>,
}

/// One error of an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEntry {
    /// The code, such as `BLOB_UNKNOWN`; registries may send codes outside the table.
    pub code: String,
    /// A message for people.
    #[serde(default)]
    pub message: String,
    /// Anything more the registry says, in any JSON form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

impl ErrorBody {
    /// A body with one error of `code`, with `message` (the table's when empty).
    pub fn single(code: ErrorCode, message: impl Into<String>) -> ErrorBody {
        let message = message.into();
        ErrorBody {
            errors: vec![ErrorEntry {
                code: code.as_str().to_owned(),
                message: if message.is_empty() {
                    code.message().to_owned()
                } else {
                    message
                },
                detail: None,
            }],
        }
    }

    /// The code of each entry, `None` for codes outside the table.
    pub fn codes(&self) -> impl Iterator<Item = Option<ErrorCode>> + '_ {
        self.errors.iter().map(|e| ErrorCode::from_code(&e.code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_their_strings() {
        assert_eq!(ErrorCode::ALL.len(), 15);
        for &code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(code.as_str()), Some(code));
            assert!((400..600).contains(&code.status()));
            assert!(!code.message().is_empty());
        }
        assert_eq!(ErrorCode::from_code("NOT_A_CODE"), None);
    }

    #[test]
    fn bodies_parse_with_and_without_detail() {
        let body: ErrorBody = serde_json::from_str(
            r#"{"errors":[{"code":"DIGEST_INVALID","message":"m","detail":{"x":1}},{"code":"X"}]}"#,
        )
        .unwrap();
        assert_eq!(
            body.codes().collect::<Vec<_>>(),
            [Some(ErrorCode::DigestInvalid), None]
        );
        assert_eq!(body.errors[1].message, "");
        assert_eq!(
            ErrorBody::single(ErrorCode::Denied, "").errors[0].message,
            ErrorCode::Denied.message()
        );
    }
}
