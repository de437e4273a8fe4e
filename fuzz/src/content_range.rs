//! The `Content-Range` of an upload chunk never panics the parser, and what it accepts is an
//! ordered range that reads back the same.

use gantry_registry::fuzzing::parse_content_range;

/// Parses `data` as a chunk's `Content-Range` and checks the range.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some((start, end)) = parse_content_range(text) else {
        return;
    };
    assert!(start <= end);
    assert_eq!(
        parse_content_range(&format!("{start}-{end}")),
        Some((start, end))
    );
    assert_eq!(
        parse_content_range(&format!("bytes {start}-{end}/*")),
        Some((start, end))
    );
}
