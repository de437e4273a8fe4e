//! API errors: an OCI error code with the status and message the response carries.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gantry_spec::error_code::{ErrorBody, ErrorCode};
use gantry_storage::StorageError;

/// An error response in the registry API's own form: a status and an OCI error body.
#[derive(Debug)]
pub(crate) struct ApiError {
    code: ErrorCode,
    status: StatusCode,
    message: String,
    /// Headers the response must carry besides the body (a `Range` on 416, say).
    extra: Vec<(header::HeaderName, HeaderValue)>,
}

impl ApiError {
    /// An error with the code's own status and message.
    pub(crate) fn new(code: ErrorCode) -> ApiError {
        ApiError {
            code,
            status: StatusCode::from_u16(code.status()).unwrap_or(StatusCode::BAD_REQUEST),
            message: code.message().to_owned(),
            extra: Vec::new(),
        }
    }

    /// The same error with a more specific message.
    pub(crate) fn message(mut self, message: impl Into<String>) -> ApiError {
        self.message = message.into();
        self
    }

    /// The same error answered with another status, where the specification names one.
    pub(crate) fn status(mut self, status: StatusCode) -> ApiError {
        self.status = status;
        self
    }

    /// The same error with an extra response header.
    pub(crate) fn header(mut self, name: header::HeaderName, value: HeaderValue) -> ApiError {
        self.extra.push((name, value));
        self
    }

    /// A server-side failure: logged in full, answered with a bare 500.
    fn internal(error: &StorageError) -> ApiError {
        tracing::error!(error = %error, source = ?std::error::Error::source(error), "storage failed");
        ApiError::new(ErrorCode::Unknown)
    }
}

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> ApiError {
        let (code, status) = match &error {
            StorageError::NameUnknown { .. } => (ErrorCode::NameUnknown, None),
            StorageError::BlobUnknown { .. } => (ErrorCode::BlobUnknown, None),
            StorageError::BlobUploadUnknown { .. } => (ErrorCode::BlobUploadUnknown, None),
            StorageError::UploadOffsetMismatch { size, .. } => {
                let range = upload_range(*size);
                return ApiError::new(ErrorCode::BlobUploadInvalid)
                    .status(StatusCode::RANGE_NOT_SATISFIABLE)
                    .message(error.to_string())
                    .header(header::RANGE, range);
            }
            StorageError::DigestMismatch { .. } => (ErrorCode::DigestInvalid, None),
            StorageError::SizeMismatch { .. } => (ErrorCode::SizeInvalid, None),
            StorageError::ManifestUnknown { .. } => (ErrorCode::ManifestUnknown, None),
            StorageError::ManifestBlobUnknown { .. } => (ErrorCode::ManifestBlobUnknown, None),
            StorageError::ManifestInvalid(spec) if spec.is_too_large() => {
                (ErrorCode::SizeInvalid, Some(StatusCode::PAYLOAD_TOO_LARGE))
            }
            StorageError::ManifestInvalid(spec) => {
                return ApiError::new(ErrorCode::ManifestInvalid)
                    .message(format!("manifest invalid: {spec}"));
            }
            StorageError::DeleteDisabled => (ErrorCode::Unsupported, None),
            _ => return ApiError::internal(&error),
        };
        let mut api = ApiError::new(code).message(error.to_string());
        if let Some(status) = status {
            api = api.status(status);
        }
        api
    }
}

/// The `Range` header of an upload holding `size` bytes: `0-<last byte>`.
pub(crate) fn upload_range(size: u64) -> HeaderValue {
    let last = size.saturating_sub(1);
    HeaderValue::from_str(&format!("0-{last}")).unwrap_or(HeaderValue::from_static("0-0"))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody::single(self.code, self.message);
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (self.status, json).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        for (name, value) in self.extra {
            headers.insert(name, value);
        }
        response
    }
}
