//! The assertions checks are made of. Each returns the failure reason: what was expected, and
//! what came back (the request, the status, the error codes or the start of the body).

use gantry_spec::error_code::ErrorCode;

use crate::http::{Reason, Response};

/// The status is one of `expected`.
pub(crate) fn status(response: &Response, expected: &[u16]) -> Result<(), Reason> {
    if expected.contains(&response.status) {
        return Ok(());
    }
    let wanted: Vec<String> = expected.iter().map(u16::to_string).collect();
    Err(format!(
        "expected {}, but {}",
        wanted.join(" or "),
        response.describe()
    ))
}

/// Header `name` is present and returns its value.
pub(crate) fn header<'r>(response: &'r Response, name: &str) -> Result<&'r str, Reason> {
    response.header(name).ok_or_else(|| {
        format!(
            "expected a `{name}` header, but {} without one",
            response.describe()
        )
    })
}

/// Header `name` is `expected`.
pub(crate) fn header_eq(response: &Response, name: &str, expected: &str) -> Result<(), Reason> {
    let found = header(response, name)?;
    if found == expected {
        return Ok(());
    }
    Err(format!(
        "expected `{name}: {expected}`, but {} with `{name}: {found}`",
        response.describe()
    ))
}

/// The body is exactly `expected`.
pub(crate) fn body_eq(response: &Response, expected: &[u8]) -> Result<(), Reason> {
    if response.body.as_ref() == expected {
        return Ok(());
    }
    Err(format!(
        "expected the {} bytes pushed, but {} with {} different bytes",
        expected.len(),
        response.describe(),
        response.body.len()
    ))
}

/// The response is an OCI error: one of `statuses`, and a body in the error JSON form whose
/// codes are all well-formed and include one of `codes`.
pub(crate) fn error(
    response: &Response,
    statuses: &[u16],
    codes: &[ErrorCode],
) -> Result<(), Reason> {
    let wanted: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
    let wanted = wanted.join(" or ");
    status(response, statuses).map_err(|r| format!("{r} (wanted code {wanted})"))?;
    if response.request.starts_with("HEAD ") {
        // HEAD responses carry no body to check.
        return Ok(());
    }
    let Some(body) = response.error_body() else {
        return Err(format!(
            "expected an OCI error body {{\"errors\":[{{\"code\":\"{wanted}\",…}}]}}, but {}",
            response.describe()
        ));
    };
    if body.errors.is_empty() {
        return Err(format!(
            "expected at least one error in `errors`, but {} with an empty list",
            response.describe()
        ));
    }
    for entry in &body.errors {
        if entry.code.is_empty()
            || !entry
                .code
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b == b'_')
        {
            return Err(format!(
                "error code `{}` is not upper-case letters and underscores ({})",
                entry.code,
                response.describe()
            ));
        }
    }
    if body.codes().flatten().any(|c| codes.contains(&c)) {
        return Ok(());
    }
    Err(format!(
        "expected error code {wanted}, but {}",
        response.describe()
    ))
}

/// `condition` holds, or the check fails with `reason`.
pub(crate) fn that(condition: bool, reason: impl FnOnce() -> String) -> Result<(), Reason> {
    if condition { Ok(()) } else { Err(reason()) }
}
