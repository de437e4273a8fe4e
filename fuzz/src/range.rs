//! A blob GET's `Range` header never panics the parser, and a part it picks lies inside the
//! blob, for any blob size the first eight bytes choose.

use gantry_registry::fuzzing::{RangeRequest, parse_range};

/// Reads a blob size from the first eight bytes and the header from the rest.
pub fn check(data: &[u8]) {
    let (size, header) = match data.split_first_chunk::<8>() {
        Some((size, rest)) => (u64::from_le_bytes(*size) % (1 << 40), rest),
        None => (100, data),
    };
    let Ok(header) = std::str::from_utf8(header) else {
        return;
    };
    match parse_range(Some(header), size) {
        RangeRequest::Part { start, end } => assert!(start <= end && end < size),
        RangeRequest::Whole | RangeRequest::Unsatisfiable => {}
    }
}
